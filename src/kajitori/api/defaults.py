"""Defaulting of built-in objects, so stored objects read as on a v1.33 cluster.

Mirrors pkg/apis/<group>/v1/defaults.go together with the generated zz_generated.defaults.go
that walks each kind and applies the per-type functions to every nested value (every container
of every pod template, every volume, probe and port). Defaults of v1.33's default feature
gates are applied; alpha-gated ones are not. Two effects of upstream's Go round trip are
reproduced because users see them: quantities in resource lists are printed canonically
(`0.5` → `500m`), and embedded ObjectMeta (templates) carries `creationTimestamp: null`.

Not here: values the registry strategies set (pod phase, generation, uid, a Service's
clusterIP, a Job's generated selector) and admission (service account, tolerations, priority).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kajitori.api import quantity

Obj = dict[str, Any]

DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30
DEFAULT_SCHEDULER_NAME = "default-scheduler"
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_VOLUME_MODE = 0o644  # 420: configMap, secret, downwardAPI, projected
DEFAULT_TOKEN_EXPIRATION_SECONDS = 3600
DEFAULT_CLIENT_IP_AFFINITY_SECONDS = 10800
DEFAULT_REVISION_HISTORY_LIMIT = 10
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
DEFAULT_BACKOFF_LIMIT = 6
DEFAULT_CPU_UTILIZATION = 80
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

_TAG_RE = re.compile(r":([\w][\w.-]{0,127})$")


# --- pods and their parts ---------------------------------------------------------------------

def _image_pull_policy(image: str) -> str:
    """Always for `:latest` or an untagged, undigested image; IfNotPresent otherwise."""
    if "@" in image:
        name = image.split("@", 1)[0]
        tag = m.group(1) if (m := _TAG_RE.search(name.rsplit("/", 1)[-1])) else ""
        return "Always" if tag == "latest" else "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    m = _TAG_RE.search(last)
    tag = m.group(1) if m else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _http_get(action: Obj | None) -> None:
    if action is not None:
        action.setdefault("path", "/")
        action.setdefault("scheme", "HTTP")


def _probe(probe: Obj | None) -> None:
    if probe is None:
        return
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    _http_get(probe.get("httpGet"))


def _field_ref(ref: Obj | None) -> None:
    if ref is not None:
        ref.setdefault("apiVersion", "v1")


def _resource_field_ref(ref: Obj | None) -> None:
    if ref is not None:
        ref["divisor"] = _canonical(ref.get("divisor", "0"))


def _canonical(value: Any) -> Any:
    """A quantity as upstream prints it back; unparsable text is left for validation."""
    try:
        return str(quantity.from_json(value))
    except quantity.QuantityError:
        return value


def _resource_list(values: Obj | None) -> None:
    for key, value in (values or {}).items():
        values[key] = _canonical(value)  # type: ignore[index]


def _container(ctr: Obj) -> None:
    if not ctr.get("imagePullPolicy"):
        ctr["imagePullPolicy"] = _image_pull_policy(ctr.get("image") or "")
    ctr.setdefault("terminationMessagePath", TERMINATION_MESSAGE_PATH)
    ctr.setdefault("terminationMessagePolicy", "File")
    for port in ctr.get("ports") or []:
        port.setdefault("protocol", "TCP")
    resources = ctr.setdefault("resources", {})
    _resource_list(resources.get("limits"))
    _resource_list(resources.get("requests"))
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(ctr.get(key))
    for hook in ("postStart", "preStop"):
        _http_get(((ctr.get("lifecycle") or {}).get(hook) or {}).get("httpGet"))
    for var in ctr.get("env") or []:
        source = var.get("valueFrom") or {}
        _field_ref(source.get("fieldRef"))
        _resource_field_ref(source.get("resourceFieldRef"))


_VOLUME_SOURCES = ("hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore",
                   "gitRepo", "secret", "nfs", "iscsi", "glusterfs", "persistentVolumeClaim",
                   "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
                   "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk",
                   "photonPersistentDisk", "projected", "portworxVolume", "scaleIO",
                   "storageos", "csi", "ephemeral", "image")


def _volume(vol: Obj) -> None:
    if not any(vol.get(k) is not None for k in _VOLUME_SOURCES):
        vol["emptyDir"] = {}
    for key in ("secret", "configMap", "downwardAPI", "projected"):
        if vol.get(key) is not None:
            vol[key].setdefault("defaultMode", DEFAULT_VOLUME_MODE)
    if vol.get("hostPath") is not None:
        vol["hostPath"].setdefault("type", "")
    if vol.get("emptyDir") is not None and "sizeLimit" in vol["emptyDir"]:
        vol["emptyDir"]["sizeLimit"] = _canonical(vol["emptyDir"]["sizeLimit"])
    for item in (vol.get("downwardAPI") or {}).get("items") or []:
        _field_ref(item.get("fieldRef"))
        _resource_field_ref(item.get("resourceFieldRef"))
    for source in (vol.get("projected") or {}).get("sources") or []:
        for item in (source.get("downwardAPI") or {}).get("items") or []:
            _field_ref(item.get("fieldRef"))
            _resource_field_ref(item.get("resourceFieldRef"))
        token = source.get("serviceAccountToken")
        if token is not None:
            token.setdefault("expirationSeconds", DEFAULT_TOKEN_EXPIRATION_SECONDS)
    claim = ((vol.get("ephemeral") or {}).get("volumeClaimTemplate") or {})
    if claim:
        _pvc_spec(claim.setdefault("spec", {}))
        claim.setdefault("metadata", {}).setdefault("creationTimestamp", None)


def _pod_spec(spec: Obj) -> None:
    """Upstream SetDefaults_PodSpec plus everything the generated defaulter reaches."""
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("securityContext", {})
    spec.setdefault("terminationGracePeriodSeconds", DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS)
    spec.setdefault("schedulerName", DEFAULT_SCHEDULER_NAME)
    for vol in spec.get("volumes") or []:
        _volume(vol)
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for ctr in spec.get(key) or []:
            _container(ctr)
    _resource_list(spec.get("overhead"))


def _pod_template(template: Obj | None) -> None:
    if template is None:
        return
    template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    _pod_spec(template.setdefault("spec", {}))


def _requests_from_limits(containers: list[Obj]) -> None:
    for ctr in containers:
        resources = ctr.get("resources") or {}
        if resources.get("limits") is not None:
            requests = resources.setdefault("requests", {})
            for key, value in resources["limits"].items():
                requests.setdefault(key, value)


def _pod(obj: Obj) -> None:
    """Upstream SetDefaults_Pod: requests default to limits; service links on; host-network
    pods publish their container ports on the host."""
    spec = obj.setdefault("spec", {})
    _requests_from_limits(spec.get("containers") or [])
    _requests_from_limits(spec.get("initContainers") or [])
    spec.setdefault("enableServiceLinks", True)
    if spec.get("hostNetwork"):
        for key in ("containers", "initContainers"):
            for ctr in spec.get(key) or []:
                for port in ctr.get("ports") or []:
                    if not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort", 0)
    _pod_spec(spec)


# --- other core kinds ---------------------------------------------------------------------------

def _service(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        client = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
        if client.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {
                "clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_AFFINITY_SECONDS}}
    spec.setdefault("type", "ClusterIP")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port", 0)
    kind = spec["type"]
    externally = kind in ("LoadBalancer", "NodePort") or (
        kind == "ClusterIP" and bool(spec.get("externalIPs")))
    if externally:
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if kind in ("NodePort", "LoadBalancer", "ClusterIP"):
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    if kind != "ExternalName":
        # Set by upstream's Service REST storage before allocation, not by defaults.go;
        # single-stack IPv4 is what a default cluster answers.
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("ipFamilies", ["IPv4"])


def _namespace(obj: Obj) -> None:
    name = (obj.get("metadata") or {}).get("name")
    if name:
        obj["metadata"].setdefault("labels", {})[NAMESPACE_NAME_LABEL] = name
    # spec.finalizers is upstream's namespace strategy, kept here so a stored object is whole.
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj.setdefault("status", {}).setdefault("phase", "Active")


def _pvc_spec(spec: Obj) -> None:
    spec.setdefault("volumeMode", "Filesystem")
    resources = spec.get("resources") or {}
    _resource_list(resources.get("requests"))
    _resource_list(resources.get("limits"))


def _pvc(obj: Obj) -> None:
    _pvc_spec(obj.setdefault("spec", {}))
    obj.setdefault("status", {}).setdefault("phase", "Pending")


def _pv(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")
    _resource_list(spec.get("capacity"))
    if spec.get("hostPath") is not None:
        spec["hostPath"].setdefault("type", "")
    obj.setdefault("status", {}).setdefault("phase", "Pending")


def _replication_controller(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    template = spec.get("template")
    template_labels = ((template or {}).get("metadata") or {}).get("labels")
    if template_labels is not None:
        if not spec.get("selector"):
            spec["selector"] = dict(template_labels)
        md = obj.setdefault("metadata", {})
        if not md.get("labels"):
            md["labels"] = dict(template_labels)
    spec.setdefault("replicas", 1)
    _pod_template(template)


def _limit_range(obj: Obj) -> None:
    for item in (obj.get("spec") or {}).get("limits") or []:
        for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            _resource_list(item.get(key))
        if item.get("type") != "Container":
            continue
        default = item.setdefault("default", {})
        request = item.setdefault("defaultRequest", {})
        for key, value in (item.get("max") or {}).items():
            default.setdefault(key, value)
        for key, value in default.items():
            request.setdefault(key, value)
        for key, value in (item.get("min") or {}).items():
            request.setdefault(key, value)
        for key in ("default", "defaultRequest"):
            if not item[key]:
                del item[key]


def _endpoints(obj: Obj) -> None:
    for subset in obj.get("subsets") or []:
        for port in subset.get("ports") or []:
            port.setdefault("protocol", "TCP")


def _node(obj: Obj) -> None:
    status = obj.get("status") or {}
    _resource_list(status.get("capacity"))
    _resource_list(status.get("allocatable"))
    if status.get("allocatable") is None and status.get("capacity") is not None:
        status["allocatable"] = dict(status["capacity"])


def _resource_quota(obj: Obj) -> None:
    _resource_list((obj.get("spec") or {}).get("hard"))


# --- apps, batch ---------------------------------------------------------------------------------

def _deployment(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.get("rollingUpdate") or {}
        strategy["rollingUpdate"] = rolling
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", DEFAULT_REVISION_HISTORY_LIMIT)
    spec.setdefault("progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE_SECONDS)
    _pod_template(spec.setdefault("template", {}))


def _replica_set(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    _pod_template(spec.setdefault("template", {}))


def _daemon_set(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    strategy = spec.setdefault("updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.get("rollingUpdate") or {}
        strategy["rollingUpdate"] = rolling
        rolling.setdefault("maxUnavailable", 1)
        rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", DEFAULT_REVISION_HISTORY_LIMIT)
    _pod_template(spec.setdefault("template", {}))


def _stateful_set(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = spec.setdefault("updateStrategy", {})
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        strategy.setdefault("rollingUpdate", {})
    if strategy["type"] == "RollingUpdate" and strategy.get("rollingUpdate") is not None:
        strategy["rollingUpdate"].setdefault("partition", 0)
    retention = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
    retention.setdefault("whenDeleted", "Retain")
    retention.setdefault("whenScaled", "Retain")
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", DEFAULT_REVISION_HISTORY_LIMIT)
    _pod_template(spec.setdefault("template", {}))
    for claim in spec.get("volumeClaimTemplates") or []:
        claim.setdefault("metadata", {}).setdefault("creationTimestamp", None)
        _pvc(claim)


def _job(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        per_index = spec.get("backoffLimitPerIndex") is not None
        spec["backoffLimit"] = 2**31 - 1 if per_index else DEFAULT_BACKOFF_LIMIT
    template = spec.setdefault("template", {})
    template_labels = (template.get("metadata") or {}).get("labels")
    md = obj.setdefault("metadata", {})
    if template_labels and not md.get("labels"):
        md["labels"] = dict(template_labels)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    failure_policy = spec.get("podFailurePolicy")
    for rule in (failure_policy or {}).get("rules") or []:
        for condition in rule.get("onPodConditions") or []:
            condition.setdefault("status", "True")
    spec.setdefault("podReplacementPolicy",
                    "Failed" if failure_policy is not None else "TerminatingOrFailed")
    _pod_template(template)


def _cron_job(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_template = spec.setdefault("jobTemplate", {})
    job_template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    _pod_template(job_template.setdefault("spec", {}).setdefault("template", {}))


# --- other groups --------------------------------------------------------------------------------

def _scaling_rules(rules: Obj | None, *, window: int, policies: list[Obj]) -> Obj:
    out = dict(rules or {})
    out.setdefault("stabilizationWindowSeconds", window)
    out.setdefault("selectPolicy", "Max")
    if out.get("policies") is None:
        out["policies"] = policies
    return out


def _hpa_v2(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}]
    behavior = spec.get("behavior")
    if behavior is not None:
        behavior["scaleUp"] = _scaling_rules(behavior.get("scaleUp"), window=0, policies=[
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15}])
        behavior["scaleDown"] = _scaling_rules(behavior.get("scaleDown"), window=300, policies=[
            {"type": "Percent", "value": 100, "periodSeconds": 15}])


def _hpa_v1(obj: Obj) -> None:
    obj.setdefault("spec", {}).setdefault("minReplicas", 1)


def _network_policy(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    for direction in ("ingress", "egress"):
        for rule in spec.get(direction) or []:
            for port in rule.get("ports") or []:
                port.setdefault("protocol", "TCP")
    if not spec.get("policyTypes"):
        spec["policyTypes"] = ["Ingress"] + (["Egress"] if spec.get("egress") else [])


def _storage_class(obj: Obj) -> None:
    obj.setdefault("reclaimPolicy", "Delete")
    obj.setdefault("volumeBindingMode", "Immediate")


def _csi_driver(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("attachRequired", True)
    spec.setdefault("podInfoOnMount", False)
    spec.setdefault("storageCapacity", False)
    spec.setdefault("fsGroupPolicy", "ReadWriteOnceWithFSType")
    spec.setdefault("requiresRepublish", False)
    spec.setdefault("volumeLifecycleModes", ["Persistent"])
    spec.setdefault("seLinuxMount", False)


def _rbac_binding(obj: Obj) -> None:
    ref = obj.setdefault("roleRef", {})
    if not ref.get("apiGroup"):
        ref["apiGroup"] = "rbac.authorization.k8s.io"
    for subject in obj.get("subjects") or []:
        if not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = "rbac.authorization.k8s.io"


def _endpoint_slice(obj: Obj) -> None:
    for port in obj.get("ports") or []:
        port.setdefault("name", "")
        port.setdefault("protocol", "TCP")


def _priority_class(obj: Obj) -> None:
    obj.setdefault("preemptionPolicy", "PreemptLowerPriority")


def _pod_template_kind(obj: Obj) -> None:
    _pod_template(obj.setdefault("template", {}))


def _secret(obj: Obj) -> None:
    obj.setdefault("type", "Opaque")


_DEFAULTERS: dict[tuple[str, str, str], Callable[[Obj], None]] = {
    ("", "v1", "Pod"): _pod,
    ("", "v1", "PodTemplate"): _pod_template_kind,
    ("", "v1", "ReplicationController"): _replication_controller,
    ("", "v1", "Service"): _service,
    ("", "v1", "Namespace"): _namespace,
    ("", "v1", "PersistentVolumeClaim"): _pvc,
    ("", "v1", "PersistentVolume"): _pv,
    ("", "v1", "Secret"): _secret,
    ("", "v1", "LimitRange"): _limit_range,
    ("", "v1", "Endpoints"): _endpoints,
    ("", "v1", "Node"): _node,
    ("", "v1", "ResourceQuota"): _resource_quota,
    ("apps", "v1", "Deployment"): _deployment,
    ("apps", "v1", "ReplicaSet"): _replica_set,
    ("apps", "v1", "DaemonSet"): _daemon_set,
    ("apps", "v1", "StatefulSet"): _stateful_set,
    ("batch", "v1", "Job"): _job,
    ("batch", "v1", "CronJob"): _cron_job,
    ("autoscaling", "v2", "HorizontalPodAutoscaler"): _hpa_v2,
    ("autoscaling", "v1", "HorizontalPodAutoscaler"): _hpa_v1,
    ("networking.k8s.io", "v1", "NetworkPolicy"): _network_policy,
    ("storage.k8s.io", "v1", "StorageClass"): _storage_class,
    ("storage.k8s.io", "v1", "CSIDriver"): _csi_driver,
    ("rbac.authorization.k8s.io", "v1", "RoleBinding"): _rbac_binding,
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"): _rbac_binding,
    ("discovery.k8s.io", "v1", "EndpointSlice"): _endpoint_slice,
    ("scheduling.k8s.io", "v1", "PriorityClass"): _priority_class,
}


def apply_defaults(group: str, version: str, kind: str, obj: Obj) -> None:
    """Fill in upstream's defaults for `kind` at `group/version`, in place. Idempotent; a
    value the client set is never replaced (except quantities, printed canonically). Kinds
    without defaults are left untouched. The caller passes its own copy."""
    defaulter = _DEFAULTERS.get((group, version, kind))
    if defaulter is not None:
        defaulter(obj)
