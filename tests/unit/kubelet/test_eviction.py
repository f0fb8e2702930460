"""The eviction manager against Summary dicts: thresholds parsed as upstream (percentages
included), signals observed, pressure conditions with the transition period, pods ranked and
evicted one per cycle with upstream's messages, and the local storage limits."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest

from kajitori.api import quantity
from kajitori.client import clock as clock_
from kajitori.kubelet import eviction, settings
from kajitori.kubelet import evictionthresholds as et

Obj = dict[str, Any]
MI = 1024 * 1024
GI = 1024 * MI
NOW = "2026-01-01T00:00:00Z"


# --- thresholds -------------------------------------------------------------------------------


def test_default_hard_thresholds_parse_with_percentages() -> None:
    thresholds = et.parse_threshold_config(settings.DEFAULT_EVICTION_HARD)
    by_signal = {t.signal: t for t in thresholds}
    assert sorted(by_signal) == ["imagefs.available", "imagefs.inodesFree", "memory.available",
                                 "nodefs.available", "nodefs.inodesFree"]
    assert str(by_signal["memory.available"].value.fixed) == "100Mi"
    assert all(t.is_hard for t in thresholds)
    capacity = quantity.from_int(100 * GI, quantity.BINARY_SI)
    # float32(0.1) is a little above 0.1, so 10% of 100Gi is not quite 10Gi (as upstream).
    assert str(by_signal["nodefs.available"].value.amount(capacity)) == "10737418400"
    inodes = quantity.from_int(1000, quantity.DECIMAL_SI)
    assert str(by_signal["nodefs.inodesFree"].value.amount(inodes)) == "50"


def test_percentage_is_float32_and_truncated_as_upstream() -> None:
    (threshold,) = et.parse_threshold_config({"nodefs.available": "10%"})
    capacity = quantity.from_int(1_000_000_007, quantity.BINARY_SI)
    # float32(0.1) is 0.100000001490116...: 100000002.19 truncated.
    assert threshold.value.amount(capacity).amount == 100_000_002


def test_zero_and_hundred_percent_are_ignored() -> None:
    assert et.parse_threshold_config({"nodefs.available": "0%",
                                      "imagefs.available": "100%"}) == []


@pytest.mark.parametrize(("hard", "message"), [
    ({"foo.available": "1Mi"}, "unsupported eviction signal foo.available"),
    ({"memory.available": "0"}, "eviction threshold memory.available must be positive: 0"),
    ({"nodefs.available": "150%"},
     "eviction percentage threshold nodefs.available must be <= 100%: 150%"),
    ({"nodefs.available": "-5%"},
     "eviction percentage threshold nodefs.available must be >= 0%: -5%"),
])
def test_bad_thresholds_are_refused_in_upstream_words(hard: dict[str, str],
                                                      message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        et.parse_threshold_config(hard)


def test_soft_threshold_needs_a_grace_period() -> None:
    with pytest.raises(ValueError, match=re.escape(
            "grace period must be specified for the soft eviction threshold memory.available")):
        et.parse_threshold_config({}, soft={"memory.available": "1Gi"})
    (soft,) = et.parse_threshold_config({}, soft={"memory.available": "1Gi"},
                                        soft_grace_period={"memory.available": 90.0},
                                        minimum_reclaim={"memory.available": "500Mi"})
    assert (soft.is_hard, soft.grace_period, str(soft.min_reclaim.fixed)) == (  # type: ignore[union-attr]
        False, 90.0, "500Mi")


# --- signals from a Summary -----------------------------------------------------------------


def summary(*, memory_available: int = 4 * GI, working_set: int = 2 * GI,
            fs_available: int = 50 * GI, fs_capacity: int = 100 * GI, inodes_free: int = 900,
            inodes: int = 1000, image_available: int | None = None, maxpid: int = 4096,
            curproc: int = 300, time: str = NOW, pods: Sequence[Obj] = ()) -> Obj:
    fs = {"time": time, "availableBytes": fs_available, "capacityBytes": fs_capacity,
          "inodesFree": inodes_free, "inodes": inodes}
    image_fs = dict(fs, availableBytes=fs_available if image_available is None
                    else image_available)
    return {"node": {"nodeName": "n1",
                     "memory": {"time": time, "availableBytes": memory_available,
                                "workingSetBytes": working_set},
                     "fs": fs, "runtime": {"imageFs": image_fs},
                     "rlimit": {"time": time, "maxpid": maxpid, "curproc": curproc}},
            "pods": list(pods)}


def test_signals_observed_from_the_summary() -> None:
    observed = et.make_signal_observations(summary(memory_available=50 * MI,
                                                   working_set=950 * MI))
    memory = observed["memory.available"]
    assert (str(memory.available), str(memory.capacity)) == ("50Mi", "1000Mi")
    assert str(observed["nodefs.available"].available) == "50Gi"
    assert str(observed["nodefs.inodesFree"].available) == "900"
    assert str(observed["imagefs.available"].capacity) == "100Gi"
    assert str(observed["pid.available"].available) == "3796"


def test_a_signal_without_numbers_is_not_observed() -> None:
    s = summary()
    del s["node"]["rlimit"]
    s["node"]["memory"].pop("workingSetBytes")
    assert set(et.make_signal_observations(s)) == {
        "nodefs.available", "nodefs.inodesFree", "imagefs.available", "imagefs.inodesFree"}


def test_thresholds_met_and_min_reclaim() -> None:
    (threshold,) = et.parse_threshold_config({"memory.available": "100Mi"},
                                             minimum_reclaim={"memory.available": "50Mi"})
    observed = et.make_signal_observations(summary(memory_available=120 * MI))
    assert et.thresholds_met([threshold], observed, enforce_min_reclaim=False) == []
    assert et.thresholds_met([threshold], observed, enforce_min_reclaim=True) == [threshold]


# --- the manager ----------------------------------------------------------------------------


class Stats:
    def __init__(self, value: Obj) -> None:
        self.value = value

    async def summary(self) -> Obj:
        return self.value


class Terminator:
    def __init__(self) -> None:
        self.terminated: list[tuple[str, int, str, str, list[Obj]]] = []

    async def terminate_pod_abnormally(self, pod: Obj, *, grace_seconds: int, reason: str,
                                       message: str, conditions: Sequence[Obj] = ()) -> bool:
        self.terminated.append((pod["metadata"]["name"], grace_seconds, reason, message,
                                list(conditions)))
        return True


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []

    def event(self, obj: Obj, type_: str, reason: str, message: str, **_: Any) -> None:
        self.events.append((obj["metadata"]["name"], type_, reason, message))


def pod(name: str, *, uid: str = "", memory_request: str = "", priority: int | None = None,
        ephemeral_limit: str = "", volumes: Sequence[Obj] = (), **meta: Any) -> Obj:
    resources: Obj = {}
    if memory_request:
        resources.setdefault("requests", {})["memory"] = memory_request
    if ephemeral_limit:
        resources.setdefault("limits", {})["ephemeral-storage"] = ephemeral_limit
    spec: Obj = {"containers": [{"name": name, "image": "busybox", "resources": resources}]}
    if priority is not None:
        spec["priority"] = priority
    if volumes:
        spec["volumes"] = list(volumes)
    return {"metadata": {"name": name, "namespace": "default", "uid": uid or name, **meta},
            "spec": spec}


def pod_stats(p: Obj, *, working_set: int = 0, rootfs: int = 0, logs: int = 0,
              volumes: Sequence[tuple[str, int]] = (), ephemeral: int | None = None) -> Obj:
    name = p["spec"]["containers"][0]["name"]
    return {"podRef": {"name": p["metadata"]["name"], "namespace": "default",
                       "uid": p["metadata"]["uid"]},
            "memory": {"workingSetBytes": working_set},
            "containers": [{"name": name, "memory": {"workingSetBytes": working_set},
                            "rootfs": {"usedBytes": rootfs, "inodesUsed": 1},
                            "logs": {"usedBytes": logs, "inodesUsed": 1}}],
            "volume": [{"name": n, "usedBytes": used} for n, used in volumes],
            "ephemeral-storage": {"usedBytes": rootfs + logs + sum(u for _, u in volumes)
                                  if ephemeral is None else ephemeral}}


class Node:
    def __init__(self, pods: list[Obj], value: Obj, *, hard: dict[str, str] | None = None,
                 soft: dict[str, str] | None = None, grace: dict[str, float] | None = None,
                 transition: float = 300.0, **config: Any) -> None:
        self.pods = pods
        self.stats = Stats(value)
        self.terminator = Terminator()
        self.recorder = Recorder()
        self.clock = clock_.FakeClock()
        self.changes = 0
        self.manager = eviction.EvictionManager(
            self.stats, config=eviction.Config(
                thresholds=tuple(et.parse_threshold_config(
                    hard if hard is not None else {"memory.available": "100Mi"}, soft=soft,
                    soft_grace_period=grace)),
                pressure_transition_period=transition, **config),
            terminator=self.terminator, active_pods=lambda: list(self.pods),
            recorder=self.recorder,  # type: ignore[arg-type]
            node_name="n1", on_conditions_changed=self._changed, clock=self.clock,
            now_text=lambda: NOW)

    def _changed(self) -> None:
        self.changes += 1


async def test_memory_pressure_evicts_the_pod_over_its_request_with_upstream_message() -> None:
    hog, small = pod("hog"), pod("small", memory_request="64Mi")
    node = Node([small, hog], summary(
        memory_available=50 * MI,
        pods=[pod_stats(hog, working_set=150 * MI), pod_stats(small, working_set=10 * MI)]))
    evicted = await node.manager.synchronize()
    assert [p["metadata"]["name"] for p in evicted] == ["hog"]
    assert node.manager.node_conditions() == ["MemoryPressure"]
    assert node.manager.is_under_memory_pressure()
    assert node.changes == 1
    message = ("The node was low on resource: memory. Threshold quantity: 100Mi, available: "
               "50Mi. Container hog was using 150Mi, request is 0, has larger consumption "
               "of memory. ")
    assert node.recorder.events == [
        ("n1", "Warning", "EvictionThresholdMet", "Attempting to reclaim memory"),
        ("hog", "Warning", "Evicted", message)]
    assert node.terminator.terminated == [("hog", 1, "Evicted", message, [{
        "type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
        "lastTransitionTime": NOW, "reason": "TerminationByKubelet", "message": message}])]


async def test_one_pod_per_cycle_and_not_again_on_the_same_sample() -> None:
    a, b = pod("a"), pod("b")
    node = Node([a, b], summary(memory_available=50 * MI,
                                pods=[pod_stats(a, working_set=MI), pod_stats(b, working_set=MI)]))
    assert len(await node.manager.synchronize()) == 1
    assert await node.manager.synchronize() == []  # the same sample: no second eviction
    node.stats.value = summary(memory_available=50 * MI, time="2026-01-01T00:00:10Z",
                               pods=node.stats.value["pods"])
    assert len(await node.manager.synchronize()) == 1


def test_memory_ranking_usage_over_request_then_priority_then_usage() -> None:
    within = pod("within", memory_request="1Gi")
    high = pod("high", priority=1000)
    low_small = pod("low-small")
    low_big = pod("low-big")
    s = summary(pods=[pod_stats(within, working_set=900 * MI),
                      pod_stats(high, working_set=500 * MI),
                      pod_stats(low_small, working_set=100 * MI),
                      pod_stats(low_big, working_set=300 * MI)])
    ranked = eviction.rank_memory_pressure([within, high, low_small, low_big],
                                           eviction.stats_func(s))
    assert [p["metadata"]["name"] for p in ranked] == ["low-big", "low-small", "high", "within"]


def test_a_pod_without_stats_is_ranked_first() -> None:
    known, unknown = pod("known"), pod("unknown")
    s = summary(pods=[pod_stats(known, working_set=GI)])
    ranked = eviction.rank_memory_pressure([known, unknown], eviction.stats_func(s))
    assert [p["metadata"]["name"] for p in ranked] == ["unknown", "known"]


async def test_critical_pods_are_never_evicted() -> None:
    static = pod("static", annotations={"kubernetes.io/config.source": "file"})
    critical = pod("critical", priority=2_000_001_000)
    node = Node([static, critical], summary(memory_available=50 * MI, pods=[
        pod_stats(static, working_set=GI), pod_stats(critical, working_set=GI)]))
    assert await node.manager.synchronize() == []
    assert node.terminator.terminated == []


async def test_pressure_stays_for_the_transition_period() -> None:
    node = Node([], summary(memory_available=50 * MI), transition=300.0)
    await node.manager.synchronize()
    assert node.manager.node_conditions() == ["MemoryPressure"]
    node.stats.value = summary(memory_available=GI, time="2026-01-01T00:00:10Z")
    node.clock.step(10)
    await node.manager.synchronize()
    assert node.manager.node_conditions() == ["MemoryPressure"]
    node.clock.step(300)
    await node.manager.synchronize()
    assert node.manager.node_conditions() == []
    assert node.changes == 2


async def test_soft_threshold_waits_for_its_grace_period_and_uses_max_pod_grace() -> None:
    hog = pod("hog")
    s = summary(memory_available=500 * MI, pods=[pod_stats(hog, working_set=GI)])
    node = Node([hog], s, hard={}, soft={"memory.available": "1Gi"},
                grace={"memory.available": 60.0}, max_pod_grace_period_seconds=30)
    assert await node.manager.synchronize() == []
    assert node.manager.node_conditions() == ["MemoryPressure"]  # pressure before eviction
    node.clock.step(60)
    node.stats.value = dict(s, node={**s["node"], "memory": {
        **s["node"]["memory"], "time": "2026-01-01T00:01:00Z"}})
    assert len(await node.manager.synchronize()) == 1
    assert node.terminator.terminated[0][1] == 30


async def test_disk_pressure_condition_and_message() -> None:
    writer = pod("writer")
    node = Node([writer], summary(fs_available=5 * GI, fs_capacity=100 * GI, pods=[
        pod_stats(writer, rootfs=3 * GI, logs=GI)]), hard={"nodefs.available": "10%"})
    evicted = await node.manager.synchronize()
    assert [p["metadata"]["name"] for p in evicted] == ["writer"]
    assert node.manager.node_conditions() == ["DiskPressure"]
    assert node.recorder.events[0][3] == "Attempting to reclaim ephemeral-storage"
    assert node.terminator.terminated[0][3] == (
        "The node was low on resource: ephemeral-storage. Threshold quantity: 10737418400, "
        "available: 5Gi. Container writer was using 4Gi, request is 0, has larger consumption "
        "of ephemeral-storage. ")


async def test_reclaimers_free_disk_before_any_pod_is_evicted() -> None:
    writer = pod("writer")
    full = summary(fs_available=5 * GI, pods=[pod_stats(writer, rootfs=GI)])
    node = Node([writer], full, hard={"nodefs.available": "10%"})
    calls: list[str] = []

    async def images() -> None:
        calls.append("images")
        node.stats.value = summary(fs_available=50 * GI, time="2026-01-01T00:00:01Z")

    async def containers() -> None:
        calls.append("containers")

    node.manager.add_reclaimer(containers)
    node.manager.add_reclaimer(images)
    assert await node.manager.synchronize() == []
    assert calls == ["containers", "images"]
    assert node.terminator.terminated == []


async def test_pid_pressure_condition() -> None:
    node = Node([], summary(maxpid=1000, curproc=990), hard={"pid.available": "5%"})
    await node.manager.synchronize()
    assert node.manager.is_under_pid_pressure()
    assert node.recorder.events == [("n1", "Warning", "EvictionThresholdMet",
                                     "Attempting to reclaim pids")]


# --- local storage limits ---------------------------------------------------------------------


async def test_container_over_its_ephemeral_storage_limit_is_evicted() -> None:
    writer = pod("writer", ephemeral_limit="1Mi")
    node = Node([writer], summary(pods=[pod_stats(writer, rootfs=5 * MI, ephemeral=0)]))
    assert [p["metadata"]["name"] for p in await node.manager.synchronize()] == ["writer"]
    assert node.terminator.terminated == [
        ("writer", 1, "Evicted",
         'Container writer exceeded its local ephemeral storage limit "1Mi". ', [])]
    assert node.manager.node_conditions() == []


async def test_pod_over_its_total_ephemeral_storage_limit_is_evicted() -> None:
    writer = pod("writer", ephemeral_limit="1Mi")
    node = Node([writer], summary(pods=[pod_stats(writer, rootfs=5 * MI)]))
    await node.manager.synchronize()
    assert node.recorder.events == [
        ("writer", "Warning", "Evicted",
         "Pod ephemeral local storage usage exceeds the total limit of containers 1Mi. ")]


async def test_empty_dir_over_its_size_limit_is_evicted() -> None:
    cache = pod("cache", volumes=[{"name": "scratch", "emptyDir": {"sizeLimit": "1Mi"}}])
    node = Node([cache], summary(pods=[pod_stats(cache, volumes=[("scratch", 5 * MI)])]))
    await node.manager.synchronize()
    assert node.terminator.terminated[0][3] == \
        'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". '


async def test_within_limits_nothing_happens_and_isolation_can_be_off() -> None:
    writer = pod("writer", ephemeral_limit="10Mi")
    node = Node([writer], summary(pods=[pod_stats(writer, rootfs=5 * MI)]))
    assert await node.manager.synchronize() == []
    over = pod("over", ephemeral_limit="1Mi")
    node = Node([over], summary(pods=[pod_stats(over, rootfs=5 * MI)]), hard={},
                local_storage_capacity_isolation=False)
    assert await node.manager.synchronize() == []


def test_pod_limits_add_containers_and_take_the_init_peak() -> None:
    p = {"spec": {
        "containers": [{"name": "a", "resources": {"limits": {"ephemeral-storage": "1Mi"}}},
                       {"name": "b", "resources": {"limits": {"ephemeral-storage": "1Mi"}}}],
        "initContainers": [{"name": "i", "resources": {"limits": {"ephemeral-storage": "5Mi"}}}]}}
    assert str(eviction.pod_total(p, "ephemeral-storage", field="limits")) == "5Mi"
    p["spec"]["initContainers"] = []
    assert str(eviction.pod_total(p, "ephemeral-storage", field="limits")) == "2Mi"
    assert eviction.pod_total(p, "memory", field="limits") is None
