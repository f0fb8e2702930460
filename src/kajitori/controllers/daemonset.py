"""The DaemonSet controller: one pod of each DaemonSet on every node it should run on.

Mirrors pkg/controller/daemon (daemon_controller.go, update.go, util/daemonset_util.go). A
sync of one DaemonSet:

1. brings its ControllerRevisions up to date (`history.py`): the current template's revision
   exists and is the newest, old ones beyond `revisionHistoryLimit` that no pod runs go;
2. claims the namespace's pods (adopting orphans its selector matches) and groups them by
   the node they target (`spec.nodeName`, or the node their `metadata.name` matchFields
   affinity pins them to before the scheduler binds them);
3. for each node decides whether a daemon pod should run there (`node_should_run_daemon_pod`:
   nodeSelector, required node affinity, NoSchedule/NoExecute taints against the pod's
   tolerations plus the DaemonSet defaults) and whether an existing one may stay (NoExecute
   taints only); creates the missing pods, deletes the surplus (duplicates, failed pods, pods
   on nodes they may not stay on);
4. with `RollingUpdate`, replaces old-revision pods within `maxUnavailable` (delete first)
   or `maxSurge` (a new pod next to the old one, the old deleted once the new is available);
   with `OnDelete`, replaces only pods someone else deleted;
5. writes status when it changed.

Pods are created unbound with a required node affinity on the node's name, as upstream does,
so the scheduler binds them and sees their resources.

Departures from upstream: failed daemon pods are deleted without the per-node back-off; no
`kubectl rollout history` revision annotations beyond the ControllerRevisions themselves.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kajitori.api import errors, labels, meta, nodeaffinity, taints
from kajitori.client import clock as clock_
from kajitori.client import events, informer, rest, workqueue
from kajitori.controllers import (
    apistatus,
    controllerrefmanager,
    expectations,
    history,
    podcontrol,
    podstate,
    replicaset,
    worker,
)

Obj = dict[str, Any]

log = logging.getLogger(__name__)

DAEMONSETS = ("apps", "v1", "daemonsets")
PODS = ("", "v1", "pods")
NODES = ("", "v1", "nodes")
CONTROLLER_NAME = "daemonset-controller"
BURST_REPLICAS = 250
"""Pods created or deleted in one sync at most (upstream's BurstReplicas)."""

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
DISK_PRESSURE_TAINT = "node.kubernetes.io/disk-pressure"
MEMORY_PRESSURE_TAINT = "node.kubernetes.io/memory-pressure"
PID_PRESSURE_TAINT = "node.kubernetes.io/pid-pressure"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
NETWORK_UNAVAILABLE_TAINT = "node.kubernetes.io/network-unavailable"
NODE_NAME_FIELD = "metadata.name"

ROLLING_UPDATE = "RollingUpdate"
ON_DELETE = "OnDelete"
FAILED_DAEMON_POD = "FailedDaemonPod"
SELECTING_ALL = "SelectingAll"
SELECTING_ALL_MESSAGE = "This daemon set is selecting all pods. A non-empty selector is required."


@dataclass(frozen=True)
class DaemonSetSettings:
    concurrent_daemonset_syncs: int = 2
    """`--concurrent-daemonset-syncs`."""


# --- the pods a DaemonSet makes ------------------------------------------------------------------

def _add_toleration(tolerations: list[Obj], toleration: Obj) -> None:
    """Add unless one with the same key, operator, value and effect is there (upstream's
    AddOrUpdateTolerationInPodSpec, which replaces a namesake)."""
    for i, existing in enumerate(tolerations):
        if all(existing.get(k) == toleration.get(k) for k in ("key", "effect")):
            tolerations[i] = toleration
            return
    tolerations.append(toleration)


def new_pod_template(ds: Obj, *, revision_hash: str) -> Obj:
    """The DaemonSet's template with the default tolerations every daemon pod carries and the
    `controller-revision-hash` label (upstream's CreatePodTemplate)."""
    template = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
    spec = template.setdefault("spec", {})
    tolerations: list[Obj] = spec.setdefault("tolerations", [])
    for key in (NOT_READY_TAINT, UNREACHABLE_TAINT):
        _add_toleration(tolerations, {"key": key, "operator": "Exists",
                                      "effect": taints.NO_EXECUTE})
    for key in (DISK_PRESSURE_TAINT, MEMORY_PRESSURE_TAINT, PID_PRESSURE_TAINT,
                UNSCHEDULABLE_TAINT):
        _add_toleration(tolerations, {"key": key, "operator": "Exists",
                                      "effect": taints.NO_SCHEDULE})
    if spec.get("hostNetwork"):
        _add_toleration(tolerations, {"key": NETWORK_UNAVAILABLE_TAINT, "operator": "Exists",
                                      "effect": taints.NO_SCHEDULE})
    if revision_hash:
        template.setdefault("metadata", {}).setdefault("labels", {})[
            history.CONTROLLER_REVISION_HASH_LABEL] = revision_hash
    return template


def replace_daemon_pod_node_name_affinity(template: Obj, node_name: str) -> Obj:
    """`template` with its required node affinity replaced by one term selecting the node by
    `metadata.name` (upstream's ReplaceDaemonSetPodNodeNameNodeAffinity); preferred terms and
    pod (anti-)affinity stay."""
    template = copy.deepcopy(template)
    spec = template.setdefault("spec", {})
    affinity = spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
        {"matchFields": [{"key": NODE_NAME_FIELD, "operator": "In", "values": [node_name]}]}]}
    return template


