"""The EndpointSlice controller: the EndpointSlices of every Service with a selector.

Mirrors pkg/controller/endpointslice/endpointslice_controller.go and the reconciler of
staging/src/k8s.io/endpointslice (reconciler.go, utils.go). A Service, a pod it selects, or one
of its slices changing queues the Service; its sync computes the desired endpoints from the
cached pods and changes the existing slices as little as it can:

- a pod is an endpoint once it has an IP and until it is terminal, terminating ones included,
  with conditions `serving` (the pod is Ready), `terminating` (it has a deletionTimestamp) and
  `ready` (serving and not terminating, or always with `publishNotReadyAddresses`), `targetRef`,
  `nodeName`, the node's `topology.kubernetes.io/zone` and, when the pod's subdomain names the
  Service, `hostname`;
- endpoints with the same resolved ports share slices, one address type (IPv4, IPv6, per the
  Service's ipFamilies) a slice, at most `max_endpoints_per_slice` (100) endpoints a slice;
- existing slices keep the endpoints still wanted (updated in place when changed); new
  endpoints fill the slices being updated first, then the fullest unchanged slice they fit in,
  then new slices; emptied slices are deleted, or reused for a slice that would be created;
- a Service with no endpoints keeps one empty placeholder slice;
- slices are named `<service>-<random>` (generateName), owned by the Service (so the garbage
  collector deletes them with it), labelled with the Service's labels plus
  `kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by:
  endpointslice-controller.k8s.io` (and `service.kubernetes.io/headless` for a headless
  Service), and annotated with `endpoints.kubernetes.io/last-change-trigger-time`.

The controller reads its own writes from the cache: a sync that finds a slice it wrote missing
or older there fails and is retried, rather than creating duplicates (upstream's
endpointSliceTracker and StaleInformerCache).

Left out (TODO(#5)): the EndpointSlice mirroring controller (slices for Endpoints a user
manages for a Service without a selector), topology hints, and the batching of
`--endpointslice-updates-batch-period`.
"""

from __future__ import annotations

import copy
import datetime
import logging
from dataclasses import dataclass
from typing import Any

from kajitori.api import errors, meta
from kajitori.client import informer, rest
from kajitori.controllers import podstate, servicepods, triggertime, worker

Obj = dict[str, Any]

log = logging.getLogger(__name__)

SERVICES = ("", "v1", "services")
PODS = ("", "v1", "pods")
NODES = ("", "v1", "nodes")
ENDPOINT_SLICES = ("discovery.k8s.io", "v1", "endpointslices")

CONTROLLER_NAME = "endpointslice-controller.k8s.io"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
ZONE_LABEL = "topology.kubernetes.io/zone"
IPV4, IPV6 = "IPv4", "IPv6"
SERVICE_INDEX = "endpointslice-controller/service"
"""Index of the slice informer: `namespace/service` of the slices this controller manages."""
DELETED = -1


@dataclass(frozen=True)
class EndpointSliceSettings:
    concurrent_service_endpoint_syncs: int = 5
    """`--concurrent-service-endpoint-syncs`: Services synced at once."""
    max_endpoints_per_slice: int = 100
    """`--max-endpoints-per-slice`: endpoints one slice holds at most (1 to 1000)."""


class StaleInformerCache(worker.SyncFailed):
    """A slice this controller wrote is missing or older in the cache: retry later."""


def managed_service_key(endpoint_slice: Obj) -> list[str]:
    """The SERVICE_INDEX function."""
    slice_labels = meta.labels(endpoint_slice)
    service = slice_labels.get(SERVICE_NAME_LABEL)
    if not service or slice_labels.get(MANAGED_BY_LABEL) != CONTROLLER_NAME:
        return []
    return [f"{meta.namespace(endpoint_slice)}/{service}"]


def address_types(service: Obj) -> list[str]:
    """The address types a Service's slices have: one per IP family (IPv4 by default)."""
    families = (service.get("spec") or {}).get("ipFamilies") or [IPV4]
    return [f for f in families if f in (IPV4, IPV6)] or [IPV4]


