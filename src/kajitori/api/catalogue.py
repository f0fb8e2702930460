"""The resource catalogue: every built-in resource a v1.33 apiserver serves by default.

The data is upstream's aggregated discovery document (apidiscovery.k8s.io/v2, the shape of
kubernetes/kubernetes `api/discovery/aggregated_v2.json`) restricted to the group-versions a
v1.33 server enables by default, transcribed into `data/discovery.json`. Groups and versions are
in upstream's order, preferred version first. Discovery, routing, storage keys and validation all
read this one table.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class Subresource:
    name: str  # "status", "scale", ...
    group: str  # of the response kind
    version: str
    kind: str
    verbs: tuple[str, ...]


@dataclass(frozen=True)
class Resource:
    """One resource at one group-version, as aggregated discovery lists it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str
    verbs: tuple[str, ...]
    short_names: tuple[str, ...]
    categories: tuple[str, ...]
    subresources: tuple[Subresource, ...]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`pods`, `deployments.apps`: how errors and kubectl name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    def subresource(self, name: str) -> Subresource | None:
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None

    def storage_prefix(self) -> str:
        """`/registry/<group>/<resource>/`; the core group is spelt `core`, as upstream keys do
        not carry it: `/registry/pods/`. Every served version of a resource shares one prefix."""
        if self.group:
            return f"/registry/{self.group}/{self.plural}/"
        return f"/registry/{self.plural}/"

    def key(self, namespace: str, name: str) -> str:
        if self.namespaced:
            return f"{self.storage_prefix()}{namespace}/{name}"
        return f"{self.storage_prefix()}{name}"


@dataclass(frozen=True)
class GroupVersion:
    group: str
    version: str
    resources: tuple[Resource, ...]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


class Catalogue:
    """Look-ups over the served resources. Built once from the built-in document; afterwards
    only CustomResourceDefinitions change it, through `set_group` on the apiserver's own
    `copy` (never on the shared `builtin()`)."""

    def __init__(self, document: Obj) -> None:
        self._groups: list[tuple[str, list[GroupVersion]]] = []
        self._by_path: dict[tuple[str, str, str], Resource] = {}
        self._by_kind: dict[tuple[str, str, str], Resource] = {}
        self._custom: dict[str, list[GroupVersion]] = {}
        for item in document["items"]:
            group = item["metadata"].get("name", "")
            versions = [_group_version(group, v) for v in item["versions"]]
            self._groups.append((group, versions))
            self._index(versions)

    def _index(self, versions: list[GroupVersion]) -> None:
        for gv in versions:
            for res in gv.resources:
                self._by_path[(gv.group, gv.version, res.plural)] = res
                self._by_kind.setdefault((gv.group, gv.version, res.kind), res)

    def copy(self) -> Catalogue:
        """An independent catalogue serving the same resources."""
        other = Catalogue({"items": []})
        other._groups = list(self._groups)
        other._by_path = dict(self._by_path)
        other._by_kind = dict(self._by_kind)
        other._custom = dict(self._custom)
        return other

    def set_group(self, group: str, versions: list[GroupVersion]) -> None:
        """Serve exactly `versions` (preferred first) of a custom resource group, replacing
        what it served before; no versions stops serving it. Custom groups come after the
        built-in ones, by name, as upstream orders groups of equal priority. Raises ValueError
        for a built-in group (custom resources may not join one)."""
        if group not in self._custom and self.group_versions(group):
            raise ValueError(f"{group} is a built-in group")
        for gv in self._custom.pop(group, []):
            for res in gv.resources:
                self._by_path.pop((group, gv.version, res.plural), None)
                if self._by_kind.get((group, gv.version, res.kind)) is res:
                    del self._by_kind[(group, gv.version, res.kind)]
        if versions:
            self._custom[group] = list(versions)
            self._index(versions)
        builtin_groups = [(name, vs) for name, vs in self._groups if name not in self._custom
                          and name != group]
        self._groups = builtin_groups + sorted(self._custom.items())

    def is_custom(self, group: str) -> bool:
        return group in self._custom

    def groups(self) -> list[tuple[str, list[GroupVersion]]]:
        """(group, versions preferred first), the core group (``) first."""
        return self._groups

    def group_versions(self, group: str) -> list[GroupVersion]:
        for name, versions in self._groups:
            if name == group:
                return versions
        return []

    def get(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, group: str, version: str, kind: str) -> Resource | None:
        return self._by_kind.get((group, version, kind))

    def all(self) -> list[Resource]:
        return list(self._by_path.values())


def _group_version(group: str, doc: Obj) -> GroupVersion:
    resources_ = tuple(
        Resource(
            group=group,
            version=doc["version"],
            plural=r["resource"],
            kind=r["responseKind"]["kind"],
            namespaced=r["scope"] == "Namespaced",
            singular=r.get("singularResource", ""),
            verbs=tuple(r.get("verbs", ())),
            short_names=tuple(r.get("shortNames", ())),
            categories=tuple(r.get("categories", ())),
            subresources=tuple(
                Subresource(
                    name=s["subresource"],
                    group=s["responseKind"].get("group", ""),
                    version=s["responseKind"].get("version", ""),
                    kind=s["responseKind"].get("kind", ""),
                    verbs=tuple(s.get("verbs", ())),
                )
                for s in r.get("subresources", ())
            ),
        )
        for r in doc.get("resources", ())
    )
    return GroupVersion(group, doc["version"], resources_)


@functools.cache
def discovery_document() -> Obj:
    """The transcribed aggregated discovery data (core group first, then `/apis` groups)."""
    text = resources.files("kajitori.api").joinpath("data/discovery.json").read_text()
    doc: Obj = json.loads(text)
    return doc


@functools.cache
def builtin() -> Catalogue:
    return Catalogue(discovery_document())
