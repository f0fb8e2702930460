"""What the SQLite backend promises beyond the conformance suite: durability, group commit,
compaction, one process per file, slow watchers, close."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kajitori.storage import errors
from kajitori.storage.interface import Obj
from kajitori.storage.sqlite import SQLiteStore

DEFAULT = "/registry/pods/default/"

# Writes forever from 20 coroutines, printing "key revision" for each acknowledged create.
DURABILITY_CHILD = """
import asyncio, sys
from kajitori.storage.sqlite import SQLiteStore

async def write(store, writer):
    for i in range(1_000_000):
        key = f"/registry/pods/default/w{writer}-{i}"
        obj = await store.create(key, {"metadata": {"name": f"w{writer}-{i}", "uid": key}})
        print(key, obj["metadata"]["resourceVersion"], flush=True)

async def main(path):
    store = await SQLiteStore.open(path)
    await asyncio.gather(*(write(store, w) for w in range(20)))

asyncio.run(main(sys.argv[1]))
"""
ACKNOWLEDGED_BEFORE_KILL = 300


def pod(name: str, **labels: str) -> Obj:
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}",
                         "labels": labels}, "spec": {"nodeName": ""}}


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    child = subprocess.Popen([sys.executable, "-c", DURABILITY_CHILD, path],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    acknowledged: list[str] = []
    try:
        while len(acknowledged) < ACKNOWLEDGED_BEFORE_KILL:
            line = child.stdout.readline()
            if not line:
                pytest.fail(f"writer exited early: {child.communicate()[1]}")
            acknowledged.append(line)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        rest, _ = child.communicate()
    acknowledged += rest.splitlines(keepends=True)
    written = dict(line.split() for line in acknowledged if line.endswith("\n"))

    async def reopen() -> dict[str, str]:
        async with await SQLiteStore.open(path) as store:
            found = {}
            for key in written:
                with contextlib.suppress(errors.KeyNotFound):
                    found[key] = (await store.get(key))["metadata"]["resourceVersion"]
            return found

    assert child.returncode == -signal.SIGKILL
    assert asyncio.run(reopen()) == written


async def test_concurrent_writers_share_commits(tmp_path: Path) -> None:
    async with await SQLiteStore.open(str(tmp_path / "state.db")) as store:
        await asyncio.gather(*(store.create(f"{DEFAULT}p{i}", pod(f"p{i}")) for i in range(50)))

        assert store.current_revision() == 50
        assert store.commits < 50


async def test_close_commits_writes_already_queued(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    store = await SQLiteStore.open(path)
    creates = [store.create(f"{DEFAULT}p{i}", pod(f"p{i}")) for i in range(20)]

    await asyncio.gather(*creates, store.close())

    async with await SQLiteStore.open(path) as reopened:
        assert len((await reopened.list(DEFAULT)).items) == 20


async def test_cancelled_writer_still_commits(tmp_path: Path) -> None:
    async with await SQLiteStore.open(str(tmp_path / "state.db")) as store:
        cancelled = asyncio.ensure_future(store.create(f"{DEFAULT}a", pod("a")))
        await asyncio.sleep(0)  # let it queue its write
        cancelled.cancel()
        await store.create(f"{DEFAULT}b", pod("b"))

        assert (await store.get(f"{DEFAULT}a"))["metadata"]["resourceVersion"] == "1"


async def test_stored_object_shares_nothing_with_callers(tmp_path: Path) -> None:
    async with await SQLiteStore.open(str(tmp_path / "state.db")) as store:
        obj = pod("a", app="web")
        await store.create(f"{DEFAULT}a", obj)

        obj["metadata"]["labels"]["app"] = "changed"
        obj["spec"]["nodeName"] = "changed"

        assert await store.get(f"{DEFAULT}a") == {
            "metadata": {"name": "a", "namespace": "default", "uid": "uid-a",
                         "labels": {"app": "web"}, "resourceVersion": "1"},
            "spec": {"nodeName": ""}}


async def test_create_with_resource_version_is_refused(tmp_path: Path) -> None:
    async with await SQLiteStore.open(str(tmp_path / "state.db")) as store:
        obj = pod("a")
        obj["metadata"]["resourceVersion"] = "5"

        with pytest.raises(errors.StorageError) as caught:
            await store.create(f"{DEFAULT}a", obj)

    assert str(caught.value) == "resourceVersion should not be set on objects to be created"


async def test_compaction_drops_history_but_keeps_live_objects(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    async with await SQLiteStore.open(path, watch_window=5) as store:
        await store.create(f"{DEFAULT}old", pod("old"))
        for i in range(19):
            if i % 2:
                await store.update(f"{DEFAULT}old", pod("old", i=str(i)))
            else:
                await store.create(f"{DEFAULT}p{i}", pod(f"p{i}"))
        before = await store.list(DEFAULT)

        assert await store.compact() == 15

    # A wider window after restart cannot bring back what compaction deleted.
    async with await SQLiteStore.open(path, watch_window=100) as store:
        with pytest.raises(errors.Compacted) as caught:
            await anext(store.watch(DEFAULT, since=14))
        resumed = await anext(store.watch(DEFAULT, since=15))
        after = await store.list(DEFAULT)

    assert str(caught.value) == "too old resource version: 14 (15)"
    assert resumed.revision == 16
    assert after.items == before.items


async def test_history_is_kept_until_compacted(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    async with await SQLiteStore.open(path, watch_window=5) as store:
        for i in range(20):
            await store.create(f"{DEFAULT}p{i}", pod(f"p{i}"))

    async with await SQLiteStore.open(path, watch_window=100) as store:
        first = await anext(store.watch(DEFAULT, since=0))

    assert first.revision == 1


async def test_second_open_of_one_file_is_unavailable(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    async with await SQLiteStore.open(path) as store:
        await store.create(f"{DEFAULT}a", pod("a"))

        with pytest.raises(errors.Unavailable, match="database is locked"):
            await SQLiteStore.open(path)


async def test_unknown_synchronous_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous must be one of OFF, NORMAL, FULL, EXTRA"):
        await SQLiteStore.open(str(tmp_path / "state.db"), synchronous="SOMETIMES")


async def test_slow_watcher_is_closed_and_writers_go_on(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    async with await SQLiteStore.open(str(tmp_path / "state.db"), watcher_queue=3) as store:
        slow = store.watch(DEFAULT, since=0)
        await store.create(f"{DEFAULT}p0", pod("p0"))
        assert (await anext(slow)).revision == 1

        with caplog.at_level(logging.WARNING, logger="kajitori.storage.watchcache"):
            for i in range(1, 10):
                await store.create(f"{DEFAULT}p{i}", pod(f"p{i}"))

        assert [e async for e in slow] == []
        assert store.current_revision() == 10
    assert "Forcing watcher of /registry/pods/default/ close due to unresponsiveness" in (
        caplog.text)
