"""What the API server benchmarks share: a server in a child process, an HTTPS session with the
admin client certificate, ConfigMap creates, quantiles, and the server's memory and the CPU
used by the server, the benchmark's clients and anything else on the machine.

The benchmarks (`bench_startup.py`, `bench_creates.py`, `bench_list.py`, `bench_watch.py`)
import this module by its bare name: Python puts the script's directory, `bench/`, first on
`sys.path`. The server always runs as a child process (`kajitori.testing.running`), so
it has its own core and GIL and the figures are those a real client sees over HTTPS on
127.0.0.1. A `Target` is picklable, so benchmark child processes (`multiprocessing`, spawn)
build their own TLS context and sessions from it.

Times that cross processes come from `time.monotonic()`: CLOCK_MONOTONIC on Linux, one clock
for every process on the machine.

The benchmarks of components (`bench_controllers.py`, `bench_scheduler.py --e2e`) also share
simulated nodes in a `kajitori sim` child process (`simulator`), the waits for them and for the
`default` ServiceAccount, the components child of the server (`components_pid`) and the
storage revision (`storage_revision`), which counts the server's writes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import multiprocessing
import os
import ssl
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import yaml

from kajitori.testing.harness import running

CONFIGMAPS_PATH = "/api/v1/namespaces/default/configmaps"
JSON_CONTENT_TYPE = "application/json"
# What `kubectl get` sends to have the server render columns.
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io"
# A client gives up on one request after this long; benchmarks never hang on a stuck server.
REQUEST_TIMEOUT = 60.0
# /proc/<pid>/stat counts CPU time in clock ticks.
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
NODES_PATH = "/api/v1/nodes"
SERVICE_ACCOUNT_PATH = "/api/v1/namespaces/default/serviceaccounts/default"
REGISTRATION_WAIT = 900.0
"""Seconds to wait, at most, for simulated nodes to register or the `default` ServiceAccount
to appear."""
COMPONENTS_COMMAND = b"components"
"""The argument that tells the server's components child (`kajitori components`) apart."""
BENCH_METRIC_RESOLUTION = 86400.0
"""The server's `--metric-resolution` in benchmarks: one scrape, at its start. Every 15 s
(metrics-server's default) it would list every Node and read every simulated pod's usage from
the simulator; that load is not what a benchmark of the control plane measures."""
COMPONENTS_WAIT = 30.0
"""Seconds a server may take, once it listens, to start its components child."""


@dataclass(frozen=True)
class Target:
    """Where a running server listens and the kubeconfig holding the admin credentials."""

    url: str
    kubeconfig: Path

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context trusting the cluster CA and presenting the admin certificate.

        `ssl` loads a certificate chain from files only, so the embedded PEMs are written to
        a private temporary directory that is removed before returning.
        """
        doc = yaml.safe_load(self.kubeconfig.read_text())
        ca_pem = base64.b64decode(doc["clusters"][0]["cluster"]["certificate-authority-data"])
        user = doc["users"][0]["user"]
        context = ssl.create_default_context(cadata=ca_pem.decode("ascii"))
        with tempfile.TemporaryDirectory(prefix="kajitori-bench-") as tmp:
            cert, key = Path(tmp) / "admin.crt", Path(tmp) / "admin.key"
            cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
            key.write_bytes(base64.b64decode(user["client-key-data"]))
            context.load_cert_chain(cert, key)
        return context


@dataclass(frozen=True)
class Server:
    """A running `kajitori server` child process."""

    target: Target
    pid: int
    data_dir: Path


@contextlib.contextmanager
def server(*, extra_args: tuple[str, ...] = (),
           controllers: bool | tuple[str, ...] = False,
           metric_resolution: float = BENCH_METRIC_RESOLUTION) -> Iterator[Server]:
    """Start a server on a fresh temporary data directory; stop it and remove the directory on
    exit. `extra_args` go to `kajitori server` (the scheduler benchmark runs its own
    scheduler: `--disable-scheduler`); `controllers` are the controllers its components child
    runs, as `kajitori.testing.running` takes them (True: all, as `kajitori server` runs
    them; the default False: only those a namespace needs to hold pods); `metric_resolution`
    the seconds between its scrapes of node usage. Raises what `kajitori.testing.running`
    raises if it does not come up."""
    with tempfile.TemporaryDirectory(prefix="kajitori-bench-") as tmp, \
            running(Path(tmp), extra_args=extra_args, controllers=controllers,
                    metric_resolution=metric_resolution) as started:
        yield Server(target=Target(url=started.server, kubeconfig=started.kubeconfig),
                     pid=started.process.pid, data_dir=started.data_dir)


def session(target: Target, *, connections: int,
            context: ssl.SSLContext | None = None) -> aiohttp.ClientSession:
    """A keep-alive session to `target` holding at most `connections` connections.

    `context` lets many sessions share one TLS context (building one reads the kubeconfig);
    None builds one. Requests time out after REQUEST_TIMEOUT; streams pass their own timeout.
    """
    connector = aiohttp.TCPConnector(ssl=context or target.ssl_context(), limit=connections)
    return aiohttp.ClientSession(base_url=target.url, connector=connector,
                                 timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT))


def configmap(name: str) -> bytes:
    """The JSON body of a small ConfigMap with two data keys."""
    return orjson.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": name, "namespace": "default"},
                         "data": {"greeting": "hello", "target": name}})


async def create_configmap(http: aiohttp.ClientSession, name: str) -> None:
    """POST one ConfigMap and read the whole answer. Raises RuntimeError unless it is 201."""
    async with http.post(CONFIGMAPS_PATH, data=configmap(name),
                         headers={"Content-Type": JSON_CONTENT_TYPE}) as response:
        body = await response.read()
        if response.status != 201:
            raise RuntimeError(f"create {name}: HTTP {response.status}: {body[:300]!r}")


async def warm_up(http: aiohttp.ClientSession) -> None:
    """One authenticated GET, so the TLS handshake happens before anything is timed."""
    async with http.get("/version") as response:
        await response.read()


@dataclass(frozen=True)
class CPUUse:
    """CPU seconds used over one window of `wall` seconds: by the server, by the benchmark's
    clients, and by the whole machine. What the machine used beyond the two is other work
    that competed with the benchmark for the cores; figures taken under much of it are not
    the server's own."""

    wall: float
    server: float
    clients: float
    machine: float

    @property
    def other(self) -> float:
        return max(0.0, self.machine - self.server - self.clients)

    def describe(self) -> str:
        return (f"CPU in cores over {self.wall:.1f} s: server {self.server / self.wall:.2f}, "
                f"clients {self.clients / self.wall:.2f}, other processes "
                f"{self.other / self.wall:.2f} (machine has {os.cpu_count()})")

    def figures(self) -> dict[str, float]:
        return {key: round(seconds / self.wall, 2) for key, seconds in
                (("server_cores", self.server), ("client_cores", self.clients),
                 ("other_cores", self.other))}


