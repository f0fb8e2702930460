"""Reading and setting a v1 memory cgroup's OOM control (a stand-in directory)."""

from __future__ import annotations

from pathlib import Path

from kajitori.kubelet import oomgroup


def test_under_oom_reads_the_flag(tmp_path: Path) -> None:
    control = tmp_path / "memory.oom_control"
    control.write_text("oom_kill_disable 1\nunder_oom 1\noom_kill 0\n")
    assert oomgroup.under_oom(tmp_path)
    control.write_text("oom_kill_disable 1\nunder_oom 0\noom_kill 0\n")
    assert not oomgroup.under_oom(tmp_path)


def test_a_gone_cgroup_is_not_under_oom(tmp_path: Path) -> None:
    assert not oomgroup.under_oom(tmp_path / "gone")


def test_enable_disables_the_kernel_oom_killer(tmp_path: Path) -> None:
    oomgroup.enable(tmp_path)
    assert (tmp_path / "memory.oom_control").read_text() == "1"


def test_a_container_cgroup_is_under_its_parent() -> None:
    path = oomgroup.container_memory_cgroup(Path("/sys/fs/cgroup"), "/kubepods/podu", "c1")
    assert path == Path("/sys/fs/cgroup/memory/kubepods/podu/c1")
