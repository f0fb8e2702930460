"""Node pools: how many simulated nodes, of which size, labelled and tainted how.

A pool config (`pool.yaml`, documented in docs/simulated-nodes.md) lists pools, each with a
`count`, a `capacity` (cpu, memory, pods, ephemeral-storage and any extended resource such as
`example.com/dongle` or `nvidia.com/gpu`), optionally an `allocatable`, `labels`, `taints` and
`zones` (spread round-robin over the pool's nodes as `topology.kubernetes.io/zone`). Without a
config, one pool named `default` of the size a kind or kubeadm worker reports.

What a pool leaves out of `capacity` takes the default pool's value; `allocatable` defaults to
what a kubelet with its default settings reports: capacity minus the hard eviction thresholds
(`memory.available<100Mi`, `nodefs.available<10%`), as upstream's
`pkg/kubelet/cm/node_container_manager_linux.go` computes it with no reserved resources.

Node names are `sim-<pool>-<index>`, so a node keeps its name, and its Node and Lease, across
restarts of the simulator. `node.py` turns a pool's node into a Node object; `simulator.py`
reads the config (through `load_pools`, which reads a file: call it off the loop).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from kajitori.api import errors, quantity
from kajitori.api.validation import names

Obj = dict[str, Any]

NODE_NAME_PREFIX = "sim"
DEFAULT_POOL_NAME = "default"

CPU, MEMORY, PODS, EPHEMERAL_STORAGE = "cpu", "memory", "pods", "ephemeral-storage"
HUGEPAGES = ("hugepages-1Gi", "hugepages-2Mi")
"""Reported as 0 by every Linux kubelet without huge pages configured; kubectl describe shows
them, so a simulated node does too."""

DEFAULT_CAPACITY: Mapping[str, str] = {
    CPU: "4", MEMORY: "16Gi", PODS: "110", EPHEMERAL_STORAGE: "100Gi"}
"""The default pool's node: 4 cpu, 16Gi, upstream's default `maxPods` (110), 100Gi disk."""

EVICTION_MEMORY_AVAILABLE = quantity.parse("100Mi")
"""The kubelet's default hard eviction threshold `memory.available<100Mi`."""
EVICTION_NODEFS_AVAILABLE = Fraction(1, 10)
"""The kubelet's default hard eviction threshold `nodefs.available<10%`."""

ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
NATIVE_RESOURCE_PREFIX = "kubernetes.io/"
POOL_FIELDS = frozenset({"name", "count", "capacity", "allocatable", "labels", "taints",
                         "zones"})
HOSTNAME_MAX_LENGTH = names.LABEL_VALUE_MAX_LENGTH
"""A node's name is its `kubernetes.io/hostname` label value, so at most 63 characters."""


class PoolConfigError(ValueError):
    """A pool config that cannot be used; the message lists every problem, one a line, each
    as `<file>: <field path>: <what is wrong>` in upstream's field error wording."""


@dataclass(frozen=True)
class NodePool:
    """One pool, validated: quantities as their canonical strings, taints as API dicts."""

    name: str
    count: int
    capacity: Mapping[str, str]
    allocatable: Mapping[str, str]
    labels: Mapping[str, str]
    taints: tuple[Obj, ...] = ()
    zones: tuple[str, ...] = ()

    def node_name(self, index: int) -> str:
        """The stable name of the pool's `index`-th node."""
        return f"{NODE_NAME_PREFIX}-{self.name}-{index}"

    def node_labels(self, index: int) -> dict[str, str]:
        """The pool's labels plus the zone the `index`-th node gets from `zones`."""
        labels = dict(self.labels)
        if self.zones:
            labels[ZONE_LABEL] = self.zones[index % len(self.zones)]
        return labels


def default_pools(nodes: int) -> list[NodePool]:
    """One pool of `nodes` nodes of the default size."""
    return parse_pools({"pools": [{"name": DEFAULT_POOL_NAME, "count": nodes}]},
                       source="default pool")


def load_pools(path: Path, *, nodes: int | None = None) -> list[NodePool]:
    """The pools of the config file at `path` (blocking: call it with `asyncio.to_thread`).
    `nodes`, when given, must equal the pools' total count (the CLI's `--nodes` beside
    `--config`). Raises PoolConfigError for an unreadable or invalid config."""
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise PoolConfigError(f"{path}: {exc}") from exc
    pools = parse_pools(doc, source=str(path))
    total = sum(pool.count for pool in pools)
    if nodes is not None and nodes != total:
        raise PoolConfigError(f"{path}: the pools hold {total} nodes but {nodes} were asked "
                              "for: leave out the node count or make them agree")
    return pools


