"""The event recorder against a fake API server: what a component's events look like on the
wire, and how repeats become patches of the first Event."""

from __future__ import annotations

import datetime
from typing import Any

from background import running
from fakeapi import FakeAPI, serving

from kajitori.client import clock, events, rest

Obj = dict[str, Any]

EVENTS = "/api/v1/namespaces/ns/events"
START = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
DEPLOYMENT = {"kind": "Deployment", "apiVersion": "apps/v1",
              "metadata": {"name": "web", "namespace": "ns", "uid": "u1",
                           "resourceVersion": "9"}}


class WallClock:
    """Event timestamps the test sets."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime.datetime:
        return self.now


def recorder_for(client: rest.RESTClient, wall: WallClock) -> events.EventRecorder:
    return events.EventRecorder(client, component="deployment-controller",
                                clock=clock.FakeClock(), wall_clock=wall)


async def test_first_event_is_posted_as_upstream_shapes_it() -> None:
    api, wall = FakeAPI(), WallClock()
    async with serving(api) as client:
        recorder = recorder_for(client, wall)
        async with running(recorder):
            recorder.event(DEPLOYMENT, events.NORMAL, "ScalingReplicaSet", "Scaled up to 3")
            await recorder.flush()
    [request] = api.requests
    assert (request.method, request.path) == ("POST", EVENTS)
    nanos = int(START.timestamp()) * 1_000_000_000
    assert request.body == {
        "kind": "Event", "apiVersion": "v1",
        "metadata": {"name": f"web.{nanos:x}", "namespace": "ns"},
        "involvedObject": {"kind": "Deployment", "namespace": "ns", "name": "web",
                           "uid": "u1", "apiVersion": "apps/v1", "resourceVersion": "9"},
        "reason": "ScalingReplicaSet", "message": "Scaled up to 3",
        "source": {"component": "deployment-controller"},
        "firstTimestamp": "2025-01-01T00:00:00Z", "lastTimestamp": "2025-01-01T00:00:00Z",
        "count": 1, "type": "Normal", "eventTime": None,
        "reportingComponent": "deployment-controller", "reportingInstance": ""}


async def test_repeats_patch_count_and_last_timestamp_of_the_first_event() -> None:
    api, wall = FakeAPI(), WallClock()
    async with serving(api) as client:
        recorder = recorder_for(client, wall)
        async with running(recorder):
            for minute in range(3):
                wall.now = START + datetime.timedelta(minutes=minute)
                recorder.event(DEPLOYMENT, events.NORMAL, "Scaled", "scaled")
                await recorder.flush()
    assert [(r.method, r.content_type) for r in api.requests] == [
        ("POST", "application/json"),
        ("PATCH", "application/strategic-merge-patch+json"),
        ("PATCH", "application/strategic-merge-patch+json")]
    assert api.requests[1].path == api.requests[2].path == \
        f"{EVENTS}/{api.requests[0].body['metadata']['name']}"
    assert api.requests[2].body == {"count": 3, "lastTimestamp": "2025-01-01T00:02:00Z",
                                    "message": "scaled"}
    [stored] = api.objects.values()
    assert (stored["count"], stored["firstTimestamp"], stored["lastTimestamp"]) == (
        3, "2025-01-01T00:00:00Z", "2025-01-01T00:02:00Z")


async def test_a_repeat_of_a_deleted_event_creates_it_again() -> None:
    api, wall = FakeAPI(), WallClock()
    async with serving(api) as client:
        recorder = recorder_for(client, wall)
        async with running(recorder):
            recorder.event(DEPLOYMENT, events.NORMAL, "Scaled", "scaled")
            await recorder.flush()
            api.objects.clear()
            recorder.event(DEPLOYMENT, events.NORMAL, "Scaled", "scaled")
            await recorder.flush()
    assert [r.method for r in api.requests] == ["POST", "PATCH", "POST"]
    recreated = api.requests[2].body
    assert recreated["count"] == 2
    assert "resourceVersion" not in recreated["metadata"]


async def test_a_different_message_is_a_new_event() -> None:
    api, wall = FakeAPI(), WallClock()
    async with serving(api) as client:
        recorder = recorder_for(client, wall)
        async with running(recorder):
            recorder.event(DEPLOYMENT, events.NORMAL, "Scaled", "to 2")
            wall.now = START + datetime.timedelta(seconds=1)
            recorder.event(DEPLOYMENT, events.WARNING, "Scaled", "to 3")
            await recorder.flush()
    assert [r.method for r in api.requests] == ["POST", "POST"]


async def test_unknown_event_type_is_not_recorded() -> None:
    api, wall = FakeAPI(), WallClock()
    async with serving(api) as client:
        recorder = recorder_for(client, wall)
        async with running(recorder):
            recorder.event(DEPLOYMENT, "Info", "Scaled", "x")
            await recorder.flush()
    assert api.requests == []


async def test_an_unreachable_server_is_retried_after_a_sleep() -> None:
    fake = clock.FakeClock()
    config = rest.Config(server="http://127.0.0.1:9", timeout=5)  # discard port: refused
    async with rest.RESTClient(config) as client:
        recorder = events.EventRecorder(client, component="c", clock=fake,
                                        wall_clock=WallClock())
        async with running(recorder):
            recorder.event(DEPLOYMENT, events.NORMAL, "Scaled", "x")
            await fake.wait_for_waiters()
            assert fake.has_waiters()


async def test_an_event_about_a_container_names_its_field_path() -> None:
    pod = {"kind": "Pod", "apiVersion": "v1",
           "metadata": {"name": "web-0", "namespace": "ns", "uid": "u2"}}
    api, wall = FakeAPI(), WallClock()
    async with serving(api) as client:
        recorder = events.EventRecorder(client, component="kubelet", host="node-1",
                                        clock=clock.FakeClock(), wall_clock=wall)
        async with running(recorder):
            recorder.event(pod, events.NORMAL, "Started", "Started container nginx",
                           field_path="spec.containers{nginx}")
            await recorder.flush()
    [request] = api.requests
    assert request.body["involvedObject"] == {
        "kind": "Pod", "namespace": "ns", "name": "web-0", "uid": "u2", "apiVersion": "v1",
        "fieldPath": "spec.containers{nginx}"}
    assert request.body["source"] == {"component": "kubelet", "host": "node-1"}
