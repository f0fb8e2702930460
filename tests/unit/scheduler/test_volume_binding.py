"""VolumeBinding over whole cycles on a client-less scheduler whose informers are a dict
store: PreFilter and Filter wording, the PV chosen, Reserve, PreBind's writes, Unreserve."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from builders import filter_by_node, make_scheduler, node, pod

from kajitori.scheduler import framework, scheduler, types
from kajitori.scheduler.plugins import volumebinding

Obj = dict[str, Any]
ZONE = "topology.kubernetes.io/zone"


class Store:
    """The informers' objects by (plural, namespace, name); writes through `update` are what
    PreBind's client does."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.updates: list[tuple[str, Obj]] = []
        self.on_update: Any = None

    def add(self, plural: str, obj: Obj) -> Obj:
        md = obj["metadata"]
        md.setdefault("resourceVersion", "1")
        self.objects[(plural, md.get("namespace", ""), md["name"])] = obj
        return obj

    def get(self, group: str, plural: str, namespace: str, name: str) -> Obj | None:
        return self.objects.get((plural, namespace, name))

    def list(self, group: str, plural: str, namespace: str) -> list[Obj]:
        return [o for (p, ns, _), o in self.objects.items()
                if p == plural and (not namespace or ns == namespace)]

    async def update(self, path: str, obj: Obj) -> Obj:
        written = copy.deepcopy(obj)
        written["metadata"]["resourceVersion"] = str(
            int(obj["metadata"]["resourceVersion"]) + 1)
        plural = path.split("/")[-2]
        self.updates.append((path, written))
        self.add(plural, written)
        if self.on_update is not None:
            self.on_update(plural, written)
        return written


def storage_class(name: str, *, mode: str = "WaitForFirstConsumer",
                  provisioner: str = "kubernetes.io/no-provisioner",
                  allowed_topologies: list[Obj] | None = None) -> Obj:
    sc: Obj = {"metadata": {"name": name}, "provisioner": provisioner,
               "volumeBindingMode": mode}
    if allowed_topologies is not None:
        sc["allowedTopologies"] = allowed_topologies
    return sc


def pv(name: str, *, size: str = "1Gi", sc: str = "local", on_node: str | None = None,
       claim: str | None = None, phase: str = "Available") -> Obj:
    spec: Obj = {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                 "storageClassName": sc}
    if on_node is not None:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [on_node]}]}]}}
    if claim is not None:
        spec["claimRef"] = {"namespace": "default", "name": claim, "uid": f"uid-{claim}"}
    return {"metadata": {"name": name}, "spec": spec, "status": {"phase": phase}}


def pvc(name: str, *, size: str = "1Gi", sc: str = "local", volume: str = "",
        bound: bool = False, annotations: dict[str, str] | None = None) -> Obj:
    spec: Obj = {"accessModes": ["ReadWriteOnce"], "storageClassName": sc,
                 "resources": {"requests": {"storage": size}}}
    if volume:
        spec["volumeName"] = volume
    md: Obj = {"name": name, "namespace": "default", "uid": f"uid-{name}",
               "annotations": dict(annotations or {})}
    if bound:
        md["annotations"][volumebinding.ANN_BIND_COMPLETED] = "yes"
    return {"metadata": md, "spec": spec,
            "status": {"phase": "Bound" if bound else "Pending"}}


def with_claims(name: str, *claims: str, **kwargs: Any) -> Obj:
    return pod(name, volumes=[{"name": f"v{i}", "persistentVolumeClaim": {"claimName": c}}
                              for i, c in enumerate(claims)], **kwargs)


def cluster(store: Store, nodes: list[Obj]) -> scheduler.Scheduler:
    sched = make_scheduler(nodes)
    handle = sched.frameworks["default-scheduler"].plugins[volumebinding.NAME]._handle
    handle.getter, handle.lister, handle.client = store.get, store.list, store
    return sched


def plugin(sched: scheduler.Scheduler) -> volumebinding.VolumeBinding:
    found: volumebinding.VolumeBinding = \
        sched.frameworks["default-scheduler"].plugins[volumebinding.NAME]
    return found


