"""Scheduler throughput in process: scheduling cycles over synthetic nodes, no API server.

Builds a cache of N nodes (default 5,000, three zones, 32 cpu / 128Gi / 110 pods each), then
schedules pods through the default profile's full cycle (PreFilter, Filter, PreScore, Score,
select, assume) as the scheduler does, without binding over HTTP. Three workloads of
`--pods` pods each, in issue #4's order: plain (requests only), topology spread (maxSkew 1
over zones and hosts, 500-pod deployments), required pod anti-affinity over hostnames
(500-pod deployments); then optionally fills the cluster (`--fill`, e.g. 150000) with plain
pods. Prints pods per second per workload, p50/p99 cycle latency, and the process's peak RSS.

    /work/venv/bin/python bench/bench_scheduler.py --nodes 5000 --pods 10000 --fill 150000

This measures the scheduler's own cost; end to end (apiserver, binding, simulated nodes) is
`bench/scheduler` of issue #4.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

from kajitori.scheduler import framework, scheduler, types

ZONE = "topology.kubernetes.io/zone"
DEPLOYMENT_SIZE = 500


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--fill", type=int, default=0,
                        help="then schedule plain pods until this many are placed")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
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
