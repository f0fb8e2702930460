"""Fixtures for the storage conformance suite: every backend runs every test in test_interface.py.

Mirrors upstream's staging/src/k8s.io/apiserver/pkg/storage/testing/store_tests.go, which each
backend runs against itself. `async def` tests run as tests/unit/conftest.py runs them. A test
that asks for `store` gets an open store (closed afterwards); one that must restart the store
asks for `backend` and opens it as often as it needs: every `open()` reaches the same database.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from kajitori.storage import watchcache
from kajitori.storage.interface import Store
from kajitori.storage.sqlite import SQLiteStore


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


@pytest.fixture
def store(backend: Backend) -> contextlib.AbstractAsyncContextManager[Store]:
    """An open store of each backend, entered inside the test's own loop (tests/unit/conftest.py
    enters async context managers given as fixture values)."""
    return backend.open()
