"""Addresses for simulated nodes and their pods: node pod CIDRs, node IPs, pod IPs.

Three allocations, each a `Range` handing out the next free block round-robin:
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
from collections.abc import Iterable

DEFAULT_CLUSTER_CIDR = "10.224.0.0/11"
DEFAULT_FIRST_NODE_CIDR = "10.244.0.0"
DEFAULT_NODE_CIDR_MASK_SIZE = 24
DEFAULT_NODE_IP_RANGE = "198.18.0.0/15"
POD_HOST_OFFSET = 2
"""Pods get hosts from .2 on: .0 is the network and .1 the bridge's gateway."""


class RangeFull(Exception):
    """No free block is left in a range (upstream's `CIDRRangeNoCIDRsRemaining`)."""


class Range:
    """Blocks of `2**(max_prefix - block_prefix)` addresses in a network, handed out round-robin
    from a starting block, skipping those marked used; `release` frees one. Not thread-safe:
    one event loop owns it."""

    def __init__(self, network: str, *, block_prefix: int, skip_first: int = 0,
                 start_at: str | None = None) -> None:
        self.network = ipaddress.ip_network(network)
        if not self.network.prefixlen <= block_prefix <= self.network.max_prefixlen:
            raise ValueError(f"cannot cut /{block_prefix} blocks out of {self.network}")
        self.block_prefix = block_prefix
        self._block_size = 1 << (self.network.max_prefixlen - block_prefix)
        self.size = (1 << (block_prefix - self.network.prefixlen)) - skip_first
        self._skip = skip_first
        self._used: set[int] = set()
        self._next = 0
        if start_at is not None:
            self._next = self._index(start_at) or 0  # outside the network: its start

    def _index(self, address: str) -> int | None:
        """The block index of `address` (an address or a CIDR), or None outside the range."""
        ip = ipaddress.ip_network(address, strict=False).network_address
        if ip not in self.network:
            return None
        index = (int(ip) - int(self.network.network_address)) // self._block_size - self._skip
        return index if 0 <= index < self.size else None

    def _block(self, index: int) -> str:
        base = int(self.network.network_address) + (index + self._skip) * self._block_size
        address = ipaddress.ip_address(base)
        if self.block_prefix == self.network.max_prefixlen:
            return str(address)
        return f"{address}/{self.block_prefix}"

    def occupy(self, addresses: Iterable[str]) -> None:
        """Mark blocks as used (ones held before we started); those outside are ignored."""
        for address in addresses:
            index = self._index(address)
            if index is not None:
                self._used.add(index)

    def allocate(self) -> str:
        """The next free block after the last one handed out. Raises RangeFull."""
        if len(self._used) >= self.size:
            raise RangeFull(f"no free /{self.block_prefix} left in {self.network}")
        while self._next in self._used:
            self._next = (self._next + 1) % self.size
        index = self._next
        self._used.add(index)
        self._next = (index + 1) % self.size
        return self._block(index)

    def release(self, address: str) -> None:
        index = self._index(address)
        if index is not None:
            self._used.discard(index)

    def free(self) -> int:
        return self.size - len(self._used)


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
