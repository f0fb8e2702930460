"""The Job controller, as upstream's job_controller_test.go: the Job lives in a real
in-process server (its status is written there), pods are seeded into the cache, pod writes go
to FakePodControl, and the wall clock is fixed; each test asserts the pods asked for, the
status a user would read and the events."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

import fakecluster
import pytest

from kajitori.api import meta
from kajitori.client import rest
from kajitori.controllers import job as job_
from kajitori.controllers import podcontrol

Obj = dict[str, Any]
JOBS = fakecluster.path("batch", "v1", "jobs", namespace="default")
NOW = datetime.datetime(2025, 5, 1, 12, 0, 0, tzinfo=datetime.UTC)
FINALIZER = "batch.kubernetes.io/job-tracking"


@dataclass
class FakeRecorder:
    events: list[str] = field(default_factory=list)

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.events.append(f"{type_} {reason} {message}")


async def create_job(client: rest.RESTClient, name: str = "pi", **spec: Any) -> Obj:
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "main", "image": "busybox"}]}}, **spec}}
    return await client.create(JOBS, body)


def pod(job: Obj, name: str, *, phase: str = "Running", finalizer: bool = True,
        ready: bool = False, exit_code: int | None = None, index: int | None = None,
        finished_at: datetime.datetime = NOW) -> Obj:
    md: Obj = {"name": name, "namespace": "default", "uid": f"uid-{name}",
               "resourceVersion": "5",
               "labels": dict(job["spec"]["template"]["metadata"]["labels"]),
               "ownerReferences": [podcontrol.new_controller_ref(job)],
               "creationTimestamp": meta.format_time(NOW - datetime.timedelta(minutes=1))}
    if finalizer:
        md["finalizers"] = [FINALIZER]
    if index is not None:
        md["annotations"] = {"batch.kubernetes.io/job-completion-index": str(index)}
    status: Obj = {"phase": phase,
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if exit_code is not None:
        status["containerStatuses"] = [{"name": "main", "state": {"terminated": {
            "exitCode": exit_code, "finishedAt": meta.format_time(finished_at)}}}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": {}, "status": status}


@dataclass
class Rig:
    controller: job_.JobController
    pods: podcontrol.FakePodControl
    recorder: FakeRecorder
    client: rest.RESTClient
    name: str

    async def sync(self) -> Obj:
        await self.controller.sync(f"default/{self.name}")
        return await self.client.get(f"{JOBS}/{self.name}")


def rig(client: rest.RESTClient, job: Obj, *pods: Obj, now: datetime.datetime = NOW,
        settings: job_.JobControllerSettings | None = None) -> Rig:
    fake, recorder = podcontrol.FakePodControl(), FakeRecorder()
    controller = job_.JobController(
        pods=fakecluster.seeded(*pods), jobs=fakecluster.seeded(job), pod_control=fake,
        job_client=job_.RealJobClient(client), recorder=recorder, now=lambda: now,
        settings=settings)
    return Rig(controller, fake, recorder, client, meta.name(job))


def conditions(job: Obj) -> list[tuple[str, str, str, str]]:
    return [(c["type"], c["status"], c.get("reason", ""), c.get("message", ""))
            for c in job["status"].get("conditions") or []]


async def test_new_job_creates_parallelism_pods_with_the_tracking_finalizer(
        client: rest.RESTClient) -> None:
    job = await create_job(client, completions=5, parallelism=2)
    r = rig(client, job)
    live = await r.sync()
    assert len(r.pods.templates) == 2
    created = r.pods.templates[0]
    assert created["metadata"]["generateName"] == "pi-"
    assert created["metadata"]["finalizers"] == [FINALIZER]
    assert created["metadata"]["ownerReferences"][0]["uid"] == meta.uid(job)
    assert live["status"] == {"active": 2, "ready": 0, "terminating": 0,
                              "startTime": "2025-05-01T12:00:00Z",
                              "uncountedTerminatedPods": {}}


async def test_succeeded_pod_is_counted_once_its_finalizer_is_removed_and_the_job_completes(
        client: rest.RESTClient) -> None:
    job = await create_job(client)
    done = pod(job, "pi-abc", phase="Succeeded", exit_code=0)
    r = rig(client, job, done)
    live = await r.sync()
    assert r.pods.patches == [job_.REMOVE_TRACKING_FINALIZER_PATCH]
    assert r.pods.templates == []
    assert live["status"]["succeeded"] == 1
    assert live["status"]["uncountedTerminatedPods"] == {}
    assert conditions(live) == [
        ("SuccessCriteriaMet", "True", "CompletionsReached",
         "Reached expected number of succeeded pods"),
        ("Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods")]
    assert live["status"]["completionTime"] == "2025-05-01T12:00:00Z"
    assert r.recorder.events == ["Normal Completed Job completed"]


async def test_failures_beyond_backoff_limit_fail_the_job(client: rest.RESTClient) -> None:
    job = await create_job(client, backoffLimit=0)
    failed = pod(job, "pi-abc", phase="Failed", exit_code=1)
    r = rig(client, job, failed)
    live = await r.sync()
    assert live["status"]["failed"] == 1
    assert conditions(live) == [
        ("FailureTarget", "True", "BackoffLimitExceeded",
         "Job has reached the specified backoff limit"),
        ("Failed", "True", "BackoffLimitExceeded",
         "Job has reached the specified backoff limit")]
    assert "completionTime" not in live["status"]
    assert r.recorder.events == [
        "Warning BackoffLimitExceeded Job has reached the specified backoff limit"]


async def test_failed_pod_is_replaced_only_after_the_backoff(client: rest.RESTClient) -> None:
    job = await create_job(client, backoffLimit=6)
    failed = pod(job, "pi-abc", phase="Failed", exit_code=1,
                 finished_at=NOW - datetime.timedelta(seconds=4))
    r = rig(client, job, failed)
    live = await r.sync()
    assert r.pods.templates == []  # 6 s of the 10 s back-off left
    assert live["status"]["failed"] == 1
    assert r.controller.queue.num_requeues("default/pi") == 0
    later = rig(client, live, pod(live, "pi-abc", phase="Failed", exit_code=1,
                                  finalizer=False,
                                  finished_at=NOW - datetime.timedelta(seconds=4)),
                now=NOW + datetime.timedelta(seconds=7))
    later.controller.backoff_store.update(r.controller.backoff_store.get("default/pi"))
    await later.sync()
    assert len(later.pods.templates) == 1


def test_backoff_doubles_from_ten_seconds_and_stops_at_the_cap() -> None:
    from kajitori.controllers import jobbackoff
    waits = [jobbackoff.remaining_time_for_failures(NOW, default_backoff=10, max_backoff=600,
                                                    failures=n, last_failure=NOW)
             for n in (1, 2, 3, 7, 20)]
    assert waits == [10, 20, 40, 600, 600]


async def test_active_deadline_deletes_the_pods_and_fails_the_job(
        client: rest.RESTClient) -> None:
    job = await create_job(client, activeDeadlineSeconds=10)
    job["status"] = {"startTime": meta.format_time(NOW - datetime.timedelta(seconds=11))}
    job = await client.update(f"{JOBS}/pi/status", job)
    running = pod(job, "pi-abc", ready=True)
    r = rig(client, job, running)
    live = await r.sync()
    assert r.pods.delete_pod_names == ["pi-abc"]
    # The pod is terminating: the Job records the target, and fails once the pod is gone.
    assert conditions(live) == [("FailureTarget", "True", "DeadlineExceeded",
                                 "Job was active longer than specified deadline")]
    assert live["status"]["terminating"] == 1
    assert live["status"]["uncountedTerminatedPods"] == {}


async def test_pod_failure_policy_fail_job_rule(client: rest.RESTClient) -> None:
    job = await create_job(client, backoffLimit=6, podFailurePolicy={"rules": [
        {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [3]}},
        {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In",
                                              "values": [42]}}]})
    r = rig(client, job, pod(job, "pi-abc", phase="Failed", exit_code=42))
    live = await r.sync()
    message = ("Container main for pod default/pi-abc failed with exit code 42 matching "
               "FailJob rule at index 1")
    assert conditions(live) == [("FailureTarget", "True", "PodFailurePolicy", message),
                                ("Failed", "True", "PodFailurePolicy", message)]


async def test_pod_failure_policy_ignore_rule_does_not_count(client: rest.RESTClient) -> None:
    job = await create_job(client, backoffLimit=0, podFailurePolicy={"rules": [
        {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [3]}}]})
    r = rig(client, job, pod(job, "pi-abc", phase="Failed", exit_code=3))
    live = await r.sync()
    assert "failed" not in live["status"]
    assert conditions(live) == []
    assert r.pods.templates == []  # replaced after the back-off all failures share


async def test_indexed_job_pods_carry_their_index(client: rest.RESTClient) -> None:
    job = await create_job(client, "idx", completions=3, parallelism=3,
                           completionMode="Indexed")
    done = pod(job, "idx-1-abc", phase="Succeeded", exit_code=0, index=1)
    r = rig(client, job, done)
    live = await r.sync()
    made = sorted(r.pods.templates, key=lambda p: p["metadata"]["generateName"])
    assert [p["metadata"]["generateName"] for p in made] == ["idx-0-", "idx-2-"]
    first = made[0]
    assert first["metadata"]["annotations"] == {"batch.kubernetes.io/job-completion-index": "0"}
    assert first["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == "0"
    assert first["spec"]["hostname"] == "idx-0"
    assert first["spec"]["containers"][0]["env"] == [
        {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
            "fieldPath": "metadata.labels['batch.kubernetes.io/job-completion-index']"}}}]
    assert live["status"]["completedIndexes"] == "1"
    assert live["status"]["succeeded"] == 1


async def test_suspended_job_deletes_its_pods_and_says_so(client: rest.RESTClient) -> None:
    job = await create_job(client, suspend=True)
    r = rig(client, job, pod(job, "pi-abc"))
    live = await r.sync()
    assert r.pods.patches == [job_.REMOVE_TRACKING_FINALIZER_PATCH]
    assert r.pods.delete_pod_names == ["pi-abc"]
    assert conditions(live) == [("Suspended", "True", "JobSuspended", "Job suspended")]
    assert "startTime" not in live["status"]
    assert r.recorder.events == ["Normal Suspended Job suspended"]


@pytest.mark.parametrize(("completions", "succeeded", "want"), [(5, 0, 2), (5, 4, 1), (None, 0, 2)])
async def test_wanted_active_pods(client: rest.RESTClient, completions: int | None,
                                  succeeded: int, want: int) -> None:
    spec: Obj = {"parallelism": 2}
    if completions is not None:
        spec["completions"] = completions
    job = await create_job(client, **spec)
    if succeeded:
        job["status"] = {"succeeded": succeeded}
        job = await client.update(f"{JOBS}/pi/status", job)
    r = rig(client, job)
    await r.sync()
    assert len(r.pods.templates) == want
