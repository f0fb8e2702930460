"""Informers whose caches a test seeds, as upstream's controller tests seed their listers.

Code under test reads only caches, so a test puts exactly the state it should see into one
and never runs it. Shared by the controllers and simulator tests.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from kajitori.client import informer

Obj = dict[str, Any]


class NoListerWatcher:
    """The ListerWatcher of an informer that is only ever seeded: using it is a test bug."""

    async def list(self, *, resource_version: str) -> Obj:
        raise AssertionError("a seeded informer must not list")

    async def watch(self, *, resource_version: str, timeout_seconds: int
                    ) -> AsyncGenerator[Obj, None]:
        raise AssertionError("a seeded informer must not watch")
        yield {}


def seeded(*objects: Obj, name: str = "seeded",
           indexers: dict[str, informer.IndexFunc] | None = None) -> informer.Informer:
    """An informer whose cache holds `objects`, with `indexers` besides the namespace index
    (and nothing is running)."""
    made = informer.Informer(NoListerWatcher(), name=name, indexers=indexers)
    for obj in objects:
        made.cache.put(informer.meta_namespace_key(obj), obj)
    return made
