"""The kubelet: one node's agent, from containerd up to the Node, its Lease and its pods.

Mirrors `pkg/kubelet/kubelet.go` (`NewMainKubelet` wiring the managers, `Run` starting them):
`run()` connects to the container runtime (starting containerd under the root dir unless
`container_runtime_endpoint` names one, `kajitori.kubelet.containerd`), imports the built-in
images so an offline node runs pods, and then runs, all in one TaskGroup until cancelled:
- the event recorder (`component: kubelet`, `host: <node>`);
- the node status manager (`nodestatus`): registration, status posts, and the pod network once
  the node IPAM controller gives the Node a podCIDR (`cni`: conflist, bridge, service route;
  CRI UpdateRuntimeConfig), after which containerd reports NetworkReady and the node Ready;
- the Lease heartbeat (`kajitori.client.nodelease`), once the Node exists (it owns the Lease);
- the pod workers (`podworker`: one sync at a time per pod), adopting the sandboxes and
  containers an earlier kubelet left running first, the status manager (`statusmanager`), the
  prober (`prober`), fed by the pod sources: the API's pods of this node (`podsource`) and the
  static pods (`staticpods`);
- the cleaner of this node's deleted local-path volumes (`localvolumes`);
- the stats provider (`stats`: node and pod usage from cgroups, CRI and the disks, sampled
  every 10 s), which the server, eviction and image garbage collection read;
- the eviction manager (`eviction`): the node's pressure conditions, which the node status
  reports and the pod admission honours, and pods evicted under pressure or over their local
  storage limits, through the pod workers (the garbage collectors free disk first);
- node housekeeping: container log rotation (`logrotation`, every 10 s), container garbage
  collection (`containergc`, every minute, once the pod sources are ready: dead containers
  beyond the last run, dead sandboxes, deleted pods' logs) and image garbage collection
  (`imagegc`, every 5 minutes, above imageGCHighThresholdPercent);
- the kubelet's HTTPS server (`server`: logs, exec, attach, port-forward for the apiserver,
  each client authorized by the apiserver, `auth`) and `/healthz` on 127.0.0.1:10248.

Stopping the kubelet (cancellation, SIGTERM, kill -9) leaves containerd and the pods running:
the next kubelet adopts them, as upstream's does.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from kajitori.api import meta
from kajitori.client import events, nodelease, rest
from kajitori.kubelet import (
    auth,
    cni,
    containerd,
    containergc,
    cri,
    eviction,
    evictionthresholds,
    imagebuild,
    imagegc,
    images,
    localvolumes,
    logrotation,
    lookup,
    nodestatus,
    podsource,
    podworker,
    prober,
    server,
    staticpods,
    stats,
    statusmanager,
    volumes,
)
from kajitori.kubelet import settings as settings_

Obj = dict[str, Any]

log = logging.getLogger(__name__)

COMPONENT = "kubelet"
HEALTHZ_OK = "ok"


@contextlib.asynccontextmanager
async def serving_healthz(address: str, port: int) -> AsyncIterator[None]:
    """`GET /healthz` → `ok` on `address:port`, plain HTTP, for as long as the block runs
    (upstream's healthz server on `healthzPort`); port 0 serves nothing."""
    if not port:
        yield
        return

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text=HEALTHZ_OK)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, address, port).start()
        yield
    finally:
        await runner.cleanup()


def eviction_config(settings: settings_.KubeletSettings) -> eviction.Config:
    """The eviction manager's configuration from the kubelet's settings. Raises ValueError
    (upstream's words) for a threshold that cannot be parsed: the kubelet does not start."""
    return eviction.Config(
        thresholds=tuple(evictionthresholds.parse_threshold_config(
            settings.eviction_hard, soft=settings.eviction_soft,
            soft_grace_period=settings.eviction_soft_grace_period,
            minimum_reclaim=settings.eviction_minimum_reclaim)),
        pressure_transition_period=settings.eviction_pressure_transition_period,
        max_pod_grace_period_seconds=settings.eviction_max_pod_grace_period,
        local_storage_capacity_isolation=settings.local_storage_capacity_isolation)


