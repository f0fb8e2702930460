"""Addresses for simulated nodes and their pods: node pod CIDRs, node IPs, pod IPs.

Three allocations, each a `kajitori.api.cidrset.Range` handing out the next free block
round-robin:
- a node's `spec.podCIDR`, the next free `/node_cidr_mask_size` subnet of the cluster CIDR
  (upstream's nodeipam range allocator, `pkg/controller/nodeipam/ipam/cidrset`, with the
  subnets existing Nodes hold marked used first);
- a node's InternalIP, from a range reserved for benchmarking (198.18.0.0/15, RFC 2544), which
  no network routes: nothing ever contacts a simulated node;
- a pod's IP, the next free host of its node's podCIDR after the gateway (.1), as the CNI
  host-local plugin with the bridge plugin's gateway does.

Departure: upstream's node IPAM controller, not the kubelet, sets `spec.podCIDR`; a simulated
node sets it when it registers, since Kajitori runs no node IPAM controller for it. Its first
subnet is 10.244.0.0/24 (kind's and flannel's familiar first node range) and allocation goes on
upwards through the cluster CIDR 10.224.0.0/11, wrapping to its start, so 8,192 nodes fit.
"""

from __future__ import annotations

import ipaddress

from kajitori.api.cidrset import Range

DEFAULT_CLUSTER_CIDR = "10.224.0.0/11"
DEFAULT_FIRST_NODE_CIDR = "10.244.0.0"
DEFAULT_NODE_CIDR_MASK_SIZE = 24
DEFAULT_NODE_IP_RANGE = "198.18.0.0/15"
POD_HOST_OFFSET = 2
"""Pods get hosts from .2 on: .0 is the network and .1 the bridge's gateway."""


def node_cidrs(cluster_cidr: str = DEFAULT_CLUSTER_CIDR, *,
               mask_size: int = DEFAULT_NODE_CIDR_MASK_SIZE) -> Range:
    """Node pod CIDRs: starting at 10.244.0.0 when the cluster CIDR holds it, else at its
    first subnet."""
    return Range(cluster_cidr, block_prefix=mask_size, start_at=DEFAULT_FIRST_NODE_CIDR)


def node_ips(ip_range: str = DEFAULT_NODE_IP_RANGE) -> Range:
    """Node InternalIPs, one address each, from the first host on."""
    network = ipaddress.ip_network(ip_range)
    return Range(ip_range, block_prefix=network.max_prefixlen, skip_first=1)


def pod_ips(pod_cidr: str) -> Range:
    """A node's pod IPs: hosts of its podCIDR from .2 to the last before broadcast."""
    network = ipaddress.ip_network(pod_cidr)
    ips = Range(pod_cidr, block_prefix=network.max_prefixlen, skip_first=POD_HOST_OFFSET)
    ips.size -= 1  # the broadcast address
    return ips
