"""Fixtures for the API server's tests: a real SQLite store and a real APIServer, in-process.

`async def` tests run on a fresh event loop of their own (the repository has no pytest-asyncio;
this is the approach of tests/unit/storage/conftest.py), under a deadline so that a lost event
fails the test instead of hanging it. A fixture that needs the loop returns an async context
manager that has not been entered; the hook below enters it inside the test's loop and exits it
afterwards, so a test simply asks for `store` or `api` and gets them open.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from kajitori.apiserver import server as server_
from kajitori.auth import authenticator, serviceaccount, tokenfile
from kajitori.storage.sqlite import SQLiteStore

"""Seconds an async test may run before it fails (it awaits events, never the clock)."""

TOKEN = "tok"
TOKEN_FILE = f'{TOKEN},admin,1,"system:masters"'
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@contextlib.asynccontextmanager
async def open_store(path: Path, *, watch_window: int = 10_000) -> AsyncIterator[SQLiteStore]:
    """A store on a fresh file; fsync off, as durability is tests/unit/storage's concern."""
    store = await SQLiteStore.open(str(path / "state.db"), synchronous="OFF",
                                   watch_window=watch_window)
    async with store:
        yield store


@dataclass
class API:
    """A started APIServer on a free port and a client session that sends the admin token."""

    server: server_.APIServer
    session: aiohttp.ClientSession

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def url(self, path: str) -> str:
        return self.base + path


@contextlib.asynccontextmanager
async def open_api(path: Path, *, watch_window: int = 10_000,
                   token_issuer: serviceaccount.TokenIssuer | None = None
                   ) -> AsyncIterator[API]:
    async with open_store(path, watch_window=watch_window) as store:
        server = server_.APIServer(
            store=store, ssl_context=None, port=0, token_issuer=token_issuer,
            authenticator=authenticator.Authenticator(
                token_authenticators=[tokenfile.TokenFile.parse(TOKEN_FILE, source="t")],
                anonymous=False))
        await server.start()
        try:
            async with aiohttp.ClientSession(headers=AUTH) as session:
                yield API(server, session)
        finally:
            await server.stop()


@pytest.fixture
def store(tmp_path: Path) -> contextlib.AbstractAsyncContextManager[SQLiteStore]:
    return open_store(tmp_path)


@pytest.fixture
def api(tmp_path: Path) -> contextlib.AbstractAsyncContextManager[API]:
    return open_api(tmp_path)


@pytest.fixture
def make_api(tmp_path: Path) -> Callable[..., contextlib.AbstractAsyncContextManager[API]]:
    """For tests that need a server built otherwise: `async with make_api(watch_window=2)`."""
    return functools.partial(open_api, tmp_path)
