"""The node the pod tutorials of seed-003b (sections 9-16) run on, and what their steps do
with kubectl: apply a manifest transcribed from the docs, read a pod, its events, `kubectl
describe`'s event rows.

`tutorial_node(root)` is `agentnode.running_agent_node` with the tutorial images served by a
registry mirror (when given), and a pod CIDR of its own: the node IPAM controller is left out
and the Node gets a random `10.42.<n>.0/24` instead, because every test server's IPAM would
give its first node `10.42.0.0/24`, and two such nodes on this machine (other test sessions
run at the same time) make two routes to the same subnet, so that the kubelet's HTTP and TCP
probes, made from the host, reach the wrong bridge.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import random
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agentnode import AgentNode, running_agent_node

Obj = dict[str, Any]

CONTROLLERS = ("serviceaccount", "root-ca-cert-publisher")
"""The controllers the tutorials need: pods are admitted only with the `default`
ServiceAccount, and their token volume projects `kube-root-ca.crt`."""
EVENT_SOURCES = ("kubelet", "default-scheduler")
"""describe's From column for the pod events the tutorials show."""
MEMORY_DEMO = """\
apiVersion: v1
kind: Pod
metadata:
  name: memory-demo
spec:
  containers:
  - name: memory-demo-ctr
    image: polinux/stress
    resources:
      limits:
        memory: "200Mi"
      requests:
        memory: "100Mi"
    command: ["stress"]
    args: ["--vm", "1", "--vm-bytes", "150M", "--vm-hang", "1"]
"""
"""The memory tutorial's memory-demo (memory-request-limit.yaml) in the current namespace:
stress holding 150M against a 100Mi request and a 200Mi limit."""
POD_SUBNETS = range(100, 250)
"""The third octet of the node's pod CIDR, away from the `10.42.0.0/24` IPAM hands out first."""


def _free_pod_cidr() -> str:
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True,
                            check=True).stdout
    taken = {ipaddress.ip_network(line.split()[0], strict=False)
             for line in routes.splitlines() if line.startswith("10.42.")}
    free = [f"10.42.{n}.0/24" for n in POD_SUBNETS
            if ipaddress.ip_network(f"10.42.{n}.0/24") not in taken]
    return random.choice(free)


@contextlib.contextmanager
def tutorial_node(root: Path, *, controllers: tuple[str, ...] = CONTROLLERS,
                  **options: Any) -> Iterator[AgentNode]:
    """A Ready agent node with a pod CIDR of its own, running `controllers` (the namespace
    controller too for tutorials that delete namespaces); `options` go to
    `running_agent_node` (e.g. the tutorial images' `registries`)."""
    with running_agent_node(root, controllers=controllers, **options) as node:
        node.wait("node not registered", lambda: node.kubectl(
            "get", "node", node.name, "--ignore-not-found", "-o", "name"))
        cidr = _free_pod_cidr()
        node.kubectl("patch", "node", node.name, "-p",
                     json.dumps({"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}}))
        node.wait("node not Ready", node.ready)
        yield node


def apply(node: AgentNode, manifest: str, *, verb: str = "apply") -> str:
    """`kubectl <verb> -f <file>` of `manifest` (the docs' file, kept in a local copy as there
    is no internet); the pods it makes are registered for cgroup cleanup. Returns kubectl's
    output."""
    path = node.data_dir.parent / f"manifest-{time.monotonic_ns()}.yaml"
    path.write_text(manifest)
    out = node.kubectl(verb, "-f", str(path))
    for line in out.splitlines():
        if line.startswith("pod/"):
            name = line.split()[0].removeprefix("pod/")
            node.pod_uids.append(get(node, "pod", name)["metadata"]["uid"])
    return out


def get(node: AgentNode, kind: str, name: str) -> Obj:
    """The object, or {} when there is none."""
    out = node.kubectl("get", kind, name, "--ignore-not-found", "-o", "json")
    return json.loads(out) if out.strip() else {}


def container_status(node: AgentNode, pod: str, container: str | None = None) -> Obj:
    """The status of the pod's container (its only one when `container` is None), or {}."""
    statuses = (get(node, "pod", pod).get("status") or {}).get("containerStatuses") or []
    found = [s for s in statuses if container is None or s["name"] == container]
    return found[0] if found else {}


def events(node: AgentNode, pod: str) -> list[Obj]:
    """The pod's events, oldest first: those of the pod of that name there is now (the
    tutorials make pods of the same name one after the other), or of every pod of that name
    when there is none."""
    uid = (get(node, "pod", pod).get("metadata") or {}).get("uid")
    out = node.kubectl("get", "events", "--field-selector", f"involvedObject.name={pod}",
                       "--sort-by=.metadata.creationTimestamp", "-o", "json")
    return [e for e in json.loads(out)["items"]
            if uid is None or e["involvedObject"].get("uid") == uid]


def describe_events(node: AgentNode, pod: str) -> list[tuple[str, str, str, str]]:
    """The rows of `kubectl describe pod`'s Events table: (type, reason, from, message). The
    message is as kubectl shows it: v1.35 puts the field path of a container's event before
    it (`spec.containers{liveness}: Liveness probe failed: ...`)."""
    described = node.kubectl("describe", "pod", pod)
    _, _, table = described.partition("\nEvents:\n")
    rows = []
    for line in table.splitlines()[2:]:  # below the header and its underline
        if len(line.split()) < 4:
            continue
        kind, reason, rest = line.split(None, 2)
        for source in EVENT_SOURCES:
            _, found, message = rest.partition(f"  {source}  ")
            if found:
                rows.append((kind, reason, source, message.strip()))
                break
    return rows


def phase(node: AgentNode, pod: str) -> str:
    return str((get(node, "pod", pod).get("status") or {}).get("phase") or "")


def pod_row(node: AgentNode, pod: str, *args: str) -> list[str]:
    """`kubectl get pod <pod>`'s row, split on runs of spaces (RESTARTS `1 (3s ago)` is one
    cell)."""
    header, row = node.kubectl("get", "pod", pod, *args).splitlines()
    starts = [header.index(column) for column in header.split()]
    return [row[start:end].strip()
            for start, end in zip(starts, [*starts[1:], None], strict=True)]


def delete(node: AgentNode, *names: str, kind: str = "pod") -> None:
    """Delete and wait until they are gone."""
    node.kubectl("delete", kind, *names, "--ignore-not-found", "--timeout=90s")
