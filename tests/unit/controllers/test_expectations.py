"""Expectations: a controller waits for its own writes to show in its caches, five minutes
at most."""

from __future__ import annotations

from kajitori.client import FakeClock
from kajitori.controllers import expectations

KEY = "default/rs"


def test_no_expectations_are_satisfied() -> None:
    assert expectations.ControllerExpectations(clock=FakeClock()).satisfied_expectations(KEY)


def test_creations_are_awaited_until_each_is_observed() -> None:
    exp = expectations.ControllerExpectations(clock=FakeClock())
    exp.expect_creations(KEY, 2)
    assert not exp.satisfied_expectations(KEY)
    exp.creation_observed(KEY)
    assert not exp.satisfied_expectations(KEY)
    exp.creation_observed(KEY)
    assert exp.satisfied_expectations(KEY)
    assert exp.get_expectations(KEY) == expectations.ControlleeExpectations(0, 0, 0.0)


def test_unmet_expectations_expire_after_five_minutes() -> None:
    clock = FakeClock()
    exp = expectations.ControllerExpectations(clock=clock)
    exp.expect_deletions(KEY, 1)
    clock.step(expectations.EXPECTATIONS_TIMEOUT)
    assert not exp.satisfied_expectations(KEY)
    clock.step(1)
    assert exp.satisfied_expectations(KEY)


def test_raise_and_lower_keep_the_timestamp_and_ignore_unknown_keys() -> None:
    clock = FakeClock()
    exp = expectations.ControllerExpectations(clock=clock)
    exp.raise_expectations("other", add=1, delete=1)
    assert exp.get_expectations("other") is None
    exp.set_expectations(KEY, add=1, delete=1)
    clock.step(10)
    exp.raise_expectations(KEY, add=2, delete=0)
    exp.lower_expectations(KEY, add=1, delete=1)
    assert exp.get_expectations(KEY) == expectations.ControlleeExpectations(2, 0, 0.0)
    exp.delete_expectations(KEY)
    assert exp.satisfied_expectations(KEY)


def test_uid_tracking_counts_each_deleted_pod_once() -> None:
    exp = expectations.UIDTrackingExpectations(clock=FakeClock())
    exp.expect_deletions(KEY, ["default/a", "default/b"])
    exp.deletion_observed(KEY, "default/a")
    exp.deletion_observed(KEY, "default/a")  # a tombstone after the delete event
    exp.deletion_observed(KEY, "default/unrelated")
    assert not exp.satisfied_expectations(KEY)
    assert exp.get_uids(KEY) == {"default/b"}
    exp.deletion_observed(KEY, "default/b")
    assert exp.satisfied_expectations(KEY)
    exp.delete_expectations(KEY)
    assert exp.get_uids(KEY) is None
