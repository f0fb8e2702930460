"""Fakes for the client's tests: a scripted ListerWatcher, a recorder of handler calls, and
the real in-process APIServer behind a `rest.RESTClient` (plain HTTP, a bearer token; from
tests/unit/inprocessserver.py).

`FakeListerWatcher` plays the server's side of the `informer.ListerWatcher` seam the way the
apiserver does (tests/unit/apiserver pins the real behaviour): one revision counter, lists that
report it, watches that stream changes after a revision, `ERROR` 410 for a revision it no longer
has. Tests drive it (`create`, `update`, `delete`, `close_watches`, `compact`) and await what the
informer does through `Recorder.wait_for`, never the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import Any

import pytest
from inprocessserver import open_client

from kajitori.api import errors, meta
from kajitori.client import informer, rest

Obj = dict[str, Any]


@pytest.fixture
def client(tmp_path: Path) -> contextlib.AbstractAsyncContextManager[rest.RESTClient]:
    return open_client(tmp_path)


def pod(name: str, namespace: str = "default", **labels: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)}}


class FakeListerWatcher:
    """An in-memory server for one resource. Events after `compact()` to a revision are gone:
    a watch from before it gets one ERROR 410 event, as the apiserver sends."""

    def __init__(self) -> None:
        self.objects: dict[str, Obj] = {}
        self.revision = 1
        self.oldest = 0
        self.history: list[tuple[int, str, Obj]] = []
        self.lists: list[str] = []  # resourceVersions asked by each list
        self.watches: list[str] = []  # resourceVersions asked by each watch
        self.list_errors: list[errors.StatusError] = []  # raised by the next lists, in order
        self._changed = asyncio.Event()  # replaced by a fresh one at each change
        self._called = asyncio.Event()
        self._closing = 0

    def _write(self, type_: str, obj: Obj) -> Obj:
        self.revision += 1
        stored = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self.revision)}}
        key = informer.meta_namespace_key(stored)
        if type_ == informer.DELETED:
            del self.objects[key]
        else:
            self.objects[key] = stored
        self.history.append((self.revision, type_, stored))
        self._notify()
        return stored

    def create(self, obj: Obj) -> Obj:
        return self._write(informer.ADDED, obj)

    def update(self, obj: Obj) -> Obj:
        return self._write(informer.MODIFIED, obj)

    def delete(self, key: str) -> Obj:
        return self._write(informer.DELETED, self.objects[key])

    def delete_quietly(self, key: str) -> None:
        """A delete whose event the informer will never see (as if compacted away)."""
        del self.objects[key]
        self.revision += 1
        self.compact()

    def compact(self) -> None:
        """Forget every event so far: watches from older revisions get 410."""
        self.oldest = self.revision
        self.history.clear()
        self._notify()

    def close_watches(self) -> None:
        """End the open watch streams cleanly, as the server's timeout does."""
        self._closing += 1
        self._notify()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once `predicate()` holds, checking after each list or watch call."""
        while not predicate():
            self._called.clear()
            await self._called.wait()

    async def list(self, *, resource_version: str) -> Obj:
        self.lists.append(resource_version)
        self._called.set()
        if self.list_errors:
            raise self.list_errors.pop(0)
        return {"apiVersion": "v1", "kind": "PodList",
                "metadata": {"resourceVersion": str(self.revision)},
                "items": [{k: v for k, v in o.items() if k not in ("apiVersion", "kind")}
                          for o in self.objects.values()]}

    async def watch(self, *, resource_version: str, timeout_seconds: int
                    ) -> AsyncGenerator[Obj, None]:
        self.watches.append(resource_version)
        self._called.set()
        since = int(resource_version)
        closing = self._closing
        while True:
            changed = self._changed
            if since < self.oldest:
                yield {"type": informer.ERROR, "object": errors.resource_expired(
                    f"too old resource version: {since} ({self.oldest})").status}
                return
            pending = [(rev, t, o) for rev, t, o in self.history if rev > since]
            for rev, type_, obj in pending:
                since = rev
                yield {"type": type_, "object": obj}
            if self._closing != closing:
                return
            await changed.wait()


class Recorder:
    """Handlers that log each call as a tuple and wake whoever waits for a condition."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self._changed = asyncio.Event()

    def on_add(self, obj: Obj) -> None:
        self._record(("add", informer.meta_namespace_key(obj), meta.resource_version(obj)))

    def on_update(self, old: Obj, new: Obj) -> None:
        self._record(("update", informer.meta_namespace_key(new), meta.resource_version(old),
                      meta.resource_version(new)))

    def on_delete(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        tombstone = isinstance(obj, informer.DeletedFinalStateUnknown)
        self._record(("tombstone" if tombstone else "delete", informer.meta_namespace_key(obj)))

    def register(self, target: informer.Informer) -> None:
        target.add_handlers(on_add=self.on_add, on_update=self.on_update,
                            on_delete=self.on_delete)

    def _record(self, call: tuple[Any, ...]) -> None:
        self.calls.append(call)
        self._changed.set()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            self._changed.clear()
            await self._changed.wait()
