"""The in-tree plugins and the default profile (upstream's `plugins/registry.go`
NewInTreeRegistry and `apis/config/v1/default_plugins.go` getDefaultPlugins).

`IN_TREE` maps a plugin name to its factory `(args, handle) -> plugin`. `DEFAULT_MULTI_POINT`
is the default profile's multiPoint list in upstream's order, which is also the order each
extension point runs its plugins in, with upstream's score weights. Plugins upstream enables
but that are not built here are listed in `NOT_BUILT`: a configuration naming them is accepted
and they are skipped (see `config.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kajitori.scheduler.plugins import (
    defaultbinder,
    defaultpreemption,
    imagelocality,
    interpodaffinity,
    nodeaffinity,
    nodename,
    nodeports,
    noderesourcesbalancedallocation,
    noderesourcesfit,
    nodeunschedulable,
    podtopologyspread,
    prioritysort,
    tainttoleration,
    volumebinding,
    volumerestrictions,
    volumezone,
)

Factory = Callable[[dict[str, Any] | None, Any], Any]

IN_TREE: dict[str, Factory] = {
    prioritysort.NAME: prioritysort.PrioritySort,
    nodeunschedulable.NAME: nodeunschedulable.NodeUnschedulable,
    nodename.NAME: nodename.NodeName,
    tainttoleration.NAME: tainttoleration.TaintToleration,
    nodeaffinity.NAME: nodeaffinity.NodeAffinity,
    nodeports.NAME: nodeports.NodePorts,
    noderesourcesfit.NAME: noderesourcesfit.NodeResourcesFit,
    podtopologyspread.NAME: podtopologyspread.PodTopologySpread,
    interpodaffinity.NAME: interpodaffinity.InterPodAffinity,
    defaultpreemption.NAME: defaultpreemption.DefaultPreemption,
    noderesourcesbalancedallocation.NAME:
        noderesourcesbalancedallocation.NodeResourcesBalancedAllocation,
    defaultbinder.NAME: defaultbinder.DefaultBinder,
    volumerestrictions.NAME: volumerestrictions.VolumeRestrictions,
    volumebinding.NAME: volumebinding.VolumeBinding,
    volumezone.NAME: volumezone.VolumeZone,
    imagelocality.NAME: imagelocality.ImageLocality,
}

NOT_BUILT = frozenset({"SchedulingGates", "NodeVolumeLimits", "DynamicResources"})

DEFAULT_MULTI_POINT: list[tuple[str, int]] = [
    ("SchedulingGates", 0),
    (prioritysort.NAME, 0),
    (nodeunschedulable.NAME, 0),
    (nodename.NAME, 0),
    (tainttoleration.NAME, 3),
    (nodeaffinity.NAME, 2),
    (nodeports.NAME, 0),
    (noderesourcesfit.NAME, 1),
    (volumerestrictions.NAME, 0),
    ("NodeVolumeLimits", 0),
    (volumebinding.NAME, 0),
    (volumezone.NAME, 0),
    (podtopologyspread.NAME, 2),
    (interpodaffinity.NAME, 2),
    (defaultpreemption.NAME, 0),
    (noderesourcesbalancedallocation.NAME, 1),
    (imagelocality.NAME, 1),
    (defaultbinder.NAME, 0),
]
"""Weights are those of score plugins; 0 where a plugin does not score."""
