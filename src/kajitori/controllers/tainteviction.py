"""The taint eviction controller: pods leave nodes tainted NoExecute that they do not tolerate.

Mirrors pkg/controller/tainteviction/taint_eviction.go (and its timed_workers.go). On every
node change (its NoExecute taints) and pod change (its node, its tolerations), each pod on a
tainted node is looked at:

- a taint no toleration of the pod matches: the pod is deleted at once;
- all tolerated, some with `tolerationSeconds`: the pod is deleted when the smallest of those
  runs out, counted from when the controller first scheduled it (the 300 s the
  DefaultTolerationSeconds admission plugin gives every pod for `not-ready` and `unreachable`
  is what evicts pods from a failed node five minutes after the node lifecycle controller,
  `nodelifecycle.py`, tainted it); a later, sooner deadline replaces a scheduled one;
- all tolerated forever, or the taints gone: a scheduled deletion is cancelled (event
  `TaintManagerEviction`, `Cancelling deletion of Pod ns/name`).

Deleting is: event `TaintManagerEviction` (`Marking for deletion Pod ns/name`), the
`DisruptionTarget` condition (`DeletionByTaintManager`) on the pod's status, then a delete with
the pod's own grace period; five tries.

Departure from upstream: deletions wait in one delaying work queue served by a few workers
rather than a timer and goroutine per pod.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from kajitori.api import errors, meta
from kajitori.api import taints as taintmatching
from kajitori.client import clock as clock_
from kajitori.client import events, informer, rest, workqueue
from kajitori.controllers import worker

Obj = dict[str, Any]

log = logging.getLogger(__name__)

NODES = ("", "v1", "nodes")
PODS = ("", "v1", "pods")
CONTROLLER_NAME = "taint-eviction-controller"
NO_EXECUTE = "NoExecute"
REASON_TAINT_MANAGER_EVICTION = "TaintManagerEviction"
DISRUPTION_TARGET = "DisruptionTarget"
REASON_DELETION_BY_TAINT_MANAGER = "DeletionByTaintManager"
MESSAGE_DELETION_BY_TAINT_MANAGER = "Taint manager: deleting due to NoExecute taint"
DELETE_RETRIES = 5
DELETE_WORKERS = 8
"""Pods deleted at once."""
NODE_NAME_INDEX = "taint-eviction-controller/spec.nodeName"



def matching_tolerations(node_taints: list[Obj], tolerations: list[Obj]) -> list[Obj] | None:
    """The toleration used for each taint, or None when one taint is not tolerated
    (upstream's GetMatchingTolerations)."""
    used = []
    for taint in node_taints:
        found = next((t for t in tolerations if taintmatching.tolerates(t, taint)), None)
        if found is None:
            return None
        used.append(found)
    return used


def min_toleration_seconds(tolerations: list[Obj]) -> float | None:
    """Seconds the pod may stay: the smallest tolerationSeconds (0 or less: none at all);
    None when every toleration is forever."""
    if not tolerations:
        return 0.0
    smallest: float | None = None
    for toleration in tolerations:
        seconds = toleration.get("tolerationSeconds")
        if seconds is None:
            continue
        if seconds <= 0:
            return 0.0
        smallest = seconds if smallest is None else min(smallest, seconds)
    return smallest


def no_execute_taints(node: Obj) -> list[Obj]:
    return [t for t in (node.get("spec") or {}).get("taints") or []
            if t.get("effect") == NO_EXECUTE]


def _node_name_index(pod: Obj) -> list[str]:
    node_name = (pod.get("spec") or {}).get("nodeName")
    return [node_name] if node_name else []


@dataclass
class _Scheduled:
    created_at: float
    fire_at: float


class TaintEvictionController:
    """Deletes pods from NoExecute-tainted nodes per their tolerations (module docstring)."""

    def __init__(self, *, client: rest.RESTClient, nodes: informer.Informer,
                 pods: informer.Informer, clock: clock_.Clock | None = None,
                 recorder: events.EventRecorder | None = None) -> None:
        """`clock` times the deletions (tests pass a FakeClock); `recorder` None makes one
        for the `taint-eviction-controller` component."""
        self._client = client
        self._nodes = nodes
        self._pods = pods
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self.recorder = recorder or events.EventRecorder(client, component=CONTROLLER_NAME)
        self.tainted_nodes: dict[str, list[Obj]] = {}
        self.scheduled: dict[str, _Scheduled] = {}
        self.eviction_queue: workqueue.DelayingQueue[str] = workqueue.DelayingQueue(
            name="taint_eviction", clock=clock)
        self.node_queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="taint_eviction_nodes")
        self.pod_queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="taint_eviction_pods")
        pods.add_indexers({NODE_NAME_INDEX: _node_name_index})
        nodes.add_handlers(on_add=self._node_changed,
                           on_update=lambda _old, new: self._node_changed(new),
                           on_delete=self._node_changed)
        pods.add_handlers(on_add=self._pod_changed, on_update=self._pod_updated,
                          on_delete=self._pod_changed)

    def _node_changed(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        self.node_queue.add(informer.meta_namespace_key(obj))

    def _pod_changed(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        self.pod_queue.add(informer.meta_namespace_key(obj))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
        if old_spec.get("nodeName") != new_spec.get("nodeName") or \
                old_spec.get("tolerations") != new_spec.get("tolerations"):
            self._pod_changed(new)

    async def run(self) -> None:
        try:
            await asyncio.gather(self._nodes.wait_for_sync(), self._pods.wait_for_sync())
            async with asyncio.TaskGroup() as group:
                group.create_task(self.recorder.run())
                group.create_task(worker.run_worker(self.node_queue, self.handle_node_update,
                                                    what="Node"))
                group.create_task(worker.run_worker(self.pod_queue, self.handle_pod_update,
                                                    what="Pod"))
                for _ in range(DELETE_WORKERS):
                    group.create_task(self._eviction_worker())
        finally:
            self.eviction_queue.shut_down()
            self.node_queue.shut_down()
            self.pod_queue.shut_down()

    async def handle_node_update(self, name: str) -> None:
        node = self._nodes.cache.get(name)
        if node is None:
            self.tainted_nodes.pop(name, None)
            return
        taints = no_execute_taints(node)
        if taints == self.tainted_nodes.get(name, []):
            return
        if taints:
            self.tainted_nodes[name] = taints
        else:
            self.tainted_nodes.pop(name, None)
        pods = self._pods.cache.by_index(NODE_NAME_INDEX, name)
        now = self._clock.now()
        for pod in pods:
            self.process_pod_on_node(informer.meta_namespace_key(pod), pod, taints, now=now)

    async def handle_pod_update(self, key: str) -> None:
        pod = self._pods.cache.get(key)
        if pod is None:
            self.cancel_work(key)
            return
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name or node_name not in self.tainted_nodes:
            return
        self.process_pod_on_node(key, pod, self.tainted_nodes[node_name],
                                 now=self._clock.now())

    def process_pod_on_node(self, key: str, pod: Obj, taints: list[Obj], *,
                            now: float) -> None:
        """Schedule, move or cancel the pod's deletion for `taints` (upstream's
        processPodOnNode)."""
        if not taints:
            self.cancel_work(key)
            return
        used = matching_tolerations(taints, (pod.get("spec") or {}).get("tolerations") or [])
        if used is None:
            self.cancel_work(key)
            self._schedule(key, created_at=now, fire_at=now)
            return
        seconds = min_toleration_seconds(used)
        if seconds is None:
            self.cancel_work(key)
            return
        start = now
        existing = self.scheduled.get(key)
        if existing is not None:
            start = existing.created_at
            if start + seconds < now + seconds:
                return  # the deadline already scheduled comes sooner
            self.cancel_work(key)
        self._schedule(key, created_at=start, fire_at=start + seconds)

    def _schedule(self, key: str, *, created_at: float, fire_at: float) -> None:
        self.scheduled[key] = _Scheduled(created_at, fire_at)
        self.eviction_queue.add_after(key, fire_at - self._clock.now())

    def cancel_work(self, key: str) -> None:
        """Drop the pod's scheduled deletion, with an event when there was one."""
        if self.scheduled.pop(key, None) is None:
            return
        namespace, name = informer.split_meta_namespace_key(key)
        self.recorder.event(_pod_ref(namespace, name), events.NORMAL,
                            REASON_TAINT_MANAGER_EVICTION, f"Cancelling deletion of Pod {key}")

    async def _eviction_worker(self) -> None:
        async for key in self.eviction_queue:
            try:
                scheduled = self.scheduled.get(key)
                if scheduled is None:
                    continue
                left = scheduled.fire_at - self._clock.now()
                if left > 0:
                    self.eviction_queue.add_after(key, left)
                    continue
                del self.scheduled[key]
                await self.delete_pod(key)
            finally:
                self.eviction_queue.done(key)

    async def delete_pod(self, key: str) -> None:
        """Mark the pod a DisruptionTarget and delete it; failures are logged after five
        tries (the next node or pod change schedules it again)."""
        namespace, name = informer.split_meta_namespace_key(key)
        log.info("deleting pod %s (%s)", key, CONTROLLER_NAME)
        self.recorder.event(_pod_ref(namespace, name), events.NORMAL,
                            REASON_TAINT_MANAGER_EVICTION, f"Marking for deletion Pod {key}")
        path = rest.resource_path(*PODS, namespace=namespace, name=name)
        for attempt in range(DELETE_RETRIES):
            try:
                await self._add_condition_and_delete(path)
                return
            except errors.StatusError as exc:
                if exc.code == 404:
                    return
                if attempt == DELETE_RETRIES - 1:
                    log.warning("failed to delete pod %s: %s", key, exc)
            except worker.SYNC_FAILURES as exc:
                if attempt == DELETE_RETRIES - 1:
                    log.warning("failed to delete pod %s: %s", key, exc)
            await self._clock.sleep(0.01)

    async def _add_condition_and_delete(self, path: str) -> None:
        pod = await self._client.get(path)
        conditions = (pod.get("status") or {}).get("conditions") or []
        if not any(c.get("type") == DISRUPTION_TARGET and c.get("status") == "True" and
                   c.get("reason") == REASON_DELETION_BY_TAINT_MANAGER for c in conditions):
            await self._client.patch(f"{path}/status", {
                "status": {"conditions": [{
                    "type": DISRUPTION_TARGET, "status": "True",
                    "reason": REASON_DELETION_BY_TAINT_MANAGER,
                    "message": MESSAGE_DELETION_BY_TAINT_MANAGER,
                    "lastTransitionTime": meta.now()}]}},
                patch_type=rest.STRATEGIC_MERGE_PATCH)
        await self._client.delete(path)


def _pod_ref(namespace: str, name: str) -> Obj:
    return {"kind": "Pod", "metadata": {"namespace": namespace, "name": name}}


def new_taint_eviction_controller(client: rest.RESTClient, *,
                                  informers: informer.SharedInformerFactory
                                  ) -> TaintEvictionController:
    """The taint eviction controller on `informers` (upstream's tainteviction.New)."""
    return TaintEvictionController(client=client, nodes=informers.informer_for(*NODES),
                                   pods=informers.informer_for(*PODS))
