"""Fixtures for the storage conformance suite: every backend runs every test in test_interface.py.

Mirrors upstream's staging/src/k8s.io/apiserver/pkg/storage/testing/store_tests.go, which each
backend runs against itself. `async def` tests run on a fresh event loop of their own, with a
deadline so that a lost event fails the test instead of hanging it. A test that asks for
`store` gets an open store (closed afterwards); one that must restart the store asks for
`backend` and opens it as often as it needs: every `open()` reaches the same database.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kajitori.storage import watchcache
from kajitori.storage.interface import Store
from kajitori.storage.sqlite import SQLiteStore

TEST_DEADLINE = 20.0
"""Seconds an async test may run before it fails (it waits on events, never on the clock)."""


@dataclass(frozen=True)
class Backend:
    """One storage backend under test; `open` returns a fresh connection to the same data."""

    name: str
    open: Callable[..., contextlib.AbstractAsyncContextManager[Store]]
    """open(*, watch_window=None): `watch_window` bounds the revisions a watch may resume
    from (None: the backend's default), so that tests can reach Compacted cheaply."""


def _sqlite(path: Path) -> Backend:
    @contextlib.asynccontextmanager
    async def open_(*, watch_window: int | None = None) -> AsyncIterator[Store]:
        window = watchcache.DEFAULT_WINDOW if watch_window is None else watch_window
        async with await SQLiteStore.open(str(path / "state.db"), watch_window=window) as store:
            yield store

    return Backend("sqlite", open_)


BACKENDS = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return BACKENDS[request.param](tmp_path)


@dataclass(frozen=True)
class _Unopened:
    backend: Backend


@pytest.fixture
def store(backend: Backend) -> _Unopened:
    """An open store of each backend; opened inside the test's own loop by the hook below."""
    return _Unopened(backend)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = inspect.signature(pyfuncitem.obj).parameters
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    asyncio.run(_run(pyfuncitem.obj, kwargs))
    return True


async def _run(test: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    async with contextlib.AsyncExitStack() as stack, asyncio.timeout(TEST_DEADLINE):
        for name, value in kwargs.items():
            if isinstance(value, _Unopened):
                kwargs[name] = await stack.enter_async_context(value.backend.open())
        await test(**kwargs)
