"""The Deployment controller: informer handlers, the work queue, and `sync_deployment`.

Mirrors pkg/controller/deployment/deployment_controller.go. Handlers only find the Deployment
concerned and queue its key: a ReplicaSet through its controllerRef (or, for an orphan, every
Deployment whose selector matches it), a deleted pod only for a Recreate Deployment left
without pods. `sync_deployment` claims the ReplicaSets (adopting orphans its selector matches,
releasing owned ones it no longer matches), then, in upstream's order: status only while being
deleted; paused/resumed conditions; a paused Deployment or a scaling event is scaled
(`sync.sync`); otherwise the strategy rolls it out (`rolling.py`, `recreate.py`).

Departure from upstream: the `deprecated.deployment.rollback.to` annotation (extensions/v1beta1
`rollbackTo`, which no v1.33 API serves) is not acted on; `kubectl rollout undo` patches the
template itself, which this controller handles as any template change (the matching
ReplicaSet is reused and gets the next revision).
"""

from __future__ import annotations

import copy
import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kajitori.api import errors, labels, meta
from kajitori.client import clock as clock_
from kajitori.client import events, informer, rest, workqueue
from kajitori.controllers import controllerrefmanager, podcontrol, worker
from kajitori.controllers.deployment import recreate, replicas, rolling, sync

Obj = dict[str, Any]

log = logging.getLogger(__name__)

DEPLOYMENTS = sync.DEPLOYMENTS
REPLICASETS = sync.REPLICASETS
PODS = ("", "v1", "pods")
CONTROLLER_NAME = "deployment-controller"
"""The component its events are reported by (upstream's event source)."""
DEPLOYMENT_KIND = "Deployment"
REPLICASET_KIND = "ReplicaSet"


@dataclass(frozen=True)
class DeploymentSettings:
    """kube-controller-manager's flags for this controller, with upstream's defaults."""

    concurrent_deployment_syncs: int = 5
    """`--concurrent-deployment-syncs`: Deployments synced at once."""


