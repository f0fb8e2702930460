"""Controller manager throughput: a Deployment of many replicas on simulated nodes, then a
rolling update of it (issue #5's `bench/controllers`).

A real server (child process) runs its components child as `kajitori server` does (the
scheduler and every controller, each under leader election); `--nodes` simulated nodes run in
a `kajitori.sim` child process, each with room for the Deployment's pods and its surge, their
usage scraped by the server once at its start (`apiclient.BENCH_METRIC_RESOLUTION`: a scrape
of every node every 15 s is not the controllers' load; `--metric-resolution 15` puts it back).
Then:

1. create: POST a Deployment of `--replicas` pods (10m cpu, 16Mi each; RollingUpdate with the
   default maxSurge and maxUnavailable of 25%), timed from the POST until the Deployment's
   status, as a watch on it sees it, has readyReplicas == updatedReplicas == replicas;
2. rolling update: patch the template's image as `kubectl set image` does (strategic merge
   patch), timed until the rollout is complete as `kubectl rollout status` decides it:
   observedGeneration >= generation, updatedReplicas == replicas, replicas == replicas (no
   old pod left) and availableReplicas == replicas.

For each phase it prints the time and the API server's write rate: the storage revision (the
resourceVersion of a list, which every write takes one of) before and after, over the
phase's time. That counts every write: pods, their bindings and statuses, ReplicaSets, the
Deployment, Events, and the node Leases and leader-election Leases renewed meanwhile; the
rate at rest over `--idle` seconds before the create (SETTLE_SECONDS after the nodes
registered) is printed beside it as that base. It also prints the CPU (in cores) of the
server, the components, the simulator, this process and other processes on the machine (work
that competed for the cores) per phase, and at the end the RSS of the three. A phase that
makes no progress (the Deployment's status does not change) for STALL_SECONDS prints where it
stands and ends the run with status 1.
`--trace` prints the Deployment's status at each change, seconds into the phase: where a
rollout spends its time.

    /work/venv/bin/python bench/bench_controllers.py --nodes 1000 --replicas 10000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import apiclient
import orjson

NAMESPACE = "default"
NAME = "bench"
DEPLOYMENTS_PATH = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments"
PODS_PATH = f"/api/v1/namespaces/{NAMESPACE}/pods"
REPLICASETS_PATH = f"/apis/apps/v1/namespaces/{NAMESPACE}/replicasets"
CONTAINER = "app"
IMAGE = "registry.k8s.io/pause:3.9"
UPDATED_IMAGE = "registry.k8s.io/pause:3.10"
POD_CPU_MILLIS = 10
POD_MEMORY = "16Mi"
SURGE = 1.25
"""A rolling update's most pods at once: replicas plus the default maxSurge of 25%."""
POOL_NAME = "bench"
MIN_PODS_PER_NODE = 110
"""The kubelet's default maxPods; a node gets more only when the pods need it."""
STALL_SECONDS = 60.0
"""A phase fails when the Deployment's status has not changed for this long."""
WATCH_SECONDS = 86400
"""The Deployment watch's timeoutSeconds: longer than any run (the server would otherwise end
it after its own default)."""
SETTLE_SECONDS = 15.0
"""Seconds between the nodes' registration and the rate at rest: their Leases are created
(within one 10 s renew interval)."""
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
STATUS_FIELDS = ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas",
                 "availableReplicas", "unavailableReplicas")


def make_deployment(replicas: int) -> dict[str, Any]:
    labels = {"app": NAME}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": NAME, "namespace": NAMESPACE},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                         "name": CONTAINER, "image": IMAGE, "resources": {"requests": {
                             "cpu": f"{POD_CPU_MILLIS}m", "memory": POD_MEMORY}}}]}}}}


def image_patch() -> bytes:
    """What `kubectl set image deployment/bench app=UPDATED_IMAGE` sends."""
    return orjson.dumps({"spec": {"template": {"spec": {"containers": [
        {"name": CONTAINER, "image": UPDATED_IMAGE}]}}}})


