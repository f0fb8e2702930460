"""The kubelet's log reader on CRI log files written by the test, and the container choice."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from kajitori.kubelet import logs

T0 = "2026-11-25T15:37:31.000000001Z"
T1 = "2026-11-25T15:37:32.5Z"
T2 = "2026-11-25T16:37:33.123456789+01:00"
LINES = [
    f"{T0} stdout F first",
    f"{T1} stderr P sec",
    f"{T1} stderr F ond",
    f"{T2} stdout F third",
]


def write_log(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


async def read(path: Path, options: logs.LogOptions, *,
               running: bool = False) -> bytes:
    out: list[bytes] = []

    async def write(data: bytes) -> None:
        out.append(data)

    async def is_running() -> bool:
        return running

    await logs.read_logs(path, options, write, is_running=is_running)
    return b"".join(out)


async def test_partial_lines_are_joined(tmp_path: Path) -> None:
    path = write_log(tmp_path / "0.log", LINES)
    assert await read(path, logs.LogOptions()) == b"first\nsecond\nthird\n"


async def test_timestamps_are_printed_fixed_width_once_per_line(tmp_path: Path) -> None:
    path = write_log(tmp_path / "0.log", LINES)
    assert await read(path, logs.LogOptions(timestamps=True)) == (
        b"2026-11-25T15:37:31.000000001Z first\n"
        b"2026-11-25T15:37:32.500000000Z second\n"
        b"2026-11-25T16:37:33.123456789+01:00 third\n")


async def test_tail_counts_lines_from_the_end(tmp_path: Path) -> None:
    path = write_log(tmp_path / "0.log", LINES)
    assert await read(path, logs.LogOptions(tail_lines=1)) == b"third\n"
    assert await read(path, logs.LogOptions(tail_lines=0)) == b""
    assert await read(path, logs.LogOptions(tail_lines=10)) == b"first\nsecond\nthird\n"


async def test_since_skips_older_lines(tmp_path: Path) -> None:
    path = write_log(tmp_path / "0.log", LINES)
    since = logs.parse_timestamp_ns(T1.encode())
    assert await read(path, logs.LogOptions(since_ns=since)) == b"second\nthird\n"


async def test_limit_bytes_truncates(tmp_path: Path) -> None:
    path = write_log(tmp_path / "0.log", LINES)
    assert await read(path, logs.LogOptions(limit_bytes=9)) == b"first\nsec"


async def test_malformed_lines_are_skipped(tmp_path: Path) -> None:
    path = write_log(tmp_path / "0.log", ["garbage", f"{T0} stdout F ok", f"{T0} stdin F no"])
    assert await read(path, logs.LogOptions()) == b"ok\n"


async def test_follow_reads_new_lines_until_the_container_exits(tmp_path: Path) -> None:
    path = write_log(tmp_path / "0.log", LINES[:1])
    out: list[bytes] = []
    running = True
    got_first = asyncio.Event()

    async def write(data: bytes) -> None:
        out.append(data)
        got_first.set()

    async def is_running() -> bool:
        return running

    reader = asyncio.create_task(logs.read_logs(path, logs.LogOptions(follow=True), write,
                                                is_running=is_running))
    await got_first.wait()
    with path.open("a") as f:
        f.write(f"{T2} stdout F later\n")
    running = False  # the exit is seen only once the file is read to its end
    await asyncio.wait_for(reader, 10)
    assert b"".join(out) == b"first\nlater\n"


async def test_follow_goes_on_in_the_rotated_file(tmp_path: Path) -> None:
    path = write_log(tmp_path / "0.log", LINES[:1])
    out: list[bytes] = []
    running = True
    seen = asyncio.Event()

    async def write(data: bytes) -> None:
        out.append(data)
        seen.set()

    async def is_running() -> bool:
        return running

    reader = asyncio.create_task(logs.read_logs(path, logs.LogOptions(follow=True), write,
                                                is_running=is_running))
    await seen.wait()
    path.rename(tmp_path / "0.log.20261125-153731")
    write_log(path, [f"{T2} stdout F rotated"])
    while b"rotated\n" not in b"".join(out):
        seen.clear()
        await seen.wait()
    running = False
    await asyncio.wait_for(reader, 10)
    assert b"".join(out) == b"first\nrotated\n"


async def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await read(tmp_path / "nope.log", logs.LogOptions())


def test_options_from_query() -> None:
    now = 100 * 1_000_000_000
    options, previous = logs.options_from_query(
        {"follow": "true", "previous": "true", "timestamps": "true", "sinceSeconds": "10",
         "tailLines": "2", "limitBytes": "5"}, now_ns=now)
    assert previous
    assert options == logs.LogOptions(follow=True, timestamps=True, since_ns=90 * 10**9,
                                      tail_lines=2, limit_bytes=5)
    options, previous = logs.options_from_query({"sinceTime": "1970-01-01T00:01:00Z"},
                                                now_ns=now)
    assert (options.since_ns, previous) == (60 * 10**9, False)
    with pytest.raises(logs.LogError):
        logs.options_from_query({"tailLines": "x"}, now_ns=now)


def pod_with(status: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "p"}, "status": {"containerStatuses": [
        {"name": "c", **status}]}}


def test_running_container_is_chosen() -> None:
    pod = pod_with({"containerID": "containerd://abc", "state": {"running": {}}})
    assert logs.log_container_id(pod, "c", previous=False) == "abc"


def test_previous_names_the_last_terminated_container() -> None:
    pod = pod_with({"containerID": "containerd://new", "state": {"running": {}},
                    "lastState": {"terminated": {"containerID": "containerd://old"}}})
    assert logs.log_container_id(pod, "c", previous=True) == "old"


def test_previous_without_a_terminated_container_is_refused() -> None:
    pod = pod_with({"containerID": "containerd://new", "state": {"running": {}}})
    with pytest.raises(logs.LogError,
                       match=r'^previous terminated container "c" in pod "p" not found$'):
        logs.log_container_id(pod, "c", previous=True)


def test_waiting_container_is_refused_with_its_reason() -> None:
    pod = pod_with({"state": {"waiting": {"reason": "ContainerCreating"}}})
    with pytest.raises(logs.LogError, match=r'^container "c" in pod "p" is waiting to start: '
                                            r'ContainerCreating$'):
        logs.log_container_id(pod, "c", previous=False)
    pod = pod_with({"state": {"waiting": {"reason": "ImagePullBackOff"}}})
    with pytest.raises(logs.LogError, match=r"trying and failing to pull image$"):
        logs.log_container_id(pod, "c", previous=False)


def test_crash_looping_container_shows_its_last_run() -> None:
    pod = pod_with({"state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"containerID": "containerd://old"}}})
    assert logs.log_container_id(pod, "c", previous=False) == "old"
    pod = pod_with({"containerID": "containerd://done", "state": {"terminated": {
        "containerID": "containerd://done"}}})
    assert logs.log_container_id(pod, "c", previous=False) == "done"


def test_unknown_container_is_not_available() -> None:
    with pytest.raises(logs.LogError, match=r'^container "x" in pod "p" is not available$'):
        logs.log_container_id(pod_with({}), "x", previous=False)
