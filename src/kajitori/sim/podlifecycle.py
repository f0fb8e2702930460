"""The lives of pods bound to simulated nodes, as a kubelet reports them through pods/status.

Mirrors the kubelet's pod workers (`pkg/kubelet/pod_workers.go`: one sync at a time per pod,
driven by pod changes and timers), its status generation (`pkg/kubelet/kubelet_pods.go`
`generateAPIPodStatus`, `pkg/kubelet/status/generate.go`: the five kubelet-owned conditions in
upstream's order with its reasons, container statuses, host and pod IPs) and its status
manager (`pkg/kubelet/status/status_manager.go`: conditions that did not change keep their
`lastTransitionTime`, conditions others own are kept, a pod being deleted is deleted with grace
period 0 once its containers have stopped); the rules it shares with the real kubelet
(conditions, back-off, restart policy) live in `kajitori.api.podstatus`. Nothing runs: a
container "runs" from the moment its pod is seen until the seconds in annotation
`sim.kajitori.io/run-seconds` have passed (for ever without it) and then exits with the code
in `sim.kajitori.io/exit-code` (default 0).
What follows is the kubelet's rule: with `restartPolicy: Always`, or `OnFailure` and a non-zero
code, the container restarts (at once the first time, then after a back-off of 10 s doubling
to 5 min, showing `CrashLoopBackOff` meanwhile); otherwise the pod ends `Succeeded` (all
zero) or `Failed`. A pod being deleted has its containers stopped at once, as a container that
dies of the SIGTERM (exit 143, `Error`), and is then deleted.

Every container of a pod shares one life (they start, exit and restart together); init
containers are reported completed and sidecars running. Pod IPs come from the node's podCIDR
(`ipam.pod_ips`); a `hostNetwork` pod has its node's IP.

Departures: a pod goes from Pending straight to Running in one status write (a kubelet
usually reports `ContainerCreating` first): one write per pod less at 150,000 pods. No Events
(`Pulled`, `Created`, `Started`) are recorded, and container statuses carry no `user` or
`allocatedResources`.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kajitori.api import cidrset, errors, meta, podstatus
from kajitori.client import backoff, informer, rest, workqueue
from kajitori.client import clock as clock_
from kajitori.sim import ipam
from kajitori.sim import node as node_

Obj = dict[str, Any]
Wall = Callable[[], datetime.datetime]

log = logging.getLogger(__name__)

PODS = ("", "v1", "pods")

RUN_SECONDS_ANNOTATION = "sim.kajitori.io/run-seconds"
EXIT_CODE_ANNOTATION = "sim.kajitori.io/exit-code"

NODE_NAME_INDEX = "spec.nodeName"
"""The pod informer's index by the node a pod is bound to."""

# Container states and reasons, as the kubelet and the container runtime word them.
COMPLETED = "Completed"
ERROR = "Error"
SIGTERM_EXIT_CODE = 143
"""What a container that dies of the SIGTERM of its pod's deletion exits with (128 + 15)."""

RUNNING_PHASE, SUCCEEDED, FAILED = podstatus.RUNNING, podstatus.SUCCEEDED, podstatus.FAILED
TERMINAL_PHASES = podstatus.TERMINAL_PHASES

IMAGE_ID_PREFIX = "sim://"
CONTAINER_ID_PREFIX = "sim://"
DEFAULT_REGISTRY = "docker.io"
DEFAULT_REPOSITORY_PREFIX = "library/"
DEFAULT_TAG = "latest"

# A simulated container's life, shared by all containers of its pod.
RUNNING, BACKING_OFF, TERMINATED = "running", "backing-off", "terminated"


@dataclass(frozen=True)
class PodLifecycleSettings:
    """How many pods are synced at once (no upstream equivalent: a kubelet syncs its own
    pods, at most 110, each on a goroutine)."""

    concurrent_pod_syncs: int = 64
    """Pod syncs (each at most a status write and a delete) in flight across all nodes."""