@dataclass(frozen=True)
class CPUMark:
    """A point to measure CPU use from: `since()` gives the use up to now."""

    server_pid: int
    at: float
    server: float
    process: float
    machine: float

    @classmethod
    def now(cls, server_pid: int) -> CPUMark:
        return cls(server_pid=server_pid, at=time.monotonic(), server=cpu_seconds(server_pid),
                   process=time.process_time(), machine=machine_cpu_seconds())

    def since(self, *, child_clients: float = 0.0) -> CPUUse:
        """Use since this mark. The clients' share is this process's CPU time plus
        `child_clients`, the CPU seconds of client child processes, which they measure."""
        return CPUUse(wall=time.monotonic() - self.at,
                      server=cpu_seconds(self.server_pid) - self.server,
                      clients=time.process_time() - self.process + child_clients,
                      machine=machine_cpu_seconds() - self.machine)


@dataclass(frozen=True)
class CreateRun:
    """What `create_names` measured: each create's latency (seconds, send to last byte of the
    201), the `time.monotonic()` instants the timed creates began and ended, and the CPU use
    meanwhile (clients: this process)."""

    latencies: list[float]
    began: float
    ended: float
    cpu: CPUUse


async def create_names(target: Target, names: list[str], *, server_pid: int, workers: int,
                       start_at: float | None = None) -> CreateRun:
    """Create one ConfigMap per name from `workers` coroutines, each with its own keep-alive
    connection (connected before timing starts). `start_at` (a `time.monotonic()` instant)
    lets several processes start together; None starts as soon as all connections are up.
    Raises RuntimeError on the first create that is not a 201."""
    context = target.ssl_context()
    latencies: list[float] = []

    async def worker(http: aiohttp.ClientSession, mine: list[str]) -> None:
        for name in mine:
            begun = time.perf_counter()
            await create_configmap(http, name)
            latencies.append(time.perf_counter() - begun)

    async with contextlib.AsyncExitStack() as stack:
        sessions = [await stack.enter_async_context(session(target, connections=1,
                                                            context=context))
                    for _ in range(workers)]
        await asyncio.gather(*(warm_up(http) for http in sessions))
        if start_at is not None:
            await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        mark = CPUMark.now(server_pid)
        async with asyncio.TaskGroup() as group:
            for index, http in enumerate(sessions):
                group.create_task(worker(http, names[index::workers]))
        return CreateRun(latencies=latencies, began=mark.at, ended=time.monotonic(),
                         cpu=mark.since())


