"""JSON schemas of every built-in type, from kubernetes-validate's v1.33 definitions.

The definitions carry upstream's OpenAPI extensions (`x-kubernetes-group-version-kind`,
`x-kubernetes-patch-merge-key`, `x-kubernetes-patch-strategy`, `x-kubernetes-list-type`,
`x-kubernetes-list-map-keys`), so validation, OpenAPI, strategic merge patch and (later)
server-side apply all read them from here.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

Obj = dict[str, Any]

SCHEMA_VERSION = "v1.33.0-local"
REF_PREFIX = "#/$defs/"


@functools.cache
def definitions() -> dict[str, Obj]:
    """Definition name (`io.k8s.api.core.v1.Pod`) -> schema, with `$ref`s as `#/$defs/<name>`."""
    path = resources.files("kubernetes_validate").joinpath(
        f"kubernetes-json-schema/{SCHEMA_VERSION}/_definitions.json")
    defs: dict[str, Obj] = json.loads(path.read_text())["$defs"]
    return defs


@functools.cache
def _gvk_index() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, schema in definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind", ()):
            index.setdefault((gvk.get("group", ""), gvk["version"], gvk["kind"]), name)
    return index


def definition_name(group: str, version: str, kind: str) -> str | None:
    """The definition that describes a kind at a group-version, or None if there is none."""
    return _gvk_index().get((group, version, kind))


def resolve(schema: Obj) -> Obj:
    """Follow a `$ref` (possibly under `allOf`) to the definition it names; else the schema."""
    ref = schema.get("$ref")
    if ref is None and len(schema.get("allOf", ())) == 1:
        ref = schema["allOf"][0].get("$ref")
    if ref and ref.startswith(REF_PREFIX):
        return definitions()[ref[len(REF_PREFIX):]]
    return schema
