"""Jobs and CronJobs against a real server, on simulated nodes, driven with the real kubectl.

The module's server runs, in a background thread of this process, the scheduler (no leader
election), two simulated nodes (`kajitori.sim`: a pod exits after the seconds of its
`sim.kajitori.io/run-seconds` annotation with the code of `sim.kajitori.io/exit-code`), and the
Job and CronJob controllers with a short pod-failure back-off. The CronJob controller's wall
clock runs `offset` ahead of the real one: a test moves it past the next minute and nudges the
CronJob with `kubectl annotate` (an update syncs it at once), instead of waiting a minute.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubectlrunner import InThread

from kajitori import scheduler, sim
from kajitori.client import informer, rest
from kajitori.controllers import cronjob, job
from kajitori.testing import harness

pytestmark = pytest.mark.e2e

Kubectl = Any  # tests/e2e/conftest.py's Kubectl
WAIT = "--timeout=60s"
RUN = "sim.kajitori.io/run-seconds"
EXIT = "sim.kajitori.io/exit-code"


class Components:
    """The scheduler, simulated nodes and the two controllers on one event loop in a thread."""

    def __init__(self, kubeconfig: Path) -> None:
        self._kubeconfig = kubeconfig
        self.offset = datetime.timedelta()
        self._in_thread = InThread(self._components)

    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC) + self.offset

    async def _components(self) -> None:
        config = await asyncio.to_thread(rest.load_kubeconfig, self._kubeconfig)
        async with rest.RESTClient(config) as client, asyncio.TaskGroup() as group:
            factory = informer.SharedInformerFactory(client)
            jobs = job.new_job_controller(client, informers=factory, settings=job.
                                          JobControllerSettings(pod_failure_backoff=0.2,
                                                                max_pod_failure_backoff=1.0))
            cron_jobs = cronjob.new_cron_job_controller(client, informers=factory, now=self.now)
            group.create_task(factory.run())
            group.create_task(jobs.run())
            group.create_task(cron_jobs.run())
            group.create_task(scheduler.run(kubeconfig=self._kubeconfig, leader_elect=False))
            group.create_task(sim.run(kubeconfig=self._kubeconfig, nodes=2))

    def start(self) -> None:
        self._in_thread.start()

    def stop(self) -> None:
        self._in_thread.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Cluster]:
    with harness.running(tmp_path_factory.mktemp("cluster")) as started:
        yield started


@pytest.fixture(scope="module")
def components(cluster: harness.Cluster) -> Iterator[Components]:
    running = Components(cluster.kubeconfig)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def namespace(kubectl: Kubectl, components: Components) -> str:
    name = f"jobs-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    return name


def job_manifest(name: str, *, seconds: float = 1, exit_code: int = 0, **spec: Any) -> str:
    """The docs' pi Job, its pods told how long to run and how to exit."""
    return yaml.safe_dump({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"template": {
            "metadata": {"annotations": {RUN: str(seconds), EXIT: str(exit_code)}},
            "spec": {"containers": [{"name": "pi", "image": "perl:5.34.0",
                                     "command": ["perl", "-Mbignum=bpi", "-wle",
                                                 "print bpi(2000)"]}],
                     "restartPolicy": "Never"}}, **spec}})


def status(kubectl: Kubectl, namespace: str, kind: str, name: str) -> dict[str, Any]:
    out = kubectl("-n", namespace, "get", kind, name, "-o", "json")
    return dict(json.loads(out).get("status") or {})


