"""Container garbage collection: dead containers, dead sandboxes and deleted pods' logs.

Mirrors upstream v1.33's `pkg/kubelet/kuberuntime/kuberuntime_gc.go` (`GarbageCollect`:
`evictContainers`, `evictSandboxes`, `evictPodLogsDirectories`) run every ContainerGCPeriod
(1 min) by `pkg/kubelet/container_gc.go` with the kubelet's fixed policy: `MinAge` 0,
`MaxPerPodContainer` 1, `MaxContainers` -1. This is the only place that removes dead
containers while their pod exists; the pod worker (`kajitori.kubelet.podworker`) removes a
deleted pod's sandboxes itself when it forgets the pod.

- Containers: every non-running container created before now - MinAge is evictable. Grouped
  by (pod uid, container name), newest first: all of a group go when the pod's content may
  be removed (the pod is gone), else all but the newest MaxPerPodContainer, so `kubectl logs
  --previous` reads the last run. With MaxContainers >= 0 the groups are then trimmed evenly,
  and the oldest overall go, until no more than that many are left. A container's log files
  go with it (`logrotation.ContainerLogManager.clean`).
- Sandboxes: one that is not ready and has no containers left is removed when its pod is
  gone; else every such sandbox but the pod's newest.
- Pod log directories (`<root>/logs/pods/<ns>_<name>_<uid>`, upstream's /var/log/pods) of pods
  that are gone are removed: "logs removed with the pod".
Pods are judged gone only once every pod source has delivered (`sources_ready`), as upstream.
Containers and sandboxes without a pod uid are not the kubelet's and are left alone.
`delete_all_unused_containers()` (the eviction manager's disk reclaimer) also treats pods that
are terminated but not deleted as gone, as upstream's DeleteAllUnusedContainers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cri_api.v1 import api_pb2

from kajitori.kubelet import runtime

log = logging.getLogger(__name__)

NANOS = 1_000_000_000
CONTAINER_GC_PERIOD = 60.0
"""Upstream's ContainerGCPeriod, seconds."""


@dataclass(frozen=True)
class GCPolicy:
    """Upstream's GCPolicy, with the kubelet's values as defaults."""

    min_age: float = 0.0
    """Seconds a dead container is kept at least."""
    max_per_pod_container: int = 1
    """Dead containers kept per (pod, container name); below 0, no limit."""
    max_containers: int = -1
    """Dead containers kept on the node; below 0, no limit."""


class GCRuntime(Protocol):
    """The CRI calls garbage collection makes."""

    async def list_containers(self, *, sandbox_id: str = "",
                              labels: dict[str, str] | None = None
                              ) -> list[api_pb2.Container]: ...

    async def remove_container(self, container_id: str) -> None: ...

    async def list_pod_sandboxes(self, *, labels: dict[str, str] | None = None
                                 ) -> list[api_pb2.PodSandbox]: ...

    async def remove_pod_sandbox(self, sandbox_id: str) -> None: ...


class LogCleaner(Protocol):
    """Removes a container's log files (`logrotation.ContainerLogManager`)."""

    async def clean(self, container_id: str) -> None: ...


class PodStateProvider(Protocol):
    """What the kubelet knows of a pod by uid (upstream's podStateProvider)."""

    def should_pod_content_be_removed(self, pod_uid: str) -> bool:
        """The pod is gone from the node (deleted, no worker left)."""
        ...

    def should_pod_runtime_be_removed(self, pod_uid: str) -> bool:
        """The pod is gone, or terminated (its containers will not run again)."""
        ...


@dataclass(frozen=True)
class _Dead:
    id: str
    created_at: int


def pod_uid_of(labels: Mapping[str, str], metadata_uid: str = "") -> str:
    """A sandbox's or container's pod uid: the kubelet's label, else the CRI metadata's."""
    return labels.get(runtime.POD_UID_LABEL, "") or metadata_uid


def _beyond_newest(units: dict[tuple[str, str], list[_Dead]], keep: int) -> list[_Dead]:
    """Per group (newest first), the dead containers beyond the newest `keep`, which go."""
    return [dead for group in units.values() for dead in group[max(keep, 0):]]


