"""The simulator process: many simulated nodes on one client, one pod and one node informer.

`Simulator.run` lists and watches Nodes and the Pods bound to any node (one informer each,
shared by every simulated node, pods indexed by node name), plans the nodes of the pools
(names, podCIDRs, InternalIPs: `node.plan_nodes`), registers them a batch at a time, and runs
the three loops that keep them alive: `nodelease.NodeLeaseController` (heartbeats),
`node.NodeStatusController` (status posts) and `podlifecycle.PodLifecycle` (pods), and
serves their stats Summaries (`metrics.StatsServer`, announced on each Node). Cancelling
`run` stops everything at once, without a last write: the nodes' Leases go stale as a crashed
kubelet's would. `run(kubeconfig=..., nodes=...)` is the entry point of `kajitori sim` and
`kajitori up --sim-nodes`.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kajitori.api import meta
from kajitori.client import backoff, informer, nodelease, rest
from kajitori.client import clock as clock_
from kajitori.sim import ipam, metrics, podlifecycle
from kajitori.sim import node as node_
from kajitori.sim import pool as pool_

Wall = Callable[[], datetime.datetime]

log = logging.getLogger(__name__)

BOUND_PODS_SELECTOR = "spec.nodeName!="
"""The pod informer sees bound pods only: unscheduled ones are none of a node's business."""
REGISTRATION_BACKOFF = backoff.Backoff(0.1, cap=7.0)
"""The kubelet retries registration from 100 ms, doubling, up to 7 s."""


@dataclass(frozen=True)
class SimulatorSettings:
    """Settings of the simulator process and of the kubelets it plays."""

    cluster_cidr: str = ipam.DEFAULT_CLUSTER_CIDR
    """Where node podCIDRs come from (kube-controller-manager's `--cluster-cidr`)."""
    node_cidr_mask_size: int = ipam.DEFAULT_NODE_CIDR_MASK_SIZE
    """Prefix length of each node's podCIDR (`--node-cidr-mask-size`, 24: 253 pod IPs)."""
    node_ip_range: str = ipam.DEFAULT_NODE_IP_RANGE
    """Where node InternalIPs come from: a range no network routes."""
    concurrent_registrations: int = 64
    """Node registrations in flight at once."""
    node_status: node_.NodeStatusSettings = field(default_factory=node_.NodeStatusSettings)
    node_lease: nodelease.NodeLeaseSettings = field(
        default_factory=nodelease.NodeLeaseSettings)
    pod_lifecycle: podlifecycle.PodLifecycleSettings = field(
        default_factory=podlifecycle.PodLifecycleSettings)


