"""The prober: liveness, readiness and startup probes of every running container of the node.

Mirrors upstream's `pkg/kubelet/prober`: `prober_manager.go` (`ProbeManager`: one worker per
container and probe kind, readiness and started as the status reports them), `worker.go` (the
schedule: initialDelaySeconds, periodSeconds, success/failure thresholds, startup gating, hold
after a failed liveness or startup probe until the container is replaced) and `prober.go`
(retries and the `Unhealthy` / `ProbeWarning` events). The probe kinds themselves are in
`kubelet/probes.py`.

The pod worker (`kubelet/podworker.py`) drives it: `add_pod`, `update_container` whenever a
container starts, is replaced or stops, `remove_pod`; it reads `is_ready` / `is_started` when it
builds the status, and restarts a container when `on_liveness_failure` says so, naming the
probe with `liveness_failure(...).kill_message(...)` in its `Killing` event.

Departures from upstream: the first probe of a new container runs as soon as its
initialDelaySeconds have passed rather than on the worker's next tick (upstream's readiness
probe gets there through the manual trigger of UpdatePodStatus; here every kind does, which is
one of the timings upstream can show); a stopped container's worker waits for the next
`update_container` instead of ticking.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from kajitori.api import meta
from kajitori.client import clock as clock_
from kajitori.client import events
from kajitori.kubelet import containerref, envvars, probes, runtime

Obj = dict[str, Any]

log = logging.getLogger(__name__)

UNHEALTHY = "Unhealthy"
"""Event reason of a failed or errored probe (upstream's events.ContainerUnhealthy)."""
PROBE_WARNING = "ProbeWarning"
"""Event reason of a probe that passed with a warning (an unfollowed redirect)."""
MAX_PROBE_RETRIES = 3
"""Tries of a probe that errors (could not be run) before the error is reported."""

DEFAULT_TIMEOUT_SECONDS = 1
DEFAULT_PERIOD_SECONDS = 10
DEFAULT_SUCCESS_THRESHOLD = 1
DEFAULT_FAILURE_THRESHOLD = 3
"""The API's probe defaults, for pods that reach the kubelet undefaulted (static pods)."""


class ProbeType(enum.Enum):
    """The value is how events and kill messages name it."""

    LIVENESS = "Liveness"
    READINESS = "Readiness"
    STARTUP = "Startup"

    @property
    def field(self) -> str:
        return {ProbeType.LIVENESS: "livenessProbe", ProbeType.READINESS: "readinessProbe",
                ProbeType.STARTUP: "startupProbe"}[self]


def failed_probe_message(container_name: str, probe_type: ProbeType, *, restart: bool) -> str:
    """The `Killing` event's message for a container killed by a probe (upstream's
    computePodActions): `Container liveness failed liveness probe, will be restarted`; without
    `, will be restarted` when the pod's restartPolicy will not restart it."""
    message = f"Container {container_name} failed {probe_type.value.lower()} probe"
    return f"{message}, will be restarted" if restart else message


@dataclasses.dataclass(frozen=True)
class LivenessFailure:
    """Why a container must be killed: its liveness or startup probe failed."""

    probe_type: ProbeType
    container_name: str
    termination_grace_period_seconds: int | None
    """The probe's own terminationGracePeriodSeconds, which replaces the pod's for this kill;
    None to use the pod's."""

    def kill_message(self, *, restart: bool) -> str:
        return failed_probe_message(self.container_name, self.probe_type, restart=restart)


def probed_containers(pod: Obj) -> list[Obj]:
    """The containers probes apply to: sidecars (init containers with restartPolicy Always)
    and the app containers (validation allows no probes on other init containers)."""
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or []
                if c.get("restartPolicy") == "Always"]
    return sidecars + list(spec.get("containers") or [])


