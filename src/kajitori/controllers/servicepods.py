"""Which pods a Service selects, and which Services select a pod.

Mirrors the membership helpers of pkg/controller/util/endpoint/controller_utils.go
(`GetPodServiceMemberships`) and the Service predicates the Endpoints and EndpointSlice
controllers share (`helper.IsServiceIPSet`). Reads informer caches only.
"""

from __future__ import annotations

from typing import Any

from kajitori.api import labels, meta
from kajitori.client import informer

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