class Simulator:
    """Simulated nodes of `pools` on `client`. `registered` is set once every node is
    registered (`registration_seconds` says how long that took). Counters of the parts are
    reachable as `leases` and `pods` for benchmarks."""

    def __init__(self, client: rest.RESTClient, pools: list[pool_.NodePool], *,
                 settings: SimulatorSettings | None = None, clock: clock_.Clock | None = None,
                 wall: Wall | None = None) -> None:
        self._client = client
        self._pools = pools
        self._settings = settings or SimulatorSettings()
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self._wall = wall
        self._settings.node_lease.validate()
        self._boot_id = str(uuid.uuid4())  # a new boot of every node at each start
        self.node_informer = informer.Informer(
            rest.ListWatch(client, "", "v1", "nodes"), name="nodes", clock=clock)
        self.pod_informer = informer.Informer(
            rest.ListWatch(client, "", "v1", "pods", field_selector=BOUND_PODS_SELECTOR),
            name="pods", clock=clock,
            indexers={podlifecycle.NODE_NAME_INDEX: podlifecycle.node_name_index})
        self.leases = nodelease.NodeLeaseController(
            client, settings=self._settings.node_lease, clock=clock, wall=wall)
        self.statuses = node_.NodeStatusController(
            client, nodes=self.node_informer, boot_id=self._boot_id,
            settings=self._settings.node_status, clock=clock, wall=wall)
        self.pods = podlifecycle.PodLifecycle(
            client, pods=self.pod_informer, settings=self._settings.pod_lifecycle,
            clock=clock, wall=wall)
        self.stats = metrics.StatsServer(
            pods=self.pod_informer, node_names=lambda: [n.name for n in self.nodes],
            wall=wall)
        self.registered = asyncio.Event()
        self.registration_seconds = 0.0
        self.nodes: list[node_.SimNode] = []

    async def run(self) -> None:
        """Register the nodes and keep them alive until cancelled. Raises cidrset.RangeFull
        when the cluster CIDR or the node IP range has too few blocks for the nodes."""
        async with self.stats.running(), asyncio.TaskGroup() as group:
            group.create_task(self.node_informer.run())
            group.create_task(self.pod_informer.run())
            await self.node_informer.wait_for_sync()
            await self.pod_informer.wait_for_sync()
            started = time.monotonic()
            self.nodes = node_.plan_nodes(
                self._pools, existing=self.node_informer.cache.list(),
                cidrs=ipam.node_cidrs(self._settings.cluster_cidr,
                                      mask_size=self._settings.node_cidr_mask_size),
                node_ips=ipam.node_ips(self._settings.node_ip_range))
            group.create_task(self.leases.run())
            group.create_task(self.statuses.run())
            group.create_task(self.pods.run())
            planned = iter(enumerate(self.nodes))
            async with asyncio.TaskGroup() as registrations:
                for _ in range(self._settings.concurrent_registrations):
                    registrations.create_task(self._register_some(planned))
            self.registration_seconds = time.monotonic() - started
            log.info("registered %d simulated nodes in %.1f s", len(self.nodes),
                     self.registration_seconds)
            self.registered.set()

    async def _register_some(self, planned: Iterator[tuple[int, node_.SimNode]]) -> None:
        """Register nodes from the shared iterator until it is exhausted."""
        total = len(self.nodes)
        status = self._settings.node_status
        for position, sim in planned:
            registered, created = await self._register(sim)
            self.leases.add(sim.name, meta.uid(registered),
                            delay=self.leases.spread(position, total))
            self.statuses.add(sim, reported=registered.get("status") if created else None,
                              delay=status.node_status_update_frequency * position / total)
            self.pods.add_node(sim)

    async def _register(self, sim: node_.SimNode) -> tuple[node_.Obj, bool]:
        """Register `sim`, retrying failures with the kubelet's back-off."""
        delays = backoff.BackoffManager(REGISTRATION_BACKOFF, reset_after=60.0,
                                        clock=self._clock)
        while True:
            now = meta.format_time(self._wall() if self._wall else
                                   datetime.datetime.now(datetime.UTC))
            try:
                return await node_.register(self._client, sim, now=now,
                                            boot_id=self._boot_id,
                                            stats_endpoint=self.stats.endpoint)
            except backoff.RETRIABLE as exc:
                log.warning("registering node %s failed, will retry: %s", sim.name, exc)
                await self._clock.sleep(delays.delay(exc))


async def run(*, kubeconfig: Path, nodes: int | None = None, config: Path | None = None,
              settings: SimulatorSettings | None = None) -> None:
    """Run simulated nodes against the cluster of `kubeconfig` until cancelled: `nodes`
    nodes of the default pool, or the pools of the `config` file (`nodes`, if also given,
    must match their total). Raises PoolConfigError for a bad config, ValueError when
    neither is given or the kubeconfig is unusable, cidrset.RangeFull when the addresses run
    out.
    """
    if config is not None:
        pools = await asyncio.to_thread(pool_.load_pools, config, nodes=nodes)
    elif nodes is not None:
        pools = pool_.default_pools(nodes)
    else:
        raise ValueError("simulated nodes need a node count or a pool config")
    client_config = await asyncio.to_thread(rest.load_kubeconfig, kubeconfig)
    async with rest.RESTClient(client_config) as client:
        await Simulator(client, pools, settings=settings).run()
