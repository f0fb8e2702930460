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
from inprocessserver import AUTH, open_store, serving

from kajitori.apiserver import server as server_
from kajitori.auth import serviceaccount
from kajitori.storage.sqlite import SQLiteStore


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
    async with open_store(path, watch_window=watch_window) as store, \
            serving(store, token_issuer=token_issuer) as server, \
            aiohttp.ClientSession(headers=AUTH) as session:
        yield API(server, session)


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
