"""The kubelet's Node: machine facts, capacity and allocatable as upstream prints them, Ready
only with a ready runtime and network, upstream's messages and Events, posts on change."""

from __future__ import annotations

import datetime
from pathlib import Path

from background import running
from cri_api.v1 import api_pb2
from inprocessserver import open_client

from kajitori.client import clock as clock_
from kajitori.client import events, rest
from kajitori.kubelet import nodestatus, settings

GIB = 1024**3
EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
MACHINE = nodestatus.MachineInfo(
    cpus=2, memory_bytes=24 * GIB + 12345 * 1024, ephemeral_storage_bytes=100 * GIB + 1,
    machine_id="0123456789abcdef0123456789abcdef", system_uuid="", boot_id="boot-1",
    kernel_version="6.18.44-fc-v595", os_image="Debian GNU/Linux 12 (bookworm)")
NETWORK_NOT_READY = api_pb2.RuntimeCondition(
    type="NetworkReady", status=False, reason="NetworkPluginNotReady",
    message="Network plugin returns error: cni plugin not initialized")


def cri_status(*, network: bool) -> api_pb2.StatusResponse:
    conditions = [api_pb2.RuntimeCondition(type="RuntimeReady", status=True)]
    conditions.append(api_pb2.RuntimeCondition(type="NetworkReady", status=True)
                      if network else NETWORK_NOT_READY)
    return api_pb2.StatusResponse(status=api_pb2.RuntimeStatus(conditions=conditions))


