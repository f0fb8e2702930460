"""What a pod sync must do in the runtime: upstream's computePodActions.

Mirrors upstream v1.33's `pkg/kubelet/kuberuntime/kuberuntime_manager.go` (`computePodActions`,
`computeInitContainerActions` with sidecar containers on, `podSandboxChanged`,
`shouldRestartOnFailure`) and the runtime's view of a pod, `pkg/kubelet/container/runtime.go`
(`PodStatus`, `Status`). Pure functions of the pod and what the runtime reports; the pod
worker (`kajitori.kubelet.podworker`) carries the actions out, the status generator
(`kajitori.kubelet.podstatus`) reports the same runtime view.

Rules: a pod without a ready sandbox with an IP gets a new one (attempt + 1), killing the old
one and all its containers, and starts again from its first init container, unless it has
restartPolicy Never and already ran containers, or all its app containers are done. Init
containers run one at a time, in order; a sidecar (init container with restartPolicy Always)
is started before the next init container and kept running (restarted when it exits). Once
initialized, app containers that are not running are started when their restart policy says
so; a running one whose spec hash changed, or whose liveness or startup probe failed, is
killed and started again. When no app container runs nor will be started, the pod is killed
(sidecars included). Crash-loop back-off is the worker's: these actions say what should
start, the worker decides when. Ephemeral containers (`kubectl debug`) start once each, in a
running sandbox, even before the pod is initialized; they are never restarted, and they keep
no pod alive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cri_api.v1 import api_pb2

from kajitori.api import podstatus as apipodstatus
from kajitori.kubelet import containerconfig, prober, runtime

Obj = dict[str, Any]

CREATED, RUNNING, EXITED, UNKNOWN = "created", "running", "exited", "unknown"
CRI_STATES = {api_pb2.CONTAINER_CREATED: CREATED, api_pb2.CONTAINER_RUNNING: RUNNING,
              api_pb2.CONTAINER_EXITED: EXITED, api_pb2.CONTAINER_UNKNOWN: UNKNOWN}

SPEC_CHANGED = "Container {name} definition changed"
"""Why a running container whose spec changed is killed (the `Killing` event's message; the
probes' are `prober.failed_probe_message`)."""
WILL_BE_RESTARTED = ", will be restarted"


@dataclass(frozen=True)
class ContainerState:
    """One container as the runtime reports it (upstream kubecontainer.Status). Times are
    nanoseconds since the epoch, 0 when unknown."""

    id: str
    name: str
    state: str
    created_at: int = 0
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    image: str = ""
    image_ref: str = ""
    hash: str = ""
    restart_count: int = 0
    termination_message_path: str = ""
    termination_message_policy: str = ""
    user: tuple[int, int, tuple[int, ...]] | None = None
    """uid, gid and supplementary groups of the container's first process, as the runtime
    reports them (CRI ContainerStatus.user.linux); None when it does not."""

    @classmethod
    def from_cri(cls, status: api_pb2.ContainerStatus) -> ContainerState:
        annotations = status.annotations
        user = None
        if status.HasField("user") and status.user.HasField("linux"):
            linux = status.user.linux
            user = (linux.uid, linux.gid, tuple(linux.supplemental_groups))
        return cls(
            user=user,
            id=status.id, name=status.metadata.name, state=CRI_STATES.get(status.state, UNKNOWN),
            created_at=status.created_at, started_at=status.started_at,
            finished_at=status.finished_at, exit_code=status.exit_code, reason=status.reason,
            message=status.message, image=status.image.image, image_ref=status.image_ref,
            hash=annotations.get(runtime.CONTAINER_HASH_ANNOTATION, ""),
            restart_count=int(annotations.get(runtime.CONTAINER_RESTART_COUNT_ANNOTATION, "0")),
            termination_message_path=annotations.get(
                runtime.CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION, ""),
            termination_message_policy=annotations.get(
                runtime.CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION, ""))


@dataclass(frozen=True)
class SandboxState:
    """One sandbox of the pod as the runtime reports it."""

    id: str
    attempt: int
    ready: bool
    ip: str = ""
    additional_ips: tuple[str, ...] = ()
    created_at: int = 0


@dataclass
class RuntimePod:
    """All the runtime has of one pod (upstream kubecontainer.PodStatus): sandboxes and
    containers, newest first."""

    sandboxes: list[SandboxState] = field(default_factory=list)
    containers: list[ContainerState] = field(default_factory=list)

    def latest(self, name: str) -> ContainerState | None:
        """The newest container named `name`."""
        return next((c for c in self.containers if c.name == name), None)

    def running(self) -> list[ContainerState]:
        return [c for c in self.containers if c.state == RUNNING]


@dataclass(frozen=True)
class Kill:
    """A running container to kill, and why (the Killing event's message)."""

    container: ContainerState
    message: str


@dataclass
class PodActions:
    """What one sync does, in this order: kill the pod (every container, then the sandbox),
    create a sandbox, kill `containers_to_kill`, start `ephemeral_containers_to_start`, the
    init containers in `init_containers_to_start` (names, in order), then
    `containers_to_start`."""

    kill_pod: bool = False
    create_sandbox: bool = False
    sandbox_id: str = ""
    attempt: int = 0
    init_containers_to_start: list[str] = field(default_factory=list)
    containers_to_start: list[str] = field(default_factory=list)
    containers_to_kill: list[Kill] = field(default_factory=list)
    ephemeral_containers_to_start: list[str] = field(default_factory=list)


def should_restart_on_failure(pod: Obj) -> bool:
    """Whether failed containers restart (restartPolicy is not Never)."""
    return apipodstatus.restart_policy(pod) != apipodstatus.NEVER


def container_succeeded(name: str, status: RuntimePod) -> bool:
    latest = status.latest(name)
    return latest is not None and latest.state == EXITED and latest.exit_code == 0


def should_container_be_restarted(pod: Obj, name: str, status: RuntimePod) -> bool:
    """Whether an app container that is not running starts (again): never created yet, or
    exited and its pod's restartPolicy restarts it."""
    latest = status.latest(name)
    if latest is None or latest.state in (CREATED, UNKNOWN):
        return True
    if latest.state == RUNNING:
        return False
    return apipodstatus.restarts(apipodstatus.restart_policy(pod), latest.exit_code)


def sandbox_changed(pod: Obj, status: RuntimePod) -> tuple[bool, int, str]:
    """(a new sandbox is needed, its attempt, the current sandbox's id) (upstream
    podSandboxChanged): none yet, more than one ready, the newest not ready, or no IP for a
    pod not on the host network."""
    if not status.sandboxes:
        return True, 0, ""
    newest = status.sandboxes[0]
    ready = [s for s in status.sandboxes if s.ready]
    host_network = bool((pod.get("spec") or {}).get("hostNetwork"))
    if len(ready) > 1 or not newest.ready or (not host_network and not newest.ip):
        return True, newest.attempt + 1, newest.id
    return False, newest.attempt, newest.id


def has_any_regular_container_created(pod: Obj, status: RuntimePod) -> bool:
    names = {c.get("name") for c in (pod.get("spec") or {}).get("containers") or []}
    return any(c.name in names for c in status.containers)


def _restart_reason(container: Obj, latest: ContainerState, *,
                    liveness_failed: frozenset[str] | set[str],
                    startup_failed: frozenset[str] | set[str]) -> str:
    """Why a running container must be restarted, or "" to keep it."""
    name = str(container.get("name"))
    if latest.hash and latest.hash != containerconfig.container_hash(container):
        return SPEC_CHANGED.format(name=name)
    if name in liveness_failed:
        return prober.failed_probe_message(name, prober.ProbeType.LIVENESS, restart=False)
    if name in startup_failed:
        return prober.failed_probe_message(name, prober.ProbeType.STARTUP, restart=False)
    return ""


def compute_pod_actions(pod: Obj, status: RuntimePod, *,
                        liveness_failed: frozenset[str] | set[str] = frozenset(),
                        startup_failed: frozenset[str] | set[str] = frozenset(),
                        sidecars_started: set[str] | None = None) -> PodActions:
    """The actions that bring the runtime to what `pod` asks for. `liveness_failed` and
    `startup_failed` name containers whose probe failed since they started;
    `sidecars_started` names sidecars whose startup probe passed (None: all running sidecars
    count as started, for pods without startup probes)."""
    spec = pod.get("spec") or {}
    create, attempt, sandbox_id = sandbox_changed(pod, status)
    actions = PodActions(kill_pod=create, create_sandbox=create, sandbox_id=sandbox_id,
                         attempt=attempt)
    containers = list(spec.get("containers") or [])
    if create:
        if not should_restart_on_failure(pod) and attempt != 0 and status.containers:
            actions.create_sandbox = False
            return actions
        to_start = [str(c.get("name")) for c in containers
                    if not (apipodstatus.restart_policy(pod) == apipodstatus.ON_FAILURE
                            and container_succeeded(str(c.get("name")), status))]
        if has_any_regular_container_created(pod, status) and not to_start:
            actions.create_sandbox = False
            return actions
        if spec.get("initContainers"):
            actions.init_containers_to_start = [str(spec["initContainers"][0].get("name"))]
            return actions
        actions.containers_to_start = to_start
        return actions
    # Never restarted: an ephemeral container the runtime has (even exited) is done.
    actions.ephemeral_containers_to_start = [
        str(c.get("name")) for c in spec.get("ephemeralContainers") or []
        if status.latest(str(c.get("name"))) is None]
    if not _init_container_actions(pod, status, actions, liveness_failed=liveness_failed,
                                   startup_failed=startup_failed,
                                   sidecars_started=sidecars_started):
        return actions
    keep = 0
    for container in containers:
        name = str(container.get("name"))
        latest = status.latest(name)
        if latest is None or latest.state != RUNNING:
            if should_container_be_restarted(pod, name, status):
                actions.containers_to_start.append(name)
            continue
        reason = _restart_reason(container, latest, liveness_failed=liveness_failed,
                                 startup_failed=startup_failed)
        if not reason:
            keep += 1
            continue
        # A changed spec restarts the container whatever the restart policy.
        if should_restart_on_failure(pod) or reason == SPEC_CHANGED.format(name=name):
            reason += WILL_BE_RESTARTED
            actions.containers_to_start.append(name)
        actions.containers_to_kill.append(Kill(latest, reason))
    if keep == 0 and not actions.containers_to_start:
        actions.kill_pod = True
        actions.init_containers_to_start = []
    return actions


def _init_container_actions(pod: Obj, status: RuntimePod, actions: PodActions, *,
                            liveness_failed: frozenset[str] | set[str],
                            startup_failed: frozenset[str] | set[str],
                            sidecars_started: set[str] | None) -> bool:
    """Fill in the init containers' part of `actions`; True once the pod is initialized
    (every regular init container succeeded, every sidecar before them started), so app
    containers may run."""
    initialized = has_any_regular_container_created(pod, status)
    for container in (pod.get("spec") or {}).get("initContainers") or []:
        name = str(container.get("name"))
        latest = status.latest(name)
        if apipodstatus.is_sidecar(container):
            if latest is None or latest.state != RUNNING:
                actions.init_containers_to_start.append(name)
                if not initialized:
                    return False
                continue
            reason = _restart_reason(container, latest, liveness_failed=liveness_failed,
                                     startup_failed=startup_failed)
            if reason:
                actions.containers_to_kill.append(Kill(latest, reason + WILL_BE_RESTARTED))
                actions.init_containers_to_start.append(name)
                if not initialized:
                    return False
            elif not initialized and sidecars_started is not None and \
                    name not in sidecars_started:
                return False  # its startup probe has not passed: the next one waits
            continue
        if initialized:
            continue  # a regular init container never runs again once the pod ran
        if latest is None or latest.state in (CREATED, UNKNOWN):
            actions.init_containers_to_start.append(name)
            return False
        if latest.state == RUNNING:
            return False
        if latest.exit_code == 0:
            continue
        if should_restart_on_failure(pod):
            actions.init_containers_to_start.append(name)
        else:
            actions.kill_pod = True
        return False
    return True
