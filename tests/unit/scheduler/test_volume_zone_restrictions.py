"""VolumeZone and VolumeRestrictions: the nodes they admit and upstream's wording."""

from __future__ import annotations

from typing import Any

from builders import filter_by_node, make_scheduler, node, pod

from kajitori.scheduler import framework, scheduler, types
from kajitori.scheduler.plugins import volumerestrictions, volumezone

Obj = dict[str, Any]
ZONE = "topology.kubernetes.io/zone"
ZONE_BETA = "failure-domain.beta.kubernetes.io/zone"


def cluster(objects: dict[tuple[str, str], Obj], nodes: list[Obj],
            pods: list[Obj] = ()) -> scheduler.Scheduler:  # type: ignore[assignment]
    """A scheduler whose informers hold `objects` by (plural, name) (claims in default)."""
    sched = make_scheduler(nodes, pods)
    handle = sched.frameworks["default-scheduler"].plugins[volumezone.NAME]._handle
    handle.getter = lambda group, plural, namespace, name: objects.get((plural, name))
    return sched


def claim(name: str, *, volume: str = "", sc: str = "", modes: tuple[str, ...] = (
        "ReadWriteOnce",)) -> Obj:
    spec: Obj = {"accessModes": list(modes), "storageClassName": sc}
    if volume:
        spec["volumeName"] = volume
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec}


def volume(name: str, zone_labels: dict[str, str]) -> Obj:
    return {"metadata": {"name": name, "labels": zone_labels}, "spec": {}}


def using(name: str, *claims: str, **kwargs: Any) -> Obj:
    return pod(name, volumes=[{"name": f"v{i}", "persistentVolumeClaim": {"claimName": c}}
                              for i, c in enumerate(claims)], **kwargs)


def plugin_of(sched: scheduler.Scheduler, name: str) -> Any:
    return sched.frameworks["default-scheduler"].plugins[name]


ZONED_NODES = [node("a1", labels={ZONE: "a"}), node("b1", labels={ZONE: "b"}),
               node("c1", labels={ZONE: "c"}), node("bare")]


def test_volume_zone_admits_nodes_of_the_volumes_zones_and_nodes_without_zones() -> None:
    sched = cluster({("persistentvolumeclaims", "data"): claim("data", volume="pv"),
                     ("persistentvolumes", "pv"): volume("pv", {ZONE: "a__b"})}, ZONED_NODES)
    verdicts = filter_by_node(plugin_of(sched, volumezone.NAME), using("p", "data"), sched.cache)
    assert {name: v.message if v else None for name, v in verdicts.items()} == {
        "a1": None, "b1": None, "c1": "node(s) had no available volume zone", "bare": None}
    assert verdicts["c1"].code == framework.Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def test_volume_zone_beta_label_on_the_volume_matches_the_ga_label_on_the_node() -> None:
    sched = cluster({("persistentvolumeclaims", "data"): claim("data", volume="pv"),
                     ("persistentvolumes", "pv"): volume("pv", {ZONE_BETA: "c"})}, ZONED_NODES)
    verdicts = filter_by_node(plugin_of(sched, volumezone.NAME), using("p", "data"), sched.cache)
    assert [name for name, v in verdicts.items() if v is None] == ["c1", "bare"]


def test_volume_zone_skips_wait_for_first_consumer_claims_and_rejects_other_unbound() -> None:
    objects = {("persistentvolumeclaims", "late"): claim("late", sc="local"),
               ("persistentvolumeclaims", "now"): claim("now", sc="fast"),
               ("storageclasses", "local"): {"metadata": {"name": "local"},
                                             "volumeBindingMode": "WaitForFirstConsumer"},
               ("storageclasses", "fast"): {"metadata": {"name": "fast"},
                                            "volumeBindingMode": "Immediate"}}
    sched = cluster(objects, ZONED_NODES)
    zone = plugin_of(sched, volumezone.NAME)
    _names, status = zone.pre_filter({}, types.pod_info(using("p", "late")), sched.cache)
    assert status == framework.SKIP
    _names, status = zone.pre_filter({}, types.pod_info(using("p", "now")), sched.cache)
    assert status == framework.unresolvable("PersistentVolume had no name")


def test_read_write_once_pod_claim_in_use_blocks_every_node() -> None:
    objects = {("persistentvolumeclaims", "solo"): claim("solo", modes=("ReadWriteOncePod",)),
               ("persistentvolumeclaims", "shared"): claim("shared")}
    sched = cluster(objects, [node("n1"), node("n2")],
                    [using("holder", "solo", "shared", node_name="n1")])
    restrictions = plugin_of(sched, volumerestrictions.NAME)
    verdicts = filter_by_node(restrictions, using("p", "solo"), sched.cache)
    assert {v.message for v in verdicts.values() if v} == {
        "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod "
        "access mode"}
    assert len([v for v in verdicts.values() if v]) == 2
    assert verdicts["n1"].code == framework.Code.UNSCHEDULABLE
    assert filter_by_node(restrictions, using("q", "shared"), sched.cache) == {
        "n1": None, "n2": None}


def test_missing_claim_is_unresolvable() -> None:
    sched = cluster({}, [node("n1")])
    _names, status = plugin_of(sched, volumerestrictions.NAME).pre_filter(
        {}, types.pod_info(using("p", "gone")), sched.cache)
    assert status == framework.unresolvable('persistentvolumeclaim "gone" not found')


def gce(pd: str, *, read_only: bool = False) -> Obj:
    return {"name": "disk", "gcePersistentDisk": {"pdName": pd, "readOnly": read_only}}


def test_inline_disks_conflict_on_the_node_unless_all_read_only() -> None:
    sched = cluster({}, [node("n1"), node("n2")],
                    [pod("rw", volumes=[gce("pd-1")], node_name="n1"),
                     pod("ro", volumes=[gce("pd-2", read_only=True)], node_name="n1")])
    restrictions = plugin_of(sched, volumerestrictions.NAME)
    verdicts = filter_by_node(restrictions, pod("p", volumes=[gce("pd-1", read_only=True)]),
                              sched.cache)
    assert verdicts["n2"] is None
    assert verdicts["n1"] == framework.unschedulable("node(s) had no available disk")
    assert filter_by_node(restrictions, pod("q", volumes=[gce("pd-2", read_only=True)]),
                          sched.cache) == {"n1": None, "n2": None}


def test_inline_volume_conflict_rules() -> None:
    conflicts = volumerestrictions.volume_conflicts
    ebs = {"awsElasticBlockStore": {"volumeID": "vol-1", "readOnly": True}}
    assert conflicts(ebs, ebs)
    iscsi = {"iscsi": {"iqn": "iqn.x", "readOnly": True}}
    assert not conflicts(iscsi, iscsi)
    assert conflicts({"iscsi": {"iqn": "iqn.x"}}, iscsi)
    rbd = {"rbd": {"monitors": ["m1", "m2"], "image": "img"}}
    assert conflicts(rbd, {"rbd": {"monitors": ["m2"], "pool": "rbd", "image": "img"}})
    assert not conflicts(rbd, {"rbd": {"monitors": ["m3"], "image": "img"}})
    assert not conflicts(ebs, iscsi)
