"""kajitori.api.printers: the Tables `kubectl get` prints, cell by cell, as a v1.33 server sends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kajitori.api import errors, printers

Obj = dict[str, Any]

NOW = datetime(2026, 11, 25, 15, 30, 0, tzinfo=UTC)
CREATED = "2026-11-25T15:00:00Z"  # 30m before NOW
AGE = "30m"


def obj(name: str = "x", **fields: Any) -> Obj:
    metadata = {"name": name, "namespace": "default", "uid": "u-1", "resourceVersion": "42",
                "creationTimestamp": CREATED, "labels": {"app": "web"}}
    metadata.update(fields.pop("metadata", {}))
    return {"metadata": metadata, **fields}


def cells(group: str, resource: str, item: Obj) -> list[Any]:
    result = printers.table(group=group, resource=resource, objects=[item], now=NOW)
    return list(result["rows"][0]["cells"])


def names(group: str, resource: str) -> list[tuple[str, int]]:
    return [(c["name"], c["priority"]) for c in printers.column_definitions(group, resource)]


# -- the Table envelope -------------------------------------------------------------------------

def test_list_table_carries_list_metadata_headers_and_partial_metadata() -> None:
    pod = obj("web", spec={"containers": [{"name": "c"}]}, status={"phase": "Pending"})
    result = printers.table(group="", resource="pods", objects=[pod], now=NOW,
                            list_metadata={"resourceVersion": "117", "continue": "abc",
                                           "remainingItemCount": 0})
    assert result["kind"] == "Table"
    assert result["apiVersion"] == "meta.k8s.io/v1"
    assert result["metadata"] == {"resourceVersion": "117", "continue": "abc",
                                  "remainingItemCount": 0}
    assert [c["name"] for c in result["columnDefinitions"]] == [
        "Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node",
        "Readiness Gates"]
    assert result["columnDefinitions"][0] == {
        "name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": result["columnDefinitions"][0]["description"]}
    assert result["columnDefinitions"][0]["description"].startswith("Name must be unique")
    assert result["rows"][0]["object"] == {"kind": "PartialObjectMetadata",
                                           "apiVersion": "meta.k8s.io/v1",
                                           "metadata": pod["metadata"]}


def test_single_object_table_carries_its_resource_version() -> None:
    result = printers.table(group="", resource="configmaps", objects=[obj("c")], now=NOW)
    assert result["metadata"] == {"resourceVersion": "42"}


def test_watch_event_table_without_headers_has_null_column_definitions() -> None:
    result = printers.table(group="", resource="configmaps", objects=[obj("c")], now=NOW,
                            with_headers=False)
    assert result["columnDefinitions"] is None
    assert result["rows"][0]["cells"] == ["c", 0, AGE]


def test_empty_list_has_no_rows() -> None:
    result = printers.table(group="apps", resource="deployments", objects=[], now=NOW,
                            list_metadata={"resourceVersion": "9"})
    assert result["rows"] == []
    assert result["metadata"] == {"resourceVersion": "9"}


def test_include_object_object_puts_the_full_object_in_the_row() -> None:
    item = {"kind": "ConfigMap", "apiVersion": "v1", **obj("c")}
    result = printers.table(group="", resource="configmaps", objects=[item], now=NOW,
                            include_object="Object")
    assert result["rows"][0]["object"] == item


def test_include_object_none_leaves_the_object_out() -> None:
    result = printers.table(group="", resource="configmaps", objects=[obj("c")], now=NOW,
                            include_object="None")
    assert "object" not in result["rows"][0]


def test_empty_include_object_means_metadata() -> None:
    result = printers.table(group="", resource="configmaps", objects=[obj("c")], now=NOW,
                            include_object="")
    assert result["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_unknown_include_object_is_a_bad_request_worded_as_upstream() -> None:
    with pytest.raises(errors.StatusError) as caught:
        printers.table(group="", resource="pods", objects=[], now=NOW, include_object="All")
    assert caught.value.code == 400
    assert caught.value.reason == "BadRequest"
    assert str(caught.value) == (
        "Unable to convert to Table as requested: includeObject: Invalid value: \"All\": "
        "must be 'Metadata', 'Object', 'None', or empty")


def test_table_does_not_mutate_its_objects() -> None:
    item = {"metadata": {"name": "r"}, "regarding": {"kind": "Pod", "name": "p"}, "note": "n"}
    before = repr(item)
    printers.table(group="events.k8s.io", resource="events", objects=[item], now=NOW)
    assert repr(item) == before


def test_every_printer_gives_one_cell_per_column() -> None:
    """An empty object exercises every absent-field path; IPAddress alone prints one cell more
    than it has columns, as upstream does."""
    for group, by_resource in printers._BY_GROUP.items():
        for resource in by_resource:
            row = cells(group, resource, {"metadata": {"name": "n"}})
            extra = 1 if resource == "ipaddresses" else 0
            assert len(row) == len(printers.column_definitions(group, resource)) + extra, resource


# -- default convertor --------------------------------------------------------------------------

@pytest.mark.parametrize(("group", "resource"), [
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("rbac.authorization.k8s.io", "roles"),
    ("", "limitranges"),
    ("apiextensions.k8s.io", "customresourcedefinitions"),
    ("example.com", "widgets"),
])
def test_resources_without_a_printer_get_name_and_created_at(group: str, resource: str) -> None:
    columns = printers.column_definitions(group, resource)
    assert [(c["name"], c["type"], c["format"]) for c in columns] == [
        ("Name", "string", "name"), ("Created At", "date", "")]
    assert cells(group, resource, obj("admin")) == ["admin", CREATED]


def test_default_convertor_prints_zero_time_without_creation_timestamp() -> None:
    assert cells("", "limitranges", {"metadata": {"name": "l"}}) == ["l", "0001-01-01T00:00:00Z"]


# -- pods ---------------------------------------------------------------------------------------

def running(name: str = "c", *, restarts: int = 0, finished: str | None = None) -> Obj:
    status: Obj = {"name": name, "ready": True, "restartCount": restarts,
                   "state": {"running": {"startedAt": CREATED}}}
    if finished:
        status["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": finished}}
    return status


def pod(*, containers: int = 1, init: list[Obj] | None = None, statuses: list[Obj] | None = None,
        init_statuses: list[Obj] | None = None, phase: str = "Running", **extra: Any) -> Obj:
    spec: Obj = {"containers": [{"name": f"c{i}", "image": "nginx"} for i in range(containers)]}
    if init is not None:
        spec["initContainers"] = init
    spec.update(extra.pop("spec", {}))
    status: Obj = {"phase": phase, "containerStatuses": statuses or []}
    if init_statuses is not None:
        status["initContainerStatuses"] = init_statuses
    status.update(extra.pop("status", {}))
    return obj("p", spec=spec, status=status, **extra)


def status_and_ready(item: Obj) -> tuple[str, str, str]:
    row = cells("", "pods", item)
    return row[2], row[1], row[3]


def test_running_pod_row() -> None:
    item = pod(statuses=[running()], spec={"nodeName": "node-1"},
               status={"podIP": "10.244.0.148", "podIPs": [{"ip": "10.244.0.148"}]})
    assert cells("", "pods", item) == ["p", "1/1", "Running", "0", AGE, "10.244.0.148", "node-1",
                                       "<none>", "<none>"]


def test_pending_pod_without_statuses() -> None:
    assert cells("", "pods", pod(phase="Pending")) == [
        "p", "0/1", "Pending", "0", AGE, "<none>", "<none>", "<none>", "<none>"]


@pytest.mark.parametrize(("state", "expected"), [
    ({"waiting": {"reason": "ContainerCreating"}}, "ContainerCreating"),
    ({"waiting": {"reason": "CrashLoopBackOff"}}, "CrashLoopBackOff"),
    ({"waiting": {"reason": "ImagePullBackOff"}}, "ImagePullBackOff"),
    ({"terminated": {"exitCode": 0, "reason": "Completed"}}, "Completed"),
    ({"terminated": {"exitCode": 1, "reason": "Error"}}, "Error"),
    ({"terminated": {"exitCode": 137, "signal": 9}}, "Signal:9"),
    ({"terminated": {"exitCode": 2}}, "ExitCode:2"),
])
def test_container_state_gives_pod_status(state: Obj, expected: str) -> None:
    item = pod(statuses=[{"name": "c0", "ready": False, "restartCount": 0, "state": state}])
    assert status_and_ready(item)[:2] == (expected, "0/1")


def test_completed_pod_with_a_running_container_reads_running_or_not_ready() -> None:
    statuses = [running("c0"), {"name": "c1", "ready": False, "restartCount": 0,
                                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]
    ready = pod(containers=2, statuses=statuses,
                status={"conditions": [{"type": "Ready", "status": "True"}]})
    assert status_and_ready(ready)[:2] == ("Running", "1/2")
    assert status_and_ready(pod(containers=2, statuses=statuses))[:2] == ("NotReady", "1/2")


def test_pod_status_reason_overrides_phase() -> None:
    item = pod(phase="Failed", status={"reason": "Evicted"})
    assert status_and_ready(item)[0] == "Evicted"


def test_scheduling_gated_pod() -> None:
    item = pod(phase="Pending", status={"conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]})
    assert status_and_ready(item)[0] == "SchedulingGated"


INIT = [{"name": "i0", "image": "busybox"}, {"name": "i1", "image": "busybox"}]


@pytest.mark.parametrize(("init_statuses", "expected"), [
    ([{"name": "i0", "restartCount": 0, "state": {"running": {}}}], "Init:0/2"),
    ([{"name": "i0", "restartCount": 0, "state": {"terminated": {"exitCode": 0}}},
      {"name": "i1", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}],
     "Init:1/2"),
    ([{"name": "i0", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}],
     "Init:CrashLoopBackOff"),
    ([{"name": "i0", "restartCount": 0, "state": {"terminated": {"exitCode": 1,
                                                                 "reason": "Error"}}}],
     "Init:Error"),
    ([{"name": "i0", "restartCount": 0, "state": {"terminated": {"exitCode": 3}}}],
     "Init:ExitCode:3"),
    ([{"name": "i0", "restartCount": 0, "state": {"terminated": {"exitCode": 1, "signal": 15}}}],
     "Init:Signal:15"),
])
def test_init_container_progress(init_statuses: list[Obj], expected: str) -> None:
    item = pod(init=INIT, init_statuses=init_statuses, phase="Pending",
               statuses=[{"name": "c0", "ready": False, "restartCount": 0,
                          "state": {"waiting": {"reason": "PodInitializing"}}}])
    assert status_and_ready(item)[:2] == (expected, "0/1")


def test_initializing_pod_counts_init_container_restarts() -> None:
    item = pod(init=INIT, phase="Pending", init_statuses=[
        {"name": "i0", "restartCount": 3, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
         "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2026-11-25T15:25:00Z"}}}])
    assert status_and_ready(item)[2] == "3 (5m ago)"


def test_sidecar_counts_toward_ready_and_total() -> None:
    sidecar = [{"name": "log", "image": "busybox", "restartPolicy": "Always"}]
    restarted = {"terminated": {"exitCode": 1, "finishedAt": "2026-11-25T15:20:00Z"}}
    item = pod(init=sidecar, statuses=[running("c0")],
               init_statuses=[{"name": "log", "ready": True, "started": True, "restartCount": 1,
                               "state": {"running": {}}, "lastState": restarted}],
               status={"conditions": [{"type": "Initialized", "status": "True"}]})
    assert status_and_ready(item) == ("Running", "2/2", "1 (10m ago)")


def test_restarts_show_when_the_last_one_happened() -> None:
    statuses = [running("c0", restarts=2, finished="2026-11-25T15:25:00Z"),
                running("c1", restarts=3, finished="2026-11-25T15:29:15Z")]
    assert status_and_ready(pod(containers=2, statuses=statuses))[2] == "5 (45s ago)"


def test_restarts_without_a_termination_time_are_a_bare_count() -> None:
    assert status_and_ready(pod(statuses=[running(restarts=4)]))[2] == "4"


def test_deleted_running_pod_is_terminating() -> None:
    item = pod(statuses=[running()], metadata={"deletionTimestamp": "2026-11-25T15:29:00Z"})
    assert status_and_ready(item)[0] == "Terminating"


def test_deleted_completed_pod_keeps_its_status() -> None:
    item = pod(phase="Succeeded", metadata={"deletionTimestamp": "2026-11-25T15:29:00Z"},
               statuses=[{"name": "c0", "restartCount": 0,
                          "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}])
    assert status_and_ready(item)[0] == "Completed"


def test_deleted_pod_on_a_lost_node_is_unknown() -> None:
    item = pod(statuses=[running()], status={"reason": "NodeLost"},
               metadata={"deletionTimestamp": "2026-11-25T15:29:00Z"})
    assert status_and_ready(item)[0] == "Unknown"


def test_readiness_gates_and_nominated_node() -> None:
    item = pod(statuses=[running()],
               spec={"readinessGates": [{"conditionType": "a"}, {"conditionType": "b"}]},
               status={"nominatedNodeName": "node-2", "podIP": "10.0.0.9",
                       "conditions": [{"type": "a", "status": "True"},
                                      {"type": "b", "status": "False"}]})
    assert cells("", "pods", item)[5:] == ["10.0.0.9", "<none>", "node-2", "1/2"]


def test_finished_pods_carry_completed_row_conditions() -> None:
    succeeded = printers.table(group="", resource="pods", now=NOW,
                               objects=[pod(phase="Succeeded")])["rows"][0]
    assert succeeded["conditions"] == [{"type": "Completed", "status": "True",
                                        "reason": "Succeeded",
                                        "message": "The pod has completed successfully."}]
    failed = printers.table(group="", resource="pods", now=NOW,
                            objects=[pod(phase="Failed")])["rows"][0]
    assert failed["conditions"][0]["reason"] == "Failed"
    running_row = printers.table(group="", resource="pods", now=NOW, objects=[pod()])["rows"][0]
    assert "conditions" not in running_row


# -- core ---------------------------------------------------------------------------------------

def test_node_row() -> None:
    node = obj("node-1", metadata={"labels": {"node-role.kubernetes.io/control-plane": "",
                                              "node-role.kubernetes.io/worker": "",
                                              "kubernetes.io/role": "infra"}},
               spec={"unschedulable": True},
               status={"conditions": [{"type": "MemoryPressure", "status": "False"},
                                      {"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "Hostname", "address": "node-1"},
                                     {"type": "InternalIP", "address": "192.168.1.10"}],
                       "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian 13",
                                    "kernelVersion": "6.12.0",
                                    "containerRuntimeVersion": "containerd://2.0.0"}})
    assert names("", "nodes") == [("Name", 0), ("Status", 0), ("Roles", 0), ("Age", 0),
                                  ("Version", 0), ("Internal-IP", 1), ("External-IP", 1),
                                  ("OS-Image", 1), ("Kernel-Version", 1),
                                  ("Container-Runtime", 1)]
    assert cells("", "nodes", node) == [
        "node-1", "Ready,SchedulingDisabled", "control-plane,infra,worker", AGE, "v1.33.0",
        "192.168.1.10", "<none>", "Debian 13", "6.12.0", "containerd://2.0.0"]


def test_node_without_conditions_or_roles() -> None:
    node = obj("n", metadata={"labels": {}})
    assert cells("", "nodes", node) == ["n", "Unknown", "<none>", AGE, "", "<none>", "<none>",
                                        "<unknown>", "<unknown>", "<unknown>"]
    not_ready = obj("n", status={"conditions": [{"type": "Ready", "status": "Unknown"}]})
    assert cells("", "nodes", not_ready)[1] == "NotReady"


def test_namespace_row() -> None:
    assert cells("", "namespaces", obj("dev", status={"phase": "Active"})) == ["dev", "Active",
                                                                               AGE]


def test_cluster_ip_service_row() -> None:
    service = obj("web", spec={"type": "ClusterIP", "clusterIP": "10.96.0.10",
                               "clusterIPs": ["10.96.0.10"], "selector": {"app": "web"},
                               "ports": [{"port": 80, "protocol": "TCP"},
                                         {"port": 53, "protocol": "UDP"}]})
    assert cells("", "services", service) == ["web", "ClusterIP", "10.96.0.10", "<none>",
                                              "80/TCP,53/UDP", AGE, "app=web"]


def test_node_port_and_load_balancer_services() -> None:
    node_port = obj("np", spec={"type": "NodePort", "clusterIPs": ["10.96.0.11"],
                                "externalIPs": ["1.2.3.4"],
                                "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]})
    assert cells("", "services", node_port) == ["np", "NodePort", "10.96.0.11", "1.2.3.4",
                                                "80:30080/TCP", AGE, "<none>"]
    pending = obj("lb", spec={"type": "LoadBalancer", "clusterIPs": ["10.96.0.12"],
                              "ports": [{"port": 443, "nodePort": 31443, "protocol": "TCP"}]})
    assert cells("", "services", pending)[3] == "<pending>"
    balanced = obj("lb", spec={"type": "LoadBalancer", "externalIPs": ["9.9.9.9"]},
                   status={"loadBalancer": {"ingress": [{"hostname": "lb.example.com"},
                                                        {"ip": "5.6.7.8"}]}})
    assert cells("", "services", balanced)[3] == "5.6.7.8,lb.example.com,9.9.9.9"


def test_headless_and_external_name_services() -> None:
    headless = obj("db", spec={"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"]})
    assert cells("", "services", headless)[2:5] == ["None", "<none>", "<none>"]
    external = obj("ext", spec={"type": "ExternalName", "externalName": "example.com"})
    assert cells("", "services", external)[1:5] == ["ExternalName", "<none>", "example.com",
                                                    "<none>"]


def test_endpoints_row() -> None:
    endpoints = obj("web", subsets=[
        {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
         "ports": [{"port": 80}, {"port": 443}]}])
    assert cells("", "endpoints", endpoints) == ["web", "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 "
                                                 "+ 1 more...", AGE]
    assert cells("", "endpoints", obj("none"))[1] == "<none>"
    headless = obj("h", subsets=[{"addresses": [{"ip": "fd00::1"}]}])
    assert cells("", "endpoints", headless)[1] == "fd00::1"
    v6 = obj("v6", subsets=[{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}])
    assert cells("", "endpoints", v6)[1] == "[fd00::1]:80"


def test_configmap_secret_and_serviceaccount_rows() -> None:
    configmap = obj("cm", data={"a": "1", "b": "2"}, binaryData={"c": "AA=="})
    assert cells("", "configmaps", configmap) == ["cm", 3, AGE]
    secret = obj("s", type="kubernetes.io/tls", data={"tls.crt": "", "tls.key": ""})
    assert cells("", "secrets", secret) == ["s", "kubernetes.io/tls", 2, AGE]
    assert names("", "serviceaccounts") == [("Name", 0), ("Secrets", 0), ("Age", 0)]
    account = obj("default", secrets=[{"name": "token"}])
    assert cells("", "serviceaccounts", account) == ["default", 1, AGE]


def core_event(**fields: Any) -> Obj:
    event = obj("web.17f", involvedObject={"kind": "Pod", "name": "web",
                                           "fieldPath": "spec.containers{c}"},
                reason="Pulled", message="  Successfully pulled image\n", type="Normal",
                source={"component": "kubelet", "host": "node-1"},
                firstTimestamp="2026-11-25T15:10:00Z", lastTimestamp="2026-11-25T15:29:00Z",
                count=4)
    event.update(fields)
    return event


def test_event_columns_are_in_v133_order() -> None:
    assert names("", "events") == [
        ("Last Seen", 0), ("Type", 0), ("Reason", 0), ("Object", 0), ("Subobject", 1),
        ("Source", 1), ("Message", 0), ("First Seen", 1), ("Count", 1), ("Name", 1)]


def test_core_event_row() -> None:
    assert cells("", "events", core_event()) == [
        "60s", "Normal", "Pulled", "pod/web", "spec.containers{c}", "kubelet, node-1",
        "Successfully pulled image", "20m", 4, "web.17f"]


def test_event_series_and_singleton_events() -> None:
    series = core_event(series={"count": 7, "lastObservedTime": "2026-11-25T15:29:30.000000Z"})
    row = cells("", "events", series)
    assert (row[0], row[8]) == ("30s", 7)
    singleton = core_event(count=None, firstTimestamp=None, lastTimestamp=None,
                           eventTime="2026-11-25T15:27:00.123456Z", source={},
                           reportingController="kube-scheduler", reportingInstance="")
    row = cells("", "events", singleton)
    assert (row[0], row[5], row[7], row[8]) == ("2m59s", "kube-scheduler", "2m59s", 1)


def test_events_k8s_io_event_prints_like_the_core_one() -> None:
    event = obj("web.17f", regarding={"kind": "Deployment", "name": "web"}, note="Scaled up",
                reason="ScalingReplicaSet", type="Normal", reportingController="deployment",
                reportingInstance="cm-1", eventTime="2026-11-25T15:28:00.000000Z",
                deprecatedCount=2, deprecatedFirstTimestamp="2026-11-25T15:20:00Z",
                deprecatedLastTimestamp="2026-11-25T15:28:00Z")
    assert cells("events.k8s.io", "events", event) == [
        "2m", "Normal", "ScalingReplicaSet", "deployment/web", "", "deployment, cm-1",
        "Scaled up", "10m", 2, "web.17f"]


def test_replication_controller_and_pod_template_rows() -> None:
    template = {"metadata": {"labels": {"app": "web", "tier": "fe"}},
                "spec": {"containers": [{"name": "a", "image": "nginx:1"},
                                        {"name": "b", "image": "redis"}]}}
    rc = obj("rc", spec={"replicas": 3, "selector": {"app": "web"}, "template": template},
             status={"replicas": 3, "readyReplicas": 2})
    assert cells("", "replicationcontrollers", rc) == ["rc", 3, 3, 2, AGE, "a,b",
                                                       "nginx:1,redis", "app=web"]
    assert cells("", "podtemplates", obj("t", template=template)) == [
        "t", "a,b", "nginx:1,redis", "app=web,tier=fe"]


def test_resource_quota_splits_requests_and_limits() -> None:
    quota = obj("q", status={"hard": {"pods": "10", "requests.cpu": "2", "limits.memory": "2Gi",
                                      "limits.cpu": "4"},
                             "used": {"pods": "3", "requests.cpu": "500m"}})
    assert cells("", "resourcequotas", quota) == [
        "q", "pods: 3/10, requests.cpu: 500m/2", "limits.cpu: 0/4, limits.memory: 0/2Gi", AGE]


def test_component_status_row() -> None:
    healthy = obj("etcd-0", conditions=[{"type": "Healthy", "status": "True", "message": "ok"}])
    assert cells("", "componentstatuses", healthy) == ["etcd-0", "Healthy", "ok", ""]


def test_persistent_volume_row() -> None:
    volume = obj("pv1", spec={"capacity": {"storage": "10Gi"},
                              "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                              "persistentVolumeReclaimPolicy": "Retain",
                              "claimRef": {"namespace": "default", "name": "data"},
                              "storageClassName": "fast", "volumeMode": "Filesystem"},
                 status={"phase": "Bound"})
    assert cells("", "persistentvolumes", volume) == [
        "pv1", "10Gi", "RWO,RWX", "Retain", "Bound", "default/data", "fast", "<unset>", "", AGE,
        "Filesystem"]
    deleted = obj("pv2", metadata={"deletionTimestamp": CREATED}, status={"phase": "Released"})
    assert cells("", "persistentvolumes", deleted)[1:7] == ["0", "", "", "Terminating", "", ""]


def test_persistent_volume_claim_rows() -> None:
    bound = obj("data", spec={"volumeName": "pv1", "storageClassName": "fast",
                              "volumeMode": "Filesystem",
                              "resources": {"requests": {"storage": "5Gi"}}},
                status={"phase": "Bound", "capacity": {"storage": "10Gi"},
                        "accessModes": ["ReadWriteOncePod"]})
    assert cells("", "persistentvolumeclaims", bound) == [
        "data", "Bound", "pv1", "10Gi", "RWOP", "fast", "<unset>", AGE, "Filesystem"]
    pending = obj("p", metadata={"annotations": {"volume.beta.kubernetes.io/storage-class":
                                                 "slow"}},
                  spec={"storageClassName": "fast"}, status={"phase": "Pending"})
    assert cells("", "persistentvolumeclaims", pending) == [
        "p", "Pending", "", "", "", "slow", "<unset>", AGE, "<unset>"]


# -- apps ---------------------------------------------------------------------------------------

TEMPLATE = {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}],
                     "nodeSelector": {"kubernetes.io/os": "linux"}}}
SELECTOR = {"matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe", "be"]},
                                 {"key": "canary", "operator": "DoesNotExist"},
                                 {"key": "env", "operator": "Exists"}]}


def test_deployment_row() -> None:
    deployment = obj("web", spec={"replicas": 3, "selector": SELECTOR, "template": TEMPLATE},
                     status={"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2})
    assert names("apps", "deployments") == [("Name", 0), ("Ready", 0), ("Up-to-date", 0),
                                            ("Available", 0), ("Age", 0), ("Containers", 1),
                                            ("Images", 1), ("Selector", 1)]
    assert cells("apps", "deployments", deployment) == [
        "web", "2/3", 3, 2, AGE, "nginx", "nginx:1.27",
        "app=web,!canary,env,tier in (be,fe)"]


def test_deployment_with_empty_selector_prints_empty_selector() -> None:
    assert cells("apps", "deployments", obj("d", spec={"selector": {}}))[1:] == [
        "0/1", 0, 0, AGE, "", "", ""]
    assert cells("apps", "deployments", obj("d", spec={"replicas": None}))[1] == "0/1"


def test_replica_set_row() -> None:
    replica_set = obj("web-5d8", spec={"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                                       "template": TEMPLATE},
                      status={"replicas": 2, "readyReplicas": 1})
    assert cells("apps", "replicasets", replica_set) == ["web-5d8", 2, 2, 1, AGE, "nginx",
                                                         "nginx:1.27", "app=web"]
    assert names("apps", "replicasets")[1] == ("Desired", 0)
    assert printers.column_definitions("apps", "replicasets")[1]["type"] == "integer"


def test_stateful_set_row() -> None:
    stateful_set = obj("db", spec={"replicas": 3, "template": TEMPLATE},
                       status={"readyReplicas": 3})
    assert cells("apps", "statefulsets", stateful_set) == ["db", "3/3", AGE, "nginx",
                                                           "nginx:1.27"]


def test_daemon_set_row() -> None:
    daemon_set = obj("agent", spec={"selector": {"matchLabels": {"app": "agent"}},
                                    "template": TEMPLATE},
                     status={"desiredNumberScheduled": 3, "currentNumberScheduled": 3,
                             "numberReady": 2, "updatedNumberScheduled": 3,
                             "numberAvailable": 2})
    assert cells("apps", "daemonsets", daemon_set) == [
        "agent", 3, 3, 2, 3, 2, "kubernetes.io/os=linux", AGE, "nginx", "nginx:1.27",
        "app=agent"]


def test_controller_revision_row() -> None:
    revision = obj("web-7c9", revision=3, metadata={"ownerReferences": [
        {"apiVersion": "v1", "kind": "Pod", "name": "other"},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": True}]})
    assert cells("apps", "controllerrevisions", revision) == ["web-7c9", "statefulset.apps/web",
                                                              3, AGE]
    assert cells("apps", "controllerrevisions", obj("orphan"))[1] == "<none>"


# -- batch --------------------------------------------------------------------------------------

def job(**status: Any) -> Obj:
    return obj("pi", spec={"completions": 1, "parallelism": 1,
                           "selector": {"matchLabels": {"batch.kubernetes.io/job-name": "pi"}},
                           "template": TEMPLATE},
               status=status)


def test_job_columns_include_status() -> None:
    assert names("batch", "jobs") == [("Name", 0), ("Status", 0), ("Completions", 0),
                                      ("Duration", 0), ("Age", 0), ("Containers", 1),
                                      ("Images", 1), ("Selector", 1)]


def test_complete_job_row() -> None:
    done = job(succeeded=1, startTime="2026-11-25T15:00:00Z",
               completionTime="2026-11-25T15:00:45Z",
               conditions=[{"type": "SuccessCriteriaMet", "status": "True"},
                           {"type": "Complete", "status": "True"}])
    assert cells("batch", "jobs", done) == [
        "pi", "Complete", "1/1", "45s", AGE, "nginx", "nginx:1.27",
        "batch.kubernetes.io/job-name=pi"]


@pytest.mark.parametrize(("conditions", "deleted", "expected"), [
    ([], False, "Running"),
    ([{"type": "Failed", "status": "True"}], True, "Failed"),
    ([{"type": "Suspended", "status": "True"}], False, "Suspended"),
    ([{"type": "Suspended", "status": "True"}], True, "Terminating"),
    ([{"type": "FailureTarget", "status": "True"}], False, "FailureTarget"),
    ([{"type": "Complete", "status": "False"}], False, "Running"),
])
def test_job_status(conditions: list[Obj], deleted: bool, expected: str) -> None:
    item = job(conditions=conditions)
    if deleted:
        item["metadata"]["deletionTimestamp"] = CREATED
    assert cells("batch", "jobs", item)[1] == expected


def test_running_job_duration_and_parallel_completions() -> None:
    running_job = obj("p", spec={"parallelism": 3}, status={"succeeded": 1,
                                                            "startTime": "2026-11-25T15:18:00Z"})
    assert cells("batch", "jobs", running_job)[2:4] == ["1/1 of 3", "12m"]
    assert cells("batch", "jobs", obj("q", spec={}))[2:4] == ["0/1", ""]


def test_cron_job_row() -> None:
    cron_job = obj("nightly", spec={"schedule": "0 3 * * *", "suspend": False,
                                    "jobTemplate": {"spec": {"template": TEMPLATE}}},
                   status={"active": [{"name": "nightly-1"}],
                           "lastScheduleTime": "2026-11-25T15:25:00Z"})
    assert cells("batch", "cronjobs", cron_job) == [
        "nightly", "0 3 * * *", "<none>", "False", 1, "5m", AGE, "nginx", "nginx:1.27",
        "<none>"]
    unset = obj("c", spec={"schedule": "@hourly", "timeZone": "Etc/UTC"})
    assert cells("batch", "cronjobs", unset)[1:6] == ["@hourly", "Etc/UTC", "<unset>", 0,
                                                      "<none>"]


# -- networking and discovery -------------------------------------------------------------------

def test_ingress_row() -> None:
    ingress = obj("web", spec={"ingressClassName": "nginx",
                               "rules": [{"host": "a.example.com"}, {}, {"host": "b.example.com"},
                                         {"host": "c.example.com"}, {"host": "d.example.com"}],
                               "tls": [{"hosts": ["a.example.com"]}]},
                  status={"loadBalancer": {"ingress": [{"ip": "192.168.49.2"}]}})
    assert cells("networking.k8s.io", "ingresses", ingress) == [
        "web", "nginx", "a.example.com,b.example.com,c.example.com + 2 more...",
        "192.168.49.2", "80, 443", AGE]
    bare = obj("any", spec={"rules": [{}]})
    assert cells("networking.k8s.io", "ingresses", bare) == ["any", "<none>", "*", "", "80", AGE]


def test_ingress_class_network_policy_service_cidr_and_ip_address_rows() -> None:
    ingress_class = obj("nginx", spec={"controller": "k8s.io/ingress-nginx", "parameters": {
        "apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external"}})
    assert cells("networking.k8s.io", "ingressclasses", ingress_class) == [
        "nginx", "k8s.io/ingress-nginx", "IngressParameters.k8s.example.com/external", AGE]
    policy = obj("deny", spec={"podSelector": {}})
    assert cells("networking.k8s.io", "networkpolicies", policy) == ["deny", "<none>", AGE]
    cidr = obj("kubernetes", spec={"cidrs": ["10.96.0.0/12", "fd00::/108"]})
    assert cells("networking.k8s.io", "servicecidrs", cidr) == [
        "kubernetes", "10.96.0.0/12,fd00::/108", AGE]
    address = obj("10.96.0.1", spec={"parentRef": {"group": "", "resource": "services",
                                                   "namespace": "default",
                                                   "name": "kubernetes"}})
    assert cells("networking.k8s.io", "ipaddresses", address) == [
        "10.96.0.1", "services/default/kubernetes", AGE]


def test_endpoint_slice_row() -> None:
    endpoint_slice = obj("web-abc", addressType="IPv4",
                         ports=[{"port": 80}, {"name": "metrics"}, {}, {"port": 9090}],
                         endpoints=[{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}])
    assert cells("discovery.k8s.io", "endpointslices", endpoint_slice) == [
        "web-abc", "IPv4", "80,metrics,* + 1 more...", "10.0.0.1,10.0.0.2", AGE]
    assert cells("discovery.k8s.io", "endpointslices", obj("e"))[2:4] == ["<unset>", "<unset>"]


# -- storage ------------------------------------------------------------------------------------

def test_storage_class_rows() -> None:
    default = obj("standard", provisioner="rancher.io/local-path", metadata={
        "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        volumeBindingMode="WaitForFirstConsumer")
    assert cells("storage.k8s.io", "storageclasses", default) == [
        "standard (default)", "rancher.io/local-path", "Delete", "WaitForFirstConsumer", False,
        AGE]
    other = obj("fast", provisioner="x", reclaimPolicy="Retain", allowVolumeExpansion=True)
    assert cells("storage.k8s.io", "storageclasses", other) == ["fast", "x", "Retain",
                                                                "Immediate", True, AGE]


def test_csi_rows() -> None:
    driver = obj("csi.example.com", spec={"attachRequired": False, "podInfoOnMount": True,
                                          "tokenRequests": [{"audience": "a"}, {"audience": "b"}],
                                          "volumeLifecycleModes": ["Persistent", "Ephemeral"]})
    assert cells("storage.k8s.io", "csidrivers", driver) == [
        "csi.example.com", False, True, False, "a,b", False, "Persistent,Ephemeral", AGE]
    assert cells("storage.k8s.io", "csidrivers", obj("d", spec={}))[1:7] == [
        True, False, False, "<unset>", False, "<none>"]
    node = obj("node-1", spec={"drivers": [{"name": "a"}, {"name": "b"}]})
    assert cells("storage.k8s.io", "csinodes", node) == ["node-1", 2, AGE]
    capacity = obj("cap", storageClassName="fast", capacity="100Gi")
    assert cells("storage.k8s.io", "csistoragecapacities", capacity) == ["cap", "fast", "100Gi"]
    attachment = obj("csi-123", spec={"attacher": "csi.example.com", "nodeName": "node-1",
                                      "source": {"persistentVolumeName": "pv1"}},
                     status={"attached": True})
    assert cells("storage.k8s.io", "volumeattachments", attachment) == [
        "csi-123", "csi.example.com", "pv1", "node-1", True, AGE]


# -- the rest -----------------------------------------------------------------------------------

def test_role_binding_rows() -> None:
    binding = obj("read", roleRef={"kind": "ClusterRole", "name": "view"}, subjects=[
        {"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"},
        {"kind": "User", "name": "bob"},
        {"kind": "ServiceAccount", "namespace": "ci", "name": "runner"}])
    expected = ["read", "ClusterRole/view", AGE, "alice, bob", "devs", "ci/runner"]
    assert cells("rbac.authorization.k8s.io", "rolebindings", binding) == expected
    assert cells("rbac.authorization.k8s.io", "clusterrolebindings", binding) == expected
    assert names("rbac.authorization.k8s.io", "clusterrolebindings")[3:] == [
        ("Users", 1), ("Groups", 1), ("ServiceAccounts", 1)]


def test_certificate_signing_request_row() -> None:
    csr = obj("node-csr", spec={"signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                                "username": "system:node:node-1", "expirationSeconds": 86400},
              status={"conditions": [{"type": "Approved", "status": "True"}],
                      "certificate": "LS0t"})
    assert cells("certificates.k8s.io", "certificatesigningrequests", csr) == [
        "node-csr", AGE, "kubernetes.io/kube-apiserver-client-kubelet", "system:node:node-1",
        "24h", "Approved,Issued"]
    denied = obj("d", spec={}, status={"conditions": [{"type": "Denied"}, {"type": "Failed"}]})
    assert cells("certificates.k8s.io", "certificatesigningrequests", denied)[2:] == [
        "<none>", "", "<none>", "Denied,Failed"]


def test_lease_priority_class_and_runtime_class_rows() -> None:
    lease = obj("kube-scheduler", spec={"holderIdentity": "cp-1_abc"})
    assert cells("coordination.k8s.io", "leases", lease) == ["kube-scheduler", "cp-1_abc", AGE]
    priority = obj("high", value=1000000, globalDefault=False,
                   preemptionPolicy="PreemptLowerPriority")
    assert cells("scheduling.k8s.io", "priorityclasses", priority) == [
        "high", 1000000, False, AGE, "PreemptLowerPriority"]
    runtime = obj("gvisor", handler="runsc")
    assert cells("node.k8s.io", "runtimeclasses", runtime) == ["gvisor", "runsc", AGE]


def test_priority_class_shows_its_preemption_policy_by_default() -> None:
    # kubectl get priorityclasses: NAME VALUE GLOBAL-DEFAULT AGE PREEMPTIONPOLICY
    assert names("scheduling.k8s.io", "priorityclasses") == [
        ("Name", 0), ("Value", 0), ("Global-Default", 0), ("Age", 0), ("PreemptionPolicy", 0)]
    unset = obj("low", value=10)
    assert cells("scheduling.k8s.io", "priorityclasses", unset) == ["low", 10, False, AGE, ""]


def test_horizontal_pod_autoscaler_rows() -> None:
    hpa = obj("web", spec={
        "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2,
        "maxReplicas": 10,
        "metrics": [
            {"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": 80}}},
            {"type": "Pods", "pods": {"target": {"averageValue": "1k"}}},
            {"type": "External", "external": {"target": {"value": "5"}}}]},
        status={"currentReplicas": 3, "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {
                "averageUtilization": 45}}}]})
    assert cells("autoscaling", "horizontalpodautoscalers", hpa) == [
        "web", "Deployment/web", "cpu: 45%/80%, <unknown>/1k + 1 more...", "2", 10, 3, AGE]
    v1 = obj("v1", spec={"scaleTargetRef": {"kind": "Deployment", "name": "web"},
                         "maxReplicas": 4, "targetCPUUtilizationPercentage": 50})
    assert cells("autoscaling", "horizontalpodautoscalers", v1)[2:4] == [
        "cpu: <unknown>/50%", "<unset>"]
    assert cells("autoscaling", "horizontalpodautoscalers", obj("none", spec={}))[2] == "<none>"


def test_pod_disruption_budget_row() -> None:
    pdb = obj("web", spec={"minAvailable": "50%"}, status={"disruptionsAllowed": 1})
    assert cells("policy", "poddisruptionbudgets", pdb) == ["web", "50%", "N/A", 1, AGE]


def test_admission_rows() -> None:
    webhook = obj("hooks", webhooks=[{"name": "a"}, {"name": "b"}])
    assert cells("admissionregistration.k8s.io", "mutatingwebhookconfigurations", webhook) == [
        "hooks", 2, AGE]
    assert cells("admissionregistration.k8s.io", "validatingwebhookconfigurations",
                 webhook) == ["hooks", 2, AGE]
    policy = obj("p", spec={"paramKind": {"apiVersion": "v1", "kind": "ConfigMap"},
                            "validations": [{"expression": "true"}]})
    assert cells("admissionregistration.k8s.io", "validatingadmissionpolicies", policy) == [
        "p", 1, "v1/ConfigMap", AGE]
    binding = obj("b", spec={"policyName": "p", "paramRef": {"name": "limits"}})
    assert cells("admissionregistration.k8s.io", "validatingadmissionpolicybindings",
                 binding) == ["b", "p", "*/limits", AGE]
    selected = obj("s", spec={"policyName": "p", "paramRef": {
        "selector": {"matchLabels": {"a": "b"}}}})
    assert cells("admissionregistration.k8s.io", "validatingadmissionpolicybindings",
                 selected)[2] == ("&LabelSelector{MatchLabels:map[string]string{a: b,},"
                                  "MatchExpressions:[]LabelSelectorRequirement{},}")


def test_flow_control_rows_and_flow_schema_order() -> None:
    def schema(name: str, precedence: int) -> Obj:
        return obj(name, spec={"priorityLevelConfiguration": {"name": "workload-low"},
                               "matchingPrecedence": precedence,
                               "distinguisherMethod": {"type": "ByUser"}},
                   status={"conditions": [{"type": "Dangling", "status": "False"}]})

    result = printers.table(group="flowcontrol.apiserver.k8s.io", resource="flowschemas",
                            objects=[schema("b", 500), schema("exempt", 1), schema("a", 500)],
                            now=NOW)
    assert [row["cells"] for row in result["rows"]] == [
        ["exempt", "workload-low", 1, "ByUser", AGE, "False"],
        ["a", "workload-low", 500, "ByUser", AGE, "False"],
        ["b", "workload-low", 500, "ByUser", AGE, "False"]]
    level = obj("global-default", spec={"type": "Limited", "limited": {
        "nominalConcurrencyShares": 20,
        "limitResponse": {"type": "Queue", "queuing": {"queues": 128, "handSize": 6,
                                                       "queueLengthLimit": 50}}}})
    assert cells("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations", level) == [
        "global-default", "Limited", 20, 128, 6, 50, AGE]
    exempt = obj("exempt", spec={"type": "Exempt"})
    assert cells("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations", exempt) == [
        "exempt", "Exempt", "<none>", "<none>", "<none>", "<none>", AGE]


def test_apiservice_rows() -> None:
    local = obj("v1.apps", spec={}, status={"conditions": [{"type": "Available",
                                                            "status": "True"}]})
    assert cells("apiregistration.k8s.io", "apiservices", local) == ["v1.apps", "Local", "True",
                                                                    AGE]
    remote = obj("v1beta1.metrics.k8s.io",
                 spec={"service": {"namespace": "kube-system", "name": "metrics-server"}},
                 status={"conditions": [{"type": "Available", "status": "False",
                                         "reason": "MissingEndpoints"}]})
    assert cells("apiregistration.k8s.io", "apiservices", remote)[1:3] == [
        "kube-system/metrics-server", "False (MissingEndpoints)"]


def test_dynamic_resource_allocation_rows() -> None:
    claim = obj("gpu", status={"allocation": {}, "reservedFor": [{"name": "p"}]})
    assert cells("resource.k8s.io", "resourceclaims", claim) == ["gpu", "allocated,reserved",
                                                                 AGE]
    assert cells("resource.k8s.io", "resourceclaims", obj("c"))[1] == "pending"
    resource_slice = obj("node-1-gpu", spec={"nodeName": "node-1", "driver": "gpu.example.com",
                                             "pool": {"name": "node-1"}})
    assert cells("resource.k8s.io", "resourceslices", resource_slice) == [
        "node-1-gpu", "node-1", "gpu.example.com", "node-1", AGE]
    assert cells("resource.k8s.io", "deviceclasses", obj("gpu")) == ["gpu", AGE]
