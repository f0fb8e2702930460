"""The garbage collector: dependents follow their owners out, as ownerReferences say.

Mirrors pkg/controller/garbagecollector/garbagecollector.go (the graph is `graphbuilder.py`).
Two queues of graph nodes, each with its workers:

- attempt to delete (`attempt_to_delete_item`): an object whose owners are all gone (or
  themselves waiting in the foreground for it) is deleted, with the propagation its own
  finalizers ask for; references to absent owners are removed from an object that still has a
  live owner; a virtual owner is verified through the API; an owner deleted in the foreground
  (`foregroundDeletion` finalizer) loses that finalizer once no dependent with
  `blockOwnerDeletion` remains.
- attempt to orphan: an owner deleted with the `orphan` finalizer has its reference removed from
  every dependent, then loses that finalizer.

Background deletion needs nothing more: the owner goes at once, and its dependents, now
pointing at an absent owner, are deleted by the first queue. Owners deleted while no collector
ran are found because their dependents' references produce virtual nodes on start.

Resources are found through discovery (those supporting list, watch and delete, except
events, as upstream ignores them), again every 30 s so new ones (CRDs) are collected too.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kajitori.api import errors, meta
from kajitori.client import backoff, informer, rest, workqueue
from kajitori.client import clock as clock_
from kajitori.controllers import discovery, graphbuilder, worker

Obj = dict[str, Any]

log = logging.getLogger(__name__)

IGNORED_RESOURCES = frozenset({("", "events"), ("events.k8s.io", "events")})
"""Never collected (upstream's default ignoredResources): too many, owned by nobody."""
DELETABLE_VERBS = ("delete", "list", "watch")
DISCOVERY_RESYNC_PERIOD = 30.0
"""Seconds between rediscoveries (kube-controller-manager passes 30 s to the GC's Sync)."""
DISCOVERY_RETRY = backoff.Backoff(1.0, cap=30.0)
CONFLICT_RETRIES = 5
"""Read-modify-write attempts of one finalizer or ownerReference change before the item is
requeued (client-go's retry.DefaultBackoff tries five times)."""
ORPHAN = "Orphan"
FOREGROUND = "Foreground"
BACKGROUND = "Background"


class _VirtualDeleteEnqueued(Exception):
    """The item was verified absent and handed back to the graph; nothing to retry."""


class GarbageCollector:
    """Runs the graph builder and the two queues' workers (`workers` each)."""

    def __init__(self, *, client: rest.RESTClient, informers: informer.SharedInformerFactory,
                 workers: int, clock: clock_.Clock | None = None) -> None:
        self._client = client
        self._workers = workers
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self.attempt_to_delete: workqueue.RateLimitingQueue[graphbuilder.Node] = \
            workqueue.RateLimitingQueue(name="garbage_collector_attempt_to_delete", clock=clock)
        self.attempt_to_orphan: workqueue.RateLimitingQueue[graphbuilder.Node] = \
            workqueue.RateLimitingQueue(name="garbage_collector_attempt_to_orphan", clock=clock)
        self.rest_mapper = discovery.RESTMapper()
        self.graph = graphbuilder.GraphBuilder(
            informers=informers, attempt_to_delete=self.attempt_to_delete,
            attempt_to_orphan=self.attempt_to_orphan, ignored_resources=IGNORED_RESOURCES)

    # --- running ----------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._resync_discovery(retry=True)
            async with asyncio.TaskGroup() as group:
                group.create_task(self.graph.run())
                await self.graph.wait_for_sync()
                log.info("all resource monitors have synced; proceeding to collect garbage")
                for _ in range(self._workers):
                    group.create_task(self._attempt_to_delete_worker())
                    group.create_task(worker.run_worker(self.attempt_to_orphan,
                                                        self.attempt_to_orphan_item,
                                                        what="owner to orphan dependents of"))
                group.create_task(self._periodic_discovery())
        finally:
            self.attempt_to_delete.shut_down()
            self.attempt_to_orphan.shut_down()

    async def _resync_discovery(self, *, retry: bool) -> None:
        """Refresh the REST mapper and watch resources that appeared. With `retry`, keep
        trying until discovery answers at all (the collector is useless without it)."""
        delays = backoff.BackoffManager(DISCOVERY_RETRY, reset_after=300.0, clock=self._clock)
        while True:
            try:
                resources = await discovery.server_resources(self._client)
                break
            except discovery.GroupDiscoveryFailed as exc:
                log.warning("garbage collector: %s", exc)  # collect what can be seen
                resources = exc.resources
                break
            except backoff.RETRIABLE as exc:
                if not retry:
                    log.warning("garbage collector: discovery failed: %s", exc)
                    return
                log.warning("garbage collector: discovery failed, will retry: %s", exc)
                await self._clock.sleep(delays.delay(exc))
        self.rest_mapper.reset(resources)
        deletable = discovery.supporting_all_verbs(discovery.preferred(resources),
                                                   DELETABLE_VERBS)
        added = self.graph.sync_monitors(deletable)
        if added:
            log.info("garbage collector: watching %d more resources", added)

    async def _periodic_discovery(self) -> None:
        while True:
            await self._clock.sleep(DISCOVERY_RESYNC_PERIOD)
            await self._resync_discovery(retry=False)

    async def _attempt_to_delete_worker(self) -> None:
        """Upstream's attemptToDeleteWorker: like `worker.run_worker`, but a virtual node that
        exists and is still unobserved is requeued with backoff without being an error."""
        async for node in self.attempt_to_delete:
            try:
                requeue = await self.process_attempt_to_delete(node)
            except worker.SYNC_FAILURES as exc:
                level = logging.DEBUG if isinstance(exc, discovery.RESTMappingError) \
                    else logging.WARNING
                log.log(level, "error syncing item %s: %s", node.identity, exc)
                requeue = True
            if requeue:
                self.attempt_to_delete.add_rate_limited(node)
            else:
                self.attempt_to_delete.forget(node)
            self.attempt_to_delete.done(node)

    async def process_attempt_to_delete(self, node: graphbuilder.Node) -> bool:
        """One attempt; returns whether to requeue the node (with backoff)."""
        if node.virtual and self.graph.uid_to_node.get(node.identity.uid) is not node:
            return False  # observed deleted or replaced meanwhile
        try:
            await self.attempt_to_delete_item(node)
        except _VirtualDeleteEnqueued:
            return False
        return node.virtual  # exists but not yet seen by a monitor: look again later

    # --- attempt to delete ------------------------------------------------------------------

    async def attempt_to_delete_item(self, item: graphbuilder.Node) -> None:
        """Decide about `item` from the live state of it and its owners (see the module
        docstring). Raises API errors and RESTMappingError for retry."""
        if item.being_deleted and not item.deleting_dependents:
            return  # its deletion is under way and waits for nobody
        latest = await self.get_object(item.identity)
        if latest is None or meta.uid(latest) != item.identity.uid:
            self.graph.enqueue_virtual_delete(item.identity)
            raise _VirtualDeleteEnqueued
        if item.deleting_dependents:
            await self._process_deleting_dependents(item)
            return
        references = meta.owner_references(latest)
        if not references:
            return
        solid, dangling, waiting = await self._classify_references(item, references)
        if solid:
            gone = [str(r.get("uid")) for r in dangling + waiting]
            if gone:
                await self.remove_owner_references(item.identity, gone)
            return
        if waiting and item.dependents:
            # It blocks an owner in the foreground and has dependents of its own: delete it in
            # the foreground too, so its owner waits for the whole subtree. If one of its
            # dependents waits for it in turn, unblock its owners to break the cycle.
            if any(dep.deleting_dependents for dep in item.dependents):
                await self._unblock_owner_references(item.identity)
            await self.delete_object(item.identity, policy=FOREGROUND)
            return
        finalizers = meta.finalizers(latest)
        if graphbuilder.FINALIZER_ORPHAN in finalizers:
            policy = ORPHAN
        elif graphbuilder.FINALIZER_DELETE_DEPENDENTS in finalizers:
            policy = FOREGROUND
        else:
            policy = BACKGROUND
        log.info("deleting %s (owners gone), propagationPolicy=%s", item.identity, policy)
        await self.delete_object(item.identity, policy=policy)

    async def _classify_references(self, item: graphbuilder.Node, references: list[Obj]
                                   ) -> tuple[list[Obj], list[Obj], list[Obj]]:
        """(solid, dangling, waiting): owners that exist, owners absent, owners being deleted
        in the foreground (upstream's classifyReferences)."""
        solid, dangling, waiting = [], [], []
        for ref in references:
            owner = await self._live_owner(ref, item)
            if owner is None:
                dangling.append(ref)
            elif graphbuilder.FINALIZER_DELETE_DEPENDENTS in meta.finalizers(owner) and \
                    meta.deletion_timestamp(owner):
                waiting.append(ref)
            else:
                solid.append(ref)
        return solid, dangling, waiting

    async def _live_owner(self, ref: Obj, item: graphbuilder.Node) -> Obj | None:
        """The owner `ref` names as it is now, or None if absent (upstream's isDangling,
        inverted). Absent owners are remembered. Raises RESTMappingError, API errors."""
        owner = graphbuilder.reference_for(ref, namespace=item.identity.namespace)
        if owner in self.graph.absent_owner_cache:
            return None
        mapping = self.rest_mapper.mapping(owner.api_version, owner.kind)
        if not mapping.namespaced:
            owner = graphbuilder.reference_for(ref, namespace="")
            if owner in self.graph.absent_owner_cache:
                return None
        elif not item.identity.namespace:
            log.warning("%s is cluster-scoped but names namespaced owner %s/%s: treating the "
                        "reference as absent", item.identity, owner.kind, owner.name)
            return None
        live = await self.get_object(owner)
        if live is None or meta.uid(live) != owner.uid:
            self.graph.absent_owner_cache.add(owner)
            return None
        return live

    async def _process_deleting_dependents(self, item: graphbuilder.Node) -> None:
        blocking = item.blocking_dependents()
        if not blocking:
            await self.remove_finalizer(item.identity, graphbuilder.FINALIZER_DELETE_DEPENDENTS)
            return
        for dep in blocking:
            if not dep.deleting_dependents:
                self.attempt_to_delete.add(dep)

    # --- attempt to orphan ------------------------------------------------------------------

    async def attempt_to_orphan_item(self, owner: graphbuilder.Node) -> None:
        """Remove `owner` from its dependents' ownerReferences, then its `orphan` finalizer.
        Raises SyncFailed listing the dependents that could not be changed."""
        failures = []
        for dep in list(owner.dependents):
            try:
                await self.remove_owner_references(dep.identity, [owner.identity.uid])
            except worker.SYNC_FAILURES as exc:
                failures.append(f"orphaning {dep.identity} failed, {exc}")
        if failures:
            raise worker.SyncFailed(f"failed to orphan dependents of owner {owner.identity}, "
                                    f"got errors: [{', '.join(failures)}]")
        await self.remove_finalizer(owner.identity, graphbuilder.FINALIZER_ORPHAN)

    # --- API --------------------------------------------------------------------------------

    def _path(self, identity: graphbuilder.ObjectReference) -> str | None:
        mapping = self.rest_mapper.mapping(identity.api_version, identity.kind)
        if mapping.namespaced and not identity.namespace:
            return None  # a namespaced kind without a namespace names nothing
        return mapping.path(namespace=identity.namespace, name=identity.name)

    async def get_object(self, identity: graphbuilder.ObjectReference) -> Obj | None:
        """The live object at `identity`'s coordinates (whatever its uid), None if none."""
        path = self._path(identity)
        if path is None:
            return None
        try:
            return await self._client.get(path)
        except errors.StatusError as exc:
            if exc.code == 404:
                return None
            raise

    async def delete_object(self, identity: graphbuilder.ObjectReference, *,
                            policy: str) -> None:
        """Delete exactly this object (a uid precondition) with `policy`; gone is fine."""
        path = self._path(identity)
        if path is None:
            return
        with errors.ignore_not_found():
            await self._client.delete(path, options={
                "kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": policy,
                "preconditions": {"uid": identity.uid}})

    async def _patch_metadata(self, identity: graphbuilder.ObjectReference,
                              change: Any) -> None:
        """Read the object, let `change(latest)` compute new metadata fields (or None for no
        change), and merge-patch them guarded by the resourceVersion read; conflicts retry.
        A vanished or replaced object needs no change."""
        path = self._path(identity)
        if path is None:
            return
        for attempt in range(CONFLICT_RETRIES):
            latest = await self.get_object(identity)
            if latest is None or meta.uid(latest) != identity.uid:
                return
            fields = change(latest)
            if fields is None:
                return
            patch = {"metadata": {**fields, "resourceVersion": meta.resource_version(latest)}}
            try:
                await self._client.patch(path, patch, patch_type=rest.MERGE_PATCH)
                return
            except errors.StatusError as exc:
                if exc.code == 404:
                    return
                if exc.code != 409 or attempt == CONFLICT_RETRIES - 1:
                    raise

    async def remove_finalizer(self, identity: graphbuilder.ObjectReference,
                               finalizer: str) -> None:
        def change(latest: Obj) -> Obj | None:
            finalizers = meta.finalizers(latest)
            if finalizer not in finalizers:
                return None
            kept = [f for f in finalizers if f != finalizer]
            return {"finalizers": kept or None}

        await self._patch_metadata(identity, change)

    async def remove_owner_references(self, identity: graphbuilder.ObjectReference,
                                      owner_uids: list[str]) -> None:
        def change(latest: Obj) -> Obj | None:
            refs = meta.owner_references(latest)
            kept = [r for r in refs if r.get("uid") not in owner_uids]
            if len(kept) == len(refs):
                return None
            return {"ownerReferences": kept or None}

        await self._patch_metadata(identity, change)

    async def _unblock_owner_references(self, identity: graphbuilder.ObjectReference) -> None:
        def change(latest: Obj) -> Obj | None:
            refs = meta.owner_references(latest)
            if not any(r.get("blockOwnerDeletion") for r in refs):
                return None
            return {"ownerReferences": [{**r, "blockOwnerDeletion": False}
                                        if r.get("blockOwnerDeletion") else r for r in refs]}

        await self._patch_metadata(identity, change)