@dataclass
class PodRecord:
    """What the simulated runtime knows of one pod (keyed by its uid): the kubelet's view,
    which may be ahead of the pod's status on the server."""

    uid: str
    node: str
    pod_ip: str
    start_time: str
    holds_ip: bool = False
    """Whether `pod_ip` is taken from the node's range (not for hostNetwork pods, nor once
    released)."""
    state: str = RUNNING
    started_at: str = ""
    finished_at: str = ""
    exit_code: int = 0
    reason: str = ""
    restart_count: int = 0
    last_terminated: Obj | None = None
    due: datetime.datetime | None = None
    """When the state changes next by itself (an exit or the end of a back-off)."""
    written: Obj | None = field(default=None, repr=False)
    """The status last written, so an unchanged one is not written again."""


def _annotations(pod: Obj) -> dict[str, str]:
    # Not meta.annotations: mypy takes that name for `__future__.annotations` in meta.py.
    return (pod.get("metadata") or {}).get("annotations") or {}


def run_seconds(pod: Obj) -> float | None:
    """The annotation's seconds, or None (run for ever) when absent or not a number ≥ 0."""
    raw = _annotations(pod).get(RUN_SECONDS_ANNOTATION)
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def exit_code(pod: Obj) -> int:
    """The annotation's exit code, 0 when absent or not an integer."""
    try:
        return int(_annotations(pod).get(EXIT_CODE_ANNOTATION, "0"))
    except ValueError:
        return 0


def normalize_image(image: str) -> str:
    """An image reference as containerd reports it: `nginx` → `docker.io/library/nginx:latest`."""
    name, _, digest = image.partition("@")
    first, slash, _rest = name.partition("/")
    if not slash:
        name = f"{DEFAULT_REGISTRY}/{DEFAULT_REPOSITORY_PREFIX}{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"{DEFAULT_REGISTRY}/{name}"
    if digest:
        return f"{name}@{digest}"
    if ":" not in name.rsplit("/", 1)[-1]:
        name = f"{name}:{DEFAULT_TAG}"
    return name


def image_id(image: str) -> str:
    """`sim://<repository>@sha256:<digest>`: the image's digest, made up from its name."""
    normalized = normalize_image(image)
    repository, _, digest = normalized.partition("@")
    if not digest:
        repository = repository.rsplit(":", 1)[0] if ":" in repository.rsplit("/", 1)[-1] \
            else repository
        digest = "sha256:" + hashlib.sha256(normalized.encode()).hexdigest()
    return f"{IMAGE_ID_PREFIX}{repository}@{digest}"


def container_id(uid: str, name: str, restart: int) -> str:
    """A stable made-up ID, different for each run of a container."""
    return CONTAINER_ID_PREFIX + hashlib.sha256(f"{uid}/{name}/{restart}".encode()).hexdigest()


def pod_status(pod: Obj, record: PodRecord, *, host_ip: str, now: str) -> Obj:
    """The status the kubelet would report for `pod` in `record`'s state at `now`: pure."""
    spec = pod.get("spec") or {}
    current = pod.get("status") or {}
    phase = _phase(record)
    status: Obj = {
        "phase": phase,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": record.pod_ip,
        "podIPs": [{"ip": record.pod_ip}],
        "startTime": record.start_time,
        "containerStatuses": [_container_status(c, pod, record)
                              for c in spec.get("containers") or []],
    }
    if spec.get("initContainers"):
        status["initContainerStatuses"] = [_init_container_status(c, pod, record)
                                           for c in spec["initContainers"]]
    if current.get("qosClass"):
        status["qosClass"] = current["qosClass"]
    statuses = status.get("initContainerStatuses", []) + status["containerStatuses"]
    status["conditions"] = podstatus.kubelet_conditions(
        pod, statuses, phase=phase, sandbox_ready=phase not in TERMINAL_PHASES, now=now)
    return status


def _phase(record: PodRecord) -> str:
    if record.state != TERMINATED:
        return RUNNING_PHASE
    return SUCCEEDED if record.exit_code == 0 else FAILED


def _terminated(record: PodRecord, cid: str) -> Obj:
    return {"exitCode": record.exit_code, "reason": record.reason,
            "startedAt": record.started_at, "finishedAt": record.finished_at,
            "containerID": cid}


