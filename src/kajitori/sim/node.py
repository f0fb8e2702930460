"""A simulated node's Node: registration and status, as a kubelet reports them.

Mirrors the kubelet's `pkg/kubelet/kubelet_node_status.go` (registration: create the Node, or
on AlreadyExists reconcile the default labels of the existing one; status updates every
`nodeStatusUpdateFrequency`, posted when something changed or `nodeStatusReportFrequency` has
passed since the last post) and the setters of `pkg/kubelet/nodestatus/setters.go` (capacity,
allocatable, addresses, nodeInfo, the four conditions with their reasons and messages, whose
`lastTransitionTime` moves only when their status does and whose `lastHeartbeatTime` is the
time of each post).

One `NodeStatusController` serves every simulated node of the process: it compares each node
in the shared Node informer's cache with what it last posted, so a node costs no request
until its status is due. What every node agent shares (registration, the conditions) is
`kajitori.client.nodestatus`; the Lease heartbeat is `client.nodelease`'s; the pods are
`podlifecycle`'s; the usage (whose endpoint each Node names) `metrics`'.

Departures: nodes report no images and record no Events (`Starting`, `NodeReady`, ...): at
5,000 nodes those are writes nobody reads. A deleted Node is not re-created, as upstream's
kubelet does not re-register either.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import importlib.metadata
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kajitori.api import cidrset, meta, version
from kajitori.client import backoff, informer, nodestatus, rest, workqueue
from kajitori.client import clock as clock_
from kajitori.sim import metrics
from kajitori.sim import pool as pool_

Obj = dict[str, Any]
Wall = Callable[[], datetime.datetime]

log = logging.getLogger(__name__)

NODES = nodestatus.NODES

RUNTIME_VERSION = "sim://" + importlib.metadata.version("kajitori")
OS_IMAGE = "Kajitori simulated node"
KERNEL_VERSION = "6.1.0-sim"

SIM_TYPE_LABEL = "type"
SIM_TYPE = "sim"
"""`type=sim` marks simulated nodes for nodeSelectors, as KWOK's `type=kwok` does."""
POOL_LABEL = "sim.kajitori.io/pool"
DEFAULT_LABELS = (*nodestatus.KUBELET_LABELS, pool_.ZONE_LABEL, pool_.REGION_LABEL,
                  pool_.INSTANCE_TYPE_LABEL)
"""What a kubelet reconciles on an existing Node (upstream's `updateDefaultLabels`)."""


@dataclass(frozen=True)
class NodeStatusSettings:
    """The kubelet's node status settings (KubeletConfiguration), upstream's defaults."""

    node_status_update_frequency: float = 10.0
    """Seconds between checks of a node's status (`nodeStatusUpdateFrequency`, 10 s)."""
    node_status_report_frequency: float = 300.0
    """Seconds after which an unchanged status is posted anyway, renewing the conditions'
    heartbeats (`nodeStatusReportFrequency`, 5 min)."""
    concurrent_node_status_updates: int = 16
    """Status posts in flight at once, across all nodes of the process (no upstream
    equivalent: each kubelet posts only its own)."""


