"""Work queue semantics as client-go's util/workqueue tests state them; time is a FakeClock."""

from __future__ import annotations

import asyncio

import pytest

from kajitori.client import clock, workqueue


async def test_items_come_out_in_order_and_duplicates_once() -> None:
    queue: workqueue.Queue[str] = workqueue.Queue()
    for key in ("a", "b", "a", "c", "b"):
        queue.add(key)
    assert len(queue) == 3
    assert [await queue.get() for _ in range(3)] == ["a", "b", "c"]
    assert len(queue) == 0


async def test_item_added_while_processing_waits_for_done() -> None:
    queue: workqueue.Queue[str] = workqueue.Queue()
    queue.add("a")
    assert await queue.get() == "a"
    queue.add("a")
    queue.add("a")
    assert len(queue) == 0  # a second worker must not get it while the first holds it
    queue.done("a")
    assert len(queue) == 1
    assert await queue.get() == "a"
    queue.done("a")
    assert len(queue) == 0


async def test_two_workers_never_hold_the_same_key() -> None:
    queue: workqueue.Queue[str] = workqueue.Queue()
    holding: set[str] = set()
    overlaps: list[str] = []
    processed: list[str] = []
    release = asyncio.Event()

    async def worker() -> None:
        async for key in queue:
            if key in holding:
                overlaps.append(key)
            holding.add(key)
            processed.append(key)
            await release.wait()
            holding.discard(key)
            queue.done(key)

    async with asyncio.TaskGroup() as group:
        for _ in range(3):
            group.create_task(worker())
        queue.add("x")
        await asyncio.sleep(0)
        queue.add("x")  # arrives while a worker holds x
        queue.add("y")
        for _ in range(5):
            await asyncio.sleep(0)
        assert sorted(holding) == ["x", "y"]
        release.set()
        for _ in range(5):
            await asyncio.sleep(0)
        queue.shut_down()
    assert overlaps == []
    assert processed == ["x", "y", "x"]


async def test_shut_down_drains_then_ends_iteration_and_ignores_adds() -> None:
    queue: workqueue.Queue[str] = workqueue.Queue()
    queue.add("a")
    queue.add("b")
    queue.shut_down()
    queue.add("c")
    seen = [key async for key in queue]
    assert seen == ["a", "b"]
    with pytest.raises(workqueue.ShutDown):
        await queue.get()


async def test_shut_down_wakes_a_waiting_worker() -> None:
    queue: workqueue.Queue[str] = workqueue.Queue()

    async def drain() -> list[str]:
        return [key async for key in queue]

    task = asyncio.create_task(drain())
    await asyncio.sleep(0)
    queue.shut_down()
    assert await task == []


async def test_cancelled_waiter_passes_its_wake_up_on() -> None:
    queue: workqueue.Queue[str] = workqueue.Queue()
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.add("a")  # wakes `first`
    first.cancel()
    assert await second == "a"
    assert first.cancelled()


async def test_add_after_waits_on_the_clock() -> None:
    fake = clock.FakeClock()
    queue: workqueue.DelayingQueue[str] = workqueue.DelayingQueue(clock=fake)
    queue.add_after("late", 10)
    queue.add_after("soon", 1)
    queue.add_after("now", 0)
    assert len(queue) == 1
    fake.step(0.999)
    assert len(queue) == 1
    fake.step(0.001)
    assert len(queue) == 2
    fake.step(9)
    assert [await queue.get() for _ in range(3)] == ["now", "soon", "late"]


async def test_add_after_keeps_the_earlier_time() -> None:
    fake = clock.FakeClock()
    queue: workqueue.DelayingQueue[str] = workqueue.DelayingQueue(clock=fake)
    queue.add_after("a", 5)
    queue.add_after("a", 10)  # later: ignored
    fake.step(5)
    assert len(queue) == 1
    assert await queue.get() == "a"
    queue.done("a")
    queue.add_after("b", 10)
    queue.add_after("b", 2)  # earlier: wins
    fake.step(2)
    assert len(queue) == 1
    fake.step(100)
    assert len(queue) == 1  # and it arrives once


async def test_shut_down_drops_waiting_items() -> None:
    fake = clock.FakeClock()
    queue: workqueue.DelayingQueue[str] = workqueue.DelayingQueue(clock=fake)
    queue.add_after("a", 1)
    queue.shut_down()
    fake.step(2)
    assert len(queue) == 0
    assert not fake.has_waiters()


async def test_add_after_on_the_loop_clock_arrives() -> None:
    queue: workqueue.DelayingQueue[str] = workqueue.DelayingQueue()
    queue.add_after("a", 0.001)
    assert await queue.get() == "a"


def test_item_exponential_backoff_doubles_to_the_cap_and_forgets() -> None:
    limiter: workqueue.ItemExponentialFailureRateLimiter[str] = \
        workqueue.ItemExponentialFailureRateLimiter(0.001, 1.0)
    assert [limiter.when("a") for _ in range(5)] == [0.001, 0.002, 0.004, 0.008, 0.016]
    assert limiter.when("b") == 0.001
    assert limiter.num_requeues("a") == 5
    for _ in range(20):
        limiter.when("a")
    assert limiter.when("a") == 1.0
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == 0.001


def test_item_exponential_backoff_survives_huge_failure_counts() -> None:
    limiter: workqueue.ItemExponentialFailureRateLimiter[str] = \
        workqueue.ItemExponentialFailureRateLimiter(0.005, 1000.0)
    for _ in range(2000):
        delay = limiter.when("a")
    assert delay == 1000.0


def test_bucket_lets_the_burst_through_then_paces_at_qps() -> None:
    fake = clock.FakeClock()
    bucket: workqueue.BucketRateLimiter[str] = \
        workqueue.BucketRateLimiter(qps=10, burst=100, clock=fake)
    assert {bucket.when(str(i)) for i in range(100)} == {0.0}
    assert bucket.when("x") == pytest.approx(0.1)
    assert bucket.when("y") == pytest.approx(0.2)
    fake.step(0.2)  # refills the two tokens just borrowed
    assert bucket.when("z") == pytest.approx(0.1)
    assert bucket.num_requeues("x") == 0


def test_default_controller_rate_limiter_takes_the_larger_wait() -> None:
    fake = clock.FakeClock()
    limiter: workqueue.MaxOfRateLimiter[str] = \
        workqueue.default_controller_rate_limiter(clock=fake)
    assert limiter.when("a") == 0.005
    assert limiter.when("a") == 0.01
    for i in range(98):
        limiter.when(str(i))
    # the bucket is empty now: a fresh key waits for a token, not 5 ms
    assert limiter.when("fresh") == pytest.approx(0.1)
    assert limiter.num_requeues("a") == 2
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0


async def test_rate_limited_key_backs_off_and_forget_resets() -> None:
    fake = clock.FakeClock()
    queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
        name="test", clock=fake)
    queue.add_rate_limited("a")
    assert len(queue) == 0
    fake.step(0.005)
    assert len(queue) == 1
    assert await queue.get() == "a"
    queue.add_rate_limited("a")  # failed again: 10 ms
    queue.done("a")
    fake.step(0.009)
    assert len(queue) == 0
    fake.step(0.001)
    assert await queue.get() == "a"
    assert queue.num_requeues("a") == 2
    queue.forget("a")
    queue.done("a")
    assert queue.num_requeues("a") == 0
    queue.add_rate_limited("a")
    fake.step(0.005)
    assert len(queue) == 1