class Kubelet:
    """The kubelet of one node over a connected runtime; `run()` until cancelled.

    `cni_conf_dir` is where containerd reads its CNI config when the kubelet runs containerd
    itself; None for a runtime someone else configured (then only its UpdateRuntimeConfig is
    told the podCIDR). Also the server's `HostInterface`: the pods it runs, by name."""

    def __init__(self, client: rest.RESTClient, runtime: cri.CRIRuntime, *,
                 settings: settings_.KubeletSettings, client_ca: bytes,
                 cni_conf_dir: Path | None) -> None:
        self._client = client
        self._runtime = runtime
        self._settings = settings
        self._cni_conf_dir = cni_conf_dir
        name = settings.node_name
        self.recorder = events.EventRecorder(client, component=COMPONENT, host=name)
        self.lookup = lookup.APIObjectLookup(client)
        self.images = images.ImagePuller(
            runtime, recorder=self.recorder, lookup=self.lookup,
            serialize=settings.serialize_image_pulls,
            backoff_initial=settings.image_pull_backoff_initial,
            backoff_max=settings.image_pull_backoff_max)
        self.volumes = volumes.VolumeManager(settings.root_dir, lookup=self.lookup,
                                             cluster_domain=settings.cluster_domain)
        self.status_manager = statusmanager.StatusManager(client, api_pod=self._api_pod)
        self.prober = prober.ProbeManager(
            runtime, recorder=self.recorder,
            on_liveness_failure=lambda uid, container: self.workers.on_liveness_failure(
                uid, container),
            on_change=lambda uid: self.workers.on_probe_change(uid))
        self.workers = podworker.PodWorkers(
            runtime, self.images, volumes=self.volumes, prober=self.prober,
            lookup=self.lookup, status_manager=self.status_manager, recorder=self.recorder,
            settings=settings, node_conditions=lambda: self.eviction.node_conditions())
        self.node_status = nodestatus.NodeStatusManager(
            client, runtime, runtime, settings=settings, recorder=self.recorder,
            on_pod_cidr=self.configure_pod_cidr, node_ip=settings.node_ip,
            pressure=lambda: self.eviction.node_conditions())
        self.source = podsource.PodSource(
            client, node_name=name, updates=self.workers,
            on_mirror_change=lambda: self.static_pods.mirror_changed())
        self.static_pods = staticpods.StaticPods(
            client, node_name=name, manifest_dir=settings.pod_manifest_path,
            updates=self.workers, mirror_lookup=self.source.mirror_pod,
            node_uid=self._node_uid, file_check_frequency=settings.file_check_frequency)
        self.leases = nodelease.NodeLeaseController(client, settings=nodelease.NodeLeaseSettings(
            node_lease_duration_seconds=settings.node_lease_duration_seconds,
            renew_interval=settings.node_lease_duration_seconds / 4,
            concurrent_lease_renewals=1))
        self.local_volumes = localvolumes.LocalVolumeCleaner(
            client, node_name=name, storage_root=settings.local_path_storage_root,
            node_labels=lambda: meta.labels(self.node_status.node or {}))
        self.stats = stats.StatsProvider(self.get_pods, runtime, node_name=name,
                                         root_dir=settings.root_dir)
        self.eviction = eviction.EvictionManager(
            self.stats, config=eviction_config(settings), terminator=self.workers,
            active_pods=self.workers.active_pods, recorder=self.recorder, node_name=name,
            on_conditions_changed=self.node_status.refresh)
        self.log_manager = logrotation.ContainerLogManager(
            runtime, max_size=logrotation.parse_max_size(settings.container_log_max_size),
            max_files=settings.container_log_max_files,
            monitor_interval=settings.container_log_monitor_interval)
        self._sources_ready = False
        self.container_gc = containergc.ContainerGC(
            runtime, logs=self.log_manager, pod_state=self,
            # containerconfig.pod_log_directory's parent: upstream's /var/log/pods.
            log_root=settings.root_dir / "logs" / "pods",
            sources_ready=lambda: self._sources_ready, period=settings.container_gc_period)
        self.image_gc = imagegc.ImageGCManager(
            runtime, image_fs=self._image_fs, recorder=self.recorder, node_name=name,
            policy=imagegc.ImageGCPolicy(
                high_threshold_percent=settings.image_gc_high_threshold_percent,
                low_threshold_percent=settings.image_gc_low_threshold_percent,
                min_age=settings.image_minimum_gc_age, max_age=settings.image_maximum_gc_age),
            period=settings.image_gc_period, pinned_images=[imagebuild.PAUSE_IMAGE])
        # Upstream's order: dead containers first (they may hold images), then images.
        self.eviction.add_reclaimer(self.container_gc.delete_all_unused_containers)
        self.eviction.add_reclaimer(self.image_gc.delete_unused_images)
        self.server = server.KubeletServer(
            self, runtime, root_dir=settings.root_dir, node_name=name,
            node_ip=settings.node_ip, client_ca=client_ca, address=settings.address,
            port=settings.port, stats_provider=self.stats,
            authorizer=auth.WebhookAuthorizer.over(client)
            if settings.authorization_mode == auth.MODE_WEBHOOK else None)

    def _api_pod(self, pod: Obj) -> Obj | None:
        """The API's copy of `pod` as the informer last saw it (a static pod's is its mirror
        pod), for the status manager to compare with; None when it has none."""
        namespace, name = meta.namespace(pod), meta.name(pod)
        if staticpods.is_static_pod(pod):
            return self.source.mirror_pod(namespace, name)
        current = self.source.pods.cache.get(f"{namespace}/{name}")
        return current if current is not None and meta.uid(current) == meta.uid(pod) else None

    def _node_uid(self) -> str:
        return meta.uid(self.node_status.node) if self.node_status.node else ""

    async def _image_fs(self) -> Obj:
        """The image filesystem's stats from the stats Summary (empty when unknown)."""
        summary = await self.stats.summary()
        return dict(((summary.get("node") or {}).get("runtime") or {}).get("imageFs") or {})

    # --- containergc.PodStateProvider ----------------------------------------------------

    def should_pod_content_be_removed(self, pod_uid: str) -> bool:
        """No pod source has the pod and its worker has forgotten it."""
        if self.workers.is_known(pod_uid):
            return False
        sources = [*self.source.pods.cache.list(), *self.static_pods.pods]
        return all(meta.uid(pod) != pod_uid for pod in sources)

    def should_pod_runtime_be_removed(self, pod_uid: str) -> bool:
        """The pod is gone, or its worker holds it done (terminated, failed, rejected)."""
        return self.should_pod_content_be_removed(pod_uid) or all(
            meta.uid(pod) != pod_uid for pod in self.workers.active_pods())

    async def configure_pod_cidr(self, pod_cidr: str) -> None:
        """The pod network for the Node's podCIDR (upstream's `updatePodCIDR`): the CNI
        conflist containerd picks up (when it is ours), then CRI UpdateRuntimeConfig."""
        log.info("updating the pod CIDR to %s", pod_cidr)
        if self._cni_conf_dir is not None:
            await asyncio.to_thread(
                cni.write_conflist, self._cni_conf_dir, pod_cidr,
                ipam_dir=self._settings.root_dir / "cni" / "ipam",
                bridge=self._settings.cni_bridge)
            await cni.ensure_service_route(self._settings.service_cluster_ip_range, pod_cidr,
                                           bridge=self._settings.cni_bridge)
        await self._runtime.update_runtime_config(pod_cidr)

    # --- server.HostInterface --------------------------------------------------------------

    def get_pod_by_name(self, namespace: str, name: str) -> Obj | None:
        pod = next((p for p in self.static_pods.pods
                    if meta.namespace(p) == namespace and meta.name(p) == name), None)
        if pod is None:
            pod = self.source.pods.cache.get(f"{namespace}/{name}")
            if pod is None or staticpods.is_mirror_pod(pod):
                return None
        return self._with_latest_status(pod)

    def _with_latest_status(self, pod: Obj) -> Obj:
        """`pod` with the status the kubelet computed last (the status manager's), else the
        one the API holds (a static pod's is on its mirror)."""
        status = self.status_manager.pod_status(meta.uid(pod))
        if status is None and staticpods.is_static_pod(pod):
            mirror = self.source.mirror_pod(meta.namespace(pod), meta.name(pod))
            status = (mirror or {}).get("status")
        return {**pod, "status": status or pod.get("status") or {}}

    def get_pods(self) -> list[Obj]:
        found = [pod for pod in self.source.pods.cache.list()
                 if not staticpods.is_mirror_pod(pod)]
        return [self._with_latest_status(pod) for pod in [*found, *self.static_pods.pods]]

    # --- the whole -----------------------------------------------------------------------

    async def run(self) -> None:
        """Everything until cancelled; a component's bug (an exception it does not handle)
        ends them all."""
        await asyncio.to_thread(self._settings.pod_manifest_path.mkdir, parents=True,
                                exist_ok=True)
        async with self.server.running(), \
                serving_healthz(self._settings.healthz_bind_address, self._settings.healthz_port), \
                asyncio.TaskGroup() as group:
            group.create_task(self.recorder.run(), name="events")
            group.create_task(self.node_status.run(), name="node-status")
            await self.node_status.registered.wait()
            self.leases.add(self._settings.node_name, self._node_uid())
            group.create_task(self.leases.run(), name="node-lease")
            await self.workers.adopt()
            group.create_task(self.status_manager.run(), name="status-manager")
            group.create_task(self.prober.run(), name="prober")
            group.create_task(self.workers.run(), name="pod-workers")
            group.create_task(self.source.run(), name="pod-source")
            group.create_task(self.static_pods.run(), name="static-pods")
            group.create_task(self.local_volumes.run(), name="local-volumes")
            group.create_task(self.stats.run(), name="stats")
            group.create_task(self.eviction.run(), name="eviction")
            group.create_task(self.log_manager.run(), name="log-rotation")
            group.create_task(self.image_gc.run(), name="image-gc")
            await self.source.pods.wait_for_sync()
            await self.static_pods.synced.wait()
            # Only now may pods the runtime runs but no source knows be cleaned up.
            self.workers.mark_sources_ready()
            self._sources_ready = True
            group.create_task(self.container_gc.run(), name="container-gc")
            log.info("kubelet for node %s running (server on port %d)",
                     self._settings.node_name, self.server.port)


