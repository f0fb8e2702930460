"""The in-memory side of a store: current objects, a window of recent events, the watchers.

Mirrors staging/src/k8s.io/apiserver/pkg/storage/cacher/: `watch_cache.go` (every current object
plus a bounded buffer of recent events, lists served from memory, "too old resource version"
for a watch older than the buffer) and `cache_watcher.go` (a bounded queue per watcher; a
watcher that falls behind is closed rather than allowed to block writers).

A backend (kajitori.storage.sqlite) makes a write durable first and then calls `apply` with the
events in revision order; everything here runs on the event loop and never blocks, so `apply`,
`list` and registering a watcher are atomic with respect to each other. That is what gives a
watch no gaps and no duplicates: a watcher is registered and handed the buffered events after
`since` in one step, and every later `apply` pushes to it.

Departure from upstream: a continued list reads the current objects, not a snapshot at the
token's revision (upstream reads etcd at that revision). The page still reports the token's
revision, so a watch started from it replays every change the continued pages may have missed
or already shown; replaying an older state over a newer one cannot happen, since events arrive
in order. A token older than the event window is refused as Compacted, as a watch would be.
"""

from __future__ import annotations

import asyncio
import bisect
import builtins
import collections
import dataclasses
import itertools
import logging
import time
from collections.abc import Callable, Iterable
from typing import Self

from kajitori.storage import continuetoken, errors
from kajitori.storage.interface import Obj, Page, WatchEvent

log = logging.getLogger(__name__)

COMPACTION_INTERVAL = 300.0
"""Seconds a continue token lives (upstream's `--etcd-compaction-interval`, 5 minutes)."""
DEFAULT_WINDOW = 10_000
"""Events kept for watches to resume from (upstream's watch cache grows to 100 * 1024)."""

DEFAULT_WATCHER_QUEUE = 10_000
"""Live events a watcher may have unread before it is closed as unresponsive."""

CLOSED = "watch cache is closed"