def node_pools(nodes: int, replicas: int) -> list[dict[str, Any]]:
    """One pool of `nodes` nodes of the default size (4 cpu, 16Gi), each with room for twice
    its even share of the surge's pods: more pods, and cpu for them, only if that needs
    more than the default 110 pods."""
    pods = max(MIN_PODS_PER_NODE, 2 * math.ceil(replicas * SURGE / nodes))
    cpu = max(4, math.ceil(pods * POD_CPU_MILLIS / 1000) + 1)
    return [{"name": POOL_NAME, "count": nodes,
             "capacity": {"pods": str(pods), "cpu": str(cpu)}}]


def ready(deployment: dict[str, Any], replicas: int) -> bool:
    status = deployment.get("status") or {}
    return status.get("readyReplicas") == replicas and status.get("updatedReplicas") == replicas


def rolled_out(deployment: dict[str, Any], replicas: int) -> bool:
    """`kubectl rollout status`'s test of a complete rolling update."""
    status = deployment.get("status") or {}
    return (status.get("observedGeneration", 0) >= deployment["metadata"]["generation"]
            and status.get("updatedReplicas") == replicas
            and status.get("replicas") == replicas
            and status.get("availableReplicas") == replicas)


def describe_status(deployment: dict[str, Any] | None) -> str:
    if deployment is None:
        return "no Deployment seen yet"
    status = deployment.get("status") or {}
    fields = ", ".join(f"{name} {status.get(name, 0)}" for name in STATUS_FIELDS)
    return f"generation {deployment['metadata'].get('generation')}, {fields}"


