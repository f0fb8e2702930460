"""The rules a kubelet follows when it reports a pod's status, shared by the real kubelet
(`kajitori.kubelet.podstatus`) and the simulated one (`kajitori.sim.podlifecycle`).

Mirrors upstream v1.33's `pkg/kubelet/status/generate.go` (the kubelet-owned conditions and
their reasons and messages), `getPhase` of `pkg/kubelet/kubelet_pods.go` (the phase from the
container statuses), the condition merge of `generateAPIPodStatus` and the status manager's
`updateLastTransitionTime` (conditions others own are kept as they were; a kubelet condition
whose status did not change keeps its lastTransitionTime), and the crash-loop back-off's
numbers and wording (`pkg/kubelet/kuberuntime/kuberuntime_container.go`, `kubelet.go`).

Everything here works on wire-format container statuses (`containerStatuses[]` entries), so
both kubelets first build those and then call these functions.
"""

from __future__ import annotations

from typing import Any

from kajitori.api import meta

Obj = dict[str, Any]

# Phases.
PENDING, RUNNING, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"
TERMINAL_PHASES = frozenset({SUCCEEDED, FAILED})

# The kubelet-owned condition types, in the order the kubelet writes them.
READY_TO_START = "PodReadyToStartContainers"
INITIALIZED = "Initialized"
READY = "Ready"
CONTAINERS_READY = "ContainersReady"
SCHEDULED = "PodScheduled"
KUBELET_CONDITIONS = (READY_TO_START, INITIALIZED, READY, CONTAINERS_READY, SCHEDULED)

# Condition reasons (upstream's `pkg/kubelet/status/generate.go`).
UNKNOWN_CONTAINER_STATUSES = "UnknownContainerStatuses"
POD_COMPLETED = "PodCompleted"
POD_FAILED = "PodFailed"
CONTAINERS_NOT_READY = "ContainersNotReady"
CONTAINERS_NOT_INITIALIZED = "ContainersNotInitialized"
READINESS_GATES_NOT_READY = "ReadinessGatesNotReady"

# Restart policies.
ALWAYS, ON_FAILURE, NEVER = "Always", "OnFailure", "Never"

CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"
"""The waiting reason of a container whose restart is backed off."""
INITIAL_BACKOFF = 10.0
"""Seconds of the first crash-loop back-off (the kubelet's `backOffPeriod`)."""
MAX_BACKOFF = 300.0
"""Seconds the crash-loop back-off stops doubling at (the kubelet's `MaxContainerBackOff`)."""


def restart_policy(pod: Obj) -> str:
    """The pod's restartPolicy (`Always` when unset, as defaulting makes it)."""
    return str((pod.get("spec") or {}).get("restartPolicy") or ALWAYS)


def restarts(policy: str, exit_code: int) -> bool:
    """Whether an exited container starts again (`Always`, or `OnFailure` after a failure)."""
    return policy == ALWAYS or (policy == ON_FAILURE and exit_code != 0)


def is_sidecar(container: Obj) -> bool:
    """Whether an init container is a sidecar (a restartable init container)."""
    return container.get("restartPolicy") == ALWAYS


def backoff_seconds(restart_count: int) -> float:
    """Seconds before restart number `restart_count + 1` of a container that keeps failing:
    none for the first, then 10 s doubling to 5 min."""
    if restart_count == 0:
        return 0.0
    return min(INITIAL_BACKOFF * 2.0 ** (restart_count - 1), MAX_BACKOFF)


def format_pod(pod: Obj) -> str:
    """How the kubelet names a pod in messages (upstream format.Pod): `name_namespace(uid)`."""
    return f"{meta.name(pod)}_{meta.namespace(pod)}({meta.uid(pod)})"


def crash_loop_message(pod: Obj, container_name: str, *, delay: float) -> str:
    """The CrashLoopBackOff waiting message, as upstream words it."""
    return (f"back-off {int(delay)}s restarting failed container={container_name} "
            f"pod={format_pod(pod)}")


def spec_fields(container: Obj) -> Obj:
    """What a container status repeats of the container's spec in v1.33: `volumeMounts`
    (with `recursiveReadOnly` for read-only ones) and `resources` (requests and limits, as
    the in-place resize beta reports them); only those the container has."""
    fields: Obj = {}
    mounts = container.get("volumeMounts") or []
    if mounts:
        fields["volumeMounts"] = [_mount_status(m) for m in mounts]
    resources = {k: v for k, v in (container.get("resources") or {}).items()
                 if k in ("requests", "limits") and v}
    if resources:
        fields["resources"] = resources
    return fields


