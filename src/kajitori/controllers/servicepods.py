"""Which pods a Service selects, and which Services select a pod.

Mirrors the membership helpers of pkg/controller/util/endpoint/controller_utils.go
(`GetPodServiceMemberships`) and the Service predicates the Endpoints and EndpointSlice
controllers share (`helper.IsServiceIPSet`). Reads informer caches only. `ServiceQueue` is
the event handling both controllers share (their `onServiceUpdate`, `addPod`, `updatePod`,
`deletePod`).
"""

from __future__ import annotations

from typing import Any

from kajitori.api import labels, meta
from kajitori.client import informer, workqueue

Obj = dict[str, Any]

CLUSTER_IP_NONE = "None"
EXTERNAL_NAME = "ExternalName"
HEADLESS_LABEL = "service.kubernetes.io/headless"


def service_selector(service: Obj) -> dict[str, str] | None:
    """The Service's selector; None when it has none (an empty one counts as none, as the
    apiserver stores it): such a Service's endpoints are someone else's."""
    selector = (service.get("spec") or {}).get("selector")
    return selector or None


def is_managed(service: Obj) -> bool:
    """Whether the endpoint controllers manage this Service's endpoints: it has a selector
    and is no ExternalName Service."""
    return service_selector(service) is not None and \
        (service.get("spec") or {}).get("type") != EXTERNAL_NAME


def is_service_ip_set(service: Obj) -> bool:
    """A cluster IP other than `None`: not a headless Service."""
    cluster_ip = (service.get("spec") or {}).get("clusterIP") or ""
    return cluster_ip not in ("", CLUSTER_IP_NONE)


def selected_pods(pods: informer.Indexer, service: Obj) -> list[Obj]:
    """The cached pods of the Service's namespace that its selector matches."""
    selector = labels.from_set(service_selector(service))
    return [p for p in pods.list(meta.namespace(service)) if selector.matches(meta.labels(p))]


def services_for_pod(services: informer.Indexer, pod: Obj) -> set[str]:
    """Keys of the cached Services with a selector that selects `pod`."""
    keys = set()
    for service in services.list(meta.namespace(pod)):
        selector = service_selector(service)
        if selector is not None and labels.from_set(selector).matches(meta.labels(pod)):
            keys.add(informer.meta_namespace_key(service))
    return keys


def services_for_pod_change(services: informer.Indexer, old: Obj, new: Obj) -> set[str]:
    """Keys to sync after a pod update: the Services selecting it now, and before when its
    labels changed; none for a resync that changed nothing."""
    if meta.resource_version(old) == meta.resource_version(new):
        return set()
    keys = services_for_pod(services, new)
    if meta.labels(old) != meta.labels(new):
        keys |= services_for_pod(services, old)
    return keys


class ServiceQueue:
    """Base of the Endpoints and EndpointSlice controllers: `queue` of Service keys, fed by
    handlers on `services` (a Service added, changed or deleted queues itself) and on `pods`
    (a pod added, changed or deleted queues the Services that select it, and on a label change
    those that selected it). Registered in that order, so a seeded cache queues its Services
    first."""

    def __init__(self, *, name: str, services: informer.Informer,
                 pods: informer.Informer) -> None:
        """`name` is the work queue's (upstream's: `endpoint`, `endpoint_slice`)."""
        self._services = services
        self.queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(name=name)
        services.add_handlers(on_add=self._enqueue, on_update=lambda _o, new: self._enqueue(new),
                              on_delete=self._enqueue)
        pods.add_handlers(on_add=self._pod_added, on_update=self._pod_updated,
                          on_delete=self._pod_deleted)

    def _enqueue(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        self.queue.add(informer.meta_namespace_key(obj))

    def _pod_added(self, pod: Obj) -> None:
        for key in services_for_pod(self._services.cache, pod):
            self.queue.add(key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        for key in services_for_pod_change(self._services.cache, old, new):
            self.queue.add(key)

    def _pod_deleted(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        self._pod_added(informer.deleted_object(obj))