def _base_status(container: Obj, pod: Obj, record: PodRecord, *, restart: int) -> Obj:
    image = str(container.get("image") or "")
    status: Obj = {
        "name": container.get("name"),
        "image": normalize_image(image),
        "imageID": image_id(image),
        "containerID": container_id(record.uid, str(container.get("name")), restart),
        "lastState": {},
        "restartCount": 0,
    }
    status.update(podstatus.spec_fields(container))
    return status


def _container_status(container: Obj, pod: Obj, record: PodRecord) -> Obj:
    status = _base_status(container, pod, record, restart=record.restart_count)
    status["restartCount"] = record.restart_count
    if record.last_terminated is not None:
        previous = dict(record.last_terminated)
        previous["containerID"] = container_id(record.uid, str(container.get("name")),
                                               record.restart_count - 1
                                               if record.state != BACKING_OFF
                                               else record.restart_count)
        status["lastState"] = {"terminated": previous}
    if record.state == RUNNING:
        status.update(state={"running": {"startedAt": record.started_at}},
                      ready=True, started=True)
    elif record.state == BACKING_OFF:
        message = podstatus.crash_loop_message(
            pod, str(container.get("name")),
            delay=podstatus.backoff_seconds(record.restart_count))
        status.update(state={"waiting": {"reason": podstatus.CRASH_LOOP_BACK_OFF,
                                         "message": message}},
                      ready=False, started=False)
    else:
        status.update(state={"terminated": _terminated(record, status["containerID"])},
                      ready=False, started=False)
    return status


def _init_container_status(container: Obj, pod: Obj, record: PodRecord) -> Obj:
    status = _base_status(container, pod, record, restart=0)
    if container.get("restartPolicy") == "Always" and record.state != TERMINATED:
        status.update(state={"running": {"startedAt": record.start_time}},
                      ready=True, started=True)
        return status
    status.update(state={"terminated": {
        "exitCode": 0, "reason": COMPLETED, "startedAt": record.start_time,
        "finishedAt": record.finished_at if container.get("restartPolicy") == "Always"
        else record.start_time, "containerID": status["containerID"]}},
        ready=container.get("restartPolicy") != "Always", started=False)
    return status


def advance(record: PodRecord, pod: Obj, *, now: datetime.datetime) -> None:
    """Move `record` through every exit and restart due by `now`, each at the time it was
    due (so a late sync reports the times a kubelet would have), and set `record.due`."""
    seconds = run_seconds(pod)
    policy = podstatus.restart_policy(pod)
    while True:
        record.due = None
        if record.state == RUNNING and seconds is not None:
            record.due = meta.parse_time(record.started_at) + datetime.timedelta(
                seconds=seconds)
        elif record.state == BACKING_OFF:
            record.due = meta.parse_time(record.finished_at) + datetime.timedelta(
                seconds=podstatus.backoff_seconds(record.restart_count))
        if record.due is None or record.due > now:
            return
        if record.state == RUNNING:
            code = exit_code(pod)
            record.exit_code = code
            record.reason = COMPLETED if code == 0 else ERROR
            record.finished_at = meta.format_time(record.due)
            record.state = BACKING_OFF if podstatus.restarts(policy, code) else TERMINATED
            if record.state == BACKING_OFF:
                record.last_terminated = {
                    "exitCode": code, "reason": record.reason,
                    "startedAt": record.started_at, "finishedAt": record.finished_at}
        else:
            record.restart_count += 1
            record.started_at = meta.format_time(record.due)
            record.state = RUNNING


def kill(record: PodRecord, *, now: str) -> None:
    """Stop the containers for the pod's deletion: a running one dies of the SIGTERM."""
    if record.state == RUNNING:
        record.exit_code = SIGTERM_EXIT_CODE
        record.reason = ERROR
        record.finished_at = now
    elif record.state == BACKING_OFF:
        last = record.last_terminated or {}
        record.exit_code = int(last.get("exitCode", 0))
        record.reason = str(last.get("reason", COMPLETED))
    record.state = TERMINATED
    record.due = None


