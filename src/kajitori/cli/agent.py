"""`kajitori agent`: run a real node (the kubelet, with containerd) against a cluster.

`add_parser(subparsers)` adds the command with the kubelet's flag names; `run(args)` runs the
kubelet (`kajitori.kubelet.kubelet.run`) until SIGINT or SIGTERM. containerd and the pods keep
running after the agent stops, so a restarted agent picks them up again.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from pathlib import Path
from typing import Any

import yaml

from kajitori.cli import logformat
from kajitori.kubelet import settings as settings_

log = logging.getLogger(__name__)

DEFAULT_USER_DATA_DIR = Path.home() / ".local" / "share" / "kajitori"
REGISTRIES_FILE = "registries.yaml"
"""`<data-dir>/registries.yaml`: the default `--registries` (k3s's
/etc/rancher/k3s/registries.yaml)."""


def default_data_dir() -> Path:
    """As `kajitori server`'s: /var/lib/kajitori as root, else ~/.local/share/kajitori."""
    return settings_.DEFAULT_DATA_DIR if os.geteuid() == 0 else DEFAULT_USER_DATA_DIR


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """`kajitori agent` on the `add_subparsers()` object of the main parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "agent", help="run a node (kubelet and containerd) against a cluster")
    add_flags(parser)
    return parser


def add_flags(parser: argparse.ArgumentParser) -> None:
    """The agent's flags, for `kajitori agent` and for `kajitori up` (which passes
    `--kubeconfig` itself)."""
    parser.add_argument("--server", default=None,
                        help="the API server URL; overrides the kubeconfig's (optional)")
    parser.add_argument("--kubeconfig", type=Path, required=True,
                        help="kubeconfig to join the cluster with")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where the node keeps its state: DIR/kubelet, DIR/manifests "
                             "(default: /var/lib/kajitori as root, else "
                             "~/.local/share/kajitori)")
    parser.add_argument("--node-name", default=None,
                        help="the Node's name (default: the hostname, lowercased)")
    parser.add_argument("--node-ip", default="",
                        help="the node's InternalIP (default: the default route's address)")
    parser.add_argument("--container-runtime-endpoint", default="",
                        help="a running containerd's CRI socket (default: start containerd "
                             "under DIR/kubelet)")
    parser.add_argument("--pod-manifest-path", type=Path, default=None,
                        help="static pod manifests directory (default DIR/manifests)")
    parser.add_argument("--max-pods", type=int, default=110,
                        help="pods this node runs at most (default 110)")
    parser.add_argument("--cluster-dns", default="",
                        help="comma-separated DNS server IPs for pods (default: none)")
    parser.add_argument("--cluster-domain", default="cluster.local",
                        help="the cluster's DNS domain (default cluster.local)")
    parser.add_argument("--registries", type=Path, default=None,
                        help="registry mirrors and credentials, as k3s's registries.yaml "
                             "(default: DIR/registries.yaml if it exists)")
    logformat.add_flags(parser)


def settings_from(args: argparse.Namespace) -> settings_.KubeletSettings:
    """KubeletSettings from the parsed flags."""
    data_dir: Path = (args.data_dir or default_data_dir()).resolve()
    overrides: dict[str, Any] = {}
    if args.node_name:
        overrides["node_name"] = args.node_name.lower()
    registries: Path | None = args.registries or data_dir / REGISTRIES_FILE
    if args.registries is None and not registries.exists():
        registries = None
    return settings_.KubeletSettings(
        root_dir=data_dir / "kubelet",
        container_runtime_endpoint=args.container_runtime_endpoint,
        pod_manifest_path=(args.pod_manifest_path or data_dir / "manifests").resolve(),
        max_pods=args.max_pods,
        cluster_dns=tuple(filter(None, args.cluster_dns.split(","))),
        cluster_domain=args.cluster_domain,
        node_ip=args.node_ip,
        registries_config=registries.resolve() if registries else None,
        **overrides)


def kubeconfig_for(args: argparse.Namespace) -> Path:
    """The kubeconfig to use: `--kubeconfig`, or, with `--server`, a copy of it pointing at
    that server, written beside the node's state."""
    kubeconfig: Path = args.kubeconfig
    if not args.server:
        return kubeconfig
    doc = yaml.safe_load(kubeconfig.read_text())
    context = next(c["context"] for c in doc["contexts"]
                   if c["name"] == doc.get("current-context"))
    for cluster in doc["clusters"]:
        if cluster["name"] == context["cluster"]:
            cluster["cluster"]["server"] = args.server
            ca = cluster["cluster"].get("certificate-authority")
            if ca and not Path(ca).is_absolute():
                cluster["cluster"]["certificate-authority"] = str(kubeconfig.parent / ca)
    data_dir: Path = (args.data_dir or default_data_dir()).resolve()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    written = data_dir / "agent.kubeconfig"
    written.write_text(yaml.safe_dump(doc))
    written.chmod(0o600)
    return written


async def run(args: argparse.Namespace) -> None:
    """Run the kubelet until SIGINT/SIGTERM (then return), or until it fails (then raise)."""
    # gRPC's fork handlers only log a warning at each subprocess the kubelet starts (`ip`,
    # `ctr`): the agent never forks a process that uses gRPC. Read when grpc is imported.
    os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
    from kajitori.kubelet import kubelet  # the kubelet's imports only when it runs

    settings = settings_from(args)
    kubeconfig = await asyncio.to_thread(kubeconfig_for, args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with asyncio.TaskGroup() as group:
        agent = group.create_task(kubelet.run(kubeconfig=kubeconfig, settings=settings))
        stopped = group.create_task(stop.wait())
        await asyncio.wait([agent, stopped], return_when=asyncio.FIRST_COMPLETED)
        agent.cancel()
        stopped.cancel()
    log.info("agent stopped; containerd and the pods keep running")
