"""Scheduler throughput in process: scheduling cycles over synthetic nodes, no API server.

Builds a cache of N nodes (default 5,000, three zones, 32 cpu / 128Gi / 110 pods each), then
schedules pods through the default profile's full cycle (PreFilter, Filter, PreScore, Score,
select, assume) as the scheduler does, without binding over HTTP. Three workloads of
`--pods` pods each, in issue #4's order: plain (requests only), topology spread (maxSkew 1
over zones and hosts, 500-pod deployments), required pod anti-affinity over hostnames
(500-pod deployments); then fills the cluster to `--fill` pods (default 150,000) with plain
pods. Prints pods per second per workload, p50/p99 cycle latency, and the process's peak RSS.

    /work/venv/bin/python bench/bench_scheduler.py --nodes 5000 --pods 10000 --fill 150000

With `--e2e`, instead: a real server (child process, its own scheduler and controllers off),
`--nodes` simulated nodes (`kajitori.sim`, child process, a pool of `make_node`'s size in three
zones; the server scrapes their usage once: apiclient.BENCH_METRIC_RESOLUTION) and the scheduler
(`kajitori.scheduler.run`, child process). This process creates the
same workloads from the same `make_pod` over HTTPS from `--workers` connections, watches the
pods get bound and starts a workload only when the previous one is all bound; then it fills
the cluster to `--fill` pods. Per workload it prints pods per second from the first create to
the last bind and p50/p99 of create-to-bound; at the end the RSS of the server, the scheduler
and the simulator, and how long a client takes to list every pod (one GET without a limit,
then pages of 500 as kubectl lists).

    /work/venv/bin/python bench/bench_scheduler.py --e2e --nodes 5000 --pods 10000 --fill 150000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import random
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import apiclient
import orjson

from kajitori.scheduler import framework, scheduler, types

ZONE = "topology.kubernetes.io/zone"
ZONES = 3
DEPLOYMENT_SIZE = 500
"""Pods per app label: a spread or anti-affinity group. 500 pods of one required
anti-affinity group over hostnames fit on 500 of the 5,000 nodes."""
WORKLOADS = ("plain", "spread", "anti")
"""Issue #4's workloads of `--pods` pods each, in its order; `fill` (plain) comes after."""
PODS_PATH = "/api/v1/namespaces/default/pods"
LIST_PAGE = 500
"""The page size kubectl lists with (`--chunk-size` default)."""
WATCH_SECONDS = 86400
"""The bind watch's timeoutSeconds: longer than any run."""
STALL_SECONDS = 300
"""A phase fails when none of its pods gets bound for this long."""


def make_node(i: int) -> dict[str, Any]:
    allocatable = {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    name = f"node-{i:05d}"
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "resourceVersion": "1",
                         "labels": {"kubernetes.io/hostname": name, ZONE: f"zone-{i % ZONES}"}},
            "spec": {}, "status": {"allocatable": allocatable, "capacity": allocatable}}


def make_pod(i: int, kind: str) -> dict[str, Any]:
    app = f"{kind}-{i // DEPLOYMENT_SIZE}"
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "pause", "resources": {
        "requests": {"cpu": "100m", "memory": "128Mi"}}}]}
    selector = {"matchLabels": {"app": app}}
    if kind == "spread":
        spec["topologySpreadConstraints"] = [
            {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
             "labelSelector": selector},
            {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
             "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": selector}]
    elif kind == "anti":
        spec["affinity"] = {"podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": selector, "topologyKey": "kubernetes.io/hostname"}]}}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{kind}-{i}", "namespace": "default", "uid": f"{kind}-{i}",
                         "labels": {"app": app}},
            "spec": spec, "status": {"phase": "Pending"}}


