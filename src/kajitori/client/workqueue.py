"""Work queues for controllers: fair, stingy, delayed and rate-limited.

Mirrors client-go `util/workqueue` (queue.go, delaying_queue.go, rate_limiting_queue.go,
default_rate_limiters.go). Informer handlers `add` keys (`namespace/name`); workers take them
with `async for key in queue`, sync, then call `done(key)` always and `forget(key)` on success or
`add_rate_limited(key)` on failure (the controller sketch in docs/style.md §8). The guarantees
are upstream's:

- Fair: keys come out in the order they were first added.
- Stingy: a key added many times before a worker takes it is handed out once, and a key is never
  handed to two workers at once: added again while being processed, it waits (dirty) until the
  first worker calls `done`, then is queued once more.
- Shutdown: `shut_down` stops new adds; workers still drain what is queued, then their
  `async for` ends.

Time (delays, the token bucket) is read through a `clock.Clock`, so tests step a `FakeClock`.
Everything runs on one event loop; no method is safe to call from another thread.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

from kajitori.client import clock as clock_

T = TypeVar("T", bound=Hashable)
T_contra = TypeVar("T_contra", bound=Hashable, contravariant=True)

DEFAULT_ITEM_BASE_DELAY = 0.005
"""Seconds: the first retry of a failing key waits 5 ms, as DefaultControllerRateLimiter."""
DEFAULT_ITEM_MAX_DELAY = 1000.0
"""Seconds: per-key exponential backoff stops doubling at 1000 s, as upstream."""
DEFAULT_QPS = 10.0
"""Retries per second across all keys (the overall token bucket), as upstream."""
DEFAULT_BURST = 100
"""Retries the overall bucket lets through at once before `DEFAULT_QPS` applies, as upstream."""


class ShutDown(Exception):
    """`get` on a queue that is shut down and empty: the worker should return."""


class Queue(Generic[T]):
    """client-go's `workqueue.Type`: a deduplicating FIFO with dirty and processing sets."""

    def __init__(self, *, name: str = "") -> None:
        self.name = name  # for logs: which controller's queue
        self._queue: collections.deque[T] = collections.deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        self._getters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._shutting_down = False

    def add(self, item: T) -> None:
        """Mark `item` as needing processing. A no-op if it is already waiting or the queue is
        shut down; deferred to its `done` if a worker holds it now."""
        if self._shutting_down or item in self._dirty:
            return
        self._dirty.add(item)
        if item in self._processing:
            return
        self._queue.append(item)
        self._wake_one()

    def __len__(self) -> int:
        """Items waiting to be handed out (not those being processed)."""
        return len(self._queue)

    async def get(self) -> T:
        """The next item, waiting for one; the caller must call `done(item)` when finished.
        Raises `ShutDown` once the queue is shut down and drained."""
        while not self._queue:
            if self._shutting_down:
                raise ShutDown(self.name)
            waiter = asyncio.get_running_loop().create_future()
            self._getters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # we were woken but leave: pass the item on
                raise
            finally:
                if waiter in self._getters:
                    self._getters.remove(waiter)
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        return item

    def __aiter__(self) -> Queue[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.get()
        except ShutDown:
            raise StopAsyncIteration from None

    def done(self, item: T) -> None:
        """Processing of `item` is finished; if it was added meanwhile, it is queued again."""
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._wake_one()

    def shut_down(self) -> None:
        """Ignore further adds; wake every waiting `get`, which drains the queue then raises
        `ShutDown`. Idempotent."""
        self._shutting_down = True
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def _wake_one(self) -> None:
        while self._getters:
            waiter = self._getters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


class DelayingQueue(Queue[T]):
    """client-go's delaying queue: `add_after` adds an item once a delay has passed on `clock`.
    An item waiting twice keeps the earlier time; shutting down drops what still waits."""

    def __init__(self, *, name: str = "", clock: clock_.Clock | None = None) -> None:
        super().__init__(name=name)
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self._waiting: dict[T, float] = {}
        self._heap: list[tuple[float, int, T]] = []
        self._sequence = itertools.count()
        self._timer: clock_.Timer | None = None
        self._timer_at = 0.0

    def add_after(self, item: T, delay: float) -> None:
        """Add `item` after `delay` seconds (at once if `delay <= 0`); ignored once shut down."""
        if self.shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        ready_at = self._clock.now() + delay
        current = self._waiting.get(item)
        if current is not None and current <= ready_at:
            return
        self._waiting[item] = ready_at
        heapq.heappush(self._heap, (ready_at, next(self._sequence), item))
        self._schedule()

    def shut_down(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiting.clear()
        self._heap.clear()
        super().shut_down()

    def _schedule(self) -> None:
        """Keep one timer, at the earliest live entry; stale heap entries (an item rescheduled
        earlier) are dropped as they surface."""
        while self._heap and self._waiting.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        if not self._heap:
            return
        earliest = self._heap[0][0]
        if self._timer is not None:
            if self._timer_at <= earliest:
                return
            self._timer.cancel()
        self._timer_at = earliest
        self._timer = self._clock.call_at(earliest, self._fire)

    def _fire(self) -> None:
        # The loop may run a timer up to its clock resolution early: the timer's own time counts
        # as reached, or the item would be rescheduled for the same instant.
        now = max(self._clock.now(), self._timer_at)
        self._timer = None
        while self._heap and self._heap[0][0] <= now:
            ready_at, _, item = heapq.heappop(self._heap)
            if self._waiting.get(item) == ready_at:
                del self._waiting[item]
                self.add(item)
        self._schedule()


class RateLimiter(Protocol[T_contra]):
    """client-go's `workqueue.TypedRateLimiter`: how long a key waits before its next retry."""

    def when(self, item: T_contra) -> float:
        """Seconds `item` should wait now; records one more failure for it."""
        ...

    def forget(self, item: T_contra) -> None:
        """`item` succeeded: stop tracking it (its next failure starts from the base delay)."""
        ...

    def num_requeues(self, item: T_contra) -> int:
        """Failures recorded for `item` since it was last forgotten."""
        ...


class ItemExponentialFailureRateLimiter(Generic[T]):
    """`base_delay * 2**failures`, capped at `max_delay`, counted per item."""

    def __init__(self, base_delay: float, max_delay: float) -> None:
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._failures: dict[T, int] = {}

    def when(self, item: T) -> float:
        exponent = self._failures.get(item, 0)
        self._failures[item] = exponent + 1
        try:
            backoff = self._base_delay * 2.0 ** exponent
        except OverflowError:
            return self._max_delay
        return min(backoff, self._max_delay)

    def forget(self, item: T) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: T) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter(Generic[T]):
    """An overall token bucket (golang.org/x/time/rate's `Limiter.Reserve().Delay()`): `burst`
    tokens, refilled at `qps`; every `when` takes a token, waiting for it if the bucket is
    empty. It limits retries across all items, so it neither counts nor forgets any."""

    def __init__(self, *, qps: float, burst: int, clock: clock_.Clock | None = None) -> None:
        self._qps = qps
        self._burst = burst
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self._tokens = float(burst)
        self._last: float | None = None

    def when(self, item: T) -> float:
        now = self._clock.now()
        if self._last is not None:
            self._tokens = min(float(self._burst), self._tokens + (now - self._last) * self._qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self._qps

    def forget(self, item: T) -> None:
        return None

    def num_requeues(self, item: T) -> int:
        return 0


class MaxOfRateLimiter(Generic[T]):
    """The longest wait any of `limiters` asks for; every limiter sees every call."""

    def __init__(self, *limiters: RateLimiter[T]) -> None:
        self._limiters = limiters

    def when(self, item: T) -> float:
        return max(limiter.when(item) for limiter in self._limiters)

    def forget(self, item: T) -> None:
        for limiter in self._limiters:
            limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return max(limiter.num_requeues(item) for limiter in self._limiters)


def default_controller_rate_limiter(*, clock: clock_.Clock | None = None
                                    ) -> MaxOfRateLimiter[T]:
    """Upstream's `DefaultControllerRateLimiter`: per-item exponential 5 ms → 1000 s, and an
    overall bucket of 10 qps with a burst of 100, the larger wait winning. `clock` is the
    bucket's; tests pass a `FakeClock`."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(DEFAULT_ITEM_BASE_DELAY, DEFAULT_ITEM_MAX_DELAY),
        BucketRateLimiter(qps=DEFAULT_QPS, burst=DEFAULT_BURST, clock=clock))


class RateLimitingQueue(DelayingQueue[T]):
    """client-go's rate-limiting queue: `add_rate_limited` delays a key by what its rate
    limiter says (the default controller limiter unless given), `forget` resets it."""

    def __init__(self, *, name: str = "", rate_limiter: RateLimiter[T] | None = None,
                 clock: clock_.Clock | None = None) -> None:
        super().__init__(name=name, clock=clock)
        self._rate_limiter: RateLimiter[T] = \
            rate_limiter or default_controller_rate_limiter(clock=clock)

    def add_rate_limited(self, item: T) -> None:
        """Add `item` once its rate limiter allows; counts one more failure for it."""
        self.add_after(item, self._rate_limiter.when(item))

    def forget(self, item: T) -> None:
        """`item` succeeded: its next failure backs off from the base delay again. It does not
        remove the item from the queue (call `done` for that)."""
        self._rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return self._rate_limiter.num_requeues(item)
