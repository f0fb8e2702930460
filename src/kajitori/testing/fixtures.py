"""pytest fixtures for projects that test against Kajitori (registered as a pytest plugin).

`kajitori_kubeconfig` starts one real cluster per test session in a temporary directory and
gives its admin kubeconfig path; point kubectl or a client library at it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kajitori.testing import harness


@pytest.fixture(scope="session")
def kajitori_kubeconfig() -> Iterator[Path]:
    with harness.cluster() as kubeconfig:
        yield kubeconfig