def schedule(sched: scheduler.Scheduler, incoming: Obj) -> tuple[str, framework.CycleState]:
    """A scheduling cycle up to Reserve: the node chosen and the cycle's state."""
    fw = sched.frameworks["default-scheduler"]
    info = types.pod_info(incoming)
    state: framework.CycleState = {}
    result = sched.schedule_pod(fw, state, info)
    sched.cache.assume_pod(info, result.node_name)
    assert fw.run_reserve(state, info, result.node_name) is None
    return result.node_name, state


def fit_error(sched: scheduler.Scheduler, incoming: Obj) -> str:
    fw = sched.frameworks["default-scheduler"]
    with pytest.raises(framework.FitError) as caught:
        sched.schedule_pod(fw, {}, types.pod_info(incoming))
    return str(caught.value)


THREE_NODES = [node("n1"), node("n2"), node("n3")]


def test_missing_claim_is_unresolvable_with_apis_wording() -> None:
    sched = cluster(Store(), THREE_NODES)
    assert fit_error(sched, with_claims("p", "data")) == \
        '0/3 nodes are available: persistentvolumeclaim "data" not found.'


def test_unbound_immediate_claim_waits_for_the_pv_controller() -> None:
    store = Store()
    store.add("storageclasses", storage_class("fast", mode="Immediate"))
    store.add("persistentvolumeclaims", pvc("data", sc="fast"))
    sched = cluster(store, THREE_NODES)
    assert fit_error(sched, with_claims("p", "data")) == \
        "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims."


def test_bound_volume_with_node_affinity_places_the_pod_on_its_node() -> None:
    store = Store()
    store.add("persistentvolumes", pv("pv-1", on_node="n2", claim="data", phase="Bound"))
    store.add("persistentvolumeclaims", pvc("data", volume="pv-1", bound=True))
    sched = cluster(store, THREE_NODES)
    node_name, state = schedule(sched, with_claims("p", "data"))
    assert node_name == "n2"
    assert state[volumebinding.STATE_KEY].all_bound


def test_bound_volume_affinity_conflict_and_missing_volume_reasons() -> None:
    store = Store()
    store.add("persistentvolumes", pv("pv-1", on_node="gone", claim="data", phase="Bound"))
    store.add("persistentvolumeclaims", pvc("data", volume="pv-1", bound=True))
    store.add("persistentvolumeclaims", pvc("lost", volume="pv-x", bound=True))
    sched = cluster(store, THREE_NODES)
    assert fit_error(sched, with_claims("p", "data")) == \
        "0/3 nodes are available: 3 node(s) had volume node affinity conflict."
    # VolumeZone's PreFilter looks the PV up too and stops the cycle first, as upstream's
    assert fit_error(sched, with_claims("q", "lost")) == \
        '0/3 nodes are available: persistentvolume "pv-x" not found.'
    verdicts = filter_by_node(plugin(sched), with_claims("q", "lost"), sched.cache)
    assert {v.message for v in verdicts.values() if v is not None} == {
        "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"}


def test_wait_for_first_consumer_takes_the_smallest_fitting_volume_on_a_fitting_node() -> None:
    store = Store()
    store.add("storageclasses", storage_class("local"))
    store.add("persistentvolumes", pv("big", size="10Gi", on_node="n1"))
    store.add("persistentvolumes", pv("small", size="2Gi", on_node="n1"))
    store.add("persistentvolumes", pv("tiny", size="500Mi", on_node="n1"))
    store.add("persistentvolumes", pv("elsewhere", size="2Gi", on_node="n3", sc="other"))
    store.add("persistentvolumeclaims", pvc("data", size="1Gi"))
    sched = cluster(store, THREE_NODES)
    node_name, state = schedule(sched, with_claims("p", "data"))
    assert node_name == "n1"
    reserved = state[volumebinding.STATE_KEY].reserved
    assert [(meta_name(v), v["spec"]["claimRef"]["name"])
            for v, _ in reserved.static_bindings] == [("small", "data")]
    assert plugin(sched).volume("small")["spec"]["claimRef"]["uid"] == "uid-data"


