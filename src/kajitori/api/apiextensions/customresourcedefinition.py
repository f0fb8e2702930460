"""The CustomResourceDefinition kind: its defaults, strategy, conditions and what it serves.

Mirrors staging/src/k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1/defaults.go
(`apply_defaults`), .../pkg/registry/customresourcedefinition/strategy.go and etcd.go
(`CustomResourceDefinitionStrategy`: status reset on create, stored versions, generation, and
the first delete that adds the `customresourcecleanup.apiextensions.k8s.io` finalizer with a
`Terminating` condition instead of deleting), .../pkg/apihelpers (conditions, storage version)
and the resource entries of .../pkg/apiserver/customresource_discovery_controller.go
(`served_resource`, `sort_versions`). The loop that acts on stored CRDs (names, establishing,
cleanup) is `kajitori.apiserver.customresources`.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from kajitori.api import catalogue, meta, strategy
from kajitori.api.apiextensions import validation
from kajitori.api.errors import FieldError

Obj = dict[str, Any]

GROUP = "apiextensions.k8s.io"
RESOURCE = "customresourcedefinitions"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"

NAMES_ACCEPTED = "NamesAccepted"
ESTABLISHED = validation.ESTABLISHED
TERMINATING = "Terminating"
TRUE, FALSE = "True", "False"

# Conditions as upstream's naming, establishing and finalizing controllers set them.
NO_CONFLICTS = ("NoConflicts", "no conflicts found")
NOT_ACCEPTED = ("NotAccepted", "not all names are accepted")
INITIAL_NAMES_ACCEPTED = ("InitialNamesAccepted", "the initial names have been accepted")
INSTANCE_DELETION_PENDING = ("InstanceDeletionPending", "CustomResourceDefinition marked for "
                             "deletion; CustomResource deletion will begin soon")
INSTANCE_DELETION_IN_PROGRESS = ("InstanceDeletionInProgress",
                                 "CustomResource deletion is in progress")
INSTANCE_DELETION_COMPLETED = ("InstanceDeletionCompleted", "removed all instances")
INSTANCE_DELETION_FAILED = "InstanceDeletionFailed"
NEVER_ESTABLISHED = ("NeverEstablished", "resource was never established")
NAME_IN_USE = '"{name}" is already in use'

# Discovery verbs of every custom resource, in upstream's order.
RESOURCE_VERBS = ("delete", "deletecollection", "get", "list", "patch", "create", "update",
                  "watch")
SUBRESOURCE_VERBS = ("get", "patch", "update")

_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def apply_defaults(crd: Obj) -> None:
    """apiextensions.k8s.io/v1 defaulting: singular from kind, listKind, conversion None,
    webhook conversion review versions, and the first stored version."""
    spec = crd.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    names = spec.setdefault("names", {})
    if isinstance(names, dict):
        kind = names.get("kind") or ""
        if not names.get("singular"):
            names["singular"] = kind.lower()
        if not names.get("listKind") and kind:
            names["listKind"] = kind + "List"
    conversion = spec.get("conversion")
    if not isinstance(conversion, dict):
        spec["conversion"] = conversion = {"strategy": "None"}
    webhook = conversion.get("webhook")
    if conversion.get("strategy") == "Webhook" and isinstance(webhook, dict):
        webhook.setdefault("conversionReviewVersions", ["v1"])
        service = (webhook.get("clientConfig") or {}).get("service")
        if isinstance(service, dict):
            service.setdefault("port", 443)


def storage_version(crd: Obj) -> str:
    for version in (crd.get("spec") or {}).get("versions") or []:
        if version.get("storage"):
            return str(version.get("name", ""))
    return ""


def version_entry(crd: Obj, name: str) -> Obj:
    for version in (crd.get("spec") or {}).get("versions") or []:
        if version.get("name") == name:
            return dict(version)
    return {}


def find_condition(crd: Obj, condition_type: str) -> Obj | None:
    for condition in (crd.get("status") or {}).get("conditions") or []:
        if condition.get("type") == condition_type:
            return dict(condition)
    return None


def is_condition_true(crd: Obj, condition_type: str) -> bool:
    return validation.is_condition_true(crd, condition_type)


def set_condition(crd: Obj, condition_type: str, status: str, reason_message: tuple[str, str],
                  ) -> None:
    """Upstream SetCRDCondition, in place: the transition time moves only when the status
    does."""
    reason, message = reason_message
    conditions = crd.setdefault("status", {}).setdefault("conditions", [])
    for condition in conditions:
        if condition.get("type") == condition_type:
            if condition.get("status") != status:
                condition["lastTransitionTime"] = meta.now()
            condition.update(status=status, reason=reason, message=message)
            return
    conditions.append({"type": condition_type, "status": status,
                       "lastTransitionTime": meta.now(), "reason": reason, "message": message})


class CustomResourceDefinitionStrategy:
    """The registry's hooks for customresourcedefinitions (see
    `kajitori.api.apiextensions.customresource.CustomStrategy` for the contract)."""

    printer: None = None  # upstream's default table convertor
    prune: None = None  # the built-in schema of the kind applies

    def default(self, obj: Obj) -> None:
        apply_defaults(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        strategy.drop_empty_metadata_maps(obj)
        obj["status"] = {}
        obj["metadata"]["generation"] = 1
        self._add_stored_version(obj)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        strategy.drop_empty_metadata_maps(new)
        new["status"] = copy.deepcopy(old.get("status") or {})
        generation = int(meta.metadata(old).get("generation") or 1)
        if new.get("spec") != old.get("spec"):
            generation += 1
        new["metadata"]["generation"] = generation
        self._add_stored_version(new)

    def prepare_for_delete(self, obj: Obj) -> Obj:
        """The first delete adds the cleanup finalizer and the Terminating condition (the
        registry then sets deletionTimestamp); the finalizer removes the instances."""
        if meta.deletion_timestamp(obj):
            return obj
        updated = copy.deepcopy(obj)
        finalizers = updated["metadata"].setdefault("finalizers", [])
        if CLEANUP_FINALIZER not in finalizers:
            finalizers.append(CLEANUP_FINALIZER)
        set_condition(updated, TERMINATING, TRUE, INSTANCE_DELETION_PENDING)
        return updated

    def validate(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        return validation.validate(obj, old=old)

    @staticmethod
    def _add_stored_version(obj: Obj) -> None:
        stored = obj.setdefault("status", {}).setdefault("storedVersions", [])
        version = storage_version(obj)
        if version and version not in stored:
            stored.append(version)


def kube_version_key(version: str) -> tuple[int, int, int, str]:
    """Sort key putting versions in upstream's kube-aware order: GA before beta before alpha,
    higher numbers first, then any other version alphabetically."""
    match = _KUBE_VERSION.match(version)
    if match is None:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0), "")


def sort_versions(versions: list[str]) -> list[str]:
    """Served versions, preferred first (upstream's CompareKubeAwareVersionStrings)."""
    return sorted(versions, key=kube_version_key)


def served_resource(crd: Obj, version: str) -> catalogue.Resource:
    """The discovery entry of `crd` at a served `version`, named by its accepted names."""
    spec = crd.get("spec") or {}
    names = (crd.get("status") or {}).get("acceptedNames") or spec.get("names") or {}
    group = spec.get("group", "")
    kind = names.get("kind", "")
    subresources = version_entry(crd, version).get("subresources") or {}
    subs = []
    if "status" in subresources:
        subs.append(catalogue.Subresource("status", group, version, kind, SUBRESOURCE_VERBS))
    if "scale" in subresources:
        subs.append(catalogue.Subresource("scale", "autoscaling", "v1", "Scale",
                                          SUBRESOURCE_VERBS))
    return catalogue.Resource(
        group=group, version=version, plural=names.get("plural", ""), kind=kind,
        namespaced=spec.get("scope") == "Namespaced", singular=names.get("singular", ""),
        verbs=RESOURCE_VERBS, short_names=tuple(names.get("shortNames") or ()),
        categories=tuple(names.get("categories") or ()), subresources=tuple(subs))


def served_versions(crd: Obj) -> list[str]:
    return [str(v.get("name")) for v in (crd.get("spec") or {}).get("versions") or []
            if v.get("served")]
