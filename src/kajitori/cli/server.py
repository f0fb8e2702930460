"""`kajitori server` and `kajitori up`: the API server in this process, the other components
in child processes.

The API server gets a core to itself (the GIL makes one process one core): one child runs
`kajitori components`, which holds the controller manager, the scheduler and any simulated
nodes on one event loop; with `up`, another runs `kajitori agent`, this machine's real node
(the kubelet and its containerd), as k3s's server runs its agent. The children start once the
admin kubeconfig is written, are restarted with back-off if they exit, and are stopped
(SIGTERM, then SIGKILL) before the server. The agent leaves containerd and the pods running
when it stops, so a restart of `up` finds them again.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from kajitori.apiserver import metricsscraper
from kajitori.apiserver import server as apiserver
from kajitori.apiserver.handlers import nodeproxy
from kajitori.auth import authenticator as authn
from kajitori.auth import serviceaccount, tokenfile
from kajitori.cli import logformat
from kajitori.pki import certs, kubeconfig, secureserving
from kajitori.storage import sqlite

log = logging.getLogger("kajitori")

SERVICE_IP = "10.96.0.1"
COMPONENTS_STOP_TIMEOUT = 10.0
RESTART_BACKOFF_INITIAL = 1.0
RESTART_BACKOFF_MAX = 30.0
RESTART_BACKOFF_RESET = 60.0
DEFAULT_METRIC_RESOLUTION = metricsscraper.DEFAULT_METRIC_RESOLUTION
NODE_RUNTIME_BINARIES = ("/usr/bin/containerd", "/usr/sbin/runc", "/usr/lib/cni/bridge")
"""Debian's containerd, runc and containernetworking-plugins, which a real node runs on."""


@dataclass(frozen=True)
class Prepared:
    """What the server needs from disk, read before the event loop starts."""

    data_dir: Path
    pki: certs.PKIPaths
    kubeconfig: Path
    token_authenticators: list[authn.TokenAuthenticator]
    token_issuer: serviceaccount.TokenIssuer


