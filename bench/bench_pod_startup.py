"""Pod start-up latency on a real node: the kubelet running busybox pods in containerd.

Starts a server (all controllers and the scheduler) and an agent on this machine the way the
node tests do (`tests/node/agentnode.py`: the kubelet as a child process starting its own
containerd under a private directory, a `kjt<hex>` bridge; everything removed at the end), so it
needs root and containerd. Then creates `--pods` busybox pods (image built in, imagePullPolicy
IfNotPresent, `sleep 3600`) at `--rate` pods per second, watching them, and prints upstream's pod
start-up latency SLI: from the pod's creation to all its containers running, as observed by the
watch (phase Running with every containerStatus `running`), p50/p90/p99/max. Upstream measures
from `creationTimestamp`, which has whole seconds; the precise figure measured from when this
process sent the create is printed beside it, and the containers' `startedAt` (also whole
seconds) as the kubelet saw the start. Then the RSS of the agent (current and peak), of
containerd and of the pods' shims; then all pods are deleted (`--grace-period`, 1 s by default:
`sleep` as PID 1 ignores SIGTERM, so the default 30 s would only measure the wait) and the time
until the watch saw the last one go is printed.

    sudo /work/venv/bin/python bench/bench_pod_startup.py --pods 100 --rate 10
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import apiclient
import orjson
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "node"))
from agentnode import AgentNode, running_agent_node, skip_reason

from kajitori.kubelet import containerd

NAMESPACE = "default"
PODS_PATH = f"/api/v1/namespaces/{NAMESPACE}/pods"
LABEL = "kajitori-bench"
READY_TIMEOUT = 120.0
"""Seconds to wait for the node to turn Ready, and for all pods to run or go."""


def make_pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {LABEL: "pod-startup"}},
            "spec": {"containers": [{"name": "sleep", "image": "busybox",
                                     "imagePullPolicy": "IfNotPresent",
                                     "command": ["sleep", "3600"]}]}}


def parse_time(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def all_running(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    containers = (pod.get("spec") or {}).get("containers") or []
    statuses = status.get("containerStatuses") or []
    return status.get("phase") == "Running" and len(statuses) == len(containers) and \
        all("running" in (s.get("state") or {}) for s in statuses)


@dataclass
class Observed:
    """What the watch saw, by pod name: wall-clock instants (time.time())."""

    sent: dict[str, float] = field(default_factory=dict)
    created: dict[str, float] = field(default_factory=dict)
    running: dict[str, float] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    uids: dict[str, str] = field(default_factory=dict)
    deleted: dict[str, float] = field(default_factory=dict)
    all_running: asyncio.Event = field(default_factory=asyncio.Event)
    all_deleted: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int = 0


async def watch(http: aiohttp.ClientSession, observed: Observed, *, since: str) -> None:
    """Watch the benchmark's pods from resourceVersion `since` until cancelled."""
    params = {"watch": "1", "labelSelector": f"{LABEL}=pod-startup", "resourceVersion": since,
              "allowWatchBookmarks": "false"}
    async with http.get(PODS_PATH, params=params,
                        timeout=aiohttp.ClientTimeout(total=None)) as response:
        async for line in response.content:
            now = time.time()
            event = orjson.loads(line)
            pod = event["object"]
            name = pod["metadata"]["name"]
            observed.created.setdefault(name, parse_time(pod["metadata"]["creationTimestamp"]))
            observed.uids[name] = pod["metadata"]["uid"]
            if event["type"] == "DELETED":
                observed.deleted[name] = now
                if len(observed.deleted) == observed.expected:
                    observed.all_deleted.set()
            elif name not in observed.running and all_running(pod):
                observed.running[name] = now
                observed.started[name] = max(
                    parse_time(s["state"]["running"]["startedAt"])
                    for s in pod["status"]["containerStatuses"])
                if len(observed.running) == observed.expected:
                    observed.all_running.set()


def latency_line(label: str, values: list[float]) -> str:
    return f"{label}: {apiclient.format_ms(apiclient.summary_ms(values))}"


