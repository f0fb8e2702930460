"""Discovery documents: what `/api`, `/apis`, `/apis/<group>`, `/api/v1` and
`/apis/<group>/<version>` answer, rendered from the resource catalogue.

Mirrors staging/src/k8s.io/apiserver/pkg/endpoints/discovery/: `legacy.go`, `root.go`, `group.go`
and `version.go` for the legacy documents (APIVersions, APIGroupList, APIGroup,
APIResourceList), `aggregated/handler.go` and `aggregated/negotiation.go` for the aggregated
APIGroupDiscoveryList (apidiscovery.k8s.io v2 and v2beta1). Pure rendering, no HTTP: the route
that serves these answers `If-None-Match` with the ETag and sets `Vary: Accept`, since one path
has several bodies.

Departures from upstream, none visible to clients: responses are JSON only (a protobuf media
range is passed over, as if not listed); legacy resource entries carry no `storageVersionHash`
(optional, and the catalogue does not record storage versions); each responseKind names its
group and version, where upstream leaves both empty for a kind of the listed group-version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from kajitori.api import catalogue
from kajitori.apiserver import negotiation

Obj = dict[str, Any]

AGGREGATED_GROUP = "apidiscovery.k8s.io"
AGGREGATED_KIND = "APIGroupDiscoveryList"
AGGREGATED_VERSIONS = ("v2", "v2beta1")
"""The aggregated discovery versions served, newest first."""
JSON_RANGES = frozenset({negotiation.JSON, "application/*", "*/*"})
FRESHNESS_CURRENT = "Current"
ALL_CLIENTS_CIDR = "0.0.0.0/0"

_ROOT_CORE = "/api"
_ROOT_GROUPS = "/apis"


@dataclass(frozen=True)
class Rendered:
    """One discovery response: its Content-Type, body and quoted ETag (a hash of the body, so
    it changes exactly when the body does)."""

    content_type: str
    body: bytes
    etag: str


def aggregated_content_type(version: str) -> str:
    """`application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`: kubectl
    recognises aggregated discovery by this header alone, not by the body."""
    return f"{negotiation.JSON};g={AGGREGATED_GROUP};v={version};as={AGGREGATED_KIND}"


def aggregated_version(accept: str) -> str | None:
    """The aggregated discovery version the client asks for, or None for the legacy documents.

    Takes the first media range of `accept`, in the client's order, that this server can
    answer: a JSON range naming `as=APIGroupDiscoveryList` in group apidiscovery.k8s.io at a
    served version picks that version; a JSON range without `as` picks the legacy document;
    anything else (protobuf, Table, other versions) is passed over. Legacy when none fits."""
    for media in negotiation.parse_accept(accept):
        if media.type not in JSON_RANGES:
            continue
        as_ = media.params.get("as")
        if as_ is None:
            return None
        if (as_ == AGGREGATED_KIND and media.params.get("g") == AGGREGATED_GROUP
                and media.params.get("v") in AGGREGATED_VERSIONS):
            return media.params["v"]
    return None


class DiscoveryDocuments:
    """Renders and caches the discovery documents of one catalogue.

    Each (document, media type) is rendered once; later calls return the same `Rendered`.
    The catalogue must not change behind its back: whoever changes it (CustomResourceDefinitions)
    calls `catalogue_changed()`, which drops every cached document, so bodies and ETags follow
    the new catalogue. Not thread-safe; meant for the apiserver's event loop."""

    def __init__(self, resources: catalogue.Catalogue, *, server_address: str,
                 served_apart: tuple[catalogue.GroupVersion, ...] = ()) -> None:
        self._catalogue = resources
        self._server_address = server_address  # "host:port" clients are told to use, in /api
        # Groups this server serves outside the catalogue (metrics.k8s.io, as an aggregated
        # APIService would): listed after every catalogue group, as the aggregator orders an
        # APIService of low groupPriorityMinimum.
        self._served_apart: dict[str, list[catalogue.GroupVersion]] = {}
        for gv in served_apart:
            self._served_apart.setdefault(gv.group, []).append(gv)
        self._cache: dict[tuple[str, str], Rendered] = {}

    def catalogue_changed(self) -> None:
        """Forget every rendered document; the next `render` reads the catalogue again."""
        self._cache.clear()

    def render(self, path: str, accept: str) -> Rendered | None:
        """The document at `path` in the form `accept` asks for; None when `path` is not a
        discovery path of this catalogue (unknown group or version included), so the caller
        routes it elsewhere or answers 404.

        `/api` and `/apis` are aggregated (v2 or v2beta1) or legacy per `aggregated_version`;
        the group and group-version documents exist in legacy form only."""
        path = path.rstrip("/") or "/"
        aggregated = None
        if path in (_ROOT_CORE, _ROOT_GROUPS):
            aggregated = aggregated_version(accept)
        key = (path, aggregated or "")
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        document = self._document(path, aggregated)
        if document is None:
            return None
        body = orjson.dumps(document)
        content_type = aggregated_content_type(aggregated) if aggregated else negotiation.JSON
        rendered = Rendered(content_type, body, _etag(body))
        self._cache[key] = rendered
        return rendered

    def _document(self, path: str, aggregated: str | None) -> Obj | None:
        if path == _ROOT_CORE:
            if aggregated:
                return self._aggregated(aggregated, core=True)
            return self._api_versions()
        if path == _ROOT_GROUPS:
            if aggregated:
                return self._aggregated(aggregated, core=False)
            return self._api_group_list()
        parts = path.split("/")[1:]
        if "" in parts:
            return None
        if len(parts) == 2 and parts[0] == "api":
            return self._api_resource_list("", parts[1])
        if len(parts) == 2 and parts[0] == "apis":
            return self._api_group(parts[1])
        if len(parts) == 3 and parts[0] == "apis":
            return self._api_resource_list(parts[1], parts[2])
        return None

    def _named_groups(self) -> list[tuple[str, list[catalogue.GroupVersion]]]:
        return [(name, versions) for name, versions in self._catalogue.groups()
                if name and name not in self._served_apart] + list(self._served_apart.items())

    def _group_versions(self, group: str) -> list[catalogue.GroupVersion]:
        return self._served_apart.get(group) or self._catalogue.group_versions(group)

    def _aggregated(self, version: str, *, core: bool) -> Obj:
        """APIGroupDiscoveryList: `/api` holds the core group alone, `/apis` every named
        group, in catalogue order (priority order), versions preferred first."""
        groups = [("", self._catalogue.group_versions(""))] if core else self._named_groups()
        return {
            "kind": AGGREGATED_KIND,
            "apiVersion": f"{AGGREGATED_GROUP}/{version}",
            "metadata": {},
            "items": [
                {"metadata": {"name": name},
                 "versions": [_version_discovery(gv) for gv in versions]}
                for name, versions in groups
            ],
        }

    def _api_versions(self) -> Obj:
        return {
            "kind": "APIVersions",
            "versions": [gv.version for gv in self._catalogue.group_versions("")],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": ALL_CLIENTS_CIDR, "serverAddress": self._server_address}],
        }

    def _api_group_list(self) -> Obj:
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [_group(name, versions) for name, versions in self._named_groups()],
        }

    def _api_group(self, group: str) -> Obj | None:
        versions = self._group_versions(group)
        if not group or not versions:
            return None
        return {"kind": "APIGroup", "apiVersion": "v1", **_group(group, versions)}

    def _api_resource_list(self, group: str, version: str) -> Obj | None:
        for gv in self._group_versions(group):
            if gv.version == version:
                return {
                    "kind": "APIResourceList",
                    "apiVersion": "v1",
                    "groupVersion": gv.api_version,
                    "resources": _api_resources(gv),
                }
        return None


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=16).hexdigest().upper() + '"'