def prepare(args: argparse.Namespace, *, default_data_dir: Path) -> Prepared:
    """Create the data directory and PKI on first start; load keys and token files."""
    data_dir: Path = (args.data_dir or default_data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    extra = [] if args.bind_address in ("127.0.0.1", "0.0.0.0", "::") else [args.bind_address]
    pki = certs.ensure_pki(data_dir, hostname=socket.gethostname(), service_ip=SERVICE_IP,
                           extra_sans=extra)
    token_authenticators: list[authn.TokenAuthenticator] = [
        serviceaccount.ServiceAccountTokenAuthenticator(public_key_pem=pki.sa_pub.read_bytes())]
    if args.token_auth_file:
        token_authenticators.append(tokenfile.TokenFile.load(args.token_auth_file))
    return Prepared(data_dir=data_dir, pki=pki,
                    kubeconfig=args.write_kubeconfig or data_dir / "admin.kubeconfig",
                    token_authenticators=token_authenticators,
                    token_issuer=serviceaccount.TokenIssuer.from_files(pki.sa_key, pki.sa_pub))


def components_args(args: argparse.Namespace, kubeconfig_path: Path) -> list[str]:
    """The `kajitori components` command line for what this server runs besides itself;
    empty when it runs nothing else."""
    wanted: list[str] = []
    if not args.disable_controller_manager:
        wanted += ["--controller-manager", "--controllers", ",".join(args.controllers)]
    if not args.disable_scheduler:
        wanted.append("--scheduler")
    if getattr(args, "sim_nodes", None):
        wanted += ["--sim-nodes", str(args.sim_nodes)]
    if getattr(args, "sim_config", None):
        wanted += ["--sim-config", str(args.sim_config)]
    if not wanted:
        return []
    return [sys.executable, "-m", "kajitori.cli.main", "components", "--kubeconfig",
            str(kubeconfig_path), *wanted, *logformat.child_flags(args)]


def agent_args(args: argparse.Namespace, prepared: Prepared) -> list[str]:
    """The `kajitori agent` command line `up` runs for this machine's node; empty for
    `server`, with `--disable-agent`, or where the node cannot run (not root, no containerd),
    which is logged with what to do."""
    if args.command != "up" or args.disable_agent:
        return []
    missing = node_runtime_missing()
    if missing:
        log.warning("no node agent on this machine: %s; run as root with the node runtime "
                    "installed (see README), or use --sim-nodes N for simulated nodes", missing)
        return []
    return [sys.executable, "-m", "kajitori.cli.main", "agent", "--kubeconfig",
            str(prepared.kubeconfig), "--data-dir", str(prepared.data_dir),
            *logformat.child_flags(args)]


def node_runtime_missing() -> str:
    """What keeps a real node from running here, or "" when nothing does."""
    if os.geteuid() != 0:
        return "the kubelet needs root"
    missing = [binary for binary in NODE_RUNTIME_BINARIES if not Path(binary).exists()]
    return f"{', '.join(missing)} not installed" if missing else ""


async def _supervise(command: list[str], children: list[asyncio.subprocess.Process]) -> None:
    """Keep a child running: one that exits is started again after a back-off (1 s doubling
    to 30 s, reset after a minute of health), as a kubelet restarts a static pod, so a
    crashing component never leaves the cluster without controllers or its node for good."""
    delay = RESTART_BACKOFF_INITIAL
    loop = asyncio.get_running_loop()
    while True:
        child = await asyncio.create_subprocess_exec(*command)
        children[:] = [child]
        started = loop.time()
        code = await child.wait()
        if loop.time() - started > RESTART_BACKOFF_RESET:
            delay = RESTART_BACKOFF_INITIAL
        log.error("%s exited with %s; restarting it in %.0f s", " ".join(command[3:5]), code,
                  delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, RESTART_BACKOFF_MAX)


@contextlib.asynccontextmanager
async def supervised(command: list[str]) -> AsyncIterator[None]:
    """Run (and keep running) a child for the duration of the block; nothing when `command`
    is empty. It shares this process's stderr, so its logs appear with the server's."""
    if not command:
        yield None
        return
    children: list[asyncio.subprocess.Process] = []
    supervisor = asyncio.create_task(_supervise(command, children))
    try:
        yield None
    finally:
        supervisor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await supervisor
        for child in children:
            if child.returncode is None:
                child.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(child.wait(), COMPONENTS_STOP_TIMEOUT)
                except TimeoutError:
                    child.kill()
                    await child.wait()


GC_THRESHOLDS = (700, 10, 1000)
"""The API server's garbage collector: young generations as CPython's default, full
collections ten times rarer. Every request allocates (and frees) whole decoded objects, and
with the default (700, 10, 10) full collections of a heap holding every object of a large
cluster cost a quarter of the server's CPU in bench/bench_scheduler.py --e2e (26 full
collections in 8,000 pods); with these, one, and 21 % less CPU per pod, memory unchanged."""


async def serve(args: argparse.Namespace, prepared: Prepared, *, announce: bool) -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()  # what start-up loaded (modules, schemas) stays out of every collection
    store = await sqlite.SQLiteStore.open(str(prepared.data_dir / "state.db"))
    advertise = "127.0.0.1" if args.bind_address in ("0.0.0.0", "::") else args.bind_address
    server = apiserver.APIServer(
        store=store, ssl_context=secureserving.server_ssl_context(prepared.pki),
        authenticator=authn.Authenticator(token_authenticators=prepared.token_authenticators,
                                          anonymous=False),
        token_issuer=prepared.token_issuer,
        bind_address=args.bind_address, port=args.https_port, advertise_address=advertise,
        kubelet_client=nodeproxy.KubeletClient(
            cert_file=prepared.pki.apiserver_kubelet_client_cert,
            key_file=prepared.pki.apiserver_kubelet_client_key),
        metric_resolution=args.metric_resolution)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with server.running():
            url = f"https://{advertise}:{server.port}"
            await asyncio.to_thread(kubeconfig.write_admin_kubeconfig, prepared.kubeconfig,
                                    server=url, pki=prepared.pki)
            log.info("serving the Kubernetes API on %s", url)
            async with supervised(components_args(args, prepared.kubeconfig)), \
                    supervised(agent_args(args, prepared)):
                if announce:
                    print(f"Kajitori is up: the API server listens on {url}\n"
                          f"To use it:\n  export KUBECONFIG={prepared.kubeconfig}\n"
                          "  kubectl get nodes", flush=True)
                await stop.wait()
    finally:
        await store.close()