class WatchCache:
    """Current objects by key, the last `window` events, and the watchers fed from them.

    Contract:
    - `get` and `list` return the dicts held here: shared with every other reader and with the
      window's events; callers copy before changing one.
    - `apply` takes committed events in strictly increasing revision order.
    - `watch(prefix, since)` accepts any `since >= floor`, where every event after `floor` is
      still held; an older one raises Compacted("too old resource version: since (floor)").
    Not thread-safe: use from the event loop only.
    """

    def __init__(self, *, revision: int, objects: Iterable[tuple[str, Obj]],
                 events: Iterable[WatchEvent], floor: int, window: int = DEFAULT_WINDOW,
                 watcher_queue: int = DEFAULT_WATCHER_QUEUE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`objects` are the current state at `revision`; `events` the recent history with
        revisions in (floor, revision], oldest first (a restart passes what it reloaded).
        `clock` (seconds) ages continue tokens."""
        if window < 1 or watcher_queue < 1:
            raise ValueError("window and watcher_queue must be positive")
        self._objects: dict[str, Obj] = dict(objects)
        self._keys: list[str] = sorted(self._objects)
        self._events: collections.deque[WatchEvent] = collections.deque(maxlen=window)
        self._floor = floor
        self._clock = clock
        self._revision_marks: collections.deque[tuple[float, int]] = collections.deque()
        """(time, revision) at most once a second: what the revision was a while ago."""
        self._continue_floor = floor
        for event in events:
            self._append(event)
        self._revision = revision
        self._watcher_queue = watcher_queue
        self._watchers: set[CacheWatcher] = set()
        self._closed = False

    @property
    def revision(self) -> int:
        """The revision of the newest applied event (or the store's, when loaded)."""
        return self._revision

    @property
    def floor(self) -> int:
        """The oldest revision a watch may start from."""
        return self._floor

    @property
    def continue_floor(self) -> int:
        """The oldest revision a continue token may carry: the revision of COMPACTION_INTERVAL
        ago, as upstream's apiserver compacts etcd every five minutes. Later pages are read
        from the current state (no snapshot), so only the age of a token matters; tying it
        to the watch window instead would expire a long paged list (`kubectl get pods -A`
        of a large, busy cluster) within seconds."""
        return self._continue_floor

    def get(self, key: str) -> Obj:
        """The current object at `key`; raises KeyNotFound."""
        try:
            return self._objects[key]
        except KeyError:
            raise errors.KeyNotFound(key) from None

    def list(self, prefix: str, *, limit: int = 0, continue_token: str = "",
             predicate: Callable[[Obj], bool] | None = None) -> Page:
        """Objects whose key starts with `prefix`, in key order, those `predicate` accepts.

        With `limit` > 0 at most `limit` objects and, when keys remain after the last one, a
        continue token. `remaining` counts the keys after the page, and is None without a
        next page or with a predicate (upstream omits remainingItemCount under selectors).
        Raises InvalidContinue for a token we cannot read, Compacted for one older than
        `continue_floor`.
        """
        start, revision = prefix, self._revision
        if continue_token:
            start, revision = continuetoken.decode(continue_token, prefix=prefix)
            if revision < self._continue_floor:
                raise errors.Compacted(prefix, requested=revision, oldest=self._continue_floor)
        index = bisect.bisect_left(self._keys, start)
        end = self._prefix_end(prefix)
        items: list[Obj] = []
        while index < end and (limit <= 0 or len(items) < limit):
            obj = self._objects[self._keys[index]]
            index += 1
            if predicate is None or predicate(obj):
                items.append(obj)
        if index >= end or limit <= 0:
            return Page(items=items, revision=revision, continue_token="", remaining=None)
        token = continuetoken.encode(self._keys[index - 1] + "\x00", prefix=prefix,
                                     revision=revision)
        remaining = end - index if predicate is None else None
        return Page(items=items, revision=revision, continue_token=token, remaining=remaining)

    def apply(self, events: builtins.list[WatchEvent]) -> None:
        """Make committed `events` current, keep them in the window, push them to watchers.

        Watchers whose queue overflows are closed (their iteration ends); writers never wait.
        """
        for index, event in enumerate(events):
            if event.type == "MODIFIED" and event.prev_object is None:
                event = dataclasses.replace(event, prev_object=self._objects.get(event.key))
                events[index] = event
            if event.type == "DELETED":
                del self._objects[event.key]
                del self._keys[bisect.bisect_left(self._keys, event.key)]
            else:
                if event.key not in self._objects:
                    bisect.insort(self._keys, event.key)
                self._objects[event.key] = event.object
            self._append(event)
            self._revision = event.revision
        self._mark()
        for watcher in list(self._watchers):
            watcher.push(events)

    def watch(self, prefix: str, *, since: int) -> CacheWatcher:
        """An async iterator over every event after `since` for keys under `prefix`.

        The check against `floor` and the registration happen at the first iteration, which
        raises Compacted for a `since` older than `floor`. The iterator ends when the cache
        closes, when the consumer is cancelled while waiting, on `aclose()`, or when more than
        the watcher queue's bound of events are left unread (upstream closes such a watcher;
        its client re-watches from the last revision it saw).
        """
        return CacheWatcher(self, prefix, since=since, queue_size=self._watcher_queue)

    def close(self) -> None:
        """End every watcher's iteration (after the events already queued for it); a watch
        first iterated later raises Unavailable."""
        self._closed = True
        for watcher in list(self._watchers):
            watcher.finish()

    def _register(self, watcher: CacheWatcher, since: int) -> builtins.list[WatchEvent]:
        if self._closed:
            raise errors.Unavailable(watcher.prefix, CLOSED)
        if since < self._floor:
            raise errors.Compacted(watcher.prefix, requested=since, oldest=self._floor)
        first = bisect.bisect_right(self._events, since, key=_revision_of)
        self._watchers.add(watcher)
        after = itertools.islice(self._events, first, None)
        return [e for e in after if e.key.startswith(watcher.prefix)]

    def _unregister(self, watcher: CacheWatcher) -> None:
        self._watchers.discard(watcher)

    def _mark(self) -> None:
        """Record the revision now (once a second at most) and move the continue floor to
        the newest revision at least COMPACTION_INTERVAL old."""
        now = self._clock()
        marks = self._revision_marks
        if not marks or now - marks[-1][0] >= 1.0:
            marks.append((now, self._revision))
        while marks and now - marks[0][0] >= COMPACTION_INTERVAL:
            self._continue_floor = max(self._continue_floor, marks.popleft()[1])

    def _append(self, event: WatchEvent) -> None:
        if len(self._events) == self._events.maxlen:
            self._floor = self._events[0].revision
        self._events.append(event)

    def _prefix_end(self, prefix: str) -> int:
        """Index of the first key after every key starting with `prefix`."""
        if not prefix:
            return len(self._keys)
        successor = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        return bisect.bisect_left(self._keys, successor)


def _revision_of(event: WatchEvent) -> int:
    return event.revision


class CacheWatcher:
    """One watch: the buffered events after its `since`, then live ones, in revision order.

    Created by `WatchCache.watch`; use from the event loop only. Implements the async iterator
    protocol plus `aclose()`, so `contextlib.aclosing` works as for an async generator.
    """

    def __init__(self, cache: WatchCache, prefix: str, *, since: int, queue_size: int) -> None:
        self.prefix = prefix
        self._cache = cache
        self._since = since
        self._queue_size = queue_size
        self._started = False
        self._finished = False
        self._backlog: collections.deque[WatchEvent] = collections.deque()
        self._live: collections.deque[WatchEvent] = collections.deque()
        self._wakeup: asyncio.Future[None] | None = None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> WatchEvent:
        if not self._started and not self._finished:
            self._started = True
            self._backlog.extend(self._cache._register(self, self._since))
        while not self._backlog and not self._live:
            if self._finished:
                raise StopAsyncIteration
            self._wakeup = asyncio.get_running_loop().create_future()
            try:
                await self._wakeup
            except asyncio.CancelledError:
                self.stop()
                raise
            finally:
                self._wakeup = None
        return self._backlog.popleft() if self._backlog else self._live.popleft()

    async def aclose(self) -> None:
        """Stop watching now; queued events are dropped."""
        self.stop()

    def push(self, events: list[WatchEvent]) -> None:
        """Queue the events under our prefix; close us if that overflows the queue."""
        if self._finished:
            return
        mine = [e for e in events if e.key.startswith(self.prefix)]
        if not mine:
            return
        if len(self._live) + len(mine) > self._queue_size:
            log.warning("Forcing watcher of %s close due to unresponsiveness: %d events unread",
                        self.prefix, len(self._live) + len(self._backlog))
            self.stop()
            return
        self._live.extend(mine)
        self._wake()

    def finish(self) -> None:
        """End after the events already queued (the store is closing)."""
        self._finished = True
        self._cache._unregister(self)
        self._wake()

    def stop(self) -> None:
        """End now, dropping whatever is queued."""
        self._backlog.clear()
        self._live.clear()
        self.finish()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)
