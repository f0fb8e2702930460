"""Pods on a simulated node, as the kubelet reports them: Running with an IP, finishing after
their run seconds as Succeeded or Failed, restarting with back-off, stopped and deleted when
deleted, and never written twice with the same status."""

from __future__ import annotations

import copy
from typing import Any

from seededinformer import seeded
from simfakes import FakeClient, at, wall_of

from kajitori.client import clock as clock_
from kajitori.sim import node, podlifecycle, pool

Obj = dict[str, Any]
PODS = "/api/v1/namespaces/default/pods"
UID = "uid-p"


def pod(name: str = "p", *, restart_policy: str = "Always", run_seconds: str | None = None,
        exit_code: str | None = None, **spec: Any) -> Obj:
    annotations = {}
    if run_seconds is not None:
        annotations[podlifecycle.RUN_SECONDS_ANNOTATION] = run_seconds
    if exit_code is not None:
        annotations[podlifecycle.EXIT_CODE_ANNOTATION] = exit_code
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}",
                     "resourceVersion": "1", "annotations": annotations},
        "spec": {"nodeName": "sim-default-0", "restartPolicy": restart_policy,
                 "containers": [{"name": "c", "image": "nginx"}], **spec},
        "status": {"phase": "Pending", "qosClass": "BestEffort", "conditions": [
            {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
             "lastTransitionTime": at(-5)}]},
    }


class Harness:
    """A PodLifecycle with one node, a seeded pod cache and a fake API; `sync` publishes what
    was written back into the cache, as the watch would."""

    def __init__(self, *pods: Obj) -> None:
        self.clock = clock_.FakeClock()
        self.client = FakeClient()
        self.pods = seeded(*pods, indexers={
            podlifecycle.NODE_NAME_INDEX: podlifecycle.node_name_index})
        for obj in pods:
            self.client.objects[f"{PODS}/{obj['metadata']['name']}"] = copy.deepcopy(obj)
        self.lifecycle = podlifecycle.PodLifecycle(self.client, pods=self.pods,
                                                   clock=self.clock, wall=wall_of(self.clock))
        (default,) = pool.default_pools(1)
        self.sim = node.SimNode(name="sim-default-0", pool=default, index=0,
                                pod_cidr="10.244.0.0/24", internal_ip="198.18.0.1")
        self.lifecycle.add_node(self.sim)

    async def sync(self, name: str = "p") -> Obj:
        await self.lifecycle.sync(f"default/{name}")
        stored = self.client.objects.get(f"{PODS}/{name}")
        if stored is not None:
            self.pods.cache.put(f"default/{name}", copy.deepcopy(stored))
        return stored["status"] if stored else {}

    def statuses_written(self, name: str = "p") -> int:
        return len(self.client.verbs("patch", f"{PODS}/{name}/status"))


def conditions(status: Obj) -> list[tuple[str, str, str]]:
    return [(c["type"], c["status"], c.get("reason", "")) for c in status["conditions"]]


async def test_a_bound_pod_runs_with_an_ip_from_its_node() -> None:
    harness = Harness(pod(initContainers=[{"name": "init", "image": "busybox:1.36"}]))
    status = await harness.sync()
    assert status["phase"] == "Running"
    assert (status["podIP"], status["podIPs"]) == ("10.244.0.2", [{"ip": "10.244.0.2"}])
    assert (status["hostIP"], status["hostIPs"]) == ("198.18.0.1", [{"ip": "198.18.0.1"}])
    assert status["startTime"] == at(0)
    assert status["qosClass"] == "BestEffort"
    assert conditions(status) == [
        ("PodReadyToStartContainers", "True", ""), ("Initialized", "True", ""),
        ("Ready", "True", ""), ("ContainersReady", "True", ""), ("PodScheduled", "True", "")]
    assert status["conditions"][-1]["lastTransitionTime"] == at(-5)  # the scheduler's, kept
    (container,) = status["containerStatuses"]
    assert container["state"] == {"running": {"startedAt": at(0)}}
    assert (container["ready"], container["started"], container["restartCount"]) == (
        True, True, 0)
    assert container["image"] == "docker.io/library/nginx:latest"
    assert container["imageID"].startswith("sim://docker.io/library/nginx@sha256:")
    assert container["containerID"].startswith("sim://")
    (init,) = status["initContainerStatuses"]
    assert init["state"]["terminated"]["reason"] == "Completed"
    assert init["image"] == "docker.io/library/busybox:1.36"
    assert (init["ready"], init["state"]["terminated"]["exitCode"]) == (True, 0)


async def test_an_unchanged_status_is_not_written_again() -> None:
    harness = Harness(pod())
    await harness.sync()
    harness.clock.step(30)
    await harness.sync()
    assert harness.statuses_written() == 1


