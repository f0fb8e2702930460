"""What exists in every cluster from the first start: the system namespaces and the
`kubernetes` Service with its Endpoints and EndpointSlice.

Mirrors upstream's `pkg/controlplane/controller/systemnamespaces` and
`.../kubernetesservice`: created when missing, never overwritten, so a restart finds them as
they were.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kajitori.api import errors
from kajitori.apiserver import registry

Obj = dict[str, Any]
RegistryLookup = Callable[[str, str, str], registry.Registry | None]

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
KUBERNETES_SERVICE = "kubernetes"


async def _create_missing(lookup: RegistryLookup, group: str, version: str, plural: str,
                          namespace: str, obj: Obj) -> None:
    reg = lookup(group, version, plural)
    assert reg is not None, plural
    try:
        await reg.get(namespace, obj["metadata"]["name"])
    except errors.StatusError as exc:
        if exc.code != 404:
            raise
        await reg.create(namespace, obj)


async def ensure_defaults(lookup: RegistryLookup, *, service_ip: str, advertise_address: str,
                          port: int) -> None:
    for name in SYSTEM_NAMESPACES:
        await _create_missing(lookup, "", "v1", "namespaces", "",
                              {"metadata": {"name": name,
                                            "labels": {"kubernetes.io/metadata.name": name}}})
    labels = {"component": "apiserver", "provider": "kubernetes"}
    await _create_missing(lookup, "", "v1", "services", "default", {
        "metadata": {"name": KUBERNETES_SERVICE, "labels": labels},
        "spec": {"type": "ClusterIP", "clusterIP": service_ip, "clusterIPs": [service_ip],
                 "sessionAffinity": "None",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                            "targetPort": port}]},
    })
    await _create_missing(lookup, "", "v1", "endpoints", "default", {
        "metadata": {"name": KUBERNETES_SERVICE,
                     "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": advertise_address}],
                     "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
    })
    await _create_missing(lookup, "discovery.k8s.io", "v1", "endpointslices", "default", {
        "metadata": {"name": KUBERNETES_SERVICE,
                     "labels": {"kubernetes.io/service-name": KUBERNETES_SERVICE,
                                "endpointslice.kubernetes.io/managed-by":
                                    "endpointslice-controller.k8s.io"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [advertise_address], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    })
