"""Resource usage of simulated nodes and pods, published as `metrics.k8s.io/v1beta1` objects.

Upstream, kubelets expose usage and metrics-server scrapes it and serves it through an
aggregated API. Here the simulator plays both: every `metric_resolution` it computes each
running pod's usage and writes a PodMetrics per pod and a NodeMetrics per simulated node
through the ordinary API (the apiserver stores them like any resource, so `kubectl top` and the
HPA read them with plain get/list). The two resources are defined, when missing, by
CustomResourceDefinitions the simulator installs, as metrics-server's manifest installs its
APIService: the apiserver needs no code of its own for them, discovery lists the group like
any other, and either side can restart. The `v1beta1.metrics.k8s.io` APIService is
registered too, marked Available, so `kubectl get apiservices` shows what a cluster with
metrics-server shows.

Usage is configurable per pod with the annotations `sim.kajitori.io/cpu-usage` and
`sim.kajitori.io/memory-usage` (quantities for the whole pod, split evenly over its
containers); otherwise each container uses `DEFAULT_USAGE_FRACTION` of its request. A node
uses the sum of its pods plus a base for the system.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass

from kajitori.api import errors, meta, quantity
from kajitori.client import backoff, informer, rest
from kajitori.client import clock as clock_
from kajitori.sim import podlifecycle

Obj = dict

log = logging.getLogger(__name__)

GROUP, VERSION = "metrics.k8s.io", "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
CPU_USAGE_ANNOTATION = "sim.kajitori.io/cpu-usage"
MEMORY_USAGE_ANNOTATION = "sim.kajitori.io/memory-usage"
ANNOTATIONS = {"cpu": CPU_USAGE_ANNOTATION, "memory": MEMORY_USAGE_ANNOTATION}
DEFAULT_USAGE_FRACTION = 0.1
"""A container without an annotation uses a tenth of its request."""
MINIMUM_USAGE = {"cpu": 1, "memory": 1024 * 1024 * 1000}
"""Milli-units a container without a request uses: 1m cpu, 1Mi memory."""
NODE_BASE_USAGE = {"cpu": 100, "memory": 256 * 1024 * 1024 * 1000}
"""Milli-units a node's system daemons use: 100m cpu, 256Mi memory."""
APISERVICE_NAME = f"{VERSION}.{GROUP}"
APISERVICES_PATH = rest.resource_path("apiregistration.k8s.io", "v1", "apiservices")
CRDS_PATH = rest.resource_path("apiextensions.k8s.io", "v1", "customresourcedefinitions")
APPROVAL = "unapproved, simulated metrics-server of kajitori"
"""`api-approved.kubernetes.io`: what lets a CRD define a `*.k8s.io` group."""


@dataclass(frozen=True)
class MetricsSettings:
    metric_resolution: float = 15.0
    """metrics-server's `--metric-resolution`: how often usage is published, in seconds."""


def container_usage(pod: Obj) -> list[tuple[str, dict[str, int]]]:
    """(container name, {resource: milli-units}) for each container of `pod`."""
    containers = (pod.get("spec") or {}).get("containers") or []
    notes = meta.annotations(pod)
    result = []
    for container in containers:
        requests = (container.get("resources") or {}).get("requests") or {}
        usage = {}
        for resource, annotation in ANNOTATIONS.items():
            if annotation in notes:
                usage[resource] = quantity.parse(notes[annotation]).milli_value() \
                    // len(containers)
            elif resource in requests:
                usage[resource] = int(quantity.from_json(requests[resource]).milli_value()
                                      * DEFAULT_USAGE_FRACTION)
            else:
                usage[resource] = MINIMUM_USAGE[resource]
        result.append((container.get("name", ""), usage))
    return result


