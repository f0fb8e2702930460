"""Address ranges: node podCIDRs from 10.244.0.0/24 on, node IPs, pod IPs from .2."""

from __future__ import annotations

import pytest

from kajitori.api import cidrset
from kajitori.sim import ipam


def test_node_cidrs_start_at_10_244_and_skip_used_ones() -> None:
    cidrs = ipam.node_cidrs()
    cidrs.occupy(["10.244.1.0/24", "192.168.0.0/24"])
    assert [cidrs.allocate() for _ in range(3)] == [
        "10.244.0.0/24", "10.244.2.0/24", "10.244.3.0/24"]


def test_the_default_cluster_cidr_holds_8192_nodes_and_wraps() -> None:
    cidrs = ipam.node_cidrs()
    assert cidrs.size == 8192
    allocated = [cidrs.allocate() for _ in range(8192)]
    assert allocated[3071] == "10.255.255.0/24"
    assert allocated[3072] == "10.224.0.0/24"
    assert len(set(allocated)) == 8192
    with pytest.raises(cidrset.RangeFull):
        cidrs.allocate()


def test_pod_ips_skip_network_gateway_and_broadcast_and_go_round_robin() -> None:
    ips = ipam.pod_ips("10.244.3.0/24")
    assert ips.size == 253
    first, second = ips.allocate(), ips.allocate()
    assert (first, second) == ("10.244.3.2", "10.244.3.3")
    ips.release(first)
    assert ips.allocate() == "10.244.3.4"  # host-local hands out the next, not the freed one
    assert ips.free() == 251


def test_node_ips_come_from_the_benchmarking_range() -> None:
    ips = ipam.node_ips()
    assert ips.allocate() == "198.18.0.1"
