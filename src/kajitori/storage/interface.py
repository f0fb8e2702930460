"""The storage contract every backend meets (SQLite now, etcd later).

Mirrors staging/src/k8s.io/apiserver/pkg/storage/interfaces.go. A store holds keys
(`/registry/...`) mapped to objects (wire-format dicts) under one cluster-wide revision counter:
every write takes the next revision, and that number, as a string, is the object's
`metadata.resourceVersion`. Nothing here knows resources, selectors semantics or HTTP.
Every backend passes tests/unit/storage/ (the conformance suite).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Obj = dict[str, Any]
EventType = Literal["ADDED", "MODIFIED", "DELETED"]


@dataclass(frozen=True)
class WatchEvent:
    type: EventType
    object: Obj  # for DELETED: the last state, with resourceVersion = the deletion's revision
    revision: int
    key: str
    # MODIFIED only: the state before, when the store still has it, so that a filtered watch
    # can turn an object leaving or entering its selection into DELETED or ADDED.
    prev_object: Obj | None = None


@dataclass(frozen=True)
class Page:
    items: list[Obj]
    revision: int  # the store revision the list reflects
    continue_token: str  # "" on the last page
    remaining: int | None  # objects after this page (before filtering), when known


class Store(Protocol):
    """Contract:
    - get/list read committed state; returned dicts are shared: callers must copy to change.
    - create/update/delete return once the write is durable (fsynced), stamped with its
      revision; watchers see events in revision order, after durability.
    - update/delete with `expected_revision` raise Conflict when the current one differs.
    - watch(since=N) yields every event with revision > N; a since older than the oldest
      revision still kept raises Compacted (first iteration).
    """

    async def get(self, key: str) -> Obj: ...

    async def list(self, prefix: str, *, limit: int = 0, continue_token: str = "",
                   predicate: Callable[[Obj], bool] | None = None) -> Page: ...

    async def create(self, key: str, obj: Obj) -> Obj: ...

    async def update(self, key: str, obj: Obj, *, expected_revision: int | None = None) -> Obj: ...

    async def delete(self, key: str, *, expected_revision: int | None = None) -> Obj: ...

    def watch(self, prefix: str, *, since: int) -> AsyncIterator[WatchEvent]: ...

    def current_revision(self) -> int: ...

    async def close(self) -> None: ...
