"""Fakes for the simulator's tests: an in-memory API at the REST client's seam, a FakeClock
with a wall clock that moves with it (seeded informers: tests/unit/seededinformer.py).

`FakeClient` keeps objects by path and answers the verbs the simulator uses the way the
apiserver does for these needs (201 with uid and resourceVersion, 409 on a taken name or a
stale resourceVersion, 404, merge patches, deletes with a uid precondition), records every
call, and lets a test await a condition on what has been called instead of sleeping.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kajitori.api import errors, meta
from kajitori.client import clock as clock_

Obj = dict[str, Any]

EPOCH = datetime.datetime(2025, 6, 1, 12, 0, 0, tzinfo=datetime.UTC)


def wall_of(clock: clock_.FakeClock) -> Callable[[], datetime.datetime]:
    """A wall clock that reads EPOCH plus the fake clock's seconds."""
    return lambda: EPOCH + datetime.timedelta(seconds=clock.now())


def at(seconds: float) -> str:
    return meta.format_time(EPOCH + datetime.timedelta(seconds=seconds))


@dataclass
class Call:
    verb: str
    path: str
    body: Any


def _merge(target: Obj, patch: Obj) -> Obj:
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class FakeClient:
    """The REST client's verbs over a dict of objects keyed by path."""

    def __init__(self) -> None:
        self.objects: dict[str, Obj] = {}
        self.calls: list[Call] = []
        self._revisions = itertools.count(1)
        self._uids = itertools.count(1)
        self._changed = asyncio.Condition()

    async def _record(self, verb: str, path: str, body: Any) -> None:
        self.calls.append(Call(verb, path, copy.deepcopy(body)))
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        async with self._changed:
            await self._changed.wait_for(predicate)

    def _stored(self, obj: Obj) -> Obj:
        stored = copy.deepcopy(obj)
        stored["metadata"]["resourceVersion"] = str(next(self._revisions))
        return stored

    def _not_found(self, path: str) -> errors.StatusError:
        return errors.not_found(path.split("/")[-2], path.split("/")[-1])

    async def get(self, path: str, *, params: dict[str, str] | None = None) -> Obj:
        await self._record("get", path, None)
        if path not in self.objects:
            raise self._not_found(path)
        return copy.deepcopy(self.objects[path])

    async def create(self, path: str, obj: Obj) -> Obj:
        await self._record("create", path, obj)
        key = f"{path}/{obj['metadata']['name']}"
        if key in self.objects:
            raise errors.already_exists(path.split("/")[-1], obj["metadata"]["name"])
        stored = self._stored(obj)
        stored["metadata"]["uid"] = f"uid-{next(self._uids)}"
        self.objects[key] = stored
        return copy.deepcopy(stored)

    async def update(self, path: str, obj: Obj) -> Obj:
        await self._record("update", path, obj)
        current = self.objects.get(path)
        if current is None:
            raise self._not_found(path)
        if meta.resource_version(obj) != meta.resource_version(current):
            raise errors.conflict("leases", meta.name(obj), "the object has been modified")
        self.objects[path] = self._stored(obj)
        return copy.deepcopy(self.objects[path])

    async def patch(self, path: str, patch: Any, *, patch_type: str = "") -> Obj:
        await self._record("patch", path, patch)
        key = path.removesuffix("/status")
        if key not in self.objects:
            raise self._not_found(key)
        self.objects[key] = self._stored(_merge(self.objects[key], patch))
        return copy.deepcopy(self.objects[key])

    async def delete(self, path: str, *, options: Obj | None = None) -> Obj:
        await self._record("delete", path, options)
        if path not in self.objects:
            raise self._not_found(path)
        return self.objects.pop(path)

    def verbs(self, verb: str, path: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.verb == verb and (path is None or c.path == path)]
