"""The pod workers: each pod of the node is synced by its own task, one sync at a time.

Mirrors upstream v1.33's `pkg/kubelet/pod_workers.go` (one worker per pod, `UpdatePod`, the
terminating and terminated states), `kubelet.go` `SyncPod`/`SyncTerminatingPod` (volumes
before containers, status after every sync), `pkg/kubelet/kuberuntime/kuberuntime_manager.go`
`SyncPod` (carrying out `podactions.compute_pod_actions`, crash-loop back-off in `doBackOff`),
`kuberuntime_container.go` (`startContainer`: image, config, create, start, postStart hook;
`killContainer`: preStop hook, then StopContainer with the rest of the grace period) and the
generic PLEG (`pkg/kubelet/pleg/generic.go`: the runtime is relisted every second and a pod
whose containers changed is synced).

A sync reads the pod's sandboxes and containers from the runtime by the kubelet's labels,
so it never trusts memory about what runs: a kubelet restarted over running pods (`adopt`)
starts nothing twice. What is kept in memory: the waiting reasons of containers that could
not start (upstream's reasonCache), the crash-loop back-off per container and when the pod
was first seen. The status of every sync goes to the status manager
(`kajitori.kubelet.statusmanager`), built by `kajitori.kubelet.podstatus`.

Events (upstream v1.33's words): `Created` (`Created container: nginx`), `Started`
(`Started container nginx`), `Killing` (`Stopping container nginx`, or the probe's
message), `Failed` (`Error: ...`), `BackOff` (`Back-off restarting failed container nginx
in pod web_default(uid)`), `FailedPostStartHook`, `FailedPreStopHook`, `FailedMount`,
`FailedCreatePodSandBox`, `SandboxChanged`.

Exited containers are left to the container garbage collector
(`kajitori.kubelet.containergc`), which keeps the newest exited run of each container for
`kubectl logs --previous` and lastState. Departure: a deleted pod's sandboxes (and with them
its containers) are removed when its worker forgets it, not by the garbage collector; the
sandbox of a pod that is done stays (stopped) until the pod is deleted, so its logs stay
readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cri_api.v1 import api_pb2

from kajitori import klog
from kajitori.api import meta, qos
from kajitori.api import podstatus as apipodstatus
from kajitori.client import backoff as client_backoff
from kajitori.client import clock as clock_
from kajitori.client import events
from kajitori.kubelet import (
    containerconfig,
    containerref,
    envvars,
    errors,
    images,
    lifecycle,
    lookup,
    oomgroup,
    podactions,
    podcontainermanager,
    podstatus,
    predicate,
    prober,
    runtime,
    statusmanager,
)
from kajitori.kubelet import settings as settings_

Obj = dict[str, Any]

log = logging.getLogger(__name__)

# Event reasons (upstream pkg/kubelet/events) and messages.
CREATED = "Created"
STARTED = "Started"
KILLING = "Killing"
FAILED = "Failed"
BACK_OFF = "BackOff"
FAILED_POST_START_HOOK = "FailedPostStartHook"
FAILED_PRE_STOP_HOOK = "FailedPreStopHook"
FAILED_MOUNT = "FailedMount"
FAILED_CREATE_POD_SANDBOX = "FailedCreatePodSandBox"
SANDBOX_CHANGED = "SandboxChanged"
MSG_CREATED = "Created container: {name}"
MSG_STARTED = "Started container {name}"
MSG_KILLING = "Stopping container {name}"
MSG_ERROR = "Error: {error}"
MSG_BACK_OFF = "Back-off restarting failed container {name} in pod {pod}"
MSG_SANDBOX_FAILED = "Failed to create pod sandbox: {error}"
MSG_SANDBOX_CHANGED = "Pod sandbox changed, it will be killed and re-created."
MSG_NO_TARGET = "unable to find target container {target}"
"""An ephemeral container's targetContainerName is not running (CreateContainerConfigError)."""

DEFAULT_GRACE_SECONDS = 30
MINIMUM_GRACE_SECONDS = 2
"""The shortest grace a container gets (upstream minimumGracePeriodInSeconds)."""
RELIST_PERIOD = 1.0
"""Seconds between two relists of the runtime (upstream's PLEG period)."""
BACKOFF_RESET_SECONDS = 2 * apipodstatus.MAX_BACKOFF
"""A container that ran this long without failing starts its back-off over (10 min)."""
RETRY_SECONDS = 1.0
"""Seconds before a sync that raised is tried again."""
RESOLV_CONF = Path("/etc/resolv.conf")
TERMINATION_WAIT_SECONDS = 10.0
"""Besides 1.5 times its grace period, how long `terminate_pod_abnormally` waits."""


class VolumeManager(Protocol):
    """What the workers need of `kajitori.kubelet.volumes.VolumeManager`."""

    async def mount_pod(self, pod: Obj) -> None: ...

    async def unmount_pod(self, pod_uid: str) -> None: ...

    def container_mounts(self, pod: Obj, container: Obj, *, pod_ips: Sequence[str] = (),
                         env: Sequence[api_pb2.KeyValue] = ()) -> list[api_pb2.Mount]: ...


