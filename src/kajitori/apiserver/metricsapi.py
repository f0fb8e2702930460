"""The resource metrics API, `metrics.k8s.io/v1beta1`, served by the API server itself: what
`kubectl top` and the HorizontalPodAutoscaler read.

Mirrors kubernetes-sigs/metrics-server `pkg/api` (`node.go`, `pod.go`, `table.go`,
`install.go`): resources `nodes` (NodeMetrics, cluster-scoped) and `pods` (PodMetrics,
namespaced), verbs get and list only. The objects are made at each request from the Nodes and
Pods in storage (label and field selectors apply to them) joined with the latest points of
`kajitori.apiserver.metricsscraper`; an object without a point is left out of lists and is
NotFound by name, worded as metrics-server's (its listers' `node "x"` / `pods "x"` for an
object that does not exist, `nodemetrics.metrics.k8s.io "x"` / `podmetrics.metrics.k8s.io
"ns/x"` for one without metrics). Tables (`kubectl get podmetrics`) have metrics-server's
columns.

Where upstream runs metrics-server behind the aggregation layer, this server lists the group in
discovery itself (`kajitori.apiserver.discovery`, after the built-in and custom groups, as the
aggregator orders an APIService of groupPriorityMinimum 100) and registers the
`v1beta1.metrics.k8s.io` APIService at bootstrap, Local and Available, so `kubectl get
apiservices` shows it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

from aiohttp import web

from kajitori.api import catalogue, errors, meta, printers, protobuf, quantity
from kajitori.api.printers import printer
from kajitori.apiserver import metricsscraper as scraper
from kajitori.apiserver import negotiation, registry, requestinfo, responses

Obj = dict[str, Any]

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
NODE_METRICS = "NodeMetrics"
POD_METRICS = "PodMetrics"
VERBS = ("get", "list")
NODES = catalogue.Resource(
    group=GROUP, version=VERSION, plural="nodes", kind=NODE_METRICS, namespaced=False,
    singular="", verbs=VERBS, short_names=(), categories=(), subresources=())
PODS = catalogue.Resource(
    group=GROUP, version=VERSION, plural="pods", kind=POD_METRICS, namespaced=True,
    singular="", verbs=VERBS, short_names=(), categories=(), subresources=())
GROUP_VERSIONS = (catalogue.GroupVersion(GROUP, VERSION, (NODES, PODS)),)
"""What discovery lists for the group (metrics-server's singular names are empty)."""
NODE_METRICS_RESOURCE = "nodemetrics.metrics.k8s.io"
POD_METRICS_RESOURCE = "podmetrics.metrics.k8s.io"
NODE_LISTER_RESOURCE = "node"
"""client-go's node lister names the resource in the singular in its NotFound."""
POD_LISTER_RESOURCE = "pods"

APISERVICE_NAME = f"{VERSION}.{GROUP}"
GROUP_PRIORITY_MINIMUM = 100
VERSION_PRIORITY = 100
"""metrics-server's APIService priorities (its manifest)."""
AVAILABLE_REASON = "Local"
AVAILABLE_MESSAGE = "Local APIServices are always available"
"""The aggregator's words for an APIService served by the API server itself."""


class MetricsSource(Protocol):
    """Latest usage points (`metricsscraper.MetricsScraper`)."""

    metric_resolution: float

    def node(self, name: str) -> scraper.NodePoint | None: ...

    def pod(self, namespace: str, name: str) -> scraper.PodPoint | None: ...


def apiservice(now: str) -> Obj:
    """The `v1beta1.metrics.k8s.io` APIService: served locally (no `service`) and Available
    since `now`."""
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": APISERVICE_NAME},
            "spec": {"group": GROUP, "version": VERSION,
                     "groupPriorityMinimum": GROUP_PRIORITY_MINIMUM,
                     "versionPriority": VERSION_PRIORITY},
            "status": {"conditions": [{"type": "Available", "status": "True",
                                       "lastTransitionTime": now, "reason": AVAILABLE_REASON,
                                       "message": AVAILABLE_MESSAGE}]}}


