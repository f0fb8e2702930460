"""Tutorial "Configure Liveness, Readiness and Startup Probes" (seed-003b section 9) with the
real kubectl against a real node: the docs' manifests and images, what `kubectl describe pod`
and `kubectl get pod` show at each step.

Timings are the docs' except where they would make a test take minutes: the never-succeeding
startup probe (30 x 10 s in the docs) is 3 x 1 s here. Pods are deleted with a short grace
period at the end of each test (the docs never delete them; `sh` as PID 1 ignores SIGTERM).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentnode import AgentNode, skip_reason
from tutorialnode import (
    apply,
    container_status,
    delete,
    describe_events,
    events,
    get,
    phase,
    pod_row,
    tutorial_node,
)

pytestmark = pytest.mark.node

EXEC_LIVENESS = """\
apiVersion: v1
kind: Pod
metadata:
  labels:
    test: liveness
  name: liveness-exec
spec:
  containers:
  - name: liveness
    image: registry.k8s.io/busybox
    args:
    - /bin/sh
    - -c
    - touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600
    livenessProbe:
      exec:
        command:
        - cat
        - /tmp/healthy
      initialDelaySeconds: 5
      periodSeconds: 5
"""
HTTP_LIVENESS = """\
apiVersion: v1
kind: Pod
metadata:
  labels:
    test: liveness
  name: liveness-http
spec:
  containers:
  - name: liveness
    image: registry.k8s.io/e2e-test-images/agnhost:2.40
    args:
    - liveness
    livenessProbe:
      httpGet:
        path: /healthz
        port: 8080
        httpHeaders:
        - name: Custom-Header
          value: Awesome
      initialDelaySeconds: 3
      periodSeconds: 3
"""
TCP_LIVENESS_READINESS = """\
apiVersion: v1
kind: Pod
metadata:
  name: goproxy
  labels:
    app: goproxy
spec:
  containers:
  - name: goproxy
    image: registry.k8s.io/goproxy:0.1
    ports:
    - containerPort: 8080
    readinessProbe:
      tcpSocket:
        port: 8080
      initialDelaySeconds: 5
      periodSeconds: 10
    livenessProbe:
      tcpSocket:
        port: 8080
      initialDelaySeconds: 15
      periodSeconds: 20
"""
STARTUP_NAMED_PORT = """\
apiVersion: v1
kind: Pod
metadata:
  name: startup-http
spec:
  containers:
  - name: liveness
    image: registry.k8s.io/e2e-test-images/agnhost:2.40
    args:
    - liveness
    ports:
    - name: liveness-port
      containerPort: 8080

    livenessProbe:
      httpGet:
        path: /healthz
        port: liveness-port
      failureThreshold: 1
      periodSeconds: 10

    startupProbe:
      httpGet:
        path: /healthz
        port: liveness-port
      failureThreshold: 30
      periodSeconds: 10
"""
"""Sections 9.4 and 9.5: the docs' fragments in the HTTP liveness pod."""
STARTUP_NEVER = """\
apiVersion: v1
kind: Pod
metadata:
  name: startup-never
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: slow
    image: registry.k8s.io/busybox
    args: [/bin/sh, -c, sleep 600]
    livenessProbe:
      exec:
        command: [cat, /tmp/started]
      failureThreshold: 1
      periodSeconds: 1
    startupProbe:
      exec:
        command: [cat, /tmp/started]
      failureThreshold: 3
      periodSeconds: 1
"""
"""Section 9.5's never-succeeding startup probe, 3 x 1 s instead of 30 x 10 s."""
READINESS_EXEC = """\
apiVersion: v1
kind: Pod
metadata:
  name: readiness-exec
spec:
  containers:
  - name: readiness
    image: registry.k8s.io/busybox
    args: [/bin/sh, -c, sleep 600]
    readinessProbe:
      exec:
        command:
        - cat
        - /tmp/healthy
      initialDelaySeconds: 5
      periodSeconds: 5
"""
"""Section 9.6: the docs' readiness probe in a busybox pod; the test makes /tmp/healthy."""

LIVENESS = "spec.containers{liveness}"
"""The field path of the events about the container named liveness."""
CAT_FAILED = "cat: can't open '/tmp/healthy': No such file or directory"
"""busybox cat's error; the event's message ends with the newline cat wrote, as upstream's
exec probe keeps the output as it is (describe does not show it)."""


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, tutorial_registry: Path
         ) -> Iterator[AgentNode]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with tutorial_node(tmp_path_factory.mktemp("kjtprobes"),
                       registries=tutorial_registry) as node:
        yield node


