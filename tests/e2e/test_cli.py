"""The `kajitori` command as a user runs it: `up` with simulated nodes, and a clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

DEADLINE = 30.0
KUBECTL = str(Path(sys.executable).parent / "kubectl")  # the pinned one, from the venv


def _kubectl(kubeconfig: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(home)}
    return subprocess.run([KUBECTL, *args], capture_output=True, text=True, env=env,
                          timeout=30, check=False)


@pytest.mark.slow
def test_up_with_simulated_nodes_then_sigterm(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    process = subprocess.Popen(
        [sys.executable, "-m", "kajitori.cli.main", "up", "--data-dir", str(data_dir),
         "--https-port", "0", "--sim-nodes", "2", "--disable-agent"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first_line = process.stdout.readline() if process.stdout else ""
        assert first_line.startswith("Kajitori is up: the API server listens on https://")
        kubeconfig = data_dir / "admin.kubeconfig"
        deadline = time.monotonic() + DEADLINE
        ready: list[str] = []
        while time.monotonic() < deadline:
            result = _kubectl(kubeconfig, tmp_path, "get", "nodes", "--no-headers")
            ready = [line.split()[0] for line in result.stdout.splitlines()
                     if line.split()[1:2] == ["Ready"]]
            if len(ready) == 2:
                break
            time.sleep(0.2)
        assert sorted(ready) == ["sim-default-0", "sim-default-1"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
