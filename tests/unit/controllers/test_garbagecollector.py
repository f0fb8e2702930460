"""The garbage collector against the real in-process server. The graph is fed the server's
state by a small mirror standing in for the informers, then the collector's queues are worked
until nothing is left to do, and the test asserts what the server holds."""

from __future__ import annotations

import fakecluster
import pytest

from kajitori.api import meta
from kajitori.client import rest
from kajitori.controllers import discovery, garbagecollector
from kajitori.controllers import graphbuilder as gb

NS = "default"
DEPLOYMENTS = fakecluster.path("apps", "v1", "deployments", namespace=NS)
CONFIGMAPS = fakecluster.path("", "v1", "configmaps", namespace=NS)
WATCHED = ((DEPLOYMENTS, "apps/v1", "Deployment"), (CONFIGMAPS, "v1", "ConfigMap"))


class Mirror:
    """Feeds the graph the changes of the watched collections since the last look."""

    def __init__(self, client: rest.RESTClient, graph: gb.GraphBuilder) -> None:
        self.client, self.graph = client, graph
        self.seen: dict[str, dict] = {}

    async def sync(self) -> None:
        now: dict[str, dict] = {}
        for path, api_version, kind in WATCHED:
            for item in (await self.client.get(path))["items"]:
                now[meta.uid(item)] = {**item, "apiVersion": api_version, "kind": kind}
        for uid, obj in now.items():
            old = self.seen.get(uid)
            if old is None:
                self.graph.process_event(gb.Event(gb.ADD, obj))
            elif meta.resource_version(old) != meta.resource_version(obj):
                self.graph.process_event(gb.Event(gb.UPDATE, obj, old=old))
        for uid, old in self.seen.items():
            if uid not in now:
                self.graph.process_event(gb.Event(gb.DELETE, old))
        self.seen = now


async def collector(client: rest.RESTClient) -> tuple[garbagecollector.GarbageCollector, Mirror]:
    gc = garbagecollector.GarbageCollector(client=client, informers=None,  # type: ignore[arg-type]
                                           workers=1)
    gc.rest_mapper.reset(await discovery.server_resources(client))
    return gc, Mirror(client, gc.graph)


async def settle(gc: garbagecollector.GarbageCollector, mirror: Mirror) -> None:
    """Work both queues and mirror the server until neither has anything left."""
    await mirror.sync()
    for _ in range(50):
        gc.graph.process_pending()
        if len(gc.attempt_to_orphan):
            node = await gc.attempt_to_orphan.get()
            await gc.attempt_to_orphan_item(node)
            gc.attempt_to_orphan.done(node)
        elif len(gc.attempt_to_delete):
            node = await gc.attempt_to_delete.get()
            await gc.process_attempt_to_delete(node)
            gc.attempt_to_delete.done(node)
        else:
            return
        await mirror.sync()
    raise AssertionError("the collector did not settle")


async def deployment(client: rest.RESTClient, name: str) -> dict:
    created = await client.create(DEPLOYMENTS, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    return {**created, "apiVersion": "apps/v1", "kind": "Deployment"}


def ref(owner: dict, *, block: bool = True) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": meta.name(owner),
            "uid": meta.uid(owner), "blockOwnerDeletion": block}


async def dependent(client: rest.RESTClient, name: str, *refs: dict) -> None:
    await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                     "metadata": {"name": name, "ownerReferences": list(refs)}})


async def names(client: rest.RESTClient, path: str) -> list[str]:
    return sorted(meta.name(i) for i in (await client.get(path))["items"])


async def delete(client: rest.RESTClient, name: str, policy: str) -> None:
    await client.delete(f"{DEPLOYMENTS}/{name}", options={"propagationPolicy": policy})


async def test_background_deletion_removes_dependents(client: rest.RESTClient) -> None:
    owner = await deployment(client, "bg")
    await dependent(client, "a", ref(owner))
    await dependent(client, "b", ref(owner))
    gc, mirror = await collector(client)
    await settle(gc, mirror)
    await delete(client, "bg", "Background")
    await settle(gc, mirror)
    assert await names(client, CONFIGMAPS) == []


async def test_dependents_of_an_owner_gone_before_start_are_deleted(
        client: rest.RESTClient) -> None:
    owner = await deployment(client, "early")
    await dependent(client, "orphaned", ref(owner))
    await delete(client, "early", "Background")
    gc, mirror = await collector(client)
    await settle(gc, mirror)
    assert await names(client, CONFIGMAPS) == []


async def test_foreground_deletion_removes_dependents_first(client: rest.RESTClient) -> None:
    owner = await deployment(client, "fg")
    await dependent(client, "blocking", ref(owner))
    await dependent(client, "nonblocking", ref(owner, block=False))
    await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                     "metadata": {"name": "held", "finalizers": ["x/hold"],
                                                  "ownerReferences": [ref(owner)]}})
    gc, mirror = await collector(client)
    await settle(gc, mirror)
    await delete(client, "fg", "Foreground")
    await settle(gc, mirror)
    # A blocking dependent is still there (its own finalizer holds it): the owner waits.
    assert await names(client, CONFIGMAPS) == ["held"]
    waiting = await client.get(f"{DEPLOYMENTS}/fg")
    assert meta.finalizers(waiting) == ["foregroundDeletion"]
    held = await client.get(f"{CONFIGMAPS}/held")
    await client.update(f"{CONFIGMAPS}/held",
                        {**held, "metadata": {**held["metadata"], "finalizers": []}})
    await settle(gc, mirror)
    assert await names(client, DEPLOYMENTS) == []
    assert await names(client, CONFIGMAPS) == []


async def test_orphan_deletion_keeps_dependents_without_the_reference(
        client: rest.RESTClient) -> None:
    owner = await deployment(client, "or")
    other = await deployment(client, "other")
    await dependent(client, "kept", ref(owner), ref(other, block=False))
    gc, mirror = await collector(client)
    await settle(gc, mirror)
    await delete(client, "or", "Orphan")
    await settle(gc, mirror)
    assert await names(client, DEPLOYMENTS) == ["other"]
    kept = await client.get(f"{CONFIGMAPS}/kept")
    assert [r["name"] for r in meta.owner_references(kept)] == ["other"]


async def test_reference_to_an_absent_owner_is_removed_when_another_lives(
        client: rest.RESTClient) -> None:
    live = await deployment(client, "live")
    gone = await deployment(client, "gone")
    await dependent(client, "shared", ref(live), ref(gone))
    await delete(client, "gone", "Background")
    gc, mirror = await collector(client)
    await settle(gc, mirror)
    shared = await client.get(f"{CONFIGMAPS}/shared")
    assert [r["name"] for r in meta.owner_references(shared)] == ["live"]


async def test_unknown_owner_kind_is_retried_not_deleted(client: rest.RESTClient) -> None:
    await dependent(client, "odd", {"apiVersion": "example.com/v1", "kind": "Widget",
                                    "name": "w", "uid": "u-1"})
    gc, mirror = await collector(client)
    await mirror.sync()
    gc.graph.process_pending()
    node = await gc.attempt_to_delete.get()
    with pytest.raises(discovery.RESTMappingError) as raised:
        await gc.process_attempt_to_delete(node)
    assert str(raised.value) == ('unable to get REST mapping for Widget.example.com/v1: no '
                                 'matches for kind "Widget" in version "example.com/v1"')
    assert await names(client, CONFIGMAPS) == ["odd"]
