"""What every kind does on create and update that a schema cannot say.

Mirrors the `PrepareForCreate`/`PrepareForUpdate` halves of upstream's per-kind strategies
(`pkg/registry/<group>/<kind>/strategy.go`): a kind with a status subresource ignores status in
writes to the main resource (and spec in writes to status); kinds that track `generation` start it
at 1 and bump it only when the spec changes. Validation lives in `kajitori.api.validation`,
defaulting in `kajitori.api.defaults`; the registry calls all three in upstream's order.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from kajitori.api import meta, qos

Obj = dict[str, Any]

# Kinds whose strategies set metadata.generation (upstream sets it where controllers compare it
# with status.observedGeneration).
GENERATION_KINDS = frozenset({
    ("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets"),
    ("apps", "daemonsets"), ("", "replicationcontrollers"), ("batch", "jobs"),
    ("batch", "cronjobs"), ("policy", "poddisruptionbudgets"),
    ("networking.k8s.io", "ingresses"), ("networking.k8s.io", "networkpolicies"),
    ("networking.k8s.io", "ingressclasses"), ("autoscaling", "horizontalpodautoscalers"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "validatingadmissionpolicies"),
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings"),
    ("flowcontrol.apiserver.k8s.io", "flowschemas"),
    ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations"),
    ("resource.k8s.io", "deviceclasses"), ("resource.k8s.io", "resourceslices"),
    ("resource.k8s.io", "resourceclaims"), ("resource.k8s.io", "resourceclaimtemplates"),
    ("discovery.k8s.io", "endpointslices"),
})

# The Deployment strategy also counts annotation changes as spec changes (rollbacks were once
# requested through an annotation).
ANNOTATIONS_BUMP_GENERATION = frozenset({("apps", "deployments")})

# Metadata a /status write may change, per kind (upstream's status strategies).
STATUS_METADATA: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "pods"): ("labels", "annotations"),
    ("", "nodes"): ("labels", "annotations"),
    ("", "replicationcontrollers"): ("labels", "annotations"),
    ("apps", "deployments"): ("annotations",),
    ("apps", "replicasets"): ("labels", "annotations"),
    ("apps", "statefulsets"): ("labels", "annotations"),
    ("apps", "daemonsets"): ("labels", "annotations"),
    ("batch", "jobs"): ("labels", "annotations"),
}

JOB_CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
LEGACY_CONTROLLER_UID_LABEL = "controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_JOB_NAME_LABEL = "job-name"

# Kinds whose status is kept as the client sent it on create (a kubelet registers its Node with
# status; the rest start with an empty or initial status).
STATUS_KEPT_ON_CREATE = frozenset({("", "nodes"), ("", "events"),
                                   ("apiregistration.k8s.io", "apiservices")})

# The fields that are not "spec" for generation purposes.
_NON_SPEC = ("metadata", "status", "kind", "apiVersion")


def initial_status(group: str, resource: str, obj: Obj) -> Obj:
    """The status a new object starts with, as the kind's PrepareForCreate sets it."""
    if (group, resource) == ("", "pods"):
        return {"phase": "Pending", "qosClass": qos.pod_qos_class(obj)}
    if (group, resource) == ("", "namespaces"):
        return {"phase": "Active"}
    if (group, resource) in (("", "persistentvolumeclaims"), ("", "persistentvolumes")):
        return {"phase": "Pending"}
    if (group, resource) == ("", "services"):
        return {"loadBalancer": {}}
    return {}


def merge_string_data(group: str, resource: str, obj: Obj) -> None:
    """A Secret's `stringData` is write-only: upstream's conversion folds it into `data`
    (base64, overriding keys of the same name) and never stores or returns it."""
    if (group, resource) != ("", "secrets") or "stringData" not in obj:
        return
    string_data = obj.pop("stringData") or {}
    if string_data:
        data = obj.setdefault("data", {}) or {}
        obj["data"] = data
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def generate_job_selector(obj: Obj) -> None:
    """A Job without `manualSelector` selects its pods by its own uid, and its pod template
    carries the matching labels (upstream's job strategy generateSelector)."""
    spec = obj.setdefault("spec", {})
    if spec.get("manualSelector"):
        return
    uid = obj["metadata"]["uid"]
    name = obj["metadata"].get("name", "")
    template_md = spec.setdefault("template", {}).setdefault("metadata", {})
    template_labels = template_md.get("labels") or {}
    template_md["labels"] = template_labels
    for key, value in ((JOB_CONTROLLER_UID_LABEL, uid), (LEGACY_CONTROLLER_UID_LABEL, uid),
                       (JOB_NAME_LABEL, name), (LEGACY_JOB_NAME_LABEL, name)):
        template_labels.setdefault(key, value)
    if not spec.get("selector"):
        spec["selector"] = {"matchLabels": {JOB_CONTROLLER_UID_LABEL: uid}}


