"""DaemonSets and StatefulSets on simulated nodes, driven with kubectl.

The module's server runs the controller manager; the scheduler (without PodTopologySpread, as
in test_deployments.py) and three simulated nodes run in a background thread of this process.
Each test works in a namespace of its own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubectlrunner import InThread, Kubectl, eventually, new_namespace

from kajitori import scheduler, sim
from kajitori.testing import harness

pytestmark = pytest.mark.e2e

WAIT = "--timeout=90s"
SCHEDULER_CONFIG = {
    "apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration",
    "leaderElection": {"leaderElect": False},
    "profiles": [{"schedulerName": "default-scheduler", "plugins": {
        "multiPoint": {"disabled": [{"name": "PodTopologySpread"}]}}}]}


def nodes(kubeconfig: Path, scheduler_config: Path) -> InThread:
    """The scheduler and three simulated nodes, on one event loop in a thread."""

    async def components() -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(scheduler.run(kubeconfig=kubeconfig, config=scheduler_config,
                                            leader_elect=False))
            group.create_task(sim.run(kubeconfig=kubeconfig, nodes=3))

    return InThread(components)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Cluster]:
    data_dir = tmp_path_factory.mktemp("cluster")
    scheduler_config = data_dir / "scheduler.yaml"
    scheduler_config.write_text(yaml.safe_dump(SCHEDULER_CONFIG))
    with harness.running(data_dir, controllers=True,
                         extra_args=("--disable-scheduler",)) as started:
        running_nodes = nodes(started.kubeconfig, scheduler_config)
        running_nodes.start()
        try:
            yield started
        finally:
            running_nodes.stop()


@pytest.fixture
def ns(kubectl: Kubectl) -> str:
    return new_namespace(kubectl, "ds")



def get_json(kubectl: Kubectl, ns: str, *args: str) -> Any:
    return json.loads(kubectl("-n", ns, "get", *args, "-o", "json"))


def node_names(kubectl: Kubectl) -> list[str]:
    return eventually(lambda: sorted(
        n["metadata"]["name"] for n in json.loads(kubectl("get", "nodes", "-o", "json"))["items"]
        if any(c["type"] == "Ready" and c["status"] == "True"
               for c in n["status"].get("conditions", []))))


def live_pods(kubectl: Kubectl, ns: str, selector: str) -> list[dict[str, Any]]:
    return [p for p in get_json(kubectl, ns, "pods", "-l", selector)["items"]
            if not p["metadata"].get("deletionTimestamp")]


def apply(kubectl: Kubectl, ns: str, obj: dict[str, Any]) -> None:
    kubectl("-n", ns, "apply", "-f", "-", input=json.dumps(obj))


def daemonset(name: str, *, tolerations: list[dict[str, Any]] | None = None,
              image: str = "nginx") -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": image}]}
    if tolerations:
        spec["tolerations"] = tolerations
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def test_daemonset_runs_one_pod_per_node_and_skips_untolerated_taint(kubectl: Kubectl,
                                                                       ns: str) -> None:
    nodes = eventually(lambda: (names := node_names(kubectl)) and len(names) == 3 and names)
    tainted = nodes[0]
    taint = f"kajitori-test-{ns}=x:NoSchedule"
    kubectl("taint", "nodes", tainted, taint)
    try:
        apply(kubectl, ns, daemonset("agent"))
        out = kubectl("-n", ns, "rollout", "status", "ds/agent", WAIT, timeout=120)
        assert out.splitlines()[-1] == 'daemon set "agent" successfully rolled out'
        pods = live_pods(kubectl, ns, "app=agent")
        assert sorted(p["spec"]["nodeName"] for p in pods) == nodes[1:]
        pod = pods[0]
        terms = pod["spec"]["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert terms == [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                           "values": [pod["spec"]["nodeName"]]}]}]
        assert {"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                "effect": "NoSchedule"} in pod["spec"]["tolerations"]
        assert "controller-revision-hash" in pod["metadata"]["labels"]
        ds = get_json(kubectl, ns, "ds", "agent")
        status = ds["status"]
        assert (status["desiredNumberScheduled"], status["currentNumberScheduled"],
                status["numberReady"], status["updatedNumberScheduled"]) == (2, 2, 2, 2)

        apply(kubectl, ns, daemonset("tolerant", tolerations=[
            {"key": f"kajitori-test-{ns}", "operator": "Exists", "effect": "NoSchedule"}]))
        kubectl("-n", ns, "rollout", "status", "ds/tolerant", WAIT, timeout=120)
        assert sorted(p["spec"]["nodeName"]
                      for p in live_pods(kubectl, ns, "app=tolerant")) == nodes
    finally:
        kubectl("taint", "nodes", tainted, f"{taint}-")


def test_daemonset_rolling_update_replaces_every_pod(kubectl: Kubectl, ns: str) -> None:
    apply(kubectl, ns, daemonset("agent"))
    kubectl("-n", ns, "rollout", "status", "ds/agent", WAIT, timeout=120)
    kubectl("-n", ns, "set", "image", "ds/agent", "c=nginx:1.27")
    out = kubectl("-n", ns, "rollout", "status", "ds/agent", WAIT, timeout=120)
    assert out.splitlines()[-1] == 'daemon set "agent" successfully rolled out'

    def rolled() -> bool:
        pods = live_pods(kubectl, ns, "app=agent")
        return len(pods) == 3 and all(p["spec"]["containers"][0]["image"] == "nginx:1.27"
                                      for p in pods)

    eventually(rolled)
    revisions = get_json(kubectl, ns, "controllerrevisions")["items"]
    assert sorted(r["revision"] for r in revisions) == [1, 2]


def statefulset(name: str, *, replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"serviceName": name, "replicas": replicas,
                     "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {
                         "containers": [{"name": "c", "image": "nginx"}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "www"}, "spec": {
                         "accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": "1Gi"}}}}]}}


def test_statefulset_creates_ordered_pods_with_claims_and_scales_down(kubectl: Kubectl,
                                                                     ns: str) -> None:
    apply(kubectl, ns, statefulset("web", replicas=3))
    out = kubectl("-n", ns, "rollout", "status", "sts/web", WAIT, timeout=120)
    assert "3 new pods have been updated" in out.splitlines()[-1]
    pods = sorted(live_pods(kubectl, ns, "app=web"),
                  key=lambda p: p["metadata"]["creationTimestamp"] + p["metadata"]["name"])
    assert [p["metadata"]["name"] for p in pods] == ["web-0", "web-1", "web-2"]
    created = [p["metadata"]["creationTimestamp"] for p in pods]
    assert created == sorted(created)
    web1 = pods[1]
    assert web1["spec"]["hostname"] == "web-1"
    assert web1["spec"]["subdomain"] == "web"
    assert web1["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "web-1"
    assert web1["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "1"
    claims = sorted(c["metadata"]["name"] for c in get_json(kubectl, ns, "pvc")["items"])
    assert claims == ["www-web-0", "www-web-1", "www-web-2"]
    sts = get_json(kubectl, ns, "sts", "web")["status"]
    assert (sts["replicas"], sts["readyReplicas"], sts["updatedReplicas"]) == (3, 3, 3)
    assert sts["currentRevision"] == sts["updateRevision"]

    kubectl("-n", ns, "scale", "sts/web", "--replicas=2")
    eventually(lambda: sorted(p["metadata"]["name"] for p in live_pods(kubectl, ns, "app=web"))
               == ["web-0", "web-1"])
    # Retain (the default) keeps the claim of the removed ordinal.
    claims = sorted(c["metadata"]["name"] for c in get_json(kubectl, ns, "pvc")["items"])
    assert claims == ["www-web-0", "www-web-1", "www-web-2"]


def test_statefulset_rolling_update_rolls_every_pod(kubectl: Kubectl, ns: str) -> None:
    apply(kubectl, ns, statefulset("web", replicas=2))
    kubectl("-n", ns, "rollout", "status", "sts/web", WAIT, timeout=120)
    kubectl("-n", ns, "set", "image", "sts/web", "c=nginx:1.27")
    kubectl("-n", ns, "rollout", "status", "sts/web", WAIT, timeout=120)

    def rolled() -> bool:
        pods = live_pods(kubectl, ns, "app=web")
        return len(pods) == 2 and all(p["spec"]["containers"][0]["image"] == "nginx:1.27"
                                      for p in pods)

    eventually(rolled)
    sts = get_json(kubectl, ns, "sts", "web")["status"]
    assert sts["currentRevision"] == sts["updateRevision"]


def test_daemonset_rollout_history_and_undo(kubectl: Kubectl, ns: str) -> None:
    apply(kubectl, ns, daemonset("agent"))
    kubectl("-n", ns, "rollout", "status", "ds/agent", WAIT, timeout=120)
    kubectl("-n", ns, "set", "image", "ds/agent", "c=nginx:1.27")
    kubectl("-n", ns, "rollout", "status", "ds/agent", WAIT, timeout=120)
    history_table = kubectl("-n", ns, "rollout", "history", "ds/agent").splitlines()
    assert history_table[0] == "daemonset.apps/agent "
    assert [line.split()[0] for line in history_table[2:] if line.strip()] == ["1", "2"]
    out = kubectl("-n", ns, "rollout", "undo", "ds/agent")
    assert out.strip() == "daemonset.apps/agent rolled back"
    kubectl("-n", ns, "rollout", "status", "ds/agent", WAIT, timeout=120)

    def back() -> bool:
        pods = live_pods(kubectl, ns, "app=agent")
        return len(pods) == 3 and all(p["spec"]["containers"][0]["image"] == "nginx"
                                      for p in pods)

    eventually(back)
    revisions = get_json(kubectl, ns, "controllerrevisions")["items"]
    assert sorted(r["revision"] for r in revisions) == [2, 3]


def test_statefulset_deletion_removes_claims_when_retention_says_delete(kubectl: Kubectl,
                                                                        ns: str) -> None:
    obj = statefulset("db", replicas=2)
    obj["spec"]["podManagementPolicy"] = "Parallel"
    obj["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Delete",
                                                           "whenScaled": "Retain"}
    apply(kubectl, ns, obj)
    kubectl("-n", ns, "rollout", "status", "sts/db", WAIT, timeout=120)
    claims = sorted(c["metadata"]["name"] for c in get_json(kubectl, ns, "pvc")["items"])
    assert claims == ["www-db-0", "www-db-1"]
    kubectl("-n", ns, "delete", "sts", "db")
    eventually(lambda: not live_pods(kubectl, ns, "app=db"))
    eventually(lambda: not [c for c in get_json(kubectl, ns, "pvc")["items"]
                            if not c["metadata"].get("deletionTimestamp")])


def test_statefulset_rollout_undo_goes_back_to_the_previous_template(kubectl: Kubectl,
                                                                     ns: str) -> None:
    apply(kubectl, ns, statefulset("web", replicas=2))
    kubectl("-n", ns, "rollout", "status", "sts/web", WAIT, timeout=120)
    kubectl("-n", ns, "set", "image", "sts/web", "c=nginx:1.27")
    kubectl("-n", ns, "rollout", "status", "sts/web", WAIT, timeout=120)
    out = kubectl("-n", ns, "rollout", "undo", "sts/web")
    assert out.strip() == "statefulset.apps/web rolled back"
    kubectl("-n", ns, "rollout", "status", "sts/web", WAIT, timeout=120)

    def back() -> bool:
        pods = live_pods(kubectl, ns, "app=web")
        return len(pods) == 2 and all(p["spec"]["containers"][0]["image"] == "nginx"
                                      for p in pods)

    eventually(back)
    status = get_json(kubectl, ns, "sts", "web")["status"]
    assert status["currentRevision"] == status["updateRevision"]