def summary_ms(values: list[float]) -> dict[str, float]:
    """p50, p90, p99 and max of `values` (seconds) in milliseconds, rounded to 0.01 ms."""
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": round(cuts[49] * 1e3, 2), "p90": round(cuts[89] * 1e3, 2),
            "p99": round(cuts[98] * 1e3, 2), "max": round(max(values) * 1e3, 2)}


def format_ms(summary: dict[str, float]) -> str:
    return ", ".join(f"{key} {value:.2f} ms" for key, value in summary.items())


def rss_mib(pid: int) -> float:
    """Resident set size of process `pid` (VmRSS in /proc/<pid>/status) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time process `pid` has used so far, in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_cpu_seconds() -> float:
    """CPU time all processes on the machine have used since boot, over all cores, in
    seconds: the busy fields of the first line of /proc/stat (all but idle and iowait)."""
    with open("/proc/stat") as stat:
        ticks = [int(field) for field in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def print_summary(name: str, figures: dict[str, Any]) -> None:
    """The one-line JSON summary each benchmark ends with."""
    print(orjson.dumps({"benchmark": name, **figures}).decode())


def run_simulator(kubeconfig: str, config: str, log: str) -> None:
    """The simulator child: `kajitori.sim.run` on the pool config file `config`, logging to
    the file `log`."""
    import logging

    from kajitori import sim

    logging.basicConfig(filename=log, level=logging.INFO,
                        format="%(levelname).1s%(asctime)s %(name)s] %(message)s")
    asyncio.run(sim.run(kubeconfig=Path(kubeconfig), config=Path(config)))


@contextlib.contextmanager
def simulator(target: Target, *, pools: list[dict[str, Any]], log: Path) -> Iterator[int]:
    """Run simulated nodes (`kajitori.sim`) on the pools `pools` (docs/simulated-nodes.md's
    format, as dicts) against `target` in a child process (own core and GIL, as `kajitori
    sim` beside a real server), logging to `log`; yield its pid; kill it on exit."""
    with tempfile.NamedTemporaryFile("wb", suffix=".json") as config:
        config.write(orjson.dumps({"pools": pools}))
        config.flush()
        process = multiprocessing.get_context("spawn").Process(
            target=run_simulator, args=(str(target.kubeconfig), config.name, str(log)))
        process.start()
        try:
            yield process.pid or 0
        finally:
            process.kill()
            process.join()


def components_pid(server_pid: int) -> int:
    """The pid of the server's `kajitori components` child (scheduler and controller
    manager), waiting for the server to start it (it does once it listens). Raises
    RuntimeError when none has started after COMPONENTS_WAIT seconds."""
    deadline = time.monotonic() + COMPONENTS_WAIT
    while time.monotonic() < deadline:
        for children in Path(f"/proc/{server_pid}/task").glob("*/children"):
            for pid in children.read_text().split():
                with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                    command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                    if COMPONENTS_COMMAND in command:
                        return int(pid)
        time.sleep(0.1)
    raise RuntimeError(f"server {server_pid} has no components child after "
                       f"{COMPONENTS_WAIT:.0f} s")


async def count_nodes(http: aiohttp.ClientSession) -> int:
    """How many Nodes the cluster has: one item listed plus the remaining count."""
    async with http.get(NODES_PATH, params={"limit": "1"}) as response:
        body = orjson.loads(await response.read())
    listed = len(body.get("items") or [])
    return listed + int((body.get("metadata") or {}).get("remainingItemCount") or 0)


async def wait_nodes(http: aiohttp.ClientSession, nodes: int) -> float:
    """Wait until at least `nodes` Nodes exist; return the seconds it took. Raises
    RuntimeError after REGISTRATION_WAIT."""
    began = time.monotonic()
    while await count_nodes(http) < nodes:
        if time.monotonic() - began > REGISTRATION_WAIT:
            raise RuntimeError(f"fewer than {nodes} nodes after {REGISTRATION_WAIT:.0f} s")
        await asyncio.sleep(1)
    return time.monotonic() - began


async def wait_service_account(http: aiohttp.ClientSession) -> None:
    """Wait for the serviceaccount controller to create `default/default`: pods are admitted
    only with an existing account. Raises RuntimeError after REGISTRATION_WAIT."""
    began = time.monotonic()
    while True:
        async with http.get(SERVICE_ACCOUNT_PATH) as response:
            await response.read()
            if response.status == 200:
                return
        if time.monotonic() - began > REGISTRATION_WAIT:
            raise RuntimeError(f"no {SERVICE_ACCOUNT_PATH} after {REGISTRATION_WAIT:.0f} s")
        await asyncio.sleep(1)


async def storage_revision(http: aiohttp.ClientSession) -> int:
    """The storage's cluster-wide revision now: the resourceVersion of a one-item list, which
    every write of any kind (leases and events included) moves on by one."""
    async with http.get(NODES_PATH, params={"limit": "1"}) as response:
        body = orjson.loads(await response.read())
    return int(body["metadata"]["resourceVersion"])