def parse_pools(doc: Any, *, source: str) -> list[NodePool]:
    """Validate a pool config document (`{"pools": [...]}`). Raises PoolConfigError naming
    every invalid field."""
    problems: list[errors.FieldError] = []
    if not isinstance(doc, dict) or not isinstance(doc.get("pools"), list):
        raise PoolConfigError(f"{source}: pools: Required value: a list of node pools")
    unknown = sorted(set(doc) - {"pools"})
    problems += [errors.FieldError.not_supported(key, key, ["pools"]) for key in unknown]
    if not doc["pools"]:
        problems.append(errors.FieldError.required("pools", "at least one node pool"))
    pools: list[NodePool] = []
    seen: set[str] = set()
    for index, entry in enumerate(doc["pools"]):
        path = f"pools[{index}]"
        if not isinstance(entry, dict):
            problems.append(errors.FieldError.invalid(path, entry, "must be a mapping"))
            continue
        pool = _parse_pool(entry, path=path, problems=problems)
        name = entry.get("name")
        if isinstance(name, str) and name in seen:
            problems.append(errors.FieldError(f"{path}.name", "FieldValueDuplicate",
                                              f'Duplicate value: "{name}"'))
        seen.add(str(name))
        if pool is not None:
            pools.append(pool)
    if problems:
        raise PoolConfigError("\n".join(f"{source}: {p.field}: {p.message}" for p in problems))
    return pools


def _parse_pool(entry: Obj, *, path: str, problems: list[errors.FieldError]
                ) -> NodePool | None:
    """One pool, or None when it is too broken to build (its problems are appended)."""
    before = len(problems)
    for key in sorted(set(entry) - POOL_FIELDS):
        problems.append(errors.FieldError.not_supported(f"{path}.{key}", key,
                                                        sorted(POOL_FIELDS)))
    name = entry.get("name")
    count = entry.get("count")
    if not isinstance(name, str) or not name:
        problems.append(errors.FieldError.required(f"{path}.name"))
    else:
        problems += [errors.FieldError.invalid(f"{path}.name", name, msg)
                     for msg in names.is_dns1123_label(name)]
    if count is None:
        problems.append(errors.FieldError.required(f"{path}.count"))
    elif isinstance(count, bool) or not isinstance(count, int) or count < 0:
        problems.append(errors.FieldError.invalid(f"{path}.count", count,
                                                  "must be a non-negative integer"))
    if isinstance(name, str) and isinstance(count, int) and count > 0:
        longest = f"{NODE_NAME_PREFIX}-{name}-{count - 1}"
        if len(longest) > HOSTNAME_MAX_LENGTH:
            problems.append(errors.FieldError.invalid(
                f"{path}.name", name, f"node name {longest!r} would be longer than "
                f"{HOSTNAME_MAX_LENGTH} characters"))
    capacity = {**DEFAULT_CAPACITY,
                **_resources(entry.get("capacity"), path=f"{path}.capacity", problems=problems)}
    allocatable = _resources(entry.get("allocatable"), path=f"{path}.allocatable",
                             problems=problems)
    for key in sorted(set(allocatable) - set(capacity)):
        problems.append(errors.FieldError.invalid(f"{path}.allocatable.{key}", key,
                                                  "not in the pool's capacity"))
    labels = _labels(entry.get("labels"), path=f"{path}.labels", problems=problems)
    taints = _taints(entry.get("taints"), path=f"{path}.taints", problems=problems)
    zones = _zones(entry.get("zones"), path=f"{path}.zones", problems=problems)
    if zones and ZONE_LABEL in labels:
        problems.append(errors.FieldError.forbidden(
            f"{path}.zones", f"may not be given with a {ZONE_LABEL} label"))
    if len(problems) > before:
        return None
    return NodePool(name=str(name), count=int(count or 0), capacity=capacity,
                    allocatable={**default_allocatable(capacity), **allocatable},
                    labels=labels, taints=tuple(taints), zones=tuple(zones))


