"""A real cluster for tests: `with kajitori.testing.cluster() as kubeconfig: ...`.

Starts `kajitori server` as a child process on a free port with its data in a temporary
directory, waits until `/readyz` answers, yields the admin kubeconfig path, and stops the server
(SIGTERM, then SIGKILL) on exit. The same data directory can be handed to a second `cluster()`
to test restarts. The server runs its components (scheduler, controller manager) in its own child
process, as `kajitori server` always does; their logs go to `server.log` too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


@dataclass
class Cluster:
    kubeconfig: Path
    data_dir: Path
    server: str
    process: subprocess.Popen[bytes]

    def kill(self) -> None:
        """Stop the server as a crash would (SIGKILL)."""
        self.process.kill()
        self.process.wait()


def _server_url(kubeconfig: Path) -> str | None:
    try:
        doc = yaml.safe_load(kubeconfig.read_text())
    except (OSError, yaml.YAMLError):
        return None
    try:
        return str(doc["clusters"][0]["cluster"]["server"])
    except (KeyError, IndexError, TypeError):
        return None


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


NAMESPACE_CONTROLLERS = ("serviceaccount", "root-ca-cert-publisher")
"""What every namespace needs before it can hold pods: the `default` ServiceAccount (pods are
admitted only with an existing account) and the `kube-root-ca.crt` ConfigMap their token
volume projects."""


@contextlib.contextmanager
def running(data_dir: Path, *, extra_args: tuple[str, ...] = (),
            controllers: bool | tuple[str, ...] = False,
            metric_resolution: float | None = None) -> Iterator[Cluster]:
    """A server on `data_dir` (kept afterwards); the building block of `cluster()`. It runs the
    scheduler and a controller manager with `controllers`: True for all of them, False for the
    NAMESPACE_CONTROLLERS only (the default here, so that tests of the API alone see
    namespaces hold little more than they put there), or the names to run, `()` for no
    controller manager at all. `metric_resolution` is the seconds between the server's
    scrapes of node usage for `kubectl top` (`--metric-resolution`; None: its 15 s), e.g. 1.0
    for tests that wait for metrics."""
    kubeconfig = data_dir / "admin.kubeconfig"
    with contextlib.suppress(FileNotFoundError):
        kubeconfig.unlink()  # a fresh one tells us the new port
    component_args = _controller_args(controllers)
    if metric_resolution is not None:
        component_args += ("--metric-resolution", f"{metric_resolution:g}s")
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "kajitori.cli.main", "server", "--data-dir", str(data_dir),
         "--https-port", "0", *component_args, *extra_args],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        server = _wait_ready(process, kubeconfig, data_dir)
        yield Cluster(kubeconfig=kubeconfig, data_dir=data_dir, server=server, process=process)
    finally:
        _stop(process)
        log.close()


def _controller_args(controllers: bool | tuple[str, ...]) -> tuple[str, ...]:
    if controllers is True:
        return ()
    names = NAMESPACE_CONTROLLERS if controllers is False else controllers
    if not names:
        return ("--disable-controller-manager",)
    return ("--controllers", ",".join(names))


def _wait_ready(process: subprocess.Popen[bytes], kubeconfig: Path, data_dir: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = (data_dir / "server.log").read_text(errors="replace")
            raise RuntimeError(f"kajitori server exited with {process.returncode}:\n{output}")
        url = _server_url(kubeconfig) if kubeconfig.exists() else None
        if url:
            return url  # the kubeconfig is written once the server listens
        time.sleep(0.02)
    raise TimeoutError(f"kajitori server not ready after {START_TIMEOUT}s")


@contextlib.contextmanager
def cluster(*, extra_args: tuple[str, ...] = (),
            controllers: bool | tuple[str, ...] = True,
            metric_resolution: float | None = None) -> Iterator[Path]:
    """Start a cluster (API server, scheduler and, unless told otherwise, the controller
    manager) in a temporary directory and yield its kubeconfig path; `metric_resolution` as
    for `running`."""
    with tempfile.TemporaryDirectory(prefix="kajitori-") as tmp, \
            running(Path(tmp), extra_args=extra_args, controllers=controllers,
                    metric_resolution=metric_resolution) as started:
        yield started.kubeconfig
