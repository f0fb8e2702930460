"""Cluster IPs and node ports for Services: order, conflicts, and which types get what."""

from __future__ import annotations

from typing import Any

import pytest

from kajitori.api import errors
from kajitori.apiserver import serviceallocator

Obj = dict[str, Any]


class Services:
    """The stored Services the allocator lists (a fake of the apiserver's store)."""

    def __init__(self, *services: Obj) -> None:
        self.items = list(services)

    async def list(self) -> list[Obj]:
        return self.items


def service(name: str, type_: str = "ClusterIP", *, cluster_ip: str | None = None,
            node_ports: tuple[int | None, ...] = (None,)) -> Obj:
    ports: list[Obj] = []
    for index, node_port in enumerate(node_ports):
        port: Obj = {"port": 80 + index, "protocol": "TCP"}
        if node_port is not None:
            port["nodePort"] = node_port
        ports.append(port)
    spec: Obj = {"type": type_, "ports": ports}
    if cluster_ip is not None:
        spec["clusterIP"] = cluster_ip
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec}


def allocator(*existing: Obj) -> serviceallocator.ServiceAllocator:
    return serviceallocator.ServiceAllocator(list_services=Services(*existing).list)


async def test_first_free_address_in_order() -> None:
    kubernetes = service("kubernetes", cluster_ip="10.96.0.1")
    alloc = allocator(kubernetes)
    svc = service("web")
    await alloc.allocate(svc)
    assert svc["spec"]["clusterIP"] == "10.96.0.2"
    assert svc["spec"]["clusterIPs"] == ["10.96.0.2"]


async def test_reserved_address_is_not_handed_out_twice_before_release() -> None:
    alloc = allocator()
    first, second = service("a"), service("b")
    await alloc.allocate(first)
    await alloc.allocate(second)
    assert first["spec"]["clusterIP"] == "10.96.0.1"
    assert second["spec"]["clusterIP"] == "10.96.0.2"


async def test_released_address_is_free_again() -> None:
    alloc = allocator()
    failed = service("a")
    await alloc.allocate(failed)
    alloc.release(failed)  # the create failed: nothing holds the address
    again = service("b")
    await alloc.allocate(again)
    assert again["spec"]["clusterIP"] == "10.96.0.1"


async def test_explicit_free_address_is_kept() -> None:
    alloc = allocator()
    svc = service("web", cluster_ip="10.96.0.50")
    await alloc.allocate(svc)
    assert svc["spec"]["clusterIP"] == "10.96.0.50"
    assert svc["spec"]["clusterIPs"] == ["10.96.0.50"]


async def test_explicit_address_in_use_is_invalid() -> None:
    alloc = allocator(service("old", cluster_ip="10.96.0.10"))
    with pytest.raises(errors.StatusError) as caught:
        await alloc.allocate(service("web", cluster_ip="10.96.0.10"))
    assert caught.value.code == 422
    assert str(caught.value) == (
        'Service "web" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: '
        "failed to allocate IP 10.96.0.10: provided IP is already allocated")


async def test_explicit_address_outside_the_service_range_is_invalid() -> None:
    # v1.33 allocates through ServiceCIDRs (MultiCIDRServiceAllocator, GA and on): an address
    # no ServiceCIDR contains fails the MetaAllocator's lookup with ErrMismatchedNetwork.
    alloc = allocator()
    with pytest.raises(errors.StatusError) as caught:
        await alloc.allocate(service("web", cluster_ip="192.168.1.1"))
    assert caught.value.code == 422
    assert str(caught.value) == (
        'Service "web" is invalid: spec.clusterIPs: Invalid value: []string{"192.168.1.1"}: '
        "failed to allocate IP 192.168.1.1: the provided network does not match the current "
        "range")
    assert caught.value.status["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.clusterIPs",
        "message": 'Invalid value: []string{"192.168.1.1"}: failed to allocate IP 192.168.1.1: '
                   "the provided network does not match the current range"}]


@pytest.mark.parametrize("address", ["10.96.0.0", "10.111.255.255"])
async def test_network_and_broadcast_addresses_are_not_in_the_valid_range(address: str) -> None:
    alloc = allocator()
    with pytest.raises(errors.StatusError) as caught:
        await alloc.allocate(service("web", cluster_ip=address))
    assert str(caught.value) == (
        f'Service "web" is invalid: spec.clusterIPs: Invalid value: []string{{"{address}"}}: '
        f"failed to allocate IP {address}: the provided IP ({address}) is not in the valid "
        "range. The range of valid IPs is 10.96.0.0/12")


async def test_unparseable_address_is_invalid() -> None:
    with pytest.raises(errors.StatusError) as caught:
        await allocator().allocate(service("web", cluster_ip="10.96.0.300"))
    assert str(caught.value) == (
        'Service "web" is invalid: spec.clusterIPs[0]: Invalid value: "10.96.0.300": must be a '
        "valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")


async def test_refused_service_reserves_nothing() -> None:
    alloc = allocator(service("old", "NodePort", cluster_ip="10.96.0.1", node_ports=(30080,)))
    refused = service("web", "NodePort", node_ports=(None, 30080))
    with pytest.raises(errors.StatusError):
        await alloc.allocate(refused)
    assert "clusterIP" not in refused["spec"]
    assert "nodePort" not in refused["spec"]["ports"][0]
    again = service("next", "NodePort")
    await alloc.allocate(again)
    assert again["spec"]["clusterIP"] == "10.96.0.2"
    assert again["spec"]["ports"][0]["nodePort"] == 30000


