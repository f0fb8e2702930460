"""What exists in every cluster from the first start: the system namespaces, the
`kubernetes` Service with its Endpoints and EndpointSlice, the system PriorityClasses, the
default StorageClass `local-path` and the `v1beta1.metrics.k8s.io` APIService.

Mirrors upstream's `pkg/controlplane/controller/systemnamespaces`, `.../kubernetesservice` and
`pkg/registry/scheduling/rest` (the bootstrap priority classes): created when missing and never
overwritten, except that the Endpoints and EndpointSlice follow this server's address and port
(upstream's endpoint reconciler), so a restart on another port still routes to it. The
`local-path` class is k3s's (its local-storage manifest): an administrator may change it, and
one deleted comes back at the next start, as k3s re-applies its manifests. The APIService
names the group this server serves itself (`kajitori.apiserver.metricsapi`): its spec and its
Available condition are brought back at each start, as the aggregator's controllers keep them.
Clusters made before that had the simulator define the group with two CustomResourceDefinitions
(marked SIMULATED_METRICS_APPROVAL): they are deleted at start, their objects with them (the
CRD finalizer of `kajitori.apiserver.customresources`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kajitori.api import errors, meta
from kajitori.apiserver import metricsapi, registry

Obj = dict[str, Any]
RegistryLookup = Callable[[str, str, str], registry.Registry | None]

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
KUBERNETES_SERVICE = "kubernetes"


SYSTEM_PRIORITY_CLASSES = (
    ("system-node-critical", 2000001000,
     "Used for system critical pods that must not be moved from their current node."),
    ("system-cluster-critical", 2000000000,
     "Used for system critical pods that must run in the cluster, but can be moved to another "
     "node if necessary."),
)

SIMULATED_METRICS_CRDS = ("nodes.metrics.k8s.io", "pods.metrics.k8s.io")
SIMULATED_METRICS_APPROVAL = "unapproved, simulated metrics-server of kajitori"
"""The `api-approved.kubernetes.io` annotation the simulator put on its metrics CRDs."""
APPROVAL_ANNOTATION = "api-approved.kubernetes.io"

LOCAL_PATH_STORAGE_CLASS = "local-path"
LOCAL_PATH_PROVISIONER = "rancher.io/local-path"
"""The provisioner `kajitori.controllers.localpath` serves: k3s's name for the same job, so that
manifests written for k3s (and its local-path-provisioner) work unchanged."""


async def _ensure(lookup: RegistryLookup, group: str, version: str, plural: str,
                  namespace: str, obj: Obj, *, reconcile: tuple[str, ...] = ()) -> None:
    """Create `obj` when missing; otherwise bring the `reconcile` top-level fields of the
    stored one back to it, leaving everything else as it is."""
    reg = lookup(group, version, plural)
    if reg is None:
        raise RuntimeError(f"built-in resource {plural}.{group} is not served")
    name = obj["metadata"]["name"]
    try:
        current = await reg.get(namespace, name)
    except errors.StatusError as exc:
        if exc.code != 404:
            raise
        await reg.create(namespace, obj)
        return
    if any(current.get(f) != obj.get(f) for f in reconcile):
        await reg.update(namespace, name, {**current, **{f: obj[f] for f in reconcile}})


async def ensure_defaults(lookup: RegistryLookup, *, service_ip: str, advertise_address: str,
                          port: int) -> None:
    for name in SYSTEM_NAMESPACES:
        await _ensure(lookup, "", "v1", "namespaces", "",
                              {"metadata": {"name": name,
                                            "labels": {"kubernetes.io/metadata.name": name}}})
    labels = {"component": "apiserver", "provider": "kubernetes"}
    await _ensure(lookup, "", "v1", "services", "default", {
        "metadata": {"name": KUBERNETES_SERVICE, "labels": labels},
        "spec": {"type": "ClusterIP", "clusterIP": service_ip, "clusterIPs": [service_ip],
                 "sessionAffinity": "None",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                            "targetPort": port}]},
    })
    await _ensure(lookup, "", "v1", "endpoints", "default", {
        "metadata": {"name": KUBERNETES_SERVICE,
                     "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": advertise_address}],
                     "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
    }, reconcile=("subsets",))
    await _ensure(lookup, "discovery.k8s.io", "v1", "endpointslices", "default", {
        "metadata": {"name": KUBERNETES_SERVICE,
                     "labels": {"kubernetes.io/service-name": KUBERNETES_SERVICE,
                                "endpointslice.kubernetes.io/managed-by":
                                    "endpointslice-controller.k8s.io"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [advertise_address], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    }, reconcile=("endpoints", "ports"))
    for name, value, description in SYSTEM_PRIORITY_CLASSES:
        await _ensure(lookup, "scheduling.k8s.io", "v1", "priorityclasses", "", {
            "metadata": {"name": name}, "value": value, "description": description,
            "preemptionPolicy": "PreemptLowerPriority"})
    await _ensure(lookup, "storage.k8s.io", "v1", "storageclasses", "", {
        "metadata": {"name": LOCAL_PATH_STORAGE_CLASS,
                     "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": LOCAL_PATH_PROVISIONER, "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer"})
    await _ensure_metrics_apiservice(lookup)
    await _remove_simulated_metrics_crds(lookup)


async def _ensure_metrics_apiservice(lookup: RegistryLookup) -> None:
    """Create the metrics APIService, or bring back its spec and, unless it is Available
    already, its status (a new lastTransitionTime only when the condition really changes)."""
    wanted = metricsapi.apiservice(meta.now())
    await _ensure(lookup, "apiregistration.k8s.io", "v1", "apiservices", "", wanted,
                  reconcile=("spec",))
    reg = lookup("apiregistration.k8s.io", "v1", "apiservices")
    if reg is None:
        raise RuntimeError("built-in resource apiservices.apiregistration.k8s.io is not served")
    current = await reg.get("", metricsapi.APISERVICE_NAME)
    available = [c for c in (current.get("status") or {}).get("conditions") or []
                 if c.get("type") == "Available" and c.get("status") == "True"]
    if not available:
        await reg.update("", metricsapi.APISERVICE_NAME,
                         {**current, "status": wanted["status"]}, subresource="status")


async def _remove_simulated_metrics_crds(lookup: RegistryLookup) -> None:
    """Delete the simulator's former metrics CRDs, only if they carry its mark (a CRD of the
    same name someone else made is theirs)."""
    reg = lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    if reg is None:
        raise RuntimeError("built-in resource customresourcedefinitions is not served")
    for name in SIMULATED_METRICS_CRDS:
        try:
            crd = await reg.get("", name)
        except errors.StatusError as exc:
            if exc.code != 404:
                raise
            continue
        if meta.annotations(crd).get(APPROVAL_ANNOTATION) == SIMULATED_METRICS_APPROVAL \
                and not meta.deletion_timestamp(crd):
            await reg.delete("", name, registry.DeleteOptions())