def test_one_shot_job_completes(kubectl: Kubectl, namespace: str) -> None:
    kubectl("-n", namespace, "apply", "-f", "-", input=job_manifest("pi", backoffLimit=4))
    kubectl("-n", namespace, "wait", "--for=condition=complete", "job/pi", WAIT)
    done = status(kubectl, namespace, "job", "pi")
    assert done["succeeded"] == 1
    assert [c["type"] for c in done["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert done["conditions"][1]["reason"] == "CompletionsReached"
    assert done["completionTime"]
    table = kubectl("-n", namespace, "get", "job", "pi")
    assert table.split("\n")[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION",
                                            "AGE"]
    assert table.split("\n")[1].split()[:3] == ["pi", "Complete", "1/1"]
    described = kubectl("-n", namespace, "describe", "job", "pi")
    assert "SuccessfulCreate" in described
    assert "Created pod: pi-" in described
    assert "Completed" in described
    assert "Job completed" in described
    pods = json.loads(kubectl("-n", namespace, "get", "pods", "-l", "job-name=pi", "-o",
                              "json"))["items"]
    assert [p["status"]["phase"] for p in pods] == ["Succeeded"]
    assert not pods[0]["metadata"].get("finalizers")  # the tracking finalizer is gone


def test_completions_with_parallelism(kubectl: Kubectl, namespace: str) -> None:
    kubectl("-n", namespace, "apply", "-f", "-",
            input=job_manifest("multi", completions=5, parallelism=2))
    kubectl("-n", namespace, "wait", "--for=condition=complete", "job/multi", WAIT)
    done = status(kubectl, namespace, "job", "multi")
    assert done["succeeded"] == 5
    pods = kubectl("-n", namespace, "get", "pods", "-l", "job-name=multi", "-o", "name")
    assert len(pods.split()) == 5


def test_failing_job_reaches_its_backoff_limit(kubectl: Kubectl, namespace: str) -> None:
    kubectl("-n", namespace, "apply", "-f", "-",
            input=job_manifest("fails", exit_code=1, seconds=0.2, backoffLimit=2))
    kubectl("-n", namespace, "wait", "--for=condition=failed", "job/fails", WAIT)
    done = status(kubectl, namespace, "job", "fails")
    assert done["failed"] == 3
    failed = next(c for c in done["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    assert failed["message"] == "Job has reached the specified backoff limit"
    described = kubectl("-n", namespace, "describe", "job", "fails")
    assert "BackoffLimitExceeded" in described


def test_indexed_job_runs_each_index_once(kubectl: Kubectl, namespace: str) -> None:
    kubectl("-n", namespace, "apply", "-f", "-", input=job_manifest(
        "idx", completions=3, parallelism=3, completionMode="Indexed"))
    kubectl("-n", namespace, "wait", "--for=condition=complete", "job/idx", WAIT)
    assert status(kubectl, namespace, "job", "idx")["completedIndexes"] == "0-2"
    pods = json.loads(kubectl("-n", namespace, "get", "pods", "-l", "job-name=idx", "-o",
                              "json"))["items"]
    indexes = sorted(p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"]
                     for p in pods)
    assert indexes == ["0", "1", "2"]
    assert all(p["metadata"]["name"].startswith(f"idx-{p['spec']['hostname'][4:]}-")
               for p in pods)


def cron_manifest(name: str, **spec: Any) -> str:
    return yaml.safe_dump({
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
        "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {
            "metadata": {"annotations": {RUN: "1"}},
            "spec": {"containers": [{"name": "hello", "image": "busybox:1.28",
                                     "command": ["/bin/sh", "-c", "date"]}],
                     "restartPolicy": "OnFailure"}}}}, **spec}})


def test_cron_job_creates_jobs_on_schedule(kubectl: Kubectl, namespace: str,
                                           components: Components) -> None:
    components.offset = datetime.timedelta()
    kubectl("-n", namespace, "apply", "-f", "-", input=cron_manifest("hello"))
    components.offset = datetime.timedelta(minutes=1)
    kubectl("-n", namespace, "annotate", "cronjob", "hello", "nudge=1")
    jobs = ""
    for _ in range(100):
        jobs = kubectl("-n", namespace, "get", "jobs", "-o", "name")
        if jobs:
            break
        threading.Event().wait(0.1)
    [name] = jobs.split()
    # `* * * * *` fires again at the next real minute: stop it so the checks below see one job.
    kubectl("-n", namespace, "patch", "cronjob", "hello", "--type=merge",
            "-p", '{"spec":{"suspend":true}}')
    scheduled = name.removeprefix("job.batch/hello-")
    kubectl("-n", namespace, "wait", "--for=condition=complete", name, WAIT)
    created = json.loads(kubectl("-n", namespace, "get", name, "-o", "json"))
    stamp = created["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    minute = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert int(minute.timestamp()) // 60 == int(scheduled)
    assert created["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    for _ in range(100):
        cron_status = status(kubectl, namespace, "cronjob", "hello")
        if cron_status.get("lastSuccessfulTime"):
            break
        threading.Event().wait(0.1)
    # A run may have started at the next minute before the suspend landed: the last schedule
    # time is then that run's, a minute or so after this job's.
    assert cron_status["lastScheduleTime"] >= stamp
    assert not cron_status.get("active")
    described = kubectl("-n", namespace, "describe", "cronjob", "hello")
    assert f"Created job hello-{scheduled}" in described
    assert f"Saw completed job: hello-{scheduled}, status: Complete" in described


def test_create_job_from_cron_job(kubectl: Kubectl, namespace: str) -> None:
    kubectl("-n", namespace, "apply", "-f", "-", input=cron_manifest("nightly",
                                                                     schedule="0 3 * * *"))
    out = kubectl("-n", namespace, "create", "job", "manual", "--from=cronjob/nightly")
    assert out.strip() == "job.batch/manual created"
    kubectl("-n", namespace, "wait", "--for=condition=complete", "job/manual", WAIT)
    made = json.loads(kubectl("-n", namespace, "get", "job", "manual", "-o", "json"))
    assert made["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert made["metadata"]["ownerReferences"][0]["name"] == "nightly"
