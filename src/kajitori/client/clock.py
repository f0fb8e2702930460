"""Time as the client machinery sees it: the event loop's clock, or a fake one tests step.

Mirrors k8s.io/utils/clock (`Clock`, `RealClock`) and its testing package (`FakeClock`): the work
queue's delays, the rate limiters and the reflector's backoff read time only through a `Clock`,
so a test moves time forward with `FakeClock.step` instead of sleeping. Times are monotonic
seconds (floats), never wall-clock dates; Lease timestamps are wall-clock and live in
`leaderelection`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    """A scheduled callback; `cancel` is idempotent and a no-op once it has run."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """Monotonic time, timers and sleeps. Callbacks run on the event loop, never concurrently
    with other code of the loop; they must not block."""

    def now(self) -> float:
        """Seconds on a monotonic scale; only differences mean anything."""
        ...

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        """Run `callback` once `now()` reaches `when` (at once, on the loop, if it already has)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once `seconds` have passed on this clock; cancellable."""
        ...


class LoopClock:
    """The running event loop's clock (`loop.time()`): what every component uses outside tests.
    Methods other than `now` need a running loop."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_at(when, callback)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _FakeTimer:
    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback: Callable[[], None] | None = callback

    def cancel(self) -> None:
        self.callback = None


class FakeClock:
    """A clock that moves only when a test calls `step`, like upstream's testing FakeClock.

    `step` runs every timer that falls due, in time order, synchronously; sleepers due by then
    are woken (they resume when the test next yields to the loop). Time never moves by itself,
    so a test asserts what is queued before and after a step without any real waiting.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, _FakeTimer]] = []
        self._sequence = itertools.count()
        self._timer_added = asyncio.Event()

    def now(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        timer = _FakeTimer(callback)
        heapq.heappush(self._timers, (when, next(self._sequence), timer))
        self._timer_added.set()
        return timer

    async def sleep(self, seconds: float) -> None:
        woken = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        timer = self.call_at(self._now + seconds, wake)
        try:
            await woken
        finally:
            timer.cancel()

    def step(self, seconds: float) -> None:
        """Advance time by `seconds`, running every timer due on the way, in order."""
        target = self._now + seconds
        while self._timers and self._timers[0][0] <= target:
            when, _, timer = heapq.heappop(self._timers)
            self._now = max(self._now, when)
            if timer.callback is not None:
                callback, timer.callback = timer.callback, None
                callback()
        self._now = target

    def has_waiters(self) -> bool:
        """Whether any timer or sleeper is pending."""
        return any(timer.callback is not None for _, _, timer in self._timers)

    async def wait_for_waiters(self) -> None:
        """Return once a timer or sleeper is pending: a test's way to know that the code under
        test has reached its wait before it steps time."""
        while not self.has_waiters():
            self._timer_added.clear()
            await self._timer_added.wait()