def cpu_quantity(nanocores: int) -> quantity.Quantity:
    """Nanocores as metrics-server prints them (`1234567n`; whole millicores fold: `5m`)."""
    return quantity.Quantity(Fraction(nanocores, 10**9))


def memory_quantity(size: int) -> quantity.Quantity:
    """Bytes in the binary format (`153600Ki`), as metrics-server prints them."""
    return quantity.from_int(size, quantity.BINARY_SI)


def usage_field(usage: scraper.Usage) -> Obj:
    return {"cpu": str(cpu_quantity(usage.cpu_nanocores)),
            "memory": str(memory_quantity(usage.memory_bytes))}


def _metadata(obj: Obj, *, now: str) -> Obj:
    """metrics-server's metadata: name, namespace, creation time now, the object's labels."""
    md: Obj = {"name": meta.name(obj)}
    if meta.namespace(obj):
        md["namespace"] = meta.namespace(obj)
    md["creationTimestamp"] = now
    if meta.labels(obj):
        md["labels"] = dict(meta.labels(obj))
    return md


def node_metrics(node: Obj, point: scraper.NodePoint, *, window: float, now: str) -> Obj:
    """The NodeMetrics of `node` at `point`."""
    return {"kind": NODE_METRICS, "apiVersion": API_VERSION,
            "metadata": _metadata(node, now=now), "timestamp": point.timestamp,
            "window": protobuf.go_duration(round(window * 1e9)), "usage": usage_field(point.usage)}


def pod_metrics(pod: Obj, point: scraper.PodPoint, *, window: float, now: str) -> Obj:
    """The PodMetrics of `pod` at `point`."""
    return {"kind": POD_METRICS, "apiVersion": API_VERSION,
            "metadata": _metadata(pod, now=now), "timestamp": point.timestamp,
            "window": protobuf.go_duration(round(window * 1e9)),
            "containers": [{"name": name, "usage": usage_field(usage)}
                           for name, usage in point.containers]}


def _total_usage(obj: Obj) -> tuple[quantity.Quantity, quantity.Quantity]:
    """(cpu, memory) of a NodeMetrics, or summed over a PodMetrics' containers."""
    usages = [obj["usage"]] if "usage" in obj else [c["usage"] for c in obj["containers"]]
    cpu, memory = quantity.from_int(0), quantity.from_int(0, quantity.BINARY_SI)
    for usage in usages:
        cpu += quantity.parse(usage["cpu"])
        memory += quantity.parse(usage["memory"])
    return cpu, memory


def _cells(obj: Obj, _now: datetime.datetime) -> list[Any]:
    cpu, memory = _total_usage(obj)
    return [meta.name(obj), str(cpu), str(memory), obj["window"]]


TABLE = printer.Printer(
    columns=(printer.Column("Name", "Name of the resource", format="name"),
             printer.Column("cpu", "", format="quantity"),
             printer.Column("memory", "", format="quantity"),
             printer.Column("Window", "", format="duration")),
    cells=_cells)
"""metrics-server's table: name, one column per resource (sorted), window."""


