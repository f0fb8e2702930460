"""`kubectl top` on a real node: the API server scrapes the kubelet's `/stats/summary` and
serves `metrics.k8s.io` (issue #7's Done-when: `kubectl top pod memory-demo` reports about
150 MiB for the resource tutorial's stress pod, and `kubectl top node` shows the node).

The server scrapes at its default resolution (15 s) and the kubelet's cpu rates need two of
its samples (10 s apart), so the first figures take up to about half a minute.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from agentnode import AgentNode, skip_reason
from tutorialnode import MEMORY_DEMO, apply, tutorial_node

pytestmark = pytest.mark.node

METRICS_WAIT = 120.0
"""Seconds to wait for figures: two kubelet samples and a scrape, and stress catching its
memory held (it frees and touches it again every second)."""
MEBIBYTES = re.compile(r"^([0-9]+)Mi$")


@pytest.fixture(scope="module")
def node(tutorial_registry: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentNode]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with tutorial_node(tmp_path_factory.mktemp("kjttop"),
                       registries=tutorial_registry) as node:
        yield node


def _rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines()]


def _top_until(node: AgentNode, args: tuple[str, ...],
               holds: Callable[[list[list[str]]], bool]) -> list[list[str]]:
    """The rows of `kubectl top *args` once `holds(rows)` is true; fails with the last
    output after METRICS_WAIT."""
    deadline = time.monotonic() + METRICS_WAIT
    output = ""
    while time.monotonic() < deadline:
        output = node.kubectl("top", *args, check=False)
        rows = _rows(output)
        if rows and holds(rows):
            return rows
        time.sleep(2)
    raise AssertionError(f"kubectl top {' '.join(args)}: {output!r}\n{node.log_tail()}")


def _mebibytes(cell: str) -> int:
    match = MEBIBYTES.match(cell)
    return int(match.group(1)) if match else -1


def test_top_pod_memory_demo_reports_about_150_mib_and_top_node_the_node(
        node: AgentNode) -> None:
    apply(node, MEMORY_DEMO)
    rows = _top_until(node, ("pod", "memory-demo"),
                      lambda rows: len(rows) == 2 and 140 <= _mebibytes(rows[1][2]) <= 180)
    assert rows[0] == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert rows[1][0] == "memory-demo"
    assert rows[1][1].endswith("m")

    containers = _top_until(node, ("pod", "memory-demo", "--containers"),
                            lambda rows: len(rows) == 2 and 140 <= _mebibytes(rows[1][3]) <= 180)
    assert containers[0] == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert containers[1][:2] == ["memory-demo", "memory-demo-ctr"]

    nodes = _top_until(node, ("node",), lambda rows: len(rows) == 2)
    assert nodes[0] == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    name, cpu, cpu_percent, memory, memory_percent = nodes[1]
    assert name == node.name
    assert cpu.endswith("m")
    assert cpu_percent.endswith("%")
    # The node runs memory-demo, so it uses at least as much.
    assert _mebibytes(memory) >= 140
    assert memory_percent.endswith("%")
