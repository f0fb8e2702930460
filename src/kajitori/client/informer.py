"""Informers: a cache of one resource kept current by list + watch, with change handlers.

Mirrors client-go `tools/cache`: the reflector (reflector.go) lists, then watches from the
list's resourceVersion with `allowWatchBookmarks`; a watch that closes (server timeout, network)
resumes from the last resourceVersion seen; `410 Expired`/`Gone` (an HTTP error or an `ERROR`
event) makes it list again. The indexer (thread_safe_store.go, index.go) holds objects keyed
`namespace/name` (`name` for cluster-scoped ones) with named indices; the shared informer
(shared_informer.go) applies each change to the indexer and then calls every registered
handler; `SharedInformerFactory` (informers/factory.go) gives all users of a resource one
informer.

Handlers are plain functions run on the loop, in registration order, after the cache has
changed: `on_add(obj)`, `on_update(old, new)`, `on_delete(obj)`. They should only enqueue keys
(controllers sync later from the cache, `workqueue`). A delete the informer did not see (it
happened while a relist was due) reaches `on_delete` as a `DeletedFinalStateUnknown` holding the
last known state. After a relist and on every resync, each object present before and after is
passed to `on_update` even if unchanged, as upstream does: compare resourceVersions to skip.
A handler's exception is not caught: it ends `run()`, so the owner's TaskGroup sees the bug.

Cached objects are shared between the cache and every handler: copy before changing one.
How lists and watches reach the server is the `ListerWatcher` seam: `rest.ListWatch` is the
HTTP one, which `SharedInformerFactory` builds; tests plug in a fake.

Departures from upstream: handlers run inline rather than on a goroutine per listener (one
event loop; handlers must not block), there is one resync period per informer rather than per
handler, and the reflector does not page its lists.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import random
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from kajitori.api import errors, meta
from kajitori.client import backoff as backoff_
from kajitori.client import clock as clock_
from kajitori.client import rest

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], list[str]]
"""Index values of an object (`meta_namespace_index_func` gives `[namespace]`)."""

log = logging.getLogger(__name__)

NAMESPACE_INDEX = "namespace"
"""The index every informer's cache has, by `metadata.namespace` (upstream's NamespaceIndex)."""

ADDED, MODIFIED, DELETED, BOOKMARK, ERROR = "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"

WATCH_CLIENT_GRACE = 30.0
"""Seconds a watch may outlive its `timeoutSeconds` before the client gives up on it: the
server ends it at the timeout, so silence beyond is a dead connection."""

@dataclass(frozen=True)
class InformerSettings:
    """How an informer lists, watches and resyncs; upstream's defaults."""

    resync_period: float = 0.0
    """Seconds between resyncs, which replay every cached object to `on_update`; 0 disables
    them. The `defaultResync` of upstream's `NewSharedInformerFactory`, which
    kube-controller-manager sets from `min_resync_period` (12 h, jittered)."""
    min_watch_timeout: float = 300.0
    """Seconds: each watch asks the server to end it after a random time between this and
    twice this (the reflector's `minWatchTimeout`, 5 min), spreading reconnections."""
    initial_backoff: float = 0.8
    """Seconds before the first retry of a failed list and watch (the reflector's backoff
    manager: 800 ms, doubling, jittered by up to 100 %)."""
    max_backoff: float = 30.0
    """Seconds the retry delay stops growing at (upstream: 30 s)."""
    backoff_reset_duration: float = 120.0
    """Seconds without a failure after which the delay starts from `initial_backoff` again
    (upstream: 2 min)."""


class ListerWatcher(Protocol):
    """The seam between an informer and the server (client-go's `cache.ListerWatcher`), bound
    to one resource and, optionally, one namespace and selectors. Raises `StatusError` for API
    errors; transport errors as aiohttp/OSError/TimeoutError."""

    async def list(self, *, resource_version: str) -> Obj:
        """A List object (`items`, `metadata.resourceVersion`), read at `resource_version` with
        upstream's semantics: `""` most recent, `"0"` any, `N` not older than N."""
        ...

    def watch(self, *, resource_version: str, timeout_seconds: int
              ) -> AsyncGenerator[Obj, None]:
        """Watch events (`{"type": ..., "object": ...}`) after `resource_version`, with
        bookmarks allowed, ending when the server ends the stream. The caller closes the
        generator (`aclose`) when it stops early."""
        ...


@dataclass(frozen=True)
class DeletedFinalStateUnknown:
    """A delete the informer missed: the object vanished between a watch and a relist.
    `obj` is the last state the cache held, possibly stale (upstream's type of this name)."""

    key: str
    obj: Obj


