"""Informer behaviour against a scripted server (conftest.FakeListerWatcher): sync, handlers,
resume after a closed watch, relist after 410 with tombstones, resync; and the indexer."""

from __future__ import annotations

import asyncio

import pytest
from background import running

from conftest import FakeListerWatcher, Recorder, pod
from kajitori.api import errors
from kajitori.client import clock, informer

NO_BACKOFF = informer.InformerSettings(initial_backoff=0)


@pytest.fixture
def server() -> FakeListerWatcher:
    return FakeListerWatcher()


async def test_first_list_fills_the_cache_and_marks_synced(server: FakeListerWatcher) -> None:
    server.create(pod("a"))
    server.create(pod("b", "other", app="web"))
    pods = informer.Informer(server, name="pods", settings=NO_BACKOFF)
    recorder = Recorder()
    recorder.register(pods)
    assert not pods.has_synced()
    async with running(pods):
        await pods.wait_for_sync()
        assert sorted(pods.cache.list_keys()) == ["default/a", "other/b"]
        assert pods.cache.get("other/b")["kind"] == "Pod"  # items labelled from the List
        assert [o["metadata"]["name"] for o in pods.cache.list("other")] == ["b"]
        assert sorted(c[:2] for c in recorder.calls) == [("add", "default/a"), ("add", "other/b")]
        assert server.lists == ["0"]
        assert pods.last_sync_resource_version == "3"


async def test_watch_events_update_the_cache_and_call_handlers(
        server: FakeListerWatcher) -> None:
    pods = informer.Informer(server, settings=NO_BACKOFF)
    recorder = Recorder()
    recorder.register(pods)
    async with running(pods):
        await pods.wait_for_sync()
        created = server.create(pod("a"))
        updated = server.update({**created, "spec": {"nodeName": "n1"}})
        server.delete("default/a")
        await recorder.wait_for(lambda: len(recorder.calls) == 3)
    assert recorder.calls == [("add", "default/a", "2"), ("update", "default/a", "2", "3"),
                              ("delete", "default/a")]
    assert updated["spec"] == {"nodeName": "n1"}
    assert len(pods.cache) == 0
    assert server.watches == ["1"]


async def test_closed_watch_resumes_from_the_last_version_without_relisting(
        server: FakeListerWatcher) -> None:
    pods = informer.Informer(server, settings=NO_BACKOFF)
    recorder = Recorder()
    recorder.register(pods)
    async with running(pods):
        await pods.wait_for_sync()
        server.create(pod("a"))
        await recorder.wait_for(lambda: len(recorder.calls) == 1)
        server.close_watches()
        await server.wait_for(lambda: len(server.watches) == 2)
        server.create(pod("b"))
        await recorder.wait_for(lambda: len(recorder.calls) == 2)
    assert server.lists == ["0"]
    assert server.watches == ["1", "2"]  # resumed after the last event it saw
    assert recorder.calls == [("add", "default/a", "2"), ("add", "default/b", "3")]


async def test_watch_410_relists_and_tombstones_missed_deletes(
        server: FakeListerWatcher) -> None:
    server.create(pod("kept"))
    server.create(pod("gone"))
    pods = informer.Informer(server, settings=NO_BACKOFF)
    recorder = Recorder()
    recorder.register(pods)
    async with running(pods):
        await pods.wait_for_sync()
        recorder.calls.clear()
        server.delete_quietly("default/gone")  # and the watch gets ERROR 410
        server.create(pod("new"))
        await recorder.wait_for(lambda: ("add", "default/new", "5") in recorder.calls)
        assert sorted(pods.cache.list_keys()) == ["default/kept", "default/new"]
    assert ("tombstone", "default/gone") in recorder.calls
    assert ("update", "default/kept", "2", "2") in recorder.calls  # relisted, unchanged
    assert server.lists == ["0", "3"]  # the relist asks for the last version it had synced


async def test_list_at_an_expired_version_falls_back_to_a_consistent_list(
        server: FakeListerWatcher) -> None:
    pods = informer.Informer(server, settings=NO_BACKOFF)
    async with running(pods):
        await pods.wait_for_sync()
        server.list_errors.append(errors.resource_expired("too old resource version: 1 (2)"))
        server.create(pod("a"))
        server.compact()
        await server.wait_for(lambda: len(server.watches) == 2)  # after the relist
        assert "default/a" in pods.cache
    assert server.lists == ["0", "1", ""]