def drop_empty_metadata_maps(obj: Obj) -> None:
    """Labels and annotations are `omitempty`: upstream's encoding drops them when empty (after
    `kubectl label x key-` removed the last one, say)."""
    md = obj.get("metadata") or {}
    for field_ in ("labels", "annotations"):
        if field_ in md and not md[field_]:
            del md[field_]


def prepare_for_create(group: str, resource: str, obj: Obj, *, has_status: bool) -> None:
    """Reset what a client may not set on create. Mutates `obj` (the registry's own copy,
    whose uid is already set)."""
    merge_string_data(group, resource, obj)
    drop_empty_metadata_maps(obj)
    if (group, resource) == ("batch", "jobs"):
        generate_job_selector(obj)
    if has_status and (group, resource) not in STATUS_KEPT_ON_CREATE:
        # A status struct is never omitted by Go's encoder: `status: {}` at least.
        obj["status"] = initial_status(group, resource, obj)
    if (group, resource) in GENERATION_KINDS:
        obj["metadata"]["generation"] = 1


def prepare_for_update(group: str, resource: str, new: Obj, old: Obj, *,
                       has_status: bool) -> None:
    """Keep the old status when writing the main resource; bump generation on spec change."""
    merge_string_data(group, resource, new)
    drop_empty_metadata_maps(new)
    if (group, resource) == ("", "namespaces"):
        # spec.finalizers changes only through /finalize.
        _keep_namespace_finalizers(new, old)
    if (group, resource) == ("", "services"):
        normalize_cluster_ips(new, old)
    if has_status:
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)
    if (group, resource) in GENERATION_KINDS:
        old_generation = int(old.get("metadata", {}).get("generation") or 1)
        changed = _spec_of(new) != _spec_of(old)
        if (group, resource) in ANNOTATIONS_BUMP_GENERATION:
            changed = changed or meta.annotations(new) != meta.annotations(old)
        new["metadata"]["generation"] = old_generation + 1 if changed else old_generation


def prepare_for_status_update(group: str, resource: str, new: Obj, old: Obj) -> None:
    """A write to /status changes status only: everything else comes from the old object,
    except the metadata the kind's status strategy lets through (STATUS_METADATA: the older
    workload kinds' strategies reset only the spec, so their controllers write annotations
    such as `deployment.kubernetes.io/revision` with their status; newer kinds use upstream's
    ResetObjectMetaForStatus and keep every field as stored)."""
    status = new.get("status")
    metadata = new.get("metadata", {})
    passed = {field_: metadata[field_] for field_ in STATUS_METADATA.get((group, resource), ())
              if field_ in metadata}
    new.clear()
    new.update(copy.deepcopy(old))
    new["metadata"]["resourceVersion"] = metadata.get("resourceVersion", "")
    for field_ in STATUS_METADATA.get((group, resource), ()):
        if field_ in passed:
            new["metadata"][field_] = passed[field_]
        else:
            new["metadata"].pop(field_, None)
    if status is None:
        new.pop("status", None)
    else:
        new["status"] = status


def prepare_for_ephemeral_containers_update(new: Obj, old: Obj) -> None:
    """A write to pods/<x>/ephemeralcontainers changes `spec.ephemeralContainers` only
    (upstream's dropNonEphemeralContainerUpdates): the rest is the stored pod's."""
    containers = (new.get("spec") or {}).get("ephemeralContainers")
    resource_version = (new.get("metadata") or {}).get("resourceVersion", "")
    new.clear()
    new.update(copy.deepcopy(old))
    new["metadata"]["resourceVersion"] = resource_version
    spec = new.setdefault("spec", {})
    if containers:
        spec["ephemeralContainers"] = containers
    else:
        spec.pop("ephemeralContainers", None)


def normalize_cluster_ips(new: Obj, old: Obj) -> None:
    """A write that changes only `clusterIP` changes the first of `clusterIPs` with it, as
    upstream's normalizeClusterIPs does, so validation sees (and refuses) the change."""
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    if new_spec.get("clusterIP") == old_spec.get("clusterIP") or \
            new_spec.get("clusterIPs") != old_spec.get("clusterIPs"):
        return
    if not new_spec.get("clusterIP"):
        new_spec.pop("clusterIPs", None)
    else:
        new_spec["clusterIPs"] = [new_spec["clusterIP"], *(old_spec.get("clusterIPs") or [])[1:]]


def prepare_for_finalize_update(new: Obj, old: Obj) -> None:
    """A write to namespaces/<x>/finalize changes spec.finalizers only."""
    finalizers = (new.get("spec") or {}).get("finalizers")
    new.clear()
    new.update(copy.deepcopy(old))
    if finalizers:
        new.setdefault("spec", {})["finalizers"] = finalizers
    else:
        (new.get("spec") or {}).pop("finalizers", None)


def _keep_namespace_finalizers(new: Obj, old: Obj) -> None:
    old_finalizers = (old.get("spec") or {}).get("finalizers")
    spec = new.setdefault("spec", {})
    if old_finalizers is None:
        spec.pop("finalizers", None)
    else:
        spec["finalizers"] = copy.deepcopy(old_finalizers)


def _spec_of(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in _NON_SPEC}
