"""Simulated nodes: Nodes that register, heartbeat and run pods without running anything.

A simulated node speaks the kubelet's API (Node registration and status, a Lease in
`kube-node-lease`, pods/status) so the control plane cannot tell it from a real one; one
process holds thousands. `run` is the entry point of `kajitori sim` and
`kajitori up --sim-nodes`; the pool config format is in docs/simulated-nodes.md.
"""

from kajitori.api.cidrset import RangeFull
from kajitori.client.nodelease import NodeLeaseSettings
from kajitori.sim.node import NodeStatusSettings, SimNode
from kajitori.sim.podlifecycle import (
    EXIT_CODE_ANNOTATION,
    RUN_SECONDS_ANNOTATION,
    PodLifecycleSettings,
)
from kajitori.sim.pool import NodePool, PoolConfigError, default_pools, load_pools
from kajitori.sim.simulator import Simulator, SimulatorSettings, run

__all__ = [
    "EXIT_CODE_ANNOTATION",
    "RUN_SECONDS_ANNOTATION",
    "NodeLeaseSettings",
    "NodePool",
    "NodeStatusSettings",
    "PodLifecycleSettings",
    "PoolConfigError",
    "RangeFull",
    "SimNode",
    "Simulator",
    "SimulatorSettings",
    "default_pools",
    "load_pools",
    "run",
]