def run(sched: scheduler.Scheduler, count: int, kind: str,
        report: Callable[[str], None]) -> None:
    fw = sched.frameworks[types.DEFAULT_SCHEDULER_NAME]
    pods = [types.pod_info(make_pod(i, kind)) for i in range(count)]
    latencies = []
    failed = 0
    start = time.perf_counter()
    for info in pods:
        begin = time.perf_counter()
        try:
            result = sched.schedule_pod(fw, {}, info)
        except framework.FitError:
            failed += 1
        else:
            sched.cache.assume_pod(info, result.node_name)
        latencies.append(time.perf_counter() - begin)
    elapsed = time.perf_counter() - start
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else 0.0
    report(f"{kind:>6}: {count} pods in {elapsed:.1f} s = {count / elapsed:,.0f} pods/s; "
           f"cycle p50 {statistics.median(latencies) * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms; "
           f"{failed} unschedulable; {len(sched.cache.pods)} pods placed in all")


def node_pools(nodes: int) -> list[dict[str, Any]]:
    """The simulator's pools for `nodes` nodes the size of `make_node`'s: 32 cpu, 128Gi,
    110 pods, in three zones, so the in-process and end-to-end figures compare and spread
    over zones has zones to spread over (the default pool has none). 150,000 pods of
    `make_pod`'s requests on 5,000 nodes take 3 cpu and 3.75Gi of each."""
    capacity = make_node(0)["status"]["capacity"]
    return [{"name": "bench", "count": nodes, "capacity": capacity,
             "zones": [f"zone-{zone}" for zone in range(ZONES)]}]


def run_scheduler(kubeconfig: str) -> None:
    from kajitori import scheduler as scheduler_

    asyncio.run(scheduler_.run(kubeconfig=Path(kubeconfig), leader_elect=False))


@dataclass
class Phase:
    """One workload of the end-to-end run: its pods' names and when each was created (the
    `time.monotonic()` instant its POST was sent) and seen bound (by the watch)."""

    kind: str
    count: int
    processes: dict[str, int]
    """The pid of each process whose CPU time per pod is reported, by name."""
    created: dict[str, float] = field(default_factory=dict)
    bound: dict[str, float] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    cpu: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cpu = {name: apiclient.cpu_seconds(pid) for name, pid in self.processes.items()}

    def see_bound(self, name: str, at: float) -> None:
        if name in self.bound:
            return
        self.bound[name] = at
        if len(self.bound) >= self.count:
            self.done.set()

    def describe(self) -> str:
        began = min(self.created.values())
        ended = max(self.bound.values())
        latencies = sorted(at - self.created[name] for name, at in self.bound.items())
        p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
        cpu = ", ".join(
            f"{name} {(apiclient.cpu_seconds(pid) - self.cpu[name]) / self.count * 1000:.1f}"
            for name, pid in self.processes.items())
        return (f"{self.kind:>6}: {self.count} pods in {ended - began:.1f} s = "
                f"{self.count / (ended - began):,.0f} pods/s first create to last bound "
                f"(creates took {max(self.created.values()) - began:.1f} s); "
                f"create-to-bound p50 {statistics.median(latencies) * 1000:,.0f} ms, "
                f"p99 {p99 * 1000:,.0f} ms; CPU ms per pod: {cpu}")


class BindWatch:
    """One watch on the pods of `default` over every phase; the current phase learns of its
    pods as they get a `spec.nodeName`. Only lines naming a node are decoded: most of the
    stream is the simulator's status updates of pods already seen bound.

    The server closes a watcher that falls 10,000 events behind, as upstream's cacher does,
    and this process is busy creating pods: when the stream ends, the pods are listed again
    (pages of LIST_PAGE) and the watch resumes from the list, as an informer would. A pod
    first seen bound in such a list counts as bound then, late rather than early; `report`
    says when it happens."""

    def __init__(self, http: aiohttp.ClientSession, version: str, *,
                 report: Callable[[str], None]) -> None:
        self._http = http
        self._version = version
        self._report = report
        self.phase: Phase | None = None

    async def run(self) -> None:
        while True:
            ended = await self._stream()
            self._report(f"pod watch ended ({ended}); listing the pods again")
            self._version = await self._relist()

    async def _stream(self) -> str:
        """Follow the watch until it ends; say how it ended."""
        params = {"watch": "true", "resourceVersion": self._version,
                  "timeoutSeconds": str(WATCH_SECONDS), "allowWatchBookmarks": "false"}
        async with self._http.get(PODS_PATH, params=params,
                                  timeout=aiohttp.ClientTimeout(total=None)) as response:
            if response.status != 200:
                return f"HTTP {response.status}"
            async for line in response.content:
                if line.startswith(b'{"type":"ERROR"'):
                    return line[:300].decode(errors="replace")
                if self.phase is not None and b'"nodeName"' in line:
                    self._see(orjson.loads(line).get("object") or {})
        return "closed by the server"

    async def _relist(self) -> str:
        """List every pod of `default`, seeing the bound ones; the list's resourceVersion."""
        token, version = "", ""
        while True:
            params = {"limit": str(LIST_PAGE)} | ({"continue": token} if token else {})
            async with self._http.get(PODS_PATH, params=params) as response:
                page = orjson.loads(await response.read())
            version = version or page["metadata"]["resourceVersion"]
            for obj in page["items"]:
                self._see(obj)
            token = page["metadata"].get("continue") or ""
            if not token:
                return version

    def _see(self, obj: dict[str, Any]) -> None:
        phase = self.phase
        name = obj["metadata"]["name"]
        if phase is not None and name in phase.created and obj["spec"].get("nodeName"):
            phase.see_bound(name, time.monotonic())


