"""`metrics.k8s.io/v1beta1` through the full HTTP stack: NodeMetrics and PodMetrics joined
from stored Nodes and Pods and the scraper's points, selectors, metrics-server's NotFound
wording, Tables, discovery and the APIService."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kajitori.apiserver import metricsapi
from kajitori.apiserver import metricsscraper as scraper

if TYPE_CHECKING:
    from conftest import API

Obj = dict[str, Any]

METRICS = "/apis/metrics.k8s.io/v1beta1"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
T0 = "2026-01-01T00:00:00Z"


async def request(api: API, path: str, *, method: str = "GET", accept: str = "",
                  ) -> tuple[int, Any]:
    headers = {"Accept": accept} if accept else {}
    async with api.session.request(method, api.url(path), headers=headers) as resp:
        return resp.status, await resp.json()


async def post(api: API, path: str, obj: Obj) -> None:
    async with api.session.post(api.url(path), json=obj) as resp:
        assert resp.status == 201, await resp.text()


async def make_node(api: API, name: str, *, labels: dict[str, str] | None = None) -> None:
    await post(api, "/api/v1/nodes", {"metadata": {"name": name, "labels": labels or {}}})


async def make_pod(api: API, name: str, *, namespace: str = "default",
                   labels: dict[str, str] | None = None) -> None:
    if namespace != "default":
        await post(api, "/api/v1/namespaces", {"metadata": {"name": namespace}})
        await post(api, f"/api/v1/namespaces/{namespace}/serviceaccounts",
                   {"metadata": {"name": "default"}})
    await post(api, f"/api/v1/namespaces/{namespace}/pods", {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [{"name": "app", "image": "busybox"},
                                {"name": "side", "image": "busybox"}]}})


def stats(cpu: int, memory: int) -> Obj:
    return {"cpu": {"time": T0, "usageNanoCores": cpu},
            "memory": {"time": T0, "workingSetBytes": memory}}


def pod_stats(name: str, namespace: str = "default") -> Obj:
    return {"podRef": {"name": name, "namespace": namespace, "uid": "u"},
            "containers": [{"name": "app", **stats(1_234_567, 150 * 2**20)},
                           {"name": "side", **stats(5_000_000, 1000 * 1024)}]}


def record(api: API, node: str, *pods: Obj) -> None:
    api.server.metrics_scraper.record(
        {"node": {"nodeName": node, **stats(250_000_000, 2**30 + 4096)}, "pods": list(pods)},
        node_name=node)


async def test_node_metrics_carry_labels_usage_timestamp_and_window(api: API) -> None:
    await make_node(api, "n1", labels={"zone": "a"})
    record(api, "n1")
    code, obj = await request(api, f"{METRICS}/nodes/n1")
    assert code == 200
    created = obj["metadata"].pop("creationTimestamp")
    assert created.endswith("Z")
    assert obj == {"kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
                   "metadata": {"name": "n1", "labels": {"zone": "a"}},
                   "timestamp": T0, "window": "15s",
                   "usage": {"cpu": "250m", "memory": "1048580Ki"}}


async def test_pod_metrics_list_each_container_in_nanocores_and_ki(api: API) -> None:
    await make_node(api, "n1")
    await make_pod(api, "web", labels={"app": "web"})
    record(api, "n1", pod_stats("web"))
    code, obj = await request(api, f"{METRICS}/namespaces/default/pods/web")
    assert code == 200
    assert obj["kind"] == "PodMetrics"
    assert (obj["metadata"]["name"], obj["metadata"]["namespace"], obj["metadata"]["labels"]) \
        == ("web", "default", {"app": "web"})
    assert obj["containers"] == [
        {"name": "app", "usage": {"cpu": "1234567n", "memory": "150Mi"}},
        {"name": "side", "usage": {"cpu": "5m", "memory": "1000Ki"}}]


async def test_lists_select_by_the_objects_labels_and_skip_those_without_metrics(
        api: API) -> None:
    for name, zone in (("n1", "a"), ("n2", "b"), ("n3", "a")):
        await make_node(api, name, labels={"zone": zone})
    await make_pod(api, "web", labels={"app": "web"})
    await make_pod(api, "db", labels={"app": "db"})
    await make_pod(api, "idle", labels={"app": "web"})
    await make_pod(api, "other", namespace="elsewhere", labels={"app": "web"})
    record(api, "n1", pod_stats("web"), pod_stats("db"), pod_stats("other", "elsewhere"))
    record(api, "n2")
    _, nodes = await request(api, f"{METRICS}/nodes?labelSelector=zone%3Da")
    assert nodes["kind"] == "NodeMetricsList"
    assert [n["metadata"]["name"] for n in nodes["items"]] == ["n1"]
    _, pods = await request(api, f"{METRICS}/namespaces/default/pods?labelSelector=app%3Dweb")
    assert [p["metadata"]["name"] for p in pods["items"]] == ["web"]
    _, everywhere = await request(api, f"{METRICS}/pods")
    assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in everywhere["items"]] \
        == [("default", "db"), ("default", "web"), ("elsewhere", "other")]


async def test_not_found_is_worded_as_metrics_servers(api: API) -> None:
    await make_node(api, "quiet")
    await make_pod(api, "quiet")
    cases = {f"{METRICS}/nodes/missing": 'node "missing" not found',
             f"{METRICS}/nodes/quiet": 'nodemetrics.metrics.k8s.io "quiet" not found',
             f"{METRICS}/namespaces/default/pods/missing": 'pods "missing" not found',
             f"{METRICS}/namespaces/default/pods/quiet":
                 'podmetrics.metrics.k8s.io "default/quiet" not found'}
    for path, message in cases.items():
        code, status = await request(api, path)
        assert (code, status["reason"], status["message"]) == (404, "NotFound", message)


async def test_only_get_and_list_of_known_resources_are_served(api: API) -> None:
    code, _ = await request(api, f"{METRICS}/nodes/n1", method="DELETE")
    assert code == 405
    code, _ = await request(api, f"{METRICS}/nodes?watch=true")
    assert code == 405
    for path in (f"{METRICS}/namespaces/default/nodes", f"{METRICS}/services",
                 f"{METRICS}/pods/web", "/apis/metrics.k8s.io/v1/nodes"):
        code, status = await request(api, path)
        assert (code, status["message"]) == (
            404, "the server could not find the requested resource"), path


async def test_tables_have_metrics_server_columns(api: API) -> None:
    await make_node(api, "n1")
    await make_pod(api, "web")
    record(api, "n1", pod_stats("web"))
    _, table = await request(api, f"{METRICS}/namespaces/default/pods", accept=TABLE)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "cpu", "memory",
                                                               "Window"]
    assert table["rows"][0]["cells"] == ["web", "6234567n", "154600Ki", "15s"]
    _, table = await request(api, f"{METRICS}/nodes/n1", accept=TABLE)
    assert table["rows"][0]["cells"] == ["n1", "250m", "1048580Ki", "15s"]


async def test_discovery_lists_the_group_last_with_get_and_list(api: API) -> None:
    _, groups = await request(api, "/apis")
    assert groups["groups"][-1] == {
        "name": "metrics.k8s.io",
        "versions": [{"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}],
        "preferredVersion": {"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"}}
    _, aggregated = await request(api, "/apis", accept=AGGREGATED)
    last = aggregated["items"][-1]
    assert last["metadata"]["name"] == "metrics.k8s.io"
    assert [(r["resource"], r["scope"], r["verbs"]) for r in last["versions"][0]["resources"]] \
        == [("nodes", "Cluster", ["get", "list"]), ("pods", "Namespaced", ["get", "list"])]
    _, resources = await request(api, METRICS)
    assert resources["resources"] == [
        {"name": "nodes", "singularName": "", "namespaced": False, "kind": "NodeMetrics",
         "verbs": ["get", "list"]},
        {"name": "pods", "singularName": "", "namespaced": True, "kind": "PodMetrics",
         "verbs": ["get", "list"]}]


async def test_the_apiservice_is_local_and_available(api: API) -> None:
    code, obj = await request(
        api, f"/apis/apiregistration.k8s.io/v1/apiservices/{metricsapi.APISERVICE_NAME}")
    assert code == 200
    assert "service" not in obj["spec"]
    (condition,) = obj["status"]["conditions"]
    assert (condition["type"], condition["status"], condition["reason"]) == (
        "Available", "True", "Local")


def test_quantities_print_as_metrics_servers() -> None:
    assert str(metricsapi.cpu_quantity(1_234_567)) == "1234567n"
    assert str(metricsapi.cpu_quantity(0)) == "0"
    assert str(metricsapi.memory_quantity(153_600 * 1024 + 4096)) == "153604Ki"
    assert metricsapi.usage_field(scraper.Usage(10**9, 2**30)) == {"cpu": "1",
                                                                  "memory": "1Gi"}