class Prober(Protocol):
    """What the workers need of `kajitori.kubelet.prober.ProbeManager`."""

    def add_pod(self, pod: Obj) -> None: ...

    def remove_pod(self, pod_uid: str) -> None: ...

    def update_container(self, pod_uid: str, container_name: str, *, container_id: str,
                         started_at: float | None, pod_ip: str = "") -> None: ...

    def is_ready(self, pod_uid: str, container_name: str) -> bool: ...

    def is_started(self, pod_uid: str, container_name: str) -> bool: ...

    def liveness_failure(self, pod_uid: str,
                         container_name: str) -> prober.LivenessFailure | None: ...


class ImageManager(Protocol):
    """What the workers need of `kajitori.kubelet.images.ImagePuller`."""

    async def ensure_image(self, pod: Obj, container: Obj, *,
                           sandbox_config: api_pb2.PodSandboxConfig | None = None) -> str: ...


class CriRuntime(runtime.RuntimeService, runtime.ImageService, Protocol):
    """The runtime: both CRI services (`cri.CRIRuntime` is both)."""


class CrashLoopBackOff:
    """Per-container restart back-off (upstream flowcontrol.Backoff as doBackOff uses it):
    the first restart is immediate, then 10 s doubling to 5 min, counted from when the
    container last finished; an entry untouched for 10 min starts over."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, float]] = {}  # key → (delay, last update)

    def in_back_off(self, key: str, *, finished_at: float, now: float) -> float:
        """Seconds the restart must still wait (0: may restart now)."""
        entry = self._entries.get(key)
        if entry is None or now - entry[1] > BACKOFF_RESET_SECONDS:
            return 0.0
        return max(0.0, finished_at + entry[0] - now)

    def delay(self, key: str) -> float:
        entry = self._entries.get(key)
        return entry[0] if entry else 0.0

    def next(self, key: str, *, finished_at: float) -> None:
        """Record a restart of a container that finished at `finished_at`."""
        entry = self._entries.get(key)
        if entry is None or finished_at - entry[1] > BACKOFF_RESET_SECONDS:
            delay = apipodstatus.INITIAL_BACKOFF
        else:
            delay = min(entry[0] * 2, apipodstatus.MAX_BACKOFF)
        self._entries[key] = (delay, finished_at)

    def forget_pod(self, pod_uid: str) -> None:
        for key in [k for k in self._entries if k.startswith(f"{pod_uid}/")]:
            del self._entries[key]


@dataclass(frozen=True)
class Termination:
    """An abnormal end the kubelet imposes on a pod (upstream's KillPodOptions with the
    eviction manager's status function): its containers are killed with `grace_seconds` and
    it is reported Failed with `reason`, `message` and `conditions` (DisruptionTarget)."""

    reason: str
    message: str
    grace_seconds: int
    conditions: tuple[Obj, ...] = ()

    def apply(self, status: Obj) -> Obj:
        """`status` made Failed, with the reason, message and conditions (replacing those of
        the same type)."""
        kinds = {c.get("type") for c in self.conditions}
        conditions = [*self.conditions,
                      *(c for c in status.get("conditions") or [] if c.get("type") not in kinds)]
        return {**status, "phase": apipodstatus.FAILED, "reason": self.reason,
                "message": self.message, "conditions": conditions}


@dataclass
class _Worker:
    """One pod's worker state."""

    pod: Obj
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    start_time: str = ""
    reasons: dict[str, podstatus.Waiting] = field(default_factory=dict)
    removed: bool = False
    """The pod left the node's sources: kill it, clean up, forget it."""
    terminated: bool = False
    admitted: bool = False
    """The pod passed the kubelet's admission (`predicate.admit`), checked once."""
    rejected: bool = False
    termination: Termination | None = None
    """Set by `terminate_pod_abnormally` (an eviction): the pod is killed and Failed."""
    terminated_event: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once a termination asked for has stopped every container."""
    task: asyncio.Task[None] | None = None
    timer: clock_.Timer | None = None
    due: float | None = None


def needs_sync(old: Obj, new: Obj) -> bool:
    """Whether pod `new` must be synced, its worker having `old` (upstream's
    checkAndUpdatePod): when its spec, labels, annotations or deletion changed
    (`podsDifferSemantically`), or when a readiness gate's condition may have (others set
    those in the status: `NeedToReconcilePodReadiness`). A status-only change is not synced."""
    old_md, new_md = old.get("metadata") or {}, new.get("metadata") or {}
    if old.get("spec") != new.get("spec") or any(
            old_md.get(key) != new_md.get(key)
            for key in ("labels", "annotations", "deletionTimestamp",
                        "deletionGracePeriodSeconds")):
        return True
    if (new.get("spec") or {}).get("readinessGates"):
        return bool((old.get("status") or {}).get("conditions") !=
                    (new.get("status") or {}).get("conditions"))
    return False


def read_host_dns(path: Path = RESOLV_CONF) -> containerconfig.HostDNS:
    """The host's resolv.conf, for `Default` pods. Loopback nameservers (a local stub
    resolver such as systemd-resolved's 127.0.0.53) are left out: a pod cannot reach them."""
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    try:
        text = path.read_text()
    except OSError:
        return containerconfig.HostDNS()
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if fields[0] == "nameserver" and len(fields) > 1 and \
                not fields[1].startswith(("127.", "::1")):
            servers.append(fields[1])
        elif fields[0] in ("search", "domain"):
            searches = fields[1:]
        elif fields[0] == "options":
            options.extend(fields[1:])
    return containerconfig.HostDNS(tuple(servers), tuple(searches), tuple(options))


