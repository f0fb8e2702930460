"""Benchmark of ConfigMap creates through the API server over HTTPS.

Run: .venv/bin/python bench/bench_creates.py. It prints, never asserts: timings depend on the
machine. CREATES small ConfigMaps (two data keys, unique names) are POSTed to
/api/v1/namespaces/default/configmaps from WORKERS coroutines, each with its own keep-alive
connection, and it prints creates/s and the p50/p90/p99/max latency (send to last byte of the
201).

Twice, each time on a fresh server: first from one client process, then from CLIENT_PROCESSES
processes with WORKERS / CLIENT_PROCESSES coroutines each. A Python client costs CPU too: the
first run prints the client's CPU use, and if it is near a whole core the client, not the
server, sets the figure; the second shows what the server does when fed from two processes
(which then share the machine's cores with it). Clients run on uvloop, as the server does.
Each run prints the CPU used by the server, the clients and other processes on the machine
(work that competed with the benchmark), and the server's RSS after the load.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.queues
import time
from typing import Any

import apiclient
import uvloop

CREATES = 10_000
WORKERS = 50
CLIENT_PROCESSES = 2
# Time the client processes get to start, connect and warm up before they start together.
START_DELAY = 5.0
RESULT_TIMEOUT = 300.0


def names(prefix: str) -> list[str]:
    return [f"{prefix}-{i:05d}" for i in range(CREATES)]


def report(label: str, run: apiclient.CreateRun, *, server_pid: int) -> dict[str, Any]:
    """Print one run's figures and return them for the JSON summary."""
    wall = run.ended - run.began
    latency = apiclient.summary_ms(run.latencies)
    rate = len(run.latencies) / wall
    rss = apiclient.rss_mib(server_pid)
    print(f"{label}: {len(run.latencies)} creates from {WORKERS} connections in {wall:.2f} s: "
          f"{rate:,.0f} creates/s; latency {apiclient.format_ms(latency)}")
    print(f"{label}: {run.cpu.describe()}; server RSS after the load {rss:.1f} MiB")
    return {"creates_per_s": round(rate), "latency_ms": latency, **run.cpu.figures(),
            "server_rss_mib_after": round(rss, 1)}


def one_process() -> dict[str, Any]:
    with apiclient.server() as server:
        run = uvloop.run(apiclient.create_names(server.target, names("one"),
                                                server_pid=server.pid, workers=WORKERS))
        return report("1 client process", run, server_pid=server.pid)


def client_process(target: apiclient.Target, server_pid: int, mine: list[str], start_at: float,
                   results: multiprocessing.queues.Queue[apiclient.CreateRun]) -> None:
    """Runs in a child process: its share of the creates, result sent back through `results`."""
    results.put(uvloop.run(apiclient.create_names(
        target, mine, server_pid=server_pid, workers=WORKERS // CLIENT_PROCESSES,
        start_at=start_at)))


def merge(runs: list[apiclient.CreateRun]) -> apiclient.CreateRun:
    """One run from the client processes' runs, which started together. Each process measured
    the server's and the machine's CPU over its own window, and the windows all but coincide:
    the largest of each stands for the whole."""
    began, ended = min(run.began for run in runs), max(run.ended for run in runs)
    return apiclient.CreateRun(
        latencies=[latency for run in runs for latency in run.latencies],
        began=began, ended=ended,
        cpu=apiclient.CPUUse(wall=ended - began, server=max(run.cpu.server for run in runs),
                             clients=sum(run.cpu.clients for run in runs),
                             machine=max(run.cpu.machine for run in runs)))


def several_processes() -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.queues.Queue[apiclient.CreateRun] = context.Queue()
    with apiclient.server() as server:
        all_names = names("multi")
        start_at = time.monotonic() + START_DELAY
        processes = [context.Process(target=client_process, args=(
            server.target, server.pid, all_names[index::CLIENT_PROCESSES], start_at, results))
            for index in range(CLIENT_PROCESSES)]
        for process in processes:
            process.start()
        try:
            runs = [results.get(timeout=RESULT_TIMEOUT) for _ in processes]
        finally:
            for process in processes:
                process.join(RESULT_TIMEOUT)
                if process.is_alive():
                    process.kill()
        return report(f"{CLIENT_PROCESSES} client processes", merge(runs),
                      server_pid=server.pid)


def main() -> None:
    single = one_process()
    multi = several_processes()
    apiclient.print_summary("creates", {"creates": CREATES, "connections": WORKERS,
                                        "one_client_process": single,
                                        "two_client_processes": multi})


if __name__ == "__main__":
    main()