async def run(*, kubeconfig: Path, settings: settings_.KubeletSettings) -> None:
    """Run the kubelet against the cluster `kubeconfig` points at until cancelled. Raises the
    kubeconfig's loading errors and RuntimeError when containerd cannot be started."""
    config = await asyncio.to_thread(rest.load_kubeconfig, kubeconfig)
    client_ca = await asyncio.to_thread(rest.cluster_ca, kubeconfig)
    if not settings.node_ip:
        settings = dataclasses.replace(settings, node_ip=nodestatus.default_node_ip())
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(rest.RESTClient(config))
        socket = settings.container_runtime_endpoint
        cni_conf_dir = None
        if not socket:
            registries = None
            if settings.registries_config is not None:
                registries = await asyncio.to_thread(containerd.load_registries,
                                                     settings.registries_config)
            runtime_settings = containerd.ContainerdSettings(root=settings.root_dir,
                                                             registries=registries)
            daemon = await stack.enter_async_context(containerd.serve(runtime_settings))
            socket, cni_conf_dir = daemon.socket, runtime_settings.cni_conf_dir
        imported = await containerd.ensure_builtin_images(socket)
        if imported:
            log.info("imported the built-in images %s", ", ".join(imported))
        runtime = await stack.enter_async_context(cri.CRIRuntime(socket))
        kubelet = Kubelet(client, runtime, settings=settings, client_ca=client_ca.encode(),
                          cni_conf_dir=cni_conf_dir)
        await kubelet.run()
