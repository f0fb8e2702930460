"""Helpers for the controllers' tests: the real in-process APIServer behind a RESTClient
(`open_client`, from tests/unit/inprocessserver.py), and informers whose caches a test seeds
(`seeded`, from tests/unit/seededinformer.py), as upstream's controller tests seed listers.

Controllers read only their caches and write only through the API, so a test seeds the cache
with exactly the state the controller should see, calls `sync(key)`, and asserts what the API
then holds, as a user would see it.
"""

from __future__ import annotations

from typing import Any

from inprocessserver import open_client
from seededinformer import seeded

from kajitori.api import errors
from kajitori.client import rest

Obj = dict[str, Any]

__all__ = ["get_or_none", "open_client", "path", "seeded"]


def path(group: str, version: str, plural: str, *, namespace: str = "", name: str = "") -> str:
    return rest.resource_path(group, version, plural, namespace=namespace, name=name)


async def get_or_none(client: rest.RESTClient, at: str) -> Obj | None:
    try:
        return await client.get(at)
    except errors.StatusError as exc:
        if exc.code == 404:
            return None
        raise
