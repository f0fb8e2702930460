"""The DaemonSet controller, as upstream's daemon_controller_test.go: the DaemonSet lives in a
real in-process server (revisions and status are written there), nodes and pods are seeded
into caches, pod writes go to FakePodControl, and the wall clock is fixed."""

from __future__ import annotations

import datetime
from typing import Any

import fakecluster

from kajitori.api import meta
from kajitori.client import rest
from kajitori.controllers import daemonset, history, podcontrol

Obj = dict[str, Any]
NOW = datetime.datetime(2025, 5, 1, 12, 0, 0, tzinfo=datetime.UTC)
DSS = fakecluster.path("apps", "v1", "daemonsets", namespace="default")
REVISIONS = fakecluster.path("apps", "v1", "controllerrevisions", namespace="default")
LABELS = {"app": "agent"}


def ds_object(**spec: Any) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
            "spec": {"selector": {"matchLabels": LABELS},
                     "template": {"metadata": {"labels": LABELS}, "spec": {
                         "containers": [{"name": "c", "image": "busybox"}]}}, **spec}}


def node(name: str, *, taints: list[Obj] | None = None,
         labels: dict[str, str] | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"taints": taints} if taints else {}}


def pod(name: str, owner: Obj, *, node_name: str, hash_: str, ready: bool = True) -> Obj:
    status: Obj = {"phase": "Running"}
    if ready:
        status["conditions"] = [{"type": "Ready", "status": "True", "lastTransitionTime":
                                 meta.format_time(NOW - datetime.timedelta(minutes=5))}]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}",
                         "resourceVersion": "1",
                         "creationTimestamp": meta.format_time(NOW - datetime.timedelta(hours=1)),
                         "labels": {**LABELS, history.CONTROLLER_REVISION_HASH_LABEL: hash_},
                         "ownerReferences": [podcontrol.new_controller_ref(owner)]},
            "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": "busybox"}]},
            "status": status}


def controller(client: rest.RESTClient, ds: Obj, nodes: list[Obj], pods: list[Obj],
               control: podcontrol.FakePodControl) -> daemonset.DaemonSetController:
    return daemonset.DaemonSetController(
        client=client, daemonsets=fakecluster.seeded(ds), pods=fakecluster.seeded(*pods),
        nodes=fakecluster.seeded(*nodes), revisions=fakecluster.seeded(),
        pod_control=control, now=lambda: NOW)


async def current_hash(client: rest.RESTClient) -> str:
    [revision] = (await client.get(REVISIONS))["items"]
    return str(revision["metadata"]["labels"][history.CONTROLLER_REVISION_HASH_LABEL])


def test_daemon_pods_carry_the_default_tolerations() -> None:
    template = daemonset.new_pod_template(ds_object(), revision_hash="abc")
    assert template["spec"]["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists",
         "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists",
         "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists",
         "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
         "effect": "NoSchedule"}]
    assert template["metadata"]["labels"] == {**LABELS, "controller-revision-hash": "abc"}
    host = ds_object()
    host["spec"]["template"]["spec"]["hostNetwork"] = True
    tolerations = daemonset.new_pod_template(host, revision_hash="")["spec"]["tolerations"]
    assert tolerations[-1] == {"key": "node.kubernetes.io/network-unavailable",
                               "operator": "Exists", "effect": "NoSchedule"}


def test_which_nodes_run_a_daemon_pod() -> None:
    ds = ds_object()
    no_schedule = {"key": "dedicated", "value": "x", "effect": "NoSchedule"}
    no_execute = {"key": "dedicated", "value": "x", "effect": "NoExecute"}
    assert daemonset.node_should_run_daemon_pod(node("a"), ds) == (True, True)
    assert daemonset.node_should_run_daemon_pod(node("a", taints=[no_schedule]), ds) == \
        (False, True)
    assert daemonset.node_should_run_daemon_pod(node("a", taints=[no_execute]), ds) == \
        (False, False)
    cordoned = node("a", taints=[{"key": "node.kubernetes.io/unschedulable",
                                  "effect": "NoSchedule"}])
    assert daemonset.node_should_run_daemon_pod(cordoned, ds) == (True, True)
    ds["spec"]["template"]["spec"]["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    assert daemonset.node_should_run_daemon_pod(node("a", taints=[no_execute]), ds) == \
        (True, True)
    ds["spec"]["template"]["spec"]["nodeSelector"] = {"disk": "ssd"}
    assert daemonset.node_should_run_daemon_pod(node("a"), ds) == (False, False)
    assert daemonset.node_should_run_daemon_pod(node("a", labels={"disk": "ssd"}), ds) == \
        (True, True)


def test_surge_and_unavailable_scale_with_the_node_count() -> None:
    ds = ds_object(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {
        "maxUnavailable": "25%", "maxSurge": 0}})
    assert daemonset.max_surge_and_unavailable(ds, 10) == (0, 2)
    ds["spec"]["updateStrategy"]["rollingUpdate"] = {"maxUnavailable": 0, "maxSurge": "15%"}
    assert daemonset.max_surge_and_unavailable(ds, 10) == (2, 0)
    ds["spec"]["updateStrategy"]["rollingUpdate"] = {"maxUnavailable": "10%", "maxSurge": 0}
    assert daemonset.max_surge_and_unavailable(ds, 5) == (0, 1)


