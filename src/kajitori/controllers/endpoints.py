"""The Endpoints controller: one Endpoints object per Service with a selector.

Mirrors pkg/controller/endpoint/endpoints_controller.go. A Service, or a pod it selects,
changing queues the Service; its sync lists the selected pods from the cache and writes the
Endpoints of the same name:

- a pod is an endpoint once it has an IP and until it is terminal; a terminating pod only when
  the Service has `publishNotReadyAddresses`;
- a ready pod (or any pod, with `publishNotReadyAddresses`) goes to `addresses`, the others to
  `notReadyAddresses`, each with `nodeName`, a `targetRef` to the pod and, when the pod's
  `subdomain` names the Service, its `hostname`;
- each Service port becomes an endpoint port (name, protocol, appProtocol) with the container
  port its `targetPort` names; a pod lacking a named port is no endpoint for that port; a
  headless Service without ports lists its pods without ports;
- addresses that offer the same ports share one subset (upstream's RepackSubsets);
- at most 1000 addresses: beyond, the list is truncated (ready addresses kept first) and the
  Endpoints annotated `endpoints.kubernetes.io/over-capacity: truncated`;
- the Endpoints carries the Service's labels (plus `service.kubernetes.io/headless` for a
  headless Service) and `endpoints.kubernetes.io/last-change-trigger-time` (`triggertime.py`).

An unchanged result is not written. A Service without a selector (the `kubernetes` Service,
whose Endpoints the apiserver keeps, or one whose Endpoints a user manages) and an ExternalName
Service are left alone; a deleted Service's Endpoints are deleted. EndpointSlices are
`endpointslice.py`'s.

Departures from upstream: subsets are ordered by their first address and ports by name and
number (upstream orders both by an object hash: a stable order either way); there is no
`--endpoint-updates-batch-period` batching.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kajitori.api import errors, meta
from kajitori.client import informer, rest
from kajitori.controllers import podstate, servicepods, triggertime, worker

Obj = dict[str, Any]

log = logging.getLogger(__name__)

SERVICES = ("", "v1", "services")
PODS = ("", "v1", "pods")
ENDPOINTS = ("", "v1", "endpoints")

MAX_CAPACITY = 1000
"""Addresses one Endpoints object holds at most (upstream's maxCapacity)."""
OVER_CAPACITY_ANNOTATION = "endpoints.kubernetes.io/over-capacity"
TRUNCATED = "truncated"


@dataclass(frozen=True)
class EndpointsSettings:
    concurrent_endpoint_syncs: int = 5
    """`--concurrent-endpoint-syncs`: Services synced at once."""


def endpoint_address(pod: Obj, service: Obj) -> Obj | None:
    """The pod's address for the Service's first IP family; None when it has none."""
    families = (service.get("spec") or {}).get("ipFamilies") or ["IPv4"]
    want_v6 = families[0] == "IPv6"
    ip = next((ip for ip in podstate.pod_ips(pod) if (":" in ip) == want_v6), None)
    if ip is None:
        return None
    address: Obj = {"ip": ip}
    if podstate.should_set_hostname(pod, service):
        address["hostname"] = pod["spec"]["hostname"]
    node_name = (pod.get("spec") or {}).get("nodeName")
    if node_name:
        address["nodeName"] = node_name
    address["targetRef"] = {"kind": "Pod", "namespace": meta.namespace(pod),
                            "name": meta.name(pod), "uid": meta.uid(pod)}
    return address


def endpoint_port(service_port: Obj, number: int) -> Obj:
    port: Obj = {}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    port["port"] = number
    port["protocol"] = service_port.get("protocol") or "TCP"
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def _address_key(address: Obj) -> tuple[str, str]:
    return address["ip"], (address.get("targetRef") or {}).get("uid", "")


def _port_key(port: Obj) -> tuple[str, int, str, str]:
    return (port.get("name", ""), port.get("port", 0), port.get("protocol", ""),
            port.get("appProtocol", ""))


def repack_subsets(entries: Iterable[tuple[Obj, Obj | None, bool]]) -> list[Obj]:
    """Subsets from (address, port or None, ready) entries: addresses offering the same set of
    ports share one subset; an address ready on a port is ready there even if also listed
    unready (upstream's RepackSubsets). Addresses sorted by IP, then pod UID."""
    addresses: dict[tuple[str, str], Obj] = {}
    by_port: dict[tuple[str, int, str, str], dict[tuple[str, str], bool]] = {}
    ports: dict[tuple[str, int, str, str], Obj | None] = {}
    for address, port, ready in entries:
        key = _address_key(address)
        addresses.setdefault(key, address)
        pkey = _port_key(port) if port is not None else ("", -1, "", "")
        ports[pkey] = port
        marks = by_port.setdefault(pkey, {})
        marks[key] = marks.get(key, False) or ready
    groups: dict[tuple[tuple[tuple[str, str], bool], ...], list[Obj]] = {}
    for pkey, marks in by_port.items():
        group = groups.setdefault(tuple(sorted(marks.items())), [])
        port = ports[pkey]
        if port is not None:
            group.append(port)
    subsets = []
    for marks_key, group_ports in groups.items():
        subset: Obj = {}
        ready_addresses = [addresses[k] for k, is_ready in marks_key if is_ready]
        not_ready = [addresses[k] for k, is_ready in marks_key if not is_ready]
        if ready_addresses:
            subset["addresses"] = ready_addresses
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if group_ports:
            subset["ports"] = sorted(group_ports, key=_port_key)
        subsets.append(subset)
    subsets.sort(key=lambda s: min(_address_key(a) for a in
                                   s.get("addresses", []) + s.get("notReadyAddresses", [])))
    return subsets


def compute_subsets(service: Obj, pods: list[Obj]) -> list[Obj]:
    """The Endpoints subsets of `service` over the pods it selects."""
    spec = service.get("spec") or {}
    tolerate_unready = bool(spec.get("publishNotReadyAddresses"))
    entries: list[tuple[Obj, Obj | None, bool]] = []
    for pod in pods:
        if not podstate.should_pod_be_in_endpoints(pod, include_terminating=tolerate_unready):
            continue
        address = endpoint_address(pod, service)
        if address is None:
            continue
        ready = tolerate_unready or podstate.is_pod_ready(pod)
        service_ports = spec.get("ports") or []
        if not service_ports:
            if spec.get("clusterIP") == servicepods.CLUSTER_IP_NONE:
                entries.append((address, None, ready))
            continue
        for service_port in service_ports:
            number = podstate.find_port(pod, service_port)
            if number is not None:
                entries.append((address, endpoint_port(service_port, number), ready))
    return repack_subsets(entries)


def truncate_subsets(subsets: list[Obj]) -> bool:
    """Cut the addresses down to MAX_CAPACITY in place, each subset keeping its proportional
    share (rounded up); not-ready addresses go first. True when anything was cut."""
    total_ready = sum(len(s.get("addresses", [])) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses", [])) for s in subsets)
    if total_ready + total_not_ready <= MAX_CAPACITY:
        return False
    truncate_ready = total_ready > MAX_CAPACITY
    budget = MAX_CAPACITY if truncate_ready else MAX_CAPACITY - total_ready
    total = total_ready if truncate_ready else total_not_ready
    left = budget
    field = "addresses" if truncate_ready else "notReadyAddresses"
    for subset in subsets:
        share = math.ceil(len(subset.get(field, [])) / total * budget) if total else 0
        share = min(share, left)
        if subset.get(field):
            subset[field] = subset[field][:share]
            if not subset[field]:
                del subset[field]
        if truncate_ready:
            subset.pop("notReadyAddresses", None)
        left -= len(subset.get(field, []))
    return True


def capacity_annotation_set_correctly(annotations: dict[str, str], subsets: list[Obj]) -> bool:
    """Whether the over-capacity annotation agrees with the addresses stored now."""
    count = sum(len(s.get("addresses", [])) + len(s.get("notReadyAddresses", []))
                for s in subsets)
    if OVER_CAPACITY_ANNOTATION in annotations:
        return count > MAX_CAPACITY
    return count <= MAX_CAPACITY


def desired_labels(service: Obj) -> dict[str, str]:
    wanted = dict(meta.labels(service))
    if servicepods.is_service_ip_set(service):
        wanted.pop(servicepods.HEADLESS_LABEL, None)
    else:
        wanted[servicepods.HEADLESS_LABEL] = ""
    return wanted


class EndpointsController(servicepods.ServiceQueue):
    """Keeps the Endpoints of every Service with a selector current (module docstring)."""

    def __init__(self, *, client: rest.RESTClient, services: informer.Informer,
                 pods: informer.Informer, endpoints: informer.Informer,
                 settings: EndpointsSettings | None = None) -> None:
        self._client = client
        self._pods = pods
        self._endpoints = endpoints
        self._settings = settings or EndpointsSettings()
        self._triggers = triggertime.TriggerTimeTracker()
        super().__init__(name="endpoint", services=services, pods=pods)
        endpoints.add_handlers(on_delete=self._endpoints_deleted)

    def _endpoints_deleted(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        key = informer.meta_namespace_key(obj)
        if key in self._services.cache:
            self.queue.add(key)

    async def run(self) -> None:
        await worker.run_workers(self.queue, self.sync, what="Service",
                                 workers=self._settings.concurrent_endpoint_syncs,
                                 informers=(self._services, self._pods, self._endpoints))

    async def sync(self, key: str) -> None:
        """Bring the Endpoints of the Service at `key` up to date (idempotent)."""
        namespace, name = informer.split_meta_namespace_key(key)
        service = self._services.cache.get(key)
        path = rest.resource_path(*ENDPOINTS, namespace=namespace, name=name)
        if service is None:
            self._triggers.delete(key)
            with errors.ignore_not_found():
                await self._client.delete(path)
            return
        if not servicepods.is_managed(service):
            return
        pods = servicepods.selected_pods(self._pods.cache, service)
        trigger = self._triggers.compute(key, service, pods)
        subsets = compute_subsets(service, pods)
        current = self._endpoints.cache.get(key)
        wanted_labels = desired_labels(service)
        if current is not None:
            current_annotations = meta.annotations(current)
            current_labels = {k: v for k, v in meta.labels(current).items()
                              if k != servicepods.HEADLESS_LABEL}
            if (current.get("subsets") or []) == subsets and \
                    current_labels == meta.labels(service) and \
                    capacity_annotation_set_correctly(current_annotations,
                                                      current.get("subsets") or []):
                return
            updated = copy.deepcopy(current)
        else:
            updated = {"apiVersion": "v1", "kind": "Endpoints",
                       "metadata": {"name": name, "namespace": namespace}}
        md = updated["metadata"]
        wanted = dict(md.get("annotations") or {})
        if trigger is not None:
            wanted[triggertime.LAST_CHANGE_TRIGGER_TIME_ANNOTATION] = \
                triggertime.format_trigger_time(trigger)
        else:
            wanted.pop(triggertime.LAST_CHANGE_TRIGGER_TIME_ANNOTATION, None)
        if truncate_subsets(subsets):
            wanted[OVER_CAPACITY_ANNOTATION] = TRUNCATED
        else:
            wanted.pop(OVER_CAPACITY_ANNOTATION, None)
        md["annotations"] = wanted
        md["labels"] = wanted_labels
        updated["subsets"] = subsets
        await self._write(updated, create=current is None, namespace=namespace, name=name)

    async def _write(self, endpoints: Obj, *, create: bool, namespace: str, name: str) -> None:
        try:
            if create:
                await self._client.create(
                    rest.resource_path(*ENDPOINTS, namespace=namespace), endpoints)
            else:
                await self._client.update(
                    rest.resource_path(*ENDPOINTS, namespace=namespace, name=name), endpoints)
        except errors.StatusError as exc:
            if create and exc.code == 403:
                # The namespace is terminating: nothing may be created in it; not a failure.
                log.debug("not creating Endpoints %s/%s: %s", namespace, name, exc)
                return
            raise


def new_endpoints_controller(client: rest.RESTClient, *,
                             informers: informer.SharedInformerFactory,
                             settings: EndpointsSettings | None = None) -> EndpointsController:
    """The Endpoints controller on `informers` (upstream's NewEndpointController)."""
    return EndpointsController(
        client=client, services=informers.informer_for(*SERVICES),
        pods=informers.informer_for(*PODS), endpoints=informers.informer_for(*ENDPOINTS),
        settings=settings)
