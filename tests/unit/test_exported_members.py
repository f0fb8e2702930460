"""Packages re-export only what their `__all__` lists, and every listed name exists."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ["kajitori.client", "kajitori.sim", "kajitori.storage", "kajitori.testing"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist(name: str) -> None:
    package = importlib.import_module(name)
    assert package.__all__
    for member in package.__all__:
        assert hasattr(package, member), f"{name}.{member}"


def test_testing_cluster_is_the_context_manager() -> None:
    import kajitori.testing

    assert callable(kajitori.testing.cluster)
    assert kajitori.testing.cluster.__module__ == "kajitori.testing.harness"
