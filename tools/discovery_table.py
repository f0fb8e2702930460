"""Build src/kajitori/api/data/discovery.json: the resources a v1.33 kube-apiserver serves by
default, as aggregated discovery (apidiscovery.k8s.io/v2) lists them.

Usage: python tools/discovery_table.py [OUT.json]

The table below is transcribed from upstream's discovery documents of release 1.33
(kubernetes/kubernetes `api/discovery/aggregated_v2.json` for `/apis`, `api/discovery/api__v1.json`
for `/api`), keeping only what a default server enables: GA group-versions, plus the beta
versions of resource.k8s.io, which this project serves on purpose (a v1.33 server leaves them
off). Alpha and default-off beta versions are left out: admissionregistration v1beta1/v1alpha1,
certificates v1beta1/v1alpha1, coordination v1beta1/v1alpha2, networking v1beta1, storage
v1beta1/v1alpha1, resource v1alpha3, internal.apiserver.k8s.io, storagemigration.k8s.io.
metrics.k8s.io is served by the metrics part, not from this table.

Groups are in upstream's discovery order (group priority from kube-apiserver's
`apiVersionPriorities`, ties by name) and each group's versions preferred first; resources and
subresources are sorted by name, as upstream's discovery sorts them. Every responseKind carries
its group and version explicitly, where upstream leaves both empty for a kind of the listed
group-version; clients read the two forms alike.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "src/kajitori/api/data/discovery.json"

ALL = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CREATE = ("create",)
STATUS_VERBS = ("get", "patch", "update")
CONNECT_VERBS = ("create", "get")
PROXY_VERBS = ("create", "delete", "get", "patch", "update")

# (subresource, verbs, response kind as (group, version, kind) or None for the parent's kind)
Sub = tuple[str, tuple[str, ...], tuple[str, str, str] | None]
SCALE: Sub = ("scale", STATUS_VERBS, ("autoscaling", "v1", "Scale"))
STATUS: Sub = ("status", STATUS_VERBS, None)


def res(plural: str, kind: str, *, cluster: bool = False, singular: str = "",
        short: tuple[str, ...] = (), categories: tuple[str, ...] = (),
        verbs: tuple[str, ...] = ALL, subs: tuple[Sub, ...] = ()) -> dict[str, Any]:
    """One resource row; singular defaults to the lower-cased kind, as upstream's is."""
    return {"resource": plural, "kind": kind, "scope": "Cluster" if cluster else "Namespaced",
            "singular": singular or kind.lower(), "short": short, "categories": categories,
            "verbs": verbs, "subs": subs}


def own(kind: str, name: str, verbs: tuple[str, ...]) -> Sub:
    return (name, verbs, ("", "", kind))  # group/version filled with the parent's


DRA = [
    res("deviceclasses", "DeviceClass", cluster=True),
    res("resourceclaims", "ResourceClaim", subs=(STATUS,)),
    res("resourceclaimtemplates", "ResourceClaimTemplate"),
    res("resourceslices", "ResourceSlice", cluster=True),
]
HPA = [res("horizontalpodautoscalers", "HorizontalPodAutoscaler", short=("hpa",),
           categories=("all",), subs=(STATUS,))]
API_EXTENSIONS = ("api-extensions",)

