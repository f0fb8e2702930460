"""Helpers for the controllers' tests: the real in-process APIServer behind a RESTClient
(`open_client`, from tests/unit/inprocessserver.py), and
informers whose caches a test seeds, as upstream's controller tests seed their listers.

Controllers read only their caches and write only through the API, so a test seeds the cache
with exactly the state the controller should see, calls `sync(key)`, and asserts what the API
then holds, as a user would see it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from inprocessserver import open_client

from kajitori.api import errors
from kajitori.client import informer, rest

Obj = dict[str, Any]

__all__ = ["get_or_none", "open_client", "path", "seeded"]


class NoServer:
    """A ListerWatcher for informers that are only ever seeded: using it is a test bug."""

    async def list(self, *, resource_version: str) -> Obj:
        raise AssertionError("a seeded informer must not list")

    async def watch(self, *, resource_version: str, timeout_seconds: int
                    ) -> AsyncGenerator[Obj, None]:
        raise AssertionError("a seeded informer must not watch")
        yield {}


def seeded(*objects: Obj, name: str = "seeded") -> informer.Informer:
    """An informer whose cache holds `objects` (and nothing is running)."""
    made = informer.Informer(NoServer(), name=name)
    for obj in objects:
        made.cache.put(informer.meta_namespace_key(obj), obj)
    return made


def path(group: str, version: str, plural: str, *, namespace: str = "", name: str = "") -> str:
    return rest.resource_path(group, version, plural, namespace=namespace, name=name)


async def get_or_none(client: rest.RESTClient, at: str) -> Obj | None:
    try:
        return await client.get(at)
    except errors.StatusError as exc:
        if exc.code == 404:
            return None
        raise
