"""The FitError message as `kubectl describe pod` shows it, and the framework's arithmetic."""

from __future__ import annotations

import numpy as np

from kajitori.scheduler import framework

CONTROL_PLANE_TAINT = "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"


def test_fit_error_counts_reasons_per_node_and_sorts_them_as_strings() -> None:
    diagnosis = framework.Diagnosis(groups=[
        (np.array([0]), framework.unresolvable(CONTROL_PLANE_TAINT)),
        (np.array([1, 2]), framework.unschedulable("Insufficient cpu"))])
    diagnosis.post_filter_msg = "preemption: 0/3 nodes are available: 1 Preemption is not " \
        "helpful for scheduling, 2 No preemption victims found for incoming pod."
    assert framework.fit_error_message(3, diagnosis) == (
        "0/3 nodes are available: 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes "
        "are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims "
        "found for incoming pod.")


def test_fit_error_counts_each_reason_of_a_node_and_sorts_10_before_2() -> None:
    diagnosis = framework.Diagnosis(groups=[
        (np.arange(10), framework.unschedulable("Insufficient cpu", "Insufficient memory")),
        (np.array([10, 11]), framework.unschedulable("Too many pods"))])
    assert framework.fit_error_message(12, diagnosis) == (
        "0/12 nodes are available: 10 Insufficient cpu, 10 Insufficient memory, "
        "2 Too many pods.")


def test_fit_error_counts_absent_nodes_with_the_absent_status() -> None:
    diagnosis = framework.Diagnosis(
        groups=[(np.array([3]), framework.unschedulable("Insufficient cpu"))],
        absent_status=framework.unresolvable("node(s) didn't satisfy plugin(s) [NodeAffinity]"))
    assert framework.fit_error_message(4, diagnosis) == (
        "0/4 nodes are available: 1 Insufficient cpu, 3 node(s) didn't satisfy plugin(s) "
        "[NodeAffinity].")


def test_fit_error_of_a_prefilter_shows_only_its_message() -> None:
    diagnosis = framework.Diagnosis(pre_filter_msg="pod affinity terms conflict",
                                    absent_status=framework.unresolvable("x"))
    assert framework.fit_error_message(5, diagnosis) == \
        "0/5 nodes are available: pod affinity terms conflict."


def test_feasible_nodes_to_find_adapts_to_cluster_size() -> None:
    assert framework.num_feasible_nodes_to_find(0, 50) == 50
    assert framework.num_feasible_nodes_to_find(0, 500) == 230  # 46 %
    assert framework.num_feasible_nodes_to_find(0, 5000) == 500  # 10 %
    assert framework.num_feasible_nodes_to_find(0, 10000) == 500  # at least 5 %
    assert framework.num_feasible_nodes_to_find(1, 5000) == 100  # never under 100
    assert framework.num_feasible_nodes_to_find(100, 5000) == 5000


def test_default_normalize_score_scales_by_the_maximum_and_reverses() -> None:
    scores = np.array([0, 1, 3], dtype=np.int64)
    assert framework.default_normalize_score(scores, reverse=False).tolist() == [0, 33, 100]
    assert framework.default_normalize_score(scores, reverse=True).tolist() == [100, 67, 0]
    zeros = np.zeros(2, dtype=np.int64)
    assert framework.default_normalize_score(zeros, reverse=True).tolist() == [100, 100]