def _wall_clock() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class DeploymentController:
    """Rolls Deployments out through ReplicaSets; one key is never synced twice at once."""

    def __init__(self, *, client: rest.RESTClient, deployments: informer.Informer,
                 replicasets: informer.Informer, pods: informer.Informer,
                 recorder: sync.Recorder, settings: DeploymentSettings | None = None,
                 clock: clock_.Clock | None = None,
                 now: Callable[[], datetime.datetime] = _wall_clock) -> None:
        """`recorder` reports events (an `events.EventRecorder` is run by `run()`); `clock`
        paces the queue (tests pass a FakeClock); `now` is wall-clock time for conditions
        and the progress deadline."""
        self._client = client
        self._deployments = deployments
        self._replicasets = replicasets
        self._pods = pods
        self._recorder = recorder
        self._settings = settings or DeploymentSettings()
        self.queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="deployment", clock=clock)
        self.context = sync.SyncContext(
            client=client, recorder=recorder, replicasets=replicasets.cache, now=now,
            enqueue_after=lambda d, delay: self.queue.add_after(
                informer.meta_namespace_key(d), delay),
            enqueue_rate_limited=lambda d: self.queue.add_rate_limited(
                informer.meta_namespace_key(d)))
        deployments.add_handlers(on_add=self._enqueue,
                                 on_update=lambda _old, new: self._enqueue(new),
                                 on_delete=self._enqueue)
        replicasets.add_handlers(on_add=self._add_replicaset, on_update=self._update_replicaset,
                                 on_delete=self._delete_replicaset)
        pods.add_handlers(on_delete=self._delete_pod)

    async def run(self) -> None:
        """Wait for the caches, then sync with `concurrent_deployment_syncs` workers until
        cancelled."""
        await worker.run_workers(
            self.queue, self.sync_deployment, what=DEPLOYMENT_KIND,
            workers=self._settings.concurrent_deployment_syncs,
            informers=(self._deployments, self._replicasets, self._pods),
            alongside=(self._recorder.run,) if isinstance(self._recorder, events.EventRecorder)
            else ())

    # --- event handlers ----------------------------------------------------------------------

    def _enqueue(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        self.queue.add(informer.meta_namespace_key(obj))

    def _resolve_controller_ref(self, namespace: str, ref: Obj) -> Obj | None:
        return controllerrefmanager.resolve_controller_ref(
            self._deployments.cache, namespace, ref, kind=DEPLOYMENT_KIND)

    def _deployments_for_replicaset(self, rs: Obj) -> list[Obj]:
        """Deployments whose selector matches an orphan ReplicaSet's labels."""
        rs_labels = meta.labels(rs)
        if not rs_labels:
            return []
        found = controllerrefmanager.selecting(
            self._deployments.cache.list(meta.namespace(rs)), rs_labels,
            selector_of=lambda d: (d.get("spec") or {}).get("selector"))
        if len(found) > 1:
            log.info("more than one deployment is selecting replica set %s/%s",
                     meta.namespace(rs), meta.name(rs))
        return found

    def _add_replicaset(self, rs: Obj) -> None:
        if meta.deletion_timestamp(rs):
            self._delete_replicaset(rs)
            return
        ref = podcontrol.get_controller_of(rs)
        if ref is not None:
            d = self._resolve_controller_ref(meta.namespace(rs), ref)
            if d is not None:
                self._enqueue(d)
            return
        for d in self._deployments_for_replicaset(rs):
            self._enqueue(d)

    def _update_replicaset(self, old: Obj, new: Obj) -> None:
        if meta.resource_version(old) == meta.resource_version(new):
            return
        new_ref, old_ref = podcontrol.get_controller_of(new), podcontrol.get_controller_of(old)
        if new_ref != old_ref and old_ref is not None:
            previous = self._resolve_controller_ref(meta.namespace(old), old_ref)
            if previous is not None:
                self._enqueue(previous)
        if new_ref is not None:
            d = self._resolve_controller_ref(meta.namespace(new), new_ref)
            if d is not None:
                self._enqueue(d)
            return
        if meta.labels(old) != meta.labels(new) or new_ref != old_ref:
            for d in self._deployments_for_replicaset(new):
                self._enqueue(d)

    def _delete_replicaset(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        rs = informer.deleted_object(obj)
        ref = podcontrol.get_controller_of(rs)
        if ref is None:
            return
        d = self._resolve_controller_ref(meta.namespace(rs), ref)
        if d is not None:
            self._enqueue(d)

    def _deployment_for_pod(self, pod: Obj) -> Obj | None:
        ref = podcontrol.get_controller_of(pod)
        if ref is None or ref.get("kind") != REPLICASET_KIND:
            return None
        rs = self._replicasets.cache.get(f"{meta.namespace(pod)}/{ref.get('name', '')}")
        if rs is None or meta.uid(rs) != ref.get("uid"):
            return None
        rs_ref = podcontrol.get_controller_of(rs)
        return None if rs_ref is None else self._resolve_controller_ref(meta.namespace(rs),
                                                                        rs_ref)

    def _delete_pod(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        """A Recreate Deployment waits for its old pods to be gone: look again when the last
        one is."""
        pod = informer.deleted_object(obj)
        d = self._deployment_for_pod(pod)
        if d is None or replicas.strategy_type(d) != replicas.RECREATE:
            return
        owned = [rs for rs in self._replicasets.cache.list(meta.namespace(d))
                 if (podcontrol.get_controller_of(rs) or {}).get("uid") == meta.uid(d)]
        if not any(self.pod_map(d, owned).values()):
            self._enqueue(d)

    # --- sync ----------------------------------------------------------------------------------

    async def sync_deployment(self, key: str) -> None:
        """Reconcile one Deployment (see the module docstring). Raises API errors for the
        worker to requeue."""
        cached = self._deployments.cache.get(key)
        if cached is None:
            log.debug("deployment %s has been deleted", key)
            return
        d = copy.deepcopy(cached)  # the sync changes its copy's status and annotations
        dc = self.context
        selector = (d.get("spec") or {}).get("selector") or {}
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            self._recorder.event(d, events.WARNING, sync.SELECTING_ALL_REASON,
                                 sync.SELECTING_ALL_MESSAGE)
            status = d.setdefault("status", {})
            if int(status.get("observedGeneration") or 0) < meta.generation(d):
                status["observedGeneration"] = meta.generation(d)
                await sync.update_status(dc, d)
            return
        rs_list = await self.get_replicasets_for_deployment(d)
        pod_map = self.pod_map(d, rs_list)
        if meta.deletion_timestamp(d):
            await sync.sync_status_only(dc, d, rs_list)
            return
        await sync.check_paused_conditions(dc, d)
        if (d.get("spec") or {}).get("paused"):
            await sync.sync(dc, d, rs_list)
            return
        if await sync.is_scaling_event(dc, d, rs_list):
            await sync.sync(dc, d, rs_list)
            return
        strategy = replicas.strategy_type(d)
        if strategy == replicas.RECREATE:
            await recreate.rollout_recreate(dc, d, rs_list, pod_map)
        elif strategy == replicas.ROLLING_UPDATE:
            await rolling.rollout_rolling(dc, d, rs_list)
        else:
            raise worker.SyncFailed(f"unexpected deployment strategy type: {strategy}")

    async def get_replicasets_for_deployment(self, d: Obj) -> list[Obj]:
        """The namespace's ReplicaSets this Deployment owns after claiming."""
        try:
            selector = labels.from_label_selector((d.get("spec") or {}).get("selector"))
        except errors.StatusError as exc:
            raise worker.SyncFailed(f"deployment {meta.namespace(d)}/{meta.name(d)} has "
                                    f"invalid label selector: {exc}") from exc
        path = rest.resource_path(*DEPLOYMENTS, namespace=meta.namespace(d), name=meta.name(d))

        async def patch_replicaset(namespace: str, name: str, patch: Obj) -> None:
            await self._client.patch(rest.resource_path(*REPLICASETS, namespace=namespace,
                                                        name=name),
                                     patch, patch_type=rest.STRATEGIC_MERGE_PATCH)

        manager = controllerrefmanager.ControllerRefManager(
            d, selector=selector, controller_ref=podcontrol.new_controller_ref(d),
            can_adopt=controllerrefmanager.recheck_deletion_timestamp(
                controllerrefmanager.fresh_with_same_uid(lambda: self._client.get(path), d)),
            patch=patch_replicaset)
        return await manager.claim(self._replicasets.cache.list(meta.namespace(d)))

    def pod_map(self, d: Obj, rs_list: list[Obj]) -> dict[str, list[Obj]]:
        """The Deployment's pods (by its selector) grouped by the uid of their ReplicaSet in
        `rs_list`; every ReplicaSet has an entry."""
        grouped: dict[str, list[Obj]] = {meta.uid(rs): [] for rs in rs_list}
        try:
            selector = labels.from_label_selector((d.get("spec") or {}).get("selector"))
        except errors.StatusError:
            return grouped
        for pod in self._pods.cache.list(meta.namespace(d)):
            if not selector.matches(meta.labels(pod)):
                continue
            ref = podcontrol.get_controller_of(pod)
            if ref is not None and ref.get("uid") in grouped:
                grouped[ref["uid"]].append(pod)
        return grouped


def new_deployment_controller(client: rest.RESTClient, *,
                              informers: informer.SharedInformerFactory,
                              settings: DeploymentSettings | None = None) -> DeploymentController:
    """The Deployment controller on `informers`, writing through `client` and reporting events
    as `deployment-controller` (upstream's NewDeploymentController)."""
    return DeploymentController(
        client=client, deployments=informers.informer_for(*DEPLOYMENTS),
        replicasets=informers.informer_for(*REPLICASETS), pods=informers.informer_for(*PODS),
        recorder=events.EventRecorder(client, component=CONTROLLER_NAME), settings=settings)
