"""`kajitori components` and the single-component commands (`kajitori sim`): cluster
components that talk to the API server as clients, on one event loop.

`kajitori server`/`up` start `kajitori components` as their child process; each part can also run
on its own against any cluster's kubeconfig.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from kajitori import sim


async def run(args: argparse.Namespace) -> None:
    """Run the requested components until SIGINT/SIGTERM; a component's failure ends all."""
    kubeconfig: Path = args.kubeconfig
    nodes = getattr(args, "sim_nodes", None) or getattr(args, "nodes", None)
    config = getattr(args, "sim_config", None) or getattr(args, "config", None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with asyncio.TaskGroup() as group:
        tasks = []
        if nodes or config:
            tasks.append(group.create_task(sim.run(kubeconfig=kubeconfig, nodes=nodes,
                                                   config=config)))
        await stop.wait()
        for task in tasks:
            task.cancel()