def _group_version_ref(gv: catalogue.GroupVersion) -> Obj:
    return {"groupVersion": gv.api_version, "version": gv.version}


def _group(name: str, versions: list[catalogue.GroupVersion]) -> Obj:
    """An APIGroup's fields: versions preferred first, so the first is the preferred one."""
    return {
        "name": name,
        "versions": [_group_version_ref(gv) for gv in versions],
        "preferredVersion": _group_version_ref(versions[0]),
    }


def _sub_group_version(sub: catalogue.Subresource, gv: catalogue.GroupVersion) -> tuple[str, str]:
    """A subresource's response group-version; an empty one (upstream's spelling) is the
    listed group-version."""
    if not sub.version:
        return gv.group, gv.version
    return sub.group, sub.version


def _version_discovery(gv: catalogue.GroupVersion) -> Obj:
    """APIVersionDiscovery: resources sorted by name, as upstream sorts them."""
    resources = [_resource_discovery(res, gv)
                 for res in sorted(gv.resources, key=lambda r: r.plural)]
    return {"version": gv.version, "resources": resources, "freshness": FRESHNESS_CURRENT}


def _resource_discovery(res: catalogue.Resource, gv: catalogue.GroupVersion) -> Obj:
    doc: Obj = {
        "resource": res.plural,
        "responseKind": {"group": res.group, "version": res.version, "kind": res.kind},
        "scope": "Namespaced" if res.namespaced else "Cluster",
        "singularResource": res.singular,
        "verbs": list(res.verbs),
    }
    if res.short_names:
        doc["shortNames"] = list(res.short_names)
    if res.categories:
        doc["categories"] = list(res.categories)
    if res.subresources:
        subs = []
        for sub in sorted(res.subresources, key=lambda s: s.name):
            group, version = _sub_group_version(sub, gv)
            subs.append({
                "subresource": sub.name,
                "responseKind": {"group": group, "version": version, "kind": sub.kind},
                "verbs": list(sub.verbs),
            })
        doc["subresources"] = subs
    return doc


def _api_resources(gv: catalogue.GroupVersion) -> list[Obj]:
    """APIResourceList entries: one per resource and one per subresource (`pods/status`),
    sorted by name as upstream lists them. A subresource names its group and version only
    when its response kind lives elsewhere (`pods/eviction` is policy/v1 Eviction)."""
    entries: list[Obj] = []
    for res in gv.resources:
        entry: Obj = {
            "name": res.plural,
            "singularName": res.singular,
            "namespaced": res.namespaced,
            "kind": res.kind,
            "verbs": list(res.verbs),
        }
        if res.short_names:
            entry["shortNames"] = list(res.short_names)
        if res.categories:
            entry["categories"] = list(res.categories)
        entries.append(entry)
        for sub in res.subresources:
            sub_entry: Obj = {"name": f"{res.plural}/{sub.name}", "singularName": "",
                              "namespaced": res.namespaced}
            group, version = _sub_group_version(sub, gv)
            if (group, version) != (gv.group, gv.version):
                sub_entry["group"] = group
                sub_entry["version"] = version
            sub_entry["kind"] = sub.kind
            sub_entry["verbs"] = list(sub.verbs)
            entries.append(sub_entry)
    entries.sort(key=lambda entry: entry["name"])
    return entries
