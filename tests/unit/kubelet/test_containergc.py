"""Container garbage collection over the in-memory runtime: the newest dead container per
(pod, container) stays with its log, older ones go with theirs; a deleted pod's containers,
sandboxes and log directory go once the sources are ready; a live pod keeps its newest
sandbox; MaxContainers trims the node's dead containers."""

from __future__ import annotations

from pathlib import Path

from cri_api.v1 import api_pb2
from fakeruntime import FakeRuntime

from kajitori.kubelet import containergc, logrotation, runtime

SECOND = 1_000_000_000


class PodState:
    def __init__(self, *, gone: set[str] = frozenset(), terminated: set[str] = frozenset()
                 ) -> None:
        self.gone = set(gone)
        self.terminated = set(terminated)

    def should_pod_content_be_removed(self, pod_uid: str) -> bool:
        return pod_uid in self.gone

    def should_pod_runtime_be_removed(self, pod_uid: str) -> bool:
        return pod_uid in self.gone or pod_uid in self.terminated


class Node:
    """A fake runtime with pods whose logs live under `log_root`, as the kubelet lays out."""

    def __init__(self, root: Path) -> None:
        self.rt = FakeRuntime()
        self.log_root = root / "logs" / "pods"
        self.state = PodState()
        self.sources_ready = True
        self.logs = logrotation.ContainerLogManager(self.rt, max_size=1, max_files=2)
        self.gc = containergc.ContainerGC(
            self.rt, logs=self.logs, pod_state=self.state, log_root=self.log_root,
            sources_ready=lambda: self.sources_ready,
            wall_clock=lambda: self.rt.now_ns / SECOND)

    def pod_dir(self, uid: str) -> Path:
        return self.log_root / f"default_pod-{uid}_{uid}"

    async def sandbox(self, uid: str, *, attempt: int = 0) -> str:
        self.rt.now_ns += SECOND
        self.pod_dir(uid).mkdir(parents=True, exist_ok=True)
        return await self.rt.run_pod_sandbox(api_pb2.PodSandboxConfig(
            metadata=api_pb2.PodSandboxMetadata(name=f"pod-{uid}", namespace="default",
                                                uid=uid, attempt=attempt),
            labels={runtime.POD_UID_LABEL: uid}, log_directory=str(self.pod_dir(uid))))

    async def run(self, sandbox: str, uid: str, name: str, restarts: int, *,
                  exit_code: int | None = 1) -> str:
        """A run of container `name`, with its log file; exited unless exit_code is None."""
        self.rt.now_ns += SECOND
        log_path = f"{name}/{restarts}.log"
        container = await self.rt.create_container(sandbox, api_pb2.ContainerConfig(
            metadata=api_pb2.ContainerMetadata(name=name, attempt=restarts),
            labels={runtime.POD_UID_LABEL: uid, runtime.CONTAINER_NAME_LABEL: name},
            log_path=log_path), api_pb2.PodSandboxConfig())
        await self.rt.start_container(container)
        (self.pod_dir(uid) / name).mkdir(exist_ok=True)
        (self.pod_dir(uid) / log_path).write_text(f"run {restarts}\n")
        if exit_code is not None:
            self.rt.exit(container, exit_code)
        return container

    def log_files(self, uid: str, name: str) -> list[str]:
        return sorted(p.name for p in (self.pod_dir(uid) / name).iterdir())


async def test_the_newest_dead_run_stays_with_its_log_older_ones_go(tmp_path: Path) -> None:
    node = Node(tmp_path)
    sandbox = await node.sandbox("u1")
    await node.run(sandbox, "u1", "app", 0)
    await node.run(sandbox, "u1", "app", 1)
    third = await node.run(sandbox, "u1", "app", 2)
    running = await node.run(sandbox, "u1", "app", 3, exit_code=None)
    await node.gc.collect()
    assert set(node.rt.containers) == {third, running}
    assert node.rt.verbs("remove_container") == ["app", "app"]
    assert node.log_files("u1", "app") == ["2.log", "3.log"]


async def test_each_container_of_a_pod_keeps_its_own_last_run(tmp_path: Path) -> None:
    node = Node(tmp_path)
    sandbox = await node.sandbox("u1")
    await node.run(sandbox, "u1", "a", 0)
    a_last = await node.run(sandbox, "u1", "a", 1)
    b_only = await node.run(sandbox, "u1", "b", 0, exit_code=0)
    await node.gc.collect()
    assert set(node.rt.containers) == {a_last, b_only}


