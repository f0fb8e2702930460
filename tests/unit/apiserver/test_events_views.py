"""core/v1 and events.k8s.io/v1 Events are one set of objects seen two ways, through the full
HTTP stack: whatever one API writes, the other reads, lists, watches, patches and deletes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from test_handlers_watch import create, watch

if TYPE_CHECKING:
    from conftest import API

Obj = dict[str, Any]

CORE = "/api/v1/namespaces/default/events"
V1 = "/apis/events.k8s.io/v1/namespaces/default/events"
REF = {"kind": "Pod", "namespace": "default", "name": "p", "uid": "u1", "apiVersion": "v1"}


def core_event(name: str, *, pod: str = "p") -> Obj:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name},
            "involvedObject": {**REF, "name": pod}, "reason": "Scaled", "message": "up",
            "source": {"component": "ctl"}, "count": 2, "type": "Normal",
            "firstTimestamp": "2025-01-01T00:00:00Z", "lastTimestamp": "2025-01-01T00:01:00Z"}


async def get(api: API, path: str) -> Obj:
    async with api.session.get(api.url(path)) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_core_event_reads_as_events_v1(api: API) -> None:
    created = await create(api, CORE, core_event("e1"))
    got = await get(api, f"{V1}/e1")
    assert got == {
        "kind": "Event", "apiVersion": "events.k8s.io/v1", "metadata": created["metadata"],
        "regarding": REF, "reason": "Scaled", "note": "up",
        "deprecatedSource": {"component": "ctl"}, "deprecatedCount": 2,
        "deprecatedFirstTimestamp": "2025-01-01T00:00:00Z",
        "deprecatedLastTimestamp": "2025-01-01T00:01:00Z", "type": "Normal",
        "eventTime": None}


async def test_events_v1_create_reads_as_core(api: API) -> None:
    v1 = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e2"},
          "eventTime": "2025-01-01T00:00:00.000000Z", "regarding": REF, "note": "hello",
          "reason": "Started", "action": "Start", "type": "Normal",
          "reportingController": "example.com/ctl", "reportingInstance": "ctl-1"}
    created = await create(api, V1, v1)
    assert created["note"] == "hello"
    assert created["apiVersion"] == "events.k8s.io/v1"
    got = await get(api, f"{CORE}/e2")
    assert got["apiVersion"] == "v1"
    assert (got["involvedObject"], got["message"], got["reportingComponent"],
            got["reportingInstance"], got["action"]) == (
        REF, "hello", "example.com/ctl", "ctl-1", "Start")


async def test_lists_select_by_each_views_field_names(api: API) -> None:
    await create(api, CORE, core_event("a", pod="p"))
    await create(api, CORE, core_event("b", pod="q"))
    v1_list = await get(api, f"{V1}?fieldSelector=regarding.name%3Dq")
    assert [e["metadata"]["name"] for e in v1_list["items"]] == ["b"]
    assert v1_list["kind"] == "EventList"
    assert v1_list["apiVersion"] == "events.k8s.io/v1"
    core_list = await get(api, f"{CORE}?fieldSelector=involvedObject.name%3Dp")
    assert [e["metadata"]["name"] for e in core_list["items"]] == ["a"]
    async with api.session.get(api.url(f"{V1}?fieldSelector=involvedObject.name%3Dp")) as resp:
        assert resp.status == 400
        assert (await resp.json())["message"] == \
            "field label not supported: involvedObject.name"


async def test_events_v1_watch_sees_core_writes(api: API) -> None:
    async with watch(api, V1, resourceVersion="0") as stream:
        created = await create(api, CORE, core_event("w"))
        event = await stream.next()
    assert event["type"] == "ADDED"
    assert event["object"]["note"] == "up"
    assert event["object"]["metadata"]["resourceVersion"] == \
        created["metadata"]["resourceVersion"]


async def test_events_v1_patch_and_delete_change_the_core_object(api: API) -> None:
    await create(api, CORE, core_event("e"))
    async with api.session.patch(
            api.url(f"{V1}/e"), data=b'{"deprecatedCount":5}',
            headers={"Content-Type": "application/merge-patch+json"}) as resp:
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["deprecatedCount"] == 5
    assert (await get(api, f"{CORE}/e"))["count"] == 5
    async with api.session.delete(api.url(f"{V1}/e")) as resp:
        assert resp.status == 200
    async with api.session.get(api.url(f"{CORE}/e")) as resp:
        assert resp.status == 404


async def test_missing_event_is_named_by_the_requested_resource(api: API) -> None:
    async with api.session.get(api.url(f"{V1}/nope")) as resp:
        assert resp.status == 404
        assert (await resp.json())["message"] == 'events.events.k8s.io "nope" not found'
