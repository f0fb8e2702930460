"""The `kajitori` command.

`kajitori server` runs the control plane; `kajitori up` runs everything this machine needs:
the control plane and a node agent (the kubelet with containerd), plus simulated nodes with
`--sim-nodes`. Both create the PKI and the admin kubeconfig on first start and find everything
as it was on a restart. `kajitori agent` joins this machine to a cluster as a node; `kajitori
sim` adds simulated nodes to any cluster; `kajitori images` loads images into the node.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path

from kajitori.cli import agent, controllermanager, images, logformat, server
from kajitori.controllers import cron

log = logging.getLogger("kajitori")

DEFAULT_PORT = 6443


def default_data_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/kajitori")
    return Path.home() / ".local" / "share" / "kajitori"


def _add_server_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where state, PKI and kubeconfig live (default: /var/lib/kajitori "
                             "as root, else ~/.local/share/kajitori)")
    parser.add_argument("--bind-address", default="127.0.0.1",
                        help="address the API server listens on (default 127.0.0.1)")
    parser.add_argument("--https-port", type=int, default=DEFAULT_PORT,
                        help="HTTPS port (default 6443; 0 picks a free one)")
    parser.add_argument("--write-kubeconfig", type=Path, default=None,
                        help="where to write the admin kubeconfig (default DIR/admin.kubeconfig)")
    parser.add_argument("--token-auth-file", type=Path, default=None,
                        help="static bearer tokens, CSV: token,user,uid,\"group1,group2\"")
    parser.add_argument("--disable-scheduler", action="store_true",
                        help="do not run the scheduler")
    parser.add_argument("--disable-controller-manager", action="store_true",
                        help="do not run the controller manager")
    controllermanager.add_controllers_flag(parser)
    parser.add_argument("--metric-resolution", type=_metric_resolution, metavar="duration",
                        default=server.DEFAULT_METRIC_RESOLUTION,
                        help="how often the nodes' usage is scraped for metrics.k8s.io, a "
                             "duration (metrics-server's flag; default 15s)")
    logformat.add_flags(parser)


def _metric_resolution(text: str) -> float:
    """Seconds of a `--metric-resolution` duration, in time.ParseDuration's words when not."""
    try:
        seconds = cron.parse_go_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    if seconds <= 0:
        raise argparse.ArgumentTypeError(
            f"metric-resolution must be greater than 0, but value {text} provided")
    return seconds


def _add_kubeconfig_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", type=Path, required=True,
                        help="the cluster to join, as an admin kubeconfig")
    logformat.add_flags(parser)


def _add_controller_manager_flags(parser: argparse.ArgumentParser) -> None:
    """`--controllers` and kube-controller-manager's other flags, upstream's names and
    defaults (`kajitori.cli.controllermanager`)."""
    controllermanager.add_flags(parser)


def _add_scheduler_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", dest="scheduler_config", type=Path, default=None,
                        help="a KubeSchedulerConfiguration file")
    parser.add_argument("--leader-elect", type=lambda v: v.lower() == "true", default=True,
                        help="elect a leader on the kube-scheduler Lease (default true)")


def _add_sim_flags(parser: argparse.ArgumentParser, *, prefix: str) -> None:
    parser.add_argument(f"--{prefix}nodes", type=int, default=None,
                        help="how many simulated nodes to run (default pool: 4 cpu, 16Gi, "
                             "110 pods)")
    parser.add_argument(f"--{prefix}config", type=Path, default=None,
                        help="node pools file (docs/simulated-nodes.md)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kajitori", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    _add_server_flags(commands.add_parser("server", help="run the control plane"))
    up = commands.add_parser("up", help="run a whole cluster on this machine")
    _add_server_flags(up)
    _add_sim_flags(up, prefix="sim-")
    up.add_argument("--disable-agent", action="store_true",
                    help="do not run a node agent (kubelet and containerd) on this machine")
    sim = commands.add_parser("sim", help="add simulated nodes to a cluster")
    _add_kubeconfig_flags(sim)
    _add_sim_flags(sim, prefix="")
    scheduler = commands.add_parser("scheduler", help="run the scheduler against a cluster")
    _add_kubeconfig_flags(scheduler)
    _add_scheduler_flags(scheduler)
    controller_manager = commands.add_parser(
        "controller-manager", help="run the controller manager against a cluster")
    _add_kubeconfig_flags(controller_manager)
    _add_controller_manager_flags(controller_manager)
    components_ = commands.add_parser(
        "components", help="run cluster components against a kubeconfig (as server and up do)")
    _add_kubeconfig_flags(components_)
    components_.add_argument("--scheduler", action="store_true", help="run the scheduler")
    components_.add_argument("--controller-manager", action="store_true",
                             help="run the controller manager")
    _add_controller_manager_flags(components_)
    _add_sim_flags(components_, prefix="sim-")
    images.add_parser(commands)
    agent.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        logformat.validate_and_apply(args)
    except ValueError as exc:  # as kube-scheduler: the error alone, exit 1
        print(exc, file=sys.stderr)
        return 1
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    if args.command == "images":
        return images.run(args)
    with contextlib.suppress(KeyboardInterrupt):
        if args.command in ("server", "up"):
            prepared = server.prepare(args, default_data_dir=default_data_dir())
            asyncio.run(server.serve(args, prepared, announce=args.command == "up"))
        elif args.command == "agent":
            asyncio.run(agent.run(args))
        else:
            # Imported here: the API server process never loads the components' code.
            from kajitori.cli import components

            asyncio.run(components.run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