def default_allocatable(capacity: Mapping[str, str]) -> dict[str, str]:
    """What a kubelet with no reserved resources reports: capacity minus the default hard
    eviction thresholds on memory and the node filesystem; the rest as capacity."""
    allocatable = dict(capacity)
    if MEMORY in capacity:
        memory = quantity.parse(capacity[MEMORY]) - EVICTION_MEMORY_AVAILABLE
        allocatable[MEMORY] = str(max(memory, quantity.from_int(0)))
    if EPHEMERAL_STORAGE in capacity:
        storage = quantity.parse(capacity[EPHEMERAL_STORAGE])
        kept = storage.amount - storage.amount * EVICTION_NODEFS_AVAILABLE
        allocatable[EPHEMERAL_STORAGE] = quantity.canonical(Fraction(int(kept)),
                                                            storage.format)
    return allocatable


def _resources(value: Any, *, path: str, problems: list[errors.FieldError]) -> dict[str, str]:
    """A ResourceList: qualified names to non-negative quantities; extended resources (a
    domain other than kubernetes.io) must be whole numbers, as upstream validates them."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(errors.FieldError.invalid(path, value, "must be a mapping"))
        return {}
    out: dict[str, str] = {}
    for key, raw in value.items():
        field = f"{path}.{key}"
        key_problems = names.is_qualified_name(str(key))
        if key_problems:
            problems += [errors.FieldError.invalid(field, key, msg) for msg in key_problems]
            continue
        try:
            amount = quantity.from_json(raw)
        except quantity.QuantityError as exc:
            problems.append(errors.FieldError.invalid(field, raw, str(exc)))
            continue
        if amount.sign() < 0:
            problems.append(errors.FieldError.invalid(field, str(raw),
                                                      "must be greater than or equal to 0"))
            continue
        extended = "/" in key and not key.startswith(NATIVE_RESOURCE_PREFIX)
        if (extended or key == PODS) and amount.amount.denominator != 1:
            problems.append(errors.FieldError.invalid(field, str(raw),
                                                      "must be an integer"))
            continue
        out[key] = str(amount)
    return out


def _labels(value: Any, *, path: str, problems: list[errors.FieldError]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(errors.FieldError.invalid(path, value, "must be a mapping"))
        return {}
    out: dict[str, str] = {}
    for key, raw in value.items():
        text = "" if raw is None else str(raw)
        found = [errors.FieldError.invalid(path, key, msg)
                 for msg in names.is_qualified_name(str(key))]
        found += [errors.FieldError.invalid(f"{path}.{key}", text, msg)
                  for msg in names.is_valid_label_value(text)]
        problems += found
        if not found:
            out[str(key)] = text
    return out


def _taints(value: Any, *, path: str, problems: list[errors.FieldError]) -> list[Obj]:
    """Taints as a Node's spec carries them: key, value (left out when empty), effect."""
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(errors.FieldError.invalid(path, value, "must be a list"))
        return []
    out: list[Obj] = []
    for index, raw in enumerate(value):
        field = f"{path}[{index}]"
        if not isinstance(raw, dict):
            problems.append(errors.FieldError.invalid(field, raw, "must be a mapping"))
            continue
        key, text, effect = raw.get("key"), raw.get("value") or "", raw.get("effect")
        found: list[errors.FieldError] = []
        if not key:
            found.append(errors.FieldError.required(f"{field}.key"))
        else:
            found += [errors.FieldError.invalid(f"{field}.key", key, msg)
                      for msg in names.is_qualified_name(str(key))]
        found += [errors.FieldError.invalid(f"{field}.value", text, msg)
                  for msg in names.is_valid_label_value(str(text))]
        if not effect:
            found.append(errors.FieldError.required(f"{field}.effect"))
        elif effect not in TAINT_EFFECTS:
            found.append(errors.FieldError.not_supported(f"{field}.effect", effect,
                                                         list(TAINT_EFFECTS)))
        problems += found
        if not found:
            taint: Obj = {"key": str(key), "effect": effect}
            if text:
                taint["value"] = str(text)
            out.append(taint)
    return out


def _zones(value: Any, *, path: str, problems: list[errors.FieldError]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not value:
        problems.append(errors.FieldError.invalid(path, value,
                                                  "must be a non-empty list of zone names"))
        return []
    out: list[str] = []
    for index, zone in enumerate(value):
        found = [errors.FieldError.invalid(f"{path}[{index}]", zone, msg)
                 for msg in names.is_valid_label_value(str(zone))]
        if not zone:
            found.append(errors.FieldError.required(f"{path}[{index}]"))
        problems += found
        if not found:
            out.append(str(zone))
    return out
