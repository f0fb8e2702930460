"""Node heartbeats: a node agent renews its node's Lease in `kube-node-lease`.

Mirrors `staging/src/k8s.io/component-helpers/apimachinery/lease/controller.go` as the kubelet
runs it: the Lease is named after the node, held by it, `leaseDurationSeconds` 40
(`nodeLeaseDurationSeconds`), owned by the Node (so it goes with it), and renewed every quarter
of its duration (10 s) by an update of the last Lease the server returned. An update that
conflicts or finds no Lease falls back to get-or-create, as upstream's `backoffEnsureLease`.

Shared by the two node agents: the kubelet (`kajitori.kubelet.kubelet`) adds its one node, the
simulator (`kajitori.sim.simulator`) all of its nodes. One `NodeLeaseController` renews the
Leases of every node `add`ed to it: renewals sit in one delaying work queue, each node due at
its own time, first spread evenly over the renew interval so that 5,000 nodes make a steady 500
writes a second rather than bursts, and each next renewal is scheduled from when the last was
due, not when it ran, so a slow server makes renewals late but never fewer. When the process
stops, renewals stop: the Leases go stale and the node lifecycle controller sees dead nodes, as
with a crashed kubelet."""

from __future__ import annotations

import asyncio
import copy
import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kajitori.api import errors
from kajitori.client import backoff, rest, workqueue
from kajitori.client import clock as clock_

Obj = dict[str, Any]
Wall = Callable[[], datetime.datetime]

log = logging.getLogger(__name__)

LEASES = ("coordination.k8s.io", "v1", "leases")
NODE_LEASE_NAMESPACE = "kube-node-lease"


@dataclass(frozen=True)
class NodeLeaseSettings:
    """The kubelet's Lease settings, upstream's defaults."""

    node_lease_duration_seconds: int = 40
    """Seconds a Lease is valid after its renewTime (`nodeLeaseDurationSeconds`, 40)."""
    renew_interval: float = 10.0
    """Seconds between renewals; upstream fixes it at a quarter of the duration (10 s). A
    longer one, still under the duration, lightens the load of many nodes on the server."""
    concurrent_lease_renewals: int = 64
    """Renewals in flight at once across all nodes of the process."""

    def validate(self) -> None:
        """Raise ValueError for an interval under which Leases would expire between renewals."""
        if self.node_lease_duration_seconds <= 0:
            raise ValueError("nodeLeaseDurationSeconds must be greater than zero")
        if not 0 < self.renew_interval < self.node_lease_duration_seconds:
            raise ValueError("the lease renew interval must be greater than zero and less "
                             "than nodeLeaseDurationSeconds")


def new_lease(node_name: str, node_uid: str, *, duration: int, renew_time: str) -> Obj:
    """The Lease a kubelet creates: held by and named after its node, owned by the Node."""
    return {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {
            "name": node_name, "namespace": NODE_LEASE_NAMESPACE,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node_name,
                                 "uid": node_uid}],
        },
        "spec": {"holderIdentity": node_name, "leaseDurationSeconds": duration,
                 "renewTime": renew_time},
    }


def micro_time(moment: datetime.datetime) -> str:
    """metav1.MicroTime as the wire carries it: RFC 3339 with microseconds."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class NodeLeaseController:
    """Renews the Leases of the nodes `add`ed to it until cancelled. Counters (`renewals`,
    `failures`, `max_lateness`) say how well the server keeps up. A failed renewal is logged
    and the node tried again at its next turn (its Lease is still valid for the rest of its
    duration). Runs on one loop; `add` may be called before or while `run` runs."""

    def __init__(self, client: rest.RESTClient, *, settings: NodeLeaseSettings | None = None,
                 clock: clock_.Clock | None = None, wall: Wall | None = None) -> None:
        self._client = client
        self._settings = settings or NodeLeaseSettings()
        self._settings.validate()
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self._wall: Wall = wall or _utc_now
        self._queue: workqueue.DelayingQueue[str] = workqueue.DelayingQueue(
            name="node-lease", clock=self._clock)
        self._uids: dict[str, str] = {}
        self._latest: dict[str, Obj] = {}
        self._due: dict[str, float] = {}
        self.renewals = 0
        self.failures = 0
        self.max_lateness = 0.0
        """Seconds the latest-running renewal started after it was due."""

    @property
    def renew_interval(self) -> float:
        return self._settings.renew_interval

    def add(self, node_name: str, node_uid: str, *, delay: float = 0.0) -> None:
        """Renew `node_name`'s Lease in `delay` seconds and every interval after. Callers
        spread `delay` over the interval (`spread(i, n)`)."""
        self._uids[node_name] = node_uid
        self._due[node_name] = self._clock.now() + delay
        self._queue.add_after(node_name, delay)

    def spread(self, position: int, total: int) -> float:
        """The first-renewal delay of the `position`-th of `total` nodes: evenly over one
        renew interval."""
        return self._settings.renew_interval * position / max(total, 1)

    async def run(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(self._settings.concurrent_lease_renewals):
                    group.create_task(self._worker())
        finally:
            self._queue.shut_down()

    async def _worker(self) -> None:
        async for name in self._queue:
            due = self._due[name]
            self.max_lateness = max(self.max_lateness, self._clock.now() - due)
            try:
                await self.renew(name)
            except backoff.RETRIABLE as exc:
                self.failures += 1
                log.warning("renewing the lease of node %s failed, will retry: %s", name, exc)
            else:
                self.renewals += 1
            finally:
                self._queue.done(name)
                self._due[name] = due + self._settings.renew_interval
                self._queue.add_after(name, self._due[name] - self._clock.now())

    async def renew(self, name: str) -> None:
        """Renew `name`'s Lease now: update the last one seen, or get-or-create it when there
        is none or the update conflicts or finds it gone."""
        latest = self._latest.get(name)
        if latest is not None:
            try:
                self._latest[name] = await self._update(latest)
                return
            except errors.StatusError as exc:
                if exc.code not in (404, 409):
                    raise
        lease, created = await self._ensure(name)
        self._latest[name] = lease if created else await self._update(lease)

    async def _update(self, lease: Obj) -> Obj:
        renewed = copy.deepcopy(lease)
        spec = renewed.setdefault("spec", {})
        spec["renewTime"] = micro_time(self._wall())
        spec["holderIdentity"] = renewed["metadata"]["name"]
        spec["leaseDurationSeconds"] = self._settings.node_lease_duration_seconds
        path = rest.resource_path(*LEASES, namespace=NODE_LEASE_NAMESPACE,
                                  name=renewed["metadata"]["name"])
        return await self._client.update(path, renewed)

    async def _ensure(self, name: str) -> tuple[Obj, bool]:
        """(the Lease, whether it was just created, renewed by creation)."""
        with errors.ignore_not_found():
            return await self._client.get(rest.resource_path(
                *LEASES, namespace=NODE_LEASE_NAMESPACE, name=name)), False
        lease = new_lease(name, self._uids[name],
                          duration=self._settings.node_lease_duration_seconds,
                          renew_time=micro_time(self._wall()))
        created = await self._client.create(
            rest.resource_path(*LEASES, namespace=NODE_LEASE_NAMESPACE), lease)
        return created, True


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