@dataclass(frozen=True)
class SimNode:
    """One simulated node: its pool, its place in it, and its addresses."""

    name: str
    pool: pool_.NodePool
    index: int
    pod_cidr: str
    internal_ip: str

    @property
    def machine_id(self) -> str:
        """Stable across restarts, like /etc/machine-id: 32 hex digits from the name."""
        return hashlib.md5(self.name.encode(), usedforsecurity=False).hexdigest()

    @property
    def system_uuid(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{self.name}.sim.kajitori.io"))

    def labels(self) -> dict[str, str]:
        """The pool's labels, then the kubelet's own (which win)."""
        return {**self.pool.node_labels(self.index),
                **nodestatus.kubelet_labels(self.name), SIM_TYPE_LABEL: SIM_TYPE,
                POOL_LABEL: self.pool.name}


def plan_nodes(pools: Iterable[pool_.NodePool], *, existing: Iterable[Obj],
               cidrs: cidrset.Range, node_ips: cidrset.Range) -> list[SimNode]:
    """Every pool's nodes with their addresses. A node that already exists keeps its
    podCIDR and InternalIP (a podCIDR cannot change once set); new ones get free blocks, the
    blocks of every existing Node being marked used first. Raises cidrset.RangeFull."""
    by_name = {meta.name(node): node for node in existing}
    cidrs.occupy(_pod_cidr(node) for node in by_name.values() if _pod_cidr(node))
    node_ips.occupy(_internal_ip(node) for node in by_name.values() if _internal_ip(node))
    planned = []
    for pool in pools:
        for index in range(pool.count):
            name = pool.node_name(index)
            found = by_name.get(name)
            pod_cidr = (_pod_cidr(found) if found else "") or cidrs.allocate()
            internal_ip = (_internal_ip(found) if found else "") or node_ips.allocate()
            planned.append(SimNode(name=name, pool=pool, index=index, pod_cidr=pod_cidr,
                                   internal_ip=internal_ip))
    return planned


def _pod_cidr(node: Obj) -> str:
    return str((node.get("spec") or {}).get("podCIDR") or "")


def _internal_ip(node: Obj) -> str:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return str(address.get("address") or "")
    return ""


def node_status(sim: SimNode, *, now: str, boot_id: str,
                previous: list[Obj] | None = None) -> Obj:
    """The status a kubelet posts for `sim`; `previous` are the conditions on the server."""
    return {
        "capacity": {**sim.pool.capacity, **dict.fromkeys(pool_.HUGEPAGES, "0")},
        "allocatable": {**sim.pool.allocatable, **dict.fromkeys(pool_.HUGEPAGES, "0")},
        "conditions": nodestatus.conditions(now=now, previous=previous),
        "addresses": [{"type": "InternalIP", "address": sim.internal_ip},
                      {"type": "Hostname", "address": sim.name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": nodestatus.KUBELET_PORT}},
        "nodeInfo": {
            "machineID": sim.machine_id, "systemUUID": sim.system_uuid, "bootID": boot_id,
            "kernelVersion": KERNEL_VERSION, "osImage": OS_IMAGE,
            "containerRuntimeVersion": RUNTIME_VERSION,
            "kubeletVersion": version.GIT_VERSION, "kubeProxyVersion": "",
            "operatingSystem": nodestatus.OPERATING_SYSTEM,
            "architecture": nodestatus.ARCHITECTURE,
        },
    }


def node_object(sim: SimNode, *, now: str, boot_id: str, stats_endpoint: str = "") -> Obj:
    """The Node a kubelet creates when it registers; `stats_endpoint` is where its stats
    Summary is served (`metrics.StatsServer`; empty in tests that serve none)."""
    spec: Obj = {"podCIDR": sim.pod_cidr, "podCIDRs": [sim.pod_cidr]}
    if sim.pool.taints:
        spec["taints"] = [dict(taint) for taint in sim.pool.taints]
    annotations = {nodestatus.ATTACH_DETACH_ANNOTATION: "true"}
    if stats_endpoint:
        annotations[metrics.STATS_ENDPOINT_ANNOTATION] = stats_endpoint
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": sim.name, "labels": sim.labels(), "annotations": annotations},
        "spec": spec,
        "status": node_status(sim, now=now, boot_id=boot_id),
    }


async def register(client: rest.RESTClient, sim: SimNode, *, now: str, boot_id: str,
                   stats_endpoint: str = "") -> tuple[Obj, bool]:
    """Create `sim`'s Node, or reconcile its default labels (`nodestatus.register`) and its
    stats endpoint annotation (a new one at each start of the simulator)."""
    registered, created = await nodestatus.register(
        client, node_object(sim, now=now, boot_id=boot_id, stats_endpoint=stats_endpoint),
        default_labels=DEFAULT_LABELS)
    if stats_endpoint and \
            meta.annotations(registered).get(metrics.STATS_ENDPOINT_ANNOTATION) != stats_endpoint:
        registered = await client.patch(
            rest.resource_path(*NODES, name=sim.name),
            {"metadata": {"annotations": {metrics.STATS_ENDPOINT_ANNOTATION: stats_endpoint}}})
    return registered, created


class NodeStatusController:
    """Posts the status of every registered simulated node when it is due: every
    `node_status_update_frequency` each node is checked against the informer's cache, and its
    status is patched (`nodes/<name>/status`) when the server's copy differs from what was last
    posted (someone else changed it, or it was never posted by this process) or when
    `node_status_report_frequency` has passed. A failed post is logged and retried at the next
    check. Runs on one loop; `add` may be called before or while `run` runs."""

    def __init__(self, client: rest.RESTClient, *, nodes: informer.Informer, boot_id: str,
                 settings: NodeStatusSettings | None = None, clock: clock_.Clock | None = None,
                 wall: Wall | None = None) -> None:
        self._client = client
        self._nodes = nodes
        self._boot_id = boot_id
        self._settings = settings or NodeStatusSettings()
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self._wall: Wall = wall or _utc_now
        self._queue: workqueue.DelayingQueue[str] = workqueue.DelayingQueue(
            name="node-status", clock=self._clock)
        self._sims: dict[str, SimNode] = {}
        self._reported: dict[str, Obj] = {}
        self._reported_at: dict[str, float] = {}
        self._seen: set[str] = set()

    def add(self, sim: SimNode, *, reported: Obj | None, delay: float) -> None:
        """Track `sim`, first checked after `delay` seconds. `reported` is the status this
        process just registered it with (None for a Node that existed: it is posted at the
        first check, as a restarted kubelet posts at once)."""
        self._sims[sim.name] = sim
        if reported is not None:
            self._reported[sim.name] = reported
            self._reported_at[sim.name] = self._clock.now()
        self._queue.add_after(sim.name, delay)

    async def run(self) -> None:
        """Check nodes until cancelled, `concurrent_node_status_updates` at a time."""
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(self._settings.concurrent_node_status_updates):
                    group.create_task(self._worker())
        finally:
            self._queue.shut_down()

    async def _worker(self) -> None:
        async for name in self._queue:
            try:
                await self.sync(name)
            except backoff.RETRIABLE as exc:
                log.warning("updating node %s status failed, will retry: %s", name, exc)
            finally:
                self._queue.done(name)
                self._queue.add_after(name, self._settings.node_status_update_frequency)

    async def sync(self, name: str) -> None:
        """Post `name`'s status if it changed or is due; a no-op for a Node that is gone."""
        sim = self._sims[name]
        cached = self._nodes.cache.get(name)
        if cached is None:  # not seen yet (just registered), or deleted by someone
            if name in self._seen:
                log.warning("node %s is gone from the API; not re-registering it", name)
                self._seen.discard(name)
            return
        self._seen.add(name)
        current = cached.get("status") or {}
        changed = name not in self._reported or nodestatus.without_heartbeats(current) != \
            nodestatus.without_heartbeats(self._reported[name])
        due = self._clock.now() - self._reported_at.get(name, float("-inf")) >= \
            self._settings.node_status_report_frequency
        if not changed and not due:
            return
        now = meta.format_time(self._wall())
        status = node_status(sim, now=now, boot_id=self._boot_id,
                             previous=current.get("conditions"))
        patched = await self._client.patch(
            rest.resource_path(*NODES, name=name, subresource="status"), {"status": status})
        self._reported[name] = patched.get("status") or status
        self._reported_at[name] = self._clock.now()


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
