"""Container log rotation over the in-memory runtime and a temporary log directory: a big
log is renamed with its timestamp and reopened, older rotated files are compressed, at most
containerLogMaxFiles files stay, leftovers of an interrupted rotation go, a failed reopen
renames the file back, and `kubectl logs`' reader sees only the current file."""

from __future__ import annotations

import datetime
import gzip
from pathlib import Path

import pytest
from cri_api.v1 import api_pb2
from fakeruntime import FakeRuntime

from kajitori.kubelet import logrotation, logs, runtime

MAX_SIZE = 100
LINE = b"2026-01-01T00:00:00.000000000Z stdout F hello\n"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)

    def __call__(self) -> datetime.datetime:
        return self.now

    def tick(self) -> None:
        self.now += datetime.timedelta(seconds=1)


async def _container(rt: FakeRuntime, log_dir: Path, *, running: bool = True) -> str:
    sandbox = await rt.run_pod_sandbox(api_pb2.PodSandboxConfig(
        metadata=api_pb2.PodSandboxMetadata(name="p", namespace="default", uid="u1"),
        log_directory=str(log_dir)))
    container = await rt.create_container(sandbox, api_pb2.ContainerConfig(
        metadata=api_pb2.ContainerMetadata(name="c"), log_path="c/0.log"),
        api_pb2.PodSandboxConfig())
    if running:
        await rt.start_container(container)
    (log_dir / "c").mkdir(parents=True, exist_ok=True)
    return container


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _manager(rt: FakeRuntime, clock: Clock, *, max_files: int = 5
             ) -> logrotation.ContainerLogManager:
    return logrotation.ContainerLogManager(rt, max_size=MAX_SIZE, max_files=max_files,
                                           clock=clock)


async def test_a_log_over_the_max_size_is_renamed_with_its_time_and_reopened(
        tmp_path: Path) -> None:
    rt, clock = FakeRuntime(), Clock()
    container = await _container(rt, tmp_path)
    current = tmp_path / "c" / "0.log"
    current.write_bytes(LINE * 3)  # 138 bytes
    await _manager(rt, clock).rotate_logs()
    assert _files(tmp_path / "c") == ["0.log.20260102-030405"]
    assert rt.verbs("reopen_container_log") == [container]


async def test_a_log_under_the_max_size_and_an_exited_container_are_left_alone(
        tmp_path: Path) -> None:
    rt, clock = FakeRuntime(), Clock()
    await _container(rt, tmp_path)
    (tmp_path / "c" / "0.log").write_bytes(LINE)
    other = tmp_path / "other"
    await _container(rt, other, running=False)
    (other / "c" / "0.log").write_bytes(LINE * 10)
    await _manager(rt, clock).rotate_logs()
    assert _files(tmp_path / "c") == ["0.log"]
    assert _files(other / "c") == ["0.log"]
    assert rt.verbs("reopen_container_log") == []


async def test_rotations_keep_max_files_the_older_ones_compressed(tmp_path: Path) -> None:
    rt, clock = FakeRuntime(), Clock()
    await _container(rt, tmp_path)
    manager = _manager(rt, clock, max_files=3)
    current = tmp_path / "c" / "0.log"
    for run in range(4):
        current.write_bytes(LINE * 3 + str(run).encode())
        await manager.rotate_logs()
        clock.tick()
    current.write_bytes(LINE)  # what the runtime reopened
    # The current file, the last rotated one plain, one older compressed: 3 in all.
    assert _files(tmp_path / "c") == ["0.log", "0.log.20260102-030407.gz",
                                      "0.log.20260102-030408"]
    with gzip.open(tmp_path / "c" / "0.log.20260102-030407.gz") as f:
        assert f.read() == LINE * 3 + b"2"


async def test_leftovers_of_an_interrupted_rotation_are_removed(tmp_path: Path) -> None:
    rt, clock = FakeRuntime(), Clock()
    await _container(rt, tmp_path)
    directory = tmp_path / "c"
    (directory / "0.log").write_bytes(LINE * 3)
    (directory / "0.log.20260101-000000").write_bytes(b"compressed already")
    (directory / "0.log.20260101-000000.gz").write_bytes(gzip.compress(b"compressed already"))
    (directory / "0.log.20260101-000001.gz.tmp").write_bytes(b"half")
    await _manager(rt, clock).rotate_logs()
    assert _files(directory) == ["0.log.20260101-000000.gz", "0.log.20260102-030405"]


async def test_a_failed_reopen_gives_the_file_its_name_back(tmp_path: Path) -> None:
    class Failing(FakeRuntime):
        async def reopen_container_log(self, container_id: str) -> None:
            raise runtime.CRIError("UNKNOWN", "cannot reopen")

    rt, clock = Failing(), Clock()
    container = await _container(rt, tmp_path)
    (tmp_path / "c" / "0.log").write_bytes(LINE * 3)
    with pytest.raises(runtime.CRIError, match="cannot reopen"):
        await _manager(rt, clock).rotate_log(container, tmp_path / "c" / "0.log")
    assert _files(tmp_path / "c") == ["0.log"]


async def test_a_missing_current_file_is_reopened(tmp_path: Path) -> None:
    rt, clock = FakeRuntime(), Clock()
    container = await _container(rt, tmp_path)
    await _manager(rt, clock).rotate_logs()
    assert rt.verbs("reopen_container_log") == [container]


async def test_clean_removes_every_file_of_the_container(tmp_path: Path) -> None:
    rt, clock = FakeRuntime(), Clock()
    container = await _container(rt, tmp_path)
    directory = tmp_path / "c"
    for name in ("0.log", "0.log.20260101-000000.gz", "0.log.20260101-000001", "1.log"):
        (directory / name).write_bytes(LINE)
    await _manager(rt, clock).clean(container)
    assert _files(directory) == ["1.log"]


async def test_logs_read_the_current_file_after_a_rotation(tmp_path: Path) -> None:
    rt, clock = FakeRuntime(), Clock()
    container = await _container(rt, tmp_path)
    current = tmp_path / "c" / "0.log"
    current.write_bytes(LINE * 3)
    await _manager(rt, clock).rotate_log(container, current)
    current.write_bytes(b"2026-01-01T00:00:01.000000000Z stdout F after\n")
    out: list[bytes] = []

    async def write(data: bytes) -> None:
        out.append(data)

    async def is_running() -> bool:
        return True

    await logs.read_logs(current, logs.LogOptions(), write, is_running=is_running)
    assert b"".join(out) == b"after\n"


def test_settings_are_checked_as_upstream() -> None:
    assert logrotation.parse_max_size("10Mi") == 10 * 2**20
    with pytest.raises(ValueError, match="invalid MaxFiles 1, must be > 1"):
        logrotation.ContainerLogManager(FakeRuntime(), max_size=1, max_files=1)
