"""A pod's API status from what the runtime reports and what the pod worker knows.

Mirrors upstream v1.33's `generateAPIPodStatus` and `convertToAPIContainerStatuses`
(`pkg/kubelet/kubelet_pods.go`), `convertContainerStatus`, the termination message reading of
`pkg/kubelet/kuberuntime/kuberuntime_container.go` (`getTerminationMessage`,
`readLastStringFromContainerLogs`) and the waiting reasons of `pkg/kubelet/images` and
`kuberuntime` (`ContainerCreating`, `PodInitializing`, `CrashLoopBackOff`, `ErrImagePull`,
`ImagePullBackOff`, `CreateContainerConfigError`, `RunContainerError`). The phase and the
conditions follow the rules shared with the simulated kubelet (`kajitori.api.podstatus`);
the status manager (`kajitori.kubelet.statusmanager`) writes the result.

A container's status is built from its newest runtime container (state, IDs, restart count
from the restart-count annotation) and the one before it (`lastState`). A container the
worker failed to start, or whose restart is backed off, shows the worker's last reason as
`waiting` (upstream's reasonCache), its last run moving to `lastState`.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kajitori.api import meta, qos
from kajitori.api import podstatus as apipodstatus
from kajitori.kubelet import containerconfig, podactions, runtime

Obj = dict[str, Any]

# Waiting reasons the kubelet gives (upstream's words).
CONTAINER_CREATING = "ContainerCreating"
POD_INITIALIZING = "PodInitializing"
CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"
CREATE_CONTAINER_ERROR = "CreateContainerError"
RUN_CONTAINER_ERROR = "RunContainerError"
PRE_START_HOOK_ERROR = "PreStartHookError"
POST_START_HOOK_ERROR = "PostStartHookError"

MAX_TERMINATION_MESSAGE_BYTES = 4096
"""What is read of a termination message file (4 KiB, as upstream)."""
FALLBACK_LOG_LINES = 80
FALLBACK_LOG_BYTES = 2048
"""The end of the log a FallbackToLogsOnError container's message is taken from."""
FALLBACK_TO_LOGS = "FallbackToLogsOnError"


@dataclass(frozen=True)
class Waiting:
    """Why a container is not running, as the worker last saw it (upstream reasonCache)."""

    reason: str
    message: str = ""


