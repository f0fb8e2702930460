"""The worker loop: success forgets a key's backoff, failure requeues it rate-limited, a
requeue request waits as asked, a bug ends the loop."""

from __future__ import annotations

import asyncio

import pytest

from kajitori.api import errors
from kajitori.client import FakeClock, workqueue
from kajitori.controllers import worker


async def test_failure_backs_off_and_success_forgets() -> None:
    clock = FakeClock()
    queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(clock=clock)
    calls = []

    async def sync(key: str) -> None:
        calls.append(key)
        if len(calls) == 1:
            raise errors.internal_error("boom")
        queue.shut_down()  # the worker returns once the queue is drained

    queue.add("k")
    task = asyncio.create_task(worker.run_worker(queue, sync, what="thing"))
    await clock.wait_for_waiters()  # the retry waits for its backoff
    assert queue.num_requeues("k") == 1
    clock.step(workqueue.DEFAULT_ITEM_BASE_DELAY)
    await task
    assert calls == ["k", "k"]
    assert queue.num_requeues("k") == 0


async def test_requeue_after_waits_the_asked_time_without_counting_a_failure() -> None:
    clock = FakeClock()
    queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(clock=clock)
    calls = []

    async def sync(key: str) -> None:
        calls.append(key)
        if len(calls) == 1:
            raise worker.RequeueAfter(30)
        queue.shut_down()

    queue.add("k")
    task = asyncio.create_task(worker.run_worker(queue, sync, what="thing"))
    await clock.wait_for_waiters()
    assert queue.num_requeues("k") == 0
    clock.step(29)
    assert len(queue) == 0
    clock.step(1)
    await task
    assert calls == ["k", "k"]


async def test_a_bug_ends_the_worker() -> None:
    queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(clock=FakeClock())

    async def sync(key: str) -> None:
        raise KeyError(key)

    queue.add("k")
    with pytest.raises(KeyError):
        await worker.run_worker(queue, sync, what="thing")


class Unsynced:
    """An informer stand-in whose cache syncs when the test says so."""

    def __init__(self) -> None:
        self.synced = asyncio.Event()

    async def wait_for_sync(self) -> None:
        await self.synced.wait()


async def test_run_workers_syncs_nothing_before_every_cache_has_synced() -> None:
    queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue()
    first, second = Unsynced(), Unsynced()
    synced = asyncio.Event()

    async def sync(key: str) -> None:
        synced.set()

    queue.add("k")
    task = asyncio.create_task(worker.run_workers(
        queue, sync, what="thing", workers=2,
        informers=(first, second)))  # type: ignore[arg-type]
    first.synced.set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert not synced.is_set()
    second.synced.set()
    await synced.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert queue.shutting_down


async def test_run_workers_starts_what_runs_alongside_before_the_caches_sync() -> None:
    queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue()
    never = Unsynced()
    started = asyncio.Event()

    async def recorder() -> None:
        started.set()
        await asyncio.Event().wait()

    async def sync(key: str) -> None:
        raise AssertionError("no cache has synced")

    task = asyncio.create_task(worker.run_workers(
        queue, sync, what="thing", workers=1, informers=(never,),  # type: ignore[arg-type]
        alongside=(recorder,)))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert queue.shutting_down
