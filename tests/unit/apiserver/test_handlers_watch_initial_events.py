"""Watch with `sendInitialEvents` (WatchList), as client-go's reflector asks for it, and the
422s upstream answers for the combinations it refuses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from test_handlers_watch import CONFIGMAPS, configmap, create, watch

if TYPE_CHECKING:
    from conftest import API

Obj = dict[str, Any]

END = {"k8s.io/initial-events-end": "true"}


async def test_initial_events_then_end_bookmark_then_changes(api: API) -> None:
    a = await create(api, CONFIGMAPS, configmap("a"))
    b = await create(api, CONFIGMAPS, configmap("b"))
    async with watch(api, sendInitialEvents="true", resourceVersionMatch="NotOlderThan",
                     allowWatchBookmarks="true") as stream:
        assert await stream.next() == {"type": "ADDED", "object": a}
        assert await stream.next() == {"type": "ADDED", "object": b}
        assert await stream.next() == {"type": "BOOKMARK", "object": {
            "kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {"resourceVersion": b["metadata"]["resourceVersion"],
                         "annotations": END}}}
        c = await create(api, CONFIGMAPS, configmap("c"))
        assert await stream.next() == {"type": "ADDED", "object": c}


async def test_initial_events_respect_selectors_and_a_past_resource_version(api: API) -> None:
    first = await create(api, CONFIGMAPS, configmap("a", app="x"))
    await create(api, CONFIGMAPS, configmap("b", app="y"))
    async with watch(api, sendInitialEvents="true", resourceVersionMatch="NotOlderThan",
                     resourceVersion=first["metadata"]["resourceVersion"],
                     labelSelector="app=x", allowWatchBookmarks="true") as stream:
        event = await stream.next()
        assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "a")
        bookmark = await stream.next()
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["metadata"]["annotations"] == END


async def test_initial_events_without_bookmarks_send_no_end_marker(api: API) -> None:
    await create(api, CONFIGMAPS, configmap("a"))
    async with watch(api, sendInitialEvents="true", resourceVersionMatch="NotOlderThan",
                     timeoutSeconds="1") as stream:
        event = await stream.next()
        assert event["type"] == "ADDED"
        c = await create(api, CONFIGMAPS, configmap("c"))
        assert await stream.next() == {"type": "ADDED", "object": c}


async def test_send_initial_events_false_streams_only_changes(api: API) -> None:
    await create(api, CONFIGMAPS, configmap("a"))
    async with watch(api, sendInitialEvents="false",
                     resourceVersionMatch="NotOlderThan") as stream:
        b = await create(api, CONFIGMAPS, configmap("b"))
        assert await stream.next() == {"type": "ADDED", "object": b}


async def invalid_watch(api: API, **params: str) -> Obj:
    async with api.session.get(api.url(CONFIGMAPS),
                               params={"watch": "true", **params}) as resp:
        assert resp.status == 422
        status: Obj = await resp.json()
    assert (status["reason"], status["details"]["kind"], status["details"]["group"]) == (
        "Invalid", "ListOptions", "meta.k8s.io")
    return status


async def test_send_initial_events_without_not_older_than_is_invalid(api: API) -> None:
    status = await invalid_watch(api, sendInitialEvents="true")
    assert status["message"] == (
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
        "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")


async def test_resource_version_match_without_send_initial_events_is_invalid(api: API) -> None:
    status = await invalid_watch(api, resourceVersionMatch="NotOlderThan")
    assert status["message"] == (
        'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: '
        "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")


async def test_exact_match_with_send_initial_events_lists_every_problem(api: API) -> None:
    status = await invalid_watch(api, sendInitialEvents="true", resourceVersionMatch="Exact",
                                 resourceVersion="1")
    assert status["message"] == (
        'ListOptions.meta.k8s.io "" is invalid: [resourceVersionMatch: Forbidden: '
        "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan, "
        'resourceVersionMatch: Unsupported value: "Exact": supported values: "NotOlderThan"]')
