"""The garbage collector's view of the cluster: who owns whom, kept current by informers.

Mirrors pkg/controller/garbagecollector/graph_builder.go and graph.go. One monitor (a shared
informer) per resource that supports list, watch and delete; their handlers only queue events,
which `run()` applies to the graph one at a time: a node per object UID with its
ownerReferences and its dependents. An owner referenced before it is seen gets a *virtual*
node, which is handed to the collector to verify through the API: that is how dependents of
owners deleted while the controller was down are found on start. The builder decides nothing
itself; it puts nodes on the collector's queues:

- `attempt_to_delete`: a dependent whose owner may be gone, a virtual owner to verify, an
  owner in foreground deletion whose blocking dependents changed;
- `attempt_to_orphan`: an owner being deleted with the `orphan` finalizer.

The collector's verdicts that need the graph changed (an owner verified absent) come back as
virtual delete events through `enqueue_virtual_delete`.

Departure from upstream: a dependent whose ownerReference points a cluster-scoped object at a
namespaced owner is not reported with an `OwnerRefInvalidNamespace` event; its reference is
treated as absent (dangling), which is upstream's verdict too.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kajitori.api import meta
from kajitori.client import informer, workqueue
from kajitori.controllers import discovery

Obj = dict[str, Any]

log = logging.getLogger(__name__)

FINALIZER_ORPHAN = "orphan"
FINALIZER_DELETE_DEPENDENTS = "foregroundDeletion"
ABSENT_OWNER_CACHE_SIZE = 500
"""Owners verified absent, remembered so their many dependents need one lookup (upstream's
LRU of 500)."""


@dataclass(frozen=True)
class ObjectReference:
    """An object's coordinates in the graph: its ownerReference fields and namespace
    (upstream's objectReference). `namespace` is `""` for cluster-scoped objects."""

    api_version: str
    kind: str
    name: str
    uid: str
    namespace: str = ""

    @property
    def group(self) -> str:
        return meta.split_api_version(self.api_version)[0]

    def __str__(self) -> str:
        return (f"[{self.api_version}/{self.kind}, namespace: {self.namespace}, "
                f"name: {self.name}, uid: {self.uid}]")


def reference_for(ref: Obj, *, namespace: str) -> ObjectReference:
    """The coordinates an ownerReference names, in its dependent's `namespace`."""
    return ObjectReference(api_version=str(ref.get("apiVersion", "")),
                           kind=str(ref.get("kind", "")), name=str(ref.get("name", "")),
                           uid=str(ref.get("uid", "")), namespace=namespace)


def matches_coordinates(ref: ObjectReference, other: ObjectReference) -> bool:
    """Same object, as far as references can tell: uid, name, kind and group (versions of one
    group name the same object) and namespace (upstream's ownerReferenceMatchesCoordinates
    plus the namespace check of partitionDependents)."""
    return (ref.uid, ref.name, ref.kind, ref.group, ref.namespace) == \
        (other.uid, other.name, other.kind, other.group, other.namespace)


@dataclass(eq=False)
class Node:
    """One object in the graph. Nodes compare by identity: the queues hold them."""

    identity: ObjectReference
    owners: list[Obj] = field(default_factory=list)
    """The object's ownerReferences as last observed."""
    dependents: set[Node] = field(default_factory=set)
    virtual: bool = False
    """Known only from a dependent's reference; not (yet) observed by a monitor."""
    being_deleted: bool = False
    deleting_dependents: bool = False
    """Being deleted in the foreground: waits for its blocking dependents to go."""

    def blocking_dependents(self) -> list[Node]:
        """Dependents whose reference to this node has blockOwnerDeletion set."""
        return [dep for dep in self.dependents
                if any(ref.get("uid") == self.identity.uid and ref.get("blockOwnerDeletion")
                       for ref in dep.owners)]

    def __repr__(self) -> str:
        return f"Node{self.identity}{' (virtual)' if self.virtual else ''}"


ADD, UPDATE, DELETE = "add", "update", "delete"


@dataclass(frozen=True)
class Event:
    """A change to apply to the graph: from a monitor, or a virtual delete from the
    collector (then `obj` holds only the verified-absent coordinates)."""

    type: str
    obj: Obj
    old: Obj | None = None
    identity: ObjectReference | None = None
    """For virtual deletes: the coordinates verified absent."""


class AbsentOwnerCache:
    """A bounded LRU of owner coordinates verified absent."""

    def __init__(self, size: int = ABSENT_OWNER_CACHE_SIZE) -> None:
        self._size = size
        self._entries: collections.OrderedDict[ObjectReference, None] = \
            collections.OrderedDict()

    def add(self, ref: ObjectReference) -> None:
        self._entries[ref] = None
        self._entries.move_to_end(ref)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def __contains__(self, ref: object) -> bool:
        return ref in self._entries


def _being_deleted(obj: Obj) -> bool:
    return bool(meta.deletion_timestamp(obj))


def _waiting_for(obj: Obj | None, finalizer: str) -> bool:
    return obj is not None and _being_deleted(obj) and finalizer in meta.finalizers(obj)


class GraphBuilder:
    """The dependency graph and its monitors. Only `run()` changes the graph; the
    collector's workers read it between their awaits (one event loop, no locks needed)."""

    def __init__(self, *, informers: informer.SharedInformerFactory,
                 attempt_to_delete: workqueue.RateLimitingQueue[Node],
                 attempt_to_orphan: workqueue.RateLimitingQueue[Node],
                 ignored_resources: frozenset[tuple[str, str]]) -> None:
        self._informers = informers
        self._attempt_to_delete = attempt_to_delete
        self._attempt_to_orphan = attempt_to_orphan
        self._ignored = ignored_resources
        self.uid_to_node: dict[str, Node] = {}
        self.absent_owner_cache = AbsentOwnerCache()
        self._monitors: dict[tuple[str, str, str], informer.Informer] = {}
        self._changes: asyncio.Queue[Event] = asyncio.Queue()

    # --- monitors ---------------------------------------------------------------------------

    def sync_monitors(self, resources: Iterable[discovery.APIResource]) -> int:
        """Start watching every resource not watched yet (ignored ones excepted); returns how
        many were added. Monitors are never removed: an informer on a vanished resource
        retries quietly until it comes back."""
        added = 0
        for resource in resources:
            gvr = (resource.group, resource.version, resource.name)
            if gvr in self._monitors or (resource.group, resource.name) in self._ignored:
                continue
            monitor = self._informers.informer_for(*gvr)
            self._add_handlers(monitor, api_version=resource.api_version, kind=resource.kind)
            self._monitors[gvr] = monitor
            added += 1
        return added

    def _add_handlers(self, monitor: informer.Informer, *, api_version: str, kind: str) -> None:
        def on_add(obj: Obj) -> None:
            self._queue(ADD, obj, api_version, kind)

        def on_update(old: Obj, new: Obj) -> None:
            self._queue(UPDATE, new, api_version, kind, old=old)

        def on_delete(obj: Obj | informer.DeletedFinalStateUnknown) -> None:
            self._queue(DELETE, obj, api_version, kind)

        monitor.add_handlers(on_add=on_add, on_update=on_update, on_delete=on_delete)

    def is_synced(self) -> bool:
        return all(m.has_synced() for m in self._monitors.values())

    async def wait_for_sync(self) -> None:
        for monitor in list(self._monitors.values()):
            await monitor.wait_for_sync()

    def _queue(self, type_: str, obj: Obj | informer.DeletedFinalStateUnknown, api_version: str,
               kind: str, *, old: Obj | None = None) -> None:
        if isinstance(obj, informer.DeletedFinalStateUnknown):
            obj = obj.obj
        if old is not None and meta.resource_version(old) == meta.resource_version(obj):
            return  # a resync: nothing changed
        # Lists label items with their kind; watch events carry it; set it either way, as
        # the graph's identities need it.
        typed = obj if obj.get("kind") == kind and obj.get("apiVersion") == api_version \
            else {**obj, "apiVersion": api_version, "kind": kind}
        self._changes.put_nowait(Event(type_, typed, old))

    def enqueue_virtual_delete(self, identity: ObjectReference) -> None:
        """The collector verified `identity` absent: remove it from the graph as if a monitor
        had seen it deleted, and look at its dependents."""
        self._changes.put_nowait(Event(DELETE, {}, identity=identity))

    # --- processing -------------------------------------------------------------------------

    async def run(self) -> None:
        """Apply queued events to the graph until cancelled."""
        while True:
            self.process_event(await self._changes.get())

    def process_pending(self) -> None:
        """Apply every event queued so far (tests drive the builder with this)."""
        while not self._changes.empty():
            self.process_event(self._changes.get_nowait())

    def process_event(self, event: Event) -> None:
        """Upstream's processGraphChanges for one event."""
        if event.identity is not None:
            self._process_virtual_delete(event.identity)
            return
        obj = event.obj
        identity = _identity_of(obj)
        existing = self.uid_to_node.get(identity.uid)
        if event.type == DELETE:
            if existing is not None:
                self._remove_and_requeue(existing, identity)
            return
        if existing is not None and existing.virtual:
            # A virtual owner is observed at last: it is real from now on. Dependents that
            # named it by other coordinates are wrong about it and must be re-verified.
            existing.virtual = False
            if existing.identity != identity:
                for dep in existing.dependents:
                    if not any(matches_coordinates(reference_for(ref, namespace=identity
                                                                 .namespace), identity)
                               for ref in dep.owners if ref.get("uid") == identity.uid):
                        self._attempt_to_delete.add(dep)
                existing.identity = identity
        if existing is None:
            node = Node(identity=identity, owners=list(meta.owner_references(obj)),
                        being_deleted=_being_deleted(obj),
                        deleting_dependents=_waiting_for(obj, FINALIZER_DELETE_DEPENDENTS))
            self.uid_to_node[identity.uid] = node
            self._add_dependent_to_owners(node, node.owners)
            self._process_transitions(None, obj, node)
            return
        new_owners = list(meta.owner_references(obj))
        added, removed, changed = _reference_diffs(existing.owners, new_owners)
        if added or removed or changed:
            self._enqueue_unblocked_owners(removed, changed)
            existing.owners = new_owners
            self._add_dependent_to_owners(existing, added)
            self._remove_dependent_from_owners(existing, removed)
        if _being_deleted(obj):
            existing.being_deleted = True
        self._process_transitions(event.old, obj, existing)

    def _add_dependent_to_owners(self, node: Node, owners: Iterable[Obj]) -> None:
        for ref in owners:
            owner = self.uid_to_node.get(str(ref.get("uid", "")))
            if owner is None:
                # Not seen yet (maybe never will be): a virtual node the collector verifies.
                owner = Node(identity=reference_for(ref, namespace=node.identity.namespace),
                             virtual=True)
                self.uid_to_node[owner.identity.uid] = owner
                owner.dependents.add(node)
                self._attempt_to_delete.add(owner)
            else:
                owner.dependents.add(node)

    def _remove_dependent_from_owners(self, node: Node, owners: Iterable[Obj]) -> None:
        for ref in owners:
            owner = self.uid_to_node.get(str(ref.get("uid", "")))
            if owner is not None:
                owner.dependents.discard(node)

    def _enqueue_unblocked_owners(self, removed: list[Obj], changed: list[tuple[Obj, Obj]]
                                  ) -> None:
        """An owner waiting in the foreground for this dependent may go on once the
        dependent's reference no longer blocks it (removed, or blockOwnerDeletion cleared)."""
        unblocked = [ref for ref in removed if ref.get("blockOwnerDeletion")]
        unblocked += [old for old, new in changed
                      if old.get("blockOwnerDeletion") and not new.get("blockOwnerDeletion")]
        for ref in unblocked:
            owner = self.uid_to_node.get(str(ref.get("uid", "")))
            if owner is not None and owner.deleting_dependents:
                self._attempt_to_delete.add(owner)

    def _process_transitions(self, old: Obj | None, new: Obj, node: Node) -> None:
        if _waiting_for(new, FINALIZER_ORPHAN) and not _waiting_for(old, FINALIZER_ORPHAN):
            log.debug("add %s to the attempt_to_orphan queue", node.identity)
            self._attempt_to_orphan.add(node)
            return
        if _waiting_for(new, FINALIZER_DELETE_DEPENDENTS) and \
                not _waiting_for(old, FINALIZER_DELETE_DEPENDENTS):
            log.debug("add %s and its dependents to the attempt_to_delete queue",
                      node.identity)
            node.deleting_dependents = True
            for dep in node.dependents:
                self._attempt_to_delete.add(dep)
            self._attempt_to_delete.add(node)

    def _remove_and_requeue(self, node: Node, identity: ObjectReference) -> None:
        """Drop `node` from the graph; its dependents may now be orphans, and owners waiting
        in the foreground may now be free."""
        self.uid_to_node.pop(node.identity.uid, None)
        self._remove_dependent_from_owners(node, node.owners)
        if node.dependents:
            self.absent_owner_cache.add(identity)
        for dep in node.dependents:
            self._attempt_to_delete.add(dep)
        for ref in node.owners:
            owner = self.uid_to_node.get(str(ref.get("uid", "")))
            if owner is not None and owner.deleting_dependents:
                self._attempt_to_delete.add(owner)

    def _process_virtual_delete(self, deleted: ObjectReference) -> None:
        """The collector found `deleted` absent. A node observed by a monitor under other
        coordinates stays; so does a virtual node some dependents name otherwise. Dependents
        that named exactly the absent coordinates are re-examined either way."""
        node = self.uid_to_node.get(deleted.uid)
        if node is None:
            return
        matching = [dep for dep in node.dependents if _names(dep, deleted)]
        if not node.virtual and node.identity != deleted:
            if matching:
                self.absent_owner_cache.add(deleted)
                for dep in matching:
                    self._attempt_to_delete.add(dep)
            return
        if node.virtual and len(matching) < len(node.dependents):
            if matching:
                self.absent_owner_cache.add(deleted)
                for dep in matching:
                    self._attempt_to_delete.add(dep)
            if node.identity == deleted:  # verify the coordinates the others use
                other = next(dep for dep in node.dependents if dep not in matching)
                ref = next(r for r in other.owners if r.get("uid") == deleted.uid)
                node.identity = reference_for(ref, namespace=other.identity.namespace)
                self._attempt_to_delete.add_rate_limited(node)
            return
        self._remove_and_requeue(node, deleted)


def _names(dependent: Node, owner: ObjectReference) -> bool:
    """Whether `dependent` refers to `owner` by exactly these coordinates."""
    return any(matches_coordinates(reference_for(ref, namespace=dependent.identity.namespace),
                                   owner)
               for ref in dependent.owners if ref.get("uid") == owner.uid)


def _identity_of(obj: Obj) -> ObjectReference:
    return ObjectReference(api_version=str(obj.get("apiVersion", "")),
                           kind=str(obj.get("kind", "")), name=meta.name(obj),
                           uid=meta.uid(obj), namespace=meta.namespace(obj))


def _reference_diffs(old: list[Obj], new: list[Obj]
                     ) -> tuple[list[Obj], list[Obj], list[tuple[Obj, Obj]]]:
    """(added, removed, changed as (old, new)) ownerReferences, matched by uid."""
    old_by_uid = {str(r.get("uid", "")): r for r in old}
    new_by_uid = {str(r.get("uid", "")): r for r in new}
    added = [r for uid, r in new_by_uid.items() if uid not in old_by_uid]
    removed = [r for uid, r in old_by_uid.items() if uid not in new_by_uid]
    changed = [(old_by_uid[uid], r) for uid, r in new_by_uid.items()
               if uid in old_by_uid and old_by_uid[uid] != r]
    return added, removed, changed