def process_rss(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of `pid` in MiB."""
    fields = dict(line.split(":", 1) for line in
                  Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def node_processes(root: Path, agent_pid: int) -> dict[str, list[int]]:
    """The processes of the node under `root` by part: agent, containerd, shims (with the
    runc and CNI plugin children they reap), server (apiserver, controllers, scheduler)."""
    parts: dict[str, list[int]] = {"agent": [agent_pid], "containerd": [], "shims": [],
                                   "server": []}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == agent_pid:
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
        except (FileNotFoundError, ProcessLookupError):
            continue
        if str(root).encode() not in cmdline:
            continue
        if b"containerd-shim" in cmdline:
            parts["shims"].append(int(proc.name))
        elif cmdline.startswith(b"/usr/bin/containerd"):
            parts["containerd"].append(int(proc.name))
        elif b"kajitori.cli.main" in cmdline:
            parts["server"].append(int(proc.name))
    return parts


def cpu_with_children(pid: int) -> float:
    """User and system CPU seconds of `pid` and of its children it has reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return sum(int(f) for f in fields[11:15]) / apiclient.CLOCK_TICKS


@dataclass
class CPUWindow:
    """CPU seconds per node part, and of the whole machine, from `start` to `stop`."""

    root: Path
    agent_pid: int
    began: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0
    machine: float = 0.0

    def _sample(self) -> dict[str, float]:
        parts = node_processes(self.root, self.agent_pid)
        sample = {part: sum(cpu_with_children(pid) for pid in pids)
                  for part, pids in parts.items()}
        sample["machine"] = apiclient.machine_cpu_seconds()
        sample["wall"] = time.monotonic()
        return sample

    def start(self) -> None:
        self.began = self._sample()

    def describe(self) -> str:
        """CPU in cores per part since `start`. Shims that exited meanwhile are not
        counted (none do while pods start)."""
        now = self._sample()
        wall = now["wall"] - self.began["wall"]
        used = {part: (now[part] - self.began.get(part, 0.0)) / wall
                for part in ("agent", "containerd", "shims", "server", "machine")}
        other = used["machine"] - sum(used[p] for p in ("agent", "containerd", "shims",
                                                         "server"))
        return (f"CPU in cores over {wall:.1f} s: agent {used['agent']:.2f}, containerd "
                f"{used['containerd']:.2f}, shims and runc {used['shims']:.2f}, server "
                f"{used['server']:.2f}, other processes {max(0.0, other):.2f} (machine has "
                f"{os.cpu_count()})")


def shims_rss(root: Path) -> tuple[int, float]:
    """(count, total RSS in MiB) of the containerd shims serving the node under `root`."""
    count, total = 0, 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            if b"containerd-shim" not in cmdline[0] or str(root).encode() not in \
                    b" ".join(cmdline):
                continue
            count += 1
            total += process_rss(int(proc.name))[0]
        except (FileNotFoundError, ProcessLookupError, KeyError):
            continue
    return count, total


async def run(node: AgentNode, args: argparse.Namespace) -> None:
    server = yaml.safe_load(node.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    target = apiclient.Target(url=server, kubeconfig=node.kubeconfig)
    names = [f"startup-{i:03d}" for i in range(args.pods)]
    observed = Observed(expected=len(names))
    async with apiclient.session(target, connections=8) as http:
        async with http.get(PODS_PATH) as response:
            since = (await response.json())["metadata"]["resourceVersion"]
        watcher = asyncio.create_task(watch(http, observed, since=since))
        try:
            interval = 1.0 / args.rate
            cpu = CPUWindow(root=node.data_dir.parent, agent_pid=node.process.pid
                            if node.process else 0)
            cpu.start()
            began = time.monotonic()

            async def create(i: int, name: str) -> None:
                await asyncio.sleep(max(0.0, began + i * interval - time.monotonic()))
                observed.sent[name] = time.time()
                async with http.post(PODS_PATH, data=orjson.dumps(make_pod(name)),
                                     headers={"Content-Type": "application/json"}) as answer:
                    if answer.status != 201:
                        raise RuntimeError(f"create {name}: {answer.status} "
                                           f"{(await answer.read())[:300]!r}")

            await asyncio.gather(*(create(i, n) for i, n in enumerate(names)))
            print(f"created {len(names)} pods in {time.monotonic() - began:.1f} s")
            async with asyncio.timeout(READY_TIMEOUT):
                await observed.all_running.wait()
            node.pod_uids.extend(observed.uids.values())
            print(cpu.describe())
            sli = [observed.running[n] - observed.created[n] for n in names]
            precise = [observed.running[n] - observed.sent[n] for n in names]
            started = [observed.started[n] - observed.created[n] for n in names]
            print(latency_line("start-up latency (creationTimestamp -> watched running, "
                               "upstream's SLI)", sli))
            print(latency_line("start-up latency (create sent -> watched running)", precise))
            print(latency_line("creationTimestamp -> containers' startedAt", started))
            agent_rss, agent_peak = process_rss(node.process.pid if node.process else 0)
            settings = containerd.ContainerdSettings(root=node.data_dir / "kubelet")
            containerd_rss, _ = process_rss(int(settings.pid_file.read_text()))
            shims, shim_total = shims_rss(node.data_dir)
            print(f"RSS: agent {agent_rss:.0f} MiB (peak {agent_peak:.0f} MiB), containerd "
                  f"{containerd_rss:.0f} MiB, {shims} shims {shim_total:.0f} MiB in all")

            deleting = time.monotonic()
            options = orjson.dumps({"apiVersion": "v1", "kind": "DeleteOptions",
                                    "gracePeriodSeconds": args.grace_period})
            async with http.delete(PODS_PATH, params={"labelSelector": f"{LABEL}=pod-startup"},
                                   data=options,
                                   headers={"Content-Type": "application/json"}) as answer:
                await answer.read()
            async with asyncio.timeout(READY_TIMEOUT):
                await observed.all_deleted.wait()
            print(f"deleted {len(names)} pods (grace period {args.grace_period} s) in "
                  f"{time.monotonic() - deleting:.1f} s")
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0, help="pods created per second")
    parser.add_argument("--grace-period", type=int, default=1,
                        help="seconds of the deletion's grace period")
    args = parser.parse_args()
    reason = skip_reason()
    if reason:
        raise SystemExit(reason)
    # running_agent_node removes the directory at the end.
    with running_agent_node(Path(tempfile.mkdtemp(prefix="kjtbench-"))) as node:
        node.wait("node not Ready", node.ready, timeout=READY_TIMEOUT)
        node.wait("no default ServiceAccount", lambda: node.kubectl(
            "get", "serviceaccount", "default", "--ignore-not-found", "-o", "name"))
        print(f"node {node.name} Ready; agent log {node.log}")
        try:
            asyncio.run(run(node, args))
        except BaseException:
            print(node.log_tail(), file=sys.stderr)
            raise


if __name__ == "__main__":
    main()