async def test_creates_a_pinned_pod_on_each_node_without_one(client: rest.RESTClient) -> None:
    ds = await client.create(DSS, ds_object())
    nodes = [node("n1"), node("n2"), node("n3"),
             node("tainted", taints=[{"key": "k", "effect": "NoSchedule"}])]
    control = podcontrol.FakePodControl()
    dsc = controller(client, ds, nodes, [pod("agent-a", ds, node_name="n1", hash_="x")],
                     control)
    await dsc.sync("default/agent")
    hash_ = await current_hash(client)
    targets = [daemonset.target_node_name(made) for made in control.templates]
    assert targets == ["n2", "n3"]
    made = control.templates[0]
    assert made["metadata"]["generateName"] == "agent-"
    assert made["metadata"]["labels"] == {**LABELS, "controller-revision-hash": hash_}
    assert "nodeName" not in made["spec"]
    assert control.delete_pod_names == []
    status = (await client.get(f"{DSS}/agent"))["status"]
    assert status == {"currentNumberScheduled": 1, "numberMisscheduled": 0,
                      "desiredNumberScheduled": 3, "numberReady": 1, "observedGeneration": 1,
                      "numberAvailable": 1, "numberUnavailable": 2}
    # The creations are awaited: a second sync before they are seen creates nothing.
    control.clear()
    await dsc.sync("default/agent")
    assert control.templates == []


async def test_deletes_duplicates_and_pods_on_nodes_they_may_not_stay_on(
        client: rest.RESTClient) -> None:
    ds = await client.create(DSS, ds_object(updateStrategy={"type": "OnDelete"}))
    evicting = node("n2", taints=[{"key": "k", "effect": "NoExecute"}])
    pods = [pod("agent-a", ds, node_name="n1", hash_="x"),
            pod("agent-b", ds, node_name="n1", hash_="x"),
            pod("agent-c", ds, node_name="n2", hash_="x")]
    pods[1]["metadata"]["creationTimestamp"] = meta.format_time(NOW)
    control = podcontrol.FakePodControl()
    await controller(client, ds, [node("n1"), evicting], pods, control).sync("default/agent")
    assert sorted(control.delete_pod_names) == ["agent-b", "agent-c"]
    assert control.templates == []


async def test_rolling_update_deletes_old_pods_within_max_unavailable(
        client: rest.RESTClient) -> None:
    ds = await client.create(DSS, ds_object(updateStrategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}))
    nodes = [node("n1"), node("n2"), node("n3")]
    pods = [pod(f"agent-{n}", ds, node_name=n, hash_="old") for n in ("n1", "n2", "n3")]
    control = podcontrol.FakePodControl()
    await controller(client, ds, nodes, pods, control).sync("default/agent")
    assert len(control.delete_pod_names) == 1
    assert control.templates == []
    status = (await client.get(f"{DSS}/agent"))["status"]
    assert "updatedNumberScheduled" not in status


async def test_rolling_update_with_surge_starts_new_pods_next_to_old_ones(
        client: rest.RESTClient) -> None:
    ds = await client.create(DSS, ds_object(updateStrategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}))
    nodes = [node("n1"), node("n2")]
    pods = [pod(f"agent-{n}", ds, node_name=n, hash_="old") for n in ("n1", "n2")]
    control = podcontrol.FakePodControl()
    await controller(client, ds, nodes, pods, control).sync("default/agent")
    assert [daemonset.target_node_name(p) for p in control.templates] == ["n1"]
    assert control.delete_pod_names == []


async def test_surged_node_drops_the_old_pod_once_the_new_one_is_available(
        client: rest.RESTClient) -> None:
    ds = await client.create(DSS, ds_object(updateStrategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}))
    await controller(client, ds, [], [], podcontrol.FakePodControl()).sync("default/agent")
    hash_ = await current_hash(client)
    pods = [pod("agent-old", ds, node_name="n1", hash_="old"),
            pod("agent-new", ds, node_name="n1", hash_=hash_)]
    control = podcontrol.FakePodControl()
    await controller(client, ds, [node("n1")], pods, control).sync("default/agent")
    assert control.delete_pod_names == ["agent-old"]


async def test_on_delete_leaves_old_pods(client: rest.RESTClient) -> None:
    ds = await client.create(DSS, ds_object(updateStrategy={"type": "OnDelete"}))
    pods = [pod("agent-a", ds, node_name="n1", hash_="old")]
    control = podcontrol.FakePodControl()
    await controller(client, ds, [node("n1")], pods, control).sync("default/agent")
    assert control.delete_pod_names == []
    assert control.templates == []


def test_node_heartbeats_do_not_resync_daemonsets() -> None:
    old = node("n1")
    old["status"] = {"conditions": [{"type": "Ready", "status": "True",
                                     "lastHeartbeatTime": "2025-05-01T12:00:00Z"}]}
    beat = {**old, "status": {"conditions": [{"type": "Ready", "status": "True",
                                              "lastHeartbeatTime": "2025-05-01T12:00:10Z"}]}}
    assert daemonset.should_ignore_node_update(old, beat)
    not_ready = {**old, "status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    assert not daemonset.should_ignore_node_update(old, not_ready)
    tainted = {**old, "spec": {"taints": [{"key": "k", "effect": "NoSchedule"}]}}
    assert not daemonset.should_ignore_node_update(old, tainted)