async def create_pods(sessions: list[aiohttp.ClientSession], phase: Phase) -> None:
    """POST the pods of `phase` (`make_pod`'s) from one coroutine per session, each on its own
    keep-alive connection. Raises RuntimeError on the first create that is not a 201."""

    async def worker(session: aiohttp.ClientSession, mine: range) -> None:
        for i in mine:
            pod = make_pod(i, phase.kind)
            name = pod["metadata"]["name"]
            body = orjson.dumps(pod)
            phase.created[name] = time.monotonic()
            async with session.post(PODS_PATH, data=body,
                                    headers={"Content-Type": apiclient.JSON_CONTENT_TYPE}) as resp:
                if resp.status != 201:
                    raise RuntimeError(f"create {name}: {resp.status} {await resp.text()}")

    async with asyncio.TaskGroup() as group:
        for index, session in enumerate(sessions):
            group.create_task(worker(session, range(index, phase.count, len(sessions))))


async def wait_bound(phase: Phase) -> None:
    """Wait until every pod of `phase` is bound. Raises RuntimeError when none is bound for
    STALL_SECONDS (pods the scheduler cannot place would otherwise hang the run)."""
    seen = -1
    while not phase.done.is_set():
        if len(phase.bound) == seen:
            raise RuntimeError(f"{phase.kind}: {phase.count - seen} of "
                               f"{phase.count} pods still unbound after "
                               f"{STALL_SECONDS} s without progress")
        seen = len(phase.bound)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(phase.done.wait(), STALL_SECONDS)


async def time_lists(http: aiohttp.ClientSession) -> list[str]:
    """Time a client listing every pod: one GET without a limit, then pages of LIST_PAGE
    following `continue` as kubectl does; each to the last item decoded."""
    timeout = aiohttp.ClientTimeout(total=None)
    begun = time.monotonic()
    async with http.get("/api/v1/pods", timeout=timeout) as response:
        whole = orjson.loads(await response.read())
    unpaged = time.monotonic() - begun
    size = response.content_length or 0
    begun, items, pages, token = time.monotonic(), 0, 0, ""
    while True:
        params = {"limit": str(LIST_PAGE)} | ({"continue": token} if token else {})
        async with http.get("/api/v1/pods", params=params, timeout=timeout) as response:
            page = orjson.loads(await response.read())
        if response.status != 200:
            raise RuntimeError(f"page {pages + 1} of the paged list: {response.status} "
                               f"{page.get('message', '')}")
        items += len(page["items"])
        pages += 1
        token = page["metadata"].get("continue") or ""
        if not token:
            break
    paged = time.monotonic() - begun
    return [f"list all pods, one GET: {len(whole['items']):,} pods"
            f"{f', {size / 2**20:,.0f} MiB' if size else ''} in {unpaged:.2f} s",
            f"list all pods, limit={LIST_PAGE}: {items:,} pods in {pages} pages in "
            f"{paged:.2f} s"]


