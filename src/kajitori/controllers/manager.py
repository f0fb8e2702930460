"""The controller manager: runs the enabled controllers while it holds the leader Lease.

Mirrors kube-controller-manager (cmd/kube-controller-manager/app/controllermanager.go): the
settings carry its flag names and defaults; `--controllers` takes `*` (every controller on by
default), a name (enable it), `-name` (disable it), with upstream's aliases; all controllers
share one REST client and one `SharedInformerFactory`, and run only under leader election on
the Lease `kube-system/kube-controller-manager`, so two managers never act together. The table
of controllers is `registry.py`.

Entry point: `run(kubeconfig=..., settings=...)`. It returns when leadership is lost (a fresh
process should start over as a candidate, as upstream exits) and raises what a controller's
bug raises.

Departure from upstream: the Lease is released on a clean stop (cancellation), so a restarted
manager need not wait out the lease duration; upstream lets it expire.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from kajitori import klog
from kajitori.client import informer, leaderelection, rest
from kajitori.controllers import (
    cronjob,
    daemonset,
    endpoints,
    endpointslice,
    horizontalpodautoscaler,
    job,
    localpath,
    nodeipam,
    nodelifecycle,
    registry,
    replicaset,
    resourcequota,
    statefulset,
)
from kajitori.controllers.deployment import controller as deployment

log = logging.getLogger(__name__)

LEASE_NAME = "kube-controller-manager"
LEASE_NAMESPACE = "kube-system"
ALL_CONTROLLERS = "*"


def _leader_election() -> leaderelection.LeaderElectionSettings:
    return leaderelection.LeaderElectionSettings(resource_name=LEASE_NAME,
                                                 resource_namespace=LEASE_NAMESPACE)


@dataclass(frozen=True)
class ControllerManagerSettings:
    """kube-controller-manager's flags this manager honours, with upstream's defaults.

    As upstream's `KubeControllerManagerConfiguration`, a controller with several flags has
    its own settings section (its module's dataclass, defaults there); the rest are fields
    here. `kajitori.cli.controllermanager` maps each command-line flag onto one of them."""

    controllers: Sequence[str] = (ALL_CONTROLLERS,)
    """`--controllers`: `*` enables every controller on by default, `name` enables one,
    `-name` disables one; the first entry naming a controller decides."""
    concurrent_namespace_syncs: int = 10
    """`--concurrent-namespace-syncs`: namespaces deleted at once."""
    namespace_sync_period: float = 300.0
    """`--namespace-sync-period`, seconds (5 min): how often terminating namespaces are looked
    at again even without a change."""
    concurrent_gc_syncs: int = 20
    """`--concurrent-gc-syncs`: garbage collector workers deleting at once."""
    enable_garbage_collector: bool = True
    """`--enable-garbage-collector`: False leaves ownerReferences unenforced."""
    terminated_pod_gc_threshold: int = 12500
    """`--terminated-pod-gc-threshold`: terminated pods kept before the oldest are deleted;
    0 or less keeps them all."""
    concurrent_ttl_after_finished_syncs: int = 5
    """`--concurrent-ttl-after-finished-syncs`: finished Jobs deleted at once."""
    pvclaimbinder_sync_period: float = 15.0
    """`--pvclaimbinder-sync-period`, seconds: how often the PersistentVolume binder looks at
    every claim and volume again (waiting claims retry and repeat their events)."""
    local_path_storage_root: PurePosixPath = localpath.DEFAULT_STORAGE_ROOT
    """Directory on each node under which the local-path provisioner's volumes live
    (`/var/lib/kajitori/storage`; k3s's `--default-local-storage-path`)."""
    min_resync_period: float = 43200.0
    """`--min-resync-period`, seconds (12 h): informers resync at a random period between
    this and twice this, replaying their caches to the controllers."""
    allocate_node_cidrs: bool = True
    """`--allocate-node-cidrs`: the node IPAM controller gives Nodes a `spec.podCIDR`.
    Kajitori's default is on, as k3s's (upstream: off), since its nodes' pod network is
    built from it."""
    cluster_cidr: str = "10.42.0.0/16"
    """`--cluster-cidr`: the pods' addresses, cut into node pod CIDRs (k3s's default;
    upstream has none)."""
    node_cidr_mask_size: int = 24
    """`--node-cidr-mask-size`: the prefix length of each node's pod CIDR (IPv4: 24)."""
    root_ca_file: Path | None = None
    """`--root-ca-file`: the CA bundle published as `kube-root-ca.crt`; None uses the CA of
    the manager's kubeconfig, as upstream falls back to its client's CA."""
    leader_election: leaderelection.LeaderElectionSettings = field(
        default_factory=_leader_election)
    """`--leader-elect*`: on by default, Lease `kube-system/kube-controller-manager`."""
    deployment_controller: deployment.DeploymentSettings = field(
        default_factory=deployment.DeploymentSettings)
    """`--concurrent-deployment-syncs`."""
    replicaset_controller: replicaset.ReplicaSetSettings = field(
        default_factory=replicaset.ReplicaSetSettings)
    """`--concurrent-replicaset-syncs`."""
    replication_controller: replicaset.ReplicaSetSettings = field(
        default_factory=replicaset.ReplicaSetSettings)
    """`--concurrent-rc-syncs` (its `concurrent_replicaset_syncs`: the replication
    controller is the ReplicaSet controller on another kind)."""
    statefulset_controller: statefulset.StatefulSetSettings = field(
        default_factory=statefulset.StatefulSetSettings)
    """`--concurrent-statefulset-syncs`."""
    daemonset_controller: daemonset.DaemonSetSettings = field(
        default_factory=daemonset.DaemonSetSettings)
    """`--concurrent-daemonset-syncs`."""
    job_controller: job.JobControllerSettings = field(default_factory=job.JobControllerSettings)
    """`--concurrent-job-syncs`."""
    cronjob_controller: cronjob.CronJobControllerSettings = field(
        default_factory=cronjob.CronJobControllerSettings)
    """`--concurrent-cron-job-syncs`."""
    endpoint_controller: endpoints.EndpointsSettings = field(
        default_factory=endpoints.EndpointsSettings)
    """`--concurrent-endpoint-syncs`."""
    endpointslice_controller: endpointslice.EndpointSliceSettings = field(
        default_factory=endpointslice.EndpointSliceSettings)
    """`--concurrent-service-endpoint-syncs`, `--max-endpoints-per-slice`."""
    resourcequota_controller: resourcequota.ResourceQuotaSettings = field(
        default_factory=resourcequota.ResourceQuotaSettings)
    """`--concurrent-resource-quota-syncs`, `--resource-quota-sync-period`."""
    hpa_controller: horizontalpodautoscaler.HPASettings = field(
        default_factory=horizontalpodautoscaler.HPASettings)
    """`--concurrent-horizontal-pod-autoscaler-syncs`, `--horizontal-pod-autoscaler-*`."""
    node_lifecycle_controller: nodelifecycle.NodeLifecycleSettings = field(
        default_factory=nodelifecycle.NodeLifecycleSettings)
    """`--node-monitor-period`, `--node-monitor-grace-period`, `--node-startup-grace-period`,
    `--node-eviction-rate`, `--secondary-node-eviction-rate`,
    `--large-cluster-size-threshold`, `--unhealthy-zone-threshold`."""

    def validate(self) -> None:
        """Raise ValueError for settings the manager cannot start with: an unknown controller
        name, leader election timings under which two leaders could overlap, a cluster CIDR
        the node IPAM controller could not cut (checked only when it would run)."""
        enabled = {d.name for d in self.enabled_controllers()}
        self.leader_election.validate()
        if self.allocate_node_cidrs and registry.NODE_IPAM_CONTROLLER in enabled:
            nodeipam.validate(self.cluster_cidr, self.node_cidr_mask_size)

    def enabled_controllers(self) -> list[registry.ControllerDescriptor]:
        """The descriptors `controllers` enables, in the registry's order. Raises ValueError,
        worded as upstream's validation, for a name that no controller has."""
        descriptors = registry.new_controller_descriptors()
        aliases = {alias: d.name for d in descriptors.values() for alias in d.aliases}
        wanted: list[str] = []
        for entry in self.controllers:
            negated = entry.startswith("-")
            name = entry[1:] if negated else entry
            if name == ALL_CONTROLLERS and not negated:
                wanted.append(entry)
                continue
            canonical = aliases.get(name, name)
            if canonical not in descriptors:
                raise ValueError(f'"{name}" is not in the list of known controllers')
            wanted.append(f"-{canonical}" if negated else canonical)
        return [d for d in descriptors.values() if is_controller_enabled(d, wanted)]


def is_controller_enabled(descriptor: registry.ControllerDescriptor,
                          controllers: Sequence[str]) -> bool:
    """Upstream's `IsControllerEnabled`: the first entry naming it decides; otherwise `*`
    enables it unless it is disabled by default."""
    has_star = False
    for entry in controllers:
        if entry == descriptor.name:
            return True
        if entry == f"-{descriptor.name}":
            return False
        if entry == ALL_CONTROLLERS:
            has_star = True
    return has_star and not descriptor.disabled_by_default


def read_root_ca(kubeconfig: Path, *, root_ca_file: Path | None) -> str:
    """The PEM bundle to publish: `root_ca_file`, else the current context's cluster CA in
    `kubeconfig` (inline data or a file beside it); `""` when neither has one (a plain-HTTP
    test server). Blocking file I/O: call it off the loop."""
    if root_ca_file is not None:
        return root_ca_file.read_text()
    return rest.cluster_ca(kubeconfig)


class ControllerManager:
    """The enabled controllers of `settings` over one client, under leader election."""

    def __init__(self, client: rest.RESTClient, *, settings: ControllerManagerSettings,
                 root_ca: str) -> None:
        self._client = client
        self._settings = settings
        self._root_ca = root_ca
        self._enabled = settings.enabled_controllers()  # fails early on an unknown name
        self.elector = leaderelection.LeaderElector(
            leaderelection.LeaseLock(client, namespace=settings.leader_election.resource_namespace,
                                     name=settings.leader_election.resource_name),
            identity=leaderelection.default_identity(), settings=settings.leader_election,
            release_on_cancel=True,
            on_new_leader=lambda who: log.info("new leader elected: %s", who))

    async def run(self) -> None:
        """Campaign, then run the controllers while leading; returns when leadership is lost."""
        await self.elector.run(self.run_controllers)
        log.info("leaderelection lost")

    async def run_controllers(self) -> None:
        """Build every enabled controller on a fresh informer factory and run them all until
        cancelled (upstream's `StartControllers` after `OnStartedLeading`)."""
        resync = self._settings.min_resync_period * (1.0 + random.random())
        factory = informer.SharedInformerFactory(
            self._client, settings=informer.InformerSettings(resync_period=resync))
        context = registry.ControllerContext(client=self._client, informers=factory,
                                             settings=self._settings, root_ca=self._root_ca)
        started = []
        for descriptor in self._enabled:
            check = registry.CONDITIONALLY_ENABLED.get(descriptor.name)
            if check is not None and not check(context):
                log.info("controller %s is disabled by its settings", descriptor.name)
                continue
            started.append((descriptor.name, descriptor.constructor(context)))
        async with asyncio.TaskGroup() as group:
            group.create_task(factory.run(), name="informers")
            for name, controller in started:
                group.create_task(controller.run(), name=name)
                log.info("Started controller", extra=klog.kv(controller=name))


async def run(*, kubeconfig: Path, settings: ControllerManagerSettings | None = None) -> None:
    """Run the controller manager against the cluster `kubeconfig` points at, until
    leadership is lost or the task is cancelled. Raises ValueError for settings
    `ControllerManagerSettings.validate` refuses, and the kubeconfig's loading errors."""
    settings = settings or ControllerManagerSettings()
    settings.validate()
    config = await asyncio.to_thread(rest.load_kubeconfig, kubeconfig)
    root_ca = await asyncio.to_thread(read_root_ca, kubeconfig,
                                      root_ca_file=settings.root_ca_file)
    async with rest.RESTClient(config) as client:
        await ControllerManager(client, settings=settings, root_ca=root_ca).run()