def recover(pod: Obj, *, holds_ip: bool) -> PodRecord | None:
    """The record of a pod this simulator (an earlier run of it) already started, read back
    from the pod's status; None when it never reported one. `holds_ip`: whether its IP is
    one the node's range marked used (not a hostNetwork pod's)."""
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    if not statuses or not str(statuses[0].get("containerID", "")).startswith(
            CONTAINER_ID_PREFIX) or not status.get("podIP"):
        return None
    first = statuses[0]
    state = first.get("state") or {}
    record = PodRecord(uid=meta.uid(pod), node=str((pod.get("spec") or {}).get("nodeName")),
                       pod_ip=status["podIP"], holds_ip=holds_ip,
                       start_time=status.get("startTime") or meta.now(),
                       restart_count=int(first.get("restartCount") or 0),
                       last_terminated=(first.get("lastState") or {}).get("terminated"),
                       written=status)
    if record.last_terminated is not None:
        record.last_terminated = {k: v for k, v in record.last_terminated.items()
                                  if k != "containerID"}
    if "running" in state:
        record.started_at = state["running"].get("startedAt") or record.start_time
    elif "terminated" in state:
        terminated = state["terminated"]
        record.state = TERMINATED
        record.exit_code = int(terminated.get("exitCode") or 0)
        record.reason = terminated.get("reason") or ""
        record.started_at = terminated.get("startedAt") or record.start_time
        record.finished_at = terminated.get("finishedAt") or record.start_time
    else:
        record.state = BACKING_OFF
        record.finished_at = (record.last_terminated or {}).get("finishedAt") or meta.now()
    return record


def node_name_index(pod: Obj) -> list[str]:
    """The NODE_NAME_INDEX function: the node a pod is bound to, if any."""
    name = (pod.get("spec") or {}).get("nodeName")
    return [name] if name else []