def expand_static(action: Obj, container: Obj) -> list[str]:
    """An exec probe's command with `$(VAR)` references to the container's `env` expanded,
    the static `value`s only (upstream's ExpandContainerCommandOnlyStatic: the prober has no
    ConfigMaps, Secrets or downward API at hand; a `valueFrom` variable expands to "")."""
    values = {env.get("name", ""): str(env.get("value", ""))
              for env in container.get("env") or []}
    mapping = envvars.mapping_for(values)
    return [envvars.expand(str(part), mapping) for part in action.get("command") or []]


async def run_probe(cri: runtime.RuntimeService, probe_type: ProbeType, pod: Obj,
                    container: Obj, *, container_id: str, pod_ip: str,
                    recorder: events.EventRecorder) -> bool | None:
    """Run the container's probe of `probe_type` once, with upstream's retries and events
    (prober.probe): True on success (also with a warning: a `ProbeWarning` event), False on
    failure (an `Unhealthy` event `Liveness probe failed: <output>`), None when it could not be
    run after MAX_PROBE_RETRIES tries (an `Unhealthy` event `... probe errored and resulted in
    unknown state: ...`; the worker throws such a result away)."""
    spec = container.get(probe_type.field)
    if spec is None:
        return True
    outcome = probes.Outcome(probes.Result.UNKNOWN)
    for _ in range(MAX_PROBE_RETRIES):
        outcome = await _run_once(cri, spec, container, container_id=container_id,
                                  pod_ip=pod_ip)
        if outcome.error is None:
            break
    kind = probe_type.value
    field_path = containerref.field_path(pod, str(container.get("name")))
    if outcome.error is not None:
        recorder.event(pod, events.WARNING, UNHEALTHY, f"{kind} probe errored and resulted in "
                       f"{outcome.result.value} state: {outcome.error}", field_path=field_path)
        return None
    if outcome.result is probes.Result.SUCCESS:
        return True
    if outcome.result is probes.Result.WARNING:
        recorder.event(pod, events.WARNING, PROBE_WARNING,
                       f"{kind} probe warning: {outcome.output}", field_path=field_path)
        return True
    if outcome.result is probes.Result.FAILURE:
        recorder.event(pod, events.WARNING, UNHEALTHY, f"{kind} probe failed: {outcome.output}",
                       field_path=field_path)
    return False


async def _run_once(cri: runtime.RuntimeService, spec: Obj, container: Obj, *,
                    container_id: str, pod_ip: str) -> probes.Outcome:
    """prober.runProbe: dispatch on the handler the probe has."""
    timeout = int(spec.get("timeoutSeconds") or DEFAULT_TIMEOUT_SECONDS)
    try:
        if (action := spec.get("exec")) is not None:
            return await probes.probe_exec(cri, container_id, expand_static(action, container),
                                           timeout_seconds=timeout)
        if (action := spec.get("httpGet")) is not None:
            request = probes.new_request_for_http_get_action(
                action, container, pod_ip=pod_ip, purpose=probes.PROBE_PURPOSE)
            return await probes.probe_http(request, timeout_seconds=timeout)
        if (action := spec.get("tcpSocket")) is not None:
            port = probes.resolve_container_port(action.get("port", 0), container)
            return await probes.probe_tcp(action.get("host") or pod_ip, port,
                                          timeout_seconds=timeout)
        if (action := spec.get("grpc")) is not None:
            return await probes.probe_grpc(pod_ip, int(action.get("port", 0)),
                                           service=action.get("service") or "",
                                           timeout_seconds=timeout)
    except probes.PortError as exc:
        return probes.Outcome(probes.Result.UNKNOWN, error=str(exc))
    return probes.Outcome(probes.Result.UNKNOWN,
                          error=f"missing probe handler for container {container.get('name')}")


@dataclasses.dataclass
class _ContainerState:
    """What the pod worker last told about a container."""

    container_id: str = ""
    started_at: float | None = None
    """Seconds since the epoch; None while not running."""
    pod_ip: str = ""


