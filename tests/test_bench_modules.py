"""Every benchmark still imports: they run by hand (`make bench`), not in the suite, so a
moved or renamed module would otherwise break them silently."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.parametrize("module", sorted(p.stem for p in BENCH.glob("bench_*.py")))
def test_benchmark_imports(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    imported = importlib.import_module(module)
    assert callable(imported.main)
    sys.modules.pop(module, None)