GROUPS: list[tuple[str, list[tuple[str, list[dict[str, Any]]]]]] = [
    ("", [("v1", [
        res("bindings", "Binding", verbs=CREATE),
        res("componentstatuses", "ComponentStatus", cluster=True, short=("cs",),
            verbs=("get", "list")),
        res("configmaps", "ConfigMap", short=("cm",)),
        res("endpoints", "Endpoints", short=("ep",)),
        res("events", "Event", short=("ev",)),
        res("limitranges", "LimitRange", short=("limits",)),
        res("namespaces", "Namespace", cluster=True, short=("ns",),
            verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
            subs=(own("Namespace", "finalize", ("update",)), STATUS)),
        res("nodes", "Node", cluster=True, short=("no",),
            subs=(own("NodeProxyOptions", "proxy", PROXY_VERBS), STATUS)),
        res("persistentvolumeclaims", "PersistentVolumeClaim", short=("pvc",), subs=(STATUS,)),
        res("persistentvolumes", "PersistentVolume", cluster=True, short=("pv",),
            subs=(STATUS,)),
        res("pods", "Pod", short=("po",), categories=("all",), subs=(
            own("PodAttachOptions", "attach", CONNECT_VERBS),
            own("Binding", "binding", CREATE),
            own("Pod", "ephemeralcontainers", STATUS_VERBS),
            ("eviction", CREATE, ("policy", "v1", "Eviction")),
            own("PodExecOptions", "exec", CONNECT_VERBS),
            own("Pod", "log", ("get",)),
            own("PodPortForwardOptions", "portforward", CONNECT_VERBS),
            own("PodProxyOptions", "proxy", PROXY_VERBS),
            own("Pod", "resize", STATUS_VERBS),  # InPlacePodVerticalScaling, beta and on in 1.33
            STATUS)),
        res("podtemplates", "PodTemplate"),
        res("replicationcontrollers", "ReplicationController", short=("rc",),
            categories=("all",), subs=(SCALE, STATUS)),
        res("resourcequotas", "ResourceQuota", short=("quota",), subs=(STATUS,)),
        res("secrets", "Secret"),
        res("serviceaccounts", "ServiceAccount", short=("sa",),
            subs=(("token", CREATE, ("authentication.k8s.io", "v1", "TokenRequest")),)),
        res("services", "Service", short=("svc",), categories=("all",),
            subs=(own("ServiceProxyOptions", "proxy", PROXY_VERBS), STATUS)),
    ])]),
    ("apiregistration.k8s.io", [("v1", [
        res("apiservices", "APIService", cluster=True, categories=API_EXTENSIONS,
            subs=(STATUS,)),
    ])]),
    ("apps", [("v1", [
        res("controllerrevisions", "ControllerRevision"),
        res("daemonsets", "DaemonSet", short=("ds",), categories=("all",), subs=(STATUS,)),
        res("deployments", "Deployment", short=("deploy",), categories=("all",),
            subs=(SCALE, STATUS)),
        res("replicasets", "ReplicaSet", short=("rs",), categories=("all",),
            subs=(SCALE, STATUS)),
        res("statefulsets", "StatefulSet", short=("sts",), categories=("all",),
            subs=(SCALE, STATUS)),
    ])]),
    ("events.k8s.io", [("v1", [res("events", "Event", short=("ev",))])]),
    ("authentication.k8s.io", [("v1", [
        res("selfsubjectreviews", "SelfSubjectReview", cluster=True, verbs=CREATE),
        res("tokenreviews", "TokenReview", cluster=True, verbs=CREATE),
    ])]),
    ("authorization.k8s.io", [("v1", [
        res("localsubjectaccessreviews", "LocalSubjectAccessReview", verbs=CREATE),
        res("selfsubjectaccessreviews", "SelfSubjectAccessReview", cluster=True, verbs=CREATE),
        res("selfsubjectrulesreviews", "SelfSubjectRulesReview", cluster=True, verbs=CREATE),
        res("subjectaccessreviews", "SubjectAccessReview", cluster=True, verbs=CREATE),
    ])]),
    ("autoscaling", [("v2", HPA), ("v1", HPA)]),
    ("batch", [("v1", [
        res("cronjobs", "CronJob", short=("cj",), categories=("all",), subs=(STATUS,)),
        res("jobs", "Job", categories=("all",), subs=(STATUS,)),
    ])]),
    ("certificates.k8s.io", [("v1", [
        res("certificatesigningrequests", "CertificateSigningRequest", cluster=True,
            short=("csr",), subs=(own("CertificateSigningRequest", "approval", STATUS_VERBS),
                                  STATUS)),
    ])]),
    ("networking.k8s.io", [("v1", [
        res("ingressclasses", "IngressClass", cluster=True),
        res("ingresses", "Ingress", short=("ing",), subs=(STATUS,)),
        res("ipaddresses", "IPAddress", cluster=True, short=("ip",)),
        res("networkpolicies", "NetworkPolicy", short=("netpol",)),
        res("servicecidrs", "ServiceCIDR", cluster=True, subs=(STATUS,)),
    ])]),
    ("policy", [("v1", [
        res("poddisruptionbudgets", "PodDisruptionBudget", short=("pdb",), subs=(STATUS,)),
    ])]),
    ("rbac.authorization.k8s.io", [("v1", [
        res("clusterrolebindings", "ClusterRoleBinding", cluster=True),
        res("clusterroles", "ClusterRole", cluster=True),
        res("rolebindings", "RoleBinding"),
        res("roles", "Role"),
    ])]),
    ("storage.k8s.io", [("v1", [
        res("csidrivers", "CSIDriver", cluster=True),
        res("csinodes", "CSINode", cluster=True),
        res("csistoragecapacities", "CSIStorageCapacity"),
        res("storageclasses", "StorageClass", cluster=True, short=("sc",)),
        res("volumeattachments", "VolumeAttachment", cluster=True, subs=(STATUS,)),
    ])]),
    ("admissionregistration.k8s.io", [("v1", [
        res("mutatingwebhookconfigurations", "MutatingWebhookConfiguration", cluster=True,
            categories=API_EXTENSIONS),
        res("validatingadmissionpolicies", "ValidatingAdmissionPolicy", cluster=True,
            categories=API_EXTENSIONS, subs=(STATUS,)),
        res("validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding",
            cluster=True, categories=API_EXTENSIONS),
        res("validatingwebhookconfigurations", "ValidatingWebhookConfiguration", cluster=True,
            categories=API_EXTENSIONS),
    ])]),
    ("apiextensions.k8s.io", [("v1", [
        res("customresourcedefinitions", "CustomResourceDefinition", cluster=True,
            short=("crd", "crds"), categories=API_EXTENSIONS, subs=(STATUS,)),
    ])]),
    ("scheduling.k8s.io", [("v1", [
        res("priorityclasses", "PriorityClass", cluster=True, short=("pc",)),
    ])]),
    ("coordination.k8s.io", [("v1", [res("leases", "Lease")])]),
    ("node.k8s.io", [("v1", [res("runtimeclasses", "RuntimeClass", cluster=True)])]),
    ("discovery.k8s.io", [("v1", [res("endpointslices", "EndpointSlice")])]),
    # Beta, off by default upstream; served here on purpose. Same priority as discovery.k8s.io
    # (16200), so after it by name; v1beta2 (version priority 15) before v1beta1 (9).
    ("resource.k8s.io", [("v1beta2", DRA), ("v1beta1", DRA)]),
    ("flowcontrol.apiserver.k8s.io", [("v1", [
        res("flowschemas", "FlowSchema", cluster=True, subs=(STATUS,)),
        res("prioritylevelconfigurations", "PriorityLevelConfiguration", cluster=True,
            subs=(STATUS,)),
    ])]),
]


