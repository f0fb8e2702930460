"""The pod workers over the in-memory runtime: pods started with their events, init
containers in order, crash-loop back-off, the errors users see as waiting reasons, hooks,
probes, deletion with grace, adoption after a restart and cleanup."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import fakelookup
import pytest
from background import running
from cri_api.v1 import api_pb2
from fakeruntime import FakeRuntime

from kajitori.client import clock as clock_
from kajitori.kubelet import errors, images, podworker, prober, runtime
from kajitori.kubelet import settings as settings_

Obj = dict[str, Any]
UID = "u1"


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []
        self.field_paths: dict[str, str] = {}
        """The field path of the last event of each reason."""

    def event(self, obj: Obj, type_: str, reason: str, message: str, *,
              field_path: str = "") -> None:
        self.events.append((type_, reason, message))
        self.field_paths[reason] = field_path

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.events]


class Images:
    def __init__(self, rt: FakeRuntime) -> None:
        self.rt = rt
        self.failing: dict[str, images.ImagePullError] = {}

    async def ensure_image(self, pod: Obj, container: Obj, *,
                           sandbox_config: api_pb2.PodSandboxConfig | None = None) -> str:
        image = container["image"]
        if image in self.failing:
            raise self.failing[image]
        return await self.rt.pull_image(image)


class Volumes:
    def __init__(self) -> None:
        self.mounted: list[str] = []
        self.unmounted: list[str] = []
        self.fail: str = ""

    async def mount_pod(self, pod: Obj) -> None:
        if self.fail:
            raise errors.MountError(self.fail)
        self.mounted.append(pod["metadata"]["uid"])

    async def unmount_pod(self, pod_uid: str) -> None:
        self.unmounted.append(pod_uid)

    def container_mounts(self, pod: Obj, container: Obj, *, pod_ips: Sequence[str] = (),
                         env: Sequence[api_pb2.KeyValue] = ()) -> list[api_pb2.Mount]:
        return []


class Prober:
    def __init__(self) -> None:
        self.started: dict[str, float | None] = {}
        self.failures: dict[str, prober.LivenessFailure] = {}
        self.removed: list[str] = []

    def add_pod(self, pod: Obj) -> None:
        pass

    def remove_pod(self, pod_uid: str) -> None:
        self.removed.append(pod_uid)

    def update_container(self, pod_uid: str, container_name: str, *, container_id: str,
                         started_at: float | None, pod_ip: str = "") -> None:
        if self.started.get(container_name + "@id") != container_id:
            self.failures.pop(container_name, None)  # a new run has fresh results
        self.started[container_name] = started_at
        self.started[container_name + "@id"] = container_id  # type: ignore[assignment]

    def is_ready(self, pod_uid: str, container_name: str) -> bool:
        return self.is_started(pod_uid, container_name)

    def is_started(self, pod_uid: str, container_name: str) -> bool:
        return self.started.get(container_name) is not None

    def liveness_failure(self, pod_uid: str,
                         container_name: str) -> prober.LivenessFailure | None:
        return self.failures.get(container_name)


class Statuses:
    def __init__(self) -> None:
        self.last: Obj = {}
        self.terminated = False
        self.forgotten: list[str] = []
        self.changed = asyncio.Event()

    def set_pod_status(self, pod: Obj, status: Obj, *, terminated: bool = False) -> None:
        self.last, self.terminated = status, terminated
        self.changed.set()

    def forget(self, pod_uid: str) -> None:
        self.forgotten.append(pod_uid)


class Node:
    """PodWorkers with fakes around them."""

    def __init__(self, root: Path, rt: FakeRuntime | None = None, *,
                 node_conditions: Sequence[str] = ()) -> None:
        self.rt = rt or FakeRuntime()
        self.recorder = Recorder()
        self.images = Images(self.rt)
        self.volumes = Volumes()
        self.prober = Prober()
        self.lookup = fakelookup.FakeObjectLookup()
        self.statuses = Statuses()
        self.clock = clock_.FakeClock()
        self.workers = podworker.PodWorkers(
            self.rt, self.images, volumes=self.volumes, prober=self.prober, lookup=self.lookup,
            status_manager=self.statuses,  # type: ignore[arg-type]
            recorder=self.recorder,  # type: ignore[arg-type]
            settings=settings_.KubeletSettings(node_name="n1", root_dir=root,
                                               node_ip="192.168.1.10",
                                               cluster_dns=("10.96.0.10",)),
            clock=self.clock, wall_clock=lambda: self.rt.now_ns / 1e9,
            host_dns=podworker.containerconfig.HostDNS(), cgroup_root=root / "cgroup",
            node_conditions=lambda: node_conditions)

    async def sync(self, pod: Obj) -> Obj:
        self.workers.update_pod(pod)
        await self.workers.sync(pod["metadata"]["uid"])
        return self.statuses.last

    def advance(self, seconds: float) -> None:
        self.rt.now_ns += int(seconds * 1e9)

    def container(self, name: str) -> str:
        return self.rt.by_name(name)[-1].id


def pod(*containers: Obj, init: tuple[Obj, ...] = (), policy: str = "Always", **spec: Any) -> Obj:
    body: Obj = {"nodeName": "n1", "restartPolicy": policy,
                 "containers": list(containers) or [{"name": "c", "image": "nginx"}], **spec}
    if init:
        body["initContainers"] = list(init)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "uid": UID},
            "spec": body, "status": {"phase": "Pending"}}


@pytest.fixture
def node(tmp_path: Path) -> Node:
    return Node(tmp_path)


async def test_a_new_pod_runs(node: Node) -> None:
    status = await node.sync(pod())
    assert node.rt.running() == ["c"]
    (sandbox,) = node.rt.sandboxes.values()
    assert sandbox.config.linux.cgroup_parent == "/kubepods/besteffort/podu1"
    assert list(sandbox.config.dns_config.servers) == ["10.96.0.10"]
    assert node.recorder.events == [("Normal", "Created", "Created container: c"),
                                    ("Normal", "Started", "Started container c")]
    assert status["phase"] == "Running"
    assert status["podIP"] == "10.42.0.2"
    assert status["hostIP"] == "192.168.1.10"
    (c,) = status["containerStatuses"]
    assert c["state"]["running"]
    assert c["containerID"] == f"containerd://{node.container('c')}"
    assert (c["ready"], c["started"], c["restartCount"]) == (True, True, 0)
    assert node.volumes.mounted == [UID]
    assert (node.workers._settings.root_dir / "logs/pods/default_web_u1/c").is_dir()


async def test_a_second_sync_starts_nothing(node: Node) -> None:
    p = pod()
    await node.sync(p)
    await node.sync(p)
    assert len(node.rt.containers) == 1
    assert len(node.rt.sandboxes) == 1


async def test_init_containers_run_in_order_before_the_app(node: Node) -> None:
    p = pod(init=({"name": "i1", "image": "busybox"}, {"name": "i2", "image": "busybox"}))
    status = await node.sync(p)
    assert node.rt.running() == ["i1"]
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    node.rt.exit(node.container("i1"))
    await node.sync(p)
    assert node.rt.running() == ["i2"]
    node.rt.exit(node.container("i2"))
    status = await node.sync(p)
    assert node.rt.running() == ["c"]
    assert status["phase"] == "Running"
    assert [c["state"]["terminated"]["reason"] for c in status["initContainerStatuses"]] == [
        "Completed", "Completed"]


async def test_sidecar_keeps_running_beside_the_app(node: Node) -> None:
    p = pod(init=({"name": "side", "image": "busybox", "restartPolicy": "Always"},
                  {"name": "i1", "image": "busybox"}))
    await node.sync(p)
    assert node.rt.running() == ["side"]
    await node.sync(p)
    assert node.rt.running() == ["side", "i1"]
    node.rt.exit(node.container("i1"))
    await node.sync(p)
    assert sorted(node.rt.running()) == ["c", "side"]


async def test_crash_loop_back_off(node: Node) -> None:
    p = pod()
    await node.sync(p)
    node.rt.exit(node.container("c"), 1)
    status = await node.sync(p)
    assert status["containerStatuses"][0]["restartCount"] == 1
    assert node.rt.running() == ["c"]
    node.advance(3)
    node.rt.exit(node.container("c"), 1)
    status = await node.sync(p)
    (c,) = status["containerStatuses"]
    assert c["state"] == {"waiting": {
        "reason": "CrashLoopBackOff",
        "message": "back-off 10s restarting failed container=c pod=web_default(u1)"}}
    assert c["lastState"]["terminated"]["exitCode"] == 1
    assert ("Warning", "BackOff", "Back-off restarting failed container c in pod "
            "web_default(u1)") in node.recorder.events
    assert node.rt.running() == []
    node.advance(10)
    status = await node.sync(p)
    assert node.rt.running() == ["c"]
    assert status["containerStatuses"][0]["restartCount"] == 2
    node.advance(1)
    node.rt.exit(node.container("c"), 1)
    status = await node.sync(p)
    assert status["containerStatuses"][0]["state"]["waiting"]["message"].startswith(
        "back-off 20s")


async def test_old_runs_are_left_to_the_garbage_collector(node: Node) -> None:
    p = pod()
    await node.sync(p)
    for _ in range(3):
        node.rt.exit(node.container("c"), 1)
        node.advance(600)
        status = await node.sync(p)
    assert [c.config.metadata.attempt for c in node.rt.by_name("c")] == [0, 1, 2, 3]
    last = node.rt.by_name("c")[2]
    assert status["containerStatuses"][0]["lastState"]["terminated"]["containerID"] == \
        f"containerd://{last.id}"


async def test_never_pod_that_exits_ends(node: Node) -> None:
    p = pod(policy="Never")
    await node.sync(p)
    node.rt.exit(node.container("c"), 0)
    status = await node.sync(p)
    assert status["phase"] == "Succeeded"
    assert node.rt.running() == []
    assert len(node.rt.by_name("c")) == 1


async def test_image_pull_error_is_the_waiting_reason(node: Node) -> None:
    node.images.failing["nope"] = images.ImagePullError("ErrImagePull", "not found")
    status = await node.sync(pod({"name": "c", "image": "nope"}))
    assert status["containerStatuses"][0]["state"] == {
        "waiting": {"reason": "ErrImagePull", "message": "not found"}}
    assert status["phase"] == "Pending"


async def test_missing_config_map_is_create_container_config_error(node: Node) -> None:
    p = pod({"name": "c", "image": "nginx", "env": [{"name": "A", "valueFrom": {
        "configMapKeyRef": {"name": "cfg", "key": "k"}}}]})
    status = await node.sync(p)
    waiting = status["containerStatuses"][0]["state"]["waiting"]
    assert waiting == {"reason": "CreateContainerConfigError",
                       "message": 'configmap "cfg" not found'}
    assert ("Warning", "Failed", 'Error: configmap "cfg" not found') in node.recorder.events
    node.lookup.add(fakelookup.config_map("cfg", {"k": "v"}))
    status = await node.sync(p)
    assert node.rt.running() == ["c"]
    config = node.rt.by_name("c")[0].config
    assert ("A", "v") in [(e.key, e.value) for e in config.envs]


async def test_start_failure_is_run_container_error(node: Node) -> None:
    message = 'exec: "nope": executable file not found in $PATH'
    node.rt.fail_start["c"] = message
    status = await node.sync(pod())
    (c,) = status["containerStatuses"]
    assert c["state"] == {"waiting": {"reason": "RunContainerError", "message": message}}
    assert c["lastState"]["terminated"]["reason"] == "StartError"
    assert ("Warning", "Failed", f"Error: {message}") in node.recorder.events


async def test_mount_failure_keeps_the_pod_creating(node: Node) -> None:
    node.volumes.fail = 'MountVolume.SetUp failed for volume "v" : configmap "x" not found'
    with pytest.raises(errors.MountError):
        await node.sync(pod())
    assert node.rt.sandboxes == {}
    assert node.statuses.last["containerStatuses"][0]["state"]["waiting"]["reason"] == \
        "ContainerCreating"
    assert node.recorder.reasons() == ["FailedMount"]


async def test_failed_post_start_hook_kills_the_container(node: Node) -> None:
    node.rt.exec_results[("false",)] = (1, b"")
    p = pod({"name": "c", "image": "nginx",
             "lifecycle": {"postStart": {"exec": {"command": ["false"]}}}})
    status = await node.sync(p)
    assert node.rt.running() == []
    assert "FailedPostStartHook" in node.recorder.reasons()
    assert ("Normal", "Killing", "FailedPostStartHook") in node.recorder.events
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "PostStartHookError"


async def test_failed_liveness_restarts_the_container(node: Node) -> None:
    p = pod()
    await node.sync(p)
    first = node.container("c")
    node.prober.failures["c"] = prober.LivenessFailure(prober.ProbeType.LIVENESS, "c", 7)
    status = await node.sync(p)
    assert node.rt.stops[-1] == (first, 7)
    assert ("Normal", "Killing", "Container c failed liveness probe, will be restarted") in \
        node.recorder.events
    assert node.recorder.field_paths["Killing"] == "spec.containers{c}"
    assert node.container("c") != first
    assert node.rt.running() == ["c"]
    assert status["containerStatuses"][0]["restartCount"] == 1


async def test_changed_image_restarts_the_container(node: Node) -> None:
    p = pod()
    await node.sync(p)
    changed = pod({"name": "c", "image": "nginx:2"})
    await node.sync(changed)
    assert [c.config.image.user_specified_image for c in node.rt.by_name("c")] == [
        "nginx", "nginx:2"]
    assert node.rt.running() == ["c"]


async def test_deletion_stops_containers_with_grace_then_reports_terminated(node: Node) -> None:
    p = pod(terminationGracePeriodSeconds=30)
    await node.sync(p)
    p["metadata"].update(deletionTimestamp="2025-06-01T12:00:00Z", deletionGracePeriodSeconds=5)
    status = await node.sync(p)
    assert ("Normal", "Killing", "Stopping container c") in node.recorder.events
    assert node.rt.stops == [(node.container("c"), 5)]
    assert node.rt.running() == []
    assert [s.state for s in node.rt.sandboxes.values()] == [api_pb2.SANDBOX_NOTREADY]
    assert node.statuses.terminated
    assert status["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 143
    assert status["phase"] == "Failed"


async def test_pre_stop_hook_runs_before_the_stop(node: Node) -> None:
    p = pod({"name": "c", "image": "nginx",
             "lifecycle": {"preStop": {"exec": {"command": ["drain"]}}}})
    await node.sync(p)
    p["metadata"]["deletionTimestamp"] = "2025-06-01T12:00:00Z"
    await node.sync(p)
    verbs = [verb for verb, _ in node.rt.calls]
    assert verbs.index("exec_sync") < verbs.index("stop_container")


async def test_forget_removes_everything(node: Node, tmp_path: Path) -> None:
    await node.sync(pod())
    pod_cgroup = tmp_path / "cgroup/memory/kubepods/besteffort/podu1"
    (pod_cgroup / "c-2").mkdir(parents=True)
    node.workers.forget(UID)
    assert await node.workers.sync(UID) is True
    assert node.rt.sandboxes == {}
    assert node.rt.containers == {}
    assert not pod_cgroup.exists()
    assert (tmp_path / "cgroup/memory/kubepods/besteffort").is_dir()
    assert (node.volumes.unmounted, node.prober.removed, node.statuses.forgotten) == (
        [UID], [UID], [UID])


async def test_a_restarted_kubelet_adopts_running_pods(node: Node, tmp_path: Path) -> None:
    p = pod()
    await node.sync(p)
    again = Node(tmp_path, rt=node.rt)
    await again.workers.adopt()
    status = await again.sync(p)
    assert len(node.rt.containers) == 1
    assert node.rt.verbs("run_pod_sandbox") == ["sb-1"]
    assert status["containerStatuses"][0]["state"]["running"]


async def test_orphans_are_killed_once_sources_are_ready(node: Node, tmp_path: Path) -> None:
    await node.sync(pod())
    again = Node(tmp_path, rt=node.rt)
    await again.workers.adopt()
    await again.workers.relist()
    assert node.rt.running() == ["c"]
    again.workers.mark_sources_ready()
    await again.workers.relist()
    assert await again.workers.sync(UID) is True
    assert node.rt.containers == {}


async def test_run_syncs_updated_pods(node: Node) -> None:
    async with running(node.workers):
        node.workers.update_pod(pod())
        while not node.statuses.last.get("containerStatuses", [{}])[0].get("state", {}).get(
                "running"):
            node.statuses.changed.clear()
            await node.statuses.changed.wait()
    assert node.rt.running() == ["c"]
    assert runtime.POD_UID_LABEL in node.rt.sandboxes["sb-1"].config.labels


def test_host_resolv_conf_without_loopback_servers(tmp_path: Path) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\n"
                      "search corp.example lab\noptions edns0 trust-ad\n")
    assert podworker.read_host_dns(resolv) == podworker.containerconfig.HostDNS(
        servers=("10.0.0.2",), searches=("corp.example", "lab"), options=("edns0", "trust-ad"))
    assert podworker.read_host_dns(tmp_path / "missing") == podworker.containerconfig.HostDNS()


def test_grace_period_of_a_deletion_else_the_spec() -> None:
    assert podworker.grace_seconds(pod()) == 30
    assert podworker.grace_seconds(pod(terminationGracePeriodSeconds=10)) == 10
    deleting = pod(terminationGracePeriodSeconds=10)
    deleting["metadata"]["deletionGracePeriodSeconds"] = 0
    assert podworker.grace_seconds(deleting) == 2


def test_a_status_only_change_is_not_synced_unless_readiness_gates_may_change() -> None:
    old = {"metadata": {"name": "p", "uid": "u", "labels": {"app": "web"},
                        "resourceVersion": "1"},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]},
           "status": {"phase": "Pending"}}
    status_only = {**old, "metadata": {**old["metadata"], "resourceVersion": "2"},
                   "status": {"phase": "Running", "conditions": [
                       {"type": "example.com/gate", "status": "True"}]}}
    assert not podworker.needs_sync(old, status_only)
    relabelled = {**old, "metadata": {**old["metadata"], "labels": {"app": "db"}}}
    deleting = {**old, "metadata": {**old["metadata"],
                                    "deletionTimestamp": "2026-01-01T00:00:00Z"}}
    gated = {**old, "spec": {**old["spec"],
                             "readinessGates": [{"conditionType": "example.com/gate"}]}}
    assert podworker.needs_sync(old, relabelled)
    assert podworker.needs_sync(old, deleting)
    assert podworker.needs_sync(old, gated)
    assert podworker.needs_sync(gated, {**gated, "status": status_only["status"]})


async def test_eviction_kills_with_its_grace_and_reports_failed_evicted(
        node: Node, tmp_path: Path) -> None:
    p = pod(terminationGracePeriodSeconds=30)
    await node.sync(p)
    assert node.workers.active_pods() == [p]
    condition = {"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet",
                 "message": "low", "lastTransitionTime": "2026-01-01T00:00:00Z"}
    evicting = asyncio.create_task(node.workers.terminate_pod_abnormally(
        p, grace_seconds=1, reason="Evicted", message="low", conditions=[condition]))
    await asyncio.sleep(0)
    assert await node.workers.sync(UID) is False
    assert await evicting is True
    assert node.rt.stops == [(node.container("c"), 2)]  # the runtime's minimum grace
    assert node.volumes.unmounted == [UID]
    status = node.statuses.last
    assert (status["phase"], status["reason"], status["message"]) == ("Failed", "Evicted", "low")
    assert status["conditions"][0] == condition
    assert node.workers.active_pods() == []
    # A restarted kubelet reports it again from the API's copy: the reason stays.
    restarted = Node(tmp_path, node.rt)
    status = await restarted.sync({**p, "status": status})
    assert (status["phase"], status["reason"], status["message"]) == ("Failed", "Evicted", "low")


async def test_a_new_pod_is_rejected_under_disk_pressure(tmp_path: Path) -> None:
    node = Node(tmp_path, node_conditions=["DiskPressure"])
    status = await node.sync(pod())
    assert node.rt.running() == []
    assert (status["phase"], status["reason"], status["message"]) == (
        "Failed", "Evicted", "Pod was rejected: The node had condition: [DiskPressure]. ")
    assert ("Warning", "Evicted", "The node had condition: [DiskPressure]. ") in \
        node.recorder.events
