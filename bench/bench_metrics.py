"""What serving `metrics.k8s.io` costs the API server at scale: one scrape round of a simulator
with N nodes and P running pods, as `kajitori server` runs it every `--metric-resolution`.

The simulator's stats endpoint (`kajitori.sim.metrics.StatsServer`) runs in a child process, as
in `kajitori server` (the components process); this process plays the API server's side: the
`MetricsScraper` over the N Node objects, then a `kubectl top pod -A` worth of lookups. Printed:
per round the wall time, this process's CPU seconds, the longest stall of its event loop (what
other requests wait), and the simulator's CPU seconds to answer; the RSS of both.

Run: `python bench/bench_metrics.py [--nodes 5000] [--pods 150000] [--rounds 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import time
from collections import defaultdict
from typing import Any

from kajitori.apiserver import metricsscraper
from kajitori.apiserver.handlers import nodeproxy
from kajitori.sim import metrics, podlifecycle

Obj = dict[str, Any]


def _node_name(index: int) -> str:
    return f"sim-{index}"


def _pods(nodes: int, pods: int) -> list[Obj]:
    return [{"metadata": {"name": f"p-{i}", "namespace": f"ns-{i % 50}", "uid": f"uid-{i}",
                          "resourceVersion": "1"},
             "spec": {"nodeName": _node_name(i % nodes), "containers": [{
                 "name": "c", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]},
             "status": {"phase": "Running"}} for i in range(pods)]


class _Cache:
    """The one lookup StatsServer makes of its pod informer's cache."""

    def __init__(self, pods: list[Obj]) -> None:
        self._by_node: dict[str, list[Obj]] = defaultdict(list)
        for pod in pods:
            self._by_node[pod["spec"]["nodeName"]].append(pod)

    def by_index(self, index: str, value: str) -> list[Obj]:
        assert index == podlifecycle.NODE_NAME_INDEX
        return self._by_node.get(value, [])


class _Informer:
    def __init__(self, pods: list[Obj]) -> None:
        self.cache = _Cache(pods)


def _serve_stats(nodes: int, pods: int, endpoint: Any, cpu: Any, stop: Any) -> None:
    """The child: a StatsServer for the synthetic cluster until `stop` is set; reports its
    endpoint, then its CPU seconds when asked (a `cpu` message) through the pipe."""
    async def main() -> None:
        names = [_node_name(i) for i in range(nodes)]
        server = metrics.StatsServer(pods=_Informer(_pods(nodes, pods)),  # type: ignore[arg-type]
                                     node_names=lambda: names)
        async with server.running():
            endpoint.send(server.endpoint)
            while not stop.is_set():
                if cpu.poll():
                    cpu.recv()
                    cpu.send(time.process_time())
                await asyncio.sleep(0.05)
    asyncio.run(main())


def _nodes(count: int, endpoint: str) -> list[Obj]:
    return [{"metadata": {"name": _node_name(i), "annotations": {
                metricsscraper.STATS_ENDPOINT_ANNOTATION: endpoint}},
             "status": {"addresses": [{"type": "InternalIP", "address": "198.18.0.1"}],
                        "nodeInfo": {"containerRuntimeVersion": "sim://0.1.0"}}}
            for i in range(count)]


async def _longest_stall(stop: asyncio.Event) -> float:
    longest, last = 0.0, time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        longest = max(longest, now - last)
        last = now
    return longest


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _rounds(args: argparse.Namespace, nodes: list[Obj], child_cpu: Any) -> None:
    async def list_nodes() -> list[Obj]:
        return nodes

    scraper = metricsscraper.MetricsScraper(list_nodes, kubelet=nodeproxy.KubeletClient())
    print(f"{'round':>5} {'wall s':>8} {'server cpu s':>13} {'longest stall ms':>17} "
          f"{'sim cpu s':>10} {'pods with metrics':>18}")
    for number in range(1, args.rounds + 1):
        child_cpu.send("cpu")
        sim_before = child_cpu.recv()
        stop = asyncio.Event()
        watcher = asyncio.create_task(_longest_stall(stop))
        wall, cpu = time.perf_counter(), time.process_time()
        await scraper.scrape()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        stop.set()
        stall = await watcher
        child_cpu.send("cpu")
        sim_cpu = child_cpu.recv() - sim_before
        found = sum(scraper.pod(f"ns-{i % 50}", f"p-{i}") is not None
                    for i in range(args.pods))
        print(f"{number:>5} {wall:>8.2f} {cpu:>13.2f} {stall * 1000:>17.0f} {sim_cpu:>10.2f} "
              f"{found:>18}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=150_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    endpoint_here, endpoint_there = context.Pipe()
    cpu_here, cpu_there = context.Pipe()
    stop = context.Event()
    child = context.Process(target=_serve_stats,
                            args=(args.nodes, args.pods, endpoint_there, cpu_there, stop))
    child.start()
    try:
        endpoint = endpoint_here.recv()
        print(f"{args.nodes} simulated nodes, {args.pods} running pods, stats at {endpoint}")
        asyncio.run(_rounds(args, _nodes(args.nodes, endpoint), cpu_here))
        print(f"API server side max RSS {_rss_mib():.0f} MiB")
    finally:
        stop.set()
        child.join(30)


if __name__ == "__main__":
    main()
