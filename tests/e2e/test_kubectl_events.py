"""Events against a real server: a component's EventRecorder posts repeated events, and
`kubectl describe` and `kubectl events` show them aggregated as on a v1.33 cluster; the
events.k8s.io view shows the same objects."""

from __future__ import annotations

import asyncio
import datetime
import json
import re
import uuid
from pathlib import Path

import pytest

from kajitori.client import events, rest

pytestmark = pytest.mark.e2e


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def record(kubeconfig: Path, obj: dict, *, times: list[datetime.datetime],
                 reason: str, message: str) -> None:
    """Record the same event once per entry of `times` (the wall clock of each)."""
    config = await asyncio.to_thread(rest.load_kubeconfig, kubeconfig)
    now = times[0]
    async with rest.RESTClient(config) as client, asyncio.TaskGroup() as group:
        recorder = events.EventRecorder(client, component="test-controller",
                                        wall_clock=lambda: now)
        writer = group.create_task(recorder.run())
        for now in times:  # noqa: B007 - the recorder's wall clock reads it
            recorder.event(obj, events.NORMAL, reason, message)
            await recorder.flush()
        writer.cancel()


@pytest.fixture
def deployment(kubectl) -> tuple[str, dict]:
    namespace = unique("events")
    kubectl("create", "namespace", namespace)
    kubectl("create", "deployment", "web", "--image=nginx", "-n", namespace)
    obj = json.loads(kubectl("get", "deploy", "web", "-n", namespace, "-o", "json"))
    now = datetime.datetime.now(datetime.UTC)
    times = [now - datetime.timedelta(minutes=2), now - datetime.timedelta(minutes=1), now]
    asyncio.run(record(kubectl.kubeconfig, obj, times=times, reason="Scaled",
                       message="Scaled up replica set web-1 to 3"))
    return namespace, obj


def test_describe_shows_the_repeated_event_once_with_its_count(kubectl, deployment) -> None:
    namespace, _ = deployment
    out = kubectl("describe", "deploy", "web", "-n", namespace)
    events_section = out.split("Events:", 1)[1]
    lines = [line.strip() for line in events_section.splitlines() if "Scaled" in line]
    assert len(lines) == 1, events_section
    assert re.fullmatch(r"Normal\s+Scaled\s+\d+s \(x3 over 2m\d*s?\)\s+test-controller\s+"
                        r"Scaled up replica set web-1 to 3", lines[0]), lines[0]


def test_kubectl_events_shows_the_aggregated_event(kubectl, deployment) -> None:
    namespace, _ = deployment
    out = kubectl("events", "-n", namespace)
    lines = out.splitlines()
    assert lines[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    [line] = [line for line in lines[1:] if "Scaled" in line]
    assert re.fullmatch(r"\d+s \(x3 over 2m\d*s?\)\s+Normal\s+Scaled\s+Deployment/web\s+"
                        r"Scaled up replica set web-1 to 3", line.strip()), line


def test_the_event_is_one_object_in_both_apis(kubectl, deployment) -> None:
    namespace, obj = deployment
    core = json.loads(kubectl("get", "events", "-n", namespace, "-o", "json"))["items"]
    v1 = json.loads(kubectl("get", "events.v1.events.k8s.io", "-n", namespace,
                            "-o", "json"))["items"]
    [core_event] = core
    [v1_event] = v1
    assert core_event["metadata"] == v1_event["metadata"]
    assert (core_event["count"], v1_event["deprecatedCount"]) == (3, 3)
    assert v1_event["regarding"]["uid"] == obj["metadata"]["uid"]
    assert v1_event["note"] == core_event["message"]
    selected = kubectl("get", "events.v1.events.k8s.io", "-n", namespace,
                       "--field-selector", "regarding.name=web", "-o", "name")
    assert selected == f"event.events.k8s.io/{core_event['metadata']['name']}\n"