def _restarts(node: AgentNode, pod: str) -> int:
    return int(container_status(node, pod).get("restartCount") or 0)


def _has_event(node: AgentNode, pod: str, reason: str, message: str) -> bool:
    return any(e["reason"] == reason and e["message"] == message for e in events(node, pod))


def test_exec_liveness_restarts_the_container_once_the_file_is_gone(node: AgentNode) -> None:
    assert apply(node, EXEC_LIVENESS) == "pod/liveness-exec created\n"
    started = time.monotonic()
    node.wait("liveness-exec not Running", lambda: phase(node, "liveness-exec") == "Running")
    # Within 30 s: the start-up events, no probe failure (probes at 5 s, 10 s... succeed).
    time.sleep(max(0.0, started + 12 - time.monotonic()))
    rows = describe_events(node, "liveness-exec")
    assert ("Normal", "Scheduled", "default-scheduler",
            f"Successfully assigned default/liveness-exec to {node.name}") in rows
    reasons = [reason for _, reason, _, _ in rows]
    assert reasons[-4:] == ["Pulling", "Pulled", "Created", "Started"]
    # kubectl (v1.35) puts the container's field path before the message.
    assert ("Normal", "Pulling", "kubelet",
            f'{LIVENESS}: Pulling image "registry.k8s.io/busybox"') in rows
    assert ("Normal", "Created", "kubelet", f"{LIVENESS}: Created container: liveness") in rows
    assert ("Normal", "Started", "kubelet", f"{LIVENESS}: Started container liveness") in rows
    assert "Unhealthy" not in reasons

    # After 35 s: the probe fails, the container is killed and created again.
    node.wait("no Unhealthy event", lambda: _has_event(
        node, "liveness-exec", "Unhealthy", f"Liveness probe failed: {CAT_FAILED}\n"), timeout=60)
    rows = describe_events(node, "liveness-exec")
    assert ("Warning", "Unhealthy", "kubelet",
            f"{LIVENESS}: Liveness probe failed: {CAT_FAILED}") in rows
    [unhealthy] = [e for e in events(node, "liveness-exec") if e["reason"] == "Unhealthy"]
    assert unhealthy["involvedObject"]["fieldPath"] == LIVENESS
    assert unhealthy["type"] == "Warning"
    # SIGTERM is ignored by sh as PID 1: SIGKILL comes after the 30 s grace period.
    node.wait("no restart", lambda: _restarts(node, "liveness-exec") >= 1, timeout=150)
    assert _has_event(node, "liveness-exec", "Killing",
                      "Container liveness failed liveness probe, will be restarted")
    node.wait("liveness-exec not Running again", lambda: pod_row(
        node, "liveness-exec")[1:3] == ["1/1", "Running"])
    name, ready, status, restarts, _ = pod_row(node, "liveness-exec")
    assert (name, ready, status) == ("liveness-exec", "1/1", "Running")
    assert re.fullmatch(r"1 \(\d+s ago\)", restarts)
    delete(node, "liveness-exec")


def test_http_liveness_fails_with_statuscode_500_after_10_seconds(node: AgentNode) -> None:
    assert apply(node, HTTP_LIVENESS) == "pod/liveness-http created\n"
    node.wait("no Unhealthy event", lambda: _has_event(
        node, "liveness-http", "Unhealthy",
        "Liveness probe failed: HTTP probe failed with statuscode: 500"), timeout=60)
    node.wait("no restart", lambda: _restarts(node, "liveness-http") >= 1, timeout=60)
    rows = describe_events(node, "liveness-http")
    assert ("Warning", "Unhealthy", "kubelet",
            f"{LIVENESS}: Liveness probe failed: HTTP probe failed with statuscode: 500") in rows
    assert ("Normal", "Killing", "kubelet",
            f"{LIVENESS}: Container liveness failed liveness probe, will be restarted") in rows
    delete(node, "liveness-http")


def test_tcp_probes_mark_goproxy_ready_and_never_restart_it(node: AgentNode) -> None:
    assert apply(node, TCP_LIVENESS_READINESS) == "pod/goproxy created\n"
    node.wait("goproxy not ready", lambda: pod_row(node, "goproxy")[1] == "1/1", timeout=60)
    started = container_status(node, "goproxy")["state"]["running"]["startedAt"]
    assert started
    # The first liveness probe is 15 s after the start: wait past it (the docs' "after 15 s").
    node.wait("goproxy not running for 20 s", lambda: time.time() - _epoch(started) > 20,
              timeout=60)
    described = node.kubectl("describe", "pod", "goproxy")
    conditions = described.partition("\nConditions:\n")[2].partition("\nVolumes:")[0]
    assert conditions.split()[2:] == [
        "PodReadyToStartContainers", "True", "Initialized", "True", "Ready", "True",
        "ContainersReady", "True", "PodScheduled", "True"]
    assert "    Liveness:       tcp-socket :8080 delay=15s timeout=1s period=20s " \
        "successThreshold=1 failureThreshold=3\n" in described
    assert "    Readiness:      tcp-socket :8080 delay=5s timeout=1s period=10s " \
        "successThreshold=1 failureThreshold=3\n" in described
    assert "Unhealthy" not in [reason for _, reason, _, _ in describe_events(node, "goproxy")]
    assert _restarts(node, "goproxy") == 0
    delete(node, "goproxy")


