"""Does a node satisfy a pod's nodeSelector and node affinity terms?

Mirrors upstream's `component-helpers/scheduling/corev1/nodeaffinity` (`RequiredNodeAffinity`,
`NodeSelector`, `PreferredSchedulingTerms`): a NodeSelector is an OR of terms; a term ANDs its
`matchExpressions` (on labels) and `matchFields` (only `metadata.name`); a term with neither
matches nothing. Operators: In, NotIn, Exists, DoesNotExist, Gt, Lt (integers). A malformed
requirement makes its term match nothing, as upstream's lazy error handling ends in a
non-match. The scheduler (NodeAffinity, PodTopologySpread) and the DaemonSet controller use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

OBJECT_NAME_FIELD = "metadata.name"


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def requirement_matches(req: Obj, value: str | None) -> bool:
    """One NodeSelectorRequirement against the value of its key (None: absent)."""
    operator, values = req.get("operator"), req.get("values") or []
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in ("Gt", "Lt"):
        if value is None or len(values) != 1:
            return False
        have, want = _int(value), _int(values[0])
        if have is None or want is None:
            return False
        return have > want if operator == "Gt" else have < want
    return False


def term_matches(term: Obj, node_labels: dict[str, str], node_name: str) -> bool:
    expressions = term.get("matchExpressions") or []
    match_fields = term.get("matchFields") or []
    if not expressions and not match_fields:
        return False
    for req in expressions:
        if not requirement_matches(req, node_labels.get(req.get("key", ""))):
            return False
    for req in match_fields:
        if req.get("key") != OBJECT_NAME_FIELD:
            return False
        if not requirement_matches(req, node_name):
            return False
    return True


def node_selector_matches(selector: Obj, node_labels: dict[str, str], node_name: str) -> bool:
    """A NodeSelector: any of its terms."""
    return any(term_matches(t, node_labels, node_name)
               for t in selector.get("nodeSelectorTerms") or [])


@dataclass(frozen=True)
class RequiredNodeAffinity:
    """A pod's hard node constraints: `spec.nodeSelector` AND its required node affinity."""

    node_selector: dict[str, str]
    required: Obj | None

    def matches(self, node_labels: dict[str, str], node_name: str) -> bool:
        for key, value in self.node_selector.items():
            if node_labels.get(key) != value:
                return False
        if self.required is not None:
            return node_selector_matches(self.required, node_labels, node_name)
        return True

    @property
    def empty(self) -> bool:
        return not self.node_selector and self.required is None


def required_node_affinity(pod: Obj) -> RequiredNodeAffinity:
    """upstream's GetRequiredNodeAffinity."""
    spec = pod.get("spec") or {}
    node_affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    return RequiredNodeAffinity(
        dict(spec.get("nodeSelector") or {}),
        node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution"))


def preferred_terms(pod: Obj) -> list[tuple[int, Obj]]:
    """(weight, preference) of the pod's preferred node affinity terms."""
    node_affinity = ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}
    return [(int(t.get("weight") or 0), t.get("preference") or {})
            for t in node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