async def test_a_deleted_pod_loses_containers_sandboxes_and_log_directory(
        tmp_path: Path) -> None:
    node = Node(tmp_path)
    old_sandbox = await node.sandbox("gone")
    await node.run(old_sandbox, "gone", "app", 0)
    await node.rt.stop_pod_sandbox(old_sandbox)
    kept_sandbox = await node.sandbox("live")
    kept = await node.run(kept_sandbox, "live", "app", 0)
    node.state.gone.add("gone")
    await node.gc.collect()
    assert set(node.rt.containers) == {kept}
    assert set(node.rt.sandboxes) == {kept_sandbox}
    assert not node.pod_dir("gone").exists()
    assert node.pod_dir("live").exists()


async def test_nothing_of_an_unknown_pod_goes_before_the_sources_are_ready(
        tmp_path: Path) -> None:
    node = Node(tmp_path)
    sandbox = await node.sandbox("gone")
    await node.run(sandbox, "gone", "app", 0)
    last = await node.run(sandbox, "gone", "app", 1)
    await node.rt.stop_pod_sandbox(sandbox)
    node.state.gone.add("gone")
    node.sources_ready = False
    await node.gc.collect()
    assert set(node.rt.containers) == {last}  # the per-container limit still applies
    assert set(node.rt.sandboxes) == {sandbox}
    assert node.pod_dir("gone").exists()


async def test_a_live_pod_keeps_its_newest_sandbox_and_loses_older_empty_ones(
        tmp_path: Path) -> None:
    node = Node(tmp_path)
    first = await node.sandbox("u1")
    await node.rt.stop_pod_sandbox(first)
    second = await node.sandbox("u1", attempt=1)
    await node.rt.stop_pod_sandbox(second)
    await node.gc.collect()
    assert set(node.rt.sandboxes) == {second}


async def test_a_dead_sandbox_with_containers_stays(tmp_path: Path) -> None:
    node = Node(tmp_path)
    first = await node.sandbox("u1")
    await node.run(first, "u1", "app", 0)
    await node.rt.stop_pod_sandbox(first)
    await node.sandbox("u1", attempt=1)
    await node.gc.collect()
    assert first in node.rt.sandboxes


async def test_terminated_pods_go_only_when_eviction_asks(tmp_path: Path) -> None:
    node = Node(tmp_path)
    sandbox = await node.sandbox("done")
    last = await node.run(sandbox, "done", "app", 0, exit_code=0)
    await node.rt.stop_pod_sandbox(sandbox)
    node.state.terminated.add("done")
    await node.gc.collect()
    assert set(node.rt.containers) == {last}
    await node.gc.delete_all_unused_containers()
    assert node.rt.containers == {}
    assert node.rt.sandboxes == {}
    assert node.pod_dir("done").exists()  # its pod still exists: so do its logs


async def test_min_age_keeps_young_dead_containers(tmp_path: Path) -> None:
    node = Node(tmp_path)
    node.gc.policy = containergc.GCPolicy(min_age=10.0)
    sandbox = await node.sandbox("u1")
    await node.run(sandbox, "u1", "app", 0)
    await node.run(sandbox, "u1", "app", 1)
    await node.gc.collect()
    assert len(node.rt.containers) == 2


async def test_max_containers_trims_the_node_oldest_first(tmp_path: Path) -> None:
    node = Node(tmp_path)
    node.gc.policy = containergc.GCPolicy(max_per_pod_container=-1, max_containers=2)
    sandbox = await node.sandbox("u1")
    await node.run(sandbox, "u1", "a", 0)
    await node.run(sandbox, "u1", "a", 1)
    await node.run(sandbox, "u1", "b", 0)
    b_newest = await node.run(sandbox, "u1", "b", 1)
    c_only = await node.run(sandbox, "u1", "c", 0)
    await node.gc.collect()
    # An even share is one each (a1, b1, c0); of those the two newest stay.
    assert set(node.rt.containers) == {b_newest, c_only}


async def test_containers_and_sandboxes_without_a_pod_uid_are_left_alone(
        tmp_path: Path) -> None:
    node = Node(tmp_path)
    sandbox = await node.rt.run_pod_sandbox(api_pb2.PodSandboxConfig())
    first = await node.rt.create_container(sandbox, api_pb2.ContainerConfig(
        metadata=api_pb2.ContainerMetadata(name="other")), api_pb2.PodSandboxConfig())
    node.rt.now_ns += SECOND
    second = await node.rt.create_container(sandbox, api_pb2.ContainerConfig(
        metadata=api_pb2.ContainerMetadata(name="other")), api_pb2.PodSandboxConfig())
    await node.rt.stop_pod_sandbox(sandbox)
    await node.gc.collect()
    assert set(node.rt.containers) == {first, second}
    assert set(node.rt.sandboxes) == {sandbox}
