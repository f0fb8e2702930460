"""Scheduler throughput in process: scheduling cycles over synthetic nodes, no API server.

Builds a cache of N nodes (default 5,000, three zones, 32 cpu / 128Gi / 110 pods each), then
schedules pods through the default profile's full cycle (PreFilter, Filter, PreScore, Score,
select, assume) as the scheduler does, without binding over HTTP. Three workloads of
`--pods` pods each, in issue #4's order: plain (requests only), topology spread (maxSkew 1
over zones and hosts, 500-pod deployments), required pod anti-affinity over hostnames
(500-pod deployments); then optionally fills the cluster (`--fill`, e.g. 150000) with plain
pods. Prints pods per second per workload, p50/p99 cycle latency, and the process's peak RSS.

    /work/venv/bin/python bench/bench_scheduler.py --nodes 5000 --pods 10000 --fill 150000

With `--e2e`, instead: a real server (child process), `--nodes` simulated nodes
(`kajitori.sim`, child process) and the scheduler (`kajitori.scheduler.run`, child process);
this process creates `--pods` plain pods over HTTPS from `--workers` connections and watches
them get bound. It prints pods per second from the first create to the last bind, p50/p99 of
create-to-bound, and the RSS of the server, the scheduler and the simulator.

    /work/venv/bin/python bench/bench_scheduler.py --e2e --nodes 5000 --pods 10000
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
from pathlib import Path
from typing import Any

import aiohttp
import apiclient
import orjson

from kajitori.scheduler import framework, scheduler, types

ZONE = "topology.kubernetes.io/zone"
DEPLOYMENT_SIZE = 500
REGISTRATION_WAIT = 900
"""Seconds to wait, at most, for the simulated nodes to register."""


def make_node(i: int) -> dict[str, Any]:
    allocatable = {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    name = f"node-{i:05d}"
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "resourceVersion": "1",
                         "labels": {"kubernetes.io/hostname": name, ZONE: f"zone-{i % 3}"}},
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


def run_simulator(kubeconfig: str, nodes: int) -> None:
    from kajitori import sim

    asyncio.run(sim.run(kubeconfig=Path(kubeconfig), nodes=nodes))


def run_scheduler(kubeconfig: str) -> None:
    from kajitori import scheduler as scheduler_

    asyncio.run(scheduler_.run(kubeconfig=Path(kubeconfig), leader_elect=False))


async def count_nodes(http: aiohttp.ClientSession) -> int:
    async with http.get("/api/v1/nodes", params={"limit": "1"}) as response:
        body = orjson.loads(await response.read())
    listed = len(body.get("items") or [])
    return listed + int((body.get("metadata") or {}).get("remainingItemCount") or 0)


async def end_to_end(target: apiclient.Target, *, pods: int, workers: int,
                     nodes: int) -> dict[str, float]:
    context = target.ssl_context()
    created: dict[str, float] = {}
    bound: dict[str, float] = {}
    all_bound = asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(apiclient.session(target, connections=4,
                                                                 context=context))
        for _ in range(REGISTRATION_WAIT):
            if await count_nodes(http) >= nodes:
                break
            await asyncio.sleep(1)
        async with http.get("/api/v1/namespaces/default/pods") as response:
            version = orjson.loads(await response.read())["metadata"]["resourceVersion"]

        async def watch() -> None:
            params = {"watch": "true", "resourceVersion": version, "timeoutSeconds": "3600"}
            async with http.get("/api/v1/namespaces/default/pods", params=params,
                                timeout=aiohttp.ClientTimeout(total=None)) as response:
                async for line in response.content:
                    event = orjson.loads(line)
                    obj = event.get("object") or {}
                    name = (obj.get("metadata") or {}).get("name", "")
                    if (obj.get("spec") or {}).get("nodeName") and name not in bound:
                        bound[name] = time.monotonic()
                        if len(bound) >= pods:
                            all_bound.set()
                            return

        sessions = [await stack.enter_async_context(apiclient.session(
            target, connections=1, context=context)) for _ in range(workers)]

        async def worker(session: aiohttp.ClientSession, names: list[str]) -> None:
            for name in names:
                body = orjson.dumps(make_pod(0, "plain") | {"metadata": {
                    "name": name, "namespace": "default", "labels": {"app": "bench"}}})
                created[name] = time.monotonic()
                async with session.post("/api/v1/namespaces/default/pods", data=body,
                                        headers={"Content-Type": "application/json"}) as resp:
                    if resp.status != 201:
                        raise RuntimeError(f"create {name}: {resp.status} {await resp.text()}")

        names = [f"bench-{i}" for i in range(pods)]
        async with asyncio.TaskGroup() as group:
            watcher = group.create_task(watch())
            await asyncio.sleep(0.5)
            began = time.monotonic()
            for index, session in enumerate(sessions):
                group.create_task(worker(session, names[index::workers]))
            await all_bound.wait()
            watcher.cancel()
        ended = max(bound.values())
    latencies = sorted(bound[n] - created[n] for n in names if n in bound and n in created)
    return {"pods_per_s": pods / (ended - began),
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
            "creates_done_s": max(created.values()) - began, "all_bound_s": ended - began}


def main_e2e(args: argparse.Namespace) -> None:
    spawn = multiprocessing.get_context("spawn")
    with apiclient.server() as server:
        kubeconfig = str(server.target.kubeconfig)
        children = [spawn.Process(target=run_simulator, args=(kubeconfig, args.nodes)),
                    spawn.Process(target=run_scheduler, args=(kubeconfig,))]
        for child in children:
            child.start()
        try:
            figures = asyncio.run(end_to_end(server.target, pods=args.pods,
                                             workers=args.workers, nodes=args.nodes))
            print(f"{args.nodes} simulated nodes, {args.pods} pods: "
                  f"{figures['pods_per_s']:,.0f} pods/s created-to-bound "
                  f"(creates done at {figures['creates_done_s']:.1f} s, all bound at "
                  f"{figures['all_bound_s']:.1f} s); create-to-bound p50 "
                  f"{figures['p50_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms")
            print(f"RSS: server {apiclient.rss_mib(server.pid):,.0f} MiB, scheduler "
                  f"{apiclient.rss_mib(children[1].pid):,.0f} MiB, simulator "
                  f"{apiclient.rss_mib(children[0].pid):,.0f} MiB")
        finally:
            for child in children:
                child.kill()
                child.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--fill", type=int, default=0,
                        help="then schedule plain pods until this many are placed")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--e2e", action="store_true",
                        help="server, simulated nodes and scheduler as processes")
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    if args.e2e:
        main_e2e(args)
        return
    sched = scheduler.Scheduler(None, rng=random.Random(args.seed),
                                lister=lambda group, plural, namespace: [])
    for i in range(args.nodes):
        sched.cache.add_node(make_node(i))
    print(f"{args.nodes} nodes")
    for kind in ("plain", "spread", "anti"):
        run(sched, args.pods, kind, print)
    remaining = args.fill - len(sched.cache.pods)
    if remaining > 0:
        run(sched, remaining, "fill", print)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:,.0f} MiB")


if __name__ == "__main__":
    main()