def _usage_field(usage: dict[str, int]) -> dict[str, str]:
    cpu = quantity.from_milli(usage["cpu"])
    memory = quantity.from_int(usage["memory"] // 1000, quantity.BINARY_SI)
    return {"cpu": str(cpu), "memory": str(memory)}


def pod_metrics(pod: Obj, *, timestamp: str, window: str) -> Obj:
    """The PodMetrics object reporting `pod`'s usage."""
    return {"apiVersion": API_VERSION, "kind": "PodMetrics",
            "metadata": {"name": meta.name(pod), "namespace": meta.namespace(pod),
                         "labels": meta.labels(pod)},
            "timestamp": timestamp, "window": window,
            "containers": [{"name": name, "usage": _usage_field(usage)}
                           for name, usage in container_usage(pod)]}


def node_metrics(node: str, pods: list[Obj], *, timestamp: str, window: str) -> Obj:
    """The NodeMetrics object of `node` running `pods`."""
    total = dict(NODE_BASE_USAGE)
    for pod in pods:
        for _, usage in container_usage(pod):
            for resource, value in usage.items():
                total[resource] += value
    return {"apiVersion": API_VERSION, "kind": "NodeMetrics",
            "metadata": {"name": node}, "timestamp": timestamp, "window": window,
            "usage": _usage_field(total)}


def definition(plural: str, kind: str, *, namespaced: bool) -> Obj:
    """The CustomResourceDefinition of one metrics resource (its objects are free-form:
    the simulator is their only writer)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}",
                     "annotations": {"api-approved.kubernetes.io": APPROVAL}},
        "spec": {"group": GROUP, "scope": "Namespaced" if namespaced else "Cluster",
                 "names": {"plural": plural, "singular": kind.lower(), "kind": kind,
                           "listKind": f"{kind}List"},
                 "versions": [{"name": VERSION, "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {
                                   "type": "object",
                                   "x-kubernetes-preserve-unknown-fields": True}}}]}}


DEFINITIONS = (definition("nodes", "NodeMetrics", namespaced=False),
               definition("pods", "PodMetrics", namespaced=True))


def apiservice(now: str) -> Obj:
    """The APIService metrics-server's manifest registers, served locally and Available."""
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": APISERVICE_NAME},
            "spec": {"group": GROUP, "version": VERSION, "groupPriorityMinimum": 100,
                     "versionPriority": 100},
            "status": {"conditions": [{"type": "Available", "status": "True",
                                       "lastTransitionTime": now, "reason": "Local",
                                       "message": "Local APIServices are always available"}]}}


def _running(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" \
        and not meta.deletion_timestamp(pod)


class MetricsReporter:
    """Publishes usage of the nodes `node_names()` returns, from the pods in `pods` (an
    informer indexed by `podlifecycle.NODE_NAME_INDEX`)."""

    def __init__(self, client: rest.RESTClient, *, pods: informer.Informer,
                 node_names: Callable[[], list[str]], settings: MetricsSettings | None = None,
                 clock: clock_.Clock | None = None) -> None:
        self._client = client
        self._pods = pods
        self._node_names = node_names
        self._settings = settings or MetricsSettings()
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self._published: dict[str, set[tuple[str, str]]] = {}

    async def run(self) -> None:
        """Install the definitions and the APIService, then publish every
        `metric_resolution` until cancelled; a failed round (the definitions not yet
        established, say) is logged and the next one tries again."""
        installed = False
        while True:
            try:
                if not installed:
                    for crd in DEFINITIONS:
                        await self._create_if_missing(CRDS_PATH, crd)
                    await self._register_apiservice()
                    installed = True
                await self.publish()
            except backoff.RETRIABLE as exc:
                log.warning("publishing metrics failed, will retry: %s", exc)
            await self._clock.sleep(self._settings.metric_resolution)

    async def _create_if_missing(self, collection: str, obj: Obj) -> Obj:
        try:
            return await self._client.create(collection, obj)
        except errors.StatusError as exc:
            if exc.code != 409:
                raise
            return await self._client.get(f"{collection}/{meta.name(obj)}")

    async def _register_apiservice(self) -> None:
        now = meta.now()
        obj = apiservice(now)
        created = await self._create_if_missing(APISERVICES_PATH, obj)
        if created.get("status") != obj["status"]:
            await self._client.update(f"{APISERVICES_PATH}/{APISERVICE_NAME}/status",
                                      {**created, "status": obj["status"]})

    async def publish(self) -> None:
        """One round: write each simulated node's and each of its running pods' metrics and
        delete the PodMetrics of pods no longer running there."""
        timestamp = meta.format_time(datetime.datetime.now(datetime.UTC))
        window = f"{self._settings.metric_resolution:g}s"
        for node in self._node_names():
            pods = [p for p in self._pods.cache.by_index(podlifecycle.NODE_NAME_INDEX, node)
                    if _running(p)]
            await self._put(rest.resource_path(GROUP, VERSION, "nodes"),
                            node_metrics(node, pods, timestamp=timestamp, window=window))
            current = set()
            for pod in pods:
                current.add((meta.namespace(pod), meta.name(pod)))
                await self._put(rest.resource_path(GROUP, VERSION, "pods",
                                                   namespace=meta.namespace(pod)),
                                pod_metrics(pod, timestamp=timestamp, window=window))
            for ns, name in self._published.get(node, set()) - current:
                with errors.ignore_not_found():
                    await self._client.delete(rest.resource_path(GROUP, VERSION, "pods",
                                                                 namespace=ns, name=name))
            self._published[node] = current

    async def _put(self, collection: str, obj: Obj) -> None:
        """Replace the object (no resourceVersion: last writer wins), creating it if absent."""
        path = f"{collection}/{meta.name(obj)}"
        try:
            await self._client.update(path, obj)
        except errors.StatusError as exc:
            if exc.code != 404:
                raise
            await self._client.create(collection, obj)