def response_kind(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "version": version, "kind": kind}


def resource_document(group: str, version: str, row: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "resource": row["resource"],
        "responseKind": response_kind(group, version, row["kind"]),
        "scope": row["scope"],
        "singularResource": row["singular"],
        "verbs": sorted(row["verbs"]),
    }
    if row["short"]:
        doc["shortNames"] = list(row["short"])
    if row["categories"]:
        doc["categories"] = list(row["categories"])
    subs = []
    for name, verbs, kind in sorted(row["subs"], key=lambda sub: sub[0]):
        sub_group, sub_version, sub_kind = kind or ("", "", row["kind"])
        if not sub_version:
            sub_group, sub_version = group, version
        subs.append({"subresource": name,
                     "responseKind": response_kind(sub_group, sub_version, sub_kind),
                     "verbs": sorted(verbs)})
    if subs:
        doc["subresources"] = subs
    return doc


def document() -> dict[str, Any]:
    items = []
    for group, versions in GROUPS:
        items.append({"metadata": {"name": group}, "versions": [
            {"version": version, "freshness": "Current",
             "resources": [resource_document(group, version, row)
                           for row in sorted(rows, key=lambda row: row["resource"])]}
            for version, rows in versions]})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
            "metadata": {}, "items": items}


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    out.write_text(json.dumps(document(), indent=1) + "\n")


if __name__ == "__main__":
    main()
