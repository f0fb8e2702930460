"""Test modules need unique basenames: the suite runs as one pytest session in rootdir mode
(tests import their helpers by bare name), where two `test_x.py` files collide."""

from __future__ import annotations

from collections import Counter
from pathlib import Path


def test_test_module_basenames_are_unique() -> None:
    names = Counter(p.name for p in Path(__file__).parent.rglob("test_*.py"))
    assert [name for name, count in names.items() if count > 1] == []
