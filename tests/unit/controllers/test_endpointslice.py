"""The EndpointSlice controller: conditions from readiness and deletion, labels, owner and
generateName, ports, 100 endpoints a slice, the placeholder, minimal churn, stale caches."""

from __future__ import annotations

from typing import Any

import fakecluster
import pytest

from kajitori.api import meta
from kajitori.client import rest
from kajitori.controllers import endpointslice

Obj = dict[str, Any]

SLICES = fakecluster.path("discovery.k8s.io", "v1", "endpointslices", namespace="default")
SERVICES = fakecluster.path("", "v1", "services", namespace="default")


async def make_service(client: rest.RESTClient, *, selector: dict[str, str] | None = None,
                       ports: list[Obj] | None = None, **spec: Any) -> Obj:
    body: Obj = {"ports": ports if ports is not None else [
        {"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"}], **spec}
    if selector is not None:
        body["selector"] = selector
    return await client.create(SERVICES, {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "labels": {"team": "a"}}, "spec": body})


def pod(name: str, ip: str, *, ready: bool = True, deleting: bool = False) -> Obj:
    md: Obj = {"name": name, "namespace": "default", "uid": f"{name}-uid",
               "labels": {"app": "web"}, "resourceVersion": "1"}
    if deleting:
        md["deletionTimestamp"] = "2024-01-01T00:00:05Z"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": {"nodeName": "n1", "containers": [
                {"name": "c", "image": "nginx",
                 "ports": [{"name": "web", "containerPort": 8080, "protocol": "TCP"}]}]},
            "status": {"phase": "Running", "podIPs": [{"ip": ip}], "conditions": [
                {"type": "Ready", "status": "True" if ready else "False",
                 "lastTransitionTime": "2024-01-01T00:00:03Z"}]}}