async def test_failed_list_is_retried_and_leaves_the_informer_unsynced(
        server: FakeListerWatcher) -> None:
    server.list_errors.append(errors.forbidden("pods", "", "no"))
    pods = informer.Informer(server, settings=NO_BACKOFF)
    async with running(pods):
        await server.wait_for(lambda: len(server.lists) == 1)
        assert not pods.has_synced()
        await pods.wait_for_sync()
    assert server.lists == ["0", "0"]


async def test_handler_added_late_is_replayed_the_cache(server: FakeListerWatcher) -> None:
    server.create(pod("a"))
    pods = informer.Informer(server, settings=NO_BACKOFF)
    async with running(pods):
        await pods.wait_for_sync()
        late = Recorder()
        late.register(pods)
    assert late.calls == [("add", "default/a", "2")]


async def test_handler_exception_ends_run(server: FakeListerWatcher) -> None:
    pods = informer.Informer(server, settings=NO_BACKOFF)

    def broken(obj: informer.Obj) -> None:
        raise RuntimeError("bug in a handler")

    pods.add_handlers(on_add=broken)
    server.create(pod("a"))
    with pytest.raises(ExceptionGroup) as caught:
        await pods.run()
    assert caught.group_contains(RuntimeError, match="bug in a handler")


async def test_resync_replays_every_object_to_on_update(server: FakeListerWatcher) -> None:
    fake = clock.FakeClock()
    server.create(pod("a"))
    pods = informer.Informer(server, settings=informer.InformerSettings(resync_period=30),
                             clock=fake)
    recorder = Recorder()
    recorder.register(pods)
    async with running(pods):
        await pods.wait_for_sync()
        await fake.wait_for_waiters()
        fake.step(29)
        await asyncio.sleep(0)
        assert recorder.calls == [("add", "default/a", "2")]
        fake.step(1)
        await recorder.wait_for(lambda: len(recorder.calls) == 2)
    assert recorder.calls[1] == ("update", "default/a", "2", "2")


def test_keys_are_namespace_slash_name() -> None:
    assert informer.meta_namespace_key(pod("a", "ns")) == "ns/a"
    assert informer.meta_namespace_key({"metadata": {"name": "node-1"}}) == "node-1"
    tombstone = informer.DeletedFinalStateUnknown("ns/a", pod("a", "ns"))
    assert informer.meta_namespace_key(tombstone) == "ns/a"
    assert informer.split_meta_namespace_key("ns/a") == ("ns", "a")
    assert informer.split_meta_namespace_key("node-1") == ("", "node-1")
    with pytest.raises(ValueError, match='unexpected key format: "a/b/c"'):
        informer.split_meta_namespace_key("a/b/c")


def test_a_delete_handler_gets_the_object_from_a_tombstone_or_as_given() -> None:
    last_known = pod("a", "ns", app="old")
    tombstone = informer.DeletedFinalStateUnknown("ns/a", last_known)
    assert informer.deleted_object(tombstone) is last_known
    deleted = pod("b", "ns")
    assert informer.deleted_object(deleted) is deleted


def test_indexer_keeps_custom_indices_current() -> None:
    def by_app(obj: informer.Obj) -> list[str]:
        app = obj["metadata"].get("labels", {}).get("app")
        return [app] if app else []

    cache = informer.Indexer({informer.NAMESPACE_INDEX: informer.meta_namespace_index_func})
    cache.put("ns/a", pod("a", "ns", app="web"))
    cache.add_indexers({"app": by_app})  # indexes what is already there
    cache.put("ns/b", pod("b", "ns", app="web"))
    assert cache.index_keys("app", "web") == ["ns/a", "ns/b"]
    cache.put("ns/a", pod("a", "ns", app="db"))
    assert cache.index_keys("app", "web") == ["ns/b"]
    assert [o["metadata"]["name"] for o in cache.by_index("app", "db")] == ["a"]
    cache.delete("ns/b")
    assert cache.index_keys("app", "web") == []
    assert [o["metadata"]["name"] for o in cache.list("ns")] == ["a"]
    with pytest.raises(KeyError, match="Index with name nope does not exist"):
        cache.by_index("nope", "x")
    with pytest.raises(ValueError, match="indexer conflict: app"):
        cache.add_indexers({"app": by_app})