def endpoint_ports(service: Obj, pod: Obj) -> list[Obj]:
    """The slice ports of `pod` for the Service: each Service port whose targetPort the pod
    has, with the resolved number (upstream's getEndpointPorts; the name is always set)."""
    ports = []
    for service_port in (service.get("spec") or {}).get("ports") or []:
        number = podstate.find_port(pod, service_port)
        if number is None:
            continue
        port: Obj = {"name": service_port.get("name") or "", "port": number,
                     "protocol": service_port.get("protocol") or "TCP"}
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        ports.append(port)
    return ports


def pod_to_endpoint(pod: Obj, service: Obj, *, node: Obj | None,
                    address_type: str) -> Obj | None:
    """The pod as an endpoint of `address_type`; None when it has no such address."""
    want_v6 = address_type == IPV6
    addresses = [ip for ip in podstate.pod_ips(pod) if (":" in ip) == want_v6][:1]
    if not addresses:
        return None
    serving = podstate.is_pod_ready(pod)
    terminating = meta.deletion_timestamp(pod) is not None
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    endpoint: Obj = {"addresses": addresses,
                     "conditions": {"ready": publish or (serving and not terminating),
                                    "serving": serving, "terminating": terminating}}
    if podstate.should_set_hostname(pod, service):
        endpoint["hostname"] = pod["spec"]["hostname"]
    endpoint["targetRef"] = {"kind": "Pod", "namespace": meta.namespace(pod),
                             "name": meta.name(pod), "uid": meta.uid(pod)}
    node_name = (pod.get("spec") or {}).get("nodeName")
    if node_name:
        endpoint["nodeName"] = node_name
    zone = meta.labels(node).get(ZONE_LABEL) if node is not None else None
    if zone:
        endpoint["zone"] = zone
    return endpoint


def endpoint_key(endpoint: Obj) -> tuple[tuple[str, ...], str, str, str]:
    """What identifies an endpoint across syncs (upstream's hashEndpoint): its addresses,
    hostname and the pod it points at. Everything else may change in place."""
    ref = endpoint.get("targetRef") or {}
    return (tuple(sorted(endpoint.get("addresses") or [])), endpoint.get("hostname", ""),
            ref.get("namespace", ""), ref.get("name", ""))


def port_map_key(ports: list[Obj] | None) -> tuple[tuple[str, int, str, str], ...]:
    return tuple(sorted((p.get("name") or "", p.get("port") or 0, p.get("protocol") or "",
                         p.get("appProtocol") or "") for p in ports or []))


def slice_labels(service: Obj) -> dict[str, str]:
    """The labels of the Service's slices: its own, plus the reserved ones."""
    wanted = {k: v for k, v in meta.labels(service).items()
              if k not in (SERVICE_NAME_LABEL, MANAGED_BY_LABEL)}
    wanted[SERVICE_NAME_LABEL] = meta.name(service)
    wanted[MANAGED_BY_LABEL] = CONTROLLER_NAME
    if servicepods.is_service_ip_set(service):
        wanted.pop(servicepods.HEADLESS_LABEL, None)
    else:
        wanted[servicepods.HEADLESS_LABEL] = ""
    return wanted


def owned_by(endpoint_slice: Obj, service: Obj) -> bool:
    return any(ref.get("uid") == meta.uid(service) and ref.get("controller")
               for ref in meta.owner_references(endpoint_slice))


def new_endpoint_slice(service: Obj, *, ports: list[Obj] | None, address_type: str) -> Obj:
    """An unsaved slice of the Service (no name yet: generateName `<service>-`)."""
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"generateName": f"{meta.name(service)}-",
                         "namespace": meta.namespace(service),
                         "labels": slice_labels(service),
                         "ownerReferences": [{
                             "apiVersion": "v1", "kind": "Service", "name": meta.name(service),
                             "uid": meta.uid(service), "controller": True,
                             "blockOwnerDeletion": True}]},
            "addressType": address_type, "endpoints": [], "ports": ports}


