"""What simulated nodes report as usage (annotations, request fractions, node sums), as
kubelet stats Summaries served from one loopback endpoint for all nodes."""

from __future__ import annotations

import aiohttp
import orjson
from seededinformer import seeded
from simfakes import EPOCH, at

from kajitori.apiserver import metricsscraper
from kajitori.sim import metrics, podlifecycle


def pod(name: str, *, node: str = "n1", annotations: dict[str, str] | None = None,
        requests: dict[str, str] | None = None, containers: int = 1,
        phase: str = "Running") -> dict:
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}",
                         "labels": {"app": "x"}, "annotations": annotations or {}},
            "spec": {"nodeName": node,
                     "containers": [{"name": f"c{i}", "resources": {"requests": requests or {}}}
                                    for i in range(containers)]},
            "status": {"phase": phase, "startTime": at(-60)}}


def test_annotation_is_split_over_containers() -> None:
    stats, total = metrics.pod_stats(pod("a", annotations={metrics.CPU_USAGE_ANNOTATION: "800m",
                                                       metrics.MEMORY_USAGE_ANNOTATION: "1Gi"},
                                     containers=2), now=at(0))
    assert stats["podRef"] == {"name": "a", "namespace": "ns", "uid": "uid-a"}
    half = {"cpu": {"time": at(0), "usageNanoCores": 400_000_000},
            "memory": {"time": at(0), "workingSetBytes": 512 * 2**20}}
    assert stats["containers"] == [{"name": "c0", **half}, {"name": "c1", **half}]
    assert total == {"cpu": 800, "memory": 2**30 * 1000}


def test_default_is_a_tenth_of_the_request_or_a_minimum() -> None:
    with_requests = metrics.container_usage(pod("a", requests={"cpu": "500m",
                                                               "memory": "100Mi"}))
    assert with_requests == [("c0", {"cpu": 50, "memory": 10 * 1024 * 1024 * 1000})]
    assert metrics.container_usage(pod("b")) == [("c0", dict(metrics.MINIMUM_USAGE))]


def test_node_usage_is_its_pods_plus_a_base() -> None:
    pods = [pod("a", annotations={metrics.CPU_USAGE_ANNOTATION: "1",
                                  metrics.MEMORY_USAGE_ANNOTATION: "256Mi"})]
    summary = metrics.summary("n1", pods, now=at(0), start_time=at(-3600))
    node = summary["node"]
    assert (node["nodeName"], node["startTime"]) == ("n1", at(-3600))
    assert node["cpu"] == {"time": at(0), "usageNanoCores": 1_100_000_000}
    assert node["memory"]["workingSetBytes"] == 512 * 2**20
    assert [p["podRef"]["name"] for p in summary["pods"]] == ["a"]


def test_summary_is_what_the_api_server_scraper_reads() -> None:
    summary = metrics.summary("n1", [pod("a", annotations={metrics.CPU_USAGE_ANNOTATION: "80m"})],
                              now=at(0), start_time=at(-1))
    assert metricsscraper.node_point(summary) is not None
    point = metricsscraper.pod_points(summary)[("ns", "a")]
    assert point.containers[0][1].cpu_nanocores == 80_000_000
    assert metrics.STATS_ENDPOINT_ANNOTATION == metricsscraper.STATS_ENDPOINT_ANNOTATION


async def test_one_endpoint_serves_every_node_with_its_running_pods() -> None:
    pods = seeded(pod("a", node="n1"), pod("b", node="n2"), pod("done", node="n1",
                                                                phase="Succeeded"),
                  indexers={podlifecycle.NODE_NAME_INDEX: podlifecycle.node_name_index})
    server = metrics.StatsServer(pods=pods, node_names=lambda: ["n1", "n2", "n3"],
                                 wall=lambda: EPOCH)
    async with server.running(), aiohttp.ClientSession() as session, \
            session.get(server.endpoint) as response:
        assert server.endpoint.startswith("http://127.0.0.1:")
        assert server.endpoint.endswith("/stats/summary")
        assert response.content_type == "application/jsonl"
        lines = (await response.read()).splitlines()
    by_node = {s["node"]["nodeName"]: [p["podRef"]["name"] for p in s["pods"]]
               for s in map(orjson.loads, lines)}
    assert by_node == {"n1": ["a"], "n2": ["b"], "n3": []}
    assert server.endpoint == ""


async def test_a_pods_usage_is_computed_again_when_it_changes() -> None:
    busy = pod("a", annotations={metrics.CPU_USAGE_ANNOTATION: "80m"})
    busy["metadata"]["resourceVersion"] = "1"
    pods = seeded(busy, indexers={podlifecycle.NODE_NAME_INDEX: podlifecycle.node_name_index})
    server = metrics.StatsServer(pods=pods, node_names=lambda: ["n1"], wall=lambda: EPOCH)

    def cpu() -> int:
        (node,) = list(server.summaries())
        return int(node["pods"][0]["containers"][0]["cpu"]["usageNanoCores"])

    assert cpu() == 80_000_000
    calmer = {**busy, "metadata": {**busy["metadata"], "resourceVersion": "2",
                                   "annotations": {metrics.CPU_USAGE_ANNOTATION: "5m"}}}
    pods.cache.put("ns/a", calmer)
    assert cpu() == 5_000_000
