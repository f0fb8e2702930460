"""The scheduler: pop a pod, find it a node, assume it, bind it; report what failed.

Mirrors upstream's `pkg/scheduler/scheduler.go` (informer handlers feeding cache and queue,
`eventhandlers.go`) and `schedule_one.go`:

- scheduling cycle (synchronous, on the loop): PreFilter; Filter over the nodes, starting
  where the last cycle stopped and stopping once `numFeasibleNodesToFind` fit (a pod's
  `nominatedNodeName` is tried first); PreScore/Score over those; the best node (ties at
  random); the pod is assumed onto it in the cache; Reserve plugins run (VolumeBinding assumes
  its volumes);
- binding cycle (a task, so the next pod need not wait): PreBind (VolumeBinding writes and
  waits for its volume bindings), Bind (POST pods/<name>/binding), then
  the `Scheduled` event `Successfully assigned default/x to node-1`; a failed bind forgets the
  assumed pod, runs Unreserve and retries it after a backoff;
- failure: PostFilter (preemption) when no node fits; the pod gets `PodScheduled=False` with
  reason `Unschedulable` (`SchedulerError` for errors) and the FitError's message, and a
  `FailedScheduling` warning event with the same message; then it waits in the queue.

Only pods whose `spec.schedulerName` names one of the profiles are ours; others are left
alone. Assigned pods that have not finished (phase neither Succeeded nor Failed) fill the
cache. The profiles' plugins are built by `config.build_framework`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from kajitori import klog
from kajitori.api import errors, meta
from kajitori.client import clock as clock_
from kajitori.client import events, informer, rest
from kajitori.scheduler import cache as cache_
from kajitori.scheduler import config as config_
from kajitori.scheduler import framework, queue, types
from kajitori.scheduler.framework import ActionType, ClusterEvent, EventResource

Obj = dict[str, Any]

log = logging.getLogger(__name__)

REASON_FAILED_SCHEDULING = "FailedScheduling"
REASON_SCHEDULED = "Scheduled"
REASON_UNSCHEDULABLE = "Unschedulable"
REASON_SCHEDULER_ERROR = "SchedulerError"
POD_SCHEDULED = "PodScheduled"
NO_NODES_AVAILABLE = "no nodes available to schedule pods"
MAX_MESSAGE_LENGTH = 1024
TRUNCATED_SUFFIX = " ..."
MAX_BINDINGS_IN_FLIGHT = 256
"""Binding cycles running at once; the scheduling loop waits when this many are under way."""
TERMINAL_PHASES = ("Succeeded", "Failed")
INFORMED = [("", "v1", "pods"), ("", "v1", "nodes"), ("", "v1", "namespaces"),
            ("", "v1", "services"), ("", "v1", "replicationcontrollers"),
            ("apps", "v1", "replicasets"), ("apps", "v1", "statefulsets"),
            ("", "v1", "persistentvolumes"), ("", "v1", "persistentvolumeclaims"),
            ("storage.k8s.io", "v1", "storageclasses"), ("storage.k8s.io", "v1", "csinodes"),
            ("policy", "v1", "poddisruptionbudgets")]
VOLUME_EVENTS = {("", "persistentvolumes"): EventResource.PERSISTENT_VOLUME,
                 ("", "persistentvolumeclaims"): EventResource.PERSISTENT_VOLUME_CLAIM,
                 ("storage.k8s.io", "storageclasses"): EventResource.STORAGE_CLASS,
                 ("storage.k8s.io", "csinodes"): EventResource.CSI_NODE}
"""Informed storage resources whose changes move pods the volume plugins rejected."""


class NoNodesAvailable(Exception):
    def __str__(self) -> str:
        return NO_NODES_AVAILABLE


class SchedulingError(Exception):
    """A plugin failed (Code.ERROR): the pod is retried after a backoff."""


def truncate_message(message: str) -> str:
    if len(message) <= MAX_MESSAGE_LENGTH:
        return message
    return message[:MAX_MESSAGE_LENGTH - len(TRUNCATED_SUFFIX)] + TRUNCATED_SUFFIX


def is_assigned(pod: Obj) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def node_update_actions(old: Obj, new: Obj) -> ActionType:
    """Which node changes an update carries (upstream's nodeSchedulingPropertiesChange)."""
    actions = ActionType(0)
    if (old.get("status") or {}).get("allocatable") != (new.get("status") or {}).get(
            "allocatable"):
        actions |= ActionType.UPDATE_NODE_ALLOCATABLE
    if meta.labels(old) != meta.labels(new):
        actions |= ActionType.UPDATE_NODE_LABEL
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    if old_spec.get("taints") != new_spec.get("taints") or \
            bool(old_spec.get("unschedulable")) != bool(new_spec.get("unschedulable")):
        actions |= ActionType.UPDATE_NODE_TAINT
    if [(c.get("type"), c.get("status")) for c in (old.get("status") or {}).get(
            "conditions") or []] != [(c.get("type"), c.get("status"))
                                     for c in (new.get("status") or {}).get("conditions") or []]:
        actions |= ActionType.UPDATE_NODE_CONDITION
    return actions


@dataclass
class Result:
    node_name: str
    evaluated_nodes: int
    feasible_nodes: int


class Scheduler:
    """One scheduler over one API client: informers, cache, queue, one framework per
    profile. `run()` schedules until cancelled; the handlers are public for tests that seed
    the informers' state by hand."""

    def __init__(self, client: rest.RESTClient | None, *,
                 configuration: config_.SchedulerConfiguration | None = None,
                 clock: clock_.Clock | None = None, rng: random.Random | None = None,
                 lister: Callable[[str, str, str], list[Obj]] | None = None) -> None:
        """`client` None builds a scheduler that cannot bind or report (tests of the cycle);
        `lister(group, plural, namespace)` lists Services and controllers for the default
        spread constraints (None: the scheduler's own informers once running)."""
        self.client = client
        self.configuration = configuration or config_.SchedulerConfiguration()
        self._clock = clock or clock_.LoopClock()
        self._rng = rng or random.Random()
        self.informers = informer.SharedInformerFactory(client) if client is not None else None
        self.cache = cache_.Cache(namespace_labels=self._namespace_labels)
        self.recorders: dict[str, events.EventRecorder] = {}
        self.frameworks: dict[str, framework.Framework] = {}
        self._lister = lister or self._list_from_informers
        self._nominator = queue.Nominator()
        for profile in self.configuration.profiles:
            recorder = events.EventRecorder(client, component=profile.scheduler_name) \
                if client is not None else None
            if recorder is not None:
                self.recorders[profile.scheduler_name] = recorder
            seed = config_.HandleSeed(cache=self.cache, client=client, recorder=recorder,
                                      nominator=self._nominator, lister=self._lister,
                                      getter=self._get_from_informers)
            self.frameworks[profile.scheduler_name] = config_.build_framework(profile, seed)
        first = next(iter(self.frameworks.values()))
        events_by_plugin: dict[str, list[ClusterEvent]] = {}
        for fw in self.frameworks.values():
            events_by_plugin.update(fw.events_by_plugin())
        self.queue = queue.SchedulingQueue(
            less=first.queue_sort.less, clock=self._clock,
            pod_initial_backoff=self.configuration.pod_initial_backoff_seconds,
            pod_max_backoff=self.configuration.pod_max_backoff_seconds,
            events_by_plugin=events_by_plugin)
        self.queue.nominator = self._nominator
        self.next_start_node_index = 0
        self._pods: dict[str, Obj] = {}
        self._bindings: asyncio.Semaphore | None = None
        self._group: asyncio.TaskGroup | None = None

    # --- informer plumbing ------------------------------------------------------------------

    def _informer(self, group: str, version: str, plural: str) -> informer.Informer | None:
        if self.informers is None:
            return None
        return self.informers.informer_for(group, version, plural)

    def _namespace_labels(self, namespace: str) -> dict[str, str] | None:
        namespaces = self._informer("", "v1", "namespaces")
        if namespaces is None:
            return None
        found = namespaces.cache.get(namespace)
        return meta.labels(found) if found is not None else None

    def _list_from_informers(self, group: str, plural: str, namespace: str) -> list[Obj]:
        found = self._informer(group, "v1", plural)
        return found.cache.list(namespace) if found is not None else []

    def _get_from_informers(self, group: str, plural: str, namespace: str, name: str
                            ) -> Obj | None:
        found = self._informer(group, "v1", plural)
        if found is None:
            return None
        return found.cache.get(f"{namespace}/{name}" if namespace else name)

    def register_handlers(self) -> None:
        """Ask for the informers and connect their handlers (upstream's
        addAllEventHandlers)."""
        for group, version, plural in INFORMED:
            self._informer(group, version, plural)
        pods, nodes = self._informer("", "v1", "pods"), self._informer("", "v1", "nodes")
        namespaces = self._informer("", "v1", "namespaces")
        if pods is None or nodes is None or namespaces is None:
            raise RuntimeError("register_handlers needs a client")
        nodes.add_handlers(on_add=self.on_node_add, on_update=self.on_node_update,
                           on_delete=self.on_node_delete)
        pods.add_handlers(on_add=self.on_pod_add, on_update=self.on_pod_update,
                          on_delete=self.on_pod_delete)
        namespaces.add_handlers(on_update=self.on_namespace_update)
        for (group, plural), resource in VOLUME_EVENTS.items():
            storage = self._informer(group, "v1", plural)
            if storage is not None:
                storage.add_handlers(**self.storage_handlers(resource))

    def storage_handlers(self, resource: EventResource) -> dict[str, Callable[..., None]]:
        """Handlers that move pods on a storage object's add or update (upstream's
        addAllEventHandlers for the resources the volume plugins register)."""
        def on_add(_obj: Obj) -> None:
            self.queue.move_all_to_active_or_backoff(ClusterEvent(resource, ActionType.ADD))

        def on_update(old: Obj, new: Obj) -> None:
            if meta.resource_version(old) != meta.resource_version(new):
                self.queue.move_all_to_active_or_backoff(ClusterEvent(resource,
                                                                      ActionType.UPDATE))

        def on_delete(_obj: Obj | informer.DeletedFinalStateUnknown) -> None:
            self.queue.move_all_to_active_or_backoff(ClusterEvent(resource, ActionType.DELETE))

        return {"on_add": on_add, "on_update": on_update, "on_delete": on_delete}

    def responsible_for(self, pod: Obj) -> bool:
        name = (pod.get("spec") or {}).get("schedulerName") or types.DEFAULT_SCHEDULER_NAME
        return name in self.frameworks

    def on_node_add(self, node: Obj) -> None:
        self.cache.add_node(node)
        self.queue.move_all_to_active_or_backoff(ClusterEvent(EventResource.NODE,
                                                              ActionType.ADD))

    def on_node_update(self, old: Obj, new: Obj) -> None:
        if meta.resource_version(old) == meta.resource_version(new):
            return
        self.cache.add_node(new)
        actions = node_update_actions(old, new)
        if actions:
            self.queue.move_all_to_active_or_backoff(ClusterEvent(EventResource.NODE, actions))

    def on_node_delete(self, node: Obj | informer.DeletedFinalStateUnknown) -> None:
        obj = node.obj if isinstance(node, informer.DeletedFinalStateUnknown) else node
        self.cache.remove_node(meta.name(obj))
        self.queue.move_all_to_active_or_backoff(ClusterEvent(EventResource.NODE,
                                                              ActionType.DELETE))

    def on_namespace_update(self, old: Obj, new: Obj) -> None:
        if meta.labels(old) != meta.labels(new):
            self.cache.namespaces_changed()
            self.queue.move_all_to_active_or_backoff(ClusterEvent(EventResource.NAMESPACE,
                                                                  ActionType.UPDATE))

    def on_pod_add(self, pod: Obj) -> None:
        key = informer.meta_namespace_key(pod)
        self._pods[key] = pod
        if is_assigned(pod):
            if not is_terminal(pod):
                self.queue.delete(key)
                self.cache.add_pod(types.pod_info(pod), pod["spec"]["nodeName"])
                self.queue.move_all_to_active_or_backoff(
                    ClusterEvent(EventResource.ASSIGNED_POD, ActionType.ADD))
        elif self.responsible_for(pod) and not is_terminal(pod):
            self.queue.add(types.pod_info(pod))

    def on_pod_update(self, old: Obj, new: Obj) -> None:
        if meta.resource_version(old) == meta.resource_version(new):
            return
        key = informer.meta_namespace_key(new)
        self._pods[key] = new
        if not is_assigned(new):
            if self.responsible_for(new) and not is_terminal(new):
                self.queue.update(types.pod_info(new))
            return
        if is_terminal(new):
            self._forget_assigned(key)
            return
        if not is_assigned(old) or key not in self.cache.pods or self.cache.is_assumed(key):
            self.queue.delete(key)
            self.cache.add_pod(types.pod_info(new), new["spec"]["nodeName"])
            if not is_assigned(old):
                return
        cached, _slot = self.cache.pods[key]
        if meta.labels(old) == meta.labels(new) and old.get("spec") == new.get("spec") and \
                meta.deletion_timestamp(old) == meta.deletion_timestamp(new):
            cached.pod = new  # status only: nothing the scheduler counts changed
            return
        updated = types.pod_info(new)
        self.cache.add_pod(updated, new["spec"]["nodeName"])
        actions = ActionType(0)
        if meta.labels(old) != meta.labels(new):
            actions |= ActionType.UPDATE_POD_LABEL
        if any(updated.requests.get(r, 0) < v for r, v in cached.requests.items()):
            actions |= ActionType.UPDATE_POD_SCALE_DOWN
        if actions:
            self.queue.move_all_to_active_or_backoff(
                ClusterEvent(EventResource.ASSIGNED_POD, actions))

    def on_pod_delete(self, pod: Obj | informer.DeletedFinalStateUnknown) -> None:
        key = informer.meta_namespace_key(pod)
        self._pods.pop(key, None)
        self.queue.delete(key)
        self._forget_assigned(key)

    def _forget_assigned(self, key: str) -> None:
        if self.cache.remove_pod(key) is not None:
            self.queue.move_all_to_active_or_backoff(
                ClusterEvent(EventResource.ASSIGNED_POD, ActionType.DELETE))

    # --- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Watch, then schedule until cancelled (upstream's Scheduler.Run)."""
        if self.informers is None:
            raise RuntimeError("Scheduler.run needs a client")
        self.register_handlers()
        async with asyncio.TaskGroup() as group:
            self._group = group
            group.create_task(self.informers.run())
            for recorder in self.recorders.values():
                group.create_task(recorder.run())
            group.create_task(self.queue.run())
            await self.informers.wait_for_cache_sync()
            log.info("scheduler caches synced: %d nodes, %d assigned pods",
                     self.cache.node_count, len(self.cache.pods))
            group.create_task(self.schedule_loop())

    async def schedule_loop(self) -> None:
        self._bindings = asyncio.Semaphore(MAX_BINDINGS_IN_FLIGHT)
        while True:
            info = await self.queue.pop()
            await self.schedule_one(info)
            await asyncio.sleep(0)  # let watch events and bindings in between pods

    def _current(self, key: str) -> Obj | None:
        return self._pods.get(key) if self.informers is not None else None

    async def schedule_one(self, info: queue.QueuedPodInfo) -> None:
        """One pod's scheduling cycle; its binding cycle runs as a task."""
        pod = info.pod
        fw = self.frameworks.get(pod.scheduler_name)
        if fw is None or pod.terminating or self.cache.is_assumed(pod.key):
            self.queue.done(pod.key)
            return
        cycle = self.queue.scheduling_cycle
        state: framework.CycleState = {}
        try:
            result = self.schedule_pod(fw, state, pod)
        except framework.FitError as fit:
            nominated = None
            if fw.post_filter:
                nominated, status = await fw.run_post_filter(state, pod, fit.diagnosis)
                fit.diagnosis.post_filter_msg = status.message
            info.unschedulable_plugins = set(fit.diagnosis.unschedulable_plugins)
            await self.handle_failure(fw, info, cycle, reason=REASON_UNSCHEDULABLE,
                                      message=str(fit), nominated=nominated)
            return
        except (NoNodesAvailable, SchedulingError) as exc:
            info.unschedulable_plugins = set()
            await self.handle_failure(fw, info, cycle, reason=REASON_SCHEDULER_ERROR,
                                      message=str(exc), nominated=None)
            return
        self.queue.nominator.delete_nominated(pod.key)
        self.cache.assume_pod(pod, result.node_name)
        reserved = fw.run_reserve(state, pod, result.node_name)
        if reserved is not None:
            fw.run_unreserve(state, pod, result.node_name)
            self.cache.forget_pod(pod.key)
            info.unschedulable_plugins = {reserved.plugin} if reserved.is_rejected else set()
            await self.handle_failure(fw, info, cycle, reason=REASON_UNSCHEDULABLE
                                      if reserved.is_rejected else REASON_SCHEDULER_ERROR,
                                      message=f'running Reserve plugin "{reserved.plugin}": '
                                              f"{reserved.message}", nominated=None)
            return
        if self._bindings is None or self._group is None:
            await self.binding_cycle(fw, state, info, result.node_name, cycle)
            return
        await self._bindings.acquire()
        self._group.create_task(self._bind_released(fw, state, info, result.node_name, cycle))

    async def _bind_released(self, fw: framework.Framework, state: framework.CycleState,
                             info: queue.QueuedPodInfo, node_name: str, cycle: int) -> None:
        try:
            await self.binding_cycle(fw, state, info, node_name, cycle)
        finally:
            if self._bindings is not None:
                self._bindings.release()

    async def binding_cycle(self, fw: framework.Framework, state: framework.CycleState,
                            info: queue.QueuedPodInfo, node_name: str, cycle: int) -> None:
        pod = info.pod
        failed_at = "PreBind"
        try:
            status = await fw.run_pre_bind(state, pod, node_name)
            if status is None:
                failed_at = "Bind"
                status = await fw.run_bind(state, pod, node_name)
        except (errors.StatusError, OSError, TimeoutError) as exc:
            status = framework.Status(framework.Code.ERROR, (str(exc),))
        if status is None:
            self.queue.done(pod.key)
            log.log(klog.level(2), "Successfully bound pod to node",
                    extra=klog.kv(pod=klog.kref(pod.namespace, pod.name), node=node_name))
            recorder = self.recorders.get(fw.profile_name)
            if recorder is not None:
                recorder.event(pod.pod, events.NORMAL, REASON_SCHEDULED,
                               f"Successfully assigned {pod.namespace}/{pod.name} to "
                               f"{node_name}")
            return
        fw.run_unreserve(state, pod, node_name)
        self.cache.forget_pod(pod.key)
        info.unschedulable_plugins = set()
        plugin = status.plugin or (fw.bind[0].name if fw.bind else "")
        await self.handle_failure(fw, info, cycle, reason=REASON_SCHEDULER_ERROR,
                                  message=f'running {failed_at} plugin "{plugin}": '
                                          f"{status.message}", nominated=None)

    def schedule_pod(self, fw: framework.Framework, state: framework.CycleState,
                     pod: types.PodInfo) -> Result:
        """The scheduling algorithm (upstream's schedulePod). Raises FitError,
        NoNodesAvailable or SchedulingError."""
        cache = self.cache
        cache.start_cycle()
        num_all = cache.node_count
        if num_all == 0:
            raise NoNodesAvailable
        diagnosis = framework.Diagnosis()
        names, status = fw.run_pre_filter(state, pod)
        if status is not None:
            if not status.is_rejected:
                raise SchedulingError(f'running PreFilter plugin "{status.plugin}": '
                                      f"{status.message}")
            diagnosis.pre_filter_msg = status.message
            diagnosis.absent_status = status
            diagnosis.unschedulable_plugins.add(status.plugin)
            raise framework.FitError(pod, num_all, diagnosis)
        all_slots = cache.live_slots()
        if names is not None:
            slots = np.asarray(sorted(cache.by_name[n] for n in names
                                      if n in cache.by_name and cache.live[cache.by_name[n]]),
                               dtype=np.int64)
            plugins = sorted(state.get("framework/restricting-plugins", []))
            diagnosis.absent_status = framework.unresolvable(
                f"node(s) didn't satisfy plugin(s) [{' '.join(plugins)}]")
            diagnosis.unschedulable_plugins.update(plugins)
        else:
            slots = framework.rotate(all_slots, self.next_start_node_index)
        nominated = (pod.pod.get("status") or {}).get("nominatedNodeName")
        if nominated and nominated in cache.by_name and cache.live[cache.by_name[nominated]]:
            passed, _ = fw.run_filter(state, pod, np.asarray([cache.by_name[nominated]]))
            if len(passed):
                return Result(nominated, 1, 1)
        passed, rejected = fw.run_filter(state, pod, slots)
        percentage = fw.percentage_of_nodes_to_score
        if percentage is None:
            percentage = self.configuration.percentage_of_nodes_to_score
        to_find = framework.num_feasible_nodes_to_find(percentage, num_all)
        processed = len(slots)
        if len(passed) > to_find:
            last = passed[to_find - 1]
            processed = int(np.flatnonzero(slots == last)[0]) + 1
            passed = passed[:to_find]
        if names is None and len(all_slots):
            self.next_start_node_index = (self.next_start_node_index + processed) % \
                len(all_slots)
        if not len(passed):
            diagnosis.groups = rejected
            for _slots, st in rejected:
                if st.code == framework.Code.ERROR:
                    raise SchedulingError(f'running "{st.plugin}" filter plugin: '
                                          f"{st.message}")
                diagnosis.unschedulable_plugins.add(st.plugin)
            raise framework.FitError(pod, num_all, diagnosis)
        if len(passed) == 1:
            return Result(cache.node_info(int(passed[0])).name, processed, 1)
        scores = fw.run_score(state, pod, passed)
        best = framework.select_host(passed, scores, self._rng)
        return Result(cache.node_info(best).name, processed, len(passed))

    async def handle_failure(self, fw: framework.Framework, info: queue.QueuedPodInfo,
                             cycle: int, *, reason: str, message: str,
                             nominated: str | None) -> None:
        """upstream's handleSchedulingFailure: event, PodScheduled=False, requeue."""
        pod = info.pod
        message = truncate_message(message)
        current = self._current(pod.key)
        if self.informers is not None and (current is None or is_assigned(current)):
            self.queue.done(pod.key)  # gone, or bound meanwhile: nothing to retry
            return
        if nominated:
            self.queue.nominator.add_nominated(pod, nominated)
        self.queue.add_unschedulable_if_not_present(info, cycle)
        recorder = self.recorders.get(fw.profile_name)
        if recorder is not None:
            recorder.event(pod.pod, events.WARNING, REASON_FAILED_SCHEDULING, message)
        if self.client is not None:
            await self._update_pod_status(current or pod.pod, reason=reason, message=message,
                                          nominated=nominated)

    async def _update_pod_status(self, pod: Obj, *, reason: str, message: str,
                                 nominated: str | None) -> None:
        status = pod.get("status") or {}
        old = next((c for c in status.get("conditions") or []
                    if c.get("type") == POD_SCHEDULED), None)
        unchanged = old is not None and old.get("status") == "False" and \
            old.get("reason") == reason and old.get("message") == message
        if unchanged and (not nominated or status.get("nominatedNodeName") == nominated):
            return
        transition = old.get("lastTransitionTime") if old is not None and \
            old.get("status") == "False" else meta.now()
        patch: Obj = {"status": {"conditions": [{
            "type": POD_SCHEDULED, "status": "False", "lastProbeTime": None,
            "lastTransitionTime": transition, "reason": reason, "message": message}]}}
        if nominated:
            patch["status"]["nominatedNodeName"] = nominated
        path = rest.resource_path("", "v1", "pods", namespace=meta.namespace(pod),
                                  name=meta.name(pod), subresource="status")
        try:
            if self.client is not None:
                await self.client.patch(path, patch, patch_type=rest.STRATEGIC_MERGE_PATCH)
        except errors.StatusError as exc:
            if exc.code != 404:
                log.warning("updating the status of pod %s failed: %s", meta.name(pod), exc)
