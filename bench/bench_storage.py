"""Benchmark of kajitori.storage.sqlite: group-committed creates, lists, reopening.

Run: /work/venv/bin/python bench/bench_storage.py [--synchronous FULL|NORMAL] [--dir PATH].
It prints, never asserts: timings depend on the machine and its disk (fsync latency sets the
commit rate; group commit sets how many writes share one fsync). Prints creates/s and p50/p99
latency for 10,000 creates from 50 concurrent coroutines, then the time to list the 10,000
objects whole and in pages of 500, then the time to reopen (load) the store.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from kajitori.storage.sqlite import SQLiteStore

OBJECTS = 10_000
WRITERS = 50
PAGE = 500
PREFIX = "/registry/configmaps/default/"


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}",
                         "labels": {"app": "bench"}},
            "data": {f"key{i}": f"value {i}" for i in range(10)}}


async def create_all(store: SQLiteStore) -> list[float]:
    """Latencies (seconds) of OBJECTS creates issued by WRITERS coroutines at once."""
    latencies: list[float] = []

    async def writer(index: int) -> None:
        for i in range(index, OBJECTS, WRITERS):
            obj = configmap(f"cm-{i:05d}")
            start = time.perf_counter()
            await store.create(PREFIX + obj["metadata"]["name"], obj)
            latencies.append(time.perf_counter() - start)

    async with asyncio.TaskGroup() as group:
        for index in range(WRITERS):
            group.create_task(writer(index))
    return latencies


async def list_in_pages(store: SQLiteStore) -> int:
    count, token = 0, ""
    while True:
        page = await store.list(PREFIX, limit=PAGE, continue_token=token)
        count += len(page.items)
        token = page.continue_token
        if not token:
            return count


async def run(path: str, synchronous: str) -> None:
    async with await SQLiteStore.open(path, synchronous=synchronous) as store:
        start = time.perf_counter()
        latencies = await create_all(store)
        elapsed = time.perf_counter() - start
        quantiles = statistics.quantiles(latencies, n=100)
        print(f"synchronous={synchronous}: {OBJECTS} creates from {WRITERS} coroutines "
              f"in {elapsed:.2f} s: {OBJECTS / elapsed:,.0f} creates/s, "
              f"p50 {quantiles[49] * 1e3:.2f} ms, p99 {quantiles[98] * 1e3:.2f} ms, "
              f"{OBJECTS / store.commits:.1f} writes per commit")

        start = time.perf_counter()
        page = await store.list(PREFIX)
        print(f"list of {len(page.items)} objects: {(time.perf_counter() - start) * 1e3:.2f} ms")
        start = time.perf_counter()
        count = await list_in_pages(store)
        print(f"list of {count} objects in pages of {PAGE}: "
              f"{(time.perf_counter() - start) * 1e3:.2f} ms")

    start = time.perf_counter()
    async with await SQLiteStore.open(path, synchronous=synchronous) as store:
        print(f"reopen with {len((await store.list(PREFIX)).items)} objects: "
              f"{(time.perf_counter() - start) * 1e3:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synchronous", default="FULL")
    parser.add_argument("--dir", help="directory for the database (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        asyncio.run(run(str(Path(directory) / "state.db"), args.synchronous))


if __name__ == "__main__":
    main()
