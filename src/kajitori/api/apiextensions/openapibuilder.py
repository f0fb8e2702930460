"""The OpenAPI v3 document of a custom resource group-version (`/openapi/v3/apis/<g>/<v>`).

Mirrors staging/src/k8s.io/apiextensions-apiserver/pkg/controller/openapi/builder/builder.go
(`BuildOpenAPIV3`): the paths and operations every resource gets (shared with the built-in
documents through `kajitori.api.openapi.build_document`), the kind's schema from the version's
structural openAPIV3Schema with `apiVersion`, `kind` and `metadata` (a reference to ObjectMeta)
added and `x-kubernetes-group-version-kind` set, and the list kind's schema. Definitions are
named as upstream's REST-friendly names: `com.example.stable.v1.CronTab`. This is what
`kubectl explain` reads and where kubectl finds the `fieldValidation` parameter.

A version without a structural schema publishes `{"type": "object"}` only, as upstream does.
"""

from __future__ import annotations

import copy
from typing import Any

from kajitori.api import catalogue, openapi, schemas

Obj = dict[str, Any]

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
METADATA_DESCRIPTION = ("Standard object's metadata. More info: https://git.k8s.io/community/"
                        "contributors/devel/sig-architecture/api-conventions.md#metadata")
LIST_METADATA_DESCRIPTION = ("Standard list metadata. More info: https://git.k8s.io/community/"
                             "contributors/devel/sig-architecture/api-conventions.md#types-kinds")
LIST_ITEMS_DESCRIPTION = ("List of {plural}. More info: https://git.k8s.io/community/"
                          "contributors/devel/sig-architecture/api-conventions.md")
_TYPE_META_SOURCE = "io.k8s.api.core.v1.ConfigMap"
_INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]


def definition_name(group: str, version: str, kind: str) -> str:
    """`stable.example.com`/`v1`/`CronTab` -> `com.example.stable.v1.CronTab`."""
    return ".".join([*reversed(group.split(".")), version, kind])


def build_document(gv: catalogue.GroupVersion, schemas_by_kind: dict[str, Obj | None]) -> Obj:
    """The document of a custom group-version; `schemas_by_kind` maps each resource's kind to
    its structural openAPIV3Schema (None when it has none or it is not structural)."""
    extra: Obj = {}
    custom = {(gv.group, gv.version, r.kind): r for r in gv.resources}
    custom.update({(gv.group, gv.version, r.list_kind): r for r in gv.resources})
    for resource in gv.resources:
        extra[definition_name(gv.group, gv.version, resource.kind)] = kind_schema(
            resource, schemas_by_kind.get(resource.kind))
        extra[definition_name(gv.group, gv.version, resource.list_kind)] = list_schema(resource)

    def name_of(group: str, version: str, kind: str) -> str | None:
        if (group, version, kind) in custom:
            return definition_name(group, version, kind)
        return schemas.definition_name(group, version, kind)

    return openapi.build_document(gv, definition_name=name_of, extra_schemas=extra,
                                  extra_roots=(OBJECT_META, LIST_META))


def _type_meta(field: str) -> Obj:
    source = schemas.definitions()[_TYPE_META_SOURCE]["properties"][field]
    return {"description": source["description"], "type": "string"}


def _gvk(resource: catalogue.Resource, kind: str) -> list[Obj]:
    return [{"group": resource.group, "kind": kind, "version": resource.version}]


def kind_schema(resource: catalogue.Resource, schema: Obj | None) -> Obj:
    if schema is None:
        return {"type": "object",
                "x-kubernetes-group-version-kind": _gvk(resource, resource.kind)}
    out = _unfold(copy.deepcopy(schema))
    properties = out.setdefault("properties", {})
    properties["apiVersion"] = _type_meta("apiVersion")
    properties["kind"] = _type_meta("kind")
    properties["metadata"] = {"allOf": [{"$ref": openapi.COMPONENTS_PREFIX + OBJECT_META}],
                              "description": METADATA_DESCRIPTION}
    out["x-kubernetes-group-version-kind"] = _gvk(resource, resource.kind)
    return out


def list_schema(resource: catalogue.Resource) -> Obj:
    item_ref = openapi.COMPONENTS_PREFIX + definition_name(resource.group, resource.version,
                                                           resource.kind)
    return {
        "description": f"{resource.list_kind} is a list of {resource.kind}",
        "properties": {
            "apiVersion": _type_meta("apiVersion"),
            "items": {"description": LIST_ITEMS_DESCRIPTION.format(plural=resource.plural),
                      "items": {"$ref": item_ref}, "type": "array"},
            "kind": _type_meta("kind"),
            "metadata": {"allOf": [{"$ref": openapi.COMPONENTS_PREFIX + LIST_META}],
                         "description": LIST_METADATA_DESCRIPTION},
        },
        "required": ["items"],
        "x-kubernetes-group-version-kind": _gvk(resource, resource.list_kind),
    }


def _unfold(schema: Obj) -> Obj:
    """upstream's Structural.Unfold: an int-or-string without its anyOf gets one; embedded
    resources get apiVersion, kind and metadata."""
    if schema.get("x-kubernetes-int-or-string") and not schema.get("anyOf") and \
            not (schema.get("allOf") or [{}])[0].get("anyOf"):
        schema["anyOf"] = copy.deepcopy(_INT_OR_STRING_ANY_OF)
    if schema.get("x-kubernetes-embedded-resource"):
        properties = schema.setdefault("properties", {})
        properties["apiVersion"] = _type_meta("apiVersion")
        properties["kind"] = _type_meta("kind")
        properties["metadata"] = {"allOf": [{"$ref": openapi.COMPONENTS_PREFIX + OBJECT_META}],
                                  "description": METADATA_DESCRIPTION}
        required = schema.setdefault("required", [])
        for field in ("kind", "apiVersion"):
            if field not in required:
                required.append(field)
    for prop in (schema.get("properties") or {}).values():
        if isinstance(prop, dict):
            _unfold(prop)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _unfold(schema[key])
    return schema
