"""Fixtures for the controllers' tests: `client`, a RESTClient on a fresh in-process server."""

from __future__ import annotations

import contextlib
from pathlib import Path

import fakecluster
import pytest

from kajitori.client import rest


@pytest.fixture
def client(tmp_path: Path) -> contextlib.AbstractAsyncContextManager[rest.RESTClient]:
    return fakecluster.open_client(tmp_path)
