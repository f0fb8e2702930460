"""The table of controllers the manager can run, and what each is built from.

Mirrors kube-controller-manager's `NewControllerDescriptors` (cmd/kube-controller-manager/app/
controller_descriptor.go) and its names (names/controller_names.go): each controller has a
canonical name, the aliases `--controllers` also accepts, whether `*` includes it, and a
constructor taking the shared `ControllerContext`. The manager (`manager.py`) picks the enabled
ones and runs them; adding a controller is one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from kajitori.client import informer, rest
from kajitori.controllers import (
    cronjob,
    daemonset,
    disruption,
    endpoints,
    endpointslice,
    garbagecollector,
    horizontalpodautoscaler,
    job,
    localpath,
    namespace,
    nodeipam,
    nodelifecycle,
    persistentvolume,
    podgc,
    pvcprotection,
    pvprotection,
    replicaset,
    replicationcontroller,
    resourcequota,
    rootcacertpublisher,
    serviceaccount,
    statefulset,
    tainteviction,
    ttlafterfinished,
)
from kajitori.controllers.deployment import controller as deployment

if TYPE_CHECKING:
    from kajitori.controllers.manager import ControllerManagerSettings


class Controller(Protocol):
    """A controller: `run()` owns its tasks and returns only when cancelled."""

    async def run(self) -> None: ...


@dataclass(frozen=True)
class ControllerContext:
    """What every controller is built from (upstream's `ControllerContext`): one REST client
    and one informer factory shared by all, the settings, and the cluster's root CA."""

    client: rest.RESTClient
    informers: informer.SharedInformerFactory
    settings: ControllerManagerSettings
    root_ca: str
    """PEM bundle the root CA publisher writes into every namespace (`--root-ca-file`, or the
    CA of the manager's kubeconfig)."""


Constructor = Callable[[ControllerContext], Controller]


@dataclass(frozen=True)
class ControllerDescriptor:
    name: str
    """Canonical name, as `--controllers` and the logs spell it."""
    constructor: Constructor
    aliases: tuple[str, ...] = ()
    """Older names `--controllers` still accepts."""
    disabled_by_default: bool = False
    """Left out of `*`; enabled only by name."""


NAMESPACE_CONTROLLER = "namespace-controller"
SERVICEACCOUNT_CONTROLLER = "serviceaccount-controller"
GARBAGE_COLLECTOR_CONTROLLER = "garbage-collector-controller"
POD_GARBAGE_COLLECTOR_CONTROLLER = "pod-garbage-collector-controller"
TTL_AFTER_FINISHED_CONTROLLER = "ttl-after-finished-controller"
ROOT_CA_CERTIFICATE_PUBLISHER_CONTROLLER = "root-ca-certificate-publisher-controller"
JOB_CONTROLLER = "job-controller"
CRONJOB_CONTROLLER = "cronjob-controller"
REPLICATION_CONTROLLER_CONTROLLER = "replicationcontroller-controller"
DEPLOYMENT_CONTROLLER = "deployment-controller"
REPLICASET_CONTROLLER = "replicaset-controller"
ENDPOINTS_CONTROLLER = "endpoints-controller"
ENDPOINTSLICE_CONTROLLER = "endpointslice-controller"
DISRUPTION_CONTROLLER = "disruption-controller"
NODE_IPAM_CONTROLLER = "node-ipam-controller"
NODE_LIFECYCLE_CONTROLLER = "node-lifecycle-controller"
TAINT_EVICTION_CONTROLLER = "taint-eviction-controller"
DAEMONSET_CONTROLLER = "daemonset-controller"
STATEFULSET_CONTROLLER = "statefulset-controller"
RESOURCE_QUOTA_CONTROLLER = "resourcequota-controller"
HORIZONTAL_POD_AUTOSCALER_CONTROLLER = "horizontal-pod-autoscaler-controller"
PERSISTENTVOLUME_BINDER_CONTROLLER = "persistentvolume-binder-controller"
PVC_PROTECTION_CONTROLLER = "persistentvolumeclaim-protection-controller"
PV_PROTECTION_CONTROLLER = "persistentvolume-protection-controller"
LOCAL_PATH_PROVISIONER = "local-path-provisioner"
"""Not an upstream controller: k3s runs it as a Deployment; here it runs in the manager."""


def _namespace(ctx: ControllerContext) -> Controller:
    return namespace.NamespaceController(
        client=ctx.client, namespaces=ctx.informers.informer_for(*namespace.NAMESPACES),
        workers=ctx.settings.concurrent_namespace_syncs,
        resync_period=ctx.settings.namespace_sync_period)


def _serviceaccount(ctx: ControllerContext) -> Controller:
    return serviceaccount.ServiceAccountsController(
        client=ctx.client,
        namespaces=ctx.informers.informer_for(*serviceaccount.NAMESPACES),
        service_accounts=ctx.informers.informer_for(*serviceaccount.SERVICE_ACCOUNTS))


def _garbage_collector(ctx: ControllerContext) -> Controller:
    return garbagecollector.GarbageCollector(
        client=ctx.client, informers=ctx.informers,
        workers=ctx.settings.concurrent_gc_syncs)


def _podgc(ctx: ControllerContext) -> Controller:
    return podgc.PodGCController(
        client=ctx.client, pods=ctx.informers.informer_for(*podgc.PODS),
        nodes=ctx.informers.informer_for(*podgc.NODES),
        terminated_pod_threshold=ctx.settings.terminated_pod_gc_threshold)


def _ttl_after_finished(ctx: ControllerContext) -> Controller:
    return ttlafterfinished.TTLAfterFinishedController(
        client=ctx.client, jobs=ctx.informers.informer_for(*ttlafterfinished.JOBS),
        workers=ctx.settings.concurrent_ttl_after_finished_syncs)


def _root_ca_publisher(ctx: ControllerContext) -> Controller:
    return rootcacertpublisher.Publisher(
        client=ctx.client,
        namespaces=ctx.informers.informer_for(*rootcacertpublisher.NAMESPACES),
        config_maps=ctx.informers.informer_for(*rootcacertpublisher.CONFIG_MAPS),
        root_ca=ctx.root_ca)


def _replication_controller(ctx: ControllerContext) -> Controller:
    return replicationcontroller.new_replication_manager(
        ctx.client, informers=ctx.informers, settings=ctx.settings.replication_controller)


def _deployment(ctx: ControllerContext) -> Controller:
    return deployment.new_deployment_controller(
        ctx.client, informers=ctx.informers, settings=ctx.settings.deployment_controller)


def _replicaset(ctx: ControllerContext) -> Controller:
    return replicaset.new_replicaset_controller(
        ctx.client, informers=ctx.informers, settings=ctx.settings.replicaset_controller)


def _job(ctx: ControllerContext) -> Controller:
    return job.new_job_controller(
        ctx.client, informers=ctx.informers, settings=ctx.settings.job_controller)


def _cronjob(ctx: ControllerContext) -> Controller:
    return cronjob.new_cron_job_controller(
        ctx.client, informers=ctx.informers, settings=ctx.settings.cronjob_controller)


def _endpoints(ctx: ControllerContext) -> Controller:
    return endpoints.new_endpoints_controller(
        ctx.client, informers=ctx.informers, settings=ctx.settings.endpoint_controller)


def _endpointslice(ctx: ControllerContext) -> Controller:
    return endpointslice.new_endpointslice_controller(
        ctx.client, informers=ctx.informers, settings=ctx.settings.endpointslice_controller)


def _disruption(ctx: ControllerContext) -> Controller:
    return disruption.new_disruption_controller(ctx.client, informers=ctx.informers)


def _node_ipam(ctx: ControllerContext) -> Controller:
    return nodeipam.new_node_ipam_controller(
        ctx.client, informers=ctx.informers, cluster_cidr=ctx.settings.cluster_cidr,
        node_cidr_mask_size=ctx.settings.node_cidr_mask_size)


def _node_lifecycle(ctx: ControllerContext) -> Controller:
    return nodelifecycle.new_node_lifecycle_controller(
        ctx.client, informers=ctx.informers, settings=ctx.settings.node_lifecycle_controller)


def _taint_eviction(ctx: ControllerContext) -> Controller:
    return tainteviction.new_taint_eviction_controller(ctx.client, informers=ctx.informers)


def _horizontal_pod_autoscaler(ctx: ControllerContext) -> Controller:
    return horizontalpodautoscaler.new_horizontal_pod_autoscaler_controller(
        ctx.client, informers=ctx.informers, settings=ctx.settings.hpa_controller)


def _daemonset(ctx: ControllerContext) -> Controller:
    return daemonset.new_daemonset_controller(
        ctx.client, informers=ctx.informers, settings=ctx.settings.daemonset_controller)


def _statefulset(ctx: ControllerContext) -> Controller:
    return statefulset.new_statefulset_controller(
        ctx.client, informers=ctx.informers, settings=ctx.settings.statefulset_controller)


def _resource_quota(ctx: ControllerContext) -> Controller:
    return resourcequota.ResourceQuotaController(
        client=ctx.client, informers=ctx.informers, settings=ctx.settings.resourcequota_controller)


def _persistentvolume_binder(ctx: ControllerContext) -> Controller:
    return persistentvolume.new_persistent_volume_controller(
        ctx.client, informers=ctx.informers,
        resync_period=ctx.settings.pvclaimbinder_sync_period)


def _pvc_protection(ctx: ControllerContext) -> Controller:
    return pvcprotection.new_pvc_protection_controller(ctx.client, informers=ctx.informers)


def _pv_protection(ctx: ControllerContext) -> Controller:
    return pvprotection.new_pv_protection_controller(ctx.client, informers=ctx.informers)


def _local_path_provisioner(ctx: ControllerContext) -> Controller:
    return localpath.new_local_path_provisioner(
        ctx.client, informers=ctx.informers,
        storage_root=ctx.settings.local_path_storage_root)


def _enabled_garbage_collector(ctx: ControllerContext) -> bool:
    return ctx.settings.enable_garbage_collector


def _enabled_node_ipam(ctx: ControllerContext) -> bool:
    return ctx.settings.allocate_node_cidrs


def new_controller_descriptors() -> dict[str, ControllerDescriptor]:
    """Every known controller by canonical name, in upstream's order."""
    descriptors = [
        ControllerDescriptor(ENDPOINTS_CONTROLLER, _endpoints, aliases=("endpoint",)),
        ControllerDescriptor(ENDPOINTSLICE_CONTROLLER, _endpointslice,
                             aliases=("endpointslice",)),
        ControllerDescriptor(REPLICATION_CONTROLLER_CONTROLLER, _replication_controller,
                             aliases=("replicationcontroller",)),
        ControllerDescriptor(POD_GARBAGE_COLLECTOR_CONTROLLER, _podgc, aliases=("podgc",)),
        ControllerDescriptor(RESOURCE_QUOTA_CONTROLLER, _resource_quota,
                             aliases=("resourcequota",)),
        ControllerDescriptor(NAMESPACE_CONTROLLER, _namespace, aliases=("namespace",)),
        ControllerDescriptor(SERVICEACCOUNT_CONTROLLER, _serviceaccount,
                             aliases=("serviceaccount",)),
        ControllerDescriptor(JOB_CONTROLLER, _job, aliases=("job",)),
        ControllerDescriptor(CRONJOB_CONTROLLER, _cronjob, aliases=("cronjob",)),
        ControllerDescriptor(GARBAGE_COLLECTOR_CONTROLLER, _garbage_collector,
                             aliases=("garbagecollector",)),
        ControllerDescriptor(DAEMONSET_CONTROLLER, _daemonset, aliases=("daemonset",)),
        ControllerDescriptor(STATEFULSET_CONTROLLER, _statefulset, aliases=("statefulset",)),
        ControllerDescriptor(DEPLOYMENT_CONTROLLER, _deployment, aliases=("deployment",)),
        ControllerDescriptor(REPLICASET_CONTROLLER, _replicaset, aliases=("replicaset",)),
        ControllerDescriptor(HORIZONTAL_POD_AUTOSCALER_CONTROLLER, _horizontal_pod_autoscaler,
                             aliases=("horizontalpodautoscaling",)),
        ControllerDescriptor(DISRUPTION_CONTROLLER, _disruption, aliases=("disruption",)),
        ControllerDescriptor(PERSISTENTVOLUME_BINDER_CONTROLLER, _persistentvolume_binder,
                             aliases=("persistentvolume-binder",)),
        ControllerDescriptor(PVC_PROTECTION_CONTROLLER, _pvc_protection,
                             aliases=("pvc-protection",)),
        ControllerDescriptor(PV_PROTECTION_CONTROLLER, _pv_protection,
                             aliases=("pv-protection",)),
        ControllerDescriptor(LOCAL_PATH_PROVISIONER, _local_path_provisioner),
        ControllerDescriptor(TTL_AFTER_FINISHED_CONTROLLER, _ttl_after_finished,
                             aliases=("ttl-after-finished",)),
        ControllerDescriptor(NODE_IPAM_CONTROLLER, _node_ipam, aliases=("nodeipam",)),
        ControllerDescriptor(NODE_LIFECYCLE_CONTROLLER, _node_lifecycle,
                             aliases=("nodelifecycle",)),
        ControllerDescriptor(TAINT_EVICTION_CONTROLLER, _taint_eviction),
        ControllerDescriptor(ROOT_CA_CERTIFICATE_PUBLISHER_CONTROLLER, _root_ca_publisher,
                             aliases=("root-ca-cert-publisher",)),
    ]
    return {d.name: d for d in descriptors}


CONDITIONALLY_ENABLED: dict[str, Callable[[ControllerContext], bool]] = {
    GARBAGE_COLLECTOR_CONTROLLER: _enabled_garbage_collector,
    NODE_IPAM_CONTROLLER: _enabled_node_ipam,
}
"""Controllers a setting of their own can switch off even when `--controllers` enables them
(upstream: `--enable-garbage-collector=false` makes the GC's init report it disabled, and
the node IPAM controller does nothing without `--allocate-node-cidrs`)."""
