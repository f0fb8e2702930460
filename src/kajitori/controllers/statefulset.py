"""The StatefulSet controller: pods with stable names, storage and order.

Mirrors pkg/controller/statefulset (stateful_set.go, stateful_set_control.go,
stateful_set_utils.go, stateful_pod_control.go). A sync of one StatefulSet:

1. brings its ControllerRevisions up to date (`history.py`) and reads the current revision
   (`status.currentRevision`) and the update revision (the template's);
2. claims its pods and sorts them into the `replicas` slots `<set>-<ordinal>`
   (`spec.ordinals.start` first) and the condemned rest;
3. replaces failed pods and creates missing ones (after their PVCs
   `<claim>-<set>-<ordinal>` from `volumeClaimTemplates`), ordinals below the rolling update's
   partition at the current revision and the rest at the update revision; with
   `OrderedReady` one at a time, each waiting for the ones below it to be Running and Ready,
   with `Parallel` all at once;
4. deletes condemned pods, highest ordinal first (`OrderedReady`: one at a time, only while
   every other pod is healthy), and their PVCs when `whenScaled: Delete`;
5. with `RollingUpdate`, deletes the highest-ordinal pod at or above the partition that is not
   at the update revision, one at a time while all are healthy (it is recreated at the update
   revision); `OnDelete` leaves that to the user;
6. writes status; a rollout whose every pod is updated and ready makes the update revision
   current.

PVCs of a set whose `whenDeleted` is `Delete` carry an ownerReference to the set, so the
garbage collector deletes them with it.

Departures from upstream: `maxUnavailable` above 1 (alpha) is not honoured; PVCs removed on
scale-down are deleted directly instead of through a pod ownerReference.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kajitori.api import errors, labels, meta
from kajitori.client import clock as clock_
from kajitori.client import events, informer, rest, workqueue
from kajitori.controllers import (
    controllerrefmanager,
    history,
    podcontrol,
    podstate,
    replicaset,
    worker,
)

Obj = dict[str, Any]

log = logging.getLogger(__name__)

STATEFULSETS = ("apps", "v1", "statefulsets")
PODS = ("", "v1", "pods")
PVCS = ("", "v1", "persistentvolumeclaims")
CONTROLLER_NAME = "statefulset-controller"

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
ORDERED_READY = "OrderedReady"
PARALLEL = "Parallel"
ROLLING_UPDATE = "RollingUpdate"
RETAIN = "Retain"
DELETE = "Delete"
RUNNING, FAILED, SUCCEEDED = "Running", "Failed", "Succeeded"

SUCCESSFUL_CREATE = "SuccessfulCreate"
FAILED_CREATE = "FailedCreate"
SUCCESSFUL_DELETE = "SuccessfulDelete"
FAILED_DELETE = "FailedDelete"
RECREATING_FAILED_POD = "RecreatingFailedPod"


@dataclass(frozen=True)
class StatefulSetSettings:
    concurrent_statefulset_syncs: int = 5
    """`--concurrent-statefulset-syncs`."""


# --- names and pods ----------------------------------------------------------------------------

def pod_name(set_: Obj, ordinal: int) -> str:
    return f"{meta.name(set_)}-{ordinal}"


def claim_name(claim: Obj, set_: Obj, ordinal: int) -> str:
    """`<claim>-<set>-<ordinal>` (upstream's getPersistentVolumeClaimName)."""
    return f"{meta.name(claim)}-{pod_name(set_, ordinal)}"


def parent_and_ordinal(pod: Obj) -> tuple[str, int] | None:
    """(set name, ordinal) from a pod's name, None when it is not `<name>-<int>`."""
    match = re.fullmatch(r"(.*)-([0-9]+)", meta.name(pod))
    return (match.group(1), int(match.group(2))) if match else None


def ordinal_of(pod: Obj) -> int:
    parsed = parent_and_ordinal(pod)
    return parsed[1] if parsed else -1


def is_member_of(set_: Obj, pod: Obj) -> bool:
    parsed = parent_and_ordinal(pod)
    return parsed is not None and parsed[0] == meta.name(set_)


def revision_template(set_: Obj, revision: Obj | None) -> Obj:
    """The pod template a revision stores (the set's own when `revision` is None)."""
    if revision is None:
        return copy.deepcopy((set_.get("spec") or {}).get("template") or {})
    template = dict(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return copy.deepcopy(template)


def new_stateful_set_pod(set_: Obj, ordinal: int, *, template: Obj, revision_hash: str) -> Obj:
    """Pod `<set>-<ordinal>` from `template` (upstream's newVersionedStatefulSetPod): its
    identity labels, hostname and subdomain, the revision label, and one volume per claim
    template naming that ordinal's PVC (replacing a template volume of the same name)."""
    spec = set_.get("spec") or {}
    pod = podcontrol.get_pod_from_template(template, set_, podcontrol.new_controller_ref(set_))
    name = pod_name(set_, ordinal)
    md = pod["metadata"]
    md.pop("generateName", None)
    md["name"] = name
    md["namespace"] = meta.namespace(set_)
    md["labels"] = {**(md.get("labels") or {}), POD_NAME_LABEL: name,
                    POD_INDEX_LABEL: str(ordinal),
                    history.CONTROLLER_REVISION_HASH_LABEL: revision_hash}
    pod_spec = pod["spec"]
    pod_spec["hostname"] = name
    if spec.get("serviceName"):
        pod_spec["subdomain"] = spec["serviceName"]
    claims = spec.get("volumeClaimTemplates") or []
    if claims:
        claim_volumes = [{"name": meta.name(c), "persistentVolumeClaim": {
            "claimName": claim_name(c, set_, ordinal)}} for c in claims]
        taken = {v["name"] for v in claim_volumes}
        pod_spec["volumes"] = [*claim_volumes, *(v for v in pod_spec.get("volumes") or []
                                                 if v.get("name") not in taken)]
    return pod


def new_claim(set_: Obj, claim: Obj, ordinal: int) -> Obj:
    """The PVC of `claim` for `ordinal`: the template's metadata and spec, the set's
    selector labels, and an ownerReference to the set when `whenDeleted` is Delete."""
    template_md = claim.get("metadata") or {}
    selector_labels = ((set_.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    md: Obj = {"name": claim_name(claim, set_, ordinal), "namespace": meta.namespace(set_),
               "labels": {**(template_md.get("labels") or {}), **selector_labels}}
    if template_md.get("annotations"):
        md["annotations"] = dict(template_md["annotations"])
    if retention_policy(set_)[0] == DELETE:
        ref = podcontrol.new_controller_ref(set_)
        ref["controller"] = False
        md["ownerReferences"] = [ref]
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": md,
            "spec": copy.deepcopy(claim.get("spec") or {})}


def retention_policy(set_: Obj) -> tuple[str, str]:
    """(whenDeleted, whenScaled), Retain unless set."""
    policy = (set_.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    return policy.get("whenDeleted") or RETAIN, policy.get("whenScaled") or RETAIN


def is_running_and_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == RUNNING and podstate.is_pod_ready(pod)


def is_healthy(pod: Obj) -> bool:
    """Running, ready and not being deleted (upstream's isHealthy)."""
    return is_running_and_ready(pod) and not meta.deletion_timestamp(pod)


def _revision_of(pod: Obj) -> str:
    return meta.labels(pod).get(history.CONTROLLER_REVISION_HASH_LABEL, "")


def _wall_clock() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class StatefulSetController:
    """Runs each StatefulSet's pods; one key is never synced twice at once."""

    def __init__(self, *, client: rest.RESTClient, statefulsets: informer.Informer,
                 pods: informer.Informer, revisions: informer.Informer,
                 pod_control: podcontrol.PodControl,
                 settings: StatefulSetSettings | None = None,
                 recorder: events.EventRecorder | None = None,
                 clock: clock_.Clock | None = None,
                 now: Callable[[], datetime.datetime] = _wall_clock) -> None:
        """Pods and PVCs are created through `client` (stable names need no generateName),
        deleted and patched through `pod_control`; `recorder` reports on the set (None in
        unit tests)."""
        self._client = client
        self._sets = statefulsets
        self._pods = pods
        self._revisions = revisions
        self._pod_control = pod_control
        self._settings = settings or StatefulSetSettings()
        self._recorder = recorder
        self._now = now
        self.queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="statefulset", clock=clock)
        statefulsets.add_handlers(on_add=self._enqueue,
                                  on_update=lambda _o, n: self._enqueue(n),
                                  on_delete=self._enqueue)
        pods.add_handlers(on_add=self._pod_changed, on_update=lambda _o, n: self._pod_changed(n),
                          on_delete=self._pod_changed)
        revisions.add_handlers(on_add=self._pod_changed,
                               on_update=lambda _o, n: self._pod_changed(n),
                               on_delete=self._pod_changed)

    async def run(self) -> None:
        """Wait for the caches, then sync with `concurrent_statefulset_syncs` workers."""
        async with asyncio.TaskGroup() as group:
            if self._recorder is not None:
                group.create_task(self._recorder.run())
            group.create_task(worker.run_workers(
                self.queue, self.sync, what="StatefulSet",
                workers=self._settings.concurrent_statefulset_syncs,
                informers=(self._sets, self._pods, self._revisions)))

    def _enqueue(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        self.queue.add(informer.meta_namespace_key(obj))

    def _pod_changed(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        """Enqueue the owner, or for an orphan every set whose selector matches it."""
        pod = obj.obj if isinstance(obj, informer.DeletedFinalStateUnknown) else obj
        ref = podcontrol.get_controller_of(pod)
        if ref is not None:
            if ref.get("kind") == "StatefulSet":
                self.queue.add(f"{meta.namespace(pod)}/{ref.get('name', '')}")
            return
        for set_ in self._sets.cache.list(meta.namespace(pod)):
            selector = _selector(set_)
            if selector is not None and not selector.empty() and \
                    selector.matches(meta.labels(pod)):
                self._enqueue(set_)

    def _event(self, set_: Obj, type_: str, reason: str, message: str) -> None:
        if self._recorder is not None:
            self._recorder.event(set_, type_, reason, message)

    # --- sync -------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        """Reconcile one StatefulSet from the caches (upstream's UpdateStatefulSet)."""
        set_ = self._sets.cache.get(key)
        if set_ is None:
            return
        selector = _selector(set_)
        if selector is None or meta.deletion_timestamp(set_):
            return
        namespace = meta.namespace(set_)
        owned_revisions = history.owned_revisions(self._revisions.cache.list(namespace), set_)
        status = set_.get("status") or {}
        update, collision = await history.sync_update_revision(
            self._client, set_, owned=owned_revisions,
            collision_count=int(status.get("collisionCount") or 0))
        current = next((r for r in owned_revisions
                        if meta.name(r) == status.get("currentRevision")), update)
        pods = [p for p in await self._claim_pods(set_, selector) if is_member_of(set_, p)]
        await self._update_pods(set_, pods, current=current, update=update)
        live = {meta.name(current), meta.name(update)} | {_revision_of(p) for p in pods}
        await history.truncate_history(
            self._client, owned_revisions, live=live,
            limit=int((set_.get("spec") or {}).get("revisionHistoryLimit",
                                                   history.DEFAULT_REVISION_HISTORY_LIMIT)))
        fresh = [p for p in self._pods.cache.list(namespace) if is_member_of(set_, p) and
                 (podcontrol.get_controller_of(p) or {}).get("uid") == meta.uid(set_)]
        await self._update_status(set_, fresh, current=current, update=update,
                                  collision=collision)

    async def _claim_pods(self, set_: Obj, selector: labels.Selector) -> list[Obj]:
        path = rest.resource_path(*STATEFULSETS, namespace=meta.namespace(set_),
                                  name=meta.name(set_))
        manager = controllerrefmanager.ControllerRefManager(
            set_, selector=selector, controller_ref=podcontrol.new_controller_ref(set_),
            can_adopt=controllerrefmanager.recheck_deletion_timestamp(
                controllerrefmanager.fresh_with_same_uid(lambda: self._client.get(path),
                                                         set_)),
            patch=self._pod_control.patch_pod)
        return await manager.claim(self._pods.cache.list(meta.namespace(set_)))

    async def _update_pods(self, set_: Obj, pods: list[Obj], *, current: Obj,
                           update: Obj) -> None:
        """Create, replace and delete pods as the module docstring's steps 3 to 5 say."""
        spec = set_.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        start = int((spec.get("ordinals") or {}).get("start") or 0)
        parallel = spec.get("podManagementPolicy") == PARALLEL
        strategy = spec.get("updateStrategy") or {}
        rolling = strategy.get("type", ROLLING_UPDATE) == ROLLING_UPDATE
        partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0) \
            if rolling else 0
        slots: dict[int, Obj] = {}
        condemned: list[Obj] = []
        for pod in pods:
            ordinal = ordinal_of(pod)
            if start <= ordinal < start + replicas:
                slots[ordinal] = pod
            else:
                condemned.append(pod)
        condemned.sort(key=ordinal_of, reverse=True)
        unhealthy = [p for p in [*slots.values(), *condemned] if not is_healthy(p)]
        for ordinal in range(start, start + replicas):
            slot = slots.get(ordinal)
            if slot is not None and (slot.get("status") or {}).get("phase") in (FAILED,
                                                                                 SUCCEEDED):
                if not meta.deletion_timestamp(slot):
                    self._event(set_, events.WARNING, RECREATING_FAILED_POD,
                                f"StatefulSet {meta.namespace(set_)}/{meta.name(set_)} is "
                                f"recreating failed Pod {meta.name(slot)}")
                    await self._delete_pod(set_, slot)
                if not parallel:
                    return
                continue
            if slot is None:
                # OnDelete and ordinals at or above the partition get the new template.
                revision = current if rolling and ordinal < start + partition else update
                await self._create_pod(set_, ordinal, revision=revision)
                if not parallel:
                    return
                continue
            if not parallel and not is_healthy(slot):
                return  # OrderedReady: the next waits for this one
        for pod in condemned:
            if meta.deletion_timestamp(pod):
                if not parallel:
                    return
                continue
            if not parallel and any(p is not pod for p in unhealthy):
                return
            await self._delete_pod(set_, pod)
            if retention_policy(set_)[1] == DELETE:
                await self._delete_claims(set_, ordinal_of(pod))
            if not parallel:
                return
        if not rolling:
            return
        for ordinal in range(start + replicas - 1, start + partition - 1, -1):
            target = slots.get(ordinal)
            if target is None or _revision_of(target) == meta.name(update):
                continue
            if not meta.deletion_timestamp(target) and not unhealthy:
                await self._delete_pod(set_, target)
            return

    async def _create_pod(self, set_: Obj, ordinal: int, *, revision: Obj) -> None:
        """Create the ordinal's missing PVCs, then the pod (upstream's CreateStatefulPod); an
        existing one (a stale cache) is fine."""
        namespace = meta.namespace(set_)
        pod = new_stateful_set_pod(set_, ordinal, template=revision_template(set_, revision),
                                   revision_hash=meta.name(revision))
        for claim in (set_.get("spec") or {}).get("volumeClaimTemplates") or []:
            pvc = new_claim(set_, claim, ordinal)
            try:
                await self._client.create(rest.resource_path(*PVCS, namespace=namespace), pvc)
            except errors.StatusError as exc:
                if exc.code == 409:
                    continue
                self._event(set_, events.WARNING, FAILED_CREATE,
                            f"create Claim {meta.name(pvc)} for Pod {meta.name(pod)} in "
                            f"StatefulSet {meta.name(set_)} failed error: {_text(exc)}")
                raise
            self._event(set_, events.NORMAL, SUCCESSFUL_CREATE,
                        f"create Claim {meta.name(pvc)} Pod {meta.name(pod)} in StatefulSet "
                        f"{meta.name(set_)} success")
        try:
            await self._client.create(rest.resource_path(*PODS, namespace=namespace), pod)
        except errors.StatusError as exc:
            if exc.code == 409:
                return
            self._event(set_, events.WARNING, FAILED_CREATE,
                        f"create Pod {meta.name(pod)} in StatefulSet {meta.name(set_)} failed "
                        f"error: {_text(exc)}")
            raise
        self._event(set_, events.NORMAL, SUCCESSFUL_CREATE,
                    f"create Pod {meta.name(pod)} in StatefulSet {meta.name(set_)} successful")

    async def _delete_pod(self, set_: Obj, pod: Obj) -> None:
        try:
            await self._client.delete(rest.resource_path(*PODS, namespace=meta.namespace(pod),
                                                         name=meta.name(pod)))
        except errors.StatusError as exc:
            if exc.code == 404:
                return
            self._event(set_, events.WARNING, FAILED_DELETE,
                        f"delete Pod {meta.name(pod)} in StatefulSet {meta.name(set_)} failed "
                        f"error: {_text(exc)}")
            raise
        self._event(set_, events.NORMAL, SUCCESSFUL_DELETE,
                    f"delete Pod {meta.name(pod)} in StatefulSet {meta.name(set_)} successful")

    async def _delete_claims(self, set_: Obj, ordinal: int) -> None:
        for claim in (set_.get("spec") or {}).get("volumeClaimTemplates") or []:
            path = rest.resource_path(*PVCS, namespace=meta.namespace(set_),
                                      name=claim_name(claim, set_, ordinal))
            with errors.ignore_not_found():
                await self._client.delete(path)

    async def _update_status(self, set_: Obj, pods: list[Obj], *, current: Obj, update: Obj,
                             collision: int) -> None:
        """Upstream's status computation and completeRollingUpdate."""
        spec = set_.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = self._now()
        created = [p for p in pods if not meta.deletion_timestamp(p)]
        ready = [p for p in created if is_running_and_ready(p)]
        status: Obj = {
            "observedGeneration": meta.generation(set_),
            "replicas": len(created),
            "readyReplicas": len(ready),
            "currentReplicas": sum(1 for p in created
                                   if _revision_of(p) == meta.name(current)),
            "updatedReplicas": sum(1 for p in created if _revision_of(p) == meta.name(update)),
            "availableReplicas": sum(1 for p in ready
                                     if replicaset.is_pod_available(p, min_ready, now)),
            "currentRevision": meta.name(current),
            "updateRevision": meta.name(update),
            "collisionCount": collision,
        }
        rolling = (spec.get("updateStrategy") or {}).get("type", ROLLING_UPDATE) == \
            ROLLING_UPDATE
        if rolling and status["updatedReplicas"] == status["replicas"] == \
                status["readyReplicas"] == int(spec.get("replicas", 1)):
            status["currentReplicas"] = status["updatedReplicas"]
            status["currentRevision"] = status["updateRevision"]
        for omitted in ("readyReplicas", "currentReplicas", "updatedReplicas",
                        "availableReplicas"):
            if not status[omitted]:
                del status[omitted]
        old = set_.get("status") or {}
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        if old != status:
            path = rest.resource_path(*STATEFULSETS, namespace=meta.namespace(set_),
                                      name=meta.name(set_))
            await history.write_status(self._client, path, cached=set_, status=status)
        if min_ready > 0 and status.get("availableReplicas", 0) < len(ready):
            raise worker.RequeueAfter(float(min_ready))


def _selector(set_: Obj) -> labels.Selector | None:
    try:
        return labels.from_label_selector((set_.get("spec") or {}).get("selector"))
    except errors.StatusError as exc:
        log.error("invalid selector of StatefulSet %s: %s", informer.meta_namespace_key(set_),
                  exc)
        return None


def _text(exc: errors.StatusError) -> str:
    return str(exc.status.get("message") or exc)


def new_statefulset_controller(client: rest.RESTClient, *,
                               informers: informer.SharedInformerFactory,
                               settings: StatefulSetSettings | None = None
                               ) -> StatefulSetController:
    """The StatefulSet controller on `informers`, reporting as `statefulset-controller`."""
    recorder = events.EventRecorder(client, component=CONTROLLER_NAME)
    return StatefulSetController(
        client=client, statefulsets=informers.informer_for(*STATEFULSETS),
        pods=informers.informer_for(*PODS),
        revisions=informers.informer_for(*history.CONTROLLER_REVISIONS),
        pod_control=podcontrol.RealPodControl(client, recorder=recorder),
        settings=settings, recorder=recorder)
