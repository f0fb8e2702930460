"""A Store that keeps one resource's objects under another's prefix, in the other's form.

Mirrors the storage codec of staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go together
with upstream's cohabitating resources (pkg/kubeapiserver/default_storage_factory_builder.go):
events.k8s.io Events are stored as core/v1 Events under `/registry/events/`, so both APIs see
the same objects. `CodecStore` wraps the real store: keys under `prefix` become keys under
`storage_prefix`, objects are `encode`d on the way in and `decode`d on the way out (gets,
lists, list predicates, watch events). The registry above it needs no knowledge of this; the
apiserver builds one per cohabitating resource.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

from kajitori.storage.interface import Page, Store, WatchEvent

Obj = dict[str, Any]
Convert = Callable[[Obj], Obj]


@dataclass
class CodecStore:
    """The `Store` contract over `inner`, for keys under `prefix` only. `encode` and `decode`
    must be inverse on the fields both forms have and must not change their argument;
    revisions, errors and continue tokens are the inner store's, unchanged."""

    inner: Store
    prefix: str
    storage_prefix: str
    encode: Convert
    decode: Convert

    def _key(self, key: str) -> str:
        if not key.startswith(self.prefix):
            raise ValueError(f"{key!r} is not under {self.prefix!r}")
        return self.storage_prefix + key[len(self.prefix):]

    def _served_key(self, key: str) -> str:
        return self.prefix + key[len(self.storage_prefix):]

    async def get(self, key: str) -> Obj:
        return self.decode(await self.inner.get(self._key(key)))

    async def list(self, prefix: str, *, limit: int = 0, continue_token: str = "",
                   predicate: Callable[[Obj], bool] | None = None) -> Page:
        decoded_predicate = None if predicate is None else \
            (lambda obj: predicate(self.decode(obj)))
        page = await self.inner.list(self._key(prefix), limit=limit,
                                     continue_token=continue_token, predicate=decoded_predicate)
        return replace(page, items=[self.decode(obj) for obj in page.items])

    async def create(self, key: str, obj: Obj) -> Obj:
        return self.decode(await self.inner.create(self._key(key), self.encode(obj)))

    async def update(self, key: str, obj: Obj, *, expected_revision: int | None = None) -> Obj:
        return self.decode(await self.inner.update(self._key(key), self.encode(obj),
                                                   expected_revision=expected_revision))

    async def delete(self, key: str, *, expected_revision: int | None = None) -> Obj:
        return self.decode(await self.inner.delete(self._key(key),
                                                   expected_revision=expected_revision))

    async def watch(self, prefix: str, *, since: int) -> AsyncIterator[WatchEvent]:
        async for event in self.inner.watch(self._key(prefix), since=since):
            yield replace(event, object=self.decode(event.object), key=self._served_key(event.key),
                          prev_object=None if event.prev_object is None
                          else self.decode(event.prev_object))

    def current_revision(self) -> int:
        return self.inner.current_revision()

    async def close(self) -> None:
        """The inner store belongs to whoever opened it: closing this view closes nothing."""
