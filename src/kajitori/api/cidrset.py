"""A set of CIDR blocks cut out of one network, handed out round-robin: node pod CIDRs, IPs.

Mirrors upstream's `pkg/controller/nodeipam/ipam/cidrset/cidr_set.go` (`CidrSet`: the next free
subnet after the last one allocated, `Occupy` for subnets held before, `Release`), generalised
to blocks of any size so that single addresses (node IPs, pod IPs) are blocks too. Shared by the
node IPAM controller (`kajitori.controllers.nodeipam`) and the simulator (`kajitori.sim.ipam`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable


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
