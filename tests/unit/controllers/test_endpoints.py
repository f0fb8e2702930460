"""The Endpoints controller: addresses of ready pods, notReadyAddresses, named ports, hostname,
labels, the trigger time and capacity annotations, and Services it leaves alone."""

from __future__ import annotations

from typing import Any

import fakecluster

from kajitori.client import rest
from kajitori.controllers import endpoints

Obj = dict[str, Any]

ENDPOINTS = fakecluster.path("", "v1", "endpoints", namespace="default")


def service(name: str = "web", *, selector: dict[str, str] | None = None,
            ports: list[Obj] | None = None, cluster_ip: str = "10.0.0.10", **spec: Any) -> Obj:
    body: Obj = {"clusterIP": cluster_ip, **spec}
    if selector is not None:
        body["selector"] = selector
    body["ports"] = ports if ports is not None else [
        {"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"}]
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default", "labels": {"team": "a"},
                         "creationTimestamp": "2024-01-01T00:00:00Z", "uid": f"{name}-uid"},
            "spec": body}


def pod(name: str, ip: str, *, ready: bool = True, app: str = "web", node: str = "n1",
        deleting: bool = False, phase: str = "Running", **spec: Any) -> Obj:
    md: Obj = {"name": name, "namespace": "default", "uid": f"{name}-uid",
               "labels": {"app": app}, "resourceVersion": "1"}
    if deleting:
        md["deletionTimestamp"] = "2024-01-01T00:00:05Z"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": {"nodeName": node, "containers": [
                {"name": "c", "image": "nginx",
                 "ports": [{"name": "web", "containerPort": 8080, "protocol": "TCP"}]}],
                     **spec},
            "status": {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}], "conditions": [
                {"type": "Ready", "status": "True" if ready else "False",
                 "lastTransitionTime": "2024-01-01T00:00:03Z"}]}}


def controller(client: rest.RESTClient, services: list[Obj], pods: list[Obj],
               existing: list[Obj] = ()) -> endpoints.EndpointsController:  # type: ignore[assignment]
    return endpoints.EndpointsController(
        client=client, services=fakecluster.seeded(*services), pods=fakecluster.seeded(*pods),
        endpoints=fakecluster.seeded(*existing))


def address(name: str, ip: str, *, node: str = "n1") -> Obj:
    return {"ip": ip, "nodeName": node,
            "targetRef": {"kind": "Pod", "namespace": "default", "name": name,
                          "uid": f"{name}-uid"}}


