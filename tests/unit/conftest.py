"""Unit-test plumbing: `async def` tests run on an event loop of their own.

Each async test runs under `asyncio.run` with a deadline, so a lost event fails the test instead
of hanging it. Fixture values that are async context managers (an open store, a running API
server) are entered inside that loop and exited after the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Callable
from typing import Any

import pytest

TEST_DEADLINE = 20.0
"""Seconds an async test may run before it fails (tests wait on events, never on the clock)."""


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
            if isinstance(value, contextlib.AbstractAsyncContextManager):
                kwargs[name] = await stack.enter_async_context(value)
        await test(**kwargs)
