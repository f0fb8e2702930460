"""The API server's scraper of node usage: stand-in kubelets (TLS, `/stats/summary`) and
simulator endpoints (one request for all their nodes), failures, staleness."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from kajitori.apiserver import metricsscraper
from kajitori.apiserver.handlers import nodeproxy
from kajitori.kubelet import server as kubelet_server

Obj = dict[str, Any]

T0 = "2026-01-01T00:00:00Z"
T1 = "2026-01-01T00:00:01Z"


def usage(cpu: int | None, memory: int, *, time: str = T0) -> Obj:
    stats: Obj = {"cpu": {"time": time}, "memory": {"time": time, "workingSetBytes": memory}}
    if cpu is not None:
        stats["cpu"]["usageNanoCores"] = cpu
    return stats


def summary(node: str, *, pods: list[Obj] | None = None, cpu: int | None = 5_000_000) -> Obj:
    return {"node": {"nodeName": node, "startTime": T0, **usage(cpu, 2**30)},
            "pods": pods if pods is not None else [pod_stats("web", "default")]}


def pod_stats(name: str, namespace: str, *, containers: tuple[tuple[str, int | None], ...] = (
        ("app", 1_234_567),), time: str = T0) -> Obj:
    return {"podRef": {"name": name, "namespace": namespace, "uid": "u"}, "startTime": T0,
            "containers": [{"name": c, "startTime": T0, **usage(cpu, 150 * 2**20, time=time)}
                           for c, cpu in containers]}


def real_node(name: str, port: int) -> Obj:
    return {"metadata": {"name": name},
            "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
                       "nodeInfo": {"containerRuntimeVersion": "containerd://1.6.20"}}}


def sim_node(name: str, endpoint: str) -> Obj:
    return {"metadata": {"name": name,
                         "annotations": {metricsscraper.STATS_ENDPOINT_ANNOTATION: endpoint}},
            "status": {"addresses": [{"type": "InternalIP", "address": "198.18.0.1"}],
                       "nodeInfo": {"containerRuntimeVersion": "sim://1.0"}}}


class StandIn:
    """Answers GET /stats/summary with `document` as a kubelet does, or with `lines` as a
    simulator does (one Summary per line, split across writes), or with `status` and a text
    body; counts the requests and their query strings."""

    def __init__(self, document: Obj | None = None, *, lines: list[Obj] | None = None) -> None:
        self.document = document
        self.lines = lines
        self.status = 200
        self.queries: list[str] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.queries.append(request.query_string)
        if self.status != 200:
            return web.Response(status=self.status, text="broken")
        if self.lines is None:
            return web.json_response(self.document)
        response = web.StreamResponse()
        await response.prepare(request)
        body = b"".join(orjson.dumps(line) + b"\n" for line in self.lines)
        for start in range(0, len(body), 7):  # lines cut mid-way, as TCP may deliver them
            await response.write(body[start:start + 7])
        await response.write_eof()
        return response


@contextlib.asynccontextmanager
async def serving(stand_in: StandIn, *, tls_dir: Path | None = None
                  ) -> AsyncIterator[int]:
    context = None
    if tls_dir is not None:
        cert, key = kubelet_server.ensure_serving_cert(tls_dir, node_name="n1",
                                                       node_ip="127.0.0.1")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
    app = web.Application()
    app.router.add_get("/stats/summary", stand_in.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def scraper_of(nodes: list[Obj], *, clock: Clock | None = None) -> metricsscraper.MetricsScraper:
    async def list_nodes() -> list[Obj]:
        return nodes

    return metricsscraper.MetricsScraper(list_nodes, kubelet=nodeproxy.KubeletClient(),
                                         metric_resolution=1.0, clock=clock or Clock())


async def test_a_real_node_is_scraped_over_tls_for_cpu_and_memory(tmp_path: Path) -> None:
    kubelet = StandIn(summary("n1"))
    async with serving(kubelet, tls_dir=tmp_path) as port:
        scraper = scraper_of([real_node("n1", port)])
        await scraper.scrape()
    assert kubelet.queries == ["only_cpu_and_memory=true"]
    assert scraper.node("n1") == metricsscraper.NodePoint(
        T0, metricsscraper.Usage(cpu_nanocores=5_000_000, memory_bytes=2**30))
    assert scraper.pod("default", "web") == metricsscraper.PodPoint(
        T0, (("app", metricsscraper.Usage(1_234_567, 150 * 2**20)),))
    assert scraper.pod("other", "web") is None


async def test_a_simulator_endpoint_is_asked_once_for_all_its_nodes() -> None:
    simulator = StandIn(lines=[summary("s1", pods=[pod_stats("a", "ns")]),
                               summary("s2", pods=[pod_stats("b", "ns")]),
                               summary("not-announced")])
    async with serving(simulator) as port:
        endpoint = f"http://127.0.0.1:{port}/stats/summary"
        scraper = scraper_of([sim_node("s1", endpoint), sim_node("s2", endpoint)])
        await scraper.scrape()
    assert len(simulator.queries) == 1
    assert scraper.node("s1") is not None
    assert scraper.node("s2") is not None
    assert scraper.node("not-announced") is None
    assert scraper.pod("ns", "a") is not None
    assert scraper.pod("ns", "b") is not None


@pytest.mark.parametrize("endpoint", ["http://10.0.0.1:80/stats/summary",
                                      "https://127.0.0.1:80/stats/summary",
                                      "file:///etc/passwd", ""])
def test_only_loopback_http_endpoints_are_believed(endpoint: str) -> None:
    assert metricsscraper.stats_endpoint(sim_node("s1", endpoint)) is None


def test_a_loopback_endpoint_is_believed() -> None:
    url = "http://[::1]:8080/stats/summary"
    assert metricsscraper.stats_endpoint(sim_node("s1", url)) == url


def test_points_need_usage_of_every_container() -> None:
    incomplete = summary("n1", cpu=None, pods=[
        pod_stats("partial", "ns", containers=(("a", 1), ("b", None))),
        pod_stats("empty", "ns", containers=()),
        pod_stats("whole", "ns", containers=(("a", 1), ("b", 2)))])
    assert metricsscraper.node_point(incomplete) is None
    assert list(metricsscraper.pod_points(incomplete)) == [("ns", "whole")]


def test_a_pod_point_is_stamped_with_its_earliest_container() -> None:
    stats = pod_stats("p", "ns", containers=(("a", 1),), time=T1)
    stats["containers"].append({"name": "b", "startTime": T0, **usage(2, 1, time=T0)})
    point = metricsscraper.pod_point(stats)
    assert point is not None
    assert point.timestamp == T0


async def test_a_failing_node_keeps_its_point_for_two_resolutions(tmp_path: Path) -> None:
    clock = Clock()
    kubelet = StandIn(summary("n1"))
    async with serving(kubelet, tls_dir=tmp_path) as port:
        scraper = scraper_of([real_node("n1", port)], clock=clock)
        await scraper.scrape()
        kubelet.status = 500
        clock.now += 1.5
        await scraper.scrape()
        assert scraper.node("n1") is not None
        assert scraper.pod("default", "web") is not None
        clock.now += 1.0
        await scraper.scrape()
    assert scraper.node("n1") is None
    assert scraper.pod("default", "web") is None


async def test_an_unreachable_kubelet_gives_no_point_and_others_still_count(
        tmp_path: Path) -> None:
    kubelet = StandIn(summary("n1"))
    async with serving(kubelet, tls_dir=tmp_path) as port:
        unreachable = real_node("gone", 1)
        scraper = scraper_of([unreachable, real_node("n1", port)])
        await scraper.scrape()
    assert scraper.node("gone") is None
    assert scraper.node("n1") is not None


async def test_a_deleted_node_and_a_vanished_pod_lose_their_points(tmp_path: Path) -> None:
    kubelet = StandIn(summary("n1"))
    nodes: list[Obj] = []

    async def list_nodes() -> list[Obj]:
        return nodes

    scraper = metricsscraper.MetricsScraper(list_nodes, kubelet=nodeproxy.KubeletClient(),
                                            metric_resolution=1.0)
    async with serving(kubelet, tls_dir=tmp_path) as port:
        nodes.append(real_node("n1", port))
        await scraper.scrape()
        assert scraper.pod("default", "web") is not None
        kubelet.document = summary("n1", pods=[])
        await scraper.scrape()
        assert scraper.pod("default", "web") is None
        assert scraper.node("n1") is not None
        nodes.clear()
        await scraper.scrape()
    assert scraper.node("n1") is None


def test_requests_are_cut_off_within_the_resolution() -> None:
    async def no_nodes() -> list[Obj]:
        return []

    assert scraper_of([]).request_timeout == pytest.approx(0.9)
    assert metricsscraper.MetricsScraper(
        no_nodes, kubelet=nodeproxy.KubeletClient()).request_timeout == 10.0


async def test_a_failing_simulator_fails_each_of_its_nodes() -> None:
    simulator = StandIn(lines=[summary("s1")])
    simulator.status = 503
    async with serving(simulator) as port:
        endpoint = f"http://127.0.0.1:{port}/stats/summary"
        scraper = scraper_of([sim_node("s1", endpoint)])
        await scraper.scrape()
        assert scraper.node("s1") is None
        simulator.status = 200
        await scraper.scrape()
    assert scraper.node("s1") is not None
