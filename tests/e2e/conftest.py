"""End-to-end fixtures: a real kajitori server and the real kubectl.

`cluster` is one server per test module (starting one takes about a second); tests that need a
pristine server or kill it use `kajitori.testing.running` themselves. Every kubectl gets
its own HOME so discovery caches never leak between servers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kajitori.testing import harness as testing_cluster

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


CONTROLLER_MODULES = frozenset({"test_kubectl_workflow", "test_quota_limits"})
"""Modules whose server also runs the controller manager, as every upstream cluster does; the
others assert that namespaces hold only what they put there."""


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[testing_cluster.Cluster]:
    data_dir = tmp_path_factory.mktemp("cluster")
    controllers = request.module.__name__.rsplit(".", 1)[-1] in CONTROLLER_MODULES
    with testing_cluster.running(data_dir, controllers=controllers) as started:
        yield started


@pytest.fixture(params=KUBECTLS, ids=lambda k: "pinned" if k == PINNED_KUBECTL else "dispatcher")
def kubectl(request: pytest.FixtureRequest, cluster: testing_cluster.Cluster,
            tmp_path: Path) -> Kubectl:
    return Kubectl(binary=request.param, kubeconfig=cluster.kubeconfig, home=tmp_path)