def test_machine_info_reads_meminfo_os_release_and_ids(tmp_path: Path) -> None:
    (tmp_path / "proc/sys/kernel/random").mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    (tmp_path / "proc/meminfo").write_text("MemTotal:       24634492 kB\nMemFree: 1 kB\n")
    (tmp_path / "proc/sys/kernel/random/boot_id").write_text("b0\n")
    (tmp_path / "etc/machine-id").write_text("m0\n")
    (tmp_path / "etc/os-release").write_text(
        'NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
    info = nodestatus.read_machine_info(tmp_path / "kubelet", host=tmp_path)
    assert (info.memory_bytes, info.boot_id, info.machine_id, info.os_image) == (
        24634492 * 1024, "b0", "m0", "Debian GNU/Linux 12 (bookworm)")
    assert info.ephemeral_storage_bytes > 0


def test_capacity_and_allocatable_as_upstream_prints_them() -> None:
    capacity = nodestatus.capacity(MACHINE, max_pods=110)
    assert capacity == {"cpu": "2", "ephemeral-storage": str(100 * GIB + 1),
                        "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                        "memory": "25178169Ki", "pods": "110"}
    allocatable = nodestatus.allocatable(
        capacity, kube_reserved={"cpu": "100m"}, system_reserved={"memory": "1Gi"},
        eviction_hard=settings.DEFAULT_EVICTION_HARD)
    # memory: minus 1Gi reserved and the 100Mi hard eviction threshold; storage: minus 10 %
    # of capacity computed in float32 as upstream (0.1f is a little over 0.1).
    assert allocatable == {"cpu": "1900m", "ephemeral-storage": "96636764001",
                           "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                           "memory": "24027193Ki", "pods": "110"}


def test_extended_resources_patched_into_capacity_are_kept_and_allocatable() -> None:
    facts = nodestatus.NodeFacts(machine=MACHINE, node_ip="192.0.2.2",
                                 runtime_version="containerd://1.6.20~ds1")
    status = nodestatus.node_status(
        settings.KubeletSettings(node_name="n1"), facts, now="2026-01-01T00:00:00Z",
        not_ready="", images=[],
        server_capacity={"cpu": "64", "example.com/dongle": "4", "kubernetes.io/x": "1"})
    assert status["capacity"]["example.com/dongle"] == "4"
    assert status["allocatable"]["example.com/dongle"] == "4"
    assert status["capacity"]["cpu"] == "2"
    assert "kubernetes.io/x" not in status["capacity"]
    assert nodestatus.is_extended_resource_name("example.com/dongle")
    assert not nodestatus.is_extended_resource_name("memory")
    assert not nodestatus.is_extended_resource_name("requests.example.com/dongle")


def test_not_ready_says_why_in_upstreams_words() -> None:
    assert nodestatus.not_ready_message(cri_status(network=True)) == ""
    assert nodestatus.not_ready_message(cri_status(network=False)) == (
        "container runtime network not ready: NetworkReady=false "
        "reason:NetworkPluginNotReady message:Network plugin returns error: "
        "cni plugin not initialized")
    assert nodestatus.not_ready_message(None) == "container runtime is down"
    both = api_pb2.StatusResponse(status=api_pb2.RuntimeStatus(conditions=[
        api_pb2.RuntimeCondition(type="RuntimeReady", status=False, reason="R", message="m"),
        NETWORK_NOT_READY]))
    assert nodestatus.not_ready_message(both).startswith(
        "[container runtime not ready: RuntimeReady=false reason:R message:m, "
        "container runtime network not ready: ")


def test_images_are_listed_largest_first_digests_then_tags() -> None:
    images = [api_pb2.Image(id="sha256:a", repo_tags=["busybox:latest"],
                            repo_digests=["busybox@sha256:1"], size=100),
              api_pb2.Image(id="sha256:b", repo_tags=["pause:3.10"], size=300)]
    assert nodestatus.node_images(images) == [
        {"names": ["pause:3.10"], "sizeBytes": 300},
        {"names": ["busybox@sha256:1", "busybox:latest"], "sizeBytes": 100}]


class FakeRuntime:
    """The CRI calls node status makes: Version, Status, ListImages."""

    def __init__(self) -> None:
        self.network = False

    async def version(self) -> api_pb2.VersionResponse:
        return api_pb2.VersionResponse(runtime_name="containerd", runtime_version="1.6.20~ds1")

    async def status(self) -> api_pb2.StatusResponse:
        return cri_status(network=self.network)

    async def list_images(self) -> list[api_pb2.Image]:
        return []


async def test_registers_not_ready_then_ready_once_the_network_is(tmp_path: Path) -> None:
    runtime = FakeRuntime()
    cidrs: list[str] = []

    async def on_pod_cidr(cidr: str) -> None:
        cidrs.append(cidr)
        runtime.network = True

    wall = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    kubelet = settings.KubeletSettings(node_name="node-a", root_dir=tmp_path)
    async with open_client(tmp_path) as client:
        recorder = events.EventRecorder(client, component="kubelet", host="node-a")
        manager = nodestatus.NodeStatusManager(
            client, runtime, runtime, settings=kubelet, recorder=recorder,
            on_pod_cidr=on_pod_cidr, node_ip="192.0.2.10", clock=clock_.FakeClock(),
            wall=lambda: wall)
        await manager.register()
        node = await client.get("/api/v1/nodes/node-a")
        ready = node["status"]["conditions"][3]
        assert (ready["status"], ready["reason"]) == ("False", "KubeletNotReady")
        assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "node-a"
        assert node["status"]["nodeInfo"]["containerRuntimeVersion"] == \
            "containerd://1.6.20~ds1"
        assert node["status"]["addresses"] == [
            {"type": "InternalIP", "address": "192.0.2.10"},
            {"type": "Hostname", "address": "node-a"}]

        await client.patch("/api/v1/nodes/node-a", {"spec": {"podCIDR": "10.42.0.0/24",
                                                             "podCIDRs": ["10.42.0.0/24"]}})
        manager.node = await client.get("/api/v1/nodes/node-a")
        await manager.sync()
        assert cidrs == ["10.42.0.0/24"]
        ready = (await client.get("/api/v1/nodes/node-a"))["status"]["conditions"][3]
        assert (ready["status"], ready["reason"], ready["message"]) == (
            "True", "KubeletReady", "kubelet is posting ready status")
        async with running(recorder):
            await recorder.flush()
        listed = await client.get(rest.resource_path("", "v1", "events",
                                                     namespace="default"))
        assert [(e["reason"], e["message"]) for e in listed["items"]] == [
            ("NodeHasSufficientMemory", "Node node-a status is now: NodeHasSufficientMemory"),
            ("NodeHasNoDiskPressure", "Node node-a status is now: NodeHasNoDiskPressure"),
            ("NodeHasSufficientPID", "Node node-a status is now: NodeHasSufficientPID"),
            ("NodeNotReady", "Node node-a status is now: NodeNotReady"),
            ("NodeReady", "Node node-a status is now: NodeReady")]


async def test_an_unchanged_status_is_posted_only_when_the_report_is_due(tmp_path: Path) -> None:
    runtime = FakeRuntime()
    runtime.network = True
    clock = clock_.FakeClock()

    async def no_network(_cidr: str) -> None:
        raise AssertionError("no podCIDR was set")

    async with open_client(tmp_path) as client:
        manager = nodestatus.NodeStatusManager(
            client, runtime, runtime,
            settings=settings.KubeletSettings(node_name="node-b", root_dir=tmp_path),
            recorder=events.EventRecorder(client, component="kubelet"),
            on_pod_cidr=no_network, node_ip="192.0.2.11", clock=clock,
            wall=lambda: EPOCH + datetime.timedelta(seconds=clock.now()))
        await manager.register()
        await manager.sync()  # the first sync posts: nothing was posted by this manager yet
        posted = (await client.get("/api/v1/nodes/node-b"))["metadata"]["resourceVersion"]
        clock.step(10)
        await manager.sync()
        assert (await client.get("/api/v1/nodes/node-b"))["metadata"]["resourceVersion"] == \
            posted
        clock.step(300)
        await manager.sync()
        assert (await client.get("/api/v1/nodes/node-b"))["metadata"]["resourceVersion"] != \
            posted
        runtime.network = False  # the runtime loses its network: posted at once
        await manager.sync()
        ready = (await client.get("/api/v1/nodes/node-b"))["status"]["conditions"][3]
        assert (ready["status"], ready["reason"]) == ("False", "KubeletNotReady")


def test_pressure_conditions_come_from_the_eviction_manager() -> None:
    facts = nodestatus.NodeFacts(machine=MACHINE, node_ip="192.0.2.10",
                                 runtime_version="containerd://1.6.20")
    kubelet = settings.KubeletSettings(node_name="node-a")
    healthy = nodestatus.node_status(kubelet, facts, now="2026-01-01T00:00:00Z", not_ready="",
                                     images=[])["conditions"]
    pressed = nodestatus.node_status(
        kubelet, facts, now="2026-01-01T00:00:10Z", not_ready="", images=[],
        previous=healthy, pressure=["MemoryPressure", "DiskPressure"])["conditions"]
    assert [(c["type"], c["status"], c["reason"], c["message"], c["lastTransitionTime"])
            for c in pressed] == [
        ("MemoryPressure", "True", "KubeletHasInsufficientMemory",
         "kubelet has insufficient memory available", "2026-01-01T00:00:10Z"),
        ("DiskPressure", "True", "KubeletHasDiskPressure", "kubelet has disk pressure",
         "2026-01-01T00:00:10Z"),
        ("PIDPressure", "False", "KubeletHasSufficientPID",
         "kubelet has sufficient PID available", "2026-01-01T00:00:00Z"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status",
         "2026-01-01T00:00:00Z")]
    assert nodestatus.transition_events(healthy, pressed) == [
        "NodeHasInsufficientMemory", "NodeHasDiskPressure"]
    still = nodestatus.node_status(kubelet, facts, now="2026-01-01T00:00:20Z", not_ready="",
                                   images=[], previous=pressed,
                                   pressure=["MemoryPressure"])["conditions"]
    assert still[0]["lastTransitionTime"] == "2026-01-01T00:00:10Z"
    assert (still[1]["status"], still[1]["reason"], still[1]["lastTransitionTime"]) == (
        "False", "KubeletHasNoDiskPressure", "2026-01-01T00:00:20Z")
