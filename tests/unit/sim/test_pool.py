"""Pool configs: defaults, derived allocatable, zones, names, and every error at its path."""

from __future__ import annotations

from pathlib import Path

import pytest

from kajitori.sim import pool


def test_default_pool_is_a_kubeadm_sized_worker() -> None:
    (only,) = pool.default_pools(3)
    assert only.name == "default"
    assert only.count == 3
    assert only.capacity == {"cpu": "4", "memory": "16Gi", "pods": "110",
                             "ephemeral-storage": "100Gi"}
    # Capacity minus the kubelet's default hard eviction thresholds.
    assert only.allocatable == {"cpu": "4", "memory": "16284Mi", "pods": "110",
                                "ephemeral-storage": "90Gi"}
    assert [only.node_name(i) for i in range(3)] == [
        "sim-default-0", "sim-default-1", "sim-default-2"]


def test_pool_capacity_overrides_defaults_and_keeps_extended_resources() -> None:
    (gpu,) = pool.parse_pools({"pools": [{
        "name": "gpu", "count": 2,
        "capacity": {"cpu": 64, "memory": "256Gi", "nvidia.com/gpu": 8,
                     "example.com/dongle": "2"},
        "allocatable": {"cpu": "63500m"},
        "labels": {"node.kubernetes.io/instance-type": "p4d.24xlarge",
                   "topology.kubernetes.io/region": "eu-west-1"},
        "taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"},
                   {"key": "dedicated", "value": "ml", "effect": "NoExecute"}],
    }]}, source="pool.yaml")
    assert gpu.capacity["cpu"] == "64"
    assert gpu.capacity["pods"] == "110"
    assert gpu.capacity["nvidia.com/gpu"] == "8"
    assert gpu.allocatable["cpu"] == "63500m"
    assert gpu.allocatable["example.com/dongle"] == "2"
    assert gpu.allocatable["memory"] == "262044Mi"
    assert gpu.taints == ({"key": "nvidia.com/gpu", "effect": "NoSchedule"},
                          {"key": "dedicated", "value": "ml", "effect": "NoExecute"})
    assert gpu.node_labels(0)["topology.kubernetes.io/region"] == "eu-west-1"


def test_zones_are_spread_round_robin() -> None:
    (spread,) = pool.parse_pools({"pools": [{"name": "a", "count": 4,
                                             "zones": ["z1", "z2", "z3"]}]}, source="x")
    assert [spread.node_labels(i)["topology.kubernetes.io/zone"] for i in range(4)] == [
        "z1", "z2", "z3", "z1"]


def test_every_problem_is_reported_at_its_path() -> None:
    with pytest.raises(pool.PoolConfigError) as caught:
        pool.parse_pools({"pools": [
            {"name": "Big_Pool", "count": -1, "capacity": {"cpu": "lots"}},
            {"name": "ok", "count": 1, "capacity": {"example.com/dongle": "1.5"},
             "taints": [{"key": "k", "effect": "Sometimes"}], "colour": "red"},
            {"name": "ok", "count": 1},
        ]}, source="pool.yaml")
    lines = str(caught.value).splitlines()
    assert lines == [
        'pool.yaml: pools[0].name: Invalid value: "Big_Pool": a lowercase RFC 1123 label '
        "must consist of lower case alphanumeric characters or '-', and must start and end "
        "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
        "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        "pool.yaml: pools[0].count: Invalid value: -1: must be a non-negative integer",
        'pool.yaml: pools[0].capacity.cpu: Invalid value: "lots": quantities must match the '
        "regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        'pool.yaml: pools[1].colour: Unsupported value: "colour": supported values: '
        '"allocatable", "capacity", "count", "labels", "name", "taints", "zones"',
        'pool.yaml: pools[1].capacity.example.com/dongle: Invalid value: "1.5": must be an '
        "integer",
        'pool.yaml: pools[1].taints[0].effect: Unsupported value: "Sometimes": supported '
        'values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
        'pool.yaml: pools[2].name: Duplicate value: "ok"',
    ]


def test_a_config_without_pools_is_refused() -> None:
    with pytest.raises(pool.PoolConfigError, match="pools: Required value"):
        pool.parse_pools({"nodes": 3}, source="pool.yaml")


def test_zones_and_a_zone_label_conflict() -> None:
    with pytest.raises(pool.PoolConfigError, match=r"pools\[0\].zones: Forbidden"):
        pool.parse_pools({"pools": [{"name": "a", "count": 1, "zones": ["z"],
                                     "labels": {"topology.kubernetes.io/zone": "z"}}]},
                         source="x")


def test_node_names_must_fit_a_hostname_label() -> None:
    with pytest.raises(pool.PoolConfigError, match="longer than 63 characters"):
        pool.parse_pools({"pools": [{"name": "p" * 60, "count": 10}]}, source="x")


def test_load_pools_checks_the_node_count(tmp_path: Path) -> None:
    config = tmp_path / "pool.yaml"
    config.write_text("pools:\n- {name: a, count: 2}\n- {name: b, count: 3}\n")
    assert [p.count for p in pool.load_pools(config)] == [2, 3]
    assert len(pool.load_pools(config, nodes=5)) == 2
    with pytest.raises(pool.PoolConfigError, match="hold 5 nodes but 4 were asked for"):
        pool.load_pools(config, nodes=4)


def test_load_pools_reports_unparsable_yaml(tmp_path: Path) -> None:
    config = tmp_path / "pool.yaml"
    config.write_text("pools: [\n")
    with pytest.raises(pool.PoolConfigError, match=str(config)):
        pool.load_pools(config)
