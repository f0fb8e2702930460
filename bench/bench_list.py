"""Benchmark of listing 10,000 ConfigMaps through the API server over HTTPS.

Run: .venv/bin/python bench/bench_list.py. It prints, never asserts: timings depend on the
machine. With OBJECTS ConfigMaps stored (created first, from 50 connections), it times GET
/api/v1/namespaces/default/configmaps four ways, each the median of RUNS, from sending the
first request to the last byte of the last response:
- the whole list as JSON;
- the whole list as a Table (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`);
- pages of PAGE (`limit`, then `continue` until none) as JSON;
- pages of PAGE as a Table, which is what `kubectl get configmaps` sends.
It prints the bytes received and the number of items or rows (each should be OBJECTS), and
the CPU used by the server, this client and other processes on the machine meanwhile.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import apiclient
import orjson
import uvloop

OBJECTS = 10_000
CREATE_WORKERS = 50
RUNS = 5
PAGE = 500
JSON = apiclient.JSON_CONTENT_TYPE


async def list_once(http: aiohttp.ClientSession, *, accept: str,
                    limit: int | None) -> tuple[float, int, int]:
    """List all ConfigMaps (in pages of `limit`, or whole when None): (seconds, bytes, items or
    rows). The seconds run from sending each request to the last byte of its answer, summed
    over pages; parsing the answer (to count, and to find `continue`) is not counted, so the
    figure is the server's and the transfer's. Raises RuntimeError on an answer but 200."""
    seconds, received, count, token = 0.0, 0, 0, ""
    while True:
        params = {"limit": str(limit)} if limit else {}
        if token:
            params["continue"] = token
        begun = time.perf_counter()
        async with http.get(apiclient.CONFIGMAPS_PATH, params=params,
                            headers={"Accept": accept}) as response:
            body = await response.read()
        seconds += time.perf_counter() - begun
        if response.status != 200:
            raise RuntimeError(f"list: HTTP {response.status}: {body[:300]!r}")
        received += len(body)
        doc = orjson.loads(body)
        count += len(doc["rows"] if accept != JSON else doc["items"])
        token = doc["metadata"].get("continue", "")
        if not token:
            return seconds, received, count


async def measure(label: str, once: Callable[[], Awaitable[tuple[float, int, int]]], *,
                  server_pid: int) -> dict[str, Any]:
    """Run `once` RUNS times; print and return the median time with bytes and items, and
    print the CPU use meanwhile."""
    times = []
    mark = apiclient.CPUMark.now(server_pid)
    for _ in range(RUNS):
        seconds, received, count = await once()
        times.append(seconds)
    median = statistics.median(times)
    shortfall = "" if count == OBJECTS else f" (expected {OBJECTS}!)"
    print(f"{label}: median {median * 1e3:.0f} ms of {RUNS} "
          f"(min {min(times) * 1e3:.0f}, max {max(times) * 1e3:.0f}), "
          f"{received:,} bytes, {count} items{shortfall}")
    cpu = mark.since()
    print(f"  {cpu.describe()}")
    return {"median_ms": round(median * 1e3), "bytes": received, "items": count,
            **cpu.figures()}


async def run(target: apiclient.Target, *, server_pid: int) -> dict[str, Any]:
    await apiclient.create_names(target, [f"list-{i:05d}" for i in range(OBJECTS)],
                                 server_pid=server_pid, workers=CREATE_WORKERS)
    async with apiclient.session(target, connections=1) as http:
        await apiclient.warm_up(http)
        cases = {
            "json": ("full list, JSON", JSON, None),
            "table": ("full list, Table", apiclient.TABLE_ACCEPT, None),
            "json_paged": (f"paged list (limit={PAGE}), JSON", JSON, PAGE),
            "table_paged": (f"paged list (limit={PAGE}), Table, as kubectl get",
                            apiclient.TABLE_ACCEPT, PAGE),
        }
        figures = {}
        for key, (label, accept, limit) in cases.items():
            figures[key] = await measure(
                label,
                lambda accept=accept, limit=limit: list_once(http, accept=accept, limit=limit),
                server_pid=server_pid)
        return figures


def main() -> None:
    with apiclient.server() as server:
        figures = uvloop.run(run(server.target, server_pid=server.pid))
    apiclient.print_summary("list", {"objects": OBJECTS, **figures})


if __name__ == "__main__":
    main()
