"""Retry delays: exponential with a cap, reset after a quiet spell, Retry-After wins."""

from __future__ import annotations

from kajitori.api import errors
from kajitori.client import backoff, clock


def test_delays_double_up_to_the_cap_and_reset_after_quiet() -> None:
    fake = clock.FakeClock()
    manager = backoff.BackoffManager(backoff.Backoff(0.8, cap=3.0, jitter=0.0),
                                     reset_after=120, clock=fake)
    assert [manager.delay() for _ in range(4)] == [0.8, 1.6, 3.0, 3.0]
    fake.step(120)  # not more than reset_after: keeps growing from the cap
    assert manager.delay() == 3.0
    fake.step(121)
    assert manager.delay() == 0.8


def test_jitter_stretches_by_at_most_the_factor() -> None:
    for _ in range(100):
        assert 1.0 <= backoff.jitter(1.0, 0.5) <= 1.5
        assert 2.0 <= backoff.jitter(2.0, 0) <= 4.0  # non-positive means 1.0


def test_retry_after_from_the_header_or_the_status_details() -> None:
    assert backoff.retry_after(errors.too_many_requests("slow down", retry_after=7)) == 7.0
    status_only = errors.StatusError(errors.status(429, "TooManyRequests", "x",
                                                   {"retryAfterSeconds": 3}))
    assert backoff.retry_after(status_only) == 3.0
    assert backoff.retry_after(errors.not_found("pods", "a")) is None
    assert backoff.retry_after(OSError("refused")) is None


def test_retry_after_overrides_the_computed_delay() -> None:
    fake = clock.FakeClock()
    manager = backoff.BackoffManager(backoff.Backoff(0.8, jitter=0.0), reset_after=120,
                                     clock=fake)
    assert manager.delay(errors.too_many_requests("slow down", retry_after=5)) == 5.0
    assert manager.delay() == 1.6  # the sequence advanced meanwhile
