"""How long to wait before trying again: jittered exponential backoff honouring Retry-After.

Mirrors k8s.io/apimachinery/pkg/util/wait (`Backoff`, `Jitter`, and the exponential backoff
manager that resets after a quiet spell) and client-go's reading of `Retry-After`. It is the one
place that decides a retry delay: the reflector in `informer` waits through it between
list-and-watch attempts, `leaderelection` jitters its retry period with `jitter`; a caller that
failed with a `StatusError` passes it so that the server's `Retry-After` (429, 503) wins.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import aiohttp

from kajitori.api import errors
from kajitori.client import clock as clock_

RETRIABLE = (errors.StatusError, aiohttp.ClientError, OSError, TimeoutError, ValueError)
"""Failures of a call to the API that a retrying loop (reflector, leader election) logs and
retries after a delay: API errors, transport errors, undecodable bodies. Anything else is a
bug and propagates to the loop's owner."""


@dataclass(frozen=True)
class Backoff:
    """wait.Backoff's shape: the first delay, its growth, its jitter and its cap."""

    duration: float
    """Seconds of the first delay."""
    factor: float = 2.0
    """Each delay is the previous one times this (1.0: constant)."""
    jitter: float = 1.0
    """Each delay is stretched by up to this fraction of itself, at random, so that many clients
    failing together do not retry together (0: none)."""
    cap: float = 0.0
    """Seconds no (unjittered) delay exceeds; 0 means no cap."""


def jitter(duration: float, max_factor: float) -> float:
    """`duration` plus a random part of up to `max_factor * duration` (upstream's `wait.Jitter`;
    a non-positive factor means 1.0, as there)."""
    if max_factor <= 0.0:
        max_factor = 1.0
    return duration + random.random() * max_factor * duration


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked the client to wait, from a `StatusError`'s `Retry-After` header
    or its Status `details.retryAfterSeconds`; None when it asked nothing."""
    if not isinstance(exc, errors.StatusError):
        return None
    header = exc.headers.get("Retry-After")
    if header is not None and header.strip().isdigit():
        return float(header.strip())
    seconds = (exc.status.get("details") or {}).get("retryAfterSeconds")
    if isinstance(seconds, int) and seconds > 0:
        return float(seconds)
    return None


class BackoffManager:
    """Upstream's exponential backoff manager: successive `delay()` calls grow by
    `backoff.factor` up to `backoff.cap`; after `reset_after` seconds without a call the next
    delay starts from `backoff.duration` again. One manager per retrying loop; not shared."""

    def __init__(self, backoff: Backoff, *, reset_after: float,
                 clock: clock_.Clock | None = None) -> None:
        self._backoff = backoff
        self._reset_after = reset_after
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self._next = backoff.duration
        self._last: float | None = None

    def delay(self, exc: BaseException | None = None) -> float:
        """Seconds to wait before the next attempt. If `exc` carries a Retry-After, that is the
        answer (the server knows its load best); the exponential sequence still advances."""
        now = self._clock.now()
        if self._last is not None and now - self._last > self._reset_after:
            self._next = self._backoff.duration
        self._last = now
        current = self._next
        grown = current * self._backoff.factor
        self._next = min(grown, self._backoff.cap) if self._backoff.cap > 0 else grown
        asked = retry_after(exc) if exc is not None else None
        if asked is not None:
            return asked
        return jitter(current, self._backoff.jitter) if self._backoff.jitter > 0 else current