def deleted_object(obj: Obj | DeletedFinalStateUnknown) -> Obj:
    """What an `on_delete` handler was given, as an object: a tombstone's last known state
    (possibly stale), or the deleted object itself."""
    return obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj


OnAdd = Callable[[Obj], None]
OnUpdate = Callable[[Obj, Obj], None]
OnDelete = Callable[[Obj | DeletedFinalStateUnknown], None]


@dataclass(frozen=True)
class ResourceEventHandlers:
    """One registration's handlers (upstream's `ResourceEventHandlerFuncs`); any may be None."""

    on_add: OnAdd | None = None
    on_update: OnUpdate | None = None
    on_delete: OnDelete | None = None


def meta_namespace_key(obj: Obj | DeletedFinalStateUnknown) -> str:
    """`namespace/name`, or `name` for a cluster-scoped object: the cache and work-queue key
    (upstream's `MetaNamespaceKeyFunc`, which also accepts a tombstone)."""
    if isinstance(obj, DeletedFinalStateUnknown):
        return obj.key
    namespace = meta.namespace(obj)
    return f"{namespace}/{meta.name(obj)}" if namespace else meta.name(obj)


def split_meta_namespace_key(key: str) -> tuple[str, str]:
    """(namespace, name) from a `meta_namespace_key`; namespace is `""` for cluster-scoped
    keys. Raises ValueError for a key with more than one `/`."""
    parts = key.split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise ValueError(f'unexpected key format: "{key}"')


def meta_namespace_index_func(obj: Obj) -> list[str]:
    """The `NAMESPACE_INDEX` function: an object's namespace (`""` for cluster-scoped)."""
    return [meta.namespace(obj)]


class Indexer:
    """Objects by key with named indices (client-go's `cache.Indexer`). Readers get the cached
    dicts themselves, shared: never change one in place. Only the informer writes."""

    def __init__(self, indexers: dict[str, IndexFunc] | None = None) -> None:
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = dict(indexers or {})
        self._indices: dict[str, dict[str, set[str]]] = {name: {} for name in self._indexers}

    def add_indexers(self, indexers: dict[str, IndexFunc]) -> None:
        """Add named indices, indexing the objects already cached. Raises ValueError for a
        name already in use (upstream refuses a conflicting indexer too)."""
        for name in indexers:
            if name in self._indexers:
                raise ValueError(f"indexer conflict: {name}")
        for name, func in indexers.items():
            self._indexers[name] = func
            index: dict[str, set[str]] = {}
            for key, obj in self._items.items():
                for value in func(obj):
                    index.setdefault(value, set()).add(key)
            self._indices[name] = index

    def get(self, key: str) -> Obj | None:
        return self._items.get(key)

    def list(self, namespace: str = "") -> builtins.list[Obj]:
        """Every object, or those of one namespace (`""`: all, as upstream's NamespaceAll)."""
        if not namespace:
            return builtins.list(self._items.values())
        return self.by_index(NAMESPACE_INDEX, namespace)

    def list_keys(self) -> builtins.list[str]:
        return builtins.list(self._items)

    def by_index(self, index_name: str, value: str) -> builtins.list[Obj]:
        """Objects whose `index_name` function yields `value`. Raises KeyError for an unknown
        index (a programming error)."""
        return [self._items[key] for key in self.index_keys(index_name, value)]

    def index_keys(self, index_name: str, value: str) -> builtins.list[str]:
        if index_name not in self._indexers:
            raise KeyError(f"Index with name {index_name} does not exist")
        return sorted(self._indices[index_name].get(value, ()))

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def put(self, key: str, obj: Obj) -> Obj | None:
        """Store `obj` under `key`; returns the object it replaced, if any."""
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        for name, func in self._indexers.items():
            for value in func(obj):
                self._indices[name].setdefault(value, set()).add(key)
        return old

    def delete(self, key: str) -> Obj | None:
        """Remove `key`; returns the object it held, if any."""
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def _unindex(self, key: str, obj: Obj) -> None:
        for name, func in self._indexers.items():
            index = self._indices[name]
            for value in func(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]


