"""The worker loop every controller runs: take a key, sync it, requeue it on failure.

Mirrors the `processNextWorkItem` each upstream controller writes (pkg/controller/*/…go): one
key is never synced by two workers at once (the queue guarantees it), success `forget`s the
key's backoff, failure is logged once and the key is re-added rate-limited, and `done` is
always called. A sync that wants to look again later without it being a failure raises
`RequeueAfter` (the namespace controller's ResourcesRemainingError, the TTL controller's
not-yet-expired Job). Anything else that is not an API or transport failure is a bug: it
propagates and ends the controller's TaskGroup.

`run_workers` is the whole `Run` of a controller with one queue: start what runs alongside (an
event recorder), wait for the informers' caches, start the workers, shut the queue down when it
ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Iterable
from typing import Any, TypeVar

from kajitori.client import backoff, informer, workqueue
from kajitori.controllers import discovery

T = TypeVar("T", bound=Hashable)

log = logging.getLogger(__name__)


class RequeueAfter(Exception):
    """Raised by a sync to have its key looked at again after `seconds`, without backoff."""

    def __init__(self, seconds: float, message: str = "") -> None:
        super().__init__(message or f"requeue after {seconds}s")
        self.seconds = seconds


class SyncFailed(Exception):
    """A sync that failed for reasons its message already states (several API errors at once,
    an object that should be gone and is not): retried with backoff like an API error."""


SYNC_FAILURES = (*backoff.RETRIABLE, discovery.RESTMappingError, SyncFailed)
"""What a failed sync may raise and be retried for: API and transport errors, undecodable
answers, lookups that rediscovery may fix (`discovery.RESTMappingError`), `SyncFailed`."""


async def run_worker(queue: workqueue.RateLimitingQueue[T],
                     sync: Callable[[T], Awaitable[None]], *, what: str) -> None:
    """Process keys until the queue shuts down. `what` names the controller in logs."""
    async for key in queue:
        try:
            await sync(key)
        except RequeueAfter as exc:
            log.debug("%s %s: %s", what, key, exc)
            queue.forget(key)
            queue.add_after(key, exc.seconds)
        except SYNC_FAILURES as exc:
            log.warning("syncing %s %s failed; will retry: %s", what, key, exc)
            queue.add_rate_limited(key)
        else:
            queue.forget(key)
        finally:
            queue.done(key)


async def run_workers(queue: workqueue.RateLimitingQueue[T],
                      sync: Callable[[T], Awaitable[None]], *, what: str, workers: int,
                      informers: Iterable[informer.Informer],
                      alongside: Iterable[Callable[[], Coroutine[Any, Any, object]]] = ()
                      ) -> None:
    """Start each of `alongside` (coroutine functions, e.g. an event recorder's `run`), wait
    until every informer in `informers` has synced, then run `workers` concurrent
    `run_worker`s on `queue` until cancelled; the queue is shut down however this ends, so
    nothing more is queued for a controller that stopped."""
    try:
        async with asyncio.TaskGroup() as group:
            for task in alongside:
                group.create_task(task())
            await asyncio.gather(*(i.wait_for_sync() for i in informers))
            for _ in range(workers):
                group.create_task(run_worker(queue, sync, what=what))
    finally:
        queue.shut_down()