NODE = {"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "z1"}}}


def controller(client: rest.RESTClient, svc: Obj, pods: list[Obj], *,
               max_endpoints: int = 100) -> endpointslice.EndpointSliceController:
    return endpointslice.EndpointSliceController(
        client=client, services=fakecluster.seeded(svc), pods=fakecluster.seeded(*pods),
        nodes=fakecluster.seeded(NODE), endpoint_slices=fakecluster.seeded(),
        settings=endpointslice.EndpointSliceSettings(max_endpoints_per_slice=max_endpoints))


async def slices(client: rest.RESTClient) -> list[Obj]:
    """The slices of Service `web` (the apiserver keeps the `kubernetes` one beside them)."""
    listed = await client.get(SLICES, params={"labelSelector": "kubernetes.io/service-name=web"})
    return sorted(listed["items"], key=meta.name)


async def resync(ctl: endpointslice.EndpointSliceController, client: rest.RESTClient) -> None:
    """Let the seeded slice cache catch up with the server, as the informer would."""
    cache = ctl._slices.cache  # type: ignore[attr-defined]
    for key in cache.list_keys():
        cache.delete(key)
    for item in await slices(client):
        cache.put(f"default/{meta.name(item)}", item)


async def test_slice_holds_endpoints_with_conditions_labels_owner_and_ports(
        client: rest.RESTClient) -> None:
    svc = await make_service(client, selector={"app": "web"})
    pods = [pod("a", "10.1.0.2"), pod("b", "10.1.0.3", ready=False),
            pod("c", "10.1.0.4", deleting=True)]
    await controller(client, svc, pods).sync("default/web")
    (written,) = await slices(client)
    assert meta.name(written).startswith("web-")
    assert written["metadata"]["generateName"] == "web-"
    assert written["metadata"]["labels"] == {
        "team": "a", "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
    assert written["metadata"]["ownerReferences"] == [{
        "apiVersion": "v1", "kind": "Service", "name": "web", "uid": meta.uid(svc),
        "controller": True, "blockOwnerDeletion": True}]
    assert written["addressType"] == "IPv4"
    assert written["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    conditions = {e["targetRef"]["name"]: e["conditions"] for e in written["endpoints"]}
    assert conditions == {
        "a": {"ready": True, "serving": True, "terminating": False},
        "b": {"ready": False, "serving": False, "terminating": False},
        "c": {"ready": False, "serving": True, "terminating": True}}
    first = written["endpoints"][0]
    assert (first["addresses"], first["nodeName"], first["zone"]) == (["10.1.0.2"], "n1", "z1")
    assert "endpoints.kubernetes.io/last-change-trigger-time" in \
        written["metadata"]["annotations"]


async def test_at_most_max_endpoints_per_slice(client: rest.RESTClient) -> None:
    svc = await make_service(client, selector={"app": "web"})
    pods = [pod(f"p{i}", f"10.1.{i // 200}.{i % 200 + 1}") for i in range(250)]
    await controller(client, svc, pods).sync("default/web")
    assert sorted(len(s["endpoints"]) for s in await slices(client)) == [50, 100, 100]


async def test_a_service_without_pods_gets_one_placeholder(client: rest.RESTClient) -> None:
    svc = await make_service(client, selector={"app": "web"})
    ctl = controller(client, svc, [])
    await ctl.sync("default/web")
    (placeholder,) = await slices(client)
    assert not placeholder.get("endpoints")
    assert not placeholder.get("ports")
    await resync(ctl, client)
    await ctl.sync("default/web")  # kept, not recreated
    assert [meta.name(s) for s in await slices(client)] == [meta.name(placeholder)]


async def test_changes_update_the_existing_slice_in_place(client: rest.RESTClient) -> None:
    svc = await make_service(client, selector={"app": "web"})
    ctl = controller(client, svc, [pod("a", "10.1.0.2"), pod("b", "10.1.0.3")])
    await ctl.sync("default/web")
    (before,) = await slices(client)
    await resync(ctl, client)
    pods = ctl._pods.cache  # type: ignore[attr-defined]
    pods.put("default/a", pod("a", "10.1.0.2", ready=False))
    pods.delete("default/b")
    pods.put("default/c", pod("c", "10.1.0.4"))
    await ctl.sync("default/web")
    (after,) = await slices(client)
    assert meta.name(after) == meta.name(before)
    assert {e["targetRef"]["name"]: e["conditions"]["ready"] for e in after["endpoints"]} == \
        {"a": False, "c": True}


async def test_a_sync_on_a_stale_cache_fails_instead_of_duplicating(
        client: rest.RESTClient) -> None:
    svc = await make_service(client, selector={"app": "web"})
    ctl = controller(client, svc, [pod("a", "10.1.0.2")])
    await ctl.sync("default/web")
    with pytest.raises(endpointslice.StaleInformerCache):
        await ctl.sync("default/web")  # the cache has not seen the slice it created
    assert len(await slices(client)) == 1


async def test_services_without_selector_get_no_slices(client: rest.RESTClient) -> None:
    svc = await make_service(client)
    await controller(client, svc, [pod("a", "10.1.0.2")]).sync("default/web")
    assert await slices(client) == []


def test_reconcile_fills_the_fullest_unchanged_slice_that_fits() -> None:
    svc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "web", "namespace": "default", "uid": "u"},
           "spec": {"clusterIP": "10.0.0.1", "selector": {"app": "web"}, "ports": []}}
    pods = [pod(f"p{i}", f"10.1.0.{i + 1}") for i in range(6)]
    nodes = fakecluster.seeded(NODE).cache

    def existing(name: str, members: list[Obj]) -> Obj:
        made = endpointslice.new_endpoint_slice(svc, ports=[], address_type="IPv4")
        made["metadata"]["name"] = name
        made["endpoints"] = [endpointslice.pod_to_endpoint(p, svc, node=NODE,
                                                           address_type="IPv4")
                             for p in members]
        return made

    slices_now = [existing("small", pods[:1]), existing("big", pods[1:4])]
    plan = endpointslice.reconcile(svc, slices_now, pods[:5], nodes=nodes, max_endpoints=4)
    assert plan.create == []
    assert plan.delete == []
    (updated,) = plan.update
    assert meta.name(updated) == "big"
    assert [e["targetRef"]["name"] for e in updated["endpoints"]] == ["p1", "p2", "p3", "p4"]
