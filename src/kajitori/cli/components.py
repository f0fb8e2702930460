"""`kajitori components` and the single-component commands (`kajitori sim`): cluster
components that talk to the API server as clients, on one event loop.

`kajitori server`/`up` start `kajitori components` as their child process; each part can also run
on its own against any cluster's kubeconfig.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from kajitori import scheduler, sim
from kajitori.cli import controllermanager
from kajitori.controllers import manager

log = logging.getLogger(__name__)


def controller_manager_settings(args: argparse.Namespace) -> manager.ControllerManagerSettings:
    """The settings `--controllers` and the other kube-controller-manager flags ask for;
    each flag replaces one field of its section's defaults. Raises ValueError for settings
    the manager would refuse (`ControllerManagerSettings.validate`)."""
    defaults = manager.ControllerManagerSettings(controllers=args.controllers)
    sections = controllermanager.values(args)
    top = sections.pop(controllermanager.TOP_LEVEL, {})
    nested = {name: dataclasses.replace(getattr(defaults, name), **fields)
              for name, fields in sections.items()}
    settings = dataclasses.replace(defaults, **top, **nested)
    settings.validate()
    return settings


def _wanted(args: argparse.Namespace) -> list[Coroutine[Any, Any, None]]:
    """The components the command line asks for, as coroutines to run."""
    kubeconfig: Path = args.kubeconfig
    wanted: list[Coroutine[Any, Any, None]] = []
    if args.command == "controller-manager" or getattr(args, "controller_manager", False):
        wanted.append(manager.run(kubeconfig=kubeconfig,
                                  settings=controller_manager_settings(args)))
    if args.command == "scheduler" or getattr(args, "scheduler", False):
        wanted.append(scheduler.run(kubeconfig=kubeconfig,
                                    config=getattr(args, "scheduler_config", None),
                                    leader_elect=getattr(args, "leader_elect", True)))
    if args.command == "sim":
        wanted.append(sim.run(kubeconfig=kubeconfig, nodes=args.nodes, config=args.config))
    elif getattr(args, "sim_nodes", None) or getattr(args, "sim_config", None):
        wanted.append(sim.run(kubeconfig=kubeconfig, nodes=args.sim_nodes,
                              config=args.sim_config))
    return wanted


async def run(args: argparse.Namespace) -> None:
    """Run the requested components until SIGINT/SIGTERM. A component that fails ends all (its
    exception propagates); one that returns — the controller manager on losing its Lease — ends
    all too, as upstream's process would exit."""
    try:
        wanted = _wanted(args)
    except ValueError as exc:  # settings refused before anything starts: no traceback
        raise SystemExit(f"kajitori {args.command}: error: {exc}") from exc
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(component) for component in wanted]
        stopped = group.create_task(stop.wait())
        done, _ = await asyncio.wait([*tasks, stopped], return_when=asyncio.FIRST_COMPLETED)
        if stopped not in done:
            log.warning("a component ended on its own; stopping the others")
        for task in [*tasks, stopped]:
            task.cancel()