class PodLifecycle:
    """Walks the pods bound to the simulated nodes `add_node`ed to it through their lives,
    from the shared pod informer (which must carry NODE_NAME_INDEX). Pod changes enqueue the
    pod's key; `concurrent_pod_syncs` workers `sync` keys, a key never twice at once; timers
    (exits, back-offs) re-enqueue a key when due; a failed sync is logged and retried with
    the default controller back-off. `pods_started` counts pods reported Running."""

    def __init__(self, client: rest.RESTClient, *, pods: informer.Informer,
                 settings: PodLifecycleSettings | None = None,
                 clock: clock_.Clock | None = None, wall: Wall | None = None) -> None:
        self._client = client
        self._pods = pods
        self._settings = settings or PodLifecycleSettings()
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self._wall: Wall = wall or _utc_now
        self._queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="sim-pods", clock=self._clock)
        self._nodes: dict[str, node_.SimNode] = {}
        self._ips: dict[str, cidrset.Range] = {}
        self._records: dict[str, PodRecord] = {}
        self.pods_started = 0
        pods.add_handlers(on_add=self._on_pod, on_update=self._on_pod_update,
                          on_delete=self._on_pod_delete)

    def add_node(self, sim: node_.SimNode) -> None:
        """Start looking after `sim`'s pods: the IPs its pods in the cache hold are marked
        used, then each of those pods is synced."""
        self._nodes[sim.name] = sim
        ips = ipam.pod_ips(sim.pod_cidr)
        on_node = self._pods.cache.by_index(NODE_NAME_INDEX, sim.name)
        ips.occupy(str((pod.get("status") or {}).get("podIP")) for pod in on_node
                   if (pod.get("status") or {}).get("podIP")
                   and (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES)
        self._ips[sim.name] = ips
        for pod in on_node:
            self._queue.add(informer.meta_namespace_key(pod))

    def _ours(self, pod: Obj | informer.DeletedFinalStateUnknown) -> bool:
        obj = pod.obj if isinstance(pod, informer.DeletedFinalStateUnknown) else pod
        return (obj.get("spec") or {}).get("nodeName") in self._nodes

    def _on_pod(self, pod: Obj) -> None:
        if self._ours(pod):
            self._queue.add(informer.meta_namespace_key(pod))

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        if meta.resource_version(old) != meta.resource_version(new):
            self._on_pod(new)

    def _on_pod_delete(self, pod: Obj | informer.DeletedFinalStateUnknown) -> None:
        if self._ours(pod):
            self._queue.add(informer.meta_namespace_key(pod))

    async def run(self) -> None:
        """Sync pods until cancelled."""
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(self._settings.concurrent_pod_syncs):
                    group.create_task(self._worker())
        finally:
            self._queue.shut_down()

    async def _worker(self) -> None:
        async for key in self._queue:
            try:
                await self.sync(key)
            except backoff.RETRIABLE as exc:
                log.warning("syncing pod %s failed, will retry: %s", key, exc)
                self._queue.add_rate_limited(key)
            else:
                self._queue.forget(key)
            finally:
                self._queue.done(key)

    async def sync(self, key: str) -> None:
        """Bring `key`'s pod one step on: start it, report exits and restarts that are due,
        stop and delete it when it is being deleted, forget it when it is gone. Writes
        nothing when the status would not change. Raises StatusError and transport errors
        (the worker retries)."""
        pod = self._pods.cache.get(key)
        record = self._records.get(key)
        if pod is None or (record is not None and record.uid != meta.uid(pod)):
            self._forget(key)
            record = None
            if pod is None:
                return
        sim = self._nodes.get((pod.get("spec") or {}).get("nodeName") or "")
        if sim is None:
            return
        phase = (pod.get("status") or {}).get("phase")
        if meta.deletion_timestamp(pod):
            await self._stop(key, pod, record, sim=sim, phase=phase)
            return
        if phase in TERMINAL_PHASES:
            self._release(key)
            return
        now = self._wall()
        if record is None:
            host_network = bool((pod.get("spec") or {}).get("hostNetwork"))
            record = recover(pod, holds_ip=not host_network) or \
                self._start(pod, sim, now=meta.format_time(now))
            self._records[key] = record
        advance(record, pod, now=now)
        await self._write(pod, record, sim=sim, now=meta.format_time(now))
        if record.state == TERMINATED:
            self._release(key)
        elif record.due is not None:
            self._queue.add_after(key, (record.due - self._wall()).total_seconds())

    def _start(self, pod: Obj, sim: node_.SimNode, *, now: str) -> PodRecord:
        host_network = bool((pod.get("spec") or {}).get("hostNetwork"))
        pod_ip = sim.internal_ip if host_network else self._ips[sim.name].allocate()
        self.pods_started += 1
        return PodRecord(uid=meta.uid(pod), node=sim.name, pod_ip=pod_ip, start_time=now,
                         started_at=now, holds_ip=not host_network)

    async def _write(self, pod: Obj, record: PodRecord, *, sim: node_.SimNode,
                     now: str) -> None:
        status = pod_status(pod, record, host_ip=sim.internal_ip, now=now)
        if status == record.written:
            return
        path = rest.resource_path(*PODS, namespace=meta.namespace(pod), name=meta.name(pod),
                                  subresource="status")
        await self._client.patch(path, {"metadata": {"uid": record.uid}, "status": status})
        record.written = status

    async def _stop(self, key: str, pod: Obj, record: PodRecord | None, *,
                    sim: node_.SimNode, phase: str | None) -> None:
        """Stop the containers (reported), then delete the pod with grace period 0, with the
        pod's uid as precondition so that a pod re-created under the name is left alone."""
        if record is not None and phase not in TERMINAL_PHASES:
            now = meta.format_time(self._wall())
            kill(record, now=now)
            await self._write(pod, record, sim=sim, now=now)
        options = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                   "preconditions": {"uid": meta.uid(pod)}}
        try:
            await self._client.delete(rest.resource_path(
                *PODS, namespace=meta.namespace(pod), name=meta.name(pod)), options=options)
        except errors.StatusError as exc:
            if exc.code not in (404, 409):
                raise
        self._release(key)

    def _release(self, key: str) -> None:
        """Give the pod's IP back to its node (its sandbox is gone), once; the record keeps
        the IP, which the pod's status goes on reporting, as upstream's does."""
        record = self._records.get(key)
        if record is None or not record.holds_ip:
            return
        record.holds_ip = False
        ips = self._ips.get(record.node)
        if ips is not None:
            ips.release(record.pod_ip)

    def _forget(self, key: str) -> None:
        self._release(key)
        self._records.pop(key, None)


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
