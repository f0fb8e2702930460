"""Resource usage of simulated nodes and pods, served as kubelet stats Summaries.

Upstream, each kubelet serves its node's Summary (`/stats/summary`, k8s.io/kubelet stats
v1alpha1) and metrics-server scrapes it; here the API server scrapes
(`kajitori.apiserver.metricsscraper`) and serves `metrics.k8s.io` itself. Simulated nodes have
no kubelet to ask, so this process serves the Summaries of all its nodes from one HTTP
endpoint on loopback, `GET /stats/summary` → JSON Lines (one Summary per line, so that both
sides encode and decode a node at a time and their loops keep serving in between), and names
it on each of its Nodes in STATS_ENDPOINT_ANNOTATION (`node.register`): the API server asks
each simulator once per round however many nodes it runs. Summaries are computed at each request
from the pod informer's cache; nothing is written to the API. Coupling: the annotation key and
the answer's shape are the scraper's.

Usage is configurable per pod with the annotations `sim.kajitori.io/cpu-usage` and
`sim.kajitori.io/memory-usage` (quantities for the whole pod, split evenly over its
containers); otherwise each container uses `DEFAULT_USAGE_FRACTION` of its request. A node
uses the sum of its running pods plus a base for the system.

Summaries carry only what the API server reads (a cut of `only_cpu_and_memory=true`): the
node's cpu and memory, and each pod's podRef and containers with their cpu (`usageNanoCores`)
and memory (`workingSetBytes`); no pod totals or start times. At 5,000 nodes and 150,000 pods
that is one answer of about 35 MB every resolution; a pod's usage is computed once per
resourceVersion, so a request costs building and encoding the dicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import orjson
from aiohttp import web

from kajitori.api import meta, quantity
from kajitori.client import informer
from kajitori.sim import podlifecycle

Obj = dict[str, Any]
Wall = Callable[[], datetime.datetime]

log = logging.getLogger(__name__)

CPU_USAGE_ANNOTATION = "sim.kajitori.io/cpu-usage"
MEMORY_USAGE_ANNOTATION = "sim.kajitori.io/memory-usage"
ANNOTATIONS = {"cpu": CPU_USAGE_ANNOTATION, "memory": MEMORY_USAGE_ANNOTATION}
STATS_ENDPOINT_ANNOTATION = "sim.kajitori.io/stats-endpoint"
"""On each simulated Node: the URL this process serves its Summaries at."""
DEFAULT_USAGE_FRACTION = 0.1
"""A container without an annotation uses a tenth of its request."""
MINIMUM_USAGE = {"cpu": 1, "memory": 1024 * 1024 * 1000}
"""Milli-units a container without a request uses: 1m cpu, 1Mi memory."""
NODE_BASE_USAGE = {"cpu": 100, "memory": 256 * 1024 * 1024 * 1000}
"""Milli-units a node's system daemons use: 100m cpu, 256Mi memory."""
NANOCORES_PER_MILLICORE = 1_000_000
STATS_PATH = "/stats/summary"
JSON_LINES = "application/jsonl"
LINES_PER_WRITE = 100
"""Summaries encoded between two turns of the loop."""
LOOPBACK = "127.0.0.1"


def container_usage(pod: Obj) -> list[tuple[str, dict[str, int]]]:
    """(container name, {resource: milli-units}) for each container of `pod`."""
    containers = (pod.get("spec") or {}).get("containers") or []
    notes = meta.annotations(pod)
    result = []
    for container in containers:
        requests = (container.get("resources") or {}).get("requests") or {}
        usage = {}
        for resource, annotation in ANNOTATIONS.items():
            if annotation in notes:
                usage[resource] = quantity.parse(notes[annotation]).milli_value() \
                    // len(containers)
            elif resource in requests:
                usage[resource] = int(quantity.from_json(requests[resource]).milli_value()
                                      * DEFAULT_USAGE_FRACTION)
            else:
                usage[resource] = MINIMUM_USAGE[resource]
        result.append((container.get("name", ""), usage))
    return result


UsageOf = Callable[[Obj], list[tuple[str, dict[str, int]]]]