async def test_a_pod_that_never_restarts_completes_after_its_run_seconds() -> None:
    harness = Harness(pod(restart_policy="Never", run_seconds="1"))
    await harness.sync()
    harness.clock.step(1)
    status = await harness.sync()
    assert status["phase"] == "Succeeded"
    assert status["containerStatuses"][0]["state"]["terminated"] == {
        "exitCode": 0, "reason": "Completed", "startedAt": at(0), "finishedAt": at(1),
        "containerID": status["containerStatuses"][0]["containerID"]}
    assert conditions(status)[:4] == [
        ("PodReadyToStartContainers", "False", ""), ("Initialized", "True", "PodCompleted"),
        ("Ready", "False", "PodCompleted"), ("ContainersReady", "False", "PodCompleted")]


async def test_a_non_zero_exit_code_fails_the_pod() -> None:
    harness = Harness(pod(restart_policy="Never", run_seconds="1", exit_code="3"))
    await harness.sync()
    harness.clock.step(5)  # a late sync still reports the exit at the time it was due
    status = await harness.sync()
    assert status["phase"] == "Failed"
    terminated = status["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"], terminated["finishedAt"]) == (
        3, "Error", at(1))
    assert conditions(status)[2:4] == [("Ready", "False", "PodFailed"),
                                       ("ContainersReady", "False", "PodFailed")]


async def test_on_failure_restarts_at_once_then_backs_off() -> None:
    harness = Harness(pod(restart_policy="OnFailure", run_seconds="2", exit_code="1"))
    await harness.sync()
    harness.clock.step(2)
    status = await harness.sync()  # first exit: restarted at once
    (container,) = status["containerStatuses"]
    assert status["phase"] == "Running"
    assert container["restartCount"] == 1
    assert container["state"] == {"running": {"startedAt": at(2)}}
    assert container["lastState"]["terminated"]["exitCode"] == 1
    assert container["lastState"]["terminated"]["reason"] == "Error"

    harness.clock.step(2)
    status = await harness.sync()  # second exit: 10 s of back-off
    (container,) = status["containerStatuses"]
    assert container["state"] == {"waiting": {
        "reason": "CrashLoopBackOff",
        "message": "back-off 10s restarting failed container=c pod=p_default(uid-p)"}}
    assert (container["ready"], container["restartCount"]) == (False, 1)
    assert conditions(status)[2] == ("Ready", "False", "ContainersNotReady")
    assert status["conditions"][2]["message"] == "containers with unready status: [c]"

    harness.clock.step(10)
    status = await harness.sync()
    assert status["containerStatuses"][0]["restartCount"] == 2
    assert status["containerStatuses"][0]["state"] == {"running": {"startedAt": at(14)}}


async def test_a_deleted_pod_is_stopped_then_deleted_with_no_grace() -> None:
    harness = Harness(pod())
    await harness.sync()
    deleting = copy.deepcopy(harness.client.objects[f"{PODS}/p"])
    deleting["metadata"]["deletionTimestamp"] = at(30)
    deleting["metadata"]["deletionGracePeriodSeconds"] = 30
    harness.pods.cache.put("default/p", deleting)
    harness.client.objects[f"{PODS}/p"] = deleting
    harness.clock.step(1)
    await harness.lifecycle.sync("default/p")
    final = harness.client.verbs("patch", f"{PODS}/p/status")[-1].body["status"]
    assert final["phase"] == "Failed"
    assert final["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 143
    (deleted,) = harness.client.verbs("delete", f"{PODS}/p")
    assert deleted.body == {"apiVersion": "v1", "kind": "DeleteOptions",
                            "gracePeriodSeconds": 0, "preconditions": {"uid": UID}}


async def test_ips_are_not_reused_while_held_and_host_network_pods_get_the_node_ip() -> None:
    harness = Harness(pod("a"), pod("b"), pod("h", hostNetwork=True))
    assert (await harness.sync("a"))["podIP"] == "10.244.0.2"
    assert (await harness.sync("b"))["podIP"] == "10.244.0.3"
    assert (await harness.sync("h"))["podIP"] == "198.18.0.1"


async def test_a_restarted_simulator_takes_pods_back_without_rewriting_them() -> None:
    harness = Harness(pod())
    written = await harness.sync()
    running = harness.client.objects[f"{PODS}/p"]
    again = Harness(running, pod("new"))
    assert harness.statuses_written() == 1
    await again.sync()
    assert again.statuses_written() == 0
    assert (await again.sync("new"))["podIP"] == "10.244.0.3"  # .2 is still p's
    assert written["podIP"] == "10.244.0.2"


def test_image_references_are_normalized_as_containerd_reports_them() -> None:
    assert podlifecycle.normalize_image("nginx") == "docker.io/library/nginx:latest"
    assert podlifecycle.normalize_image("bitnami/redis:7") == "docker.io/bitnami/redis:7"
    assert podlifecycle.normalize_image("registry.k8s.io/pause:3.10") == \
        "registry.k8s.io/pause:3.10"
    assert podlifecycle.normalize_image("localhost:5000/app") == "localhost:5000/app:latest"
