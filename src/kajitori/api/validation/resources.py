"""Which rules apply to which built-in resource, and the one entry point that runs them.

Mirrors what each registry strategy (pkg/registry/<group>/<resource>/strategy.go) wires:
its name rule, `Validate` and `ValidateUpdate`, followed by the generic object-meta check
every create passes (rest.BeforeCreate: path-segment names). Resources without kind rules of
their own get the metadata rules with a DNS-1123 subdomain name, as most upstream kinds do.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from kajitori.api import catalogue
from kajitori.api.errors import FieldError
from kajitori.api.validation import apps, batch, core, objectmeta, rbac

Obj = dict[str, Any]
Create = Callable[[Obj], list[FieldError]]
Update = Callable[[Obj, Obj], list[FieldError]]

RBAC = "rbac.authorization.k8s.io"

_NAME_RULES: dict[tuple[str, str], objectmeta.NameRule] = {
    ("", "namespaces"): objectmeta.dns_label,
    ("", "services"): objectmeta.dns1035_label,
    ("", "persistentvolumes"): objectmeta.path_segment,
    ("", "persistentvolumeclaims"): objectmeta.path_segment,
    ("", "events"): objectmeta.path_segment,
    ("events.k8s.io", "events"): objectmeta.path_segment,
    ("certificates.k8s.io", "certificatesigningrequests"): objectmeta.path_segment,
    (RBAC, "roles"): objectmeta.path_segment,
    (RBAC, "clusterroles"): objectmeta.path_segment,
    (RBAC, "rolebindings"): objectmeta.path_segment,
    (RBAC, "clusterrolebindings"): objectmeta.path_segment,
}

_KIND_RULES: dict[tuple[str, str], tuple[Create, Update | None]] = {
    ("", "pods"): (core.validate_pod, core.validate_pod_update),
    ("", "services"): (core.validate_service, core.validate_service_update),
    ("", "configmaps"): (core.validate_config_map, core.validate_config_map_update),
    ("", "secrets"): (core.validate_secret, core.validate_secret_update),
    ("", "namespaces"): (core.validate_namespace, None),
    ("", "serviceaccounts"): (core.validate_service_account, None),
    ("", "podtemplates"): (lambda o: core.validate_pod_template(o.get("template"), "template"),
                           None),
    ("apps", "deployments"): (apps.validate_deployment, apps.validate_deployment_update),
    ("apps", "replicasets"): (apps.validate_replica_set, apps.validate_replica_set_update),
    ("apps", "daemonsets"): (apps.validate_daemon_set, apps.validate_daemon_set_update),
    ("apps", "statefulsets"): (apps.validate_stateful_set, apps.validate_stateful_set_update),
    ("batch", "jobs"): (batch.validate_job, batch.validate_job_update),
    ("batch", "cronjobs"): (batch.validate_cron_job, batch.validate_cron_job_update),
    (RBAC, "roles"): (rbac.validate_role, None),
    (RBAC, "clusterroles"): (rbac.validate_cluster_role, None),
    (RBAC, "rolebindings"): (rbac.validate_role_binding, rbac.validate_role_binding_update),
    (RBAC, "clusterrolebindings"): (rbac.validate_cluster_role_binding,
                                    rbac.validate_cluster_role_binding_update),
}


# Subresources with update rules of their own (upstream's per-subresource strategies), in
# place of the kind's ValidateUpdate.
_SUBRESOURCE_RULES: dict[tuple[str, str, str], Update] = {
    ("", "pods", "ephemeralcontainers"): core.validate_pod_ephemeral_containers_update,
}


def name_rule(group: str, resource: str) -> objectmeta.NameRule:
    """The rule `metadata.name` (and `generateName`) of a built-in resource must pass."""
    return _NAME_RULES.get((group, resource), objectmeta.dns_subdomain)


@functools.cache
def _namespaced() -> dict[tuple[str, str], bool]:
    return {(r.group, r.plural): r.namespaced for r in catalogue.builtin().all()}


def validate(group: str, resource: str, obj: Obj, *, old: Obj | None = None,
             subresource: str = "") -> list[FieldError]:
    """Every FieldError of a create (`old` is None) or an update of a defaulted object; empty
    when valid. `subresource`: the update was written through it (its own rules, if any,
    replace the kind's update rules). The apiserver raises `errors.invalid(kind, name, errs,
    group=group)` on a non-empty answer. Like upstream, the generic path-segment name check
    runs only once the kind's own rules pass, so users see the more specific message."""
    namespaced = _namespaced().get((group, resource), True)
    create, update = _KIND_RULES.get((group, resource), (None, None))
    update = _SUBRESOURCE_RULES.get((group, resource, subresource), update)
    if old is None:
        errs = objectmeta.validate_object_meta(obj, namespaced=namespaced,
                                               name_rule=name_rule(group, resource))
        if create is not None:
            errs += create(obj)
        if errs:
            return errs
        return _path_segment_names(obj)
    errs = objectmeta.validate_update_object_meta(obj, old)
    if update is not None:
        errs += update(obj, old)
    elif create is not None:
        errs += create(obj)
    return errs


def _path_segment_names(obj: dict[str, Any]) -> list[FieldError]:
    """The rule every name passes whatever its kind's own (it becomes a URL path segment)."""
    md = obj.get("metadata") or {}
    errs: list[FieldError] = []
    for field_, prefix in (("name", False), ("generateName", True)):
        value = md.get(field_)
        if value:
            errs += objectmeta.invalid_each(f"metadata.{field_}", value,
                                            objectmeta.path_segment(value, prefix))
    return errs
