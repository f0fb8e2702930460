"""The autoscaling/v1 Scale view of a scalable object, and the write back to it.

Mirrors the `scaleFrom<Kind>` functions and `scaleUpdatedObjectInfo` of upstream's
pkg/registry/apps/{deployment,replicaset,statefulset}/storage/storage.go and
pkg/registry/core/replicationcontroller/storage/storage.go, plus `scaleFromCustomResource` of
staging/src/k8s.io/apiextensions-apiserver/pkg/registry/customresource/etcd.go, and
`ValidateScale` of pkg/apis/autoscaling/validation/validation.go. A `ScaleAccess` says where a
kind keeps its replicas and selector; the HTTP side lives in
`kajitori.apiserver.handlers.scale`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kajitori.api import errors, labels, meta

Obj = dict[str, Any]

SCALE_GROUP = "autoscaling"
SCALE_VERSION = "v1"
SCALE_KIND = "Scale"
SCALE_API_VERSION = f"{SCALE_GROUP}/{SCALE_VERSION}"
SCALE_GVK = (SCALE_GROUP, SCALE_VERSION, SCALE_KIND)

NEGATIVE_REPLICAS = "must be greater than or equal to 0"
SPEC_REPLICAS_MISSING = 'the spec replicas field "{path}" does not exist'


@dataclass(frozen=True)
class ScaleAccess:
    """Where one kind keeps what its Scale shows: dotted paths to the desired and observed
    replica counts, and how to print its selector as a label-selector string."""

    spec_replicas: tuple[str, ...]
    status_replicas: tuple[str, ...]
    selector: Callable[[Obj], str]
    # Custom resources only: a missing spec replicas field is a server error on read, as
    # upstream's custom resource ScaleREST answers; built-in kinds always default it.
    require_spec_replicas: bool = False


def _label_selector_string(obj: Obj) -> str:
    """A metav1.LabelSelector in spec.selector (apps kinds), printed as upstream's
    `LabelSelectorAsSelector(...).String()`."""
    return str(labels.from_label_selector((obj.get("spec") or {}).get("selector")))


def _map_selector_string(obj: Obj) -> str:
    """A ReplicationController's map selector, as `SelectorFromSet(...).String()`."""
    return str(labels.from_set((obj.get("spec") or {}).get("selector")))


_SPEC = ("spec", "replicas")
_STATUS = ("status", "replicas")

BUILTIN: dict[tuple[str, str], ScaleAccess] = {
    ("apps", "deployments"): ScaleAccess(_SPEC, _STATUS, _label_selector_string),
    ("apps", "replicasets"): ScaleAccess(_SPEC, _STATUS, _label_selector_string),
    ("apps", "statefulsets"): ScaleAccess(_SPEC, _STATUS, _label_selector_string),
    ("", "replicationcontrollers"): ScaleAccess(_SPEC, _STATUS, _map_selector_string),
}


def _json_path(path: str) -> tuple[str, ...]:
    """`.spec.replicas` (a CRD's simple JSON path) as its steps."""
    return tuple(part for part in path.removeprefix(".").split(".") if part)


def for_custom_resource(*, spec_replicas_path: str, status_replicas_path: str,
                        label_selector_path: str = "") -> ScaleAccess:
    """The access of a CustomResourceDefinition's `subresources.scale` (its
    `specReplicasPath`, `statusReplicasPath`, optional `labelSelectorPath`). The selector at
    `label_selector_path` is a string the custom resource's controller writes; it is shown
    as is, and an absent one shows as empty."""
    selector_steps = _json_path(label_selector_path)

    def selector(obj: Obj) -> str:
        value = _nested(obj, selector_steps) if selector_steps else None
        return value if isinstance(value, str) else ""

    return ScaleAccess(_json_path(spec_replicas_path), _json_path(status_replicas_path),
                       selector, require_spec_replicas=True)


def _nested(obj: Obj, steps: tuple[str, ...]) -> Any:
    current: Any = obj
    for step in steps:
        if not isinstance(current, dict):
            return None
        current = current.get(step)
    return current


def _replicas(value: Any) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0


def scale_of(obj: Obj, access: ScaleAccess) -> Obj:
    """The Scale of `obj`: metadata (name, namespace, uid, resourceVersion,
    creationTimestamp) from the parent, spec.replicas, status.replicas and status.selector.
    Raises a 500 StatusError when a custom resource lacks its spec replicas field."""
    spec_replicas = _nested(obj, access.spec_replicas)
    if spec_replicas is None and access.require_spec_replicas:
        raise errors.internal_error(SPEC_REPLICAS_MISSING.format(
            path="." + ".".join(access.spec_replicas)))
    md = meta.metadata(obj)
    scale_md = {key: md[key] for key in ("name", "namespace", "uid", "resourceVersion",
                                         "creationTimestamp") if md.get(key)}
    return {"kind": SCALE_KIND, "apiVersion": SCALE_API_VERSION, "metadata": scale_md,
            "spec": {"replicas": _replicas(spec_replicas)},
            "status": {"replicas": _replicas(_nested(obj, access.status_replicas)),
                       "selector": access.selector(obj)}}


def validate_scale(scale: Obj) -> list[errors.FieldError]:
    """Upstream's ValidateScale, on what a Scale write may change: the replica count."""
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if isinstance(replicas, int) and replicas < 0:
        return [errors.FieldError.invalid("spec.replicas", replicas, NEGATIVE_REPLICAS)]
    return []


def apply_scale(obj: Obj, scale: Obj, access: ScaleAccess, *, resource: str) -> Obj:
    """A copy of the parent `obj` with the Scale's spec.replicas written to it, and the
    Scale's metadata.resourceVersion as the parent's (the write's precondition; empty makes
    it unconditional), as upstream's scaleUpdatedObjectInfo. Raises a 422 StatusError for a
    negative count and a 409 for a uid that names another object; `resource` is how that
    conflict names the subresource (`deployments/scale.apps`, see `scale_resource`)."""
    name = meta.name(obj)
    problems = validate_scale(scale)
    if problems:
        raise errors.invalid(SCALE_KIND, name, problems, group=SCALE_GROUP)
    scale_uid = (scale.get("metadata") or {}).get("uid")
    if scale_uid and scale_uid != meta.uid(obj):
        raise errors.conflict(
            resource, name,
            f"Precondition failed: UID in precondition: {scale_uid}, "
            f"UID in object meta: {meta.uid(obj)}")
    updated = copy.deepcopy(obj)
    target = updated
    for step in access.spec_replicas[:-1]:
        target = target.setdefault(step, {})
    target[access.spec_replicas[-1]] = (scale.get("spec") or {}).get("replicas", 0)
    updated["metadata"]["resourceVersion"] = \
        (scale.get("metadata") or {}).get("resourceVersion") or ""
    return updated


def scale_resource(group: str, plural: str) -> str:
    """Upstream's GroupResource string of a scale subresource: `deployments/scale.apps`,
    `replicationcontrollers/scale`."""
    return f"{plural}/scale.{group}" if group else f"{plural}/scale"