@dataclass
class Plan:
    """What one sync writes: new slices, changed slices, slices to delete."""

    create: list[Obj]
    update: list[Obj]
    delete: list[Obj]


def reconcile(service: Obj, existing: list[Obj], pods: list[Obj], *,
              nodes: informer.Indexer, max_endpoints: int) -> Plan:
    """The writes that make the Service's slices hold the endpoints of `pods` (already its
    selected pods), keeping existing slices and endpoints in place where possible. Pure:
    reads `nodes` only for zones; the objects returned are copies."""
    plan = Plan([], [], [])
    owned: dict[str, list[Obj]] = {}
    for existing_slice in existing:
        if owned_by(existing_slice, service) and \
                existing_slice.get("addressType") in address_types(service):
            owned.setdefault(existing_slice["addressType"], []).append(existing_slice)
        else:
            plan.delete.append(existing_slice)
    for address_type in address_types(service):
        _reconcile_address_type(service, owned.get(address_type, []), pods, plan,
                                nodes=nodes, max_endpoints=max_endpoints,
                                address_type=address_type)
    # Recycle slices about to be deleted as the ones about to be created (fewer writes).
    for index, new in enumerate(plan.create):
        reusable = next((s for s in plan.delete if s.get("addressType") == new["addressType"]
                         and owned_by(s, service)), None)
        if reusable is None:
            continue
        plan.delete.remove(reusable)
        recycled = copy.deepcopy(reusable)
        recycled["metadata"]["labels"] = new["metadata"]["labels"]
        recycled["endpoints"], recycled["ports"] = new["endpoints"], new["ports"]
        plan.update.append(recycled)
        plan.create[index] = {}
    plan.create = [s for s in plan.create if s]
    return plan


def _reconcile_address_type(service: Obj, existing: list[Obj], pods: list[Obj], plan: Plan, *,
                            nodes: informer.Indexer, max_endpoints: int,
                            address_type: str) -> None:
    desired: dict[tuple[Any, ...], dict[tuple[Any, ...], Obj]] = {}
    desired_ports: dict[tuple[Any, ...], list[Obj]] = {}
    for pod in pods:
        if not podstate.should_pod_be_in_endpoints(pod, include_terminating=True):
            continue
        node_name = (pod.get("spec") or {}).get("nodeName") or ""
        endpoint = pod_to_endpoint(pod, service, node=nodes.get(node_name) if node_name else None,
                                   address_type=address_type)
        if endpoint is None:
            continue
        ports = endpoint_ports(service, pod)
        key = port_map_key(ports)
        desired_ports.setdefault(key, ports)
        desired.setdefault(key, {})[endpoint_key(endpoint)] = endpoint
    by_ports: dict[tuple[Any, ...], list[Obj]] = {}
    for existing_slice in existing:
        by_ports.setdefault(port_map_key(existing_slice.get("ports")), []).append(existing_slice)
    for key, endpoints in desired.items():
        _reconcile_port_mapping(service, by_ports.get(key, []), endpoints, plan,
                                ports=desired_ports[key], max_endpoints=max_endpoints,
                                address_type=address_type)
    for key, slices in by_ports.items():
        if key not in desired:
            plan.delete.extend(slices)
    if len(existing) == sum(1 for s in plan.delete if s in existing) and not any(
            s.get("addressType") == address_type for s in plan.create):
        placeholder = new_endpoint_slice(service, ports=None, address_type=address_type)
        deleting = [s for s in plan.delete if s in existing]
        if len(deleting) == 1 and _is_placeholder(deleting[0], placeholder):
            plan.delete.remove(deleting[0])
        else:
            plan.create.append(placeholder)


def _is_placeholder(endpoint_slice: Obj, placeholder: Obj) -> bool:
    return not endpoint_slice.get("endpoints") and not endpoint_slice.get("ports") and \
        meta.labels(endpoint_slice) == placeholder["metadata"]["labels"]


