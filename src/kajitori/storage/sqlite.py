"""The SQLite storage backend: one database file, group commits on one writer thread.

Plays the part of staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go (with the watch cache
of .../storage/cacher/ in front, kajitori.storage.watchcache) behind kajitori.storage.interface.

Durability: WAL journal, `synchronous=FULL` by default, so a write is acknowledged only after
the COMMIT that carries it has been fsynced: it survives `kill -9` and power loss.

Concurrency: every sqlite3 call runs on one writer thread, never on the event loop. Writes are
queued; the thread takes all pending ones (up to MAX_GROUP), applies them in queue order inside
one transaction, each successful one taking the next revision, and commits once. Checks
(create on an existing key, an expected revision that no longer matches) are decided in that
order against the transaction's own state, so of two racing compare-and-swaps one wins and the
other gets Conflict. After COMMIT the loop applies the group's events to the watch cache, in
revision order, and only then resolves the writers' futures. A writer cancelled while waiting
does not undo its write: it commits or fails with the rest of its group.

Reads (`get`, `list`) and watches are served from memory (the watch cache, loaded at open):
they never touch SQLite. Returned dicts are shared: copy before changing one.

Tables: `history` holds every revision (the object, or for DELETED its last state stamped with
the deletion's revision); `objects` maps each live key to the revision holding its current
value; `counters` persists the revision counter (so it never goes back, even when the newest
write was a delete) and the compacted revision. Compaction, on the writer thread every
`compaction_interval` seconds, deletes history older than the watch window except each live
object's current revision; a restart reloads the window from what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import orjson

from kajitori.api import meta
from kajitori.storage import errors, watchcache
from kajitori.storage.interface import EventType, Obj, Page, WatchEvent

log = logging.getLogger(__name__)

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
MAX_GROUP = 1000
"""Most writes in one transaction: bounds a group's latency and the events one apply pushes."""
COMPACTION_BATCH = 10_000
"""Revisions deleted per compaction transaction, so writers queued behind it wait little."""
DEFAULT_COMPACTION_INTERVAL = 300.0
"""Seconds between compactions (upstream's --etcd-compaction-interval default, 5m)."""

# Upstream's wording (etcd3/store.go Create): the apiserver answers 500 with it.
RESOURCE_VERSION_SET_ON_CREATE = "resourceVersion should not be set on objects to be created"
STORE_CLOSED = "storage is closed"
COMMIT_FAILED = "storage commit failed"

SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    revision INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    type TEXT NOT NULL,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    key TEXT PRIMARY KEY,
    revision INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
