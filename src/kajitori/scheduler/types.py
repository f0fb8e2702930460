"""What the scheduler precomputes about a pod, once per pod version: requests, ports, terms.

Mirrors upstream's `pkg/scheduler/framework/types.go` (`PodInfo`, `AffinityTerm`, the pod's
`Resource`) and `component-helpers/resource` (`PodRequests`): requests are the sum of the app
containers' and restartable init (sidecar) containers', or the largest init container's plus
the sidecars started before it, whichever is larger per resource, plus `spec.overhead`. CPU is
counted in millicores, every other resource in units; zero requests are left out. The
"non-zero" requests give containers without a cpu or memory request upstream's defaults
(100m, 200Mi) so that scoring does not pile request-less pods onto one node.

Cluster-level state (nodes, assigned pods) lives in `cache`; the plugins in `plugins/`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import orjson

from kajitori.api import labels, quantity

Obj = dict[str, Any]

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"
DEFAULT_MILLI_CPU_REQUEST = 100
"""Millicores a container without a cpu request counts as when scoring (upstream's)."""
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
"""Bytes a container without a memory request counts as when scoring (upstream's 200Mi)."""
DEFAULT_SCHEDULER_NAME = "default-scheduler"
LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_ZONE = "topology.kubernetes.io/zone"
RESTART_POLICY_ALWAYS = "Always"


@functools.lru_cache(maxsize=4096)
def _parse_amount(text: str, milli: bool) -> int:
    parsed = quantity.parse(text)
    return parsed.milli_value() if milli else parsed.value()


def amount(resource: str, value: Any) -> int:
    """A quantity as the scheduler counts it: millicores for cpu, units for the rest (rounded
    up, as upstream's MilliValue/Value). Raises QuantityError for a malformed one."""
    return _parse_amount(str(value), resource == CPU)


def resource_list(resources: Obj | None) -> dict[str, int]:
    """A ResourceList (`{"cpu": "500m", ...}`) in scheduler units."""
    return {name: amount(name, value) for name, value in (resources or {}).items()}


def is_scalar_resource(name: str) -> bool:
    """Resources counted as scalars (upstream's IsScalarResourceName): extended resources
    (`example.com/dongle`), hugepages and attachable volumes."""
    if name.startswith(("hugepages-", "attachable-volumes-")):
        return True
    return "/" in name and not name.startswith(("kubernetes.io/", "requests."))


def _add(total: dict[str, int], more: dict[str, int]) -> None:
    for name, value in more.items():
        total[name] = total.get(name, 0) + value


def _max(total: dict[str, int], more: dict[str, int]) -> None:
    for name, value in more.items():
        if value > total.get(name, 0):
            total[name] = value


def pod_requests(pod: Obj, *, non_missing: dict[str, int] | None = None) -> dict[str, int]:
    """upstream's `PodRequests`: app and sidecar containers summed, init containers as the
    peak they reach, overhead added. `non_missing` fills in a container's missing cpu/memory
    request (the scoring defaults); None counts missing requests as zero."""
    spec = pod.get("spec") or {}

    def container_requests(container: Obj) -> dict[str, int]:
        reqs = resource_list((container.get("resources") or {}).get("requests"))
        for name, default in (non_missing or {}).items():
            if not reqs.get(name):
                reqs[name] = default
        return reqs

    reqs: dict[str, int] = {}
    for container in spec.get("containers") or []:
        _add(reqs, container_requests(container))
    sidecars: dict[str, int] = {}
    init_peak: dict[str, int] = {}
    for container in spec.get("initContainers") or []:
        container_reqs = container_requests(container)
        if container.get("restartPolicy") == RESTART_POLICY_ALWAYS:
            _add(reqs, container_reqs)
            _add(sidecars, container_reqs)
            container_reqs = dict(sidecars)
        else:
            _add(container_reqs, sidecars)
        _max(init_peak, container_reqs)
    _max(reqs, init_peak)
    _add(reqs, resource_list(spec.get("overhead")))
    return {name: value for name, value in reqs.items() if value}


def namespace_selected(namespace: str, names: frozenset[str] | None,
                       selector: labels.Selector | None,
                       namespace_labels: dict[str, str] | None) -> bool:
    """Whether a term (or counter) naming `names` (None: all) or selecting namespaces by
    `selector` covers `namespace`, whose labels are `namespace_labels` (None: unknown)."""
    if names is None or namespace in names:
        return True
    return selector is not None and namespace_labels is not None and \
        selector.matches(namespace_labels)


@dataclass(frozen=True)
class AffinityTerm:
    """A PodAffinityTerm made ready to match (upstream's `framework.AffinityTerm`): the
    namespaces it names (its pod's own when it names none and has no namespaceSelector), the
    selectors parsed. `match_key` identifies terms that select the same pods, `key` terms
    that are equal (the topology key too)."""

    namespaces: frozenset[str]
    namespace_selector: labels.Selector | None
    selector: labels.Selector
    topology_key: str
    match_key: str

    @property
    def key(self) -> str:
        return f"{self.match_key}@{self.topology_key}"

    def matches(self, pod: PodInfo, namespace_labels: dict[str, str] | None) -> bool:
        """Whether `pod` is one this term selects. `namespace_labels`: the labels of the pod's
        namespace (None when unknown: a namespaceSelector then matches nothing)."""
        return namespace_selected(pod.namespace, self.namespaces, self.namespace_selector,
                                  namespace_labels) and self.selector.matches(pod.labels)


def affinity_term(pod_namespace: str, term: Obj) -> AffinityTerm:
    """Parse one PodAffinityTerm. Raises StatusError for a malformed selector."""
    names = frozenset(term.get("namespaces") or ())
    ns_selector_obj = term.get("namespaceSelector")
    ns_selector = labels.from_label_selector(ns_selector_obj) if ns_selector_obj is not None \
        else None
    if not names and ns_selector is None:
        names = frozenset({pod_namespace})
    selector = labels.from_label_selector(term.get("labelSelector"))
    match_key = orjson.dumps([sorted(names), ns_selector_obj, term.get("labelSelector")],
                             option=orjson.OPT_SORT_KEYS).decode()
    return AffinityTerm(names, ns_selector, selector, term.get("topologyKey", ""), match_key)


@dataclass(frozen=True)
class WeightedAffinityTerm:
    weight: int
    term: AffinityTerm


@dataclass
class PodInfo:
    """A pod and what scheduling it needs, computed once (upstream's PodInfo plus the cached
    pod resource). `pod` is the informer's object, shared: never change it."""

    pod: Obj
    key: str
    namespace: str
    name: str
    uid: str
    labels: dict[str, str]
    priority: int
    scheduler_name: str
    node_name: str
    requests: dict[str, int]
    non_zero_cpu: int
    non_zero_memory: int
    host_ports: tuple[tuple[str, str, int], ...]
    tolerations: list[Obj]
    terminating: bool
    required_affinity: list[AffinityTerm] = field(default_factory=list)
    required_anti_affinity: list[AffinityTerm] = field(default_factory=list)
    preferred_affinity: list[WeightedAffinityTerm] = field(default_factory=list)
    preferred_anti_affinity: list[WeightedAffinityTerm] = field(default_factory=list)
    parse_error: str = ""
    """Why an affinity term could not be parsed ('' when all could)."""

    @property
    def spec(self) -> Obj:
        spec: Obj = self.pod.get("spec") or {}
        return spec

    @property
    def has_affinity(self) -> bool:
        return bool(self.required_affinity or self.required_anti_affinity
                    or self.preferred_affinity or self.preferred_anti_affinity)

    @property
    def start_time(self) -> str:
        status: Obj = self.pod.get("status") or {}
        return str(status.get("startTime") or "")


def host_ports(pod: Obj) -> tuple[tuple[str, str, int], ...]:
    """(hostIP, protocol, hostPort) of every container port with a hostPort (upstream's
    NodePorts counts app containers only); hostIP defaults to 0.0.0.0, protocol to TCP."""
    wanted = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            host_port = int(port.get("hostPort") or 0)
            if host_port > 0:
                wanted.append((port.get("hostIP") or "0.0.0.0", port.get("protocol") or "TCP",
                               host_port))
    return tuple(wanted)


def pod_info(pod: Obj) -> PodInfo:
    """Precompute a pod. Quantities that do not parse raise QuantityError (the apiserver's
    validation keeps them out); a malformed affinity term is recorded in `parse_error`,
    as upstream ignores such errors when caching assigned pods but fails the pod's own cycle."""
    md = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    namespace, name = md.get("namespace", ""), md.get("name", "")
    non_zero = pod_requests(pod, non_missing={CPU: DEFAULT_MILLI_CPU_REQUEST,
                                              MEMORY: DEFAULT_MEMORY_REQUEST})
    info = PodInfo(
        pod=pod, key=f"{namespace}/{name}", namespace=namespace, name=name,
        uid=md.get("uid", ""), labels=md.get("labels") or {},
        priority=int(spec.get("priority") or 0),
        scheduler_name=spec.get("schedulerName") or DEFAULT_SCHEDULER_NAME,
        node_name=spec.get("nodeName") or "", requests=pod_requests(pod),
        non_zero_cpu=non_zero.get(CPU, 0), non_zero_memory=non_zero.get(MEMORY, 0),
        host_ports=host_ports(pod), tolerations=spec.get("tolerations") or [],
        terminating=bool(md.get("deletionTimestamp")))
    affinity = spec.get("affinity") or {}
    try:
        pod_affinity = affinity.get("podAffinity") or {}
        anti = affinity.get("podAntiAffinity") or {}
        required = "requiredDuringSchedulingIgnoredDuringExecution"
        preferred = "preferredDuringSchedulingIgnoredDuringExecution"
        info.required_affinity = [affinity_term(namespace, t)
                                  for t in pod_affinity.get(required) or []]
        info.required_anti_affinity = [affinity_term(namespace, t)
                                       for t in anti.get(required) or []]
        info.preferred_affinity = [
            WeightedAffinityTerm(int(t.get("weight") or 0),
                                 affinity_term(namespace, t.get("podAffinityTerm") or {}))
            for t in pod_affinity.get(preferred) or []]
        info.preferred_anti_affinity = [
            WeightedAffinityTerm(int(t.get("weight") or 0),
                                 affinity_term(namespace, t.get("podAffinityTerm") or {}))
            for t in anti.get(preferred) or []]
    except Exception as exc:  # noqa: BLE001 - a StatusError from a selector, kept as a reason
        info.parse_error = str(exc)
    return info