def _cpu_memory(usage: dict[str, int], *, now: str) -> Obj:
    """The Summary's `cpu` and `memory` of a usage in milli-units."""
    return {"cpu": {"time": now, "usageNanoCores": usage["cpu"] * NANOCORES_PER_MILLICORE},
            "memory": {"time": now, "workingSetBytes": usage["memory"] // 1000}}


def pod_stats(pod: Obj, *, now: str, usage_of: UsageOf = container_usage
              ) -> tuple[Obj, dict[str, int]]:
    """A Summary's PodStats of `pod` (podRef and containers) and the pod's total usage in
    milli-units; `usage_of` computes the containers' usage (`container_usage`, or a cache of
    it)."""
    total = {"cpu": 0, "memory": 0}
    containers = []
    for name, usage in usage_of(pod):
        total["cpu"] += usage["cpu"]
        total["memory"] += usage["memory"]
        containers.append({"name": name, **_cpu_memory(usage, now=now)})
    md = meta.metadata(pod)
    return {"podRef": {"name": md.get("name", ""), "namespace": md.get("namespace", ""),
                       "uid": md.get("uid", "")},
            "containers": containers}, total


def summary(node: str, pods: list[Obj], *, now: str, start_time: str,
            usage_of: UsageOf = container_usage) -> Obj:
    """The Summary of the simulated node `node` running `pods` (all of them counted: pass
    the running ones), measured at `now`; the node booted at `start_time`."""
    total = dict(NODE_BASE_USAGE)
    pod_entries = []
    for pod in pods:
        entry, usage = pod_stats(pod, now=now, usage_of=usage_of)
        pod_entries.append(entry)
        total["cpu"] += usage["cpu"]
        total["memory"] += usage["memory"]
    return {"node": {"nodeName": node, "startTime": start_time, **_cpu_memory(total, now=now)},
            "pods": pod_entries}


def _running(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" \
        and not meta.deletion_timestamp(pod)


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class StatsServer:
    """Serves the Summaries of the nodes `node_names()` returns, from the pods in `pods` (an
    informer indexed by `podlifecycle.NODE_NAME_INDEX`), on loopback.

    Start with `async with server.running():`; inside, `endpoint` is the URL to announce
    (`http://127.0.0.1:<port>/stats/summary`, the port free when started, new at each
    start). Each GET is answered from the cache at that moment; the server keeps no state."""

    def __init__(self, *, pods: informer.Informer, node_names: Callable[[], list[str]],
                 wall: Wall | None = None) -> None:
        self._pods = pods
        self._node_names = node_names
        self._wall: Wall = wall or _utc_now
        self._booted = meta.format_time(self._wall())
        self._usage: dict[str, tuple[str, list[tuple[str, dict[str, int]]]]] = {}
        self.endpoint = ""

    def summaries(self) -> Iterator[Obj]:
        """Every node's Summary, now, one at a time."""
        now = meta.format_time(self._wall())
        seen: dict[str, tuple[str, list[tuple[str, dict[str, int]]]]] = {}

        def usage_of(pod: Obj) -> list[tuple[str, dict[str, int]]]:
            """container_usage, remembered per pod uid and resourceVersion."""
            uid, version = meta.uid(pod), meta.resource_version(pod)
            cached = self._usage.get(uid)
            if cached is None or cached[0] != version:
                cached = (version, container_usage(pod))
            seen[uid] = cached
            return cached[1]

        for node in self._node_names():
            yield summary(node, [p for p in self._pods.cache.by_index(
                              podlifecycle.NODE_NAME_INDEX, node) if _running(p)],
                          now=now, start_time=self._booted, usage_of=usage_of)
        self._usage = seen  # pods gone since the last complete answer are forgotten

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": JSON_LINES})
        await response.prepare(request)
        lines: list[bytes] = []
        for node_summary in self.summaries():
            lines.append(orjson.dumps(node_summary) + b"\n")
            if len(lines) == LINES_PER_WRITE:
                await response.write(b"".join(lines))
                lines.clear()
                await asyncio.sleep(0)  # the nodes' leases and statuses go on meanwhile
        await response.write(b"".join(lines))
        await response.write_eof()
        return response

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[StatsServer]:
        app = web.Application()
        app.router.add_get(STATS_PATH, self._serve)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, LOOPBACK, 0)
            await site.start()
            port = runner.addresses[0][1]
            self.endpoint = f"http://{LOOPBACK}:{port}{STATS_PATH}"
            log.info("serving simulated nodes' stats at %s", self.endpoint)
            yield self
        finally:
            self.endpoint = ""
            await runner.cleanup()
