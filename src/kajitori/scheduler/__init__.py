"""kube-scheduler: places pending pods on nodes through the API (issue #4).

`run(kubeconfig=..., config=..., leader_elect=...)` is the component's entry point: it loads
the KubeSchedulerConfiguration (`config`), elects a leader on the Lease `kube-scheduler` in
kube-system (as upstream's `--leader-elect`), and runs `scheduler.Scheduler`. The pieces:
`framework` (extension points, statuses, FitError), `queue`, `cache`, `plugins/`,
`preemption`, `config`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from kajitori.client import leaderelection, rest
from kajitori.scheduler import config as config_
from kajitori.scheduler.config import ConfigError, SchedulerConfiguration
from kajitori.scheduler.scheduler import Scheduler

__all__ = ["ConfigError", "Scheduler", "SchedulerConfiguration", "run"]


async def run(*, kubeconfig: Path, config: Path | None = None,
              leader_elect: bool = True) -> None:
    """Schedule until cancelled. `config`: a KubeSchedulerConfiguration file (None: the
    defaults); `leader_elect` False runs at once without a Lease (a configuration's own
    `leaderElection.leaderElect: false` does too). Raises ConfigError before connecting for
    a configuration the scheduler cannot run (an unknown plugin says which)."""
    configuration = await asyncio.to_thread(config_.load, config)
    election = configuration.leader_election
    if not leader_elect:
        election = dataclasses.replace(election, leader_elect=False)
    client_config = await asyncio.to_thread(rest.load_kubeconfig, kubeconfig)
    async with rest.RESTClient(client_config) as client:
        scheduler = Scheduler(client, configuration=configuration)
        elector = leaderelection.LeaderElector(
            leaderelection.LeaseLock(client, namespace=election.resource_namespace,
                                     name=election.resource_name),
            identity=leaderelection.default_identity(), settings=election,
            release_on_cancel=True)
        await elector.run(scheduler.run)