def test_tcp_readiness_with_nothing_listening_keeps_the_pod_unready(node: AgentNode) -> None:
    """The docs' goproxy pod with a container that listens nowhere (busybox sleeping)."""
    manifest = TCP_LIVENESS_READINESS.replace(
        "    image: registry.k8s.io/goproxy:0.1\n",
        "    image: registry.k8s.io/busybox\n    args: [sleep, \"600\"]\n")
    apply(node, manifest)
    node.wait("no failed readiness probe", lambda: any(
        e["reason"] == "Unhealthy" for e in events(node, "goproxy")), timeout=60)
    ip = get(node, "pod", "goproxy")["status"]["podIP"]
    [failed] = [e for e in events(node, "goproxy") if e["reason"] == "Unhealthy"]
    assert failed["message"] == \
        f"Readiness probe failed: dial tcp {ip}:8080: connect: connection refused"
    assert pod_row(node, "goproxy")[1:3] == ["0/1", "Running"]
    node.kubectl("delete", "pod", "goproxy", "--grace-period=1")


def _epoch(timestamp: str) -> float:
    return time.mktime(time.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone


def test_startup_probe_on_a_named_port_hands_over_to_liveness(node: AgentNode) -> None:
    apply(node, STARTUP_NAMED_PORT)
    node.wait("startup probe never succeeded", lambda: container_status(
        node, "startup-http").get("started") is True, timeout=60)
    node.wait("no Unhealthy event", lambda: _has_event(
        node, "startup-http", "Unhealthy",
        "Liveness probe failed: HTTP probe failed with statuscode: 500"), timeout=60)
    node.wait("no restart", lambda: _restarts(node, "startup-http") >= 1, timeout=60)
    assert _has_event(node, "startup-http", "Killing",
                      "Container liveness failed liveness probe, will be restarted")
    delete(node, "startup-http")


def test_a_startup_probe_that_never_succeeds_kills_the_container(node: AgentNode) -> None:
    apply(node, STARTUP_NEVER)
    node.wait("no restart", lambda: _restarts(node, "startup-never") >= 1, timeout=60)
    rows = describe_events(node, "startup-never")
    assert ("Warning", "Unhealthy", "kubelet", "spec.containers{slow}: Startup probe failed: "
            "cat: can't open '/tmp/started': No such file or directory") in rows
    assert ("Normal", "Killing", "kubelet",
            "spec.containers{slow}: Container slow failed startup probe, will be restarted") in rows
    # Liveness is held back while the startup probe has not succeeded.
    assert not [row for row in rows if "Liveness probe failed" in row[3]]
    assert container_status(node, "startup-never").get("started") is False
    delete(node, "startup-never")


def test_readiness_probe_marks_the_pod_ready_and_unready_without_restarts(
        node: AgentNode) -> None:
    apply(node, READINESS_EXEC)
    node.wait("no failed readiness probe", lambda: _has_event(
        node, "readiness-exec", "Unhealthy", f"Readiness probe failed: {CAT_FAILED}\n"),
        timeout=60)
    assert pod_row(node, "readiness-exec")[1:3] == ["0/1", "Running"]
    pod = get(node, "pod", "readiness-exec")
    ready = {c["type"]: c for c in pod["status"]["conditions"]}["Ready"]
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False", "ContainersNotReady", "containers with unready status: [readiness]")

    node.kubectl("exec", "readiness-exec", "--", "touch", "/tmp/healthy")
    node.wait("pod not ready", lambda: pod_row(node, "readiness-exec")[1] == "1/1", timeout=30)
    node.kubectl("exec", "readiness-exec", "--", "rm", "/tmp/healthy")
    node.wait("pod still ready", lambda: pod_row(node, "readiness-exec")[1] == "0/1", timeout=30)
    assert pod_row(node, "readiness-exec")[2:4] == ["Running", "0"]
    node.kubectl("delete", "pod", "readiness-exec", "--grace-period=1")