@dataclass
class MetricsAPI:
    """Serves `/apis/metrics.k8s.io/v1beta1/...` from `source` and the `nodes` and `pods`
    registries. Read-only; safe to call concurrently on the server's loop."""

    source: MetricsSource
    nodes: registry.Registry
    pods: registry.Registry

    async def serve(self, request: web.Request, info: requestinfo.RequestInfo
                    ) -> web.Response:
        """Answer one authorized resource request of the group. Unknown versions, resources
        and subresources are 404, a namespaced path to `nodes` and a pod named outside a
        namespace too; verbs other than get and list are 405 MethodNotAllowed (metrics-server
        serves no watch)."""
        resource = {"nodes": NODES, "pods": PODS}.get(info.resource)
        if info.version != VERSION or resource is None or info.subresource \
                or (info.namespace and not resource.namespaced) \
                or (resource.namespaced and not info.namespace and info.verb == "get"):
            raise errors.not_found_path()
        if info.verb not in VERBS:
            raise errors.method_not_allowed()
        now = datetime.datetime.now(datetime.UTC)
        stamp = meta.format_time(now)
        rendering = negotiation.rendering(request.headers.get("Accept", ""))
        include_object = request.query.get("includeObject", "") or printers.INCLUDE_METADATA
        if info.verb == "get":
            if resource is NODES:
                obj = await self.get_node(info.name, now=stamp)
            else:
                obj = await self.get_pod(info.namespace, info.name, now=stamp)
            return responses.json_response(responses.render_object(
                obj, rendering, group=GROUP, resource=resource.plural,
                include_object=include_object, now=now, printer=TABLE))
        options = registry.ListOptions(
            label_selector=request.query.get("labelSelector", ""),
            field_selector=request.query.get("fieldSelector", ""))
        if resource is NODES:
            items = await self.list_nodes(options, now=stamp)
        else:
            items = await self.list_pods(info.namespace, options, now=stamp)
        listed = {"kind": f"{resource.kind}List", "apiVersion": API_VERSION, "metadata": {},
                  "items": items}
        return responses.json_response(responses.render_list(
            listed, rendering, group=GROUP, resource=resource.plural,
            include_object=include_object, now=now, printer=TABLE))

    async def get_node(self, name: str, *, now: str) -> Obj:
        """The NodeMetrics of node `name`. Raises NotFound `node "x"` for no such node,
        `nodemetrics.metrics.k8s.io "x"` for one without a point."""
        try:
            node = await self.nodes.get("", name)
        except errors.StatusError as exc:
            if exc.code == 404:
                raise errors.not_found(NODE_LISTER_RESOURCE, name) from exc
            raise
        point = self.source.node(name)
        if point is None:
            raise errors.not_found(NODE_METRICS_RESOURCE, name)
        return node_metrics(node, point, window=self.source.metric_resolution, now=now)

    async def get_pod(self, namespace: str, name: str, *, now: str) -> Obj:
        """The PodMetrics of pod `namespace/name`. Raises NotFound `pods "x"` for no such
        pod, `podmetrics.metrics.k8s.io "ns/x"` for one without a point."""
        try:
            pod = await self.pods.get(namespace, name)
        except errors.StatusError as exc:
            if exc.code == 404:
                raise errors.not_found(POD_LISTER_RESOURCE, name) from exc
            raise
        point = self.source.pod(namespace, name)
        if point is None:
            raise errors.not_found(POD_METRICS_RESOURCE, f"{namespace}/{name}")
        return pod_metrics(pod, point, window=self.source.metric_resolution, now=now)

    async def list_nodes(self, options: registry.ListOptions, *, now: str) -> list[Obj]:
        """NodeMetrics of the selected nodes that have a point, by name."""
        nodes = (await self.nodes.list("", options))["items"]
        items = []
        for node in nodes:
            point = self.source.node(meta.name(node))
            if point is not None:
                items.append(node_metrics(node, point, window=self.source.metric_resolution,
                                          now=now))
        return sorted(items, key=meta.name)

    async def list_pods(self, namespace: str, options: registry.ListOptions, *,
                        now: str) -> list[Obj]:
        """PodMetrics of the selected pods of `namespace` (every namespace for "") that have
        a point, by namespace and name."""
        pods = (await self.pods.list(namespace, options))["items"]
        items = []
        for pod in pods:
            point = self.source.pod(meta.namespace(pod), meta.name(pod))
            if point is not None:
                items.append(pod_metrics(pod, point, window=self.source.metric_resolution,
                                         now=now))
        return sorted(items, key=lambda m: (meta.namespace(m), meta.name(m)))
