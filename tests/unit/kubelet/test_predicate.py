"""The kubelet's admission of pods this node's runtime cannot run (upstream's wording)."""

from __future__ import annotations

from kajitori.kubelet import predicate


def _pod(policy: str | None) -> dict:
    sc = {"runAsUser": 1000, "runAsGroup": 3000, "supplementalGroups": [4000]}
    if policy is not None:
        sc["supplementalGroupsPolicy"] = policy
    return {"metadata": {"name": "security-context-demo"},
            "spec": {"securityContext": sc, "containers": [{"name": "sec-ctx-demo"}]}}


def test_strict_supplemental_groups_are_refused_without_runtime_support() -> None:
    rejection = predicate.admit(_pod("Strict"))
    assert rejection == predicate.Rejection(
        "SupplementalGroupsPolicyNotSupported",
        "SupplementalGroupsPolicy=Strict is not supported in this node")
    assert predicate.rejected_status(_pod("Strict"), rejection, qos_class="BestEffort") == {
        "phase": "Failed", "reason": "SupplementalGroupsPolicyNotSupported",
        "message": "Pod was rejected: SupplementalGroupsPolicy=Strict is not supported in "
                   "this node", "qosClass": "BestEffort"}


def test_merge_or_no_policy_is_admitted() -> None:
    assert predicate.admit(_pod("Merge")) is None
    assert predicate.admit(_pod(None)) is None


def test_strict_is_admitted_where_the_runtime_supports_it() -> None:
    assert predicate.admit(_pod("Strict"), supplemental_groups_policy=True) is None
