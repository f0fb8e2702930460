"""Container lifecycle hooks: postStart and preStop handlers (exec, httpGet, sleep).

Mirrors upstream's `pkg/kubelet/lifecycle/handlers.go` (`handlerRunner.Run`). The pod worker
(`kubelet/podworker.py`) runs postStart right after starting a container and preStop before
stopping one; a failure comes back as the message it puts into the `FailedPostStartHook` /
`FailedPreStopHook` event, in upstream's words. The httpGet request is built and sent by the
probes' code (`kubelet/probes.py`) with the `kube-lifecycle/1.33` user agent, so hooks and
probes resolve ports, hosts and headers alike.

As upstream: an httpGet hook fails only when no response comes (any status code passes); an
https hook answered in plain HTTP is retried over http once (`LifecycleHTTPFallback` event);
hooks have no deadline of their own: the caller bounds a preStop hook by the grace period and
cancels it. A tcpSocket handler (deprecated, never supported) fails with `Cannot run handler`.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from typing import Any

from kajitori.api import podstatus as apipodstatus
from kajitori.client import clock as clock_
from kajitori.client import events
from kajitori.kubelet import probes, runtime

Obj = dict[str, Any]

log = logging.getLogger(__name__)

LIFECYCLE_HTTP_FALLBACK = "LifecycleHTTPFallback"
"""Event reason when an https hook had to be retried over http."""


def _go_quote(text: str) -> str:
    """Go's %q for the texts hooks report (close enough: JSON string escaping)."""
    return json.dumps(text, ensure_ascii=False)


async def run_handler(cri: runtime.RuntimeService, pod: Obj, container: Obj,
                      container_id: str, handler: Obj, *, pod_ip: str,
                      recorder: events.EventRecorder | None = None,
                      clock: clock_.Clock | None = None) -> str | None:
    """Run one LifecycleHandler of `container` (running as `container_id`) to its end.

    Returns None on success, else the failure message, e.g. `Exec lifecycle hook ([/bin/sh -c
    exit 1]) for Container "x" in Pod "y_ns(uid)" failed - error: command '/bin/sh -c exit 1'
    exited with 1: , message: ""`. `pod_ip` is the host of an httpGet hook without its own.
    `recorder` (None: tests and callers without one) gets the LifecycleHTTPFallback event;
    `clock` paces the sleep action (None: the loop's). Cancellation propagates (a preStop hook
    cut short by the grace period)."""
    name, pod_name = container.get("name", ""), apipodstatus.format_pod(pod)
    if (action := handler.get("exec")) is not None:
        command = [str(part) for part in action.get("command") or []]
        error, output = await _run_exec(cri, container_id, command)
        if error is None:
            return None
        log.info("exec lifecycle hook %s for container %s in pod %s failed: %s", command,
                 name, pod_name, error)
        return (f"Exec lifecycle hook ([{' '.join(command)}]) for Container {_go_quote(name)} "
                f"in Pod {_go_quote(pod_name)} failed - error: {error}, message: "
                f"{_go_quote(output)}")
    if (action := handler.get("httpGet")) is not None:
        error = await _run_http(pod, container, action, pod_ip=pod_ip, recorder=recorder)
        if error is None:
            return None
        log.info("HTTP lifecycle hook %s for container %s in pod %s failed: %s",
                 action.get("path", ""), name, pod_name, error)
        return (f"HTTP lifecycle hook ({action.get('path', '')}) for Container "
                f"{_go_quote(name)} in Pod {_go_quote(pod_name)} failed - error: {error}")
    if (action := handler.get("sleep")) is not None:
        await (clock or clock_.LoopClock()).sleep(float(action.get("seconds") or 0))
        return None
    log.warning("cannot run lifecycle handler %s of container %s in pod %s", handler, name,
                pod_name)
    return f"Cannot run handler: invalid handler: {_describe_handler(handler)}"


async def _run_exec(cri: runtime.RuntimeService, container_id: str,
                    command: list[str]) -> tuple[str | None, str]:
    """RunInContainer without a deadline: (the error, None for exit 0; stdout + stderr)."""
    try:
        resp = await cri.exec_sync(probes.runtime_container_id(container_id), command)
    except runtime.CRIError as exc:
        return probes.rpc_error(exc.code, exc.message), ""
    output = (resp.stdout + resp.stderr).decode("utf-8", errors="replace")
    if resp.exit_code == 0:
        return None, output
    stderr = resp.stderr.decode("utf-8", errors="replace")
    return f"command '{' '.join(command)}' exited with {resp.exit_code}: {stderr}", output


async def _run_http(pod: Obj, container: Obj, action: Obj, *, pod_ip: str,
                    recorder: events.EventRecorder | None) -> str | None:
    """runHTTPHandler: the error text, None once any response came."""
    if not action.get("host") and not pod_ip:
        return "failed to find networking container"
    try:
        request = probes.new_request_for_http_get_action(action, container, pod_ip=pod_ip,
                                                         purpose=probes.LIFECYCLE_PURPOSE)
        await probes.http_get(request, timeout_seconds=None)
    except probes.PortError as exc:
        return str(exc)
    except probes.HTTPGetError as exc:
        if not str(exc).endswith(probes.HTTP_TO_HTTPS):
            return str(exc)
        fallback = _over_http(request)
        try:
            await probes.http_get(fallback, timeout_seconds=None)
        except probes.HTTPGetError:
            return str(exc)  # upstream reports the first error
        host = urllib.parse.urlsplit(fallback.url).netloc
        if recorder is not None:
            recorder.event(pod, events.WARNING, LIFECYCLE_HTTP_FALLBACK,
                           f"request to HTTPS lifecycle hook {host} got HTTP response, retry "
                           "with HTTP succeeded")
    return None


def _over_http(request: probes.HTTPGetRequest) -> probes.HTTPGetRequest:
    """The same request over http, without the Authorization header it carried for https."""
    url = urllib.parse.urlsplit(request.url)._replace(scheme="http").geturl()
    headers = tuple((n, v) for n, v in request.headers if n.lower() != "authorization")
    return probes.HTTPGetRequest(url=url, headers=headers)


def _describe_handler(handler: Obj) -> str:
    """The handler as Go's generated String() prints it, e.g. `&LifecycleHandler{Exec:nil,
    HTTPGet:nil,TCPSocket:&TCPSocketAction{Port:8080,Host:,},Sleep:nil,}`."""
    tcp = handler.get("tcpSocket")
    tcp_text = ("nil" if tcp is None else
                f"&TCPSocketAction{{Port:{tcp.get('port', '')},Host:{tcp.get('host', '')},}}")
    return f"&LifecycleHandler{{Exec:nil,HTTPGet:nil,TCPSocket:{tcp_text},Sleep:nil,}}"
