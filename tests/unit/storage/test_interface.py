"""Conformance suite for kajitori.storage.interface.Store: every backend passes every test.

Mirrors upstream's staging/src/k8s.io/apiserver/pkg/storage/testing/store_tests.go. Backends
come from conftest.py (`store`: an open store; `backend`: to reopen one).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import orjson
import pytest

from kajitori.storage import errors
from kajitori.storage.interface import Obj, Store, WatchEvent

if TYPE_CHECKING:
    from conftest import Backend  # tests/unit/storage/conftest.py, imported by pytest

PODS = "/registry/pods/"
DEFAULT = "/registry/pods/default/"


def pod(name: str, *, namespace: str = "default", **labels: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}",
                         "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def key(name: str, *, namespace: str = "default") -> str:
    return f"{PODS}{namespace}/{name}"


def rv(obj: Obj) -> str:
    return str(obj["metadata"]["resourceVersion"])


async def take(watch: AsyncIterator[WatchEvent], count: int) -> list[WatchEvent]:
    return [await anext(watch) for _ in range(count)]


# create / get / update / delete


async def test_create_stamps_next_revision_as_string(store: Store) -> None:
    first = await store.create(key("a"), pod("a"))
    second = await store.create(key("b"), pod("b"))

    assert rv(first) == "1"
    assert rv(second) == "2"
    assert store.current_revision() == 2
    assert await store.get(key("a")) == first
    assert first["spec"] == pod("a")["spec"]


async def test_create_leaves_callers_object_unchanged(store: Store) -> None:
    obj = pod("a")

    await store.create(key("a"), obj)

    assert obj == pod("a")


async def test_create_existing_key_is_key_exists(store: Store) -> None:
    await store.create(key("a"), pod("a"))

    with pytest.raises(errors.KeyExists) as caught:
        await store.create(key("a"), pod("a"))

    assert caught.value.key == key("a")


async def test_get_missing_key_is_key_not_found(store: Store) -> None:
    with pytest.raises(errors.KeyNotFound):
        await store.get(key("missing"))


async def test_update_replaces_object_with_next_revision(store: Store) -> None:
    created = await store.create(key("a"), pod("a"))
    changed = pod("a", app="web")

    updated = await store.update(key("a"), changed, expected_revision=int(rv(created)))

    assert rv(updated) == "2"
    assert updated["metadata"]["labels"] == {"app": "web"}
    assert await store.get(key("a")) == updated


async def test_update_without_expected_revision_is_unconditional(store: Store) -> None:
    await store.create(key("a"), pod("a"))
    await store.update(key("a"), pod("a", v="1"))

    updated = await store.update(key("a"), pod("a", v="2"))

    assert rv(updated) == "3"


async def test_update_with_stale_expected_revision_is_conflict(store: Store) -> None:
    created = await store.create(key("a"), pod("a"))
    await store.update(key("a"), pod("a", v="1"))

    with pytest.raises(errors.Conflict) as caught:
        await store.update(key("a"), pod("a", v="2"), expected_revision=int(rv(created)))

    assert (caught.value.expected, caught.value.actual) == (1, 2)
    assert (await store.get(key("a")))["metadata"]["labels"] == {"v": "1"}


async def test_update_missing_key_is_key_not_found(store: Store) -> None:
    with pytest.raises(errors.KeyNotFound):
        await store.update(key("missing"), pod("missing"))


async def test_delete_returns_last_state_at_deletion_revision(store: Store) -> None:
    await store.create(key("a"), pod("a", app="web"))

    deleted = await store.delete(key("a"), expected_revision=1)

    assert rv(deleted) == "2"
    assert deleted["metadata"]["labels"] == {"app": "web"}
    assert deleted["metadata"]["uid"] == "uid-a"
    with pytest.raises(errors.KeyNotFound):
        await store.get(key("a"))


async def test_delete_missing_key_is_key_not_found(store: Store) -> None:
    with pytest.raises(errors.KeyNotFound):
        await store.delete(key("missing"))


async def test_delete_with_stale_expected_revision_is_conflict(store: Store) -> None:
    await store.create(key("a"), pod("a"))
    await store.update(key("a"), pod("a", v="1"))

    with pytest.raises(errors.Conflict):
        await store.delete(key("a"), expected_revision=1)

    assert rv(await store.get(key("a"))) == "2"


async def test_failed_writes_take_no_revision(store: Store) -> None:
    await store.create(key("a"), pod("a"))
    with pytest.raises(errors.KeyExists):
        await store.create(key("a"), pod("a"))
    with pytest.raises(errors.Conflict):
        await store.update(key("a"), pod("a"), expected_revision=7)

    created = await store.create(key("b"), pod("b"))

    assert rv(created) == "2"


async def test_racing_updates_with_same_expected_revision_one_wins(store: Store) -> None:
    await store.create(key("a"), pod("a"))

    results = await asyncio.gather(
        store.update(key("a"), pod("a", writer="x"), expected_revision=1),
        store.update(key("a"), pod("a", writer="y"), expected_revision=1),
        return_exceptions=True)

    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1
    assert [type(e) for e in losers] == [errors.Conflict]
    assert await store.get(key("a")) == winners[0]


async def test_racing_creates_of_one_key_one_wins(store: Store) -> None:
    results = await asyncio.gather(*(store.create(key("a"), pod("a")) for _ in range(5)),
                                   return_exceptions=True)

    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert sum(isinstance(r, errors.KeyExists) for r in results) == 4


async def test_fifty_concurrent_writers_get_consecutive_revisions(store: Store) -> None:
    created = await asyncio.gather(*(store.create(key(f"p{i}"), pod(f"p{i}"))
                                     for i in range(50)))

    assert sorted(int(rv(obj)) for obj in created) == list(range(1, 51))
    for i, obj in enumerate(created):
        assert await store.get(key(f"p{i}")) == obj
    assert store.current_revision() == 50


# list


async def test_list_returns_keys_under_prefix_in_lexical_order(store: Store) -> None:
    for name, namespace in [("b", "default"), ("a", "default"), ("c", "default2"),
                            ("d", "kube-system")]:
        await store.create(key(name, namespace=namespace), pod(name, namespace=namespace))

    page = await store.list(DEFAULT)
    everything = await store.list(PODS)

    assert [o["metadata"]["name"] for o in page.items] == ["a", "b"]
    assert [o["metadata"]["name"] for o in everything.items] == ["a", "b", "c", "d"]
    assert (page.revision, page.continue_token, page.remaining) == (4, "", None)


async def test_list_of_empty_prefix_is_empty_at_current_revision(store: Store) -> None:
    await store.create(key("a"), pod("a"))

    page = await store.list("/registry/services/")

    assert (page.items, page.revision, page.continue_token) == ([], 1, "")


async def test_list_predicate_filters(store: Store) -> None:
    await store.create(key("a"), pod("a", app="web"))
    await store.create(key("b"), pod("b", app="db"))

    page = await store.list(DEFAULT, predicate=lambda o: o["metadata"]["labels"]["app"] == "db")

    assert [o["metadata"]["name"] for o in page.items] == ["b"]


async def test_list_pages_with_continue_token(store: Store) -> None:
    for name in "abcde":
        await store.create(key(name), pod(name))
    await store.create(key("z", namespace="other"), pod("z", namespace="other"))

    first = await store.list(DEFAULT, limit=2)
    second = await store.list(DEFAULT, limit=2, continue_token=first.continue_token)
    third = await store.list(DEFAULT, limit=2, continue_token=second.continue_token)

    assert [o["metadata"]["name"] for o in first.items] == ["a", "b"]
    assert first.remaining == 3
    assert [o["metadata"]["name"] for o in second.items] == ["c", "d"]
    assert second.remaining == 1
    assert [o["metadata"]["name"] for o in third.items] == ["e"]
    assert (third.continue_token, third.remaining) == ("", None)
    assert first.revision == second.revision == third.revision == 6


async def test_list_continue_token_is_upstreams_format(store: Store) -> None:
    for name in "abc":
        await store.create(key(name), pod(name))

    page = await store.list(DEFAULT, limit=1)

    padded = page.continue_token + "=" * (-len(page.continue_token) % 4)
    assert orjson.loads(base64.urlsafe_b64decode(padded)) == {
        "v": "meta.k8s.io/v1", "rv": 3, "start": "a\x00"}


async def test_list_continued_across_writes_keeps_first_revision(store: Store) -> None:
    for name in "abcd":
        await store.create(key(name), pod(name))
    first = await store.list(DEFAULT, limit=2)
    await store.delete(key("a"))
    await store.create(key("bb"), pod("bb"))
    await store.delete(key("c"))

    rest = await store.list(DEFAULT, limit=10, continue_token=first.continue_token)

    # Keys after the last one returned, as they are now; the list's revision stays the first's.
    assert [o["metadata"]["name"] for o in rest.items] == ["bb", "d"]
    assert rest.revision == first.revision == 4


async def test_list_pages_with_predicate_count_matches_only(store: Store) -> None:
    for i in range(6):
        await store.create(key(f"p{i}"), pod(f"p{i}", parity=str(i % 2)))

    def odd(obj: Obj) -> bool:
        return bool(obj["metadata"]["labels"]["parity"] == "1")

    first = await store.list(DEFAULT, limit=2, predicate=odd)
    second = await store.list(DEFAULT, limit=2, predicate=odd,
                              continue_token=first.continue_token)

    assert [o["metadata"]["name"] for o in first.items] == ["p1", "p3"]
    assert first.remaining is None
    assert [o["metadata"]["name"] for o in second.items] == ["p5"]
    assert second.continue_token == ""


@pytest.mark.parametrize("token", [
    "not base64!",
    base64.urlsafe_b64encode(b"not json").decode(),
    base64.urlsafe_b64encode(b'{"v":"meta.k8s.io/v2","rv":1,"start":"a"}').decode(),
    base64.urlsafe_b64encode(b'{"v":"meta.k8s.io/v1","rv":0,"start":"a"}').decode(),
    base64.urlsafe_b64encode(b'{"v":"meta.k8s.io/v1","rv":1,"start":""}').decode(),
    base64.urlsafe_b64encode(b'{"v":"meta.k8s.io/v1","rv":1,"start":"../kube-system/a"}')
    .decode(),
])
async def test_list_with_garbage_continue_token_is_invalid_continue(store: Store,
                                                                     token: str) -> None:
    await store.create(key("a"), pod("a"))

    with pytest.raises(errors.InvalidContinue):
        await store.list(DEFAULT, limit=1, continue_token=token)


async def test_a_continue_token_outlives_the_watch_window(backend: Backend) -> None:
    """Paging goes on while the cluster writes: a token expires with time, as upstream's
    after an etcd compaction (tests/unit/storage/test_watchcache.py), not with the number of
    writes since the first page."""
    async with backend.open(watch_window=3) as store:
        for name in "abc":
            await store.create(key(name), pod(name))
        first = await store.list(DEFAULT, limit=1)
        for i in range(5):
            await store.update(key("c"), pod("c", i=str(i)))

        second = await store.list(DEFAULT, limit=1, continue_token=first.continue_token)

    assert [item["metadata"]["name"] for item in second.items] == ["b"]


# watch


async def test_watch_from_zero_replays_every_event(store: Store) -> None:
    await store.create(key("a"), pod("a"))
    await store.update(key("a"), pod("a", v="1"))
    await store.delete(key("a"))

    events = await take(store.watch(PODS, since=0), 3)

    assert [(e.type, e.revision, rv(e.object)) for e in events] == [
        ("ADDED", 1, "1"), ("MODIFIED", 2, "2"), ("DELETED", 3, "3")]
    assert events[2].object["metadata"]["labels"] == {"v": "1"}
    assert [e.key for e in events] == [key("a")] * 3


async def test_watch_from_current_revision_yields_only_later_events(store: Store) -> None:
    await store.create(key("a"), pod("a"))
    watch = store.watch(PODS, since=store.current_revision())
    first = asyncio.ensure_future(anext(watch))

    await store.create(key("b"), pod("b"))

    event = await first
    assert (event.type, event.key, event.revision) == ("ADDED", key("b"), 2)


async def test_watch_from_the_middle_resumes_after_it(store: Store) -> None:
    for name in "abcd":
        await store.create(key(name), pod(name))

    events = await take(store.watch(PODS, since=2), 2)

    assert [e.revision for e in events] == [3, 4]


async def test_watch_sees_only_its_prefix(store: Store) -> None:
    await store.create(key("a", namespace="default2"), pod("a", namespace="default2"))
    await store.create(key("b"), pod("b"))
    await store.create("/registry/services/default/s", {"metadata": {"name": "s"}})
    await store.create(key("c"), pod("c"))

    events = await take(store.watch(DEFAULT, since=0), 2)

    assert [e.key for e in events] == [key("b"), key("c")]


async def test_watch_while_writers_run_has_no_gaps_or_duplicates(store: Store) -> None:
    writers, writes, before = 5, 40, 10
    total = before + writers * writes
    for i in range(before):
        await store.create(key(f"pre{i}"), pod(f"pre{i}"))

    async def write(writer: int) -> None:
        for i in range(writes):
            await store.create(key(f"w{writer}-{i}"), pod(f"w{writer}-{i}"))

    early = store.watch(PODS, since=0)
    seen: list[WatchEvent] = []
    async with asyncio.TaskGroup() as group:
        for writer in range(writers):
            group.create_task(write(writer))
        while not seen or seen[-1].revision < 50:
            seen.append(await anext(early))
        # Joins mid-storm, from a revision the writers have passed: the window fills the gap.
        late = await take(store.watch(DEFAULT, since=30), total - 30)
    seen += await take(early, total - len(seen))

    assert [e.revision for e in seen] == list(range(1, total + 1))
    assert [e.revision for e in late] == list(range(31, total + 1))


async def test_watch_older_than_window_is_compacted(backend: Backend) -> None:
    async with backend.open(watch_window=5) as store:
        for i in range(20):
            await store.create(key(f"p{i}"), pod(f"p{i}"))

        with pytest.raises(errors.Compacted) as caught:
            await take(store.watch(PODS, since=2), 1)
        resumed = await take(store.watch(PODS, since=15), 5)

    assert str(caught.value) == "too old resource version: 2 (15)"
    assert (caught.value.requested, caught.value.oldest) == (2, 15)
    assert [e.revision for e in resumed] == [16, 17, 18, 19, 20]


async def test_cancelled_watch_consumer_ends_its_watch(store: Store) -> None:
    watch = store.watch(PODS, since=0)
    waiting = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0)

    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    await store.create(key("a"), pod("a"))

    with pytest.raises(StopAsyncIteration):
        await anext(watch)


async def test_watch_ends_when_store_closes(backend: Backend) -> None:
    async with backend.open() as store:
        await store.create(key("a"), pod("a"))
        watch = store.watch(PODS, since=0)
        assert (await anext(watch)).revision == 1
        waiting = asyncio.ensure_future(anext(watch))
        await asyncio.sleep(0)

    with pytest.raises(StopAsyncIteration):
        await waiting


# restart


async def test_restart_keeps_objects_uids_and_revisions(backend: Backend) -> None:
    async with backend.open() as store:
        await store.create(key("a"), pod("a"))
        await store.create(key("b"), pod("b"))
        await store.update(key("a"), pod("a", v="1"))
        before = await store.list(PODS)

    async with backend.open() as store:
        after = await store.list(PODS)
        a = await store.get(key("a"))

    assert after == before
    assert (a["metadata"]["uid"], rv(a)) == ("uid-a", "3")


async def test_revision_never_goes_back_after_restart_even_past_a_delete(
        backend: Backend) -> None:
    async with backend.open() as store:
        await store.create(key("a"), pod("a"))
        await store.create(key("b"), pod("b"))
        await store.delete(key("b"))

    async with backend.open() as store:
        assert store.current_revision() == 3
        created = await store.create(key("c"), pod("c"))

    assert rv(created) == "4"


async def test_watch_after_restart_resumes_from_reloaded_window(backend: Backend) -> None:
    async with backend.open() as store:
        await store.create(key("a"), pod("a"))
        await store.update(key("a"), pod("a", v="1"))
        await store.delete(key("a"))

    async with backend.open() as store:
        events = await take(store.watch(PODS, since=1), 2)

    assert [(e.type, e.revision) for e in events] == [("MODIFIED", 2), ("DELETED", 3)]
    assert rv(events[1].object) == "3"


async def test_writes_after_close_are_unavailable(backend: Backend) -> None:
    async with backend.open() as store:
        pass

    with pytest.raises(errors.Unavailable):
        await store.create(key("a"), pod("a"))


async def test_watch_after_close_is_unavailable(backend: Backend) -> None:
    async with backend.open() as store:
        pass

    with pytest.raises(errors.Unavailable):
        await anext(store.watch(PODS, since=0))
