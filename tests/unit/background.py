"""Running a component in the background of a test: the `run()` every controller, informer,
recorder and simulated node has, started for an `async with` block and cancelled after it.

Shared by the client and simulator tests (each imports `running` from here).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any


@contextlib.asynccontextmanager
async def running(component: Any) -> AsyncIterator[None]:
    """Run `component.run()` for the block's duration, then cancel it; a failure it had
    raised is raised here."""
    task = asyncio.create_task(component.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