def _mount_status(mount: Obj) -> Obj:
    out: Obj = {"name": mount.get("name"), "mountPath": mount.get("mountPath")}
    if mount.get("readOnly"):
        out["readOnly"] = True
        out["recursiveReadOnly"] = mount.get("recursiveReadOnly") or "Disabled"
    return out


def _state(status: Obj) -> Obj:
    return status.get("state") or {}


def _last_terminated(status: Obj) -> Obj | None:
    terminated: Obj | None = (status.get("lastState") or {}).get("terminated")
    return terminated


def _by_name(statuses: list[Obj]) -> dict[str, Obj]:
    return {str(s.get("name")): s for s in statuses}


def has_any_regular_container_started(pod: Obj, statuses: list[Obj]) -> bool:
    """Whether an app container has ever run (upstream's HasAnyRegularContainerStarted): the
    pod was initialized once, even when a sidecar restarts now."""
    names = {c.get("name") for c in (pod.get("spec") or {}).get("containers") or []}
    return any(s.get("name") in names and ("running" in _state(s) or "terminated" in _state(s))
               for s in statuses)


def phase(pod: Obj, statuses: list[Obj], *, terminal: bool = False) -> str:
    """The pod's phase from its init and app container statuses (upstream getPhase).
    `terminal`: the kubelet has decided the pod will not run again (it is being deleted, or
    was evicted), so stopped containers end it whatever its restartPolicy."""
    spec = pod.get("spec") or {}
    policy = restart_policy(pod)
    found = _by_name(statuses)
    pending_init = pending_sidecars = failed_init = 0
    unknown = running = waiting = stopped = succeeded = 0
    for container in spec.get("initContainers") or []:
        status = found.get(str(container.get("name")))
        state = _state(status) if status is not None else {}
        if is_sidecar(container):
            if status is None or not state:
                pending_sidecars += 1
                unknown += 1
            elif "running" in state:
                running += 1
                if not status.get("started"):
                    pending_sidecars += 1
            elif "waiting" in state and _last_terminated(status) is None:
                pending_sidecars += 1
                waiting += 1
            continue
        if status is None or "running" in state or not state:
            pending_init += 1
        elif "terminated" in state:
            failed_init += state["terminated"].get("exitCode", 0) != 0
        elif (last := _last_terminated(status)) is not None:
            failed_init += last.get("exitCode", 0) != 0
        else:
            pending_init += 1
    for container in spec.get("containers") or []:
        status = found.get(str(container.get("name")))
        state = _state(status) if status is not None else {}
        if status is None or not state:
            unknown += 1
        elif "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            succeeded += state["terminated"].get("exitCode", 0) == 0
        elif _last_terminated(status) is not None:
            stopped += 1
        else:
            waiting += 1
    if failed_init and policy == NEVER:
        return FAILED
    initialized = has_any_regular_container_started(pod, statuses)
    if pending_init or (pending_sidecars and not initialized) or waiting:
        return PENDING
    if running and not unknown:
        return RUNNING
    if not running and stopped and not unknown:
        if terminal:
            return SUCCEEDED if stopped == succeeded else FAILED
        if policy == ALWAYS:
            return RUNNING
        if stopped == succeeded:
            return SUCCEEDED
        return FAILED if policy == NEVER else RUNNING
    return PENDING


def _names(names: list[str]) -> str:
    """A list of names as Go's `%s` prints a []string: `[a b]`."""
    return f"[{' '.join(names)}]"


Condition = tuple[str, str, str]
"""(status, reason, message) of one condition."""


def _unless_any(reason: str, *, unknown: list[str], other: list[str], word: str) -> Condition:
    """True, or False with `reason` and upstream's message naming the containers of unknown
    status and those `word` (`unready`, `incomplete`)."""
    messages = []
    if unknown:
        messages.append(f"containers with unknown status: {_names(unknown)}")
    if other:
        messages.append(f"containers with {word} status: {_names(other)}")
    if messages:
        return ("False", reason, ", ".join(messages))
    return ("True", "", "")