class _PodProbes:
    def __init__(self, pod: Obj) -> None:
        self.pod = pod
        self.containers: dict[str, _ContainerState] = {}
        self.workers: dict[tuple[str, ProbeType], _Worker] = {}


class ProbeManager:
    """Probes the containers of the pods it is given; one worker (asyncio task) per container
    and probe kind, started by `run()` and ended by `remove_pod` or cancellation.

    Results belong to a container id: a new id (`update_container`) resets them to the initial
    values: readiness False until the first success, liveness passing, startup not yet.
    Callbacks run on the event loop and must not block: `on_liveness_failure(pod_uid,
    container_name)` once when a liveness probe reaches failureThreshold or a startup probe
    fails (the worker then holds until the container is replaced), `on_change(pod_uid)` when a
    container's readiness or started state changes.

    `clock` paces the workers (tests pass a FakeClock); `wall_clock` is the time `started_at`
    is measured on (the epoch; tests pass the fake clock's `now`); `jitter` returns [0, 1): the
    part of periodSeconds a worker waits before its first probe when the kubelet has just
    started, so that probes of adopted containers do not all run at once (upstream's worker).
    """

    def __init__(self, runtime_service: runtime.RuntimeService, *,
                 recorder: events.EventRecorder,
                 on_liveness_failure: Callable[[str, str], None],
                 on_change: Callable[[str], None] = lambda pod_uid: None,
                 clock: clock_.Clock | None = None,
                 wall_clock: Callable[[], float] = time.time,
                 jitter: Callable[[], float] = random.random) -> None:
        self._runtime = runtime_service
        self._recorder = recorder
        self._on_liveness_failure = on_liveness_failure
        self._on_change = on_change
        self.clock: clock_.Clock = clock or clock_.LoopClock()
        self.wall_clock = wall_clock
        self._jitter = jitter
        self._pods: dict[str, _PodProbes] = {}
        self._tasks: dict[_Worker, asyncio.Task[None]] = {}
        self._group: asyncio.TaskGroup | None = None
        self.started_at: float | None = None
        """When run() began, on `clock`."""

    # --- the pod worker's side ---------------------------------------------------------------

    def add_pod(self, pod: Obj) -> None:
        """Start probing the pod's containers (idempotent: known containers keep their
        workers). Called again with the pod's deletion requested, it stops the liveness and
        startup probes, which would otherwise kill containers during their graceful
        termination (upstream's StopLivenessAndStartup)."""
        uid = meta.uid(pod)
        entry = self._pods.get(uid)
        if entry is None:
            entry = self._pods[uid] = _PodProbes(pod)
        entry.pod = pod
        deleting = meta.deletion_timestamp(pod) is not None
        if deleting:
            for (_, probe_type), worker in list(entry.workers.items()):
                if probe_type is not ProbeType.READINESS:
                    self._stop(worker)
        for container in probed_containers(pod):
            for probe_type in ProbeType:
                key = (container["name"], probe_type)
                if (container.get(probe_type.field) is None or key in entry.workers
                        or (deleting and probe_type is not ProbeType.READINESS)):
                    continue
                worker = _Worker(self, entry, container, probe_type)
                entry.workers[key] = worker
                self._start(worker)

    def remove_pod(self, pod_uid: str) -> None:
        """Stop every probe of the pod and forget its results. Idempotent."""
        entry = self._pods.pop(pod_uid, None)
        if entry is not None:
            for worker in list(entry.workers.values()):
                self._stop(worker)

    def update_container(self, pod_uid: str, container_name: str, *, container_id: str,
                         started_at: float | None, pod_ip: str = "") -> None:
        """The container's current instance: its id (as in containerStatuses, with or without
        `containerd://`) and start time in seconds since the epoch, None when it is not
        running. A new id resets the container's results; probing (re)starts once
        initialDelaySeconds have passed since `started_at`. Calling it again with the same
        values changes nothing (a pod worker may call it on every sync). `pod_ip` is where httpGet,
        tcpSocket and grpc probes go without a host of their own; "" (a caller that does not
        know it yet) falls back to the pod's status.podIP."""
        entry = self._pods.get(pod_uid)
        if entry is None:
            return
        state = entry.containers.setdefault(container_name, _ContainerState())
        replaced = state.container_id != container_id
        changed = replaced or state.started_at != started_at
        state.container_id, state.started_at = container_id, started_at
        state.pod_ip = pod_ip or state.pod_ip
        if not changed:
            return  # a sync that found nothing new must not hurry the probes on
        for (name, _), worker in entry.workers.items():
            if name == container_name:
                if replaced:
                    worker.reset(container_id)
                worker.wake.set()

    def is_started(self, pod_uid: str, container_name: str) -> bool:
        """containerStatuses[].started: running, and its startup probe (if any) passed."""
        entry = self._pods.get(pod_uid)
        state = entry.containers.get(container_name) if entry else None
        if entry is None or state is None or state.started_at is None:
            return False
        worker = entry.workers.get((container_name, ProbeType.STARTUP))
        return worker is None or worker.result is True

    def is_ready(self, pod_uid: str, container_name: str) -> bool:
        """containerStatuses[].ready: started, and its readiness probe's last verdict is a
        success; without a readiness probe, ready as soon as started."""
        if not self.is_started(pod_uid, container_name):
            return False
        worker = self._pods[pod_uid].workers.get((container_name, ProbeType.READINESS))
        return worker is None or worker.result is True

    def liveness_failure(self, pod_uid: str, container_name: str) -> LivenessFailure | None:
        """Why the container's current instance must be killed, if a probe says so."""
        entry = self._pods.get(pod_uid)
        if entry is None:
            return None
        for probe_type in (ProbeType.LIVENESS, ProbeType.STARTUP):
            worker = entry.workers.get((container_name, probe_type))
            if worker is not None and worker.result is False and worker.container_id:
                grace = worker.spec.get("terminationGracePeriodSeconds")
                return LivenessFailure(probe_type, container_name,
                                       None if grace is None else int(grace))
        return None

    async def run(self) -> None:
        """Run the workers until cancelled; workers of pods added later start at once."""
        self.started_at = self.clock.now()
        async with asyncio.TaskGroup() as group:
            self._group = group
            try:
                for entry in self._pods.values():
                    for worker in entry.workers.values():
                        self._start(worker)
                await asyncio.Event().wait()
            finally:
                self._group = None

    # --- the workers' side -------------------------------------------------------------------

    def _start(self, worker: _Worker) -> None:
        if self._group is not None and worker not in self._tasks:
            self._tasks[worker] = self._group.create_task(worker.run())

    def _stop(self, worker: _Worker) -> None:
        worker.pod_probes.workers.pop((worker.container["name"], worker.probe_type), None)
        task = self._tasks.pop(worker, None)
        if task is not None:
            task.cancel()

    def _report(self, worker: _Worker, changed: bool) -> None:
        uid = meta.uid(worker.pod_probes.pod)
        name = worker.container["name"]
        if worker.probe_type is not ProbeType.READINESS and worker.result is False:
            self._on_liveness_failure(uid, name)
        elif changed:
            if worker.probe_type is ProbeType.STARTUP:
                # upstream re-syncs the pod, whose status update triggers readiness at once
                readiness = worker.pod_probes.workers.get((name, ProbeType.READINESS))
                if readiness is not None:
                    readiness.wake.set()
            self._on_change(uid)

    async def probe(self, worker: _Worker, state: _ContainerState) -> bool | None:
        status = worker.pod_probes.pod.get("status") or {}
        return await run_probe(self._runtime, worker.probe_type, worker.pod_probes.pod,
                               worker.container, container_id=state.container_id,
                               pod_ip=state.pod_ip or status.get("podIP") or "",
                               recorder=self._recorder)


