"""The in-memory window and watchers, driven directly with events (no backend)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from kajitori.storage import errors, watchcache
from kajitori.storage.interface import EventType, WatchEvent
from kajitori.storage.watchcache import WatchCache

PREFIX = "/registry/pods/default/"
UNRESPONSIVE = "due to unresponsiveness"


def event(revision: int, name: str, type_: EventType = "ADDED") -> WatchEvent:
    obj = {"metadata": {"name": name, "resourceVersion": str(revision)}}
    return WatchEvent(type=type_, object=obj, revision=revision, key=PREFIX + name)


def empty_cache(*, window: int = 100, watcher_queue: int = 100) -> WatchCache:
    return WatchCache(revision=0, objects=[], events=[], floor=0, window=window,
                      watcher_queue=watcher_queue)


def test_window_eviction_raises_the_floor() -> None:
    cache = empty_cache(window=3)

    cache.apply([event(r, f"p{r}") for r in range(1, 8)])

    assert (cache.floor, cache.revision) == (4, 7)


async def test_watch_below_floor_is_compacted_with_upstream_message() -> None:
    cache = empty_cache(window=3)
    cache.apply([event(r, f"p{r}") for r in range(1, 8)])

    with pytest.raises(errors.Compacted, match=r"^too old resource version: 3 \(4\)$"):
        await anext(cache.watch(PREFIX, since=3))
    assert (await anext(cache.watch(PREFIX, since=4))).revision == 5


async def test_watch_replays_loaded_events_after_a_restart() -> None:
    objects = [(PREFIX + "b", event(12, "b").object)]
    cache = WatchCache(revision=12, objects=objects,
                       events=[event(11, "a", "DELETED"), event(12, "b")], floor=10)

    watch = cache.watch(PREFIX, since=10)

    assert [(await anext(watch)).revision, (await anext(watch)).revision] == [11, 12]
    assert cache.get(PREFIX + "b") is objects[0][1]
    with pytest.raises(errors.Compacted):
        await anext(cache.watch(PREFIX, since=9))


async def test_watch_since_ahead_of_the_cache_waits_for_later_events() -> None:
    cache = empty_cache()
    cache.apply([event(1, "a")])
    watch = cache.watch(PREFIX, since=2)
    waiting = asyncio.ensure_future(anext(watch))

    cache.apply([event(2, "b"), event(3, "c")])

    assert (await waiting).revision == 3


async def test_overflowing_watcher_ends_and_others_keep_their_events(
        caplog: pytest.LogCaptureFixture) -> None:
    cache = empty_cache(watcher_queue=2)
    slow, fast = cache.watch(PREFIX, since=0), cache.watch(PREFIX, since=0)
    cache.apply([event(1, "a")])
    assert (await anext(slow)).revision == 1
    assert (await anext(fast)).revision == 1

    with caplog.at_level(logging.WARNING):
        for r in range(2, 6):
            cache.apply([event(r, f"p{r}")])
            assert (await anext(fast)).revision == r

    assert [e async for e in slow] == []
    assert UNRESPONSIVE in caplog.text


async def test_cancelled_watcher_is_unregistered(caplog: pytest.LogCaptureFixture) -> None:
    cache = empty_cache(watcher_queue=1)
    watch = cache.watch(PREFIX, since=0)
    waiting = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0)  # let it register and wait

    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    with caplog.at_level(logging.WARNING):
        cache.apply([event(r, f"p{r}") for r in range(1, 5)])

    # Had it stayed registered, four unread events would have overflowed its queue of one.
    assert UNRESPONSIVE not in caplog.text


async def test_aclose_ends_the_watch_and_drops_queued_events() -> None:
    cache = empty_cache()
    cache.apply([event(1, "a"), event(2, "b")])
    watch = cache.watch(PREFIX, since=0)
    assert (await anext(watch)).revision == 1

    await watch.aclose()

    assert [e async for e in watch] == []


async def test_close_delivers_queued_events_then_ends() -> None:
    cache = empty_cache()
    watch = cache.watch(PREFIX, since=0)
    waiting = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0)
    cache.apply([event(1, "a"), event(2, "b")])

    cache.close()

    assert (await waiting).revision == 1
    assert [e.revision async for e in watch] == [2]


def test_apply_keeps_objects_and_key_order() -> None:
    cache = empty_cache()

    cache.apply([event(1, "b"), event(2, "a"), event(3, "c"), event(4, "b", "DELETED"),
                 event(5, "a", "MODIFIED")])

    page = cache.list(PREFIX)
    assert [(o["metadata"]["name"], o["metadata"]["resourceVersion"]) for o in page.items] == [
        ("a", "5"), ("c", "3")]
    with pytest.raises(errors.KeyNotFound):
        cache.get(PREFIX + "b")


def test_list_of_empty_prefix_lists_everything() -> None:
    cache = empty_cache()
    cache.apply([event(1, "a")])
    cache.apply([WatchEvent(type="ADDED", object={}, revision=2, key="/registry/x")])

    assert len(cache.list("").items) == 2


def test_list_remaining_counts_keys_after_the_page_under_the_prefix_only() -> None:
    cache = empty_cache()
    cache.apply([event(r, f"p{r}") for r in range(1, 6)])
    cache.apply([WatchEvent(type="ADDED", object={}, revision=6,
                            key="/registry/pods/default2/x")])

    page = cache.list(PREFIX, limit=2)

    assert page.remaining == 3


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_continue_token_lives_five_minutes_whatever_the_watch_window() -> None:
    clock = Clock()
    cache = WatchCache(revision=0, objects=[], events=[], floor=0, window=3, clock=clock)
    cache.apply([event(r, f"p{r}") for r in range(1, 5)])
    first = cache.list(PREFIX, limit=2)
    clock.now = 10.0
    cache.apply([event(r, f"q{r}") for r in range(5, 50)])  # far past the window of 3

    assert cache.floor > first.revision
    assert [o["metadata"]["name"] for o in cache.list(
        PREFIX, limit=2, continue_token=first.continue_token).items] == ["p3", "p4"]

    clock.now = 10.0 + watchcache.COMPACTION_INTERVAL
    cache.apply([event(50, "r50")])
    with pytest.raises(errors.Compacted, match=r"^too old resource version: 4 \(49\)$"):
        cache.list(PREFIX, limit=2, continue_token=first.continue_token)
