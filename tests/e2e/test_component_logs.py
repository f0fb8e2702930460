"""Component logs as a user reads them on stderr: klog's text lines by default, one JSON object
per line with `--logging-format=json`, the same format from the children `kajitori server`
runs, and the structured `"Started controller" controller="..."` message in both forms."""

from __future__ import annotations

import contextlib
import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from kubectlrunner import eventually

from kajitori.testing import harness as testing_cluster

KAJITORI = [sys.executable, "-m", "kajitori.cli.main"]
KLOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d{6}\s+\d+ [\w./-]+:\d+\] .*")
STRUCTURED = re.compile(r'\] "[^"]+"( \w+="[^"]*")+$')
CALLER = re.compile(r"^[\w./-]+\.py:\d+$")
STARTED = "Started controller"
WAIT = 30.0


@contextlib.contextmanager
def controller_manager(cluster: testing_cluster.Cluster, lease: str,
                       *flags: str) -> Iterator[queue.Queue[str]]:
    """`kajitori controller-manager` (the serviceaccount controller, its own Lease) with
    `flags`; yields the lines of its stderr as they come."""
    process = subprocess.Popen(
        [*KAJITORI, "controller-manager", "--kubeconfig", str(cluster.kubeconfig),
         "--controllers=serviceaccount", f"--leader-elect-resource-name={lease}", *flags],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None
    reader = threading.Thread(target=_read, args=(process.stderr, lines), daemon=True)
    reader.start()
    try:
        yield lines
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(5)


def _read(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def lines_until(lines: queue.Queue[str], needle: str) -> list[str]:
    """Every line up to and including the first that contains `needle`."""
    seen: list[str] = []
    deadline = time.monotonic() + WAIT
    while not seen or needle not in seen[-1]:
        try:
            seen.append(lines.get(timeout=max(deadline - time.monotonic(), 0.01)).rstrip("\n"))
        except queue.Empty:
            raise AssertionError(
                f"no {needle!r} after {WAIT:.0f} s in:\n" + "\n".join(seen)) from None
    return seen


def assert_component_base_json(lines: list[str]) -> list[dict[str, object]]:
    entries = [json.loads(line) for line in lines]
    now_ms = time.time() * 1000
    for entry in entries:
        assert isinstance(entry["ts"], float)
        assert now_ms - 120_000 < entry["ts"] <= now_ms  # epoch milliseconds, as upstream's
        assert CALLER.match(entry["caller"]), entry
        assert isinstance(entry["msg"], str)
        assert isinstance(entry.get("v", 0), int)
    return entries


def test_json_with_logging_format_json(cluster: testing_cluster.Cluster) -> None:
    with controller_manager(cluster, "logs-json-e2e", "--logging-format=json", "-v", "2") as out:
        entries = assert_component_base_json(lines_until(out, STARTED))
    started = entries[-1]
    assert {key: started[key] for key in ("msg", "v", "controller")} == \
        {"msg": STARTED, "v": 0, "controller": "serviceaccount-controller"}
    assert str(started["caller"]).startswith("controllers/manager.py:")


def test_klog_text_by_default(cluster: testing_cluster.Cluster) -> None:
    with controller_manager(cluster, "logs-text-e2e") as out:
        lines = lines_until(out, STARTED)
    assert [line for line in lines if not KLOG_LINE.match(line)] == []
    assert STRUCTURED.search(lines[-1])
    assert " manager.py:" in lines[-1]
    assert lines[-1].endswith(f'] "{STARTED}" controller="serviceaccount-controller"')


def test_server_hands_the_format_to_its_components(tmp_path: Path) -> None:
    with testing_cluster.running(tmp_path, extra_args=("--logging-format=json", "-v=2")):
        log = tmp_path / "server.log"
        eventually(lambda: STARTED in log.read_text(), timeout=WAIT, what="controllers started")
        entries = assert_component_base_json(log.read_text().splitlines())
    callers = {str(entry["caller"]).split("/")[0] for entry in entries}
    assert {"cli", "controllers"} <= callers  # the server's own lines and its child's
