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


def pod_with_sysctls(*names: str, **spec: object) -> dict:
    return {"metadata": {"name": "p"}, "spec": {
        **spec, "securityContext": {"sysctls": [{"name": n, "value": "1"} for n in names]},
        "containers": [{"name": "c", "image": "busybox"}]}}


def test_safe_sysctls_are_admitted_in_either_spelling() -> None:
    assert predicate.admit(pod_with_sysctls("kernel.shm_rmid_forced",
                                            "net/ipv4/ip_local_port_range")) is None


def test_an_unsafe_sysctl_is_forbidden_unless_the_node_allows_it() -> None:
    refused = predicate.admit(pod_with_sysctls("net.core.somaxconn"))
    assert refused == predicate.Rejection(
        "SysctlForbidden", 'forbidden sysctl: "net.core.somaxconn" not allowlisted')
    assert predicate.admit(pod_with_sysctls("net.core.somaxconn"),
                           allowed_unsafe_sysctls=("net.core.*",)) is None
    assert predicate.admit(pod_with_sysctls("kernel.msgmax"),
                           allowed_unsafe_sysctls=("kernel.msgmax",)) is None


def test_a_network_sysctl_is_forbidden_in_the_host_network() -> None:
    refused = predicate.admit(pod_with_sysctls("net.ipv4.tcp_syncookies", hostNetwork=True))
    assert refused is not None
    assert refused.message == ('forbidden sysctl: "net.ipv4.tcp_syncookies" not allowed with '
                               "host net enabled")


def _qos_pod(resources: dict | None = None, **spec: object) -> dict:
    return {"metadata": {"name": "p"}, "spec": {
        **spec, "containers": [{"name": "c", "image": "busybox", "resources": resources or {}}]}}


def test_memory_pressure_refuses_only_best_effort_pods() -> None:
    rejection = predicate.admit(_qos_pod(), node_conditions=["MemoryPressure"])
    assert rejection == predicate.Rejection("Evicted",
                                            "The node had condition: [MemoryPressure]. ")
    burstable = _qos_pod({"requests": {"memory": "10Mi"}})
    assert predicate.admit(burstable, node_conditions=["MemoryPressure"]) is None
    tolerating = _qos_pod(tolerations=[{"key": "node.kubernetes.io/memory-pressure",
                                        "operator": "Exists", "effect": "NoSchedule"}])
    assert predicate.admit(tolerating, node_conditions=["MemoryPressure"]) is None


def test_disk_pressure_refuses_every_pod_but_critical_ones() -> None:
    burstable = _qos_pod({"requests": {"memory": "10Mi"}})
    assert predicate.admit(burstable, node_conditions=["MemoryPressure", "DiskPressure"]) == \
        predicate.Rejection("Evicted", "The node had condition: [MemoryPressure DiskPressure]. ")
    critical = _qos_pod(priority=2000001000)
    assert predicate.admit(critical, node_conditions=["DiskPressure"]) is None
    assert predicate.admit(burstable) is None