async def end_to_end(target: apiclient.Target, *, pods: int, fill: int, workers: int,
                     nodes: int, processes: dict[str, int],
                     report: Callable[[str], None]) -> None:
    """The end-to-end workloads in issue #4's order, each waiting for its pods to be bound
    before the next starts; `report` gets a line per phase, with the CPU time per pod of
    `processes` (pids by name: a figure other work on the machine does not inflate, unlike
    pods per second), and the list timings."""
    context = target.ssl_context()
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(apiclient.session(target, connections=4,
                                                                 context=context))
        registered = await apiclient.wait_nodes(http, nodes)
        report(f"{nodes} simulated nodes registered in {registered:.1f} s")
        await apiclient.wait_service_account(http)
        async with http.get(PODS_PATH, params={"limit": "1"}) as response:
            version = orjson.loads(await response.read())["metadata"]["resourceVersion"]
        sessions = [await stack.enter_async_context(apiclient.session(
            target, connections=1, context=context)) for _ in range(workers)]
        await asyncio.gather(*(apiclient.warm_up(session) for session in sessions))
        watch = BindWatch(http, version, report=report)
        plan = [(kind, pods) for kind in WORKLOADS] + [("fill", fill - len(WORKLOADS) * pods)]
        async with asyncio.TaskGroup() as group:
            watcher = group.create_task(watch.run())
            for kind, count in plan:
                if count <= 0:
                    continue
                phase = Phase(kind, count, processes)
                watch.phase = phase
                await create_pods(sessions, phase)
                await wait_bound(phase)
                report(phase.describe())
            watcher.cancel()
        report("RSS with every pod bound: " + ", ".join(
            f"{name} {apiclient.rss_mib(pid):,.0f} MiB" for name, pid in processes.items()))
        for line in await time_lists(http):
            report(line)


def main_e2e(args: argparse.Namespace) -> None:
    spawn = multiprocessing.get_context("spawn")
    # The server's own scheduler would race the one measured here.
    with apiclient.server(extra_args=("--disable-scheduler",),
                          metric_resolution=args.metric_resolution) as server, \
            apiclient.simulator(server.target, pools=node_pools(args.nodes),
                                log=server.data_dir / "simulator.log") as simulator:
        scheduler_ = spawn.Process(target=run_scheduler, args=(str(server.target.kubeconfig),))
        scheduler_.start()
        try:
            processes = {"server": server.pid, "scheduler": scheduler_.pid or 0,
                         "simulator": simulator}
            asyncio.run(end_to_end(server.target, pods=args.pods, fill=args.fill,
                                   workers=args.workers, nodes=args.nodes,
                                   processes=processes, report=print))
            print("RSS after the lists: " + ", ".join(
                f"{name} {apiclient.rss_mib(pid):,.0f} MiB" for name, pid in processes.items()))
        finally:
            scheduler_.kill()
            scheduler_.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--fill", type=int, default=150000,
                        help="then schedule plain pods until this many are placed")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--e2e", action="store_true",
                        help="server, simulated nodes and scheduler as processes")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--metric-resolution", type=float,
                        default=apiclient.BENCH_METRIC_RESOLUTION,
                        help="seconds between the server's scrapes of node usage "
                             "(--metric-resolution, 15 in a cluster; by default one scrape, "
                             "at the start)")
    args = parser.parse_args()
    if args.e2e and args.nodes < min(args.pods, DEPLOYMENT_SIZE):
        parser.error(f"an anti-affinity group of {min(args.pods, DEPLOYMENT_SIZE)} pods needs "
                     f"as many nodes; --nodes is {args.nodes}")
    if args.e2e:
        main_e2e(args)
        return
    sched = scheduler.Scheduler(None, rng=random.Random(args.seed),
                                lister=lambda group, plural, namespace: [])
    for i in range(args.nodes):
        sched.cache.add_node(make_node(i))
    print(f"{args.nodes} nodes")
    for kind in WORKLOADS:
        run(sched, args.pods, kind, print)
    remaining = args.fill - len(sched.cache.pods)
    if remaining > 0:
        run(sched, remaining, "fill", print)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:,.0f} MiB")


if __name__ == "__main__":
    main()
