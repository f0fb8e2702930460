"""Leader election on a Lease of the real in-process APIServer, with short durations: one of
two candidates leads; when it stops renewing the other takes over and leaseTransitions counts
it; a leader that cannot renew stops leading; a released Lease is free at once."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

import pytest
from background import running

from kajitori.api import errors
from kajitori.client import leaderelection, rest

FAST = leaderelection.LeaderElectionSettings(
    lease_duration=1.0, renew_deadline=0.8, retry_period=0.2, resource_name="test-lock")
LEASE = rest.resource_path("coordination.k8s.io", "v1", "leases", namespace="kube-system",
                           name="test-lock")


class Candidate:
    """An elector whose `lead()` reports when it starts and when it is cancelled, and which
    records every leader it observes."""

    def __init__(self, lock: leaderelection.Lock, identity: str, *,
                 settings: leaderelection.LeaderElectionSettings = FAST,
                 release_on_cancel: bool = False) -> None:
        self.elector = leaderelection.LeaderElector(
            lock, identity=identity, settings=settings, release_on_cancel=release_on_cancel,
            on_new_leader=self._on_new_leader)
        self.leaders: list[str] = []
        self.observed = asyncio.Event()
        self.leading = asyncio.Event()
        self.stopped = asyncio.Event()

    def _on_new_leader(self, identity: str) -> None:
        self.leaders.append(identity)
        self.observed.set()

    async def lead(self) -> None:
        self.leading.set()
        try:
            await asyncio.Event().wait()
        finally:
            self.stopped.set()

    async def run(self) -> None:
        await self.elector.run(self.lead)


class FlakyLock:
    """A LeaseLock whose writes fail with 500 once `broken` is set, as a partitioned leader's."""

    def __init__(self, lock: leaderelection.LeaseLock) -> None:
        self._lock = lock
        self.broken = False

    async def get(self) -> leaderelection.LeaderElectionRecord | None:
        return await self._lock.get()

    async def create(self, record: leaderelection.LeaderElectionRecord) -> None:
        await self._lock.create(record)

    async def update(self, record: leaderelection.LeaderElectionRecord) -> None:
        if self.broken:
            raise errors.internal_error("etcdserver: request timed out")
        await self._lock.update(record)

    def describe(self) -> str:
        return self._lock.describe()


def lease_lock(client: rest.RESTClient) -> leaderelection.LeaseLock:
    return leaderelection.LeaseLock(client, namespace="kube-system", name="test-lock")


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_follower_takes_over_when_the_leader_stops_renewing(
        client: rest.RESTClient) -> None:
    a, b = Candidate(lease_lock(client), "a"), Candidate(lease_lock(client), "b")
    task_a = asyncio.create_task(a.run())
    await a.leading.wait()
    first = (await client.get(LEASE))["spec"]
    assert first["holderIdentity"] == "a"
    assert first["leaseDurationSeconds"] == 1
    assert first["leaseTransitions"] == 0
    assert first["acquireTime"]
    assert first["renewTime"]
    assert a.elector.is_leader()
    async with running(b):
        await b.observed.wait()
        assert b.elector.get_leader() == "a"
        assert not b.elector.is_leader()
        assert not b.leading.is_set()  # a renews: b must wait
        await stop(task_a)  # a's process dies: no release
        assert a.stopped.is_set()
        await b.leading.wait()
        second = (await client.get(LEASE))["spec"]
    assert second["holderIdentity"] == "b"
    assert second["leaseTransitions"] == 1
    assert second["acquireTime"] != first["acquireTime"]
    assert b.leaders == ["a", "b"]


async def test_renewals_keep_the_acquire_time(client: rest.RESTClient) -> None:
    a = Candidate(lease_lock(client), "a")
    async with running(a):
        await a.leading.wait()
        first = (await client.get(LEASE))["spec"]
        renewed = first
        while renewed["renewTime"] == first["renewTime"]:
            renewed = (await client.get(LEASE))["spec"]
    assert renewed["acquireTime"] == first["acquireTime"]
    assert renewed["leaseTransitions"] == 0


async def test_leader_that_cannot_renew_stops_leading(client: rest.RESTClient) -> None:
    flaky = FlakyLock(lease_lock(client))
    a = Candidate(flaky, "a")
    task_a = asyncio.create_task(a.run())
    await a.leading.wait()
    flaky.broken = True
    await task_a  # run() returns once the renew deadline passes
    assert a.stopped.is_set()
    b = Candidate(lease_lock(client), "b")
    async with running(b):
        await b.leading.wait()
    assert (await client.get(LEASE))["spec"]["leaseTransitions"] == 1


async def test_release_on_cancel_frees_the_lease_at_once(client: rest.RESTClient) -> None:
    a = Candidate(lease_lock(client), "a", release_on_cancel=True)
    task_a = asyncio.create_task(a.run())
    await a.leading.wait()
    await stop(task_a)
    released = (await client.get(LEASE))["spec"]
    assert released["holderIdentity"] == ""
    assert released["leaseDurationSeconds"] == 1
    assert released["leaseTransitions"] == 0
    # a free Lease is taken on the first attempt, even with a lease duration far longer
    patient = dataclasses.replace(FAST, lease_duration=600, renew_deadline=0.8)
    b = Candidate(lease_lock(client), "b", settings=patient)
    async with running(b):
        await b.leading.wait()
    taken = (await client.get(LEASE))["spec"]
    assert (taken["holderIdentity"], taken["leaseTransitions"]) == ("b", 1)


async def test_without_leader_elect_lead_runs_at_once(client: rest.RESTClient) -> None:
    off = dataclasses.replace(FAST, leader_elect=False)
    a = Candidate(lease_lock(client), "a", settings=off)
    async with running(a):
        await a.leading.wait()
    with pytest.raises(errors.StatusError) as caught:
        await client.get(LEASE)
    assert caught.value.code == 404


def test_defaults_are_upstreams() -> None:
    settings = leaderelection.LeaderElectionSettings()
    assert (settings.lease_duration, settings.renew_deadline, settings.retry_period) == \
        (15.0, 10.0, 2.0)
    assert (settings.resource_lock, settings.resource_namespace) == ("leases", "kube-system")
    settings.validate()


@pytest.mark.parametrize(("changes", "message"), [
    ({"lease_duration": 10.0}, "leaseDuration must be greater than renewDeadline"),
    ({"retry_period": 9.0}, "renewDeadline must be greater than retryPeriod*JitterFactor"),
    ({"retry_period": 0.0}, "retryPeriod must be greater than zero"),
    ({"renew_deadline": 0.0, "retry_period": -1.0}, "renewDeadline must be greater than zero"),
])
def test_settings_that_could_overlap_leaders_are_refused(changes: dict[str, float],
                                                         message: str) -> None:
    settings = dataclasses.replace(leaderelection.LeaderElectionSettings(), **changes)
    with pytest.raises(ValueError, match=message.replace("*", r"\*")):
        settings.validate()


def test_record_round_trips_through_a_lease_spec() -> None:
    record = leaderelection.LeaderElectionRecord(
        holder_identity="a", lease_duration_seconds=15,
        acquire_time="2025-01-01T00:00:00.000000Z", renew_time="2025-01-01T00:00:05.000000Z",
        leader_transitions=3)
    assert record.to_spec() == {
        "holderIdentity": "a", "leaseDurationSeconds": 15, "leaseTransitions": 3,
        "acquireTime": "2025-01-01T00:00:00.000000Z",
        "renewTime": "2025-01-01T00:00:05.000000Z"}
    assert leaderelection.LeaderElectionRecord.from_lease({"spec": record.to_spec()}) == record
