"""Semantic rules for apps/v1 workloads: Deployment, ReplicaSet, DaemonSet, StatefulSet.

Mirrors pkg/apis/apps/validation/validation.go. The selector must be present, non-empty and
match the template's labels (`selector` does not match template `labels`), and, as in
apps/v1, never changes after creation.
"""

from __future__ import annotations

from typing import Any

from kajitori.api import labels
from kajitori.api.errors import FieldError, StatusError
from kajitori.api.validation import core, gorepr, names, objectmeta

Obj = dict[str, Any]

SELECTOR_MISMATCH = "`selector` does not match template `labels`"
DEPLOYMENT_STRATEGIES = ["Recreate", "RollingUpdate"]
DAEMONSET_STRATEGIES = ["OnDelete", "RollingUpdate"]
STATEFULSET_STRATEGIES = ["OnDelete", "RollingUpdate"]
POD_MANAGEMENT_POLICIES = ["OrderedReady", "Parallel"]
PVC_RETENTION_POLICIES = ["Retain", "Delete"]
STATEFULSET_UPDATE_FORBIDDEN = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
    "forbidden")

# Upstream words the empty-selector error per kind (ReplicaSet reuses Deployment's text).
_EMPTY_SELECTOR = {
    "deployments": "empty selector is invalid for deployment",
    "replicasets": "empty selector is invalid for deployment",
    "statefulsets": "empty selector is invalid for statefulset",
    "daemonsets": "empty selector is not valid for daemonset.",
}


def _selector_value(selector: Obj) -> gorepr.GoValue:
    return gorepr.value(gorepr.label_selector(selector))


def _template_matches(selector: Obj, template: Obj | None) -> bool | None:
    """Whether the selector selects the template's labels; None when it cannot be built."""
    try:
        sel = labels.from_label_selector(selector)
    except StatusError:
        return None
    if sel.empty():
        return True
    return sel.matches(((template or {}).get("metadata") or {}).get("labels") or {})


def _selector_and_template(resource: str, spec: Obj, *,
                           restart_always: bool = True) -> list[FieldError]:
    out: list[FieldError] = []
    selector = spec.get("selector")
    if selector is None:
        out.append(FieldError.required("spec.selector"))
    else:
        out += objectmeta.validate_label_selector(selector, "spec.selector")
        if not (selector.get("matchLabels") or selector.get("matchExpressions")):
            out.append(FieldError.invalid("spec.selector", _selector_value(selector),
                                          _EMPTY_SELECTOR[resource]))
    template = spec.get("template")
    if selector is not None:
        matched = _template_matches(selector, template)
        if matched is None:
            out.append(FieldError.invalid("spec.selector", _selector_value(selector),
                                          "invalid label selector"))
        elif not matched:
            template_labels = ((template or {}).get("metadata") or {}).get("labels")
            out.append(FieldError.invalid("spec.template.metadata.labels",
                                          gorepr.value(gorepr.string_map(template_labels)),
                                          SELECTOR_MISMATCH))
    out += core.validate_pod_template(template, "spec.template")
    policy = ((template or {}).get("spec") or {}).get("restartPolicy") or ""
    if restart_always and policy != "Always":
        out.append(FieldError.not_supported("spec.template.spec.restartPolicy", policy,
                                            ["Always"]))
    if ((template or {}).get("spec") or {}).get("activeDeadlineSeconds") is not None \
            and resource in ("deployments", "replicasets"):
        out.append(FieldError.forbidden("spec.template.spec.activeDeadlineSeconds",
                                        "activeDeadlineSeconds in ReplicaSet is not Supported"))
    return out


def _int_or_percent(value: Any, path: str) -> tuple[list[FieldError], int | None]:
    """(errors, percent or plain value) of an IntOrString field."""
    if isinstance(value, int):
        return objectmeta.nonnegative(value, path), value
    text = str(value)
    msgs = names.is_valid_percent(text)
    if msgs:
        return objectmeta.invalid_each(path, text, msgs), None
    percent = int(text[:-1])
    if percent > 100:
        return [FieldError.invalid(path, text, "must not be greater than 100%")], percent
    return [], percent