class DeploymentWatch:
    """A watch on the one Deployment; `changed` is set on every event, `latest` is the last
    state seen and `changed_at` when its status last changed."""

    def __init__(self, http: aiohttp.ClientSession, version: str, *,
                 trace: Callable[[str], None] | None) -> None:
        """`trace`, when given (`--trace`), gets a line at every change of the status."""
        self._http = http
        self._version = version
        self._trace = trace
        self.latest: dict[str, Any] | None = None
        self.changed_at = time.monotonic()
        self.changed = asyncio.Event()
        self.began = time.monotonic()
        """When the current phase began; `trace` lines count from it."""

    async def run(self) -> None:
        params = {"watch": "true", "resourceVersion": self._version,
                  "fieldSelector": f"metadata.name={NAME}", "allowWatchBookmarks": "false",
                  "timeoutSeconds": str(WATCH_SECONDS)}
        async with self._http.get(DEPLOYMENTS_PATH, params=params,
                                  timeout=aiohttp.ClientTimeout(total=None)) as response:
            async for line in response.content:
                event = orjson.loads(line)
                if event["type"] == "ERROR":
                    raise RuntimeError(f"watch failed: {line[:300]!r}")
                obj = event["object"]
                before = self.latest
                if before is None or before.get("status") != obj.get("status") or \
                        before["metadata"].get("generation") != obj["metadata"].get("generation"):
                    self.changed_at = time.monotonic()
                    if self._trace is not None:
                        self._trace(f"  {time.monotonic() - self.began:7.2f} s "
                                    f"{describe_status(obj)}")
                self.latest = obj
                self.changed.set()
        raise RuntimeError("the Deployment watch ended before the run did")

    async def wait_for(self, done: Callable[[dict[str, Any]], bool], *, phase: str) -> float:
        """Wait until `done` holds for the latest state; return the `time.monotonic()` instant
        the watch saw it. Raises Stalled when the status has not changed for STALL_SECONDS."""
        while True:
            if self.latest is not None and done(self.latest):
                return time.monotonic()
            self.changed.clear()
            remaining = self.changed_at + STALL_SECONDS - time.monotonic()
            if remaining <= 0:
                raise Stalled(f"{phase}: no progress for {STALL_SECONDS:.0f} s: "
                              f"{describe_status(self.latest)}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)


class Stalled(Exception):
    """A phase made no progress for STALL_SECONDS."""


@dataclass(frozen=True)
class Processes:
    """The pids whose CPU and memory the run reports."""

    server: int
    components: int
    simulator: int

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each process, of this one (`bench`, the watching client) and
        of the whole machine (`machine`, which `describe` turns into other processes')."""
        return {**{name: apiclient.cpu_seconds(pid) for name, pid in self.__dict__.items()},
                "bench": time.process_time(), "machine": apiclient.machine_cpu_seconds()}

    def describe_rss(self) -> str:
        return "RSS: " + ", ".join(f"{name} {apiclient.rss_mib(pid):,.0f} MiB"
                                   for name, pid in self.__dict__.items())


@dataclass(frozen=True)
class Mark:
    """Where a phase starts from: instant, storage revision, CPU seconds per process."""

    at: float
    revision: int
    cpu: dict[str, float]

    @classmethod
    async def now(cls, http: aiohttp.ClientSession, processes: Processes) -> Mark:
        revision = await apiclient.storage_revision(http)
        return cls(at=time.monotonic(), revision=revision, cpu=processes.cpu())

    async def describe(self, http: aiohttp.ClientSession,
                       processes: Processes) -> tuple[str, float]:
        """The writes per second and CPU in cores from this mark to now (a phase's end, read
        once the watch saw it), and the write rate."""
        revision = await apiclient.storage_revision(http)
        cpu = processes.cpu()
        wall = time.monotonic() - self.at
        writes = revision - self.revision
        rate = writes / wall
        used = {name: (cpu[name] - self.cpu[name]) / wall for name in cpu}
        used["other"] = max(0.0, used.pop("machine") - sum(used.values()))
        cores = ", ".join(f"{name} {share:.2f}" for name, share in used.items())
        return (f"{writes:,} writes ({rate:,.0f}/s, every write counted: pods, bindings, "
                f"statuses, ReplicaSets, Events, Leases); CPU in cores: {cores} (machine has "
                f"{os.cpu_count()})"), rate


async def bench(target: apiclient.Target, processes: Processes, *, nodes: int, replicas: int,
                idle: float, trace: bool,
                report: Callable[[str], None]) -> dict[str, float]:
    """Both phases; `report` gets a line per step. Returns the summary figures."""
    async with apiclient.session(target, connections=4) as http:
        registered = await apiclient.wait_nodes(http, nodes)
        report(f"{nodes:,} simulated nodes registered in {registered:.1f} s")
        await apiclient.wait_service_account(http)
        await asyncio.sleep(SETTLE_SECONDS)
        at_rest = await Mark.now(http, processes)
        await asyncio.sleep(idle)
        line, idle_rate = await at_rest.describe(http, processes)
        report(f"at rest over {idle:.0f} s: {line}")
        async with http.get(DEPLOYMENTS_PATH, params={"limit": "1"}) as response:
            version = orjson.loads(await response.read())["metadata"]["resourceVersion"]
        watch = DeploymentWatch(http, version, trace=report if trace else None)
        async with asyncio.TaskGroup() as group:
            watcher = group.create_task(watch.run())
            try:
                figures = await phases(http, watch, processes, replicas=replicas,
                                       report=report)
            except Stalled as stalled:
                raise Stalled(f"{stalled}\n{await where_it_stands(http)}") from None
            finally:
                watcher.cancel()
    return {"nodes": nodes, "replicas": replicas, "idle_writes_per_s": round(idle_rate, 1),
            **figures}


async def where_it_stands(http: aiohttp.ClientSession) -> str:
    """The Deployment's ReplicaSets (desired, current, ready) and its pods by phase, bound
    or not: what a stalled phase waits for."""
    selector = {"labelSelector": f"app={NAME}"}
    async with http.get(REPLICASETS_PATH, params=selector) as response:
        sets = orjson.loads(await response.read())["items"]
    async with http.get(PODS_PATH, params=selector) as response:
        pods = orjson.loads(await response.read())["items"]
    lines = [f"  replicaset {rs['metadata']['name']}: desired {rs['spec'].get('replicas')}, "
             f"current {rs.get('status', {}).get('replicas', 0)}, ready "
             f"{rs.get('status', {}).get('readyReplicas', 0)}" for rs in sets]
    by_phase = Counter((pod.get("status") or {}).get("phase", "") +
                       ("" if pod["spec"].get("nodeName") else " (unbound)") for pod in pods)
    lines.append(f"  {len(pods):,} pods: " + ", ".join(
        f"{count:,} {phase}" for phase, count in sorted(by_phase.items())))
    return "\n".join(lines)


async def phases(http: aiohttp.ClientSession, watch: DeploymentWatch, processes: Processes, *,
                 replicas: int, report: Callable[[str], None]) -> dict[str, float]:
    create = await Mark.now(http, processes)
    async with http.post(DEPLOYMENTS_PATH, data=orjson.dumps(make_deployment(replicas)),
                         headers={"Content-Type": apiclient.JSON_CONTENT_TYPE}) as response:
        if response.status != 201:
            raise RuntimeError(f"create: HTTP {response.status}: {await response.text()}")
    watch.changed_at = watch.began = create.at
    created = await watch.wait_for(lambda d: ready(d, replicas), phase="create")
    line, create_rate = await create.describe(http, processes)
    report(f"create: {replicas:,} replicas ready in {created - create.at:.1f} s; {line}")

    update = await Mark.now(http, processes)
    async with http.patch(f"{DEPLOYMENTS_PATH}/{NAME}", data=image_patch(),
                          headers={"Content-Type": STRATEGIC_MERGE_PATCH}) as response:
        if response.status != 200:
            raise RuntimeError(f"set image: HTTP {response.status}: {await response.text()}")
        generation = orjson.loads(await response.read())["metadata"]["generation"]
    watch.changed_at = watch.began = update.at
    updated = await watch.wait_for(
        lambda d: d["metadata"]["generation"] >= generation and rolled_out(d, replicas),
        phase="rolling update")
    line, update_rate = await update.describe(http, processes)
    report(f"rolling update: {replicas:,} replicas rolled out in {updated - update.at:.1f} s; "
           f"{line}")
    return {"create_s": round(created - create.at, 1),
            "create_writes_per_s": round(create_rate, 1),
            "update_s": round(updated - update.at, 1),
            "update_writes_per_s": round(update_rate, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--replicas", type=int, default=10000)
    parser.add_argument("--idle", type=float, default=10.0,
                        help="seconds at rest, before the create, to measure the base write rate")
    parser.add_argument("--metric-resolution", type=float,
                        default=apiclient.BENCH_METRIC_RESOLUTION,
                        help="seconds between the server's scrapes of node usage (15 in a "
                             "cluster; default "
                             f"{apiclient.BENCH_METRIC_RESOLUTION:g}: one scrape, at the start)")
    parser.add_argument("--trace", action="store_true",
                        help="print the Deployment's status at every change")
    args = parser.parse_args()
    with apiclient.server(controllers=True,
                          metric_resolution=args.metric_resolution) as server, \
            apiclient.simulator(server.target, pools=node_pools(args.nodes, args.replicas),
                                log=server.data_dir / "sim.log") as simulator:
        processes = Processes(server=server.pid, components=apiclient.components_pid(server.pid),
                              simulator=simulator)
        try:
            figures = asyncio.run(bench(server.target, processes, nodes=args.nodes,
                                        replicas=args.replicas, idle=args.idle,
                                        trace=args.trace, report=print))
        except* Stalled as stalled:
            for error in stalled.exceptions:
                print(error)
            print(processes.describe_rss())
            sys.exit(1)
        print(processes.describe_rss())
    apiclient.print_summary("controllers", figures)


if __name__ == "__main__":
    main()