def _memory_capacity() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def grace_seconds(pod: Obj) -> int:
    """The grace period of the pod's containers: the deletion's, else the spec's (30 s
    default), at least 2 s."""
    metadata = pod.get("metadata") or {}
    grace = metadata.get("deletionGracePeriodSeconds")
    if grace is None:
        grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    if grace is None:
        grace = DEFAULT_GRACE_SECONDS
    return max(int(grace), MINIMUM_GRACE_SECONDS)


def _find_container(pod: Obj, name: str) -> Obj | None:
    """The init, app or ephemeral container named `name`."""
    spec = pod.get("spec") or {}
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            if container.get("name") == name:
                found: Obj = container
                return found
    return None


class PodWorkers:
    """Runs the pods given to `update_pod` until they are `forget`-ten.

    `update_pod` and `forget` never block and may be called before `run()`; `run()` starts a
    task per pod (in its TaskGroup) and the runtime relist, until cancelled. A failing sync
    is logged and retried after RETRY_SECONDS; the pod's other state is kept. The kubelet
    calls `mark_sources_ready()` once every pod source has delivered its pods: only then are
    pods the runtime runs but no source knows (deleted while the kubelet was down) killed."""

    def __init__(self, runtime_service: CriRuntime, image_manager: ImageManager, *,
                 volumes: VolumeManager, prober: Prober, lookup: lookup.ObjectLookup,
                 status_manager: statusmanager.StatusManager, recorder: events.EventRecorder,
                 settings: settings_.KubeletSettings, clock: clock_.Clock | None = None,
                 wall_clock: Callable[[], float] = time.time,
                 host_dns: containerconfig.HostDNS | None = None,
                 cgroup_root: Path = containerconfig.CGROUPFS_ROOT,
                 node_conditions: Callable[[], Sequence[str]] = lambda: ()) -> None:
        """`node_conditions` gives the node's pressure conditions now True, which refuse new
        pods (`predicate.admit_under_pressure`; the kubelet passes the eviction manager's);
        `clock` paces relists, retries and back-off timers (tests: a FakeClock);
        `wall_clock` is epoch seconds, compared with the runtime's container times; `host_dns`
        None reads /etc/resolv.conf; `cgroup_root` is where removed pods' cgroups are cleaned
        up (tests: a directory of their own)."""
        self._runtime = runtime_service
        self._images = image_manager
        self._volumes = volumes
        self._prober = prober
        self._lookup = lookup
        self._status = status_manager
        self._recorder = recorder
        self._settings = settings
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self._wall = wall_clock
        self._node = containerconfig.NodeInfo(
            root_dir=settings.root_dir, cluster_dns=tuple(settings.cluster_dns),
            cluster_domain=settings.cluster_domain, memory_capacity=_memory_capacity(),
            host_dns=host_dns or read_host_dns())
        self._cgroup_root = cgroup_root
        self._node_conditions = node_conditions
        self._backoff = CrashLoopBackOff()
        self._workers: dict[str, _Worker] = {}
        self._group: asyncio.TaskGroup | None = None
        self._snapshot: dict[str, set[tuple[str, int]]] = {}
        self._running: dict[str, list[str]] = {}
        """The running containers of the last relist, by pod uid."""
        self._sources_ready = False

    # --- the sources' side -----------------------------------------------------------------

    def update_pod(self, pod: Obj) -> None:
        """A pod of this node is new or changed, or its deletion was requested. A change of
        its status alone (the status manager's own writes, mostly) is kept for the next sync
        without causing one (`needs_sync`)."""
        uid = meta.uid(pod)
        worker = self._workers.get(uid)
        if worker is None:
            worker = self._workers[uid] = _Worker(pod=pod)
            self._start(uid, worker)
        elif not needs_sync(worker.pod, pod):
            worker.pod = pod
            return
        worker.pod = pod
        worker.wake.set()

    def forget(self, pod_uid: str) -> None:
        """The pod is gone from the node's sources: stop what still runs, clean up, forget."""
        worker = self._workers.get(pod_uid)
        if worker is not None:
            worker.removed = True
            worker.wake.set()

    def active_pods(self) -> list[Obj]:
        """The pods admitted and not done (upstream's GetActivePods): not in a terminal
        phase, not rejected, not terminated by the kubelet; those being deleted still
        count until they are."""
        return [w.pod for w in self._workers.values()
                if not w.removed and not w.rejected and w.termination is None
                and (w.pod.get("status") or {}).get("phase") not in apipodstatus.TERMINAL_PHASES]

    async def terminate_pod_abnormally(self, pod: Obj, *, grace_seconds: int, reason: str,
                                       message: str, conditions: Sequence[Obj] = ()) -> bool:
        """End the pod as the eviction manager asks (upstream's TerminatePodAbnormallyAndWait):
        its containers are killed with `grace_seconds` (the runtime's 2 s minimum applies),
        and it is reported Failed with `reason`, `message` and `conditions`. Returns True once
        it is terminated, False when the pod is not known or termination takes longer than
        1.5 times the grace period plus 10 s (it goes on in the background)."""
        worker = self._workers.get(meta.uid(pod))
        if worker is None:
            return False
        worker.termination = Termination(reason, message, grace_seconds, tuple(conditions))
        worker.terminated_event.clear()
        worker.wake.set()
        try:
            async with asyncio.timeout(grace_seconds * 1.5 + TERMINATION_WAIT_SECONDS):
                await worker.terminated_event.wait()
        except TimeoutError:
            return False
        return True

    def is_known(self, pod_uid: str) -> bool:
        """Whether the pod has a worker: its runtime state is the worker's until it is
        forgotten (the container garbage collector leaves it alone meanwhile)."""
        return pod_uid in self._workers

    def mark_sources_ready(self) -> None:
        """Every pod source has delivered: pods no source knows may now be cleaned up."""
        self._sources_ready = True

    def on_liveness_failure(self, pod_uid: str, container_name: str) -> None:
        """The prober's callback: a liveness or startup probe failed; the next sync restarts
        the container (computePodActions reads the prober)."""
        self._signal(pod_uid)

    def on_probe_change(self, pod_uid: str) -> None:
        """The prober's callback: readiness or started changed; the status is reported again."""
        self._signal(pod_uid)

    def _signal(self, pod_uid: str) -> None:
        worker = self._workers.get(pod_uid)
        if worker is not None:
            worker.wake.set()

    # --- running ----------------------------------------------------------------------------

    async def adopt(self) -> None:
        """Read what the runtime already runs (left by an earlier kubelet), so that the first
        relist does not take it for news; the containers themselves are found again by every
        sync through the kubelet's labels, so nothing is started twice."""
        self._snapshot = await self._relist_snapshot()
        log.info("adopted %d pods from the runtime", len(self._snapshot))

    async def run(self) -> None:
        """Sync pods until cancelled."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            try:
                for uid, worker in self._workers.items():
                    self._start(uid, worker)
                await self._relist_forever()
            finally:
                self._group = None

    def _start(self, uid: str, worker: _Worker) -> None:
        if self._group is not None and worker.task is None:
            worker.task = self._group.create_task(self._worker_loop(uid, worker),
                                                  name=f"pod-{uid}")

    async def _worker_loop(self, uid: str, worker: _Worker) -> None:
        while True:
            await worker.wake.wait()
            worker.wake.clear()
            try:
                done = await self.sync(uid)
            except (*client_backoff.RETRIABLE, runtime.CRIError, errors.MountError) as exc:
                log.warning("syncing pod %s failed, will retry: %s", uid, exc)
                self._wake_at(worker, self._clock.now() + RETRY_SECONDS)
                continue
            except Exception:
                # One pod's unexpected failure must not stop the node's other pods.
                log.exception("syncing pod %s failed unexpectedly, will retry", uid)
                self._wake_at(worker, self._clock.now() + RETRY_SECONDS)
                continue
            if done:
                return

    def _wake_at(self, worker: _Worker, when: float) -> None:
        """Sync the pod again at `when` (on the clock), unless one is due earlier."""
        if worker.due is not None and worker.due <= when and worker.timer is not None:
            return
        if worker.timer is not None:
            worker.timer.cancel()
        worker.due = when

        def fire() -> None:
            worker.due = worker.timer = None
            worker.wake.set()

        worker.timer = self._clock.call_at(when, fire)

    async def _relist_forever(self) -> None:
        while True:
            await self._clock.sleep(RELIST_PERIOD)
            try:
                await self.relist()
            except runtime.CRIError as exc:
                log.warning("relisting the runtime failed: %s", exc)

    async def _relist_snapshot(self) -> dict[str, set[tuple[str, int]]]:
        snapshot: dict[str, set[tuple[str, int]]] = {}
        running: dict[str, list[str]] = {}
        for container in await self._runtime.list_containers():
            uid = container.labels.get(runtime.POD_UID_LABEL)
            if uid:
                snapshot.setdefault(uid, set()).add((container.id, container.state))
                if container.state == api_pb2.CONTAINER_RUNNING:
                    running.setdefault(uid, []).append(container.id)
        self._running = running
        for sandbox in await self._runtime.list_pod_sandboxes():
            uid = sandbox.labels.get(runtime.POD_UID_LABEL)
            if uid:
                snapshot.setdefault(uid, set()).add((sandbox.id, sandbox.state))
        return snapshot

    async def relist(self) -> None:
        """Compare the runtime with the last relist; sync every pod whose containers or
        sandboxes changed (the PLEG). Once the sources are ready, pods the runtime runs that
        no source knows are given a worker that kills them."""
        snapshot = await self._relist_snapshot()
        await self._kill_out_of_memory()
        for uid, seen in snapshot.items():
            if seen != self._snapshot.get(uid):
                self._signal(uid)
            if self._sources_ready and uid not in self._workers:
                await self._orphan(uid)
        self._snapshot = snapshot

    async def _kill_out_of_memory(self) -> None:
        """Kill (SIGKILL) every running container of a known pod that is held out of memory
        (`kajitori.kubelet.oomgroup`: memory.oom.group on cgroup v1); the runtime reports it
        OOMKilled with exit code 137 and the next relist syncs its pod."""
        for uid, container_ids in self._running.items():
            worker = self._workers.get(uid)
            if worker is None:
                continue
            parent = containerconfig.cgroup_parent(worker.pod)
            for container_id in container_ids:
                if not oomgroup.under_oom(oomgroup.container_memory_cgroup(
                        self._cgroup_root, parent, container_id)):
                    continue
                log.info("container %s of pod %s is out of memory: killing it", container_id,
                         uid)
                with contextlib.suppress(runtime.CRIError):
                    await self._runtime.stop_container(container_id, grace_seconds=0)

    async def _orphan(self, uid: str) -> None:
        """A worker for a pod only the runtime knows, to kill and remove it; the pod is
        rebuilt from the sandbox's labels and the containers' annotations."""
        sandboxes = await self._runtime.list_pod_sandboxes(labels={runtime.POD_UID_LABEL: uid})
        if not sandboxes:
            return
        labels = sandboxes[0].labels
        pod: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": labels.get(runtime.POD_NAME_LABEL, ""),
            "namespace": labels.get(runtime.POD_NAMESPACE_LABEL, ""), "uid": uid},
            "spec": {"containers": []}}
        for container in await self._runtime.list_containers(
                labels={runtime.POD_UID_LABEL: uid}):
            grace = container.annotations.get(runtime.POD_TERMINATION_GRACE_PERIOD_ANNOTATION)
            if grace is not None:
                pod["spec"]["terminationGracePeriodSeconds"] = int(grace)
        worker = self._workers[uid] = _Worker(pod=pod, removed=True)
        worker.wake.set()
        self._start(uid, worker)

    # --- one sync -----------------------------------------------------------------------------

    async def runtime_pod(self, uid: str) -> podactions.RuntimePod:
        """The pod's sandboxes and containers as the runtime has them, newest first."""
        sandboxes = []
        for sandbox in await self._runtime.list_pod_sandboxes(
                labels={runtime.POD_UID_LABEL: uid}):
            try:
                status = await self._runtime.pod_sandbox_status(sandbox.id)
            except runtime.CRIError as exc:
                if exc.code == "NOT_FOUND":
                    continue
                raise
            sandboxes.append(podactions.SandboxState(
                id=sandbox.id, attempt=sandbox.metadata.attempt,
                ready=status.state == api_pb2.SANDBOX_READY, ip=status.network.ip,
                additional_ips=tuple(ip.ip for ip in status.network.additional_ips),
                created_at=sandbox.created_at))
        containers = []
        for container in await self._runtime.list_containers(
                labels={runtime.POD_UID_LABEL: uid}):
            try:
                status = await self._runtime.container_status(container.id)
            except runtime.CRIError as exc:
                if exc.code == "NOT_FOUND":
                    continue
                raise
            containers.append(podactions.ContainerState.from_cri(status))
        sandboxes.sort(key=lambda s: (s.created_at, s.attempt), reverse=True)
        containers.sort(key=lambda c: (c.created_at, c.restart_count), reverse=True)
        return podactions.RuntimePod(sandboxes=sandboxes, containers=containers)

    async def sync(self, uid: str) -> bool:
        """One sync of the pod: run it, or stop it when it is being deleted, removed or
        finished, and report its status. True when the pod is forgotten (the worker ends).
        Raises CRIError, MountError and API errors (the caller retries)."""
        worker = self._workers.get(uid)
        if worker is None:
            return True
        pod = worker.pod
        log.log(klog.level(4), "SyncPod enter", extra=klog.kv(pod=klog.kobj(pod), podUID=uid))
        if not worker.start_time:
            worker.start_time = (pod.get("status") or {}).get("startTime") or meta.format_time(
                datetime.datetime.fromtimestamp(self._wall(), datetime.UTC))
        if worker.removed:
            await self._terminate(uid, worker)
            await self._cleanup(uid)
            return True
        if meta.deletion_timestamp(pod):
            self._prober.add_pod(pod)  # stops its liveness and startup probes
            await self._terminate(uid, worker)
            return False
        if worker.termination is not None:
            # Failed and why at once, as upstream's SyncTerminatingPod reports before killing.
            status = await self.runtime_pod(uid)
            self._report(uid, worker, status, messages=await self._messages(pod, status))
            await self._terminate(uid, worker, remove=False,
                                  grace=worker.termination.grace_seconds)
            # Its volumes go (an emptyDir frees the disk the eviction was for), as upstream's
            # volume manager tears down a terminated pod's; the Failed pod stays in the API.
            await self._volumes.unmount_pod(uid)
            worker.terminated_event.set()
            return False
        if (pod.get("status") or {}).get("phase") in apipodstatus.TERMINAL_PHASES:
            await self._terminate(uid, worker, remove=False)
            return False
        if not worker.admitted and not await self._admit(uid, worker):
            return False
        await self._sync_running(uid, worker)
        return False

    async def _admit(self, uid: str, worker: _Worker) -> bool:
        """Upstream's admission of a new pod (`predicate.admit`): a pod the node cannot run
        is failed with a warning event and never started. A pod the runtime already runs
        (adopted) was admitted before."""
        pod = worker.pod
        rejection = predicate.admit(
            pod, allowed_unsafe_sysctls=self._settings.allowed_unsafe_sysctls,
            node_conditions=self._node_conditions())
        if rejection is not None and not (await self.runtime_pod(uid)).containers:
            if not worker.rejected:
                worker.rejected = True
                self._recorder.event(pod, events.WARNING, rejection.reason, rejection.message)
            self._status.set_pod_status(pod, predicate.rejected_status(
                pod, rejection, qos_class=qos.pod_qos_class(pod)), terminated=True)
            return False
        worker.admitted = True
        return True

    def _report(self, uid: str, worker: _Worker, status: podactions.RuntimePod, *,
                messages: dict[str, str], terminal: bool = False,
                terminated: bool = False) -> None:
        pod = worker.pod
        generated = podstatus.generate_pod_status(
            pod, status, host_ips=[self._settings.node_ip] if self._settings.node_ip else [],
            start_time=worker.start_time, now=meta.format_time(
                datetime.datetime.fromtimestamp(self._wall(), datetime.UTC)),
            terminal=terminal, reasons=worker.reasons, messages=messages,
            probed_ready=lambda name: self._prober.is_ready(uid, name),
            probed_started=lambda name: self._prober.is_started(uid, name))
        if worker.termination is not None:
            generated = worker.termination.apply(generated)
        else:
            # A Failed pod keeps why (Evicted, a rejection) when it is reported again.
            old = pod.get("status") or {}
            if old.get("phase") in apipodstatus.TERMINAL_PHASES:
                generated.update({key: old[key] for key in ("reason", "message")
                                  if key in old and key not in generated})
        self._status.set_pod_status(pod, generated, terminated=terminated)

    async def _messages(self, pod: Obj, status: podactions.RuntimePod) -> dict[str, str]:
        return await podstatus.read_termination_messages(pod, status,
                                                         root_dir=self._settings.root_dir)

    async def _sync_running(self, uid: str, worker: _Worker) -> None:
        pod = worker.pod
        self._prober.add_pod(pod)
        status = await self.runtime_pod(uid)
        self._update_prober(uid, status)
        await asyncio.to_thread(podcontainermanager.ensure_exists, pod,
                                cgroup_root=self._cgroup_root)
        try:
            await self._volumes.mount_pod(pod)
        except errors.MountError as exc:
            self._recorder.event(pod, events.WARNING, FAILED_MOUNT, str(exc))
            self._report(uid, worker, status, messages=await self._messages(pod, status))
            raise
        actions = podactions.compute_pod_actions(
            pod, status, liveness_failed=self._probe_failures(uid, pod, prober.ProbeType.LIVENESS),
            startup_failed=self._probe_failures(uid, pod, prober.ProbeType.STARTUP),
            sidecars_started={c.name for c in status.running()
                              if self._prober.is_started(uid, c.name)})
        if actions.kill_pod:
            if actions.create_sandbox and actions.attempt > 0:
                self._recorder.event(pod, events.NORMAL, SANDBOX_CHANGED, MSG_SANDBOX_CHANGED)
            await self._kill_pod(pod, status)
        sandbox_id = actions.sandbox_id
        sandbox_config = containerconfig.pod_sandbox_config(pod, self._node,
                                                            attempt=actions.attempt)
        started = False
        if actions.create_sandbox:
            sandbox_id = await self._create_sandbox(pod, sandbox_config)
            started = bool(sandbox_id)
        if sandbox_id and not (actions.kill_pod and not actions.create_sandbox):
            pod_ip = status.sandboxes[0].ip if status.sandboxes else ""
            for kill in actions.containers_to_kill:
                # A probe's own terminationGracePeriodSeconds replaces the pod's for its kill.
                failure = self._prober.liveness_failure(uid, kill.container.name)
                grace = failure.termination_grace_period_seconds if failure else None
                await self._kill_container(pod, kill.container, message=kill.message,
                                           pod_ip=pod_ip, grace=None if grace is None else
                                           max(grace, MINIMUM_GRACE_SECONDS))
            if actions.containers_to_kill or actions.create_sandbox:
                status = await self.runtime_pod(uid)
            pod_ip = status.sandboxes[0].ip if status.sandboxes else ""
            for name in [*actions.ephemeral_containers_to_start,
                         *actions.init_containers_to_start, *actions.containers_to_start]:
                container = _find_container(pod, name)
                if container is not None:
                    started |= await self._start_container(
                        uid, worker, container, status, sandbox_id=sandbox_id,
                        sandbox_config=sandbox_config, pod_ip=pod_ip)
        # Asked again only when this sync changed something: a sync with nothing to do (most of
        # them: the periodic one, a probe's) costs the runtime one status read, not three.
        if actions.kill_pod or actions.create_sandbox or actions.containers_to_kill or \
                actions.init_containers_to_start or actions.containers_to_start or \
                actions.ephemeral_containers_to_start:
            status = await self.runtime_pod(uid)
            self._update_prober(uid, status)
        self._report(uid, worker, status, messages=await self._messages(pod, status))
        if started:
            worker.wake.set()  # the next init container need not wait for the relist
        self._wake_at(worker, self._clock.now() + self._settings.sync_frequency)

    def _probe_failures(self, uid: str, pod: Obj, kind: prober.ProbeType) -> set[str]:
        """The containers whose current run failed its `kind` probe."""
        names = set()
        for container in prober.probed_containers(pod):
            failure = self._prober.liveness_failure(uid, container["name"])
            if failure is not None and failure.probe_type is kind:
                names.add(container["name"])
        return names

    def _update_prober(self, uid: str, status: podactions.RuntimePod) -> None:
        pod_ip = status.sandboxes[0].ip if status.sandboxes else ""
        seen: set[str] = set()
        for container in status.containers:
            if container.name in seen:
                continue
            seen.add(container.name)
            running = container.state == podactions.RUNNING
            self._prober.update_container(
                uid, container.name, container_id=runtime.CONTAINER_ID_PREFIX + container.id,
                started_at=container.started_at / 1e9 if running else None, pod_ip=pod_ip)

    async def _create_sandbox(self, pod: Obj, config: api_pb2.PodSandboxConfig) -> str:
        await asyncio.to_thread(Path(config.log_directory).mkdir, parents=True, exist_ok=True)
        try:
            return await self._runtime.run_pod_sandbox(config)
        except runtime.CRIError as exc:
            self._recorder.event(pod, events.WARNING, FAILED_CREATE_POD_SANDBOX,
                                 MSG_SANDBOX_FAILED.format(error=exc.message))
            raise

    async def _start_container(self, uid: str, worker: _Worker, container: Obj,
                               status: podactions.RuntimePod, *, sandbox_id: str,
                               sandbox_config: api_pb2.PodSandboxConfig, pod_ip: str) -> bool:
        """Start one container (upstream startContainer), unless its restart is backed off.
        A failure is recorded as the container's waiting reason and an event; True when a
        container was started."""
        pod = worker.pod
        name = str(container["name"])
        previous = status.latest(name)
        if previous is not None and previous.state == podactions.EXITED:
            key = f"{uid}/{name}"
            finished = previous.finished_at / 1e9
            wait = self._backoff.in_back_off(key, finished_at=finished, now=self._wall())
            if wait > 0:
                self._recorder.event(pod, events.WARNING, BACK_OFF, MSG_BACK_OFF.format(
                    name=name, pod=apipodstatus.format_pod(pod)),
                    field_path=containerref.field_path(pod, name))
                worker.reasons[name] = podstatus.Waiting(
                    apipodstatus.CRASH_LOOP_BACK_OFF, apipodstatus.crash_loop_message(
                        pod, name, delay=self._backoff.delay(key)))
                self._wake_at(worker, self._clock.now() + wait)
                return False
            self._backoff.next(key, finished_at=finished)
        restart_count = previous.restart_count + 1 if previous is not None else 0
        try:
            image_ref = await self._images.ensure_image(pod, container,
                                                        sandbox_config=sandbox_config)
        except images.ImagePullError as exc:
            worker.reasons[name] = podstatus.Waiting(exc.reason, exc.message)
            return False
        target = container.get("targetContainerName") or ""
        target_state = status.latest(target) if target else None
        if target and (target_state is None or target_state.state != podactions.RUNNING):
            # Upstream's getTargetID: the target must be running to lend its PID namespace.
            self._fail(worker, name, podstatus.CREATE_CONTAINER_CONFIG_ERROR,
                       MSG_NO_TARGET.format(target=target))
            return False
        try:
            config = await self._container_config(
                pod, container, image_ref=image_ref, restart_count=restart_count,
                pod_ip=pod_ip, target_id=target_state.id if target_state else "")
        except errors.ContainerConfigError as exc:
            self._fail(worker, name, podstatus.CREATE_CONTAINER_CONFIG_ERROR, str(exc))
            return False
        try:
            container_id = await self._runtime.create_container(sandbox_id, config,
                                                                sandbox_config)
        except runtime.CRIError as exc:
            self._fail(worker, name, podstatus.CREATE_CONTAINER_ERROR, exc.message)
            return False
        self._recorder.event(pod, events.NORMAL, CREATED, MSG_CREATED.format(name=name),
                             field_path=containerref.field_path(pod, name))
        try:
            await self._runtime.start_container(container_id)
        except runtime.CRIError as exc:
            self._fail(worker, name, podstatus.RUN_CONTAINER_ERROR, exc.message)
            return False
        self._recorder.event(pod, events.NORMAL, STARTED, MSG_STARTED.format(name=name),
                             field_path=containerref.field_path(pod, name))
        worker.reasons.pop(name, None)
        self._prober.update_container(uid, name,
                                      container_id=runtime.CONTAINER_ID_PREFIX + container_id,
                                      started_at=self._wall(), pod_ip=pod_ip)
        handler = (container.get("lifecycle") or {}).get("postStart")
        if handler:
            failure = await lifecycle.run_handler(self._runtime, pod, container, container_id,
                                                  handler, pod_ip=pod_ip)
            if failure is not None:
                self._recorder.event(pod, events.WARNING, FAILED_POST_START_HOOK, failure,
                                     field_path=containerref.field_path(pod, name))
                await self._kill_container_id(pod, container, container_id,
                                              message=FAILED_POST_START_HOOK, pod_ip=pod_ip)
                worker.reasons[name] = podstatus.Waiting(podstatus.POST_START_HOOK_ERROR,
                                                         failure)
        return True

    def _fail(self, worker: _Worker, name: str, reason: str, message: str) -> None:
        self._recorder.event(worker.pod, events.WARNING, FAILED, MSG_ERROR.format(error=message),
                             field_path=containerref.field_path(worker.pod, name))
        worker.reasons[name] = podstatus.Waiting(reason, message)

    async def _container_config(self, pod: Obj, container: Obj, *, image_ref: str,
                                restart_count: int, pod_ip: str,
                                target_id: str = "") -> api_pb2.ContainerConfig:
        env = await envvars.container_env(pod, container, lookup=self._lookup,
                                          node_ip=self._settings.node_ip,
                                          pod_ips=[pod_ip] if pod_ip else [])
        command, args = envvars.expand_command(container, env)
        mounts = self._volumes.container_mounts(pod, container,
                                                pod_ips=[pod_ip] if pod_ip else [], env=env)
        image = await self._runtime.image_status(image_ref)
        config = containerconfig.container_config(
            pod, container, node=self._node, image_ref=image_ref, restart_count=restart_count,
            command=command, args=args, envs=env, mounts=mounts, image=image,
            target_id=target_id)
        message_file = containerconfig.termination_message_file(
            self._settings.root_dir, meta.uid(pod), str(container["name"]), restart_count)
        log_dir = containerconfig.pod_log_directory(self._settings.root_dir, pod) / str(
            container["name"])
        await asyncio.to_thread(_prepare_files, message_file, log_dir)
        return config

    # --- stopping -------------------------------------------------------------------------------

    async def _kill_container(self, pod: Obj, state: podactions.ContainerState, *,
                              message: str, pod_ip: str, grace: int | None = None) -> None:
        container = _find_container(pod, state.name) or {"name": state.name}
        await self._kill_container_id(pod, container, state.id, message=message, grace=grace,
                                      pod_ip=pod_ip)

    async def _kill_container_id(self, pod: Obj, container: Obj, container_id: str, *,
                                 message: str, pod_ip: str, grace: int | None = None) -> None:
        """preStop hook within the grace period (an httpGet one goes to `pod_ip`), then
        SIGTERM, and SIGKILL after the rest of it; `grace` None: the pod's."""
        grace = grace_seconds(pod) if grace is None else grace
        field_path = containerref.field_path(pod, str(container.get("name")))
        self._recorder.event(pod, events.NORMAL, KILLING, message, field_path=field_path)
        started = self._clock.now()
        handler = (container.get("lifecycle") or {}).get("preStop")
        if handler:
            failure = None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    failure = await lifecycle.run_handler(self._runtime, pod, container,
                                                          container_id, handler, pod_ip=pod_ip)
            if failure is not None:
                self._recorder.event(pod, events.WARNING, FAILED_PRE_STOP_HOOK, failure,
                                     field_path=field_path)
        remaining = max(int(grace - (self._clock.now() - started)), MINIMUM_GRACE_SECONDS)
        await self._runtime.stop_container(container_id, grace_seconds=remaining)

    async def _kill_pod(self, pod: Obj, status: podactions.RuntimePod, *,
                        grace: int | None = None) -> None:
        """Stop every running container, app containers first (together), then sidecars in
        reverse order, then the sandboxes; `grace` None: the pod's grace period."""
        uid = meta.uid(pod)
        sidecars = [str(c.get("name")) for c in (pod.get("spec") or {}).get("initContainers")
                    or [] if apipodstatus.is_sidecar(c)]
        running = status.running()
        pod_ip = status.sandboxes[0].ip if status.sandboxes else ""
        first = [c for c in running if c.name not in sidecars]
        last = sorted((c for c in running if c.name in sidecars),
                      key=lambda c: sidecars.index(c.name), reverse=True)
        await asyncio.gather(*(self._kill_container(pod, c, message=MSG_KILLING.format(
            name=c.name), pod_ip=pod_ip, grace=grace) for c in first))
        for container in last:
            await self._kill_container(pod, container, pod_ip=pod_ip, grace=grace,
                                       message=MSG_KILLING.format(name=container.name))
        for container in running:
            self._prober.update_container(uid, container.name,
                                          container_id=runtime.CONTAINER_ID_PREFIX
                                          + container.id, started_at=None)
        for sandbox in status.sandboxes:
            if sandbox.ready:
                await self._runtime.stop_pod_sandbox(sandbox.id)

    async def _terminate(self, uid: str, worker: _Worker, *, remove: bool = True,
                         grace: int | None = None) -> None:
        """Stop the pod and report it terminated (the status manager then deletes a pod
        being deleted). `remove`: the pod is being deleted (else it is done and its
        containers stay for their logs); `grace` overrides the pod's grace period."""
        status = await self.runtime_pod(uid)
        if status.running() or any(s.ready for s in status.sandboxes):
            await self._kill_pod(worker.pod, status, grace=grace)
            status = await self.runtime_pod(uid)
        if not worker.removed:
            self._report(uid, worker, status, messages=await self._messages(worker.pod, status),
                         terminal=remove, terminated=True)

    async def _cleanup(self, uid: str) -> None:
        """Remove the pod's sandboxes (and with them its containers), volumes, probes and
        state."""
        for sandbox in await self._runtime.list_pod_sandboxes(
                labels={runtime.POD_UID_LABEL: uid}):
            await self._runtime.remove_pod_sandbox(sandbox.id)
        await self._volumes.unmount_pod(uid)
        await asyncio.to_thread(containerconfig.remove_pod_cgroups, uid,
                                cgroup_root=self._cgroup_root)
        self._prober.remove_pod(uid)
        self._status.forget(uid)
        self._backoff.forget_pod(uid)
        worker = self._workers.pop(uid, None)
        if worker is not None and worker.timer is not None:
            worker.timer.cancel()


def _prepare_files(message_file: Path, log_dir: Path) -> None:
    """The container's log directory and an empty termination message file (re-created, so
    a restarted container does not show its predecessor's message)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    message_file.parent.mkdir(parents=True, exist_ok=True)
    message_file.write_bytes(b"")