async def test_ready_and_unready_pods_with_the_named_target_port(
        client: rest.RESTClient) -> None:
    pods = [pod("a", "10.1.0.2"), pod("b", "10.1.0.3"), pod("c", "10.1.0.4", ready=False),
            pod("other", "10.1.0.9", app="db")]
    await controller(client, [service(selector={"app": "web"})], pods).sync("default/web")
    written = await client.get(f"{ENDPOINTS}/web")
    assert written["subsets"] == [{
        "addresses": [address("a", "10.1.0.2"), address("b", "10.1.0.3")],
        "notReadyAddresses": [address("c", "10.1.0.4")],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]
    assert written["metadata"]["labels"] == {"team": "a"}
    # a new Service: the earliest change is the Service's creation
    assert written["metadata"]["annotations"] == {
        "endpoints.kubernetes.io/last-change-trigger-time": "2024-01-01T00:00:00Z"}


async def test_publish_not_ready_addresses_lists_every_pod_ready(
        client: rest.RESTClient) -> None:
    pods = [pod("a", "10.1.0.2", ready=False), pod("b", "10.1.0.3", deleting=True)]
    svc = service(selector={"app": "web"}, publishNotReadyAddresses=True)
    await controller(client, [svc], pods).sync("default/web")
    written = await client.get(f"{ENDPOINTS}/web")
    assert [a["ip"] for a in written["subsets"][0]["addresses"]] == ["10.1.0.2", "10.1.0.3"]
    assert "notReadyAddresses" not in written["subsets"][0]


async def test_terminating_terminal_and_ip_less_pods_are_no_endpoints(
        client: rest.RESTClient) -> None:
    pods = [pod("a", "10.1.0.2"), pod("gone", "10.1.0.3", deleting=True),
            pod("done", "10.1.0.4", phase="Succeeded"), pod("new", "")]
    pods[3]["status"]["podIPs"] = []
    await controller(client, [service(selector={"app": "web"})], pods).sync("default/web")
    written = await client.get(f"{ENDPOINTS}/web")
    assert [a["targetRef"]["name"] for a in written["subsets"][0]["addresses"]] == ["a"]


async def test_a_pod_without_the_named_port_is_no_endpoint_for_it(
        client: rest.RESTClient) -> None:
    bare = pod("bare", "10.1.0.5")
    bare["spec"]["containers"][0]["ports"] = []
    ports = [{"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"},
             {"name": "metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP"}]
    await controller(client, [service(selector={"app": "web"}, ports=ports)],
                     [pod("a", "10.1.0.2"), bare]).sync("default/web")
    subsets = (await client.get(f"{ENDPOINTS}/web"))["subsets"]
    by_ports = {tuple(p["name"] for p in s["ports"]): [a["ip"] for a in s["addresses"]]
                for s in subsets}
    # subsets group the ports that the same set of addresses offers (RepackSubsets)
    assert by_ports == {("http",): ["10.1.0.2"], ("metrics",): ["10.1.0.2", "10.1.0.5"]}


async def test_headless_service_publishes_hostnames_and_the_headless_label(
        client: rest.RESTClient) -> None:
    named = pod("a", "10.1.0.2", hostname="web-0", subdomain="web")
    svc = service(selector={"app": "web"}, ports=[], cluster_ip="None")
    await controller(client, [svc], [named]).sync("default/web")
    written = await client.get(f"{ENDPOINTS}/web")
    assert written["subsets"] == [{"addresses": [{**address("a", "10.1.0.2"),
                                                   "hostname": "web-0"}]}]
    assert written["metadata"]["labels"] == {"team": "a",
                                             "service.kubernetes.io/headless": ""}


async def test_more_than_1000_addresses_are_truncated_and_annotated(
        client: rest.RESTClient) -> None:
    pods = [pod(f"p{i}", f"10.2.{i // 250}.{i % 250 + 1}") for i in range(1001)]
    await controller(client, [service(selector={"app": "web"})], pods).sync("default/web")
    written = await client.get(f"{ENDPOINTS}/web")
    assert sum(len(s["addresses"]) for s in written["subsets"]) == 1000
    assert written["metadata"]["annotations"]["endpoints.kubernetes.io/over-capacity"] == \
        "truncated"


async def test_unchanged_endpoints_are_not_written_again(client: rest.RESTClient) -> None:
    svc, pods = service(selector={"app": "web"}), [pod("a", "10.1.0.2")]
    await controller(client, [svc], pods).sync("default/web")
    first = await client.get(f"{ENDPOINTS}/web")
    await controller(client, [svc], pods, existing=[first]).sync("default/web")
    assert (await client.get(f"{ENDPOINTS}/web"))["metadata"]["resourceVersion"] == \
        first["metadata"]["resourceVersion"]


async def test_a_pod_turning_unready_moves_to_not_ready_addresses(
        client: rest.RESTClient) -> None:
    svc = service(selector={"app": "web"})
    ctl = controller(client, [svc], [pod("a", "10.1.0.2")])
    await ctl.sync("default/web")
    unready = pod("a", "10.1.0.2", ready=False)
    unready["status"]["conditions"][0]["lastTransitionTime"] = "2024-01-01T00:01:00Z"
    ctl._pods.cache.put("default/a", unready)  # type: ignore[attr-defined]
    ctl._endpoints.cache.put("default/web",  # type: ignore[attr-defined]
                             await client.get(f"{ENDPOINTS}/web"))
    await ctl.sync("default/web")
    written = await client.get(f"{ENDPOINTS}/web")
    subset = written["subsets"][0]
    assert "addresses" not in subset
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.1.0.2"]
    assert written["metadata"]["annotations"] == {
        "endpoints.kubernetes.io/last-change-trigger-time": "2024-01-01T00:01:00Z"}


async def test_services_without_selector_are_left_alone(client: rest.RESTClient) -> None:
    await controller(client, [service()], [pod("a", "10.1.0.2")]).sync("default/web")
    assert await fakecluster.get_or_none(client, f"{ENDPOINTS}/web") is None


async def test_a_deleted_service_loses_its_endpoints(client: rest.RESTClient) -> None:
    svc = service(selector={"app": "web"})
    await controller(client, [svc], [pod("a", "10.1.0.2")]).sync("default/web")
    await controller(client, [], []).sync("default/web")
    assert await fakecluster.get_or_none(client, f"{ENDPOINTS}/web") is None


def test_pod_changes_queue_the_services_selecting_it_before_and_after() -> None:
    web, db = service("web", selector={"app": "web"}), service("db", selector={"app": "db"})
    ctl = endpoints.EndpointsController(
        client=None, services=fakecluster.seeded(web, db),  # type: ignore[arg-type]
        pods=fakecluster.seeded(), endpoints=fakecluster.seeded())
    old, new = pod("a", "10.1.0.2"), pod("a", "10.1.0.2", app="db")
    new["metadata"]["resourceVersion"] = "2"
    ctl._pod_updated(old, new)
    assert sorted(ctl.queue._queue) == ["default/db", "default/web"]  # type: ignore[attr-defined]