class _Worker:
    """One probe of one container (upstream's worker): its result for the current container
    instance, and the run of equal verdicts counted against the thresholds."""

    def __init__(self, manager: ProbeManager, pod_probes: _PodProbes, container: Obj,
                 probe_type: ProbeType) -> None:
        self.manager = manager
        self.pod_probes = pod_probes
        self.container = container
        self.probe_type = probe_type
        self.spec: Obj = container[probe_type.field]
        self.container_id = ""
        self.result: bool | None = None
        self.on_hold = False
        self.last: bool | None = None
        self.run_length = 0
        self.wake = asyncio.Event()

    def reset(self, container_id: str) -> None:
        """A new container instance: the initial result (readiness failing, liveness passing,
        startup unknown) and probing resumes."""
        self.container_id = container_id
        self.result = {ProbeType.READINESS: False, ProbeType.LIVENESS: True,
                       ProbeType.STARTUP: None}[self.probe_type]
        self.on_hold = False
        self.last, self.run_length = None, 0

    @property
    def period(self) -> float:
        return float(self.spec.get("periodSeconds") or DEFAULT_PERIOD_SECONDS)

    async def run(self) -> None:
        manager = self.manager
        started = manager.started_at
        # just started (or restarted): spread the first probes of adopted containers
        pause = manager._jitter() * self.period
        if started is not None and manager.clock.now() - started < self.period and pause:
            await manager.clock.sleep(pause)
        while True:
            self.wake.clear()
            try:
                await self.do_probe()
            except Exception:  # a bug in one probe must not stop the node's other probes
                log.exception("%s probe of container %s in pod %s crashed",
                              self.probe_type.value, self.container["name"],
                              meta.name(self.pod_probes.pod))
            delay = self.next_delay()
            timer = None
            if delay is not None:
                timer = manager.clock.call_at(manager.clock.now() + delay, self.wake.set)
            try:
                await self.wake.wait()
            finally:
                if timer is not None:
                    timer.cancel()

    def next_delay(self) -> float | None:
        """Seconds to the next probe; None to wait for `update_container`."""
        state = self.pod_probes.containers.get(self.container["name"])
        if state is None or state.started_at is None or self.on_hold:
            return None
        initial = int(self.spec.get("initialDelaySeconds") or 0)
        remaining = state.started_at + initial - self.manager.wall_clock()
        return remaining if 0 < remaining < self.period else self.period

    async def do_probe(self) -> None:
        """One round of upstream's doProbe."""
        state = self.pod_probes.containers.get(self.container["name"])
        if state is None or not state.container_id or self.on_hold:
            return
        name, uid = self.container["name"], meta.uid(self.pod_probes.pod)
        if state.started_at is None:  # not running: not ready; nothing to kill
            if self.probe_type is ProbeType.READINESS and self.result is not False:
                self.result = False
                self.manager._report(self, True)
            return
        initial = int(self.spec.get("initialDelaySeconds") or 0)
        if int(self.manager.wall_clock() - state.started_at) < initial:
            return
        started = self.manager.is_started(uid, name)
        if started == (self.probe_type is ProbeType.STARTUP):
            return  # startup probes stop once started; the others wait for it
        container_id = state.container_id
        verdict = await self.manager.probe(self, state)
        if verdict is None or container_id != self.container_id:
            return  # errored, or the container was replaced meanwhile: throw it away
        if verdict == self.last:
            self.run_length += 1
        else:
            self.last, self.run_length = verdict, 1
        threshold = (self.spec.get("successThreshold") or DEFAULT_SUCCESS_THRESHOLD if verdict
                     else self.spec.get("failureThreshold") or DEFAULT_FAILURE_THRESHOLD)
        if self.run_length < int(threshold):
            return
        changed = self.result != verdict
        self.result = verdict
        if ((self.probe_type is ProbeType.LIVENESS and not verdict)
                or self.probe_type is ProbeType.STARTUP):
            # the container is killed (or has started): no more probing until it is replaced
            self.on_hold, self.run_length = True, 0
        self.manager._report(self, changed)