def _reconcile_port_mapping(service: Obj, existing: list[Obj],
                            desired: dict[tuple[Any, ...], Obj], plan: Plan, *,
                            ports: list[Obj], max_endpoints: int, address_type: str) -> None:
    """Upstream's reconcileByPortMapping for one set of ports; `desired` is consumed."""
    wanted_labels = slice_labels(service)
    to_update: list[Obj] = []
    unchanged: list[Obj] = []
    for existing_slice in existing:
        kept = []
        changed = False
        for endpoint in existing_slice.get("endpoints") or []:
            wanted = desired.pop(endpoint_key(endpoint), None)
            if wanted is not None:
                kept.append(wanted)
                changed = changed or wanted != endpoint
        endpoints_changed = changed or len(kept) != len(existing_slice.get("endpoints") or [])
        labels_changed = meta.labels(existing_slice) != wanted_labels
        if endpoints_changed and not kept:
            plan.delete.append(existing_slice)
        elif endpoints_changed or labels_changed:
            updated = copy.deepcopy(existing_slice)
            updated["endpoints"] = kept
            updated["metadata"]["labels"] = dict(wanted_labels)
            to_update.append(updated)
        else:
            unchanged.append(existing_slice)
    remaining = list(desired.values())
    # Fill the slices being written anyway, fullest first.
    for updated in sorted(to_update, key=lambda s: -len(s["endpoints"])):
        room = max_endpoints - len(updated["endpoints"])
        if room > 0 and remaining:
            updated["endpoints"].extend(remaining[:room])
            remaining = remaining[room:]
    while remaining:
        target = None
        if len(remaining) < max_endpoints and unchanged:
            target = _slice_to_fill(unchanged, len(remaining), max_endpoints)
        if target is not None:
            unchanged.remove(target)
            target = copy.deepcopy(target)
            to_update.append(target)
        else:
            target = new_endpoint_slice(service, ports=copy.deepcopy(ports),
                                        address_type=address_type)
            plan.create.append(target)
        room = max_endpoints - len(target["endpoints"])
        target["endpoints"].extend(remaining[:room])
        remaining = remaining[room:]
    plan.update.extend(to_update)


def _slice_to_fill(slices: list[Obj], count: int, max_endpoints: int) -> Obj | None:
    """The fullest slice that still has room for `count` more endpoints."""
    fits = [s for s in slices if len(s.get("endpoints") or []) + count <= max_endpoints]
    return max(fits, key=lambda s: len(s.get("endpoints") or []), default=None)


class SliceTracker:
    """The resourceVersions of the slices this controller wrote, per Service key, to tell
    when the cache has not caught up with them yet."""

    def __init__(self) -> None:
        self._written: dict[str, dict[str, int]] = {}

    def record(self, service_key: str, endpoint_slice: Obj) -> None:
        self._written.setdefault(service_key, {})[meta.name(endpoint_slice)] = \
            int(meta.resource_version(endpoint_slice) or 0)

    def record_deleted(self, service_key: str, name: str) -> None:
        self._written.setdefault(service_key, {})[name] = DELETED

    def forget(self, service_key: str) -> None:
        self._written.pop(service_key, None)

    def stale(self, service_key: str, cached: list[Obj]) -> bool:
        """Whether `cached` (the cache's slices of the Service) misses one of our writes.
        Writes the cache has caught up with are forgotten."""
        written = self._written.get(service_key)
        if not written:
            return False
        by_name = {meta.name(s): s for s in cached}
        for name, version in list(written.items()):
            present = by_name.get(name)
            if version == DELETED:
                if present is not None:
                    return True
            elif present is None or int(meta.resource_version(present) or 0) < version:
                return True
            del written[name]
        return False


