"""Benchmark of API server start-up: time from process spawn to `/readyz` 200, and idle memory.

Run: .venv/bin/python bench/bench_startup.py. It prints, never asserts: timings depend on the
machine. A cold start uses a fresh data directory, so it includes generating the PKI and
creating the database; a warm start reuses one. Each is the median of RUNS starts, measured from
just before `subprocess.Popen` (interpreter start-up and imports included) to the first 200
from `/readyz`. Then the idle RSS (VmRSS) of the server process IDLE_SECONDS after it is ready
with no load. `bench_creates.py` prints the RSS after its load. It also prints the CPU used by
other processes on the machine during the starts: figures taken while other work competed for
the cores are not the server's own.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import resource
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import apiclient

RUNS = 5
IDLE_SECONDS = 5.0
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
POLL_INTERVAL = 0.005
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def probe_context() -> ssl.SSLContext:
    """/readyz needs no credentials, and on a cold start the CA to verify against does not
    exist before the server has made it: the probe checks readiness, not identity."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def ready(port: int, context: ssl.SSLContext) -> bool:
    connection = http.client.HTTPSConnection(HOST, port, context=context, timeout=1.0)
    try:
        connection.request("GET", "/readyz")
        return connection.getresponse().status == 200
    except OSError:
        return False  # not listening yet (refused) or TLS not up yet
    finally:
        connection.close()


@contextlib.contextmanager
def started(data_dir: Path) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """A server on `data_dir` and the seconds from spawn to its first `/readyz` 200; stopped
    (SIGTERM, then SIGKILL) on exit. Raises RuntimeError if it exits or is not ready in
    START_TIMEOUT."""
    port, context = free_port(), probe_context()
    with open(data_dir / "server.log", "ab") as log:
        begun = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "kajitori.cli.main", "server", "--data-dir", str(data_dir),
             "--https-port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            while not ready(port, context):
                if process.poll() is not None:
                    raise RuntimeError(f"server exited with {process.returncode}; "
                                       f"see {data_dir / 'server.log'}")
                if time.perf_counter() - begun > START_TIMEOUT:
                    raise RuntimeError(f"server not ready after {START_TIMEOUT:.0f} s")
                time.sleep(POLL_INTERVAL)
            yield process, time.perf_counter() - begun
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def children_cpu_seconds() -> float:
    """CPU time of this process's exited and reaped children: the servers, start to exit."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def start_times(data_dirs: list[Path]) -> tuple[list[float], apiclient.CPUUse]:
    """Start and stop a server on each directory in turn: each start's seconds to ready, and
    the CPU used meanwhile by the servers (start to exit), this process and anything else."""
    times: list[float] = []
    at, own, machine = time.monotonic(), time.process_time(), apiclient.machine_cpu_seconds()
    servers = children_cpu_seconds()
    for data_dir in data_dirs:
        with started(data_dir) as (_, seconds):
            times.append(seconds)
    return times, apiclient.CPUUse(wall=time.monotonic() - at,
                                   server=children_cpu_seconds() - servers,
                                   clients=time.process_time() - own,
                                   machine=apiclient.machine_cpu_seconds() - machine)


def report(label: str, times: list[float], cpu: apiclient.CPUUse) -> None:
    print(f"{label} to /readyz 200: median {statistics.median(times) * 1e3:.0f} ms of {RUNS} "
          f"({', '.join(f'{seconds * 1e3:.0f}' for seconds in times)} ms)")
    print(f"  {cpu.describe()}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="kajitori-bench-") as tmp:
        fresh = [Path(tmp) / f"cold-{run}" for run in range(RUNS)]
        for data_dir in fresh:
            data_dir.mkdir()
        cold, cold_cpu = start_times(fresh)
        report("cold start (fresh data dir, PKI generated)", cold, cold_cpu)
        warm, warm_cpu = start_times([fresh[0]] * RUNS)
        report("warm start (same data dir)", warm, warm_cpu)
        with started(fresh[0]) as (process, _):
            at_ready = apiclient.rss_mib(process.pid)
            time.sleep(IDLE_SECONDS)
            idle = apiclient.rss_mib(process.pid)
        print(f"server RSS: {at_ready:.1f} MiB when ready, "
              f"{idle:.1f} MiB idle {IDLE_SECONDS:.0f} s later")
    apiclient.print_summary("startup", {
        "cold_start_ms": round(statistics.median(cold) * 1e3),
        "warm_start_ms": round(statistics.median(warm) * 1e3),
        "idle_rss_mib": round(idle, 1), "cold_other_cores": cold_cpu.figures()["other_cores"],
        "warm_other_cores": warm_cpu.figures()["other_cores"]})


if __name__ == "__main__":
    main()
