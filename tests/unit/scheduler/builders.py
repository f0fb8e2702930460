"""Builders for scheduler tests (imported as `builders`): nodes and pods as wire dicts, a
cache seeded with them, a plugin's verdict and score per node name."""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from kajitori.scheduler import cache as cache_
from kajitori.scheduler import config as config_
from kajitori.scheduler import framework, scheduler, types

Obj = dict[str, Any]


def node(name: str, *, cpu: str = "4", memory: str = "8Gi", pods: str = "110",
         labels: dict[str, str] | None = None, taints: list[Obj] | None = None,
         unschedulable: bool = False, extra: dict[str, str] | None = None) -> Obj:
    allocatable = {"cpu": cpu, "memory": memory, "pods": pods, **(extra or {})}
    spec: Obj = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "resourceVersion": "1",
                         "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": spec, "status": {"capacity": allocatable, "allocatable": allocatable}}


def pod(name: str, *, namespace: str = "default", cpu: str | None = None,
        memory: str | None = None, labels: dict[str, str] | None = None,
        node_name: str = "", priority: int = 0, **spec: Any) -> Obj:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    container: Obj = {"name": "c", "image": "nginx"}
    if requests:
        container["resources"] = {"requests": requests}
    body: Obj = {"containers": [container], "priority": priority, **spec}
    if node_name:
        body["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}",
                         "resourceVersion": "1", "labels": labels or {}},
            "spec": body, "status": {"phase": "Pending"}}


def seeded_cache(nodes: list[Obj], pods: list[Obj] = ()) -> cache_.Cache:  # type: ignore[assignment]
    cache = cache_.Cache()
    for n in nodes:
        cache.add_node(n)
    for p in pods:
        cache.add_pod(types.pod_info(p), p["spec"]["nodeName"])
    return cache


def filter_by_node(plugin: Any, incoming: Obj, cache: cache_.Cache
                   ) -> dict[str, framework.Status | None]:
    """Run a plugin's PreFilter and Filter over every node: its verdict per node name."""
    info = types.pod_info(incoming)
    state: framework.CycleState = {}
    slots = cache.live_slots()
    if hasattr(plugin, "pre_filter"):
        _names, status = plugin.pre_filter(state, info, cache)
        if status is not None and status.code == framework.Code.SKIP:
            return {name: None for name in cache.names(slots)}
        if status is not None:
            return {name: status for name in cache.names(slots)}
    verdicts: dict[str, framework.Status | None] = {name: None for name in cache.names(slots)}
    decided = np.zeros(len(slots), dtype=bool)
    for mask, status in plugin.filter(state, info, cache, slots):
        for index in np.flatnonzero(mask & ~decided).tolist():
            verdicts[cache.node_info(int(slots[index])).name] = status
        decided |= mask
    return verdicts


def scores_by_node(plugin: Any, incoming: Obj, cache: cache_.Cache) -> dict[str, int]:
    """A plugin's PreScore, Score and NormalizeScore over every node."""
    info = types.pod_info(incoming)
    state: framework.CycleState = {}
    slots = cache.live_slots()
    if hasattr(plugin, "pre_filter"):
        plugin.pre_filter(state, info, cache)
    if hasattr(plugin, "pre_score"):
        status = plugin.pre_score(state, info, cache, slots)
        if status is not None and status.code == framework.Code.SKIP:
            return {}
    scores = plugin.score(state, info, cache, slots)
    if hasattr(plugin, "normalize_score"):
        scores = plugin.normalize_score(state, info, scores)
    return dict(zip(cache.names(slots), scores.tolist(), strict=True))


def make_scheduler(nodes: list[Obj], pods: list[Obj] = (),  # type: ignore[assignment]
                   *, configuration: config_.SchedulerConfiguration | None = None,
                   lister: Any = None) -> scheduler.Scheduler:
    """A client-less scheduler whose cache holds `nodes` and the assigned `pods`."""
    sched = scheduler.Scheduler(None, configuration=configuration, rng=random.Random(0),
                                lister=lister or (lambda group, plural, namespace: []))
    for n in nodes:
        sched.on_node_add(n)
    for p in pods:
        sched.on_pod_add(p)
    return sched


