"""Benchmark of simulated nodes: registration time and the steady-state cost of heartbeats.

Run: .venv/bin/python bench/bench_sim.py [--nodes 1000 5000] [--window 30]
[--renew-interval 10]. It prints, never asserts: figures depend on the machine.

For each node count, a fresh server starts (a child process, `apiclient.server`) and the
simulator runs in a second child process, as `kajitori sim` would, so each has its own core.
It reports:
- the time to register every node (plan, create the Nodes; Leases follow within one renew
  interval), measured inside the simulator from its informers' sync to the last Node created;
- then, after one renew interval for the Leases to settle into their spread, over `--window`
  seconds of steady state: Lease renewals per second achieved against those due (nodes /
  interval), failed renewals, the most any renewal ran late, and the CPU (as a share of one
  core) and RSS of the simulator and of the API server.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.queues
import time
from typing import Any

import apiclient

from kajitori.client import nodelease, rest
from kajitori.sim import pool, simulator

REPORT_EVERY = 1.0  # seconds between the simulator's counter reports


def run_simulator(kubeconfig: str, nodes: int, renew_interval: float,
                  messages: multiprocessing.queues.Queue[Any]) -> None:
    """The simulator child: register `nodes` nodes, say how long it took, then report the
    Lease counters every REPORT_EVERY seconds until killed."""

    async def main() -> None:
        config = await asyncio.to_thread(rest.load_kubeconfig, kubeconfig)
        settings = simulator.SimulatorSettings(
            node_lease=nodelease.NodeLeaseSettings(renew_interval=renew_interval))
        async with rest.RESTClient(config) as client, asyncio.TaskGroup() as group:
            sim = simulator.Simulator(client, pool.default_pools(nodes), settings=settings)
            group.create_task(sim.run())
            await sim.registered.wait()
            messages.put(("registered", sim.registration_seconds))
            while True:
                await asyncio.sleep(REPORT_EVERY)
                leases = sim.leases
                messages.put(("leases", time.monotonic(), leases.renewals, leases.failures,
                              leases.max_lateness))

    asyncio.run(main())


def latest(messages: multiprocessing.queues.Queue[Any], *, timeout: float) -> Any:
    """The newest message, waiting up to `timeout` for the first."""
    message = messages.get(timeout=timeout)
    while not messages.empty():
        message = messages.get_nowait()
    return message


def bench(nodes: int, *, window: float, renew_interval: float) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with apiclient.server() as server:
        messages: multiprocessing.queues.Queue[Any] = context.Queue()
        child = context.Process(target=run_simulator, args=(
            str(server.target.kubeconfig), nodes, renew_interval, messages))
        child.start()
        try:
            kind, registration = messages.get(timeout=600)
            assert kind == "registered"
            time.sleep(renew_interval + 2 * REPORT_EVERY)  # Leases created, spread settled
            start = latest(messages, timeout=10)
            sim_cpu0 = apiclient.cpu_seconds(child.pid)
            server_cpu0 = apiclient.cpu_seconds(server.pid)
            wall0 = time.monotonic()
            time.sleep(window)
            end = latest(messages, timeout=10)
            wall = time.monotonic() - wall0
            sim_cpu = apiclient.cpu_seconds(child.pid) - sim_cpu0
            server_cpu = apiclient.cpu_seconds(server.pid) - server_cpu0
            figures = {
                "nodes": nodes,
                "register_seconds": round(registration, 2),
                "renew_interval_s": renew_interval,
                "lease_renewals_due_per_s": round(nodes / renew_interval, 1),
                "lease_renewals_per_s": round((end[2] - start[2]) / (end[1] - start[1]), 1),
                "lease_failures": end[3],
                "lease_max_lateness_s": round(end[4], 2),
                "sim_cpu_share": round(sim_cpu / wall, 2),
                "sim_rss_mib": round(apiclient.rss_mib(child.pid), 1),
                "server_cpu_share": round(server_cpu / wall, 2),
                "server_rss_mib": round(apiclient.rss_mib(server.pid), 1),
            }
        finally:
            child.kill()
            child.join()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--renew-interval", type=float, default=10.0)
    args = parser.parse_args()
    for nodes in args.nodes:
        apiclient.print_summary("sim", bench(nodes, window=args.window,
                                             renew_interval=args.renew_interval))


if __name__ == "__main__":
    main()
