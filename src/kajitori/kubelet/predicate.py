"""The kubelet's admission of a new pod: whether this node can run it at all.

Mirrors the part of upstream v1.33's `pkg/kubelet/lifecycle/predicate.go` (`Admit`) that
concerns this node's runtime: a pod asking for `supplementalGroupsPolicy: Strict` is refused
when the runtime cannot leave out the image's groups (`rejectPodAdmissionBasedOnSupplemental
GroupsPolicy`; the rejection replaced the silent fall-back to Merge in v1.33). containerd 1.6,
the runtime here, reports no such feature (containerd 2.0 does), so the node status advertises
none and such pods are refused. The scheduler's own predicates (resources, ports, affinity) are
the scheduler's business here and are not re-checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

SUPPLEMENTAL_GROUPS_POLICY_STRICT = "Strict"
SUPPLEMENTAL_GROUPS_POLICY_NOT_SUPPORTED = "SupplementalGroupsPolicyNotSupported"
MSG_SUPPLEMENTAL_GROUPS_POLICY = "SupplementalGroupsPolicy={policy} is not supported in this node"
REJECTED_PREFIX = "Pod was rejected: "
"""What the pod's status.message starts with (upstream rejectPod)."""


@dataclass(frozen=True)
class Rejection:
    reason: str
    message: str


def admit(pod: Obj, *, supplemental_groups_policy: bool = False) -> Rejection | None:
    """None when the node can run `pod`; else why not. `supplemental_groups_policy`: the
    runtime honours Strict (the node's `status.features.supplementalGroupsPolicy`)."""
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    policy = pod_sc.get("supplementalGroupsPolicy")
    if policy == SUPPLEMENTAL_GROUPS_POLICY_STRICT and not supplemental_groups_policy:
        return Rejection(SUPPLEMENTAL_GROUPS_POLICY_NOT_SUPPORTED,
                         MSG_SUPPLEMENTAL_GROUPS_POLICY.format(policy=policy))
    return None


def rejected_status(pod: Obj, rejection: Rejection, *, qos_class: str) -> Obj:
    """The status the kubelet gives a pod it refused (upstream rejectPod): Failed, with the
    reason and message, the QoS class kept."""
    return {"phase": "Failed", "reason": rejection.reason,
            "message": REJECTED_PREFIX + rejection.message, "qosClass": qos_class}
