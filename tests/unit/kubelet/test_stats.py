"""The stats Summary from fixed cgroup v1 files, /proc files and a runtime's container stats
(a stand-in cgroup root, proc root and kubelet root dir under tmp_path), its cpu rates between
samples, `?only_cpu_and_memory`, and `/metrics/resource`'s Prometheus text."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from cri_api.v1 import api_pb2

from kajitori.kubelet import cgroupstats, fsstats, runtime, stats, statsmetrics

Obj = dict[str, Any]

NANOS = 1_000_000_000
T0 = 1_764_000_000 * NANOS  # 2025-11-24T16:00:00Z
BOOT = 1_763_000_000  # btime, seconds
MiB = 2**20
UID = "11111111-2222-3333-4444-555555555555"
POD_CGROUP = f"kubepods/burstable/pod{UID}"
MEM_TOTAL_KB = 8 * 1024 * 1024  # 8 GiB


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _memory_stat(*, inactive_file: int, rss: int, faults: int = 100, major: int = 3) -> str:
    return (f"cache 0\nrss {rss}\ninactive_file 1\n"
            f"total_cache {inactive_file}\ntotal_rss {rss}\ntotal_pgfault {faults}\n"
            f"total_pgmajfault {major}\ntotal_inactive_file {inactive_file}\n")


def _cgroup(root: Path, cgroup: str, *, cpu: int, usage: int, inactive_file: int, rss: int,
            limit: int = 9223372036854771712) -> None:
    _write(root / "cpuacct" / cgroup / "cpuacct.usage", f"{cpu}\n")
    memory = root / "memory" / cgroup
    _write(memory / "memory.usage_in_bytes", f"{usage}\n")
    _write(memory / "memory.limit_in_bytes", f"{limit}\n")
    _write(memory / "memory.stat", _memory_stat(inactive_file=inactive_file, rss=rss))


def _pod(*, uid: str = UID, name: str = "memory-demo", volumes: list[Obj] | None = None
         ) -> Obj:
    return {"metadata": {"name": name, "namespace": "mem-example", "uid": uid},
            "spec": {"containers": [{"name": "memory-demo-ctr", "resources": {
                "requests": {"memory": "100Mi"}, "limits": {"memory": "200Mi"}}}],
                "volumes": volumes or []}}


class StatsRuntime:
    """The runtime calls the provider makes, over lists a test fills."""

    def __init__(self) -> None:
        self.sandboxes: list[api_pb2.PodSandbox] = []
        self.containers: list[api_pb2.Container] = []
        self.stats: list[api_pb2.ContainerStats] = []
        self.image_fs = api_pb2.ImageFsInfoResponse()

    def add_sandbox(self, sandbox_id: str, uid: str, *, ready: bool = True) -> None:
        self.sandboxes.append(api_pb2.PodSandbox(
            id=sandbox_id, created_at=T0 - 60 * NANOS, labels={runtime.POD_UID_LABEL: uid},
            state=api_pb2.SANDBOX_READY if ready else api_pb2.SANDBOX_NOTREADY))

    def add_container(self, container_id: str, sandbox_id: str, name: str, *,
                      running: bool = True) -> None:
        self.containers.append(api_pb2.Container(
            id=container_id, pod_sandbox_id=sandbox_id,
            metadata=api_pb2.ContainerMetadata(name=name), created_at=T0 - 50 * NANOS,
            state=api_pb2.CONTAINER_RUNNING if running else api_pb2.CONTAINER_EXITED))

    async def list_pod_sandboxes(self, *, labels: dict[str, str] | None = None
                                 ) -> list[api_pb2.PodSandbox]:
        return list(self.sandboxes)

    async def list_containers(self, *, sandbox_id: str = "",
                              labels: dict[str, str] | None = None
                              ) -> list[api_pb2.Container]:
        return list(self.containers)

    async def list_container_stats(self) -> list[api_pb2.ContainerStats]:
        return list(self.stats)

    async def image_fs_info(self) -> api_pb2.ImageFsInfoResponse:
        return self.image_fs


def _layer_stats(container_id: str, *, used: int, inodes: int, mountpoint: str
                 ) -> api_pb2.ContainerStats:
    return api_pb2.ContainerStats(
        attributes=api_pb2.ContainerAttributes(id=container_id),
        writable_layer=api_pb2.FilesystemUsage(
            timestamp=T0, fs_id=api_pb2.FilesystemIdentifier(mountpoint=mountpoint),
            used_bytes=api_pb2.UInt64Value(value=used),
            inodes_used=api_pb2.UInt64Value(value=inodes)))


class Node:
    """A stand-in machine: cgroup root, proc root, kubelet root dir, a clock."""

    def __init__(self, tmp_path: Path) -> None:
        self.cgroups = tmp_path / "cgroup"
        self.proc = tmp_path / "proc"
        self.root_dir = tmp_path / "kubelet"
        self.images = tmp_path / "images"
        self.images.mkdir()
        self.now = T0
        self.pods: list[Obj] = []
        self.runtime = StatsRuntime()
        self.runtime.image_fs = api_pb2.ImageFsInfoResponse(image_filesystems=[
            api_pb2.FilesystemUsage(
                timestamp=T0, fs_id=api_pb2.FilesystemIdentifier(mountpoint=str(self.images)),
                used_bytes=api_pb2.UInt64Value(value=300 * MiB),
                inodes_used=api_pb2.UInt64Value(value=1234))])
        _write(self.proc / "meminfo", f"MemTotal:       {MEM_TOTAL_KB} kB\nMemFree: 1 kB\n")
        _write(self.proc / "stat", f"cpu  1 2 3\nbtime {BOOT}\nprocesses 99\n")
        _write(self.proc / "sys/kernel/pid_max", "32768\n")
        _write(self.proc / "loadavg", "0.18 0.14 0.33 1/94 12599\n")
        _cgroup(self.cgroups, "", cpu=100 * NANOS, usage=3000 * MiB, inactive_file=1000 * MiB,
                rss=500 * MiB)
        self.provider = stats.StatsProvider(
            lambda: self.pods, self.runtime, node_name="node-1", root_dir=self.root_dir,
            cgroup_root=self.cgroups, proc_root=self.proc, clock=lambda: self.now)

    def run_memory_demo(self, *, volumes: list[Obj] | None = None) -> Obj:
        """memory-demo with one running container `c-1` whose cgroup uses 150 MiB."""
        pod = _pod(volumes=volumes)
        self.pods.append(pod)
        self.runtime.add_sandbox("sb-1", UID)
        self.runtime.add_container("c-1", "sb-1", "memory-demo-ctr")
        _cgroup(self.cgroups, POD_CGROUP, cpu=2 * NANOS, usage=160 * MiB,
                inactive_file=8 * MiB, rss=151 * MiB, limit=200 * MiB)
        _write(self.cgroups / "pids" / POD_CGROUP / "pids.current", "3\n")
        _cgroup(self.cgroups, f"{POD_CGROUP}/c-1", cpu=NANOS, usage=155 * MiB,
                inactive_file=5 * MiB, rss=150 * MiB, limit=200 * MiB)
        return pod


@pytest.fixture
def node(tmp_path: Path) -> Node:
    return Node(tmp_path)


def _blocks(*paths: Path) -> int:
    return sum(os.lstat(p).st_blocks * fsstats.BLOCK_SIZE for p in paths)


# ---- the node --------------------------------------------------------------------------------


async def test_node_cpu_and_memory_come_from_the_root_cgroup(node: Node) -> None:
    summary = await node.provider.summary()
    assert summary["node"]["nodeName"] == "node-1"
    assert summary["node"]["startTime"] == "2025-11-13T02:13:20Z"
    # The first sample has no rate yet.
    assert summary["node"]["cpu"] == {"time": "2025-11-24T16:00:00Z",
                                      "usageCoreNanoSeconds": 100 * NANOS}
    assert summary["node"]["memory"] == {
        "time": "2025-11-24T16:00:00Z",
        "availableBytes": MEM_TOTAL_KB * 1024 - 2000 * MiB,
        "usageBytes": 3000 * MiB, "workingSetBytes": 2000 * MiB, "rssBytes": 500 * MiB,
        "pageFaults": 100, "majorPageFaults": 3}
    assert summary["node"]["rlimit"] == {"time": "2025-11-24T16:00:00Z", "maxpid": 32768,
                                         "curproc": 94}
    assert summary["pods"] == []


async def test_node_fs_is_the_root_dirs_and_image_fs_the_runtimes(node: Node) -> None:
    node.root_dir.mkdir()
    summary = await node.provider.summary()
    st = os.statvfs(node.root_dir)
    fs = summary["node"]["fs"]
    assert list(fs) == ["time", "availableBytes", "capacityBytes", "usedBytes", "inodesFree",
                        "inodes", "inodesUsed"]
    assert fs["capacityBytes"] == st.f_blocks * st.f_frsize
    assert fs["inodes"] == st.f_files
    image_fs = summary["node"]["runtime"]["imageFs"]
    assert image_fs["capacityBytes"] == os.statvfs(node.images).f_blocks * st.f_frsize
    assert (image_fs["usedBytes"], image_fs["inodesUsed"]) == (300 * MiB, 1234)


async def test_usage_nano_cores_is_the_rate_since_the_previous_sample(node: Node) -> None:
    node.run_memory_demo()
    await node.provider.summary()
    node.now += 10 * NANOS
    _write(node.cgroups / "cpuacct/cpuacct.usage", f"{115 * NANOS}\n")
    _write(node.cgroups / "cpuacct" / POD_CGROUP / "cpuacct.usage", f"{7 * NANOS}\n")
    _write(node.cgroups / "cpuacct" / POD_CGROUP / "c-1/cpuacct.usage", f"{6 * NANOS}\n")
    summary = await node.provider.summary()
    assert summary["node"]["cpu"] == {"time": "2025-11-24T16:00:10Z",
                                      "usageNanoCores": 1_500_000_000,
                                      "usageCoreNanoSeconds": 115 * NANOS}
    [pod] = summary["pods"]
    assert pod["cpu"]["usageNanoCores"] == 500_000_000
    assert pod["containers"][0]["cpu"] == {"time": "2025-11-24T16:00:10Z",
                                           "usageNanoCores": 500_000_000,
                                           "usageCoreNanoSeconds": 6 * NANOS}


async def test_summary_serves_the_last_sample_within_the_housekeeping_interval(
        node: Node) -> None:
    assert node.provider.latest() is None
    first = await node.provider.summary()
    _write(node.cgroups / "cpuacct/cpuacct.usage", f"{200 * NANOS}\n")
    node.now += 5 * NANOS
    assert await node.provider.summary() is first
    assert node.provider.latest() is first
    node.now += 5 * NANOS
    again = await node.provider.summary()
    assert again["node"]["cpu"]["usageCoreNanoSeconds"] == 200 * NANOS


async def test_a_failed_sample_serves_the_last_one_and_fails_without_one(node: Node) -> None:
    failing = True

    async def list_pod_sandboxes(*, labels: dict[str, str] | None = None
                                 ) -> list[api_pb2.PodSandbox]:
        if failing:
            raise runtime.CRIError("UNAVAILABLE", "connection refused")
        return []

    node.runtime.list_pod_sandboxes = list_pod_sandboxes  # type: ignore[method-assign]
    with pytest.raises(runtime.CRIError):
        await node.provider.summary()
    failing = False
    first = await node.provider.summary()
    failing = True
    node.now += 10 * NANOS
    assert await node.provider.summary() is first


# ---- pods and containers ---------------------------------------------------------------------


async def test_a_pod_and_its_container_report_their_cgroups_memory(node: Node) -> None:
    node.run_memory_demo()
    summary = await node.provider.summary()
    [pod] = summary["pods"]
    assert pod["podRef"] == {"name": "memory-demo", "namespace": "mem-example", "uid": UID}
    assert pod["startTime"] == "2025-11-24T15:59:00Z"
    assert pod["memory"] == {"time": "2025-11-24T16:00:00Z", "availableBytes": 48 * MiB,
                             "usageBytes": 160 * MiB, "workingSetBytes": 152 * MiB,
                             "rssBytes": 151 * MiB, "pageFaults": 100, "majorPageFaults": 3}
    assert pod["process_stats"] == {"process_count": 3}
    [container] = pod["containers"]
    assert container["name"] == "memory-demo-ctr"
    assert container["startTime"] == "2025-11-24T15:59:10Z"
    assert container["memory"]["workingSetBytes"] == 150 * MiB
    assert container["memory"]["availableBytes"] == 50 * MiB


async def test_a_container_without_a_cgroup_reports_the_runtimes_figures(node: Node) -> None:
    node.pods.append(_pod())
    node.runtime.add_sandbox("sb-1", UID)
    node.runtime.add_container("c-9", "sb-1", "memory-demo-ctr")
    node.runtime.stats.append(api_pb2.ContainerStats(
        attributes=api_pb2.ContainerAttributes(id="c-9"),
        cpu=api_pb2.CpuUsage(timestamp=T0, usage_core_nano_seconds=api_pb2.UInt64Value(
            value=3 * NANOS)),
        memory=api_pb2.MemoryUsage(timestamp=T0, working_set_bytes=api_pb2.UInt64Value(
            value=42 * MiB))))
    [pod] = (await node.provider.summary())["pods"]
    [container] = pod["containers"]
    assert container["cpu"] == {"time": "2025-11-24T16:00:00Z",
                                "usageCoreNanoSeconds": 3 * NANOS}
    assert container["memory"] == {"time": "2025-11-24T16:00:00Z",
                                   "workingSetBytes": 42 * MiB}
    # No pod cgroup here: the pod has no cpu or memory then.
    assert "cpu" not in pod
    assert "memory" not in pod


async def test_only_running_pods_the_kubelet_knows_and_their_running_containers(
        node: Node) -> None:
    node.run_memory_demo()
    node.runtime.add_container("c-0", "sb-1", "memory-demo-ctr", running=False)
    node.runtime.add_sandbox("sb-2", "unknown-uid")
    node.runtime.add_container("c-2", "sb-2", "other")
    node.pods.append(_pod(uid="stopped", name="stopped"))
    node.runtime.add_sandbox("sb-3", "stopped", ready=False)
    summary = await node.provider.summary()
    assert [p["podRef"]["name"] for p in summary["pods"]] == ["memory-demo"]
    assert [c["name"] for c in summary["pods"][0]["containers"]] == ["memory-demo-ctr"]
    assert summary["pods"][0]["containers"][0]["memory"]["workingSetBytes"] == 150 * MiB


async def test_rootfs_logs_volumes_and_ephemeral_storage(node: Node) -> None:
    node.run_memory_demo(volumes=[
        {"name": "cache", "emptyDir": {}},
        {"name": "scratch", "emptyDir": {"medium": "Memory"}},
        {"name": "data", "hostPath": {"path": "/data"}}])
    node.runtime.stats.append(_layer_stats("c-1", used=12 * 4096, inodes=7,
                                           mountpoint=str(node.images)))
    log_dir = node.root_dir / f"logs/pods/mem-example_memory-demo_{UID}/memory-demo-ctr"
    _write(log_dir / "0.log", "x" * 10_000)
    _write(log_dir / "1.log", "y" * 5_000)
    volumes = node.root_dir / "pods" / UID / "volumes"
    _write(volumes / "kubernetes.io~empty-dir/cache/file", "z" * 20_000)
    _write(volumes / "kubernetes.io~empty-dir/scratch/file", "m" * 30_000)
    etc_hosts = node.root_dir / "pods" / UID / "etc-hosts"
    _write(etc_hosts, "127.0.0.1\tlocalhost\n")

    [pod] = (await node.provider.summary())["pods"]
    [container] = pod["containers"]
    assert container["rootfs"]["usedBytes"] == 12 * 4096
    assert container["rootfs"]["inodesUsed"] == 7
    logs_used = _blocks(log_dir, log_dir / "0.log", log_dir / "1.log")
    assert container["logs"]["usedBytes"] == logs_used
    assert container["logs"]["inodesUsed"] == 3
    cache = volumes / "kubernetes.io~empty-dir/cache"
    scratch = volumes / "kubernetes.io~empty-dir/scratch"
    assert [(v["name"], v["usedBytes"], v["inodesUsed"]) for v in pod["volume"]] == [
        ("cache", _blocks(cache, cache / "file"), 2),
        ("scratch", _blocks(scratch, scratch / "file"), 2)]
    # The memory-backed emptyDir is memory, not ephemeral storage.
    ephemeral = pod["ephemeral-storage"]
    assert ephemeral["usedBytes"] == (12 * 4096 + logs_used + _blocks(cache, cache / "file")
                                      + _blocks(etc_hosts))
    assert ephemeral["inodesUsed"] == 7 + 3 + 2 + 1
    assert ephemeral["capacityBytes"] == container["logs"]["capacityBytes"]


async def test_only_cpu_and_memory_keeps_node_and_pod_cpu_and_memory(node: Node) -> None:
    node.run_memory_demo(volumes=[{"name": "cache", "emptyDir": {}}])
    cut = stats.only_cpu_and_memory(await node.provider.summary())
    assert list(cut["node"]) == ["nodeName", "startTime", "cpu", "memory"]
    [pod] = cut["pods"]
    assert list(pod) == ["podRef", "startTime", "containers", "cpu", "memory"]
    assert list(pod["containers"][0]) == ["name", "startTime", "cpu", "memory"]


# ---- the pieces ------------------------------------------------------------------------------


def test_an_unlimited_cgroup_has_no_limit(tmp_path: Path) -> None:
    _cgroup(tmp_path, "a", cpu=1, usage=10, inactive_file=20, rss=1)
    memory = cgroupstats.memory_usage(tmp_path, "/a")
    assert memory is not None
    assert memory.limit is None
    assert memory.working_set == 0  # never below zero
    assert cgroupstats.memory_usage(tmp_path, "/gone") is None
    assert cgroupstats.cpu_usage_ns(tmp_path, "/gone") is None


def test_disk_usage_counts_a_hard_linked_file_once(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    _write(tmp_path / "d/a", "a" * 9000)
    os.link(tmp_path / "d/a", tmp_path / "d/b")
    usage = fsstats.disk_usage(tmp_path / "d")
    assert usage == fsstats.Usage(bytes=_blocks(tmp_path / "d", tmp_path / "d/a"), inodes=2)
    assert fsstats.disk_usage(tmp_path / "missing") is None


@pytest.mark.parametrize(("value", "text"), [
    (0.0, "0"), (1.0, "1"), (123456.0, "123456"), (1234567.0, "1.234567e+06"),
    (157286400.0, "1.572864e+08"), (12.5, "12.5"), (0.0001, "0.0001"), (1.5e-05, "1.5e-05")])
def test_values_are_written_as_go_writes_a_float64(value: float, text: str) -> None:
    assert statsmetrics.format_float(value) == text


def test_resource_metrics_text() -> None:
    summary = {
        "node": {"nodeName": "n", "startTime": "2025-11-13T02:13:20Z",
                 "cpu": {"time": "2025-11-24T16:00:10Z", "usageCoreNanoSeconds": 115 * NANOS},
                 "memory": {"time": "2025-11-24T16:00:10Z", "workingSetBytes": 2000 * MiB}},
        "pods": [
            {"podRef": {"name": "memory-demo", "namespace": "mem-example", "uid": UID},
             "startTime": "2025-11-24T15:59:00Z",
             "containers": [{"name": "memory-demo-ctr", "startTime": "2025-11-24T15:59:10Z",
                             "cpu": {"time": "2025-11-24T16:00:10Z",
                                     "usageCoreNanoSeconds": 6_500_000_000},
                             "memory": {"time": "2025-11-24T16:00:10Z",
                                        "workingSetBytes": 150 * MiB}}],
             "cpu": {"time": "2025-11-24T16:00:10Z", "usageCoreNanoSeconds": 7 * NANOS},
             "memory": {"time": "2025-11-24T16:00:10Z", "workingSetBytes": 152 * MiB}}]}
    labels = 'container="memory-demo-ctr",namespace="mem-example",pod="memory-demo"'
    assert statsmetrics.render(summary) == f"""\
# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container \
in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{{{labels}}} 6.5 1764000010000
# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{{{labels}}} 1.572864e+08 1764000010000
# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in \
seconds
# TYPE container_start_time_seconds gauge
container_start_time_seconds{{{labels}}} 1.76399995e+09
# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in \
core-seconds
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 115 1764000010000
# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes 2.097152e+09 1764000010000
# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in \
core-seconds
# TYPE pod_cpu_usage_seconds_total counter
pod_cpu_usage_seconds_total{{namespace="mem-example",pod="memory-demo"}} 7 1764000010000
# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes
# TYPE pod_memory_working_set_bytes gauge
pod_memory_working_set_bytes{{namespace="mem-example",pod="memory-demo"}} 1.59383552e+08 \
1764000010000
# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, \
0 otherwise
# TYPE resource_scrape_error gauge
resource_scrape_error 0
"""


def test_resource_metrics_without_a_summary_report_a_scrape_error() -> None:
    assert statsmetrics.render(None).splitlines()[-1] == "resource_scrape_error 1"
    assert "node_cpu_usage_seconds_total" not in statsmetrics.render(None)
