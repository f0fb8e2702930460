"""Eviction thresholds and signals: parsing `evictionHard`/`evictionSoft`, observing the signals
in a stats Summary, and deciding which thresholds are met.

Mirrors upstream v1.33's `pkg/kubelet/eviction/api/types.go` (signals, `GetThresholdQuantity`)
and the pure half of `pkg/kubelet/eviction/helpers.go`: `ParseThresholdConfig` (a value is a
quantity or a percentage of capacity; `0%` and `100%` are ignored; a soft threshold needs a
grace period), `makeSignalObservations` (memory.available is the node's available memory, its
capacity available + working set; nodefs and imagefs from the Summary's `fs` and
`runtime.imageFs`; pid.available from `rlimit`), `thresholdsMet` (with minimum reclaim added
while a threshold is being resolved), the first-observed and grace-period bookkeeping, and the
node conditions the met thresholds cause. The manager that acts on them is
`kajitori.kubelet.eviction`.

Departures: the `containerfs.*` signals (for a container filesystem split from the image
filesystem, which containerd 1.6 cannot have) are refused as unsupported, as a kubelet without
the KubeletSeparateDiskGC feature would ignore them; percentages are parsed as upstream does,
in float32.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from kajitori.api import quantity
from kajitori.client import nodestatus

Obj = dict[str, Any]

MEMORY_AVAILABLE = "memory.available"
ALLOCATABLE_MEMORY_AVAILABLE = "allocatableMemory.available"
NODEFS_AVAILABLE = "nodefs.available"
NODEFS_INODES_FREE = "nodefs.inodesFree"
IMAGEFS_AVAILABLE = "imagefs.available"
IMAGEFS_INODES_FREE = "imagefs.inodesFree"
PID_AVAILABLE = "pid.available"

OP_LESS_THAN = "LessThan"
"""Every signal's operator (upstream's OpForSignal)."""

MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
INODES = "inodes"
PIDS = "pids"

SIGNAL_TO_RESOURCE = {
    MEMORY_AVAILABLE: MEMORY, ALLOCATABLE_MEMORY_AVAILABLE: MEMORY,
    NODEFS_AVAILABLE: EPHEMERAL_STORAGE, NODEFS_INODES_FREE: INODES,
    IMAGEFS_AVAILABLE: EPHEMERAL_STORAGE, IMAGEFS_INODES_FREE: INODES,
    PID_AVAILABLE: PIDS,
}
"""The resource each signal measures (what `Attempting to reclaim <resource>` names)."""
SIGNAL_TO_CONDITION = {
    MEMORY_AVAILABLE: nodestatus.MEMORY_PRESSURE,
    ALLOCATABLE_MEMORY_AVAILABLE: nodestatus.MEMORY_PRESSURE,
    NODEFS_AVAILABLE: nodestatus.DISK_PRESSURE, NODEFS_INODES_FREE: nodestatus.DISK_PRESSURE,
    IMAGEFS_AVAILABLE: nodestatus.DISK_PRESSURE, IMAGEFS_INODES_FREE: nodestatus.DISK_PRESSURE,
    PID_AVAILABLE: nodestatus.PID_PRESSURE,
}
"""The node condition a met threshold of each signal reports."""
MEMORY_SIGNALS = frozenset({MEMORY_AVAILABLE, ALLOCATABLE_MEMORY_AVAILABLE})
PODS_SYSTEM_CONTAINER = "pods"
"""The Summary's system container whose memory is the allocatable memory signal's."""

ERR_UNSUPPORTED_SIGNAL = "unsupported eviction signal {signal}"
ERR_PERCENTAGE_NEGATIVE = "eviction percentage threshold {signal} must be >= 0%: {value}"
ERR_PERCENTAGE_ABOVE_100 = "eviction percentage threshold {signal} must be <= 100%: {value}"
ERR_NOT_POSITIVE = "eviction threshold {signal} must be positive: {value}"
ERR_NO_GRACE_PERIOD = "grace period must be specified for the soft eviction threshold {signal}"
ERR_NEGATIVE_GRACE = "invalid eviction grace period specified: {value}, must be a positive value"
ERR_MIN_RECLAIM_PERCENTAGE = ("eviction percentage minimum reclaim {signal} must be positive: "
                              "{value}")
ERR_MIN_RECLAIM_NEGATIVE = "negative eviction minimum reclaim specified for {signal}"


def _float32(value: float) -> float:
    result: float = struct.unpack("f", struct.pack("f", value))[0]
    return result


@dataclass(frozen=True)
class ThresholdValue:
    """A fixed quantity, or (`fixed` None) a fraction of the signal's capacity in float32
    (upstream's ThresholdValue Quantity and Percentage)."""

    fixed: quantity.Quantity | None = None
    percentage: float = 0.0

    def amount(self, capacity: quantity.Quantity) -> quantity.Quantity:
        """The value against `capacity` (upstream GetThresholdQuantity: a percentage is taken
        of the capacity's whole units and truncated, in the capacity's format)."""
        if self.fixed is not None:
            return self.fixed
        return quantity.Quantity(Fraction(int(capacity.value() * self.percentage)),
                                 capacity.format)


@dataclass(frozen=True)
class Threshold:
    """One threshold: met when the signal's available amount is below `value`. A hard one
    has grace_period 0; `min_reclaim` is what must be freed beyond it once met."""

    signal: str
    value: ThresholdValue
    grace_period: float = 0.0
    """Seconds the threshold must stay met before it counts (soft thresholds)."""
    min_reclaim: ThresholdValue | None = None
    operator: str = OP_LESS_THAN

    @property
    def is_hard(self) -> bool:
        return self.grace_period == 0


def _parse_percentage(text: str) -> float:
    return _float32(_float32(float(text.rstrip("%"))) / 100)


def parse_threshold_statement(signal: str, value: str) -> Threshold | None:
    """`signal` → `value` as a threshold; None when it is to be ignored (`0%`, `100%`).
    Raises ValueError worded as upstream."""
    if signal not in SIGNAL_TO_RESOURCE:
        raise ValueError(ERR_UNSUPPORTED_SIGNAL.format(signal=signal))
    if value.endswith("%"):
        if value in ("0%", "100%"):
            return None
        percentage = _parse_percentage(value)
        if percentage < 0:
            raise ValueError(ERR_PERCENTAGE_NEGATIVE.format(signal=signal, value=value))
        if percentage > 1:
            raise ValueError(ERR_PERCENTAGE_ABOVE_100.format(signal=signal, value=value))
        return Threshold(signal, ThresholdValue(percentage=percentage))
    amount = quantity.parse(value)
    if amount.sign() <= 0:
        raise ValueError(ERR_NOT_POSITIVE.format(signal=signal, value=amount))
    return Threshold(signal, ThresholdValue(fixed=amount))


def _parse_min_reclaim(signal: str, value: str) -> ThresholdValue:
    if signal not in SIGNAL_TO_RESOURCE:
        raise ValueError(ERR_UNSUPPORTED_SIGNAL.format(signal=signal))
    if value.endswith("%"):
        percentage = _parse_percentage(value)
        if percentage <= 0:
            raise ValueError(ERR_MIN_RECLAIM_PERCENTAGE.format(signal=signal, value=value))
        return ThresholdValue(percentage=percentage)
    amount = quantity.parse(value)
    if amount.sign() < 0:
        raise ValueError(ERR_MIN_RECLAIM_NEGATIVE.format(signal=signal))
    return ThresholdValue(fixed=amount)


def parse_threshold_config(hard: Mapping[str, str], *, soft: Mapping[str, str] | None = None,
                           soft_grace_period: Mapping[str, float] | None = None,
                           minimum_reclaim: Mapping[str, str] | None = None
                           ) -> list[Threshold]:
    """The thresholds of the kubelet's settings (upstream ParseThresholdConfig): hard ones
    first, then soft ones, each soft one with its grace period (seconds), minimum reclaims
    attached to both. Raises ValueError worded as upstream (quantities: QuantityError)."""
    results: list[Threshold] = []
    for signal, value in hard.items():
        threshold = parse_threshold_statement(signal, value)
        if threshold is not None:
            results.append(threshold)
    for signal, period in (soft_grace_period or {}).items():
        if signal not in SIGNAL_TO_RESOURCE:
            raise ValueError(ERR_UNSUPPORTED_SIGNAL.format(signal=signal))
        if period < 0:
            raise ValueError(ERR_NEGATIVE_GRACE.format(value=period))
    for signal, value in (soft or {}).items():
        threshold = parse_threshold_statement(signal, value)
        if threshold is None:
            continue
        if signal not in (soft_grace_period or {}):
            raise ValueError(ERR_NO_GRACE_PERIOD.format(signal=signal))
        results.append(Threshold(signal, threshold.value,
                                 grace_period=(soft_grace_period or {})[signal]))
    reclaims = {signal: _parse_min_reclaim(signal, value)
                for signal, value in (minimum_reclaim or {}).items()}
    return [Threshold(t.signal, t.value, grace_period=t.grace_period,
                      min_reclaim=reclaims[t.signal]) if t.signal in reclaims else t
            for t in results]


@dataclass(frozen=True)
class Observation:
    """A signal's current value: what is available of its capacity, sampled at `time`."""

    available: quantity.Quantity
    capacity: quantity.Quantity
    time: str = ""


def _bytes(value: int) -> quantity.Quantity:
    return quantity.from_int(int(value), quantity.BINARY_SI)


def _count(value: int) -> quantity.Quantity:
    return quantity.from_int(int(value), quantity.DECIMAL_SI)


def _fs_observations(fs: Obj | None, *, available: str, inodes_free: str,
                     into: dict[str, Observation]) -> None:
    if not fs:
        return
    if fs.get("availableBytes") is not None and fs.get("capacityBytes") is not None:
        into[available] = Observation(_bytes(fs["availableBytes"]), _bytes(fs["capacityBytes"]),
                                      str(fs.get("time") or ""))
    if fs.get("inodesFree") is not None and fs.get("inodes") is not None:
        into[inodes_free] = Observation(_count(fs["inodesFree"]), _count(fs["inodes"]),
                                        str(fs.get("time") or ""))


def _memory_observation(memory: Obj | None) -> Observation | None:
    if not memory or memory.get("availableBytes") is None or \
            memory.get("workingSetBytes") is None:
        return None
    available = int(memory["availableBytes"])
    return Observation(_bytes(available), _bytes(available + int(memory["workingSetBytes"])),
                       str(memory.get("time") or ""))


def make_signal_observations(summary: Obj) -> dict[str, Observation]:
    """The signals a stats Summary (upstream's JSON form) gives; a signal whose numbers are
    missing is left out (its thresholds are then never met)."""
    node = summary.get("node") or {}
    result: dict[str, Observation] = {}
    memory = _memory_observation(node.get("memory"))
    if memory is not None:
        result[MEMORY_AVAILABLE] = memory
    for container in node.get("systemContainers") or []:
        if container.get("name") == PODS_SYSTEM_CONTAINER:
            allocatable = _memory_observation(container.get("memory"))
            if allocatable is not None:
                result[ALLOCATABLE_MEMORY_AVAILABLE] = allocatable
    _fs_observations(node.get("fs"), available=NODEFS_AVAILABLE,
                     inodes_free=NODEFS_INODES_FREE, into=result)
    _fs_observations((node.get("runtime") or {}).get("imageFs"), available=IMAGEFS_AVAILABLE,
                     inodes_free=IMAGEFS_INODES_FREE, into=result)
    rlimit = node.get("rlimit") or {}
    if rlimit.get("maxpid") is not None and rlimit.get("curproc") is not None:
        result[PID_AVAILABLE] = Observation(
            _count(int(rlimit["maxpid"]) - int(rlimit["curproc"])), _count(rlimit["maxpid"]),
            str(rlimit.get("time") or ""))
    return result


def thresholds_met(thresholds: Iterable[Threshold], observations: Mapping[str, Observation],
                   *, enforce_min_reclaim: bool) -> list[Threshold]:
    """The thresholds whose signal is below their value (plus their minimum reclaim when
    `enforce_min_reclaim`: a threshold being resolved stays met until that much is freed)."""
    met = []
    for threshold in thresholds:
        observed = observations.get(threshold.signal)
        if observed is None:
            continue
        amount = threshold.value.amount(observed.capacity)
        if enforce_min_reclaim and threshold.min_reclaim is not None:
            amount = amount + threshold.min_reclaim.amount(observed.capacity)
        if amount > observed.available:
            met.append(threshold)
    return met


def merge_thresholds(first: list[Threshold], more: Iterable[Threshold]) -> list[Threshold]:
    return first + [t for t in more if t not in first]


def thresholds_first_observed_at(thresholds: Iterable[Threshold],
                                 last: Mapping[Threshold, float], now: float
                                 ) -> dict[Threshold, float]:
    """When each of `thresholds` was first met: kept from `last`, else `now`."""
    return {t: last.get(t, now) for t in thresholds}


def thresholds_met_grace_period(observed_at: Mapping[Threshold, float],
                                now: float) -> list[Threshold]:
    """The thresholds met for at least their grace period."""
    return [t for t, at in observed_at.items() if now - at >= t.grace_period]


def node_conditions(thresholds: Iterable[Threshold]) -> list[str]:
    """The node conditions the thresholds cause, each once, in the thresholds' order."""
    out: list[str] = []
    for threshold in thresholds:
        condition = SIGNAL_TO_CONDITION.get(threshold.signal)
        if condition and condition not in out:
            out.append(condition)
    return out


def node_conditions_last_observed_at(conditions: Iterable[str], last: Mapping[str, float],
                                     now: float) -> dict[str, float]:
    """`conditions` observed `now`, the others at their last time."""
    return {**last, **dict.fromkeys(conditions, now)}


def node_conditions_observed_since(observed_at: Mapping[str, float], period: float,
                                   now: float) -> list[str]:
    """The conditions observed within the last `period` seconds (the pressure transition
    period: a condition stays True that long after its threshold was last met)."""
    return [c for c, at in observed_at.items() if now - at < period]


def thresholds_updated_stats(thresholds: Iterable[Threshold],
                             observations: Mapping[str, Observation],
                             last: Mapping[str, Observation]) -> list[Threshold]:
    """The thresholds whose signal was sampled again since the last synchronization (a
    stale sample must not evict a second pod for the same shortage)."""
    out = []
    for threshold in thresholds:
        observed = observations.get(threshold.signal)
        if observed is None:
            continue
        before = last.get(threshold.signal)
        if before is None or not observed.time or observed.time > before.time:
            out.append(threshold)
    return out


def by_eviction_priority(thresholds: Iterable[Threshold]) -> list[Threshold]:
    """Memory thresholds first, then those with a resource to reclaim, the rest last."""
    return sorted(thresholds, key=lambda t: (t.signal not in MEMORY_SIGNALS,
                                             t.signal not in SIGNAL_TO_RESOURCE))
