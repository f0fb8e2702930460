"""Cluster IPs and node ports for Services.

Mirrors upstream's `pkg/registry/core/service/ipallocator` and `portallocator`: a Service of a
type that needs them gets the next free address of the service CIDR (10.96.0.0/12 by default;
the first address is the `kubernetes` Service's) and, for NodePort and LoadBalancer, a free port
of 30000-32767. Free means not held by any stored Service nor reserved by a create under way.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

from kajitori.api import errors

Obj = dict[str, Any]

SERVICE_CIDR = "10.96.0.0/12"
NODE_PORT_RANGE = (30000, 32767)


class ServiceAllocator:
    def __init__(self, *, list_services: Callable[[], Awaitable[list[Obj]]],
                 cidr: str = SERVICE_CIDR) -> None:
        self._list_services = list_services
        self._network = ipaddress.ip_network(cidr)
        self._lock = asyncio.Lock()
        self._reserved_ips: set[str] = set()
        self._reserved_ports: set[int] = set()

    async def allocate(self, service: Obj) -> None:
        """Fill spec.clusterIP(s) and node ports the Service needs; validate asked-for ones."""
        spec = service.setdefault("spec", {})
        service_type = spec.get("type", "ClusterIP")
        async with self._lock:
            existing = await self._list_services()
            used_ips = {s.get("spec", {}).get("clusterIP") for s in existing} | \
                self._reserved_ips
            used_ports = {p.get("nodePort") for s in existing
                          for p in s.get("spec", {}).get("ports") or []} | self._reserved_ports
            if service_type != "ExternalName":
                wanted = spec.get("clusterIP")
                if wanted and wanted != "None":
                    if wanted in used_ips:
                        raise errors.invalid("Service", service["metadata"].get("name", ""), [
                            errors.FieldError(
                                "spec.clusterIPs", "FieldValueInvalid",
                                f"Invalid value: []string{{\"{wanted}\"}}: failed to allocate "
                                f"IP {wanted}: provided IP is already allocated")])
                elif not wanted:
                    wanted = self._next_ip(used_ips)
                spec["clusterIP"] = wanted
                spec["clusterIPs"] = [wanted]
                self._reserved_ips.add(wanted)
            if service_type in ("NodePort", "LoadBalancer"):
                for port in spec.get("ports") or []:
                    if not port.get("nodePort"):
                        port["nodePort"] = self._next_port(used_ports)
                    used_ports.add(port["nodePort"])
                    self._reserved_ports.add(port["nodePort"])

    def release(self, service: Obj) -> None:
        """Forget reservations once the create is stored or has failed."""
        spec = service.get("spec", {})
        self._reserved_ips.discard(spec.get("clusterIP"))
        for port in spec.get("ports") or []:
            self._reserved_ports.discard(port.get("nodePort"))

    def _next_ip(self, used: set[Any]) -> str:
        # Upstream allocates at random from the upper part of the range; in order is easier to
        # read in tests and tutorials. The first address is the kubernetes Service's.
        for host in self._network.hosts():
            text = str(host)
            if text not in used:
                return text
        raise errors.internal_error("failed to allocate a serviceIP: range is full")

    @staticmethod
    def _next_port(used: set[Any]) -> int:
        for port in range(NODE_PORT_RANGE[0], NODE_PORT_RANGE[1] + 1):
            if port not in used:
                return port
        raise errors.internal_error("failed to allocate a nodePort: range is full")