"""
SET_COUNTER = ("INSERT INTO counters (name, value) VALUES (?, ?) "
               "ON CONFLICT (name) DO UPDATE SET value = excluded.value")
REVISION, COMPACTED = "revision", "compacted"

Op = Callable[[sqlite3.Connection, int], WatchEvent]
"""A write, run on the writer thread inside the group's transaction with the revision it takes.
It raises a StorageError (or orjson.JSONEncodeError) before touching the database, or returns
the event it wrote."""


class SQLiteStore:
    """The `Store` protocol over one SQLite file. Open with `await SQLiteStore.open(path)`;
    close with `await store.close()` or use it as an async context manager. Use from one event
    loop. Raises Unavailable once closed or when a commit fails (disk full, I/O error)."""

    def __init__(self, writer: _Writer, cache: watchcache.WatchCache) -> None:
        """Use `open`."""
        self._writer = writer
        self._cache = cache

    @classmethod
    async def open(cls, path: str, *, synchronous: str = "FULL",
                   watch_window: int = watchcache.DEFAULT_WINDOW,
                   watcher_queue: int = watchcache.DEFAULT_WATCHER_QUEUE,
                   compaction_interval: float = DEFAULT_COMPACTION_INTERVAL) -> SQLiteStore:
        """Open (creating if missing) the database at `path` and load it into memory.

        `synchronous`: SQLite's setting; FULL (the default) makes every acknowledged write
        survive power loss, NORMAL only a process crash. `watch_window`: events kept in memory
        for watches and continue tokens, and revisions compaction keeps. `watcher_queue`: unread
        events after which a watcher is closed. Raises Unavailable when the file cannot be
        opened or is locked by another process.
        """
        mode = synchronous.upper()
        if mode not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}")
        if compaction_interval <= 0 or watch_window < 1 or watcher_queue < 1:
            raise ValueError("compaction_interval, watch_window and watcher_queue must be "
                             "positive")
        try:
            db, loaded = await asyncio.to_thread(_connect, path, synchronous=mode,
                                                 window=watch_window)
        except sqlite3.Error as exc:
            raise errors.Unavailable(path, f"cannot open {path}: {exc}") from exc
        cache = watchcache.WatchCache(
            revision=loaded.revision, objects=loaded.objects, events=loaded.events,
            floor=loaded.floor, window=watch_window, watcher_queue=watcher_queue)
        writer = _Writer(db, loop=asyncio.get_running_loop(), apply=cache.apply,
                         revision=loaded.revision, compacted=loaded.compacted,
                         window=watch_window, compaction_interval=compaction_interval)
        writer.start()
        return cls(writer, cache)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    @property
    def commits(self) -> int:
        """COMMITs so far: writes / commits is the mean group size (benchmarks print it)."""
        return self._writer.commits

    def current_revision(self) -> int:
        return self._cache.revision

    async def get(self, key: str) -> Obj:
        """The object at `key` (shared: copy to change). Raises KeyNotFound."""
        self._check_open(key)
        return self._cache.get(key)

    async def list(self, prefix: str, *, limit: int = 0, continue_token: str = "",
                   predicate: Callable[[Obj], bool] | None = None) -> Page:
        """See WatchCache.list: key order, paging, InvalidContinue, Compacted.

        `prefix` is a plain string prefix: pass one ending in "/" so that `.../default/`
        does not also match `.../default2/`.
        """
        self._check_open(prefix)
        return self._cache.list(prefix, limit=limit, continue_token=continue_token,
                                predicate=predicate)

    async def create(self, key: str, obj: Obj) -> Obj:
        """Store `obj` at a new key; returns it stamped with its revision (ADDED).

        Raises KeyExists, or StorageError when `obj` carries a resourceVersion.
        """
        if meta.resource_version(obj):
            raise errors.StorageError(key, RESOURCE_VERSION_SET_ON_CREATE)
        return await self._writer.submit(key, functools.partial(_insert, key=key, obj=obj))

    async def update(self, key: str, obj: Obj, *, expected_revision: int | None = None) -> Obj:
        """Replace the object at `key` (MODIFIED); `expected_revision` None is unconditional.

        Raises KeyNotFound, Conflict.
        """
        op = functools.partial(_replace, key=key, obj=obj, expected=expected_revision)
        return await self._writer.submit(key, op)

    async def delete(self, key: str, *, expected_revision: int | None = None) -> Obj:
        """Remove `key`; returns (and emits as DELETED) its last state carrying the deletion's
        revision as resourceVersion. Raises KeyNotFound, Conflict."""
        op = functools.partial(_remove, key=key, expected=expected_revision)
        return await self._writer.submit(key, op)

    def watch(self, prefix: str, *, since: int) -> watchcache.CacheWatcher:
        """See WatchCache.watch: events after `since` under `prefix`; Compacted at the first
        iteration; ends when the store closes or the consumer falls too far behind."""
        return self._cache.watch(prefix, since=since)

    async def compact(self) -> int:
        """Compact now (as the periodic task does); returns the compacted revision."""
        return await self._writer.compact()

    async def close(self) -> None:
        """Commit what is queued, close the database, end every watch. Idempotent."""
        await self._writer.stop()
        self._cache.close()

    def _check_open(self, key: str) -> None:
        if self._writer.stopping:
            raise errors.Unavailable(key, STORE_CLOSED)


@dataclasses.dataclass(frozen=True)
class _Loaded:
    revision: int
    compacted: int
    floor: int
    objects: list[tuple[str, Obj]]
    events: list[WatchEvent]


def _connect(path: str, *, synchronous: str, window: int) -> tuple[sqlite3.Connection, _Loaded]:
    """Open, configure and read the database (on a worker thread, before the writer starts).

    The connection is then used by the writer thread alone, hence check_same_thread=False.
    Exclusive locking keeps a second process (a second apiserver) off the same file; as no
    other connection may share the file, a lock held is an error at once (timeout 0), not a
    reason to wait.
    """
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0)
    try:
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.executescript(SCHEMA)
        counters = dict(db.execute("SELECT name, value FROM counters").fetchall())
        revision, compacted = counters.get(REVISION, 0), counters.get(COMPACTED, 0)
        live: dict[str, tuple[int, Obj]] = {}
        rows = db.execute("SELECT o.key, o.revision, h.value FROM objects o "
                          "JOIN history h ON h.revision = o.revision")
        for key, rev, value in rows:
            live[key] = (rev, orjson.loads(value))
        floor = max(compacted, revision - window, 0)
        events = []
        rows = db.execute("SELECT revision, key, type, value FROM history "
                          "WHERE revision > ? ORDER BY revision", (floor,))
        for rev, key, type_, value in rows:
            current = live.get(key)
            # The current revision's event shares the object's dict rather than a second copy.
            obj = current[1] if current and current[0] == rev else orjson.loads(value)
            events.append(WatchEvent(type=type_, object=obj, revision=rev, key=key))
    except sqlite3.Error:
        db.close()
        raise
    objects = [(key, obj) for key, (_, obj) in live.items()]
    return db, _Loaded(revision=revision, compacted=compacted, floor=floor,
                       objects=objects, events=events)


def _stamp(obj: Obj, revision: int) -> tuple[Obj, bytes]:
    """`obj` with resourceVersion = `revision`, as a private copy and as stored bytes.

    Decoding the bytes back gives the store a deep copy no caller holds a reference into.
    """
    stamped = {**obj, "metadata": {**meta.metadata(obj), "resourceVersion": str(revision)}}
    value = orjson.dumps(stamped)
    return orjson.loads(value), value


def _append_history(db: sqlite3.Connection, revision: int, key: str, type_: EventType,
                    value: bytes) -> None:
    db.execute("INSERT INTO history (revision, key, type, value) VALUES (?, ?, ?, ?)",
               (revision, key, type_, value))


def _current_revision(db: sqlite3.Connection, key: str) -> int | None:
    row = db.execute("SELECT revision FROM objects WHERE key = ?", (key,)).fetchone()
    return None if row is None else int(row[0])


def _insert(db: sqlite3.Connection, revision: int, *, key: str, obj: Obj) -> WatchEvent:
    if _current_revision(db, key) is not None:
        raise errors.KeyExists(key)
    stored, value = _stamp(obj, revision)
    _append_history(db, revision, key, "ADDED", value)
    db.execute("INSERT INTO objects (key, revision) VALUES (?, ?)", (key, revision))
    return WatchEvent(type="ADDED", object=stored, revision=revision, key=key)


def _replace(db: sqlite3.Connection, revision: int, *, key: str, obj: Obj,
             expected: int | None) -> WatchEvent:
    current = _current_revision(db, key)
    if current is None:
        raise errors.KeyNotFound(key)
    if expected is not None and expected != current:
        raise errors.Conflict(key, expected=expected, actual=current)
    stored, value = _stamp(obj, revision)
    _append_history(db, revision, key, "MODIFIED", value)
    db.execute("UPDATE objects SET revision = ? WHERE key = ?", (revision, key))
    return WatchEvent(type="MODIFIED", object=stored, revision=revision, key=key)


def _remove(db: sqlite3.Connection, revision: int, *, key: str,
            expected: int | None) -> WatchEvent:
    row = db.execute("SELECT o.revision, h.value FROM objects o "
                     "JOIN history h ON h.revision = o.revision WHERE o.key = ?",
                     (key,)).fetchone()
    if row is None:
        raise errors.KeyNotFound(key)
    current, last = int(row[0]), orjson.loads(row[1])
    if expected is not None and expected != current:
        raise errors.Conflict(key, expected=expected, actual=current)
    stored, value = _stamp(last, revision)
    _append_history(db, revision, key, "DELETED", value)
    db.execute("DELETE FROM objects WHERE key = ?", (key,))
    return WatchEvent(type="DELETED", object=stored, revision=revision, key=key)


@dataclasses.dataclass(frozen=True)
class _Write:
    key: str
    op: Op
    future: asyncio.Future[Obj]


@dataclasses.dataclass(frozen=True)
class _Compact:
    future: asyncio.Future[int]


_STOP = object()
"""Queued by `stop`: the writer finishes what is ahead of it, then closes the database."""

Outcome = tuple[asyncio.Future[Obj], WatchEvent | BaseException]


class _Writer:
    """The thread that owns the connection: group commits, compaction, close.

    `apply` (WatchCache.apply) is called on the loop with each group's events, in commit order,
    before that group's futures resolve.
    """

    def __init__(self, db: sqlite3.Connection, *, loop: asyncio.AbstractEventLoop,
                 apply: Callable[[list[WatchEvent]], None], revision: int, compacted: int,
                 window: int, compaction_interval: float) -> None:
        self.commits = 0
        self.stopping = False  # no more requests: close() was called or the thread died
        self._lock = threading.Lock()  # orders `stopping` against queueing a request
        self._db = db
        self._loop = loop
        self._apply = apply
        self._revision = revision  # the last committed revision; the writer thread's alone
        self._compacted = compacted
        self._window = window
        self._interval = compaction_interval
        self._queue: queue.SimpleQueue[_Write | _Compact | object] = queue.SimpleQueue()
        self._stopped: asyncio.Future[None] = loop.create_future()
        self._thread = threading.Thread(target=self._run, name="kajitori-sqlite-writer",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, key: str, op: Op) -> asyncio.Future[Obj]:
        """Queue a write; the future resolves after its group's COMMIT and apply."""
        future: asyncio.Future[Obj] = self._loop.create_future()
        self._enqueue(key, _Write(key, op, future))
        return future

    def compact(self) -> asyncio.Future[int]:
        future: asyncio.Future[int] = self._loop.create_future()
        self._enqueue("", _Compact(future))
        return future

    async def stop(self) -> None:
        with self._lock:
            if not self.stopping:
                self.stopping = True
                self._queue.put(_STOP)
        await asyncio.shield(self._stopped)

    def _enqueue(self, key: str, request: _Write | _Compact) -> None:
        with self._lock:
            if self.stopping:
                raise errors.Unavailable(key, STORE_CLOSED)
            self._queue.put(request)

    # Everything below runs on the writer thread.

    def _run(self) -> None:
        try:
            self._serve()
        except Exception:
            log.exception("SQLite writer thread failed")
        finally:
            self._db.close()
            with self._lock:
                self.stopping = True
            self._fail_queued()
            self._call(_settle, self._stopped, None)

    def _fail_queued(self) -> None:
        """Fail what is still queued: only when the thread died, since _STOP comes last."""
        while True:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(request, _Write | _Compact):
                key = request.key if isinstance(request, _Write) else ""
                self._call(_settle, request.future, errors.Unavailable(key, STORE_CLOSED))

    def _serve(self) -> None:
        next_compaction = time.monotonic() + self._interval
        while True:
            try:
                first = self._queue.get(timeout=max(0.0, next_compaction - time.monotonic()))
            except queue.Empty:
                self._compact_logged()
                next_compaction = time.monotonic() + self._interval
                continue
            group: list[_Write] = []
            request: _Write | _Compact | object = first
            while True:
                if isinstance(request, _Write):
                    group.append(request)
                elif isinstance(request, _Compact):
                    self._commit(group)
                    group = []
                    self._call(_settle, request.future, self._compact_logged())
                else:
                    self._commit(group)
                    return
                if len(group) >= MAX_GROUP:
                    break
                try:
                    request = self._queue.get_nowait()
                except queue.Empty:
                    break
            self._commit(group)

    def _commit(self, group: list[_Write]) -> None:
        """Run `group` in one transaction, commit (fsync) once, hand the outcome to the loop."""
        if not group:
            return
        revision = self._revision
        outcomes: list[Outcome] = []
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for write in group:
                try:
                    event = write.op(self._db, revision + 1)
                except (errors.StorageError, orjson.JSONEncodeError) as exc:
                    # Raised before the op wrote anything: it fails alone, takes no revision.
                    outcomes.append((write.future, exc))
                    continue
                revision = event.revision
                outcomes.append((write.future, event))
            if revision != self._revision:
                self._db.execute(SET_COUNTER, (REVISION, revision))
            self._db.execute("COMMIT")
        except Exception as exc:
            log.exception("SQLite group commit of %d writes failed", len(group))
            self._rollback()
            outcomes = [(w.future, _unavailable(w.key, exc)) for w in group]
        else:
            self._revision = revision
            self.commits += 1
        self._call(self._deliver, outcomes)

    def _deliver(self, outcomes: list[Outcome]) -> None:
        """On the loop: apply the committed events in order, then acknowledge the writers
        (even if applying failed: their writes are durable all the same)."""
        try:
            self._apply([o for _, o in outcomes if isinstance(o, WatchEvent)])
        finally:
            for future, outcome in outcomes:
                _settle(future, outcome.object if isinstance(outcome, WatchEvent) else outcome)

    def _compact_logged(self) -> int | BaseException:
        try:
            return self._compact()
        except Exception as exc:
            log.exception("SQLite compaction failed")
            self._rollback()
            return _unavailable("", exc)

    def _compact(self) -> int:
        """Delete history at or before `revision - window`, except live objects' current
        revisions, in batches; returns the compacted revision."""
        target = self._revision - self._window
        while self._compacted < target:
            upto = min(target, self._compacted + COMPACTION_BATCH)
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "DELETE FROM history WHERE revision > ? AND revision <= ? AND NOT EXISTS "
                "(SELECT 1 FROM objects o WHERE o.key = history.key "
                "AND o.revision = history.revision)", (self._compacted, upto))
            self._db.execute(SET_COUNTER, (COMPACTED, upto))
            self._db.execute("COMMIT")
            self._compacted = upto
        return self._compacted

    def _rollback(self) -> None:
        if self._db.in_transaction:
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                log.exception("SQLite rollback failed")

    def _call(self, callback: Callable[..., None], *args: object) -> None:
        """Run `callback(*args)` on the loop; a closed loop has nobody left to tell."""
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback, *args)


def _unavailable(key: str, exc: BaseException) -> errors.Unavailable:
    failure = errors.Unavailable(key, f"{COMMIT_FAILED}: {exc}")
    failure.__cause__ = exc
    return failure


def _settle(future: asyncio.Future[Any], outcome: object) -> None:
    """Resolve `future` unless its waiter gave up (cancelled); an exception is raised by it."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