def validate_deployment(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    out = objectmeta.nonnegative(int(spec.get("replicas") or 0), "spec.replicas")
    out += _selector_and_template("deployments", spec)
    strategy = spec.get("strategy") or {}
    kind = strategy.get("type") or ""
    if kind == "Recreate" and strategy.get("rollingUpdate") is not None:
        out.append(FieldError.forbidden("spec.strategy.rollingUpdate",
                                        "may not be specified when strategy `type` is "
                                        "'Recreate'"))
    elif kind == "RollingUpdate":
        rolling = strategy.get("rollingUpdate") or {}
        base = "spec.strategy.rollingUpdate"
        surge_errs, surge = _int_or_percent(rolling.get("maxSurge", 0), f"{base}.maxSurge")
        unavail_errs, unavailable = _int_or_percent(rolling.get("maxUnavailable", 0),
                                                    f"{base}.maxUnavailable")
        out += surge_errs + unavail_errs
        if surge == 0 and unavailable == 0:
            out.append(FieldError.invalid(f"{base}.maxUnavailable",
                                          rolling.get("maxUnavailable", 0),
                                          "may not be 0 when `maxSurge` is 0"))
    elif kind not in DEPLOYMENT_STRATEGIES:
        out.append(FieldError.not_supported("spec.strategy.type", kind, DEPLOYMENT_STRATEGIES))
    out += objectmeta.nonnegative(int(spec.get("minReadySeconds") or 0), "spec.minReadySeconds")
    if spec.get("revisionHistoryLimit") is not None:
        out += objectmeta.nonnegative(int(spec["revisionHistoryLimit"]),
                                      "spec.revisionHistoryLimit")
    deadline = spec.get("progressDeadlineSeconds")
    if deadline is not None:
        out += objectmeta.nonnegative(int(deadline), "spec.progressDeadlineSeconds")
        if int(deadline) <= int(spec.get("minReadySeconds") or 0):
            out.append(FieldError.invalid("spec.progressDeadlineSeconds", int(deadline),
                                          "must be greater than minReadySeconds"))
    return out


def validate_replica_set(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    out = objectmeta.nonnegative(int(spec.get("replicas") or 0), "spec.replicas")
    out += objectmeta.nonnegative(int(spec.get("minReadySeconds") or 0), "spec.minReadySeconds")
    return out + _selector_and_template("replicasets", spec)


def validate_daemon_set(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    out = _selector_and_template("daemonsets", spec)
    strategy = spec.get("updateStrategy") or {}
    kind = strategy.get("type") or ""
    if kind not in DAEMONSET_STRATEGIES:
        out.append(FieldError.not_supported("spec.updateStrategy.type", kind,
                                            DAEMONSET_STRATEGIES))
    return out


def validate_stateful_set(obj: Obj) -> list[FieldError]:
    spec = obj.get("spec") or {}
    out: list[FieldError] = []
    policy = spec.get("podManagementPolicy") or ""
    if policy not in POD_MANAGEMENT_POLICIES:
        out.append(FieldError.not_supported("spec.podManagementPolicy", policy,
                                            POD_MANAGEMENT_POLICIES))
    kind = (spec.get("updateStrategy") or {}).get("type") or ""
    if kind not in STATEFULSET_STRATEGIES:
        out.append(FieldError.not_supported("spec.updateStrategy.type", kind,
                                            STATEFULSET_STRATEGIES))
    out += objectmeta.nonnegative(int(spec.get("replicas") or 0), "spec.replicas")
    return out + _selector_and_template("statefulsets", spec)


def _selector_immutable(new: Obj, old: Obj) -> list[FieldError]:
    ns, os_ = (new.get("spec") or {}).get("selector"), (old.get("spec") or {}).get("selector")
    if ns == os_:
        return []
    return [FieldError.invalid("spec.selector", _selector_value(ns or {}),
                               objectmeta.FIELD_IMMUTABLE)]


def validate_deployment_update(new: Obj, old: Obj) -> list[FieldError]:
    return validate_deployment(new) + _selector_immutable(new, old)


def validate_replica_set_update(new: Obj, old: Obj) -> list[FieldError]:
    return validate_replica_set(new) + _selector_immutable(new, old)


def validate_daemon_set_update(new: Obj, old: Obj) -> list[FieldError]:
    return validate_daemon_set(new) + _selector_immutable(new, old)


_STATEFULSET_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy",
                        "persistentVolumeClaimRetentionPolicy", "minReadySeconds")


def validate_stateful_set_update(new: Obj, old: Obj) -> list[FieldError]:
    out = validate_stateful_set(new)
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    rest_new = {k: v for k, v in ns.items() if k not in _STATEFULSET_MUTABLE}
    rest_old = {k: v for k, v in os_.items() if k not in _STATEFULSET_MUTABLE}
    if rest_new != rest_old:
        out.append(FieldError.forbidden("spec", STATEFULSET_UPDATE_FORBIDDEN))
    return out
