"""Benchmark of server-side apply of Deployments through the API server over HTTPS.

Run: .venv/bin/python bench/bench_apply.py. It prints, never asserts: timings depend on the
machine. On a fresh server, DEPLOYMENTS Deployments (one container, a port, labels: what a
small manifest holds) are server-side applied as kubectl sends them (`PATCH` with
`application/apply-patch+yaml`, a JSON body, `fieldManager=bench&force=false`) from WORKERS
coroutines, each with its own keep-alive connection; then the same configurations are applied
again, which changes nothing (the server answers 200 without writing). For each pass it prints
applies/s, the p50/p90/p99/max latency (send to last byte of the answer), the server's CPU time
per apply (the goal of issue #3 is at most 2 ms for a no-op re-apply) and the CPU used by the
server, the client and other processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import aiohttp
import apiclient
import orjson
import uvloop

DEPLOYMENTS = 1_000
WORKERS = 20
NAMESPACE = "default"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
FIELD_MANAGER = "bench"


def deployment(name: str) -> bytes:
    labels = {"app": name, "tier": "web"}
    return orjson.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{
                                  "name": "nginx", "image": "nginx:1.25",
                                  "ports": [{"containerPort": 80}],
                                  "resources": {"requests": {"cpu": "100m"}}}]}}}})


def path(name: str) -> str:
    return (f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{name}"
            f"?fieldManager={FIELD_MANAGER}&force=false")


async def apply(http: aiohttp.ClientSession, name: str, expected: int) -> None:
    """PATCH one apply; raises RuntimeError unless the status is `expected`."""
    async with http.patch(path(name), data=deployment(name),
                          headers={"Content-Type": APPLY_CONTENT_TYPE}) as response:
        body = await response.read()
        if response.status != expected:
            raise RuntimeError(f"apply {name}: HTTP {response.status}: {body[:300]!r}")


async def apply_all(target: apiclient.Target, names: list[str], *, server_pid: int,
                    expected: int) -> apiclient.CreateRun:
    context = target.ssl_context()
    latencies: list[float] = []

    async def worker(http: aiohttp.ClientSession, mine: list[str]) -> None:
        for name in mine:
            begun = time.perf_counter()
            await apply(http, name, expected)
            latencies.append(time.perf_counter() - begun)

    async with contextlib.AsyncExitStack() as stack:
        sessions = [await stack.enter_async_context(
            apiclient.session(target, connections=1, context=context)) for _ in range(WORKERS)]
        await asyncio.gather(*(apiclient.warm_up(http) for http in sessions))
        mark = apiclient.CPUMark.now(server_pid)
        async with asyncio.TaskGroup() as group:
            for index, http in enumerate(sessions):
                group.create_task(worker(http, names[index::WORKERS]))
        return apiclient.CreateRun(latencies=latencies, began=mark.at, ended=time.monotonic(),
                                   cpu=mark.since())


def report(label: str, run: apiclient.CreateRun) -> dict[str, Any]:
    wall = run.ended - run.began
    count = len(run.latencies)
    rate = count / wall
    latency = apiclient.summary_ms(run.latencies)
    server_ms = run.cpu.server / count * 1e3
    print(f"{label}: {count} applies from {WORKERS} connections in {wall:.2f} s: "
          f"{rate:,.0f} applies/s; latency {apiclient.format_ms(latency)}; "
          f"server CPU {server_ms:.2f} ms per apply")
    print(f"{label}: {run.cpu.describe()}")
    return {"applies_per_s": round(rate), "latency_ms": latency,
            "server_cpu_ms_per_apply": round(server_ms, 2), **run.cpu.figures()}


def main() -> None:
    names = [f"web-{i:04d}" for i in range(DEPLOYMENTS)]
    with apiclient.server() as server:
        first = uvloop.run(apply_all(server.target, names, server_pid=server.pid, expected=201))
        figures = {"first_apply": report("first apply (creates)", first)}
        again = uvloop.run(apply_all(server.target, names, server_pid=server.pid, expected=200))
        figures["noop_reapply"] = report("no-op re-apply", again)
    apiclient.print_summary("apply", figures)


if __name__ == "__main__":
    main()
