"""Leader election on a `coordination.k8s.io/v1` Lease: one of many candidates leads.

Mirrors client-go `tools/leaderelection` (leaderelection.go, resourcelock/leaselock.go) and the
`LeaderElectionConfiguration` of component-base. A candidate tries to take the Lease every
`retry_period` (jittered); it may take it when the Lease is free (no holder, or released) or
when the holder has not changed it for `lease_duration` as *this candidate* measured it on its
own clock (so clock skew between machines does not matter, as upstream). The leader renews
every `retry_period`; if no renewal succeeds within `renew_deadline`, it stops leading.
`leaseTransitions` counts changes of holder; `acquireTime` is kept across renewals.

`LeaderElector.run(lead)` runs `lead()` while leading and cancels it when leadership is lost.
Every Lease write is a compare-and-swap on its resourceVersion, so two candidates never both
succeed; a lost race is simply a failed attempt.

Departures from upstream: no leader-election Events (upstream records `became leader` through
the lock); the coordinated leader election fields (`strategy`, `preferredHolder`) are left alone.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from kajitori.api import errors, meta
from kajitori.client import backoff, rest
from kajitori.client import clock as clock_

Obj = dict[str, Any]

log = logging.getLogger(__name__)

JITTER_FACTOR = 1.2
"""Attempts to acquire are spread over up to 1.2 × `retry_period` more, as upstream."""

LEASES = ("coordination.k8s.io", "v1", "leases")
LEASE_API_VERSION = "coordination.k8s.io/v1"
LEASE_KIND = "Lease"


@dataclass(frozen=True)
class LeaderElectionSettings:
    """component-base's `LeaderElectionConfiguration`, with its defaults (the
    `--leader-elect-*` flags of kube-controller-manager and kube-scheduler)."""

    leader_elect: bool = True
    """Whether to elect a leader before running; with False the component runs at once."""
    lease_duration: float = 15.0
    """Seconds a non-leader waits, after it last saw the Lease change, before it may take it:
    the longest a dead leader blocks the others."""
    renew_deadline: float = 10.0
    """Seconds the leader keeps retrying a renewal before it gives up leading; shorter than
    `lease_duration`, so it stops before another candidate may start."""
    retry_period: float = 2.0
    """Seconds between attempts to acquire or renew."""
    resource_lock: str = "leases"
    """The kind of lock; only Leases exist since upstream removed the others."""
    resource_name: str = ""
    """The Lease's name (the component's: `kube-controller-manager`, `kube-scheduler`)."""
    resource_namespace: str = "kube-system"
    """The Lease's namespace."""

    def validate(self) -> None:
        """Raise ValueError, worded as upstream's `NewLeaderElector`, for settings under which
        two leaders could overlap."""
        if self.lease_duration <= self.renew_deadline:
            raise ValueError("leaseDuration must be greater than renewDeadline")
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            raise ValueError("renewDeadline must be greater than retryPeriod*JitterFactor")
        if self.lease_duration <= 0:
            raise ValueError("leaseDuration must be greater than zero")
        if self.renew_deadline <= 0:
            raise ValueError("renewDeadline must be greater than zero")
        if self.retry_period <= 0:
            raise ValueError("retryPeriod must be greater than zero")


@dataclass(frozen=True)
class LeaderElectionRecord:
    """What a Lease's spec says about its holder (upstream's resourcelock record)."""

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: str | None = None
    renew_time: str | None = None
    leader_transitions: int = 0

    @classmethod
    def from_lease(cls, lease: Obj) -> LeaderElectionRecord:
        spec = lease.get("spec") or {}
        return cls(holder_identity=spec.get("holderIdentity") or "",
                   lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
                   acquire_time=spec.get("acquireTime"), renew_time=spec.get("renewTime"),
                   leader_transitions=int(spec.get("leaseTransitions") or 0))

    def to_spec(self) -> Obj:
        spec: Obj = {"holderIdentity": self.holder_identity,
                     "leaseDurationSeconds": self.lease_duration_seconds,
                     "leaseTransitions": self.leader_transitions}
        if self.acquire_time is not None:
            spec["acquireTime"] = self.acquire_time
        if self.renew_time is not None:
            spec["renewTime"] = self.renew_time
        return spec


class Lock(Protocol):
    """upstream's `resourcelock.Interface`: read and compare-and-swap the election record."""

    async def get(self) -> LeaderElectionRecord | None:
        """The current record, or None if the lock object does not exist."""
        ...

    async def create(self, record: LeaderElectionRecord) -> None:
        """Create the lock object; raises StatusError 409 if another candidate was first."""
        ...

    async def update(self, record: LeaderElectionRecord) -> None:
        """Replace the record read by the last `get`; raises StatusError 409 if it changed."""
        ...

    def describe(self) -> str:
        """`namespace/name`, for logs."""
        ...