def containers_ready(pod: Obj, statuses: list[Obj] | None, *, phase: str) -> Condition:
    """ContainersReady: every sidecar and app container ready (GenerateContainersReadyCondition)."""
    if statuses is None:
        return ("False", UNKNOWN_CONTAINER_STATUSES, "")
    spec = pod.get("spec") or {}
    found = _by_name(statuses)
    unknown: list[str] = []
    unready: list[str] = []
    wanted = [c for c in spec.get("initContainers") or [] if is_sidecar(c)]
    for container in wanted + list(spec.get("containers") or []):
        name = str(container.get("name"))
        if name not in found:
            unknown.append(name)
        elif not found[name].get("ready"):
            unready.append(name)
    if (phase == SUCCEEDED and not unknown) or phase == FAILED:
        return ("False", POD_COMPLETED if phase == SUCCEEDED else POD_FAILED, "")
    return _unless_any(CONTAINERS_NOT_READY, unknown=unknown, other=unready, word="unready")


def pod_ready(pod: Obj, statuses: list[Obj] | None, *, phase: str,
              conditions: list[Obj]) -> Condition:
    """Ready: ContainersReady and every readiness gate's condition True among `conditions`
    (the pod's current ones) (GeneratePodReadyCondition)."""
    ready = containers_ready(pod, statuses, phase=phase)
    if ready[0] != "True":
        return ready
    by_type = {c.get("type"): c for c in conditions}
    unmet = []
    for gate in (pod.get("spec") or {}).get("readinessGates") or []:
        kind = gate.get("conditionType")
        found = by_type.get(kind)
        if found is None:
            unmet.append(f'corresponding condition of pod readiness gate "{kind}" does not exist.')
        elif found.get("status") != "True":
            unmet.append(f'the status of pod readiness gate "{kind}" is not "True", '
                         f"but {found.get('status')}")
    if unmet:
        return ("False", READINESS_GATES_NOT_READY, ", ".join(unmet))
    return ("True", "", "")


def initialized(pod: Obj, statuses: list[Obj] | None, *, phase: str) -> Condition:
    """Initialized: every init container completed and every sidecar started
    (GeneratePodInitializedCondition)."""
    init = (pod.get("spec") or {}).get("initContainers") or []
    if statuses is None:
        return ("False", UNKNOWN_CONTAINER_STATUSES, "") if init else ("True", "", "")
    found = _by_name(statuses)
    unknown: list[str] = []
    incomplete: list[str] = []
    for container in init:
        name = str(container.get("name"))
        status = found.get(name)
        if status is None:
            unknown.append(name)
        elif not status.get("started" if is_sidecar(container) else "ready"):
            incomplete.append(name)
    if phase == SUCCEEDED and not unknown:
        return ("True", POD_COMPLETED, "")
    if has_any_regular_container_started(pod, statuses):
        return ("True", "", "")
    return _unless_any(CONTAINERS_NOT_INITIALIZED, unknown=unknown, other=incomplete,
                       word="incomplete")


def kubelet_conditions(pod: Obj, statuses: list[Obj] | None, *, phase: str,
                       sandbox_ready: bool, now: str) -> list[Obj]:
    """The pod's conditions as the kubelet writes them: those others own first, as they
    are in the pod's status, then the kubelet's five in upstream's order. `statuses` are the
    init and app container statuses together (None: not known yet); `sandbox_ready`: the
    pod's sandbox exists with its network (PodReadyToStartContainers). A condition whose
    status did not change keeps its lastTransitionTime; a changed one gets `now`."""
    current = (pod.get("status") or {}).get("conditions") or []
    wanted: dict[str, Condition] = {
        READY_TO_START: ("True" if sandbox_ready else "False", "", ""),
        INITIALIZED: initialized(pod, statuses, phase=phase),
        READY: pod_ready(pod, statuses, phase=phase, conditions=current),
        CONTAINERS_READY: containers_ready(pod, statuses, phase=phase),
        SCHEDULED: ("True", "", ""),
    }
    before = {c.get("type"): c for c in current}
    out = [c for c in current if c.get("type") not in wanted]
    for kind in KUBELET_CONDITIONS:
        status, reason, message = wanted[kind]
        old = before.get(kind)
        kept = old.get("lastTransitionTime") if old and old.get("status") == status else None
        condition: Obj = {"type": kind, "status": status, "lastProbeTime": None,
                          "lastTransitionTime": kept or now}
        if reason:
            condition["reason"] = reason
        if message:
            condition["message"] = message
        out.append(condition)
    return out
