"""The pod garbage collector: pods nobody else will ever remove.

Mirrors pkg/controller/podgc/gc_controller.go. Every 20 s it looks at the pod and node caches
and force-deletes (grace period 0):

- terminated pods (Succeeded or Failed) beyond `--terminated-pod-gc-threshold`, evicted ones
  first, then the oldest;
- terminating pods on a node that is NotReady and tainted `node.kubernetes.io/out-of-service`;
- orphaned pods, bound to a node that no longer exists: a node missing from the cache is kept
  in quarantine for 40 s and then confirmed absent through the API (a node informer can lag);
  such pods get the `DisruptionTarget` condition first;
- terminating pods that were never scheduled.

A pod not yet terminal is first marked `Failed` through its status (field manager `PodGC`), so
that its controller counts it as failed rather than vanished.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kajitori.api import errors, meta
from kajitori.client import clock as clock_
from kajitori.client import informer, rest, workqueue
from kajitori.controllers import worker

Obj = dict[str, Any]

log = logging.getLogger(__name__)

PODS = ("", "v1", "pods")
NODES = ("", "v1", "nodes")
GC_CHECK_PERIOD = 20.0
"""Seconds between two looks at the caches (upstream's gcCheckPeriod)."""
QUARANTINE_TIME = 40.0
"""Seconds a node must be missing before its pods count as orphaned (upstream's
quarantineTime)."""
MAX_CONCURRENT_DELETES = 50
"""Terminated pods deleted at once (upstream parallelises over 50 workers)."""
FIELD_MANAGER = "PodGC"
OUT_OF_SERVICE_TAINT = "node.kubernetes.io/out-of-service"
DISRUPTION_TARGET = "DisruptionTarget"
REASON_DELETION_BY_POD_GC = "DeletionByPodGC"
MESSAGE_NODE_GONE = "PodGC: node no longer exists"
TERMINAL_PHASES = ("Succeeded", "Failed")
REASON_EVICTED = "Evicted"


def is_terminated(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def is_evicted(pod: Obj) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Failed" and status.get("reason") == REASON_EVICTED


def eviction_and_creation_order(pod: Obj) -> tuple[bool, str, str]:
    """Sort key: evicted pods first, then oldest first, then by name (upstream's
    byEvictionAndCreationTimestamp; RFC 3339 timestamps sort as strings)."""
    return (not is_evicted(pod), meta.metadata(pod).get("creationTimestamp") or "",
            meta.name(pod))


def is_node_ready(node: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def has_out_of_service_taint(node: Obj) -> bool:
    return any(t.get("key") == OUT_OF_SERVICE_TAINT
               for t in (node.get("spec") or {}).get("taints") or [])


class PodGCController:
    """Deletes terminated, orphaned and stuck terminating pods (see the module docstring)."""

    def __init__(self, *, client: rest.RESTClient, pods: informer.Informer,
                 nodes: informer.Informer, terminated_pod_threshold: int,
                 clock: clock_.Clock | None = None) -> None:
        self._client = client
        self._pods = pods
        self._nodes = nodes
        self._threshold = terminated_pod_threshold
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self.node_queue: workqueue.DelayingQueue[str] = workqueue.DelayingQueue(
            name="orphaned_pods_nodes", clock=clock)

    async def run(self) -> None:
        try:
            await asyncio.gather(self._pods.wait_for_sync(), self._nodes.wait_for_sync())
            while True:
                await self.gc()
                await self._clock.sleep(GC_CHECK_PERIOD)
        finally:
            self.node_queue.shut_down()

    async def gc(self) -> None:
        """One pass over the caches. Failures are logged per pod, never raised: the next
        pass tries again."""
        pods = self._pods.cache.list()
        if self._threshold > 0:
            await self.gc_terminated(pods)
        await self.gc_terminating(pods)
        await self.gc_orphaned(pods)
        await self.gc_unscheduled_terminating(pods)

    async def gc_terminated(self, pods: list[Obj]) -> None:
        terminated = [p for p in pods if is_terminated(p)]
        delete_count = len(terminated) - self._threshold
        if delete_count <= 0:
            return
        log.info("garbage collecting %d pods that are terminated", delete_count)
        terminated.sort(key=eviction_and_creation_order)
        limit = asyncio.Semaphore(MAX_CONCURRENT_DELETES)

        async def delete(pod: Obj) -> None:
            async with limit:
                await self._mark_failed_and_delete(pod)

        await asyncio.gather(*(delete(p) for p in terminated[:delete_count]))

    async def gc_terminating(self, pods: list[Obj]) -> None:
        """Terminating pods on NotReady nodes marked out of service: their kubelet will not
        finish them."""
        for pod in pods:
            if not meta.deletion_timestamp(pod) or is_terminated(pod):
                continue
            node = self._nodes.cache.get((pod.get("spec") or {}).get("nodeName") or "")
            if node is not None and not is_node_ready(node) and has_out_of_service_taint(node):
                await self._mark_failed_and_delete(pod)

    async def gc_orphaned(self, pods: list[Obj]) -> None:
        existing = set(self._nodes.cache.list_keys())
        for pod in pods:
            node_name = (pod.get("spec") or {}).get("nodeName")
            if node_name and node_name not in existing:
                self.node_queue.add_after(node_name, QUARANTINE_TIME)
        deleted = await self._discover_deleted_nodes(existing)
        if not deleted:
            return
        for pod in pods:
            if (pod.get("spec") or {}).get("nodeName") not in deleted:
                continue
            await self._mark_failed_and_delete(pod, condition={
                "type": DISRUPTION_TARGET, "status": "True",
                "reason": REASON_DELETION_BY_POD_GC, "message": MESSAGE_NODE_GONE,
                "lastTransitionTime": meta.now()})

    async def _discover_deleted_nodes(self, existing: set[str]) -> set[str]:
        """The quarantined node names whose time is up and that the API confirms absent."""
        deleted = set()
        while len(self.node_queue):
            name = await self.node_queue.get()
            self.node_queue.done(name)
            if name in existing:
                continue
            try:
                await self._client.get(rest.resource_path(*NODES, name=name))
            except errors.StatusError as exc:
                if exc.code == 404:
                    deleted.add(name)
                else:
                    log.warning("error while getting node %s: %s", name, exc)
                    self.node_queue.add_after(name, QUARANTINE_TIME)
            except worker.SYNC_FAILURES as exc:
                log.warning("error while getting node %s: %s", name, exc)
                self.node_queue.add_after(name, QUARANTINE_TIME)
        return deleted

    async def gc_unscheduled_terminating(self, pods: list[Obj]) -> None:
        for pod in pods:
            if meta.deletion_timestamp(pod) and not (pod.get("spec") or {}).get("nodeName"):
                await self._mark_failed_and_delete(pod)

    async def _mark_failed_and_delete(self, pod: Obj, *, condition: Obj | None = None) -> None:
        """Mark a pod that is not terminal Failed (adding `condition`), then delete it with a
        zero grace period. Logs failures; a pod already gone is no failure."""
        namespace, name = meta.namespace(pod), meta.name(pod)
        log.info("PodGC is force deleting Pod %s/%s", namespace, name)
        path = rest.resource_path(*PODS, namespace=namespace, name=name)
        try:
            if not is_terminated(pod):
                status: Obj = {"phase": "Failed"}
                if condition is not None:
                    status["conditions"] = [condition]
                await self._client.request(
                    "PATCH", f"{path}/status", params={"fieldManager": FIELD_MANAGER},
                    body={"status": status}, content_type=rest.STRATEGIC_MERGE_PATCH)
            await self._client.delete(path, options={
                "kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0})
        except errors.StatusError as exc:
            if exc.code != 404:
                log.warning("failed to delete pod %s/%s: %s", namespace, name, exc)
        except worker.SYNC_FAILURES as exc:
            log.warning("failed to delete pod %s/%s: %s", namespace, name, exc)