class EndpointSliceController(servicepods.ServiceQueue):
    """Keeps the EndpointSlices of every Service with a selector current (module docstring)."""

    def __init__(self, *, client: rest.RESTClient, services: informer.Informer,
                 pods: informer.Informer, nodes: informer.Informer,
                 endpoint_slices: informer.Informer,
                 settings: EndpointSliceSettings | None = None) -> None:
        self._client = client
        self._pods = pods
        self._nodes = nodes
        self._slices = endpoint_slices
        self._settings = settings or EndpointSliceSettings()
        self._triggers = triggertime.TriggerTimeTracker()
        self._tracker = SliceTracker()
        endpoint_slices.add_indexers({SERVICE_INDEX: managed_service_key})
        super().__init__(name="endpoint_slice", services=services, pods=pods)
        endpoint_slices.add_handlers(on_add=self._slice_changed,
                                     on_update=lambda _o, new: self._slice_changed(new),
                                     on_delete=self._slice_changed)

    def _slice_changed(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        endpoint_slice = informer.deleted_object(obj)
        for key in managed_service_key(endpoint_slice):
            self.queue.add(key)

    async def run(self) -> None:
        await worker.run_workers(
            self.queue, self.sync, what="Service",
            workers=self._settings.concurrent_service_endpoint_syncs,
            informers=(self._services, self._pods, self._nodes, self._slices))

    async def sync(self, key: str) -> None:
        """Bring the slices of the Service at `key` up to date. Raises StaleInformerCache
        (retried) while the cache lacks this controller's own earlier writes."""
        service = self._services.cache.get(key)
        if service is None:
            # The garbage collector deletes the slices with their owner.
            self._triggers.delete(key)
            self._tracker.forget(key)
            return
        if not servicepods.is_managed(service):
            return
        existing = self._slices.cache.by_index(SERVICE_INDEX, key)
        if self._tracker.stale(key, existing):
            raise StaleInformerCache(f"EndpointSlice informer cache is out of date for {key}")
        pods = servicepods.selected_pods(self._pods.cache, service)
        trigger = self._triggers.compute(key, service, pods)
        plan = reconcile(service, existing, pods, nodes=self._nodes.cache,
                         max_endpoints=self._settings.max_endpoints_per_slice)
        await self._apply(key, service, plan, trigger=trigger)

    async def _apply(self, key: str, service: Obj, plan: Plan, *,
                     trigger: datetime.datetime | None) -> None:
        namespace = meta.namespace(service)
        collection = rest.resource_path(*ENDPOINT_SLICES, namespace=namespace)
        for endpoint_slice in plan.create + plan.update:
            wanted = dict(meta.annotations(endpoint_slice))
            if trigger is not None:
                wanted[triggertime.LAST_CHANGE_TRIGGER_TIME_ANNOTATION] = \
                    triggertime.format_trigger_time(trigger)
            else:
                wanted.pop(triggertime.LAST_CHANGE_TRIGGER_TIME_ANNOTATION, None)
            endpoint_slice["metadata"]["annotations"] = wanted
        failures: list[str] = []
        if not meta.deletion_timestamp(service):
            for new in plan.create:
                try:
                    self._tracker.record(key, await self._client.create(collection, new))
                except errors.StatusError as exc:
                    if exc.code != 403:  # 403: the namespace is terminating
                        failures.append(str(exc))
        for updated in plan.update:
            try:
                self._tracker.record(key, await self._client.update(
                    f"{collection}/{meta.name(updated)}", updated))
            except errors.StatusError as exc:
                failures.append(str(exc))
        for doomed in plan.delete:
            try:
                await self._client.delete(f"{collection}/{meta.name(doomed)}")
            except errors.StatusError as exc:
                if exc.code != 404:
                    failures.append(str(exc))
                    continue
            self._tracker.record_deleted(key, meta.name(doomed))
        if failures:
            raise worker.SyncFailed(f"error syncing endpoint slices for service {key}: "
                                    + "; ".join(failures))


def new_endpointslice_controller(client: rest.RESTClient, *,
                                 informers: informer.SharedInformerFactory,
                                 settings: EndpointSliceSettings | None = None
                                 ) -> EndpointSliceController:
    """The EndpointSlice controller on `informers` (upstream's NewController)."""
    return EndpointSliceController(
        client=client, services=informers.informer_for(*SERVICES),
        pods=informers.informer_for(*PODS), nodes=informers.informer_for(*NODES),
        endpoint_slices=informers.informer_for(*ENDPOINT_SLICES), settings=settings)
