"""The node's and its pods' resource usage: the stats Summary of the kubelet's `/stats/summary`.

Mirrors upstream's `pkg/kubelet/stats` (the CRI stats provider with cadvisor, `provider.go`,
`cri_stats_provider.go`, `helper.go`) and `pkg/kubelet/server/stats/summary.go`, producing the
JSON of `k8s.io/kubelet/pkg/apis/stats/v1alpha1` `Summary` (field names and order of its
types.go, times RFC 3339 in seconds as `metav1.Time` writes them). Sources on this node
(cgroup v1, containerd over CRI):
- node cpu and memory from the root cgroup (`kajitori.kubelet.cgroupstats`, cadvisor's
  measures), memory `availableBytes` = MemTotal - workingSet (what the eviction manager
  compares with `memory.available`); `fs` the filesystem of the kubelet's root dir,
  `runtime.imageFs` that of CRI ImageFsInfo's mountpoint with the runtime's own used bytes
  and inodes; `rlimit` from `kernel/pid_max` and the task count of `/proc/loadavg`;
- pods: those the kubelet knows (`pods()`) with a ready sandbox; `startTime` the sandbox's
  creation; cpu and memory of the pod's cgroup (`kajitori.kubelet.podcontainermanager`'s
  layout); `process_stats` from its pids cgroup; `volume` the emptyDir, configMap, secret,
  downwardAPI and projected volumes under the pod's directory (du and statfs);
  `ephemeral-storage` the containers' writable layers and logs, the disk-backed emptyDirs,
  configMaps and the pod's etc-hosts file (upstream's `calcEphemeralStorage`: memory-backed
  volumes count as memory, not disk);
- containers: the running ones (terminated containers do not count, as upstream's
  `removeTerminatedContainers`), `startTime` their creation; cpu and memory of their cgroup
  (`<pod cgroup>/<container id>`, cadvisor's), else CRI ListContainerStats' figures; `rootfs`
  the writable layer's used bytes and inodes from CRI on the image filesystem; `logs` a du of
  the container's log directory (every restart's files, as upstream).

`usageNanoCores` is the rate of `usageCoreNanoSeconds` since the previous sample of the same
node, pod or container id: absent in the first sample. `run()` samples every
`housekeeping_interval` (cadvisor's 10 s housekeeping) so that rates exist; `summary()` serves
the last sample, or takes one when it is older than the interval; `latest()` never samples.
The CRI calls are made on the loop, and all the file reading, statfs and walking of one sample
in one worker thread.

Consumers: the kubelet server (`/stats/summary`, `/metrics/resource` via
`kajitori.kubelet.statsmetrics`), the eviction manager and the image garbage collector.

Departures from upstream: no `network`, `systemContainers` (kubelet, runtime, pods), `swap`,
accelerators or PVC volume stats; a pod's own log directory files and `/dev/termination-log`
files are not counted in its ephemeral storage.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cri_api.v1 import api_pb2

from kajitori.api import meta
from kajitori.kubelet import cgroupstats, containerconfig, fsstats, nodestatus, runtime
from kajitori.kubelet.volumes import manager as volumemanager
from kajitori.kubelet.volumes import plugin as volumeplugin

Obj = dict[str, Any]

log = logging.getLogger(__name__)

HOUSEKEEPING_INTERVAL = 10.0
"""Seconds between samples (cadvisor's default housekeeping interval)."""
PROC_ROOT = Path("/proc")
ROOT_CGROUP = "/"
PIDS_CONTROLLER = "pids"
PIDS_CURRENT = "pids.current"
NANOS = 1_000_000_000
MEMORY_MEDIUM = "Memory"
VOLUME_SOURCES = ("emptyDir", "configMap", "secret", "downwardAPI", "projected")
"""The pod's volumes with stats: those kept under the pod's directory."""
ONLY_CPU_AND_MEMORY_NODE = ("nodeName", "systemContainers", "startTime", "cpu", "memory",
                            "swap")
ONLY_CPU_AND_MEMORY_POD = ("podRef", "startTime", "containers", "cpu", "memory", "swap")
ONLY_CPU_AND_MEMORY_CONTAINER = ("name", "startTime", "cpu", "memory", "swap")


class StatsRuntime(Protocol):
    """What the provider asks the container runtime (a part of `runtime.RuntimeService` and
    `runtime.ImageService`)."""

    async def list_pod_sandboxes(self, *, labels: dict[str, str] | None = None
                                 ) -> list[api_pb2.PodSandbox]: ...

    async def list_containers(self, *, sandbox_id: str = "",
                              labels: dict[str, str] | None = None
                              ) -> list[api_pb2.Container]: ...

    async def list_container_stats(self) -> list[api_pb2.ContainerStats]: ...

    async def image_fs_info(self) -> api_pb2.ImageFsInfoResponse: ...


def format_time(time_ns: int) -> str:
    """`metav1.Time` in JSON: RFC 3339, UTC, whole seconds."""
    moment = datetime.datetime.fromtimestamp(time_ns // NANOS, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def only_cpu_and_memory(summary: Obj) -> Obj:
    """The Summary cut to what `?only_cpu_and_memory=true` returns (upstream's
    `GetCPUAndMemoryStats`): node and pods' cpu and memory, containers' too."""
    node = {k: v for k, v in summary["node"].items() if k in ONLY_CPU_AND_MEMORY_NODE}
    pods = []
    for pod in summary["pods"]:
        cut = {k: v for k, v in pod.items() if k in ONLY_CPU_AND_MEMORY_POD}
        cut["containers"] = [{k: v for k, v in c.items() if k in ONLY_CPU_AND_MEMORY_CONTAINER}
                             for c in pod.get("containers") or []]
        pods.append(cut)
    return {"node": node, "pods": pods}


# ---- what one sample reads ------------------------------------------------------------------


@dataclass
class _ContainerPlan:
    id: str
    name: str
    created_at: int
    cgroup: str
    log_dir: Path
    cri: api_pb2.ContainerStats | None
    # Filled in by the worker thread.
    cpu_ns: int | None = None
    memory: cgroupstats.MemoryUsage | None = None
    logs: fsstats.Usage | None = None


@dataclass
class _VolumePlan:
    name: str
    path: Path
    ephemeral: bool
    """Counted in the pod's ephemeral storage (on the node's disk)."""
    usage: fsstats.Usage | None = None
    fs: fsstats.FsInfo | None = None


@dataclass
class _PodPlan:
    pod: Obj
    created_at: int
    cgroup: str
    etc_hosts: Path
    containers: list[_ContainerPlan]
    volumes: list[_VolumePlan]
    cpu_ns: int | None = None
    memory: cgroupstats.MemoryUsage | None = None
    processes: int | None = None
    etc_hosts_usage: fsstats.Usage | None = None


@dataclass
class _NodePlan:
    root_dir: Path
    image_fs_path: Path
    image_usage: api_pb2.FilesystemUsage | None
    """What the runtime says its images take (CRI ImageFsInfo), if it said."""
    pods: list[_PodPlan]
    time_ns: int = 0
    boot_ns: int = 0
    cpu_ns: int | None = None
    memory: cgroupstats.MemoryUsage | None = None
    memory_capacity: int | None = None
    fs: fsstats.FsInfo | None = None
    image_fs: fsstats.FsInfo | None = None
    max_pid: int | None = None
    processes: int | None = None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def boot_time_ns(stat: str) -> int:
    """The boot time (`btime` of /proc/stat) in nanoseconds since the epoch; 0 if absent."""
    for line in stat.splitlines():
        key, _, value = line.partition(" ")
        if key == "btime" and value.strip().isdigit():
            return int(value) * NANOS
    return 0


def task_count(loadavg: str) -> int | None:
    """The number of tasks (threads) of /proc/loadavg's fourth field (`running/total`), what
    upstream's rlimit `curproc` reports."""
    fields = loadavg.split()
    if len(fields) < 4 or "/" not in fields[3]:
        return None
    total = fields[3].partition("/")[2]
    return int(total) if total.isdigit() else None


def _read_node(plan: _NodePlan, *, cgroup_root: Path, proc_root: Path,
               clock: Callable[[], int]) -> None:
    """Fill `plan` from the machine. Blocking: runs in the provider's worker thread."""
    plan.time_ns = clock()
    plan.cpu_ns = cgroupstats.cpu_usage_ns(cgroup_root, ROOT_CGROUP)
    plan.memory = cgroupstats.memory_usage(cgroup_root, ROOT_CGROUP)
    meminfo = _read_text(proc_root / "meminfo")
    if meminfo is not None:
        try:
            plan.memory_capacity = nodestatus.mem_total_bytes(meminfo)
        except ValueError:
            plan.memory_capacity = None
    plan.boot_ns = boot_time_ns(_read_text(proc_root / "stat") or "")
    pid_max = (_read_text(proc_root / "sys/kernel/pid_max") or "").strip()
    plan.max_pid = int(pid_max) if pid_max.isdigit() else None
    plan.processes = task_count(_read_text(proc_root / "loadavg") or "")
    plan.fs = fsstats.fs_info(plan.root_dir)
    plan.image_fs = fsstats.fs_info(plan.image_fs_path)
    for pod in plan.pods:
        pod.cpu_ns = cgroupstats.cpu_usage_ns(cgroup_root, pod.cgroup)
        pod.memory = cgroupstats.memory_usage(cgroup_root, pod.cgroup)
        processes = (_read_text(cgroup_root / PIDS_CONTROLLER / pod.cgroup.lstrip("/") /
                                PIDS_CURRENT) or "").strip()
        pod.processes = int(processes) if processes.isdigit() else None
        pod.etc_hosts_usage = fsstats.disk_usage(pod.etc_hosts)
        for container in pod.containers:
            container.cpu_ns = cgroupstats.cpu_usage_ns(cgroup_root, container.cgroup)
            container.memory = cgroupstats.memory_usage(cgroup_root, container.cgroup)
            container.logs = fsstats.disk_usage(container.log_dir)
        for volume in pod.volumes:
            volume.usage = fsstats.disk_usage(volume.path)
            volume.fs = fsstats.fs_info(volume.path)


# ---- the Summary's pieces -----------------------------------------------------------------


def _uint(value: int | None) -> int | None:
    return None if value is None else max(value, 0)


def _drop_none(obj: Obj) -> Obj:
    """Go's `omitempty` on pointer fields."""
    return {k: v for k, v in obj.items() if v is not None}


def _fs_stats(time_ns: int, info: fsstats.FsInfo | None, *, used: int | None = None,
             inodes_used: int | None = None) -> Obj:
    """An `FsStats`: the filesystem's capacity from `info`, and what is used of it (the whole
    filesystem's use when `used` and `inodes_used` are None)."""
    return _drop_none({
        "time": format_time(time_ns),
        "availableBytes": info.available if info else None,
        "capacityBytes": info.capacity if info else None,
        "usedBytes": _uint(used if used is not None else (info.used if info else None)),
        "inodesFree": info.inodes_free if info else None,
        "inodes": info.inodes if info else None,
        "inodesUsed": _uint(inodes_used if inodes_used is not None
                            else (info.inodes_used if info else None)),
    })


def _memory_stats(time_ns: int, memory: cgroupstats.MemoryUsage, *,
                 limit: int | None = None) -> Obj:
    """A `MemoryStats`; `availableBytes` is `limit` (else the cgroup's own limit) less the
    working set, absent without a limit (cadvisor's `isMemoryUnlimited`)."""
    limit = limit if limit is not None else memory.limit
    return _drop_none({
        "time": format_time(time_ns),
        "availableBytes": None if limit is None else max(limit - memory.working_set, 0),
        "usageBytes": memory.usage,
        "workingSetBytes": memory.working_set,
        "rssBytes": memory.rss,
        "pageFaults": memory.page_faults,
        "majorPageFaults": memory.major_page_faults,
    })


def _cri_memory_stats(memory: api_pb2.MemoryUsage) -> Obj:
    """A `MemoryStats` from what the runtime reported (each figure only if it did)."""
    m = memory
    return _drop_none({
        "time": format_time(m.timestamp),
        "availableBytes": m.available_bytes.value if m.HasField("available_bytes") else None,
        "usageBytes": m.usage_bytes.value if m.HasField("usage_bytes") else None,
        "workingSetBytes": m.working_set_bytes.value if m.HasField("working_set_bytes")
        else None,
        "rssBytes": m.rss_bytes.value if m.HasField("rss_bytes") else None,
        "pageFaults": m.page_faults.value if m.HasField("page_faults") else None,
        "majorPageFaults": m.major_page_faults.value if m.HasField("major_page_faults")
        else None,
    })


class _Rates:
    """Cumulative CPU time per key (`node`, `pod/<uid>`, `container/<id>`) of the previous
    sample, for `usageNanoCores`; keys not seen in a sample are forgotten."""

    def __init__(self) -> None:
        self._previous: dict[str, tuple[int, int]] = {}
        self._current: dict[str, tuple[int, int]] = {}

    def cpu_stats(self, key: str, time_ns: int, usage_ns: int, *,
                  given_rate: int | None = None) -> Obj:
        """A `CPUStats` at `time_ns`; the rate is `given_rate` when the source computed one."""
        self._current[key] = (time_ns, usage_ns)
        rate = given_rate
        previous = self._previous.get(key)
        if rate is None and previous is not None:
            then, before = previous
            if time_ns > then and usage_ns >= before:
                rate = (usage_ns - before) * NANOS // (time_ns - then)
        return _drop_none({"time": format_time(time_ns), "usageNanoCores": rate,
                           "usageCoreNanoSeconds": usage_ns})

    def roll(self) -> None:
        self._previous, self._current = self._current, {}


# ---- the provider -------------------------------------------------------------------------


class StatsProvider:
    """Samples the node's usage and serves it as a stats Summary.

    `pods` returns the pods the kubelet runs (the server's HostInterface `get_pods`);
    `runtime` is the CRI runtime. `cgroup_root` and `proc_root` are /sys/fs/cgroup and /proc
    but for tests, `clock` gives the time in nanoseconds since the epoch (`time.time_ns`).

    Concurrency: one sample at a time; `summary()` callers arriving while one is taken wait
    for it. Errors: a sample whose CRI calls fail is logged and the previous Summary kept
    (`summary()` raises `runtime.CRIError` only when there has never been one)."""

    def __init__(self, pods: Callable[[], list[Obj]], runtime_service: StatsRuntime, *,
                 node_name: str, root_dir: Path,
                 cgroup_root: Path = containerconfig.CGROUPFS_ROOT,
                 proc_root: Path = PROC_ROOT,
                 housekeeping_interval: float = HOUSEKEEPING_INTERVAL,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self._pods = pods
        self._runtime = runtime_service
        self._node_name = node_name
        self._root_dir = root_dir
        self._cgroup_root = cgroup_root
        self._proc_root = proc_root
        self.housekeeping_interval = housekeeping_interval
        self._clock = clock
        self._rates = _Rates()
        self._lock = asyncio.Lock()
        self._latest: Obj | None = None
        self._latest_ns = 0

    def latest(self) -> Obj | None:
        """The last sampled Summary (shared: do not change it), without sampling; None before
        the first sample."""
        return self._latest

    async def summary(self) -> Obj:
        """The Summary, sampled now if the last one is older than the housekeeping interval."""
        async with self._lock:
            age = (self._clock() - self._latest_ns) / NANOS
            if self._latest is not None and age < self.housekeeping_interval:
                return self._latest
            try:
                return await self._sample_locked()
            except runtime.CRIError as exc:
                if self._latest is None:
                    raise
                log.warning("stats: cannot list containers, serving the last sample: %s", exc)
                return self._latest

    async def sample(self) -> Obj:
        """Take a sample now and return its Summary."""
        async with self._lock:
            return await self._sample_locked()

    async def run(self) -> None:
        """Sample every housekeeping interval until cancelled; a failed sample is logged.
        Goes through `summary()`, so a sample a reader (eviction, image GC) just took is not
        taken again."""
        while True:
            try:
                await self.summary()
            except runtime.CRIError as exc:
                log.warning("stats: cannot list containers: %s", exc)
            await asyncio.sleep(self.housekeeping_interval)

    async def _sample_locked(self) -> Obj:
        plan = await self._plan()
        await asyncio.to_thread(_read_node, plan, cgroup_root=self._cgroup_root,
                                proc_root=self._proc_root, clock=self._clock)
        summary = self._build(plan)
        self._rates.roll()
        self._latest, self._latest_ns = summary, plan.time_ns
        return summary

    async def _plan(self) -> _NodePlan:
        """What to read: the runtime's ready sandboxes of known pods, their running
        containers with the runtime's stats of them, the image filesystem."""
        sandboxes = await self._runtime.list_pod_sandboxes()
        containers = await self._runtime.list_containers()
        stats = {s.attributes.id: s for s in await self._runtime.list_container_stats()}
        image_usage = None
        try:
            image_fs = await self._runtime.image_fs_info()
        except runtime.CRIError as exc:
            log.warning("stats: no image filesystem info: %s", exc)
        else:
            image_usage = next(iter(image_fs.image_filesystems), None)
        known = {meta.uid(pod): pod for pod in self._pods()}
        newest: dict[str, api_pb2.PodSandbox] = {}
        for sandbox in sandboxes:
            uid = sandbox.labels.get(runtime.POD_UID_LABEL, "")
            if sandbox.state != api_pb2.SANDBOX_READY or uid not in known:
                continue
            if uid not in newest or newest[uid].created_at < sandbox.created_at:
                newest[uid] = sandbox
        by_sandbox: dict[str, list[api_pb2.Container]] = {}
        for container in containers:
            if container.state == api_pb2.CONTAINER_RUNNING:
                by_sandbox.setdefault(container.pod_sandbox_id, []).append(container)
        pods = []
        for uid, sandbox in newest.items():
            pod = known[uid]
            cgroup = containerconfig.cgroup_parent(pod)
            log_dir = containerconfig.pod_log_directory(self._root_dir, pod)
            pod_dir = self._root_dir / volumemanager.PODS_DIR / uid
            pods.append(_PodPlan(
                pod=pod, created_at=sandbox.created_at, cgroup=cgroup,
                etc_hosts=pod_dir / volumemanager.ETC_HOSTS_FILE,
                containers=[_ContainerPlan(
                    id=c.id, name=c.metadata.name, created_at=c.created_at,
                    cgroup=f"{cgroup}/{c.id}", log_dir=log_dir / c.metadata.name,
                    cri=stats.get(c.id))
                    for c in sorted(by_sandbox.get(sandbox.id, []),
                                    key=lambda c: c.metadata.name)],
                volumes=_volume_plans(pod, pod_dir)))
        image_fs_path = Path(image_usage.fs_id.mountpoint) \
            if image_usage is not None and image_usage.fs_id.mountpoint else self._root_dir
        return _NodePlan(root_dir=self._root_dir, image_fs_path=image_fs_path,
                         image_usage=image_usage, pods=pods)

    def _build(self, plan: _NodePlan) -> Obj:
        now = plan.time_ns
        node: Obj = {"nodeName": self._node_name, "startTime": format_time(plan.boot_ns)}
        if plan.cpu_ns is not None:
            node["cpu"] = self._rates.cpu_stats("node", now, plan.cpu_ns)
        if plan.memory is not None:
            node["memory"] = _memory_stats(now, plan.memory, limit=plan.memory_capacity)
        node["fs"] = _fs_stats(now, plan.fs)
        image_usage = plan.image_usage
        node["runtime"] = {"imageFs": _fs_stats(
            now, plan.image_fs,
            used=image_usage.used_bytes.value if image_usage is not None else None,
            inodes_used=image_usage.inodes_used.value if image_usage is not None else None)}
        node["rlimit"] = _drop_none({"time": format_time(now), "maxpid": plan.max_pid,
                                     "curproc": plan.processes})
        pods = [self._pod_stats(pod, now, root_fs=plan.fs, image_fs=plan.image_fs)
                for pod in plan.pods]
        pods.sort(key=lambda p: (p["podRef"]["namespace"], p["podRef"]["name"]))
        return {"node": node, "pods": pods}

    def _pod_stats(self, plan: _PodPlan, now: int, *, root_fs: fsstats.FsInfo | None,
                   image_fs: fsstats.FsInfo | None) -> Obj:
        pod = plan.pod
        uid = meta.uid(pod)
        containers = [self._container_stats(c, now, root_fs=root_fs, image_fs=image_fs)
                      for c in plan.containers]
        out: Obj = {"podRef": {"name": meta.name(pod), "namespace": meta.namespace(pod),
                               "uid": uid},
                    "startTime": format_time(plan.created_at),
                    "containers": containers}
        if plan.cpu_ns is not None:
            out["cpu"] = self._rates.cpu_stats(f"pod/{uid}", now, plan.cpu_ns)
        if plan.memory is not None:
            out["memory"] = _memory_stats(now, plan.memory)
        volumes = [{**_fs_stats(now, v.fs, used=v.usage.bytes, inodes_used=v.usage.inodes),
                    "name": v.name}
                   for v in plan.volumes if v.usage is not None]
        if volumes:
            out["volume"] = volumes
        used = inodes = 0
        for container in containers:
            for key in ("rootfs", "logs"):
                used += container.get(key, {}).get("usedBytes", 0)
                inodes += container.get(key, {}).get("inodesUsed", 0)
        for volume in plan.volumes:
            if volume.ephemeral and volume.usage is not None:
                used, inodes = used + volume.usage.bytes, inodes + volume.usage.inodes
        if plan.etc_hosts_usage is not None:
            used, inodes = used + plan.etc_hosts_usage.bytes, inodes + plan.etc_hosts_usage.inodes
        out["ephemeral-storage"] = _fs_stats(now, root_fs, used=used, inodes_used=inodes)
        if plan.processes is not None:
            out["process_stats"] = {"process_count": plan.processes}
        return out

    def _container_stats(self, plan: _ContainerPlan, now: int, *,
                         root_fs: fsstats.FsInfo | None,
                         image_fs: fsstats.FsInfo | None) -> Obj:
        out: Obj = {"name": plan.name, "startTime": format_time(plan.created_at)}
        key = f"container/{plan.id}"
        cri = plan.cri
        if plan.cpu_ns is not None:
            out["cpu"] = self._rates.cpu_stats(key, now, plan.cpu_ns)
        elif cri is not None and cri.HasField("cpu") and cri.cpu.HasField(
                "usage_core_nano_seconds"):
            # containerd 1.6 leaves the rate 0: computed here then.
            given = cri.cpu.usage_nano_cores.value or None
            out["cpu"] = self._rates.cpu_stats(key, cri.cpu.timestamp,
                                               cri.cpu.usage_core_nano_seconds.value,
                                               given_rate=given)
        if plan.memory is not None:
            out["memory"] = _memory_stats(now, plan.memory)
        elif cri is not None and cri.HasField("memory"):
            out["memory"] = _cri_memory_stats(cri.memory)
        if cri is not None and cri.HasField("writable_layer"):
            layer = cri.writable_layer
            out["rootfs"] = _fs_stats(
                layer.timestamp or now, image_fs,
                used=layer.used_bytes.value if layer.HasField("used_bytes") else 0,
                inodes_used=layer.inodes_used.value if layer.HasField("inodes_used") else 0)
        if plan.logs is not None:
            out["logs"] = _fs_stats(now, root_fs, used=plan.logs.bytes,
                                   inodes_used=plan.logs.inodes)
        return out


def _volume_plans(pod: Obj, pod_dir: Path) -> list[_VolumePlan]:
    """The pod's volumes kept under its directory, by name; an emptyDir on disk and a
    configMap count in its ephemeral storage (upstream's IsLocalEphemeralVolume)."""
    plans = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        source = next((s for s in VOLUME_SOURCES if s in volume), None)
        if source is None:
            continue
        plugin_name = volumemanager.PLUGINS[source][0]
        memory = (volume.get("emptyDir") or {}).get("medium") == MEMORY_MEDIUM
        ephemeral = source == "configMap" or (source == "emptyDir" and not memory)
        plans.append(_VolumePlan(
            name=str(volume.get("name")),
            path=volumeplugin.volume_dir(pod_dir, plugin_name, str(volume.get("name"))),
            ephemeral=ephemeral))
    return sorted(plans, key=lambda v: v.name)
