"""What the server serves, as controllers learn it: discovery through the API, and a REST mapper.

Mirrors client-go's `discovery` package as the namespace controller and the garbage collector
use it (`ServerPreferredResources`, `ServerPreferredNamespacedResources`, `FilteredBy` with
`SupportsAllVerbs`, `GroupVersionResources`, `ErrGroupDiscoveryFailed`) and the discovery-backed
`RESTMapper` that turns an ownerReference's apiVersion and kind into a resource path. It reads
the legacy documents (`/api`, `/apis`, then each group-version's APIResourceList), as client-go
does when aggregated discovery is not negotiated.

A group-version that fails to answer does not fail the whole: its error is collected in a
`GroupDiscoveryFailed` that carries what the other group-versions answered, as upstream's
partial results let the namespace controller delete what it can see.

Departure from upstream: the REST mapper falls back to another served version of the same group
and kind when the asked version is not served (an owner recorded under an older apiVersion);
upstream's mapper fails such a reference until rediscovery.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kajitori.api import meta
from kajitori.client import backoff, rest

Obj = dict[str, Any]


@dataclass(frozen=True)
class APIResource:
    """One served resource of one group-version (a discovery APIResource, with its group and
    version attached)."""

    group: str
    version: str
    name: str
    """The plural, e.g. `deployments`; never a subresource."""
    kind: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def api_version(self) -> str:
        return meta.api_version(self.group, self.version)

    def path(self, *, namespace: str = "", name: str = "", subresource: str = "") -> str:
        """This resource's collection, or one object's path (`namespace` is ignored for a
        cluster-scoped resource, so callers may pass a dependent's namespace blindly)."""
        return rest.resource_path(self.group, self.version, self.name,
                                  namespace=namespace if self.namespaced else "", name=name,
                                  subresource=subresource)


class GroupDiscoveryFailed(Exception):
    """Some group-versions could not be discovered (upstream's `ErrGroupDiscoveryFailed`).
    `resources` holds what the others answered; `groups` maps `group/version` to its error."""

    def __init__(self, groups: dict[str, BaseException], resources: list[APIResource]) -> None:
        self.groups = groups
        self.resources = resources
        listed = ", ".join(sorted(f"{gv}: {exc}" for gv, exc in groups.items()))
        super().__init__(f"unable to retrieve the complete list of server APIs: {listed}")


class GroupVersionParsingFailed(ValueError):
    """A discovery document named a group-version that does not parse (upstream's
    `schema.ParseGroupVersion` error)."""

    def __init__(self, group_version: str) -> None:
        super().__init__(f"unexpected GroupVersion string: {group_version}")


def parse_group_version(group_version: str) -> tuple[str, str]:
    """`apps/v1` -> (`apps`, `v1`), `v1` -> (``, `v1`); raises GroupVersionParsingFailed for
    anything with more than one `/` or an empty version."""
    parts = group_version.split("/")
    if len(parts) > 2 or not parts[-1] or (len(parts) == 2 and not parts[0]):
        raise GroupVersionParsingFailed(group_version)
    return meta.split_api_version(group_version)


async def server_resources(client: rest.RESTClient) -> list[APIResource]:
    """Every resource of every served group-version, preferred versions first within a group
    (the order `server_preferred_resources` relies on). Subresources are left out. Raises
    GroupDiscoveryFailed when some group-versions failed (carrying the rest), and the client's
    errors when even the group lists fail."""
    core, groups = await asyncio.gather(client.get("/api"), client.get("/apis"))
    group_versions = [str(v) for v in core.get("versions") or []]
    for group in groups.get("groups") or []:
        preferred = (group.get("preferredVersion") or {}).get("groupVersion")
        versions = [str(v.get("groupVersion")) for v in group.get("versions") or []]
        group_versions += sorted(versions, key=lambda gv: gv != preferred)
    answers = await asyncio.gather(*(_resource_list(client, gv) for gv in group_versions),
                                   return_exceptions=True)
    resources: list[APIResource] = []
    failed: dict[str, BaseException] = {}
    for group_version, answer in zip(group_versions, answers, strict=True):
        if isinstance(answer, BaseException):
            if not isinstance(answer, backoff.RETRIABLE):
                raise answer
            failed[group_version] = answer
            continue
        resources += answer
    if failed:
        raise GroupDiscoveryFailed(failed, resources)
    return resources


async def _resource_list(client: rest.RESTClient, group_version: str) -> list[APIResource]:
    group, version = parse_group_version(group_version)
    listed = await client.get(f"/apis/{group_version}" if group else f"/api/{version}")
    return [APIResource(group=group, version=version, name=str(r["name"]),
                        kind=str(r.get("kind", "")), namespaced=bool(r.get("namespaced")),
                        verbs=frozenset(r.get("verbs") or ()))
            for r in listed.get("resources") or [] if "/" not in str(r.get("name", ""))]


def preferred(resources: Iterable[APIResource]) -> list[APIResource]:
    """Each (group, resource) once, from the first version listing it (upstream's
    `ServerPreferredResources` over `server_resources`' order)."""
    seen: set[tuple[str, str]] = set()
    chosen = []
    for resource in resources:
        if (resource.group, resource.name) not in seen:
            seen.add((resource.group, resource.name))
            chosen.append(resource)
    return chosen


async def server_preferred_resources(client: rest.RESTClient, *, namespaced_only: bool = False
                                     ) -> list[APIResource]:
    """The preferred version of every resource (only namespaced ones if asked: upstream's
    `ServerPreferredNamespacedResources`). Raises GroupDiscoveryFailed with the partial answer
    filtered the same way."""
    try:
        found = preferred(await server_resources(client))
    except GroupDiscoveryFailed as exc:
        partial = preferred(exc.resources)
        raise GroupDiscoveryFailed(exc.groups, [r for r in partial if r.namespaced
                                                or not namespaced_only]) from exc
    return [r for r in found if r.namespaced or not namespaced_only]


def supporting_all_verbs(resources: Iterable[APIResource], verbs: Iterable[str]
                         ) -> list[APIResource]:
    """Those resources that support every verb (upstream's `FilteredBy(SupportsAllVerbs)`)."""
    wanted = frozenset(verbs)
    return [r for r in resources if wanted <= r.verbs]


class RESTMappingError(LookupError):
    """No served resource has this apiVersion and kind (upstream's `restMappingError`): either
    a type not yet discovered (a new CRD) or an invalid reference."""

    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(f'unable to get REST mapping for {kind}.{api_version}: no matches for '
                         f'kind "{kind}" in version "{api_version}"')


class RESTMapper:
    """apiVersion + kind -> the served resource, from one discovery answer. Replace it with
    `reset` after rediscovery; reads are synchronous and never touch the network."""

    def __init__(self, resources: Iterable[APIResource] = ()) -> None:
        self._by_version: dict[tuple[str, str, str], APIResource] = {}
        self._by_group: dict[tuple[str, str], APIResource] = {}
        self.reset(resources)

    def reset(self, resources: Iterable[APIResource]) -> None:
        by_version: dict[tuple[str, str, str], APIResource] = {}
        by_group: dict[tuple[str, str], APIResource] = {}
        for resource in resources:
            by_version.setdefault((resource.group, resource.version, resource.kind), resource)
            by_group.setdefault((resource.group, resource.kind), resource)
        self._by_version, self._by_group = by_version, by_group

    def mapping(self, api_version: str, kind: str) -> APIResource:
        """The resource serving `kind` in `api_version` (or, failing that, in its group).
        Raises RESTMappingError."""
        try:
            group, version = parse_group_version(api_version)
        except GroupVersionParsingFailed as exc:
            raise RESTMappingError(api_version, kind) from exc
        found = self._by_version.get((group, version, kind)) or \
            self._by_group.get((group, kind))
        if found is None:
            raise RESTMappingError(api_version, kind)
        return found