def target_node_name(pod: Obj) -> str | None:
    """The node a daemon pod is for: its `nodeName`, else the node its matchFields affinity
    names (upstream's GetTargetNodeName)."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    terms = ((((spec.get("affinity") or {}).get("nodeAffinity") or {})
              .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
             .get("nodeSelectorTerms") or [])
    for term in terms:
        for field in term.get("matchFields") or []:
            if field.get("key") == NODE_NAME_FIELD and field.get("operator") == "In" and \
                    len(field.get("values") or []) == 1:
                return str(field["values"][0])
    return None


def node_should_run_daemon_pod(node: Obj, ds: Obj, *, pod: Obj | None = None
                               ) -> tuple[bool, bool]:
    """(should run, should continue running) a daemon pod of `ds` on `node` (upstream's
    NodeShouldRunDaemonPod): the node must match the template's nodeSelector and required
    node affinity; NoSchedule and NoExecute taints must be tolerated to run, NoExecute ones to
    keep running. `pod`: `new_pod_template(ds)`, when the caller asks for many nodes."""
    pod = pod or new_pod_template(ds, revision_hash="")
    if (ds.get("spec") or {}).get("template", {}).get("spec", {}).get("nodeName") not in \
            (None, "", meta.name(node)):
        return False, False
    if not nodeaffinity.required_node_affinity(pod).matches(meta.labels(node), meta.name(node)):
        return False, False
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    node_taints = (node.get("spec") or {}).get("taints") or []
    if taints.first_untolerated(node_taints, tolerations, effects=(taints.NO_EXECUTE,)):
        return False, False
    if taints.first_untolerated(node_taints, tolerations, effects=(taints.NO_SCHEDULE,)):
        return False, True
    return True, True


def _node_essentials(node: Obj) -> tuple[Any, ...]:
    conditions = sorted((c.get("type"), c.get("status"))
                        for c in (node.get("status") or {}).get("conditions") or [])
    return meta.labels(node), node.get("spec") or {}, conditions


def should_ignore_node_update(old: Obj, new: Obj) -> bool:
    """A node update that cannot change where daemon pods run: heartbeats and other status
    writes that leave labels, spec and the conditions' statuses alone (upstream's
    shouldIgnoreNodeUpdate). Skipping them keeps a large cluster's heartbeats from
    resyncing every DaemonSet."""
    return _node_essentials(old) == _node_essentials(new)


def _int_or_percent(value: Any, total: int, *, round_up: bool) -> int:
    """An IntOrString of `total` (upstream's GetScaledValueFromIntOrPercent)."""
    if isinstance(value, str) and value.endswith("%"):
        scaled = int(value[:-1]) * total / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    return int(value or 0)


def max_surge_and_unavailable(ds: Obj, desired: int) -> tuple[int, int]:
    """The rolling update's (maxSurge, maxUnavailable) in pods for `desired` nodes (upstream's
    updatedDesiredNodeCounts): surge rounds up, unavailable down, and both zero means one
    unavailable."""
    rolling = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {}
    surge = _int_or_percent(rolling.get("maxSurge", 0), desired, round_up=True)
    unavailable = _int_or_percent(rolling.get("maxUnavailable", 1), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _wall_clock() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass
class _NodePlan:
    """What a sync does: pods to create (by node) and pods to delete (by name)."""

    create_on: list[str]
    delete: list[str]


class DaemonSetController:
    """Runs each DaemonSet's pods on its nodes; one key is never synced twice at once."""

    def __init__(self, *, client: rest.RESTClient, daemonsets: informer.Informer,
                 pods: informer.Informer, nodes: informer.Informer,
                 revisions: informer.Informer, pod_control: podcontrol.PodControl,
                 settings: DaemonSetSettings | None = None,
                 recorder: events.EventRecorder | None = None,
                 clock: clock_.Clock | None = None,
                 now: Callable[[], datetime.datetime] = _wall_clock) -> None:
        """`recorder` is the one behind `pod_control` (None in unit tests); `now` is the
        wall clock for availability."""
        self._client = client
        self._ds = daemonsets
        self._pods = pods
        self._nodes = nodes
        self._revisions = revisions
        self._pod_control = pod_control
        self._settings = settings or DaemonSetSettings()
        self._recorder = recorder
        self._now = now
        self.expectations = expectations.UIDTrackingExpectations(clock=clock)
        self.queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="daemonset", clock=clock)
        daemonsets.add_handlers(on_add=self._enqueue, on_update=lambda _o, n: self._enqueue(n),
                                on_delete=self._delete_ds)
        pods.add_handlers(on_add=self._add_pod, on_update=self._update_pod,
                          on_delete=self._delete_pod)
        nodes.add_handlers(on_add=self._node_changed, on_update=self._update_node,
                           on_delete=self._node_changed)
        revisions.add_handlers(on_add=self._revision_changed,
                               on_update=lambda _o, n: self._revision_changed(n),
                               on_delete=self._revision_changed)

    async def run(self) -> None:
        """Wait for the caches, then sync with `concurrent_daemonset_syncs` workers."""
        async with asyncio.TaskGroup() as group:
            if self._recorder is not None:
                group.create_task(self._recorder.run())
            group.create_task(worker.run_workers(
                self.queue, self.sync, what="DaemonSet",
                workers=self._settings.concurrent_daemonset_syncs,
                informers=(self._ds, self._pods, self._nodes, self._revisions)))

    # --- event handlers ---------------------------------------------------------------------------

    def _enqueue(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        self.queue.add(informer.meta_namespace_key(obj))

    def _delete_ds(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        key = informer.meta_namespace_key(obj)
        self.expectations.delete_expectations(key)
        self.queue.add(key)

    def _owner_key(self, obj: Obj) -> str | None:
        ref = podcontrol.get_controller_of(obj)
        if ref is None or ref.get("kind") != "DaemonSet":
            return None
        key = f"{meta.namespace(obj)}/{ref.get('name', '')}"
        ds = self._ds.cache.get(key)
        return key if ds is not None and meta.uid(ds) == ref.get("uid") else None

    def _add_pod(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            if meta.deletion_timestamp(pod):
                self.expectations.deletion_observed(key, informer.meta_namespace_key(pod))
            else:
                self.expectations.creation_observed(key)
            self.queue.add(key)
        elif podcontrol.get_controller_of(pod) is None:
            self._enqueue_matching(pod)

    def _update_pod(self, old: Obj, new: Obj) -> None:
        if meta.resource_version(old) == meta.resource_version(new):
            return
        key = self._owner_key(new)
        if key is None:
            old_key = self._owner_key(old)
            if old_key is not None:
                self.queue.add(old_key)
            if podcontrol.get_controller_of(new) is None:
                self._enqueue_matching(new)
            return
        if meta.deletion_timestamp(new):
            self.expectations.deletion_observed(key, informer.meta_namespace_key(new))
        self.queue.add(key)
        ds = self._ds.cache.get(key) or {}
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        if min_ready > 0 and not podstate.is_pod_ready(old) and podstate.is_pod_ready(new):
            self.queue.add_after(key, min_ready + 1.0)

    def _delete_pod(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        pod = obj.obj if isinstance(obj, informer.DeletedFinalStateUnknown) else obj
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.deletion_observed(key, informer.meta_namespace_key(pod))
            self.queue.add(key)

    def _enqueue_matching(self, pod: Obj) -> None:
        for ds in self._ds.cache.list(meta.namespace(pod)):
            selector = _selector(ds)
            if selector is not None and not selector.empty() and \
                    selector.matches(meta.labels(pod)):
                self._enqueue(ds)

    def _node_changed(self, _obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        for key in self._ds.cache.list_keys():
            self.queue.add(key)

    def _update_node(self, old: Obj, new: Obj) -> None:
        if not should_ignore_node_update(old, new):
            self._node_changed(new)

    def _revision_changed(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        revision = obj.obj if isinstance(obj, informer.DeletedFinalStateUnknown) else obj
        key = self._owner_key(revision)
        if key is not None:
            self.queue.add(key)

    # --- sync -------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        """Reconcile one DaemonSet from the caches. Raises the first write failure for the
        worker to requeue."""
        ds = self._ds.cache.get(key)
        if ds is None:
            self.expectations.delete_expectations(key)
            return
        selector = _selector(ds)
        if selector is None:
            return
        if selector.empty():
            if self._recorder is not None:
                self._recorder.event(ds, events.WARNING, SELECTING_ALL, SELECTING_ALL_MESSAGE)
            return
        if meta.deletion_timestamp(ds):
            return
        namespace = meta.namespace(ds)
        owned_revisions = history.owned_revisions(self._revisions.cache.list(namespace), ds)
        status = ds.get("status") or {}
        update, collision = await history.sync_update_revision(
            self._client, ds, owned=owned_revisions,
            collision_count=int(status.get("collisionCount") or 0))
        hash_ = history.revision_hash(update)
        pods = await self._claim_pods(ds, selector)
        by_node: dict[str, list[Obj]] = {}
        for pod in pods:
            node = target_node_name(pod)
            if node is not None:
                by_node.setdefault(node, []).append(pod)
        template = new_pod_template(ds, revision_hash="")
        placement = {meta.name(node): node_should_run_daemon_pod(node, ds, pod=template)
                     for node in self._nodes.cache.list()}
        failure: Exception | None = None
        if self.expectations.satisfied_expectations(key):
            plan = self._plan(ds, by_node=by_node, hash_=hash_, placement=placement)
            failure = await self._apply(key, ds, plan=plan, hash_=hash_)
        live = {meta.name(update)} | {
            f"{meta.name(ds)}-{meta.labels(p).get(history.CONTROLLER_REVISION_HASH_LABEL)}"
            for p in pods}
        await history.truncate_history(
            self._client, owned_revisions, live=live,
            limit=int((ds.get("spec") or {}).get("revisionHistoryLimit",
                                                 history.DEFAULT_REVISION_HISTORY_LIMIT)))
        await self._update_status(ds, by_node=by_node, hash_=hash_, collision=collision,
                                  placement=placement)
        if failure is not None:
            raise failure

    async def _claim_pods(self, ds: Obj, selector: labels.Selector) -> list[Obj]:
        path = rest.resource_path(*DAEMONSETS, namespace=meta.namespace(ds), name=meta.name(ds))
        manager = controllerrefmanager.ControllerRefManager(
            ds, selector=selector, controller_ref=podcontrol.new_controller_ref(ds),
            can_adopt=controllerrefmanager.recheck_deletion_timestamp(
                controllerrefmanager.fresh_with_same_uid(lambda: self._client.get(path), ds)),
            patch=self._pod_control.patch_pod)
        return await manager.claim(self._pods.cache.list(meta.namespace(ds)))

    def _plan(self, ds: Obj, *, by_node: dict[str, list[Obj]], hash_: str,
              placement: dict[str, tuple[bool, bool]]) -> _NodePlan:
        """Upstream's podsShouldBeOnNode over every node, then the rolling update."""
        plan = _NodePlan(create_on=[], delete=[])
        now = self._now()
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        for name, (should_run, should_continue) in placement.items():
            pods = [p for p in by_node.get(name, []) if not meta.deletion_timestamp(p)]
            if should_run and not pods:
                plan.create_on.append(name)
                continue
            if not should_continue:
                plan.delete.extend(meta.name(p) for p in pods)
                continue
            failed = [p for p in pods if (p.get("status") or {}).get("phase") == "Failed"]
            plan.delete.extend(meta.name(p) for p in failed)
            running = sorted((p for p in pods if p not in failed),
                             key=lambda p: meta.metadata(p).get("creationTimestamp") or "")
            if failed and not running and should_run:
                plan.create_on.append(name)
            if len(running) > 1:
                new = [p for p in running if _hash_of(p) == hash_]
                old = [p for p in running if _hash_of(p) != hash_]
                if new and old and replicaset.is_pod_available(new[0], min_ready, now):
                    # A surge finished: the new pod is available, the old one goes.
                    plan.delete.extend(meta.name(p) for p in old)
                    plan.delete.extend(meta.name(p) for p in new[1:])
                elif not (new and old):
                    plan.delete.extend(meta.name(p) for p in running[1:])
        strategy = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type",
                                                                            ROLLING_UPDATE)
        if strategy == ROLLING_UPDATE:
            eligible = {name for name, (should_run, _) in placement.items() if should_run}
            self._rolling_update(ds, plan, by_node=by_node, hash_=hash_, eligible=eligible, now=now,
                                 min_ready=min_ready)
        return plan

    def _rolling_update(self, ds: Obj, plan: _NodePlan, *, by_node: dict[str, list[Obj]],
                        hash_: str, eligible: set[str], now: datetime.datetime,
                        min_ready: int) -> None:
        """Replace old-revision pods (upstream's rollingUpdate): without surge, delete old pods
        while at most maxUnavailable pods are unavailable, unavailable old pods first; with
        surge, start a new pod next to old ones, at most maxSurge at a time."""
        doomed = set(plan.delete)
        surge, max_unavailable = max_surge_and_unavailable(ds, len(eligible))
        unavailable = 0
        old_available: list[str] = []
        old_unavailable: list[str] = []
        surging = 0
        old_only_nodes: list[str] = []
        for node in sorted(eligible):
            pods = [p for p in by_node.get(node, []) if not meta.deletion_timestamp(p)
                    and meta.name(p) not in doomed]
            new = [p for p in pods if _hash_of(p) == hash_]
            old = [p for p in pods if _hash_of(p) != hash_]
            if not pods:
                unavailable += 1
                continue
            if new and old:
                surging += 1
            available = any(replicaset.is_pod_available(p, min_ready, now) for p in pods)
            if not available:
                unavailable += 1
            if old and not new:
                old_only_nodes.append(node)
                names = [meta.name(p) for p in old]
                if available:
                    old_available.extend(names)
                else:
                    old_unavailable.extend(names)
        if surge > 0:
            for node in old_only_nodes[:max(0, surge - surging)]:
                plan.create_on.append(node)
            return
        plan.delete.extend(old_unavailable)
        budget = max(0, max_unavailable - unavailable)
        plan.delete.extend(old_available[:budget])

    async def _apply(self, key: str, ds: Obj, *, plan: _NodePlan, hash_: str) -> Exception | None:
        """Create and delete as planned, at most `BURST_REPLICAS` each, raising expectations
        first (upstream's syncNodes). Returns the first failure."""
        create_on = plan.create_on[:BURST_REPLICAS]
        delete = list(dict.fromkeys(plan.delete))[:BURST_REPLICAS]
        namespace = meta.namespace(ds)
        # Both at once (upstream's SetExpectations), deletions tracked by pod.
        self.expectations.expect_deletions(key, [f"{namespace}/{n}" for n in delete])
        self.expectations.expectations.raise_expectations(key, add=len(create_on), delete=0)
        template = new_pod_template(ds, revision_hash=hash_)
        controller_ref = podcontrol.new_controller_ref(ds)

        async def create(node: str) -> Exception | None:
            try:
                await self._pod_control.create_pods(
                    namespace, replace_daemon_pod_node_name_affinity(template, node),
                    controller_object=ds, controller_ref=controller_ref)
            except errors.StatusError as exc:
                self.expectations.creation_observed(key)
                if apistatus.has_status_cause(exc, apistatus.NAMESPACE_TERMINATING_CAUSE):
                    return None
                return exc
            return None

        async def remove(name: str) -> Exception | None:
            try:
                await self._pod_control.delete_pod(namespace, name, controller_object=ds)
            except errors.StatusError as exc:
                self.expectations.deletion_observed(key, f"{namespace}/{name}")
                return None if exc.code == 404 else exc
            return None

        results = await asyncio.gather(*(create(n) for n in create_on),
                                       *(remove(n) for n in delete))
        return next((r for r in results if r is not None), None)

    async def _update_status(self, ds: Obj, *, by_node: dict[str, list[Obj]], hash_: str,
                             collision: int, placement: dict[str, tuple[bool, bool]]) -> None:
        """Upstream's updateDaemonSetStatus: counts over nodes that should run the pod and
        those that run it without needing to."""
        now = self._now()
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        desired = scheduled = misscheduled = ready = available = updated = 0
        for name, (should_run, _) in placement.items():
            pods = [p for p in by_node.get(name, [])
                    if not meta.deletion_timestamp(p)]
            if should_run:
                desired += 1
                if pods:
                    scheduled += 1
                    pods.sort(key=lambda p: meta.metadata(p).get("creationTimestamp") or "")
                    pod = pods[0]
                    if podstate.is_pod_ready(pod):
                        ready += 1
                        if replicaset.is_pod_available(pod, min_ready, now):
                            available += 1
                    if any(_hash_of(p) == hash_ for p in pods):
                        updated += 1
            elif pods:
                misscheduled += 1
        status: Obj = {
            "currentNumberScheduled": scheduled, "numberMisscheduled": misscheduled,
            "desiredNumberScheduled": desired, "numberReady": ready,
            "observedGeneration": meta.generation(ds), "updatedNumberScheduled": updated,
            "numberAvailable": available, "numberUnavailable": desired - available}
        if collision:
            status["collisionCount"] = collision
        for omitted in ("numberUnavailable", "updatedNumberScheduled", "numberAvailable"):
            if not status[omitted]:
                del status[omitted]
        old = ds.get("status") or {}
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        if old == status:
            return
        path = rest.resource_path(*DAEMONSETS, namespace=meta.namespace(ds), name=meta.name(ds))
        await history.write_status(self._client, path, cached=ds, status=status)
        if min_ready > 0 and available < ready:
            raise worker.RequeueAfter(float(min_ready))


def _selector(ds: Obj) -> labels.Selector | None:
    try:
        return labels.from_label_selector((ds.get("spec") or {}).get("selector"))
    except errors.StatusError as exc:
        log.error("invalid selector of DaemonSet %s: %s", informer.meta_namespace_key(ds), exc)
        return None


def _hash_of(pod: Obj) -> str | None:
    return meta.labels(pod).get(history.CONTROLLER_REVISION_HASH_LABEL)


def new_daemonset_controller(client: rest.RESTClient, *,
                             informers: informer.SharedInformerFactory,
                             settings: DaemonSetSettings | None = None) -> DaemonSetController:
    """The DaemonSet controller on `informers`, reporting events as `daemonset-controller`."""
    recorder = events.EventRecorder(client, component=CONTROLLER_NAME)
    return DaemonSetController(
        client=client, daemonsets=informers.informer_for(*DAEMONSETS),
        pods=informers.informer_for(*PODS), nodes=informers.informer_for(*NODES),
        revisions=informers.informer_for(*history.CONTROLLER_REVISIONS),
        pod_control=podcontrol.RealPodControl(client, recorder=recorder),
        settings=settings, recorder=recorder)