class LeaseLock:
    """A `Lock` on a `coordination.k8s.io/v1` Lease through the REST client."""

    def __init__(self, client: rest.RESTClient, *, namespace: str, name: str) -> None:
        self._client = client
        self.namespace = namespace
        self.name = name
        self._lease: Obj | None = None  # as last read or written: carries the resourceVersion

    def _path(self, *, name: str = "") -> str:
        group, version, plural = LEASES
        return rest.resource_path(group, version, plural, namespace=self.namespace, name=name)

    async def get(self) -> LeaderElectionRecord | None:
        try:
            self._lease = await self._client.get(self._path(name=self.name))
        except errors.StatusError as exc:
            if exc.code == 404:
                self._lease = None
                return None
            raise
        return LeaderElectionRecord.from_lease(self._lease)

    async def create(self, record: LeaderElectionRecord) -> None:
        self._lease = await self._client.create(self._path(), {
            "apiVersion": LEASE_API_VERSION, "kind": LEASE_KIND,
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": record.to_spec()})

    async def update(self, record: LeaderElectionRecord) -> None:
        if self._lease is None:
            raise RuntimeError("LeaseLock.update before a successful get or create")
        spec = {**(self._lease.get("spec") or {}), **record.to_spec()}
        self._lease = await self._client.update(self._path(name=self.name),
                                                {**self._lease, "spec": spec})

    def describe(self) -> str:
        return f"{self.namespace}/{self.name}"


def default_identity() -> str:
    """`<hostname>_<uuid>`, unique per process, as kube-controller-manager builds its own."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"



class LeaderElector:
    """One candidate. `run(lead)` waits to acquire the Lease, runs `lead()` while it leads and
    returns when leadership is lost (as upstream's `Run`, after which components exit: a
    fresh process starts over as a candidate). Not reusable once `run` has returned."""

    def __init__(self, lock: Lock, *, identity: str, settings: LeaderElectionSettings,
                 release_on_cancel: bool = False,
                 on_new_leader: Callable[[str], None] | None = None,
                 clock: clock_.Clock | None = None) -> None:
        settings.validate()
        self.identity = identity
        self._lock = lock
        self._settings = settings
        self._release_on_cancel = release_on_cancel  # hand over at once on a clean stop
        self._on_new_leader = on_new_leader  # told each newly observed holder's identity
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self._observed = LeaderElectionRecord()
        self._observed_time = 0.0
        self._reported_leader = ""

    def is_leader(self) -> bool:
        """Whether this candidate held the Lease at its last successful read or write."""
        return self._observed.holder_identity == self.identity

    def get_leader(self) -> str:
        """The holder's identity as last observed (`""`: none yet)."""
        return self._observed.holder_identity

    async def run(self, lead: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Acquire, then run `lead()` until leadership is lost, when it is cancelled and `run`
        returns. If `lead()` returns first, the Lease is still renewed until loss or
        cancellation; if it raises, the error propagates (in an ExceptionGroup) and renewing
        stops. With `leader_elect=False`, `lead()` simply runs."""
        if not self._settings.leader_elect:
            await lead()
            return
        try:
            await self._acquire()
            async with asyncio.TaskGroup() as group:
                leading = group.create_task(lead())
                await self._renew()
                leading.cancel()
        finally:
            if self._release_on_cancel:
                await self._release()

    async def _acquire(self) -> None:
        log.info("attempting to acquire leader lease %s...", self._lock.describe())
        while not await self._try_acquire_or_renew():
            await self._clock.sleep(backoff.jitter(self._settings.retry_period, JITTER_FACTOR))
        log.info("successfully acquired lease %s", self._lock.describe())

    async def _renew(self) -> None:
        """Renew every `retry_period`; return when no attempt succeeded for `renew_deadline`."""
        settings = self._settings
        while True:
            deadline = self._clock.now() + settings.renew_deadline
            while True:
                remaining = deadline - self._clock.now()
                if remaining > 0:
                    try:
                        async with asyncio.timeout(remaining):
                            renewed = await self._try_acquire_or_renew()
                    except TimeoutError:
                        renewed = False
                    if renewed:
                        break
                if self._clock.now() + settings.retry_period >= deadline:
                    log.info("failed to renew lease %s: timed out waiting for the condition",
                             self._lock.describe())
                    return
                await self._clock.sleep(settings.retry_period)
            await self._clock.sleep(settings.retry_period)

    async def _try_acquire_or_renew(self) -> bool:
        """One attempt, as upstream's tryAcquireOrRenew: create the Lease, renew our hold, or
        take it over from a holder not seen renewing for its lease duration."""
        now = meta.now_micro()
        desired = LeaderElectionRecord(
            holder_identity=self.identity,
            lease_duration_seconds=int(self._settings.lease_duration),
            acquire_time=now, renew_time=now)
        try:
            old = await self._lock.get()
            if old is None:
                await self._lock.create(desired)
                self._observe(desired)
                return True
            if old != self._observed:
                self._observe(old)
            if old.holder_identity and not self.is_leader() and \
                    self._observed_time + old.lease_duration_seconds > self._clock.now():
                return False  # held by another, not yet expired
            if self.is_leader():
                desired = dataclasses.replace(desired, acquire_time=old.acquire_time,
                                              leader_transitions=old.leader_transitions)
            else:
                desired = dataclasses.replace(desired,
                                              leader_transitions=old.leader_transitions + 1)
            await self._lock.update(desired)
        except backoff.RETRIABLE as exc:
            if not (isinstance(exc, errors.StatusError) and exc.code == 409):
                log.warning("error retrieving or updating resource lock %s: %s",
                            self._lock.describe(), exc)
            return False
        self._observe(desired)
        return True

    def _observe(self, record: LeaderElectionRecord) -> None:
        self._observed = record
        self._observed_time = self._clock.now()
        if record.holder_identity != self._reported_leader:
            self._reported_leader = record.holder_identity
            if self._on_new_leader is not None and record.holder_identity:
                self._on_new_leader(record.holder_identity)

    async def _release(self) -> None:
        """Give the Lease up (no holder, 1 s duration) so a successor need not wait for it to
        expire; only if we hold it. Best effort: a failure is logged."""
        if not self.is_leader():
            return
        now = meta.now_micro()
        released = LeaderElectionRecord(lease_duration_seconds=1, acquire_time=now,
                                        renew_time=now,
                                        leader_transitions=self._observed.leader_transitions)
        try:
            async with asyncio.timeout(self._settings.renew_deadline):
                await self._lock.update(released)
        except backoff.RETRIABLE as exc:
            log.warning("failed to release lock %s: %s", self._lock.describe(), exc)
            return
        self._observe(released)
