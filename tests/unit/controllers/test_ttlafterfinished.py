"""TTL after finished: a finished Job goes ttlSecondsAfterFinished after it finished."""

from __future__ import annotations

import datetime

import fakecluster
import pytest

from kajitori.api import meta
from kajitori.client import rest
from kajitori.controllers import ttlafterfinished, worker

JOBS = fakecluster.path("batch", "v1", "jobs", namespace="default")
FINISHED = datetime.datetime(2025, 5, 1, 12, 0, 0, tzinfo=datetime.UTC)


async def job(client: rest.RESTClient, name: str, *, ttl: int | None,
              finished: bool = True) -> dict:
    spec: dict = {"template": {"spec": {"restartPolicy": "Never", "containers": [
        {"name": "c", "image": "busybox"}]}}}
    if ttl is not None:
        spec["ttlSecondsAfterFinished"] = ttl
    created = await client.create(JOBS, {"apiVersion": "batch/v1", "kind": "Job",
                                         "metadata": {"name": name}, "spec": spec})
    if finished:
        stamp = meta.format_time(FINISHED)
        created["status"] = {"startTime": stamp, "completionTime": stamp, "succeeded": 1,
                             "conditions": [
                                 {"type": "SuccessCriteriaMet", "status": "True",
                                  "lastTransitionTime": stamp},
                                 {"type": "Complete", "status": "True",
                                  "lastTransitionTime": stamp}]}
        created = await client.update(f"{JOBS}/{name}/status", created)
    return created


def controller(client: rest.RESTClient, jobs: list[dict], *, seconds_after: float
               ) -> ttlafterfinished.TTLAfterFinishedController:
    now = FINISHED + datetime.timedelta(seconds=seconds_after)
    return ttlafterfinished.TTLAfterFinishedController(
        client=client, jobs=fakecluster.seeded(*jobs), workers=1, now=lambda: now)


async def test_expired_job_is_deleted_in_the_foreground(client: rest.RESTClient) -> None:
    finished = await job(client, "done", ttl=100)
    await controller(client, [finished], seconds_after=100).sync("default/done")
    live = await client.get(f"{JOBS}/done")  # the garbage collector finishes the deletion
    assert meta.deletion_timestamp(live)
    assert meta.finalizers(live) == ["foregroundDeletion"]


async def test_job_not_yet_expired_is_looked_at_again_when_it_is(
        client: rest.RESTClient) -> None:
    finished = await job(client, "soon", ttl=100)
    with pytest.raises(worker.RequeueAfter) as raised:
        await controller(client, [finished], seconds_after=40).sync("default/soon")
    assert raised.value.seconds == 60
    assert not meta.deletion_timestamp(await client.get(f"{JOBS}/soon"))


async def test_ttl_raised_since_the_cache_saw_it_is_honoured(client: rest.RESTClient) -> None:
    cached = await job(client, "changed", ttl=10)
    await client.patch(f"{JOBS}/changed", {"spec": {"ttlSecondsAfterFinished": 1000}})
    with pytest.raises(worker.RequeueAfter):
        await controller(client, [cached], seconds_after=20).sync("default/changed")
    assert not meta.deletion_timestamp(await client.get(f"{JOBS}/changed"))


async def test_unfinished_job_or_job_without_ttl_stays(client: rest.RESTClient) -> None:
    running = await job(client, "running", ttl=0, finished=False)
    kept = await job(client, "kept", ttl=None)
    ctl = controller(client, [running, kept], seconds_after=10_000)
    await ctl.sync("default/running")
    await ctl.sync("default/kept")
    assert len(ctl.queue) == 0
    for name in ("running", "kept"):
        assert not meta.deletion_timestamp(await client.get(f"{JOBS}/{name}"))


def test_finish_time_without_a_transition_time_is_an_error() -> None:
    broken = {"metadata": {"name": "j", "namespace": "ns"},
              "status": {"conditions": [{"type": "Failed", "status": "True"}]}}
    with pytest.raises(worker.SyncFailed, match="unable to find the time when the Job ns/j "
                                                "finished"):
        ttlafterfinished.job_finish_time(broken)


def test_only_finished_jobs_with_a_ttl_are_queued() -> None:
    ctl = controller(None, [], seconds_after=0)  # type: ignore[arg-type]
    done = {"metadata": {"name": "a", "namespace": "ns"}, "spec": {"ttlSecondsAfterFinished": 5},
            "status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    ctl._enqueue(done)
    ctl._enqueue({**done, "spec": {}})
    ctl._enqueue({**done, "status": {"conditions": [{"type": "Complete", "status": "False"}]}})
    assert len(ctl.queue) == 1
