"""Helpers for the controllers' tests: the real in-process APIServer behind a RESTClient, and
informers whose caches a test seeds, as upstream's controller tests seed their listers.

Controllers read only their caches and write only through the API, so a test seeds the cache
with exactly the state the controller should see, calls `sync(key)`, and asserts what the API
then holds, as a user would see it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import Any

from kajitori.api import errors
from kajitori.apiserver import server as server_
from kajitori.auth import authenticator, tokenfile
from kajitori.client import informer, rest
from kajitori.storage.sqlite import SQLiteStore

Obj = dict[str, Any]

TOKEN = "tok"
TOKEN_FILE = f'{TOKEN},admin,1,"system:masters"'


@contextlib.asynccontextmanager
async def open_client(path: Path) -> AsyncIterator[rest.RESTClient]:
    """A RESTClient talking to a fresh APIServer (SQLite, fsync off) as a cluster admin."""
    store = await SQLiteStore.open(str(path / "state.db"), synchronous="OFF")
    async with store:
        server = server_.APIServer(
            store=store, ssl_context=None, port=0,
            authenticator=authenticator.Authenticator(
                token_authenticators=[tokenfile.TokenFile.parse(TOKEN_FILE, source="t")],
                anonymous=False))
        await server.start()
        try:
            config = rest.Config(server=f"http://127.0.0.1:{server.port}", token=TOKEN)
            async with rest.RESTClient(config) as client:
                yield client
        finally:
            await server.stop()


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
