"""Benchmark of watch event delivery through the API server over HTTPS.

Run: .venv/bin/python bench/bench_watch.py. It prints, never asserts: timings depend on the
machine. WATCHERS clients each open their own connection and watch
/api/v1/namespaces/default/configmaps from the resourceVersion of a list; once every stream is
open, one client creates EVENTS ConfigMaps at RATE a second. For each event each watcher
receives, the delivery latency is the time it was read minus (a) the time the creating client
had its 201, and (b) the time it sent the create; p50/p99/max of both over all watchers and
events. A negative (a) means the event arrived before the create's own response. Every watcher
should see all EVENTS creates; any shortfall is printed.

The watchers run in WATCHER_PROCESSES child processes, away from the creating client, so that
reading their streams does not delay the creates; times cross processes through
`time.monotonic()` (one clock for the machine). Reading 100 streams costs the watcher process
CPU: its use is printed, since a busy watcher process reads late and adds to the latency, and
so is that of the server and of other processes on the machine (work that competed with the
benchmark) over the creates.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.queues
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import apiclient
import orjson
import uvloop

WATCHERS = 100
WATCHER_PROCESSES = 1
EVENTS = 1_000
RATE = 200.0
CREATE_CONNECTIONS = 10
PREFIX = "watched"
# Watchers stop this long after the last create was due, whether or not all events came.
DRAIN_SECONDS = 10.0
# Bounds on starting the watcher processes and on the server ending each watch.
READY_TIMEOUT = 60.0
WATCH_TIMEOUT_SECONDS = 120
READY = "ready"


@dataclass(frozen=True)
class Received:
    """One watcher process's result: per watcher, event index -> `time.monotonic()` it was
    read; the CPU seconds the process used while watching; its wall seconds meanwhile."""

    times: list[dict[int, float]]
    cpu_seconds: float
    wall_seconds: float


async def watch_all(target: apiclient.Target, *, count: int, resource_version: str,
                    messages: multiprocessing.queues.Queue[Any]) -> Received:
    """Open `count` watches; say READY on `messages` once all answered; read until each has
    EVENTS creates or the deadline passes."""
    times: list[dict[int, float]] = [{} for _ in range(count)]
    opened = 0
    all_open = asyncio.Event()
    params = {"watch": "true", "resourceVersion": resource_version,
              "timeoutSeconds": str(WATCH_TIMEOUT_SECONDS)}
    stream_timeout = aiohttp.ClientTimeout(total=None, sock_connect=apiclient.REQUEST_TIMEOUT)

    async def watcher(http: aiohttp.ClientSession, seen: dict[int, float]) -> None:
        nonlocal opened
        async with http.get(apiclient.CONFIGMAPS_PATH, params=params,
                            timeout=stream_timeout) as response:
            if response.status != 200:
                raise RuntimeError(f"watch: HTTP {response.status}: "
                                   f"{(await response.read())[:300]!r}")
            opened += 1
            if opened == count:
                all_open.set()
            while len(seen) < EVENTS:
                line = await response.content.readline()
                now = time.monotonic()
                if not line:
                    return  # the server ended the stream
                event = orjson.loads(line)
                name = event["object"]["metadata"].get("name", "")
                if event["type"] == "ADDED" and name.startswith(PREFIX):
                    seen.setdefault(int(name.rsplit("-", 1)[1]), now)

    async with apiclient.session(target, connections=count) as http:
        watchers = [asyncio.ensure_future(watcher(http, seen)) for seen in times]
        try:
            await asyncio.wait_for(all_open.wait(), READY_TIMEOUT)
            messages.put(READY)
            began, cpu = time.monotonic(), time.process_time()
            deadline = EVENTS / RATE + DRAIN_SECONDS
            await asyncio.wait(watchers, timeout=deadline)
            for failed in (task for task in watchers if task.done() and task.exception()):
                raise RuntimeError("a watcher failed") from failed.exception()
            return Received(times=times, cpu_seconds=time.process_time() - cpu,
                            wall_seconds=time.monotonic() - began)
        finally:
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)


def watcher_process(target: apiclient.Target, count: int, resource_version: str,
                    messages: multiprocessing.queues.Queue[Any]) -> None:
    """Runs in a child process; sends READY, then its `Received` (or the exception)."""
    try:
        messages.put(uvloop.run(watch_all(target, count=count,
                                          resource_version=resource_version,
                                          messages=messages)))
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
        messages.put(RuntimeError(f"watcher process failed: {exc!r}"))


async def list_resource_version(target: apiclient.Target) -> str:
    async with apiclient.session(target, connections=1) as http, \
            http.get(apiclient.CONFIGMAPS_PATH, params={"limit": "1"}) as response:
        return str((await response.json())["metadata"]["resourceVersion"])


async def create_paced(target: apiclient.Target) -> tuple[list[float], list[float]]:
    """Create EVENTS ConfigMaps, one due every 1/RATE s; (sent, answered) monotonic times per
    index. Creates overlap on up to CREATE_CONNECTIONS connections if the server is slower
    than the pace, so the pace holds."""
    sent, answered = [0.0] * EVENTS, [0.0] * EVENTS
    async with apiclient.session(target, connections=CREATE_CONNECTIONS) as http:
        await apiclient.warm_up(http)

        async def create(index: int) -> None:
            sent[index] = time.monotonic()
            await apiclient.create_configmap(http, f"{PREFIX}-{index:05d}")
            answered[index] = time.monotonic()

        start = time.monotonic()
        async with asyncio.TaskGroup() as group:
            for index in range(EVENTS):
                await asyncio.sleep(max(0.0, start + index / RATE - time.monotonic()))
                group.create_task(create(index))
    return sent, answered


def expect(messages: multiprocessing.queues.Queue[Any], timeout: float) -> Any:
    message = messages.get(timeout=timeout)
    if isinstance(message, Exception):
        raise message
    return message


def main() -> None:
    context = multiprocessing.get_context("spawn")
    with apiclient.server() as server:
        resource_version = uvloop.run(list_resource_version(server.target))
        messages: multiprocessing.queues.Queue[Any] = context.Queue()
        processes = [context.Process(target=watcher_process, args=(
            server.target, WATCHERS // WATCHER_PROCESSES, resource_version, messages))
            for _ in range(WATCHER_PROCESSES)]
        for process in processes:
            process.start()
        try:
            for _ in processes:
                if expect(messages, READY_TIMEOUT) != READY:
                    raise RuntimeError("watcher process did not report ready")
            mark = apiclient.CPUMark.now(server.pid)
            sent, answered = uvloop.run(create_paced(server.target))
            received: list[Received] = [
                expect(messages, EVENTS / RATE + DRAIN_SECONDS + READY_TIMEOUT)
                for _ in processes]
            cpu = mark.since(child_clients=sum(result.cpu_seconds for result in received))
        finally:
            for process in processes:
                process.join(READY_TIMEOUT)
                if process.is_alive():
                    process.kill()

    after_response, after_send, shortfalls = [], [], []
    for result in received:
        for seen in result.times:
            if len(seen) < EVENTS:
                shortfalls.append(EVENTS - len(seen))
            for index, at in seen.items():
                after_response.append(at - answered[index])
                after_send.append(at - sent[index])
    create_wall = max(answered) - min(sent)
    by_response = apiclient.summary_ms(after_response)
    by_send = apiclient.summary_ms(after_send)
    print(f"{WATCHERS} watchers, {EVENTS} creates at {RATE:.0f}/s "
          f"(achieved {EVENTS / create_wall:.0f}/s): {len(after_response):,} events delivered")
    print(f"delivery latency after the create's 201: {apiclient.format_ms(by_response)}")
    print(f"delivery latency after the create was sent: {apiclient.format_ms(by_send)}")
    if shortfalls:
        print(f"SHORTFALL: {len(shortfalls)} watchers missed events "
              f"({sum(shortfalls)} in all, at most {max(shortfalls)} for one)")
    else:
        print(f"every watcher saw all {EVENTS} events")
    watcher_cpu = sum(result.cpu_seconds for result in received)
    watcher_wall = max(result.wall_seconds for result in received)
    print(f"watcher process(es) CPU {watcher_cpu / watcher_wall:.2f} cores; {cpu.describe()}")
    apiclient.print_summary("watch", {
        "watchers": WATCHERS, "events": EVENTS, "rate": RATE,
        "after_response_ms": by_response, "after_send_ms": by_send,
        "missed_events": sum(shortfalls), **cpu.figures()})


if __name__ == "__main__":
    main()