async def test_headless_service_keeps_none() -> None:
    alloc = allocator()
    svc = service("db", cluster_ip="None")
    await alloc.allocate(svc)
    assert svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["clusterIPs"] == ["None"]
    other = service("web")
    await alloc.allocate(other)
    assert other["spec"]["clusterIP"] == "10.96.0.1"


async def test_external_name_gets_no_address_nor_port() -> None:
    alloc = allocator()
    svc = service("ext", "ExternalName")
    await alloc.allocate(svc)
    assert "clusterIP" not in svc["spec"]
    assert "clusterIPs" not in svc["spec"]
    assert "nodePort" not in svc["spec"]["ports"][0]


async def test_cluster_ip_service_gets_no_node_port() -> None:
    alloc = allocator()
    svc = service("web")
    await alloc.allocate(svc)
    assert "nodePort" not in svc["spec"]["ports"][0]


@pytest.mark.parametrize("type_", ["NodePort", "LoadBalancer"])
async def test_node_ports_in_order_for_each_port(type_: str) -> None:
    alloc = allocator(service("old", "NodePort", cluster_ip="10.96.0.1", node_ports=(30000,)))
    svc = service("web", type_, node_ports=(None, None))
    await alloc.allocate(svc)
    assert [p["nodePort"] for p in svc["spec"]["ports"]] == [30001, 30002]
    assert svc["spec"]["clusterIP"] == "10.96.0.2"


async def test_explicit_node_port_is_kept_and_skipped_by_the_next() -> None:
    alloc = allocator()
    svc = service("web", "NodePort", node_ports=(None, 30000))
    await alloc.allocate(svc)
    assert [p["nodePort"] for p in svc["spec"]["ports"]] == [30001, 30000]


async def test_explicit_node_port_in_use_is_invalid() -> None:
    alloc = allocator(service("old", "NodePort", cluster_ip="10.96.0.1", node_ports=(30080,)))
    with pytest.raises(errors.StatusError) as caught:
        await alloc.allocate(service("web", "NodePort", node_ports=(30080,)))
    assert caught.value.code == 422
    assert str(caught.value) == ('Service "web" is invalid: spec.ports[0].nodePort: Invalid '
                                 "value: 30080: provided port is already allocated")


async def test_explicit_node_port_outside_the_range_is_invalid() -> None:
    alloc = allocator()
    with pytest.raises(errors.StatusError) as caught:
        await alloc.allocate(service("web", "NodePort", node_ports=(29999,)))
    assert caught.value.code == 422
    assert str(caught.value) == (
        'Service "web" is invalid: spec.ports[0].nodePort: Invalid value: 29999: provided port '
        "is not in the valid range. The range of valid ports is 30000-32767")


async def test_explicit_node_port_reserved_by_a_create_under_way_is_invalid() -> None:
    alloc = allocator()
    await alloc.allocate(service("a", "NodePort", node_ports=(30100,)))
    with pytest.raises(errors.StatusError) as caught:
        await alloc.allocate(service("b", "NodePort", node_ports=(30100,)))
    assert "provided port is already allocated" in str(caught.value)


async def test_same_explicit_node_port_twice_in_one_service_is_invalid() -> None:
    svc = service("web", "NodePort", node_ports=(30100, 30100))
    with pytest.raises(errors.StatusError) as caught:
        await allocator().allocate(svc)
    assert str(caught.value) == ('Service "web" is invalid: spec.ports[1].nodePort: Invalid '
                                 "value: 30100: provided port is already allocated")


async def test_ports_sharing_a_number_share_a_node_port() -> None:
    svc = service("dns", "NodePort", node_ports=(None, None))
    for port in svc["spec"]["ports"]:
        port["port"] = 53
    svc["spec"]["ports"][1]["protocol"] = "UDP"
    await allocator().allocate(svc)
    assert [p["nodePort"] for p in svc["spec"]["ports"]] == [30000, 30000]


async def test_a_missing_node_port_takes_the_one_its_port_number_asks_for() -> None:
    svc = service("dns", "NodePort", node_ports=(None, 30053))
    for port in svc["spec"]["ports"]:
        port["port"] = 53
    await allocator().allocate(svc)
    assert [p["nodePort"] for p in svc["spec"]["ports"]] == [30053, 30053]


async def test_load_balancer_without_node_port_allocation_keeps_only_asked_ones() -> None:
    svc = service("lb", "LoadBalancer", node_ports=(None, 30200))
    svc["spec"]["allocateLoadBalancerNodePorts"] = False
    await allocator().allocate(svc)
    assert "nodePort" not in svc["spec"]["ports"][0]
    assert svc["spec"]["ports"][1]["nodePort"] == 30200


async def test_full_service_range_is_an_internal_error() -> None:
    alloc = serviceallocator.ServiceAllocator(list_services=Services().list, cidr="10.0.0.0/30")
    await alloc.allocate(service("a"))
    await alloc.allocate(service("b"))
    with pytest.raises(errors.StatusError) as caught:
        await alloc.allocate(service("c"))
    assert caught.value.code == 500