class ContainerGC:
    """Collects dead containers, sandboxes and log directories (`run()` every `period`
    seconds until cancelled; `collect()` once).

    `log_root` is the pod log directories' parent; `sources_ready` tells whether every pod
    source has delivered (before that no pod counts as gone); `wall_clock` gives epoch
    seconds, compared with the runtime's creation times. Errors: a failed removal is logged
    and the collection goes on; `collect()` raises CRIError only when the runtime cannot list
    containers or sandboxes. Concurrency: one collection at a time (a lock)."""

    def __init__(self, runtime_service: GCRuntime, *, logs: LogCleaner,
                 pod_state: PodStateProvider, log_root: Path,
                 sources_ready: Callable[[], bool], policy: GCPolicy | None = None,
                 period: float = CONTAINER_GC_PERIOD,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._runtime = runtime_service
        self._logs = logs
        self._pod_state = pod_state
        self._log_root = log_root
        self._sources_ready = sources_ready
        self.policy = policy or GCPolicy()
        self.period = period
        self._wall = wall_clock
        self._lock = asyncio.Lock()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            try:
                await self.collect()
            except runtime.CRIError as exc:
                log.error("container garbage collection failed: %s", exc)

    async def collect(self) -> None:
        """One collection (upstream GarbageCollect without evicting non-deleted pods)."""
        await self._collect(evict_non_deleted_pods=False)

    async def delete_all_unused_containers(self) -> None:
        """One collection that also removes what terminated pods left (the eviction
        manager's reclaimer for disk pressure)."""
        await self._collect(evict_non_deleted_pods=True)

    async def _collect(self, *, evict_non_deleted_pods: bool) -> None:
        async with self._lock:
            ready = self._sources_ready()
            await self._evict_containers(ready, evict_non_deleted_pods=evict_non_deleted_pods)
            await self._evict_sandboxes(evict_non_deleted_pods=evict_non_deleted_pods)
            if ready:
                await self._evict_pod_log_directories()

    def _pod_gone(self, uid: str, *, evict_non_deleted_pods: bool) -> bool:
        return self._pod_state.should_pod_content_be_removed(uid) or (
            evict_non_deleted_pods and self._pod_state.should_pod_runtime_be_removed(uid))

    async def _evict_containers(self, sources_ready: bool, *,
                                evict_non_deleted_pods: bool) -> None:
        newest_gc_time = int((self._wall() - self.policy.min_age) * NANOS)
        units: dict[tuple[str, str], list[_Dead]] = {}
        for container in await self._runtime.list_containers():
            if container.state == api_pb2.CONTAINER_RUNNING or \
                    container.created_at > newest_gc_time:
                continue
            uid = pod_uid_of(container.labels)
            if not uid:
                continue  # not the kubelet's: someone else's use of the runtime
            name = container.labels.get(runtime.CONTAINER_NAME_LABEL) or \
                container.metadata.name
            units.setdefault((uid, name), []).append(_Dead(container.id, container.created_at))
        for group in units.values():
            group.sort(key=lambda d: d.created_at, reverse=True)
        if sources_ready:
            for key in [k for k in units
                        if self._pod_gone(k[0], evict_non_deleted_pods=evict_non_deleted_pods)]:
                for dead in units.pop(key):
                    await self._remove_container(dead.id)
        if self.policy.max_per_pod_container >= 0:
            for dead in _beyond_newest(units, self.policy.max_per_pod_container):
                await self._remove_container(dead.id)
            units = {k: g[:self.policy.max_per_pod_container] for k, g in units.items()}
        total = sum(len(g) for g in units.values())
        if self.policy.max_containers < 0 or total <= self.policy.max_containers:
            return
        # Upstream: first an even share per group (at least one), then the oldest overall.
        per_unit = max(self.policy.max_containers // max(len(units), 1), 1)
        for dead in _beyond_newest(units, per_unit):
            await self._remove_container(dead.id)
        units = {k: g[:per_unit] for k, g in units.items()}
        rest = sorted((d for g in units.values() for d in g), key=lambda d: d.created_at,
                      reverse=True)
        for dead in rest[self.policy.max_containers:]:
            await self._remove_container(dead.id)

    async def _remove_container(self, container_id: str) -> None:
        """Its log files, then the container (upstream removeContainer); a failure is logged."""
        log.info("removing dead container %s", container_id)
        try:
            with contextlib.suppress(OSError):
                await self._logs.clean(container_id)
            await self._runtime.remove_container(container_id)
        except runtime.CRIError as exc:
            log.warning("failed to remove container %s: %s", container_id, exc)

    async def _evict_sandboxes(self, *, evict_non_deleted_pods: bool) -> None:
        with_containers = {c.pod_sandbox_id for c in await self._runtime.list_containers()}
        by_pod: dict[str, list[api_pb2.PodSandbox]] = {}
        for sandbox in await self._runtime.list_pod_sandboxes():
            uid = pod_uid_of(sandbox.labels, sandbox.metadata.uid)
            if uid:
                by_pod.setdefault(uid, []).append(sandbox)
        for uid, sandboxes in by_pod.items():
            sandboxes.sort(key=lambda s: s.created_at, reverse=True)
            gone = self._sources_ready() and self._pod_gone(
                uid, evict_non_deleted_pods=evict_non_deleted_pods)
            for sandbox in sandboxes[0 if gone else 1:]:
                if sandbox.state == api_pb2.SANDBOX_READY or sandbox.id in with_containers:
                    continue
                log.info("removing dead sandbox %s of pod %s", sandbox.id, uid)
                try:
                    await self._runtime.remove_pod_sandbox(sandbox.id)
                except runtime.CRIError as exc:
                    log.warning("failed to remove sandbox %s: %s", sandbox.id, exc)

    async def _evict_pod_log_directories(self) -> None:
        try:
            names = await asyncio.to_thread(_list_dir, self._log_root)
        except OSError as exc:
            log.warning("failed to read the pod log directories: %s", exc)
            return
        for name in names:
            uid = name.rpartition("_")[2]
            if not uid or not self._pod_state.should_pod_content_be_removed(uid):
                continue
            log.info("removing the log directory of deleted pod %s", name)
            await asyncio.to_thread(shutil.rmtree, self._log_root / name, ignore_errors=True)


def _list_dir(path: Path) -> list[str]:
    try:
        return sorted(p.name for p in path.iterdir() if p.is_dir())
    except FileNotFoundError:
        return []