class Informer:
    """One resource's shared informer: `cache` (an `Indexer`) plus handlers, kept current by
    `run()`. `has_synced()` turns true once the first list is in the cache and stays true."""

    def __init__(self, lister_watcher: ListerWatcher, *, name: str = "",
                 settings: InformerSettings | None = None, clock: clock_.Clock | None = None,
                 indexers: dict[str, IndexFunc] | None = None) -> None:
        self.name = name  # for logs: the resource, e.g. "pods" or "deployments.apps"
        self.cache = Indexer({NAMESPACE_INDEX: meta_namespace_index_func, **(indexers or {})})
        self._lister_watcher = lister_watcher
        self._settings = settings or InformerSettings()
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self._handlers: list[ResourceEventHandlers] = []
        self._synced = asyncio.Event()
        self._last_sync_resource_version = ""
        self._resource_version_unavailable = False

    def add_handlers(self, *, on_add: OnAdd | None = None, on_update: OnUpdate | None = None,
                     on_delete: OnDelete | None = None) -> None:
        """Register handlers. If the cache already holds objects, `on_add` is called for each
        at once, as upstream replays the cache to a late handler."""
        self._handlers.append(ResourceEventHandlers(on_add, on_update, on_delete))
        if on_add is not None:
            for obj in self.cache.list():
                on_add(obj)

    def add_indexers(self, indexers: dict[str, IndexFunc]) -> None:
        """Add named indices to `cache` (see `Indexer.add_indexers`)."""
        self.cache.add_indexers(indexers)

    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_for_sync(self) -> None:
        """Return once `has_synced()`; callers bound it with a timeout of their own."""
        await self._synced.wait()

    @property
    def last_sync_resource_version(self) -> str:
        """The resourceVersion the cache reflects (the last list, event or bookmark)."""
        return self._last_sync_resource_version

    async def run(self) -> None:
        """List and watch until cancelled, retrying failures with backoff, and resync every
        `resync_period`. Returns only by cancellation or a handler's exception."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._reflect())
            if self._settings.resync_period > 0:
                group.create_task(self._resync_loop())

    async def _reflect(self) -> None:
        settings = self._settings
        backoff = backoff_.BackoffManager(
            backoff_.Backoff(settings.initial_backoff, cap=settings.max_backoff),
            reset_after=settings.backoff_reset_duration, clock=self._clock)
        while True:
            failure: BaseException | None = None
            try:
                await self._list_and_watch(backoff)
            except backoff_.RETRIABLE as exc:
                log.warning("%s: list and watch failed, will retry: %s", self.name, exc)
                failure = exc
            await self._clock.sleep(backoff.delay(failure))

    async def _list_and_watch(self, backoff: backoff_.BackoffManager) -> None:
        """One list, then watches until one ends in 410 (return: relist) or fails otherwise
        (raise). A watch that ends cleanly or times out resumes from the last version."""
        await self._list()
        while True:
            timeout = int(self._settings.min_watch_timeout * (1 + random.random()))
            try:
                async with asyncio.timeout(timeout + WATCH_CLIENT_GRACE):
                    await self._watch(timeout)
            except errors.StatusError as exc:
                if exc.code == 410:
                    log.info("%s: watch closed with: %s; relisting", self.name, exc)
                    return
                if exc.code != 429:
                    raise
                await self._clock.sleep(backoff.delay(exc))
            except TimeoutError:
                log.info("%s: watch went silent; watching again", self.name)
            except (aiohttp.ClientConnectionError, OSError) as exc:
                log.info("%s: watch broke (%s); watching again after a backoff", self.name, exc)
                await self._clock.sleep(backoff.delay(exc))

    def _relist_resource_version(self) -> str:
        """As upstream: `"0"` first (any state will do), the last synced version afterwards,
        `""` (a consistent read) once the server said that version is unavailable."""
        if self._resource_version_unavailable:
            return ""
        return self._last_sync_resource_version or "0"

    async def _list(self) -> None:
        resource_version = self._relist_resource_version()
        try:
            listed = await self._lister_watcher.list(resource_version=resource_version)
        except errors.StatusError as exc:
            if resource_version == "" or not _is_unavailable_version(exc):
                raise
            self._resource_version_unavailable = True
            listed = await self._lister_watcher.list(resource_version="")
        self._resource_version_unavailable = False
        self._replace(_list_items(listed))
        self._last_sync_resource_version = meta.resource_version(listed)
        self._synced.set()

    async def _watch(self, server_timeout: int) -> None:
        events = self._lister_watcher.watch(
            resource_version=self._last_sync_resource_version, timeout_seconds=server_timeout)
        async with contextlib.aclosing(events):
            async for event in events:
                type_, obj = event.get("type"), event.get("object") or {}
                if type_ == ERROR:
                    raise errors.StatusError(obj)
                if type_ in (ADDED, MODIFIED):
                    self._upsert(obj)
                elif type_ == DELETED:
                    self._delete(obj)
                elif type_ != BOOKMARK:
                    log.warning("%s: unknown watch event type %r", self.name, type_)
                    continue
                resource_version = meta.resource_version(obj)
                if resource_version:
                    self._last_sync_resource_version = resource_version

    def _upsert(self, obj: Obj) -> None:
        old = self.cache.put(meta_namespace_key(obj), obj)
        for handlers in self._handlers:
            if old is None:
                if handlers.on_add is not None:
                    handlers.on_add(obj)
            elif handlers.on_update is not None:
                handlers.on_update(old, obj)

    def _delete(self, obj: Obj | DeletedFinalStateUnknown) -> None:
        self.cache.delete(meta_namespace_key(obj))
        for handlers in self._handlers:
            if handlers.on_delete is not None:
                handlers.on_delete(obj)

    def _replace(self, items: list[Obj]) -> None:
        """Make the cache the listed state: listed objects are added or updated, cached ones
        the list lacks are deleted as tombstones (their delete event was missed)."""
        listed = {meta_namespace_key(obj): obj for obj in items}
        for key in [k for k in self.cache.list_keys() if k not in listed]:
            old = self.cache.get(key)
            if old is not None:
                self._delete(DeletedFinalStateUnknown(key, old))
        for obj in listed.values():
            self._upsert(obj)

    async def _resync_loop(self) -> None:
        while True:
            await self._clock.sleep(self._settings.resync_period)
            if not self.has_synced():
                continue
            for obj in self.cache.list():
                for handlers in self._handlers:
                    if handlers.on_update is not None:
                        handlers.on_update(obj, obj)


class SharedInformerFactory:
    """One informer per resource, shared by every user that asks for it (upstream's
    `SharedInformerFactory`, here for any resource by group, version and plural, as the
    dynamic factory). `run()` runs every informer asked for, before or after it started."""

    def __init__(self, client: rest.RESTClient, *, settings: InformerSettings | None = None,
                 namespace: str = "", clock: clock_.Clock | None = None) -> None:
        self._client = client
        self._settings = settings or InformerSettings()
        self._namespace = namespace  # "" watches all namespaces (upstream's WithNamespace)
        self._clock = clock
        self._informers: dict[tuple[str, str, str], Informer] = {}
        self._group: asyncio.TaskGroup | None = None

    def informer_for(self, group: str, version: str, plural: str) -> Informer:
        """The informer of `plural` in `group`/`version` (`""` is the core group), created on
        first request; started at once if the factory is running."""
        gvr = (group, version, plural)
        existing = self._informers.get(gvr)
        if existing is not None:
            return existing
        lister_watcher = rest.ListWatch(self._client, group, version, plural,
                                        namespace=self._namespace)
        created = Informer(lister_watcher, name=f"{plural}.{group}" if group else plural,
                           settings=self._settings, clock=self._clock)
        self._informers[gvr] = created
        if self._group is not None:
            self._group.create_task(created.run())
        return created

    async def run(self) -> None:
        """Run the informers until cancelled; a handler's exception in any ends them all and
        propagates (in an ExceptionGroup)."""
        async with asyncio.TaskGroup() as group:
            for existing in self._informers.values():
                group.create_task(existing.run())
            self._group = group
            try:
                await asyncio.Event().wait()
            finally:
                self._group = None

    async def wait_for_cache_sync(self) -> None:
        """Return once every informer asked for so far has synced (upstream's
        `WaitForCacheSync`); callers bound it with a timeout."""
        for existing in list(self._informers.values()):
            await existing.wait_for_sync()


def _is_unavailable_version(exc: errors.StatusError) -> bool:
    """The server cannot list at the asked version: too old (410) or newer than it has (504
    `ResourceVersionTooLarge`, a server restored from an older state)."""
    if exc.code == 410:
        return True
    causes = (exc.status.get("details") or {}).get("causes") or []
    return any(cause.get("reason") == "ResourceVersionTooLarge" for cause in causes)


def _list_items(listed: Obj) -> list[Obj]:
    """A List's items, each labelled with the list's apiVersion and kind when it lacks them,
    as client-go's unstructured lists label theirs."""
    items: list[Obj] = listed.get("items") or []
    api_version = listed.get("apiVersion", "")
    kind = str(listed.get("kind", "")).removesuffix("List")
    for item in items:
        if "kind" not in item and kind:
            item["kind"] = kind
        if "apiVersion" not in item and api_version:
            item["apiVersion"] = api_version
    return items
