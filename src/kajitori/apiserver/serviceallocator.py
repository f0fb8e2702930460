"""Cluster IPs and node ports for Services.

Mirrors upstream's Service allocation (pkg/registry/core/service/storage/alloc.go, v1.33) over
`ipallocator`'s MetaAllocator (MultiCIDRServiceAllocator is GA and on in v1.33) and
`portallocator`: a Service of a type that needs them gets the next free address of the service
CIDR (10.96.0.0/12 by default; its first host address is the `kubernetes` Service's) and, for
NodePort and LoadBalancer (unless `allocateLoadBalancerNodePorts` is false), a free port of
30000-32767 for every port that names none. Free means not held by any stored Service nor
reserved by a create under way.

Asked-for values are checked as upstream checks them, each refusal a 422 worded as upstream:
an address outside every service CIDR does not match the range; the CIDR's network or
broadcast address is not in the valid range; a node port outside 30000-32767 is not in the
valid range; an address or port held by another Service is already allocated. Ports of one
Service that share a port number (TCP and UDP 53) share one node port.

Departures, both for readable tests and tutorials: free addresses and ports are handed out in
order, where upstream picks at random (preferring the upper part of each range); and a
Service's asked-for node ports are reserved before its missing ones are picked, so picking in
order can never take a port the same Service asks for further down.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from kajitori.api import errors

Obj = dict[str, Any]

SERVICE_CIDR = "10.96.0.0/12"
NODE_PORT_RANGE = (30000, 32767)
SERVICE_KIND = "Service"
HEADLESS = "None"
EXTERNAL_NAME = "ExternalName"
NODE_PORT_TYPES = ("NodePort", "LoadBalancer")
LOAD_BALANCER = "LoadBalancer"

CLUSTER_IPS_FIELD = "spec.clusterIPs"
NODE_PORT_FIELD = "spec.ports[{index}].nodePort"
# alloc.go wraps the allocator's error: "failed to allocate IP %v: %v".
IP_ALLOCATION_FAILED = "failed to allocate IP {ip}: {reason}"
IP_ALREADY_ALLOCATED = "provided IP is already allocated"  # ipallocator.ErrAllocated
IP_MISMATCHED_NETWORK = "the provided network does not match the current range"
IP_NOT_IN_RANGE = ("the provided IP ({ip}) is not in the valid range. The range of valid IPs "
                   "is {cidr}")  # ipallocator.ErrNotInRange
IP_UNPARSEABLE = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
PORT_ALREADY_ALLOCATED = "provided port is already allocated"  # portallocator.ErrAllocated
PORT_NOT_IN_RANGE = ("provided port is not in the valid range. The range of valid ports is "
                     "{first}-{last}")  # portallocator.ErrNotInRange
IP_RANGE_FULL = "failed to allocate a serviceIP: range is full"
PORT_RANGE_FULL = "failed to allocate a nodePort: range is full"


class ServiceAllocator:
    def __init__(self, *, list_services: Callable[[], Awaitable[list[Obj]]],
                 cidr: str = SERVICE_CIDR) -> None:
        self._list_services = list_services
        self._network = ipaddress.ip_network(cidr)
        self._lock = asyncio.Lock()
        self._reserved_ips: set[str] = set()
        self._reserved_ports: set[int] = set()

    async def allocate(self, service: Obj) -> None:
        """Fill spec.clusterIP(s) and the node ports the Service needs, after checking the
        asked-for ones; reserve them until `release`. Raises a 422 StatusError for an
        asked-for value that cannot be had (then nothing is reserved), a 500 when a range is
        full."""
        spec = service.setdefault("spec", {})
        name = (service.get("metadata") or {}).get("name") or ""
        service_type = spec.get("type", "ClusterIP")
        async with self._lock:
            existing = await self._list_services()
            used_ips = _cluster_ips(existing) | self._reserved_ips
            used_ports = _node_ports(existing) | self._reserved_ports
            cluster_ip = None
            if service_type != EXTERNAL_NAME:
                cluster_ip = self._cluster_ip(name, spec.get("clusterIP"), used_ips)
            new_ports: list[int] = []
            if service_type in NODE_PORT_TYPES:
                new_ports = _assign_node_ports(
                    name, spec.get("ports") or [], used_ports,
                    allocate_missing=service_type != LOAD_BALANCER
                    or spec.get("allocateLoadBalancerNodePorts") is not False)
            if cluster_ip is not None:
                spec["clusterIP"] = cluster_ip
                spec["clusterIPs"] = [cluster_ip]
                if cluster_ip != HEADLESS:
                    self._reserved_ips.add(cluster_ip)
            self._reserved_ports.update(new_ports)

    def release(self, service: Obj) -> None:
        """Forget reservations once the create is stored or has failed."""
        spec = service.get("spec", {})
        self._reserved_ips.discard(spec.get("clusterIP"))
        for port in spec.get("ports") or []:
            self._reserved_ports.discard(port.get("nodePort"))

    def _cluster_ip(self, name: str, wanted: str | None, used: set[str]) -> str:
        """The asked-for address once checked, `None` for a headless Service, else the next
        free one."""
        if wanted == HEADLESS:
            return HEADLESS
        if not wanted:
            return self._next_ip(used)
        try:
            address = ipaddress.ip_address(wanted)
        except ValueError:
            raise _invalid(name, errors.FieldError.invalid(
                f"{CLUSTER_IPS_FIELD}[0]", wanted, IP_UNPARSEABLE)) from None
        reason = None
        if address not in self._network:
            reason = IP_MISMATCHED_NETWORK
        elif not self._is_host(address):
            reason = IP_NOT_IN_RANGE.format(ip=wanted, cidr=self._network)
        elif wanted in used:
            reason = IP_ALREADY_ALLOCATED
        if reason is not None:
            raise _invalid(name, errors.FieldError(
                CLUSTER_IPS_FIELD, "FieldValueInvalid",
                f'Invalid value: []string{{"{wanted}"}}: '
                + IP_ALLOCATION_FAILED.format(ip=wanted, reason=reason)))
        return wanted

    def _is_host(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        """Upstream's allocator hands out neither the network address nor, for IPv4, the
        broadcast address."""
        if address == self._network.network_address:
            return False
        return self._network.version == 6 or address != self._network.broadcast_address

    def _next_ip(self, used: set[str]) -> str:
        for host in self._network.hosts():
            text = str(host)
            if text not in used:
                return text
        raise errors.internal_error(IP_RANGE_FULL)


def _assign_node_ports(name: str, ports: list[Obj], used: set[int], *,
                       allocate_missing: bool) -> list[int]:
    """Check and keep each asked-for node port, then fill the missing ones (when
    `allocate_missing`); entries sharing a port number share a node port, as upstream's
    initNodePorts. Returns the ports newly taken; changes `ports` only when all can be had."""
    taken = set(used)
    new: list[int] = []
    by_port_number: dict[Any, int] = {}
    for index, port in enumerate(ports):
        node_port = port.get("nodePort")
        if not node_port or by_port_number.get(port.get("port")) == node_port:
            continue
        _check_node_port(name, index, node_port, taken)
        taken.add(node_port)
        new.append(node_port)
        by_port_number.setdefault(port.get("port"), node_port)
    filled: dict[int, int] = {}
    for index, port in enumerate(ports):
        if port.get("nodePort") or not allocate_missing:
            continue
        node_port = by_port_number.get(port.get("port"))
        if node_port is None:
            node_port = _next_port(taken)
            taken.add(node_port)
            new.append(node_port)
            by_port_number[port.get("port")] = node_port
        filled[index] = node_port
    for index, node_port in filled.items():
        ports[index]["nodePort"] = node_port
    return new


def _check_node_port(name: str, index: int, node_port: int, taken: set[int]) -> None:
    first, last = NODE_PORT_RANGE
    reason = None
    if not first <= node_port <= last:
        reason = PORT_NOT_IN_RANGE.format(first=first, last=last)
    elif node_port in taken:
        reason = PORT_ALREADY_ALLOCATED
    if reason is not None:
        raise _invalid(name, errors.FieldError.invalid(
            NODE_PORT_FIELD.format(index=index), node_port, reason))


def _next_port(taken: set[int]) -> int:
    for port in range(NODE_PORT_RANGE[0], NODE_PORT_RANGE[1] + 1):
        if port not in taken:
            return port
    raise errors.internal_error(PORT_RANGE_FULL)


def _cluster_ips(services: Iterable[Obj]) -> set[str]:
    used: set[str] = set()
    for service in services:
        spec = service.get("spec") or {}
        used.update(ip for ip in [spec.get("clusterIP"), *(spec.get("clusterIPs") or [])] if ip)
    return used


def _node_ports(services: Iterable[Obj]) -> set[int]:
    return {port["nodePort"] for service in services
            for port in (service.get("spec") or {}).get("ports") or [] if port.get("nodePort")}


def _invalid(name: str, error: errors.FieldError) -> errors.StatusError:
    return errors.invalid(SERVICE_KIND, name, [error])
