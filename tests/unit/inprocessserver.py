"""The real APIServer, in-process, for unit tests that need one: a fresh SQLite store (fsync
off, as durability is tests/unit/storage's concern), a plain-HTTP server on a free port that
knows one cluster-admin bearer token, and a `rest.RESTClient` that sends it.

Shared by the apiserver, client and controllers tests (each directory's conftest or helper
module re-exports what it uses), so all of them test against one way of starting a server.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from kajitori.apiserver import server as server_
from kajitori.auth import authenticator, serviceaccount, tokenfile
from kajitori.client import rest
from kajitori.storage import errors as storage_errors
from kajitori.storage import watchcache
from kajitori.storage.sqlite import SQLiteStore

TOKEN = "tok"
TOKEN_FILE = f'{TOKEN},admin,1,"system:masters"'
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@contextlib.asynccontextmanager
async def open_store(path: Path, *, watch_window: int = watchcache.DEFAULT_WINDOW
                     ) -> AsyncIterator[SQLiteStore]:
    """A store on a fresh file under `path`, keeping `watch_window` events in memory."""
    store = await SQLiteStore.open(str(path / "state.db"), synchronous="OFF",
                                   watch_window=watch_window)
    async with store:
        yield store


@contextlib.asynccontextmanager
async def serving(store: SQLiteStore, *, token_issuer: serviceaccount.TokenIssuer | None = None
                  ) -> AsyncIterator[server_.APIServer]:
    """A started APIServer over `store` that admits `TOKEN` as a cluster admin and nobody
    anonymously; stopped when the block ends."""
    server = server_.APIServer(
        store=store, ssl_context=None, port=0, token_issuer=token_issuer,
        authenticator=authenticator.Authenticator(
            token_authenticators=[tokenfile.TokenFile.parse(TOKEN_FILE, source="t")],
            anonymous=False))
    await server.start()
    await _create_default_service_account(store)
    try:
        yield server
    finally:
        await server.stop()


async def _create_default_service_account(store: SQLiteStore) -> None:
    """Pods are admitted only with an existing ServiceAccount; no controller runs here to make
    `default/default`, so the server starts with it, as a cluster's default namespace has it."""
    account = {"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "default", "namespace": "default",
                            "uid": str(uuid.uuid4()),
                            "creationTimestamp": "2026-01-01T00:00:00Z"}}
    with contextlib.suppress(storage_errors.KeyExists):
        await store.create("/registry/serviceaccounts/default/default", account)


@contextlib.asynccontextmanager
async def open_client(path: Path) -> AsyncIterator[rest.RESTClient]:
    """A RESTClient talking to a fresh APIServer (store under `path`) as a cluster admin."""
    async with open_store(path) as store, serving(store) as server:
        config = rest.Config(server=f"http://127.0.0.1:{server.port}", token=TOKEN)
        async with rest.RESTClient(config) as client:
            yield client
