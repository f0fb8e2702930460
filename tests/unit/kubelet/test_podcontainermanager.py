"""The pod cgroup's resources for the tutorials' pods (upstream ResourceConfigForPod), and the
directories and files `ensure_exists` writes under a stand-in cgroup root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kajitori.kubelet import podcontainermanager

Obj = dict[str, Any]


def _pod(*containers: Obj, init: tuple[Obj, ...] = (), uid: str = "u1") -> Obj:
    return {"metadata": {"name": "p", "namespace": "default", "uid": uid},
            "spec": {"containers": list(containers), "initContainers": list(init)}}


def _ctr(name: str, *, requests: Obj | None = None, limits: Obj | None = None) -> Obj:
    resources: Obj = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return {"name": name, "resources": resources}


def test_cpu_demo_gets_half_a_cpu_of_shares_and_one_cpu_of_quota() -> None:
    pod = _pod(_ctr("cpu-demo-ctr", requests={"cpu": "500m"}, limits={"cpu": "1"}))
    config = podcontainermanager.resource_config_for_pod(pod)
    assert config == podcontainermanager.ResourceConfig(
        cpu_shares=512, cpu_quota=100_000, cpu_period=100_000, memory_limit=None)


def test_a_guaranteed_pod_gets_shares_quota_and_memory_limit() -> None:
    limits = {"cpu": "700m", "memory": "200Mi"}
    pod = _pod(_ctr("qos-demo-ctr", requests=limits, limits=limits))
    config = podcontainermanager.resource_config_for_pod(pod)
    assert config == podcontainermanager.ResourceConfig(
        cpu_shares=716, cpu_quota=70_000, cpu_period=100_000, memory_limit=209_715_200)


def test_a_burstable_pod_gets_a_memory_limit_only_when_every_container_has_one() -> None:
    limited = _ctr("a", requests={"memory": "50Mi"}, limits={"memory": "100Mi"})
    assert podcontainermanager.resource_config_for_pod(_pod(limited)).memory_limit == 104_857_600
    open_ended = _ctr("b", requests={"memory": "200Mi"})
    config = podcontainermanager.resource_config_for_pod(_pod(limited, open_ended))
    assert config == podcontainermanager.ResourceConfig(cpu_shares=2)


def test_the_largest_init_container_bounds_the_pod_when_bigger_than_the_sum() -> None:
    pod = _pod(_ctr("app", limits={"memory": "100Mi"}),
               init=(_ctr("init", limits={"memory": "300Mi"}),))
    assert podcontainermanager.resource_config_for_pod(pod).memory_limit == 300 * 2**20


def test_a_best_effort_pod_gets_the_minimum_shares() -> None:
    config = podcontainermanager.resource_config_for_pod(_pod({"name": "qos-demo-3-ctr"}))
    assert config == podcontainermanager.ResourceConfig(cpu_shares=2)


def test_ensure_exists_writes_the_pod_cgroup_under_its_qos_tier(tmp_path: Path) -> None:
    for controller in ("cpu", "memory"):
        (tmp_path / controller).mkdir()
    pod = _pod(_ctr("c", requests={"cpu": "500m", "memory": "50Mi"},
                    limits={"cpu": "1", "memory": "100Mi"}), uid="abc")
    podcontainermanager.ensure_exists(pod, cgroup_root=tmp_path)
    cpu = tmp_path / "cpu/kubepods/burstable/podabc"
    memory = tmp_path / "memory/kubepods/burstable/podabc"
    assert (cpu / "cpu.shares").read_text() == "512"
    assert (cpu / "cpu.cfs_period_us").read_text() == "100000"
    assert (cpu / "cpu.cfs_quota_us").read_text() == "100000"
    assert (memory / "memory.limit_in_bytes").read_text() == "104857600"
    assert (memory / "memory.oom_control").read_text() == "1"
    assert not (tmp_path / "pids").exists()


def test_ensure_exists_puts_a_guaranteed_pod_right_under_kubepods(tmp_path: Path) -> None:
    (tmp_path / "cpu").mkdir()
    limits = {"cpu": "1", "memory": "1Gi"}
    podcontainermanager.ensure_exists(_pod(_ctr("c", requests=limits, limits=limits),
                                           uid="g"), cgroup_root=tmp_path)
    assert (tmp_path / "cpu/kubepods/podg/cpu.cfs_quota_us").read_text() == "100000"
