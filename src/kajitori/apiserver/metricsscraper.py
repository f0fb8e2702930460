"""Collects the nodes' cpu and memory usage for `metrics.k8s.io`: metrics-server's scraper and
storage, inside the API server.

Mirrors kubernetes-sigs/metrics-server `pkg/scraper/scraper.go` (every `--metric-resolution`
each node's kubelet is asked concurrently, each request cut off after
`--kubelet-request-timeout`, 10 s, or 90 % of the resolution if that is shorter) and
`pkg/storage` (the latest point of each node, pod and container, served by
`kajitori.apiserver.metricsapi`). A real node's kubelet is reached as pods/log reaches it
(`nodeproxy.kubelet_location`, the apiserver's kubelet client certificate) at
`/stats/summary?only_cpu_and_memory=true`, the kubelet's stats Summary
(k8s.io/kubelet/pkg/apis/stats/v1alpha1, served by `kajitori.kubelet.stats`).

Simulated nodes have addresses that lead nowhere: their simulator process serves the Summaries
of all its nodes from one loopback HTTP endpoint (`GET` → JSON Lines, one Summary per line,
`kajitori.sim.metrics`) and names it on each of its Nodes in the annotation
STATS_ENDPOINT_ANNOTATION. Each distinct endpoint is fetched once per round, so a round costs
one request per simulator, not per node; its answer is decoded a line at a time, letting the
loop serve requests between lines (at 5,000 nodes and 150,000 pods it is about 35 MB and a
second of this process's CPU). Only `http://` endpoints on a loopback address of
nodes whose runtime is simulated are fetched: a Node annotation must not make the API server
request any URL its writer likes. Coupling: the annotation key and the endpoint's answer are
shared with `kajitori.sim.metrics` (which may not import the API server).

Departures from metrics-server, on purpose:
- usage is the Summary's `usageNanoCores` (the kubelet's own rate) and `workingSetBytes`, as
  metrics-server did while it read the Summary API (before v0.6), not a rate between two
  scrapes of `/metrics/resource`; a node or pod whose Summary lacks either (a kubelet's first
  sample) has no point until the next round, as metrics-server waits for a second point;
- the `window` is the metric resolution;
- a node whose scrape fails keeps its last point for STALE_RESOLUTIONS resolutions (metrics-
  server drops it at once), so one slow answer does not make `kubectl top` flicker;
- `--metric-resolution` may be below 10 s (for tests).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import aiohttp
import orjson

from kajitori.api import errors, meta
from kajitori.apiserver.handlers import nodeproxy

Obj = dict[str, Any]
ListNodes = Callable[[], Awaitable[list[Obj]]]

log = logging.getLogger(__name__)

DEFAULT_METRIC_RESOLUTION = 15.0
"""Seconds between rounds (metrics-server's `--metric-resolution` default, 15 s)."""
KUBELET_REQUEST_TIMEOUT = 10.0
"""metrics-server's `--kubelet-request-timeout` default, in seconds."""
TIMEOUT_FRACTION = 0.9
"""A request may take at most this share of the resolution (metrics-server's bound)."""
STALE_RESOLUTIONS = 2
"""A node's point outlives failed scrapes for this many resolutions, then is dropped."""
CONCURRENT_SCRAPES = 64
"""Requests in flight at once in a round."""
LINES_PER_TURN = 50
"""Simulator Summaries decoded between two turns of the loop (about 5 ms)."""
SUMMARY_PATH = "/stats/summary?only_cpu_and_memory=true"
STATS_ENDPOINT_ANNOTATION = "sim.kajitori.io/stats-endpoint"
"""On a simulated Node: the URL its simulator serves every one of its nodes' Summaries at."""
LOOPBACK_NAMES = frozenset({"localhost"})
SCRAPE_ERRORS = (OSError, aiohttp.ClientError, TimeoutError, ValueError, TypeError,
                 AttributeError, KeyError)
"""A kubelet that cannot be reached, answers late, not 200, or not a Summary."""


# Points are tuples of strings and numbers: at 150,000 pods, a round keeps about 45 MB of them
# where dicts or dataclasses would hold four times as much, and the garbage collector stops
# tracking tuples of untracked values instead of scanning them at every collection.


class Usage(NamedTuple):
    """Resource usage at one point: cpu in nanocores, memory (working set) in bytes."""

    cpu_nanocores: int
    memory_bytes: int


class NodePoint(NamedTuple):
    """A node's latest usage; `timestamp` is RFC 3339, when the kubelet measured it."""

    timestamp: str
    usage: Usage


class PodPoint(NamedTuple):
    """A pod's latest usage, per container in the Summary's order; `timestamp` is the
    earliest of its containers' (metrics-server's choice)."""

    timestamp: str
    containers: tuple[tuple[str, Usage], ...]


PodKey = tuple[str, str]
"""(namespace, name)."""


@dataclass(frozen=True)
class NodeSample:
    """What one Summary said, with the monotonic time it was received; pods without a point
    are left out."""

    node: NodePoint | None
    pods: dict[PodKey, PodPoint]
    received: float


def _usage(cpu: Obj | None, memory: Obj | None) -> tuple[str, Usage] | None:
    """(cpu sample time, usage) of a Summary's `cpu` and `memory`; None when either number is
    missing (no rate yet in a kubelet's first sample)."""
    cpu, memory = cpu or {}, memory or {}
    nanocores, working_set = cpu.get("usageNanoCores"), memory.get("workingSetBytes")
    if nanocores is None or working_set is None:
        return None
    timestamp = str(cpu.get("time") or memory.get("time") or "")
    return timestamp, Usage(cpu_nanocores=int(nanocores), memory_bytes=int(working_set))


def node_point(summary: Obj) -> NodePoint | None:
    """The node's usage in a Summary, or None."""
    node = summary.get("node") or {}
    found = _usage(node.get("cpu"), node.get("memory"))
    return None if found is None else NodePoint(*found)


def pod_point(stats: Obj) -> PodPoint | None:
    """The usage of a Summary's PodStats, or None when it has no container or a container
    lacks usage (metrics-server leaves incomplete pods out)."""
    containers = []
    for container in stats.get("containers") or ():
        found = _usage(container.get("cpu"), container.get("memory"))
        if found is None:
            return None
        containers.append((str(container.get("name", "")), found))
    if not containers:
        return None
    # metav1.Time is RFC 3339 in UTC to the second: such strings sort as the times do.
    return PodPoint(timestamp=min(timestamp for _, (timestamp, _u) in containers),
                    containers=tuple((name, usage) for name, (_t, usage) in containers))


def pod_points(summary: Obj) -> dict[PodKey, PodPoint]:
    """The points of a Summary's pods that have one, by (namespace, name) of their podRef."""
    found = {}
    for stats in summary.get("pods") or ():
        point = pod_point(stats)
        if point is not None:
            ref = stats.get("podRef") or {}
            found[(str(ref.get("namespace", "")), str(ref.get("name", "")))] = point
    return found


def stats_endpoint(node: Obj) -> str | None:
    """The simulator endpoint a simulated Node names, if it names an acceptable one: an
    `http://` URL on a loopback host. None otherwise (the node then has no metrics)."""
    url = meta.annotations(node).get(STATS_ENDPOINT_ANNOTATION)
    if not url:
        return None
    parsed = urllib.parse.urlsplit(url)
    host = parsed.hostname or ""
    if parsed.scheme != "http" or not _is_loopback(host):
        return None
    return url


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class MetricsScraper:
    """Scrapes every `metric_resolution` seconds the kubelets (and simulators) of the nodes
    `list_nodes()` returns and keeps each node's latest Summary, digested.

    `node(name)` and `pod(namespace, name)` read the latest points; they never block and see
    only nodes that still exist and answered within STALE_RESOLUTIONS resolutions. A failed
    request (refused, timed out, not 200, not a Summary) is logged at most once per node
    until it succeeds again, and never stops the round or the loop. Runs on the API server's
    loop; `run()` returns only when cancelled."""

    def __init__(self, list_nodes: ListNodes, *, kubelet: nodeproxy.KubeletClient,
                 metric_resolution: float = DEFAULT_METRIC_RESOLUTION,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if metric_resolution <= 0:
            raise ValueError("metric-resolution must be greater than 0")
        self._list_nodes = list_nodes
        self._kubelet = kubelet
        self.metric_resolution = metric_resolution
        self._clock = clock
        self._samples: dict[str, NodeSample] = {}
        self._pods: dict[PodKey, PodPoint] = {}
        self._failing: set[str] = set()

    @property
    def request_timeout(self) -> float:
        return min(KUBELET_REQUEST_TIMEOUT, self.metric_resolution * TIMEOUT_FRACTION)

    def node(self, name: str) -> NodePoint | None:
        sample = self._samples.get(name)
        return None if sample is None else sample.node

    def pod(self, namespace: str, name: str) -> PodPoint | None:
        return self._pods.get((namespace, name))

    async def run(self) -> None:
        """Scrape at once, then every `metric_resolution` seconds, until cancelled."""
        while True:
            started = self._clock()
            try:
                await self.scrape()
            except Exception:  # the next round tries again
                log.exception("scraping node metrics failed")
            elapsed = self._clock() - started
            await asyncio.sleep(max(0.0, self.metric_resolution - elapsed))

    async def scrape(self) -> None:
        """One round: every real node's kubelet and every simulator endpoint once, at most
        CONCURRENT_SCRAPES at a time; then points of deleted nodes, and those older than
        STALE_RESOLUTIONS resolutions, are dropped."""
        nodes = await self._list_nodes()
        real: list[tuple[str, str]] = []
        simulated: dict[str, set[str]] = {}
        for node in nodes:
            name = meta.name(node)
            try:
                location = nodeproxy.kubelet_location(node)
            except errors.StatusError as exc:
                self._failed(name, exc)
                continue
            if location.simulated:
                endpoint = stats_endpoint(node)
                if endpoint is not None:
                    simulated.setdefault(endpoint, set()).add(name)
            else:
                real.append((name, location.base_url + SUMMARY_PATH))
        limit = asyncio.Semaphore(CONCURRENT_SCRAPES)
        timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session, \
                asyncio.TaskGroup() as group:
            for name, url in real:
                group.create_task(self._scrape_kubelet(session, limit, name, url))
            for endpoint, names in simulated.items():
                group.create_task(self._scrape_simulator(session, limit, endpoint, names))
        self._prune({meta.name(node) for node in nodes})

    async def _scrape_kubelet(self, session: aiohttp.ClientSession, limit: asyncio.Semaphore,
                              name: str, url: str) -> None:
        try:
            async with limit, session.get(url, ssl=self._kubelet.ssl_context()) as response:
                body = await response.read()
                _check(response.status, body)
            summary = orjson.loads(body)
            if not isinstance(summary, dict):
                raise ValueError("the answer is not a JSON object")
            self.record(summary, node_name=name)
        except SCRAPE_ERRORS as exc:
            self._failed(name, exc)

    async def _scrape_simulator(self, session: aiohttp.ClientSession,
                                limit: asyncio.Semaphore, endpoint: str,
                                names: set[str]) -> None:
        """Record the Summaries of `names` the endpoint serves, a line at a time (it may serve
        others: nodes whose annotation names it but that are gone, or not ours to believe)."""
        try:
            async with limit, session.get(endpoint, ssl=False) as response:
                if response.status != 200:
                    _check(response.status, await response.read())
                pending = b""
                async for chunk in response.content.iter_any():
                    *lines, pending = (pending + chunk).split(b"\n")
                    await self._record_lines(lines, names)
                await self._record_lines([pending], names)
        except SCRAPE_ERRORS as exc:
            for name in names:
                self._failed(name, exc)

    async def _record_lines(self, lines: list[bytes], names: set[str]) -> None:
        """Record each line's Summary, letting the loop run every LINES_PER_TURN lines (a
        chunk may hold the whole answer)."""
        for index, line in enumerate(lines):
            if index % LINES_PER_TURN == LINES_PER_TURN - 1:
                await asyncio.sleep(0)
            if not line.strip():
                continue
            summary = orjson.loads(line)
            name = (summary.get("node") or {}).get("nodeName", "")
            if name in names:
                self.record(summary, node_name=name)

    def record(self, summary: Obj, *, node_name: str) -> None:
        """Keep `summary` as `node_name`'s latest (replacing its pods' points). Public for
        tests that feed Summaries without a kubelet."""
        self._failing.discard(node_name)
        previous = self._samples.get(node_name)
        sample = NodeSample(node=node_point(summary), pods=pod_points(summary),
                            received=self._clock())
        self._samples[node_name] = sample
        if previous is not None:
            for key in previous.pods.keys() - sample.pods.keys():
                if self._pods.get(key) is previous.pods[key]:
                    del self._pods[key]
        self._pods.update(sample.pods)

    def _failed(self, name: str, exc: BaseException) -> None:
        if name not in self._failing:
            log.warning("unable to fetch metrics from node %s: %s", name, exc)
            self._failing.add(name)

    def _prune(self, existing: Iterable[str]) -> None:
        """Forget nodes that are gone and points older than STALE_RESOLUTIONS resolutions."""
        keep = set(existing)
        oldest = self._clock() - STALE_RESOLUTIONS * self.metric_resolution
        for name in [n for n, s in self._samples.items()
                     if n not in keep or s.received < oldest]:
            sample = self._samples.pop(name)
            for key, point in sample.pods.items():
                if self._pods.get(key) is point:
                    del self._pods[key]
        self._failing &= keep


def _check(status: int, body: bytes) -> None:
    """Raises ValueError with the answer's start unless `status` is 200."""
    if status != 200:
        raise ValueError(f"{status}: {body[:200].decode(errors='replace')}")