def meta_name(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


def test_an_assumed_volume_is_not_offered_to_the_next_pod() -> None:
    store = Store()
    store.add("storageclasses", storage_class("local"))
    store.add("persistentvolumes", pv("only", on_node="n1"))
    store.add("persistentvolumeclaims", pvc("a"))
    store.add("persistentvolumeclaims", pvc("b"))
    sched = cluster(store, THREE_NODES)
    schedule(sched, with_claims("p", "a"))
    assert fit_error(sched, with_claims("q", "b")) == (
        "0/3 nodes are available: 3 node(s) didn't find available persistent volumes to bind.")


def test_unreserve_gives_the_volume_back() -> None:
    store = Store()
    store.add("storageclasses", storage_class("local"))
    store.add("persistentvolumes", pv("only", on_node="n1"))
    store.add("persistentvolumeclaims", pvc("a"))
    store.add("persistentvolumeclaims", pvc("b"))
    sched = cluster(store, THREE_NODES)
    fw = sched.frameworks["default-scheduler"]
    first = with_claims("p", "a")
    node_name, state = schedule(sched, first)
    fw.run_unreserve(state, types.pod_info(first), node_name)
    sched.cache.forget_pod("default/p")
    assert schedule(sched, with_claims("q", "b"))[0] == "n1"


def test_two_claims_take_two_volumes_on_one_node() -> None:
    store = Store()
    store.add("storageclasses", storage_class("local"))
    store.add("persistentvolumes", pv("n1-a", on_node="n1"))
    store.add("persistentvolumes", pv("n2-a", on_node="n2"))
    store.add("persistentvolumes", pv("n2-b", on_node="n2"))
    store.add("persistentvolumeclaims", pvc("a"))
    store.add("persistentvolumeclaims", pvc("b"))
    sched = cluster(store, THREE_NODES)
    node_name, state = schedule(sched, with_claims("p", "a", "b"))
    assert node_name == "n2"
    reserved = state[volumebinding.STATE_KEY].reserved
    assert sorted(meta_name(v) for v, _ in reserved.static_bindings) == ["n2-a", "n2-b"]


def test_dynamic_provisioning_respects_allowed_topologies() -> None:
    store = Store()
    store.add("storageclasses", storage_class(
        "local", provisioner="rancher.io/local-path", allowed_topologies=[
            {"matchLabelExpressions": [{"key": ZONE, "values": ["b"]}]}]))
    store.add("persistentvolumeclaims", pvc("data"))
    sched = cluster(store, [node("n1", labels={ZONE: "a"}), node("n2", labels={ZONE: "b"}),
                            node("n3", labels={ZONE: "a"})])
    node_name, state = schedule(sched, with_claims("p", "data"))
    assert node_name == "n2"
    reserved = state[volumebinding.STATE_KEY].reserved
    assert [c["metadata"]["annotations"][volumebinding.ANN_SELECTED_NODE]
            for c in reserved.dynamic_provisions] == ["n2"]


def test_no_volume_and_no_provisioner_is_a_bind_conflict() -> None:
    store = Store()
    store.add("storageclasses", storage_class("local"))
    store.add("persistentvolumeclaims", pvc("data"))
    sched = cluster(store, THREE_NODES)
    assert fit_error(sched, with_claims("p", "data")) == (
        "0/3 nodes are available: 3 node(s) didn't find available persistent volumes to bind.")


def test_a_selected_node_claim_fits_that_node_only() -> None:
    store = Store()
    store.add("storageclasses", storage_class("local", provisioner="rancher.io/local-path"))
    store.add("persistentvolumeclaims", pvc(
        "data", annotations={volumebinding.ANN_SELECTED_NODE: "n3"}))
    sched = cluster(store, THREE_NODES)
    assert schedule(sched, with_claims("p", "data"))[0] == "n3"


async def test_pre_bind_writes_claim_ref_and_waits_for_the_binder() -> None:
    store = Store()
    store.add("storageclasses", storage_class("local"))
    store.add("persistentvolumes", pv("small", on_node="n1"))
    store.add("persistentvolumeclaims", pvc("data"))
    store.add("pods", with_claims("p", "data"))

    def binder(plural: str, written: Obj) -> None:  # the PV controller finishes the binding
        if plural == "persistentvolumes":
            store.add("persistentvolumeclaims", pvc("data", volume="small", bound=True))

    store.on_update = binder
    sched = cluster(store, THREE_NODES)
    incoming = with_claims("p", "data")
    node_name, state = schedule(sched, incoming)
    fw = sched.frameworks["default-scheduler"]
    assert await fw.run_pre_bind(state, types.pod_info(incoming), node_name) is None
    [(path, written)] = store.updates
    assert path == "/api/v1/persistentvolumes/small"
    assert written["spec"]["claimRef"] == {
        "kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": "default",
        "name": "data", "uid": "uid-data", "resourceVersion": "1"}
    assert written["metadata"]["annotations"] == {volumebinding.ANN_BOUND_BY_CONTROLLER: "yes"}


async def test_pre_bind_fails_when_the_provisioner_gives_the_claim_back() -> None:
    store = Store()
    store.add("storageclasses", storage_class("local", provisioner="rancher.io/local-path"))
    store.add("persistentvolumeclaims", pvc("data"))
    store.add("pods", with_claims("p", "data"))

    def provisioner(plural: str, written: Obj) -> None:  # provisioning failed: annotation gone
        store.add("persistentvolumeclaims", {**pvc("data"), "metadata": {
            **pvc("data")["metadata"], "resourceVersion": "9"}})

    store.on_update = provisioner
    sched = cluster(store, THREE_NODES)
    incoming = with_claims("p", "data")
    node_name, state = schedule(sched, incoming)
    status = await sched.frameworks["default-scheduler"].run_pre_bind(
        state, types.pod_info(incoming), node_name)
    [(path, written)] = store.updates
    assert path == "/api/v1/namespaces/default/persistentvolumeclaims/data"
    assert written["metadata"]["annotations"] == {volumebinding.ANN_SELECTED_NODE: node_name}
    assert status == framework.Status(framework.Code.ERROR, (
        'binding volumes: provisioning failed for PVC "data"',), volumebinding.NAME)


async def test_pre_bind_times_out() -> None:
    store = Store()
    store.add("storageclasses", storage_class("local", provisioner="rancher.io/local-path"))
    store.add("persistentvolumeclaims", pvc("data"))
    store.add("pods", with_claims("p", "data"))
    sched = cluster(store, THREE_NODES)
    plugin(sched).bind_timeout = 0
    incoming = with_claims("p", "data")
    node_name, state = schedule(sched, incoming)
    status = await plugin(sched).pre_bind(state, types.pod_info(incoming), node_name)
    assert status is not None
    assert status.reasons == ("binding volumes: context deadline exceeded",)


def test_pods_without_claims_skip_the_plugin() -> None:
    sched = cluster(Store(), THREE_NODES)
    state: framework.CycleState = {}
    _names, status = plugin(sched).pre_filter(state, types.pod_info(pod("p")), sched.cache)
    assert status == framework.SKIP


class FakeRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.events.append((obj["metadata"]["name"], reason, message))


async def test_failed_pre_bind_unreserves_and_reports_the_plugin() -> None:
    store = Store()
    store.add("storageclasses", storage_class("local"))
    store.add("persistentvolumes", pv("only", on_node="n1"))
    store.add("persistentvolumeclaims", pvc("data"))  # no pod in the store: deleted meanwhile
    sched = cluster(store, THREE_NODES)
    recorder = sched.recorders["default-scheduler"] = FakeRecorder()  # type: ignore[assignment]
    sched.on_pod_add(with_claims("p", "data"))
    await sched.schedule_one(await sched.queue.pop())
    assert recorder.events == [("p", "FailedScheduling", 'running PreBind plugin "VolumeBinding": '
                                'binding volumes: pod does not exist any more: pods "p" not found')]
    assert "default/p" not in sched.cache.pods
    assert [path for path, _ in store.updates] == ["/api/v1/persistentvolumes/only"]
    assert sched.queue.backoff_keys() == ["default/p"]


async def test_claim_events_move_pods_the_plugin_rejected() -> None:
    store = Store()
    sched = cluster(store, THREE_NODES)
    sched.on_pod_add(with_claims("p", "data"))
    await sched.schedule_one(await sched.queue.pop())
    assert list(sched.queue.unschedulable) == ["default/p"]
    sched.queue.move_all_to_active_or_backoff(framework.ClusterEvent(
        framework.EventResource.ASSIGNED_POD, framework.ActionType.ADD))
    assert list(sched.queue.unschedulable) == ["default/p"]
    store.add("persistentvolumeclaims", pvc("data"))
    sched.storage_handlers(framework.EventResource.PERSISTENT_VOLUME_CLAIM)["on_add"](
        pvc("data"))
    assert list(sched.queue.unschedulable) == []