def format_time_ns(nanoseconds: int) -> str:
    """An RFC 3339 time (seconds) from CRI nanoseconds. 0 (a container that never started)
    is the epoch, `1970-01-01T00:00:00Z`, as upstream shows it."""
    return meta.format_time(datetime.datetime.fromtimestamp(nanoseconds // 10**9, datetime.UTC))


def _api_state(state: podactions.ContainerState, *, message: str = "") -> Obj:
    """convertContainerStatus's state: running, terminated (with the termination message
    appended to the runtime's), or waiting for a container created but never started."""
    cid = runtime.CONTAINER_ID_PREFIX + state.id
    if state.state == podactions.RUNNING:
        return {"running": {"startedAt": format_time_ns(state.started_at)}}
    if state.state == podactions.EXITED:
        text = state.message
        if message:
            text = f"{text}: {message}" if text else message
        terminated: Obj = {"exitCode": state.exit_code,
                           "reason": state.reason or ("Completed" if state.exit_code == 0
                                                      else "Error"),
                           "startedAt": format_time_ns(state.started_at),
                           "finishedAt": format_time_ns(state.finished_at),
                           "containerID": cid}
        if text:
            terminated["message"] = text
        return {"terminated": terminated}
    return {"waiting": {}}


def container_statuses(pod: Obj, containers: list[Obj], status: podactions.RuntimePod, *,
                       reasons: Mapping[str, Waiting], messages: Mapping[str, str],
                       probed_ready: Callable[[str], bool],
                       probed_started: Callable[[str], bool],
                       init: bool, ephemeral: bool = False) -> list[Obj]:
    """The statuses of `containers` (the pod's init containers when `init`, its ephemeral
    ones when `ephemeral`, else its app containers), in spec order. An ephemeral container
    is never ready and has no `started` (no prober looks at it, as upstream)."""
    has_init = bool((pod.get("spec") or {}).get("initContainers"))
    out = []
    for container in containers:
        name = str(container.get("name"))
        runs = [c for c in status.containers if c.name == name]
        default = POD_INITIALIZING if has_init and not init else CONTAINER_CREATING
        entry: Obj = {"name": name, "state": {"waiting": {"reason": default}},
                      "lastState": {}, "ready": False, "restartCount": 0,
                      "image": str(container.get("image") or ""), "imageID": "",
                      "started": False}
        if runs:
            latest = runs[0]
            entry.update(state=_api_state(latest, message=messages.get(latest.id, "")),
                         image=latest.image or entry["image"], imageID=latest.image_ref,
                         containerID=runtime.CONTAINER_ID_PREFIX + latest.id,
                         restartCount=latest.restart_count)
            if len(runs) > 1:
                entry["lastState"] = _api_state(runs[1], message=messages.get(runs[1].id, ""))
            if latest.user is not None:
                uid, gid, groups = latest.user
                entry["user"] = {"linux": {"uid": uid, "gid": gid,
                                           "supplementalGroups": list(groups)}}
        waiting = reasons.get(name)
        restarting = not runs if ephemeral else _restarting(pod, container, runs, init=init)
        if waiting is not None and restarting:
            if "terminated" in entry["state"]:
                entry["lastState"] = entry["state"]
            entry["state"] = {"waiting": {"reason": waiting.reason, "message": waiting.message}}
            if not waiting.message:
                del entry["state"]["waiting"]["message"]
        running = "running" in entry["state"]
        started = running and (not container.get("startupProbe") or probed_started(name))
        entry["started"] = started
        if init and not apipodstatus.is_sidecar(container):
            terminated = entry["state"].get("terminated")
            entry["ready"] = terminated is not None and terminated.get("exitCode") == 0
        else:
            entry["ready"] = started and (not container.get("readinessProbe")
                                          or probed_ready(name))
        if ephemeral:
            entry["ready"] = False
            del entry["started"]
        entry.update(apipodstatus.spec_fields(container))
        out.append(entry)
    return out


def _restarting(pod: Obj, container: Obj, runs: list[podactions.ContainerState], *,
                init: bool) -> bool:
    """Whether the container will be started (again), so a cached reason applies."""
    if not runs or runs[0].state in (podactions.CREATED, podactions.UNKNOWN):
        return True
    if runs[0].state == podactions.RUNNING:
        return False
    if init and apipodstatus.is_sidecar(container):
        return True
    if init:
        return runs[0].exit_code != 0 and apipodstatus.restart_policy(pod) != \
            apipodstatus.NEVER
    return apipodstatus.restarts(apipodstatus.restart_policy(pod), runs[0].exit_code)


def generate_pod_status(pod: Obj, status: podactions.RuntimePod, *, host_ips: list[str],
                        start_time: str, now: str, terminal: bool = False,
                        reasons: Mapping[str, Waiting] | None = None,
                        messages: Mapping[str, str] | None = None,
                        probed_ready: Callable[[str], bool] = lambda _: True,
                        probed_started: Callable[[str], bool] = lambda _: True) -> Obj:
    """The pod's status (upstream generateAPIPodStatus). `host_ips`: the node's addresses
    (the first is hostIP, and a hostNetwork pod's IP); `start_time`: when the kubelet first
    took the pod on; `terminal`: the pod is being deleted or will not run again; `reasons`
    the worker's waiting reasons by container name; `messages` termination messages by
    container id (`read_termination_messages`); `probed_ready`/`probed_started` the probe
    results by container name, asked only for running containers that have the probe."""
    spec = pod.get("spec") or {}
    old = pod.get("status") or {}
    kw: Any = {"reasons": reasons or {}, "messages": messages or {},
               "probed_ready": probed_ready, "probed_started": probed_started}
    app = container_statuses(pod, list(spec.get("containers") or []), status, init=False, **kw)
    init = container_statuses(pod, list(spec.get("initContainers") or []), status, init=True,
                              **kw)
    phase = apipodstatus.phase(pod, init + app, terminal=terminal)
    if old.get("phase") in apipodstatus.TERMINAL_PHASES:
        phase = old["phase"]  # a terminal phase never changes back
    sandbox_needed, _, _ = podactions.sandbox_changed(pod, status)
    out: Obj = {"phase": phase,
                "conditions": apipodstatus.kubelet_conditions(
                    pod, init + app, phase=phase, sandbox_ready=not sandbox_needed, now=now)}
    if host_ips:
        out["hostIP"] = host_ips[0]
        out["hostIPs"] = [{"ip": ip} for ip in host_ips]
    pod_ips = _pod_ips(pod, status, host_ips=host_ips)
    if pod_ips:
        out["podIP"] = pod_ips[0]
        out["podIPs"] = [{"ip": ip} for ip in pod_ips]
    out["startTime"] = old.get("startTime") or start_time
    if init:
        out["initContainerStatuses"] = init
    out["containerStatuses"] = app
    out["qosClass"] = qos.pod_qos_class(pod)
    if spec.get("ephemeralContainers"):
        out["ephemeralContainerStatuses"] = container_statuses(
            pod, list(spec["ephemeralContainers"]), status, init=False, ephemeral=True, **kw)
    return out


def _pod_ips(pod: Obj, status: podactions.RuntimePod, *, host_ips: list[str]) -> list[str]:
    """The newest sandbox's IPs; a hostNetwork pod has the node's. A pod whose sandbox is gone
    keeps reporting the IPs it had (upstream keeps the old status's)."""
    if (pod.get("spec") or {}).get("hostNetwork"):
        return list(host_ips)
    if status.sandboxes and status.sandboxes[0].ip:
        return [status.sandboxes[0].ip, *status.sandboxes[0].additional_ips]
    return [str(p.get("ip")) for p in (pod.get("status") or {}).get("podIPs") or []]


def _read_message(path: Path) -> str:
    try:
        with path.open("rb") as f:
            return f.read(MAX_TERMINATION_MESSAGE_BYTES).decode(errors="replace")
    except OSError:
        return ""


def _read_log_tail(path: Path) -> str:
    """The end of a CRI log file's messages (`<time> <stream> <F|P> <text>` lines)."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            lines = f.read().decode(errors="replace").splitlines()[-FALLBACK_LOG_LINES:]
    except OSError:
        return ""
    texts = []
    for line in lines:
        parts = line.split(" ", 3)
        if len(parts) == 4:
            texts.append(parts[3] + ("\n" if parts[2] == "F" else ""))
    return "".join(texts)[-FALLBACK_LOG_BYTES:]


async def read_termination_messages(pod: Obj, status: podactions.RuntimePod, *,
                                    root_dir: Path) -> dict[str, str]:
    """Termination messages of the pod's exited containers, by container id: the file the
    kubelet mounted at terminationMessagePath, or for FallbackToLogsOnError containers that
    failed with an empty file, the end of their log. Read in a thread."""
    log_dir = containerconfig.pod_log_directory(root_dir, pod)

    def read() -> dict[str, str]:
        found = {}
        for state in status.containers:
            if state.state != podactions.EXITED:
                continue
            text = _read_message(containerconfig.termination_message_file(
                root_dir, meta.uid(pod), state.name, state.restart_count))
            if not text and state.exit_code != 0 and \
                    state.termination_message_policy == FALLBACK_TO_LOGS:
                text = _read_log_tail(log_dir / containerconfig.container_log_path(
                    state.name, state.restart_count))
            if text:
                found[state.id] = text
        return found

    return await asyncio.to_thread(read)
