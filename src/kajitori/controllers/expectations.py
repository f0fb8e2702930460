"""Expectations: what a controller has asked the API to do and not yet seen in its caches.

Mirrors the expectations half of pkg/controller/controller_utils.go (`ControllerExpectations`,
`UIDTrackingExpectations`). A controller that creates 3 pods calls `expect_creations(key, 3)`
before it creates them; its pod informer handler calls `creation_observed(key)` for each pod
seen; until the count reaches zero, `satisfied_expectations(key)` is False and the sync must not
act on the caches again (they do not yet show its own writes, and it would create 3 more).
A create that failed is never observed: the controller lowers the count itself
(`creation_observed` once per failure). Expectations older than `EXPECTATIONS_TIMEOUT` count
as satisfied, so a lost watch event delays a controller by five minutes, never forever.

`UIDTrackingExpectations` also remembers *which* pods a deletion waits for (by pod key), so a
pod that disappears twice (a delete event after a relist tombstone) is counted once.

Keys are the controller's work-queue keys (`namespace/name` of the ReplicaSet, Job, ...).
Everything runs on one event loop: no locking.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kajitori.client import clock as clock_

log = logging.getLogger(__name__)

EXPECTATIONS_TIMEOUT = 300.0
"""Seconds after which unmet expectations are given up on (upstream's ExpectationsTimeout)."""


@dataclass
class ControlleeExpectations:
    """Creations and deletions one controller still waits to observe."""

    add: int
    delete: int
    timestamp: float
    """When they were set, on the expectations' clock."""

    def fulfilled(self) -> bool:
        return self.add <= 0 and self.delete <= 0


class ControllerExpectations:
    """Counts of pending creations and deletions per controller key."""

    def __init__(self, *, clock: clock_.Clock | None = None) -> None:
        """`clock` is monotonic time for the timeout: tests pass a FakeClock."""
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self._store: dict[str, ControlleeExpectations] = {}

    def get_expectations(self, key: str) -> ControlleeExpectations | None:
        return self._store.get(key)

    def delete_expectations(self, key: str) -> None:
        """Forget `key` (its controller object was deleted)."""
        self._store.pop(key, None)

    def satisfied_expectations(self, key: str) -> bool:
        """True when the controller may sync from its caches: nothing is pending, the
        expectations expired, or none were ever set (a new or deleted controller object)."""
        expectations = self._store.get(key)
        if expectations is None:
            return True
        if expectations.fulfilled():
            return True
        if self._clock.now() - expectations.timestamp > EXPECTATIONS_TIMEOUT:
            log.info("expectations of %s timed out (add %d, del %d); syncing anyway", key,
                     expectations.add, expectations.delete)
            return True
        return False

    def set_expectations(self, key: str, *, add: int, delete: int) -> None:
        """Replace `key`'s expectations and restart their timeout."""
        self._store[key] = ControlleeExpectations(add=add, delete=delete,
                                                  timestamp=self._clock.now())

    def expect_creations(self, key: str, adds: int) -> None:
        self.set_expectations(key, add=adds, delete=0)

    def expect_deletions(self, key: str, dels: int) -> None:
        self.set_expectations(key, add=0, delete=dels)

    def raise_expectations(self, key: str, *, add: int, delete: int) -> None:
        """Wait for more, keeping the original timestamp; a no-op for an unknown key."""
        expectations = self._store.get(key)
        if expectations is not None:
            expectations.add += add
            expectations.delete += delete

    def lower_expectations(self, key: str, *, add: int, delete: int) -> None:
        """Count `add` creations and `delete` deletions as observed; a no-op for an unknown
        key. Counts may go below zero (an object observed twice), which still satisfies."""
        expectations = self._store.get(key)
        if expectations is not None:
            expectations.add -= add
            expectations.delete -= delete

    def creation_observed(self, key: str) -> None:
        self.lower_expectations(key, add=1, delete=0)

    def deletion_observed(self, key: str) -> None:
        self.lower_expectations(key, add=0, delete=1)


class UIDTrackingExpectations:
    """`ControllerExpectations` whose deletions are tracked by pod key, so each deleted pod
    lowers the count once however many times its deletion is seen."""

    def __init__(self, *, clock: clock_.Clock | None = None) -> None:
        self.expectations = ControllerExpectations(clock=clock)
        self._uids: dict[str, set[str]] = {}

    def get_uids(self, key: str) -> set[str] | None:
        """The pod keys `key` waits to see deleted, or None."""
        return self._uids.get(key)

    def expect_deletions(self, key: str, deleted_keys: list[str]) -> None:
        """Wait for the deletion of these pods (keys `namespace/name`), replacing any set
        before: a controller sets deletion expectations only once its previous ones were
        satisfied."""
        existing = self._uids.get(key)
        if existing:
            log.error("clobbering existing delete keys of %s: %s", key, sorted(existing))
        self._uids[key] = set(deleted_keys)
        self.expectations.expect_deletions(key, len(deleted_keys))

    def deletion_observed(self, key: str, deleted_key: str) -> None:
        """Pod `deleted_key` is gone (or going): lower `key`'s count if it was expected."""
        uids = self._uids.get(key)
        if uids is not None and deleted_key in uids:
            self.expectations.deletion_observed(key)
            uids.discard(deleted_key)

    def delete_expectations(self, key: str) -> None:
        self.expectations.delete_expectations(key)
        self._uids.pop(key, None)

    def satisfied_expectations(self, key: str) -> bool:
        return self.expectations.satisfied_expectations(key)

    def expect_creations(self, key: str, adds: int) -> None:
        self.expectations.expect_creations(key, adds)

    def creation_observed(self, key: str) -> None:
        self.expectations.creation_observed(key)

    def get_expectations(self, key: str) -> ControlleeExpectations | None:
        return self.expectations.get_expectations(key)
