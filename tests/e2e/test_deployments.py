"""Deployments, ReplicaSets and ReplicationControllers on simulated nodes, driven with kubectl.

The module's server runs the controller manager (its ReplicaSet, ReplicationController,
Deployment and garbage collector controllers among the rest), and, in a background thread of
this process, the scheduler (no leader election) and three simulated nodes that run every pod
and report it Ready. Each test works in a namespace of its own.

The scheduler runs here, without PodTopologySpread, instead of the server's: that plugin's
scoring currently fails on pods that have a controller, which ends the server's components
(TODO(#5): drop `SCHEDULER_CONFIG` and `--disable-scheduler` once it scores them).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubectlrunner import InThread, eventually, new_namespace

from kajitori import scheduler, sim
from kajitori.testing import harness

pytestmark = pytest.mark.e2e

Kubectl = Any  # tests/e2e/conftest.py's Kubectl: run(*args) and __call__(*args) -> stdout
WAIT = "--timeout=90s"


SCHEDULER_CONFIG = {
    "apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration",
    "leaderElection": {"leaderElect": False},
    "profiles": [{"schedulerName": "default-scheduler", "plugins": {
        "multiPoint": {"disabled": [{"name": "PodTopologySpread"}]}}}]}


async def nodes(kubeconfig: Path, scheduler_config: Path) -> None:
    """The scheduler and three simulated nodes (run in a thread by `InThread`)."""
    async with asyncio.TaskGroup() as group:
        group.create_task(scheduler.run(kubeconfig=kubeconfig, config=scheduler_config,
                                        leader_elect=False))
        group.create_task(sim.run(kubeconfig=kubeconfig, nodes=3))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Cluster]:
    data_dir = tmp_path_factory.mktemp("cluster")
    scheduler_config = data_dir / "scheduler.yaml"
    scheduler_config.write_text(yaml.safe_dump(SCHEDULER_CONFIG))
    with harness.running(data_dir, controllers=True,
                         extra_args=("--disable-scheduler",)) as started:
        running = InThread(lambda: nodes(started.kubeconfig, scheduler_config))
        running.start()
        try:
            yield started
        finally:
            running.stop()


@pytest.fixture
def ns(kubectl: Kubectl) -> str:
    return new_namespace(kubectl, "dep")



def get_json(kubectl: Kubectl, ns: str, *args: str) -> Any:
    return json.loads(kubectl("-n", ns, "get", *args, "-o", "json"))


def replicasets(kubectl: Kubectl, ns: str) -> list[dict[str, Any]]:
    items = get_json(kubectl, ns, "rs")["items"]
    return sorted(items, key=lambda rs: int(rs["metadata"]["annotations"].get(
        "deployment.kubernetes.io/revision", "0")))


def running_pods(kubectl: Kubectl, ns: str, selector: str) -> list[str]:
    pods = get_json(kubectl, ns, "pods", "-l", selector)["items"]
    return sorted(p["metadata"]["name"] for p in pods
                  if p["status"].get("phase") == "Running" and
                  not p["metadata"].get("deletionTimestamp"))


def rollout_status(kubectl: Kubectl, ns: str, name: str = "nginx") -> str:
    out: str = kubectl("-n", ns, "rollout", "status", f"deployment/{name}", WAIT, timeout=120)
    return out


def test_create_deployment_runs_three_pods_and_rolls_out(kubectl: Kubectl, ns: str) -> None:
    kubectl("-n", ns, "create", "deployment", "nginx", "--image=nginx", "--replicas=3")
    out = rollout_status(kubectl, ns)
    assert out.splitlines()[-1] == 'deployment "nginx" successfully rolled out'
    assert len(running_pods(kubectl, ns, "app=nginx")) == 3
    [rs] = replicasets(kubectl, ns)
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"nginx-{pod_hash}"
    table = kubectl("-n", ns, "get", "rs").splitlines()
    assert table[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert table[1].split()[:4] == [f"nginx-{pod_hash}", "3", "3", "3"]
    d = get_json(kubectl, ns, "deployment", "nginx")
    by_type = {c["type"]: c for c in d["status"]["conditions"]}
    assert (by_type["Available"]["reason"], by_type["Available"]["message"]) == (
        "MinimumReplicasAvailable", "Deployment has minimum availability.")
    assert (by_type["Progressing"]["reason"], by_type["Progressing"]["message"]) == (
        "NewReplicaSetAvailable", f'ReplicaSet "nginx-{pod_hash}" has successfully progressed.')
    events = kubectl("-n", ns, "get", "events", "--field-selector",
                     "involvedObject.kind=Deployment", "-o", "jsonpath={.items[*].message}")
    assert f"Scaled up replica set nginx-{pod_hash} from 0 to 3" in events


def test_set_image_rolls_within_max_surge_and_history_undo_go_back(kubectl: Kubectl,
                                                                    ns: str) -> None:
    kubectl("-n", ns, "create", "deployment", "nginx", "--image=nginx:1.27", "--replicas=3")
    kubectl("-n", ns, "patch", "deployment", "nginx", "-p", json.dumps({"spec": {"strategy": {
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}}}))
    rollout_status(kubectl, ns)
    kubectl("-n", ns, "set", "image", "deployment/nginx", "nginx=nginx:1.28")
    kubectl("-n", ns, "annotate", "deployment/nginx", "kubernetes.io/change-cause=to 1.28")
    out = rollout_status(kubectl, ns)
    assert out.splitlines()[-1] == 'deployment "nginx" successfully rolled out'
    old, new = replicasets(kubectl, ns)
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 3)
    # maxSurge 1, maxUnavailable 0: one new pod at a time, one old one after it.
    scaled = kubectl("-n", ns, "get", "events", "--sort-by=.metadata.creationTimestamp",
                     "--field-selector", "reason=ScalingReplicaSet",
                     "-o", "jsonpath={range .items[*]}{.message}{'\\n'}{end}").splitlines()
    new_name, old_name = new["metadata"]["name"], old["metadata"]["name"]
    assert f"Scaled up replica set {new_name} from 0 to 1" in scaled
    assert f"Scaled down replica set {old_name} from 3 to 2" in scaled
    history = kubectl("-n", ns, "rollout", "history", "deployment/nginx").splitlines()
    assert history[0].strip() == "deployment.apps/nginx"
    assert [line.split(None, 1) for line in history[1:] if line.strip()] == [
        ["REVISION", "CHANGE-CAUSE"], ["1", "<none>"], ["2", "to 1.28"]]
    assert kubectl("-n", ns, "rollout", "undo", "deployment/nginx").strip() == \
        "deployment.apps/nginx rolled back"
    rollout_status(kubectl, ns)
    image = kubectl("-n", ns, "get", "deployment", "nginx", "-o",
                    "jsonpath={.spec.template.spec.containers[0].image}")
    assert image == "nginx:1.27"
    reused = {rs["metadata"]["name"]: rs for rs in replicasets(kubectl, ns)}
    assert len(reused) == 2
    assert reused[old_name]["metadata"]["annotations"][
        "deployment.kubernetes.io/revision"] == "3"
    assert reused[old_name]["spec"]["replicas"] == 3


def test_pause_holds_a_rollout_and_resume_releases_it(kubectl: Kubectl, ns: str) -> None:
    kubectl("-n", ns, "create", "deployment", "nginx", "--image=nginx:1.27", "--replicas=2")
    rollout_status(kubectl, ns)
    assert kubectl("-n", ns, "rollout", "pause", "deployment/nginx").strip() == \
        "deployment.apps/nginx paused"
    kubectl("-n", ns, "set", "image", "deployment/nginx", "nginx=nginx:1.28")
    eventually(lambda: any(c["reason"] == "DeploymentPaused" for c in get_json(
        kubectl, ns, "deployment", "nginx")["status"]["conditions"]))
    assert len(replicasets(kubectl, ns)) == 1
    assert kubectl("-n", ns, "rollout", "resume", "deployment/nginx").strip() == \
        "deployment.apps/nginx resumed"
    rollout_status(kubectl, ns)
    assert [rs["spec"]["replicas"] for rs in replicasets(kubectl, ns)] == [0, 2]


def test_restart_and_scale(kubectl: Kubectl, ns: str) -> None:
    kubectl("-n", ns, "create", "deployment", "nginx", "--image=nginx", "--replicas=2")
    rollout_status(kubectl, ns)
    before = running_pods(kubectl, ns, "app=nginx")
    assert kubectl("-n", ns, "rollout", "restart", "deployment/nginx").strip() == \
        "deployment.apps/nginx restarted"
    rollout_status(kubectl, ns)
    after = eventually(lambda: (p := running_pods(kubectl, ns, "app=nginx")) and
                       len(p) == 2 and not set(p) & set(before) and p)
    assert len(after) == 2
    assert kubectl("-n", ns, "scale", "deployment/nginx", "--replicas=5").strip() == \
        "deployment.apps/nginx scaled"
    rollout_status(kubectl, ns)
    assert len(running_pods(kubectl, ns, "app=nginx")) == 5
    assert [rs["spec"]["replicas"] for rs in replicasets(kubectl, ns)] == [0, 5]


def test_a_deleted_pod_of_a_replicaset_is_replaced(kubectl: Kubectl, ns: str) -> None:
    kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "front"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"tier": "front"}},
                 "template": {"metadata": {"labels": {"tier": "front"}},
                              "spec": {"containers": [{"name": "php", "image": "php"}]}}}}))
    first = eventually(lambda: (p := running_pods(kubectl, ns, "tier=front")) and
                       len(p) == 2 and p)
    kubectl("-n", ns, "delete", "pod", first[0], "--wait=false")
    replaced = eventually(lambda: (p := running_pods(kubectl, ns, "tier=front")) and
                          len(p) == 2 and first[0] not in p and p)
    assert first[1] in replaced
    events = kubectl("-n", ns, "get", "events", "--field-selector",
                     "involvedObject.name=front", "-o", "jsonpath={.items[*].reason}")
    assert events.split().count("SuccessfulCreate") == 3
    status = get_json(kubectl, ns, "rs", "front")["status"]
    assert status["fullyLabeledReplicas"] == 2


def test_a_replication_controller_keeps_its_pods(kubectl: Kubectl, ns: str) -> None:
    kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump({
        "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "nginx"},
        "spec": {"replicas": 3, "selector": {"app": "nginx"},
                 "template": {"metadata": {"labels": {"app": "nginx"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}}))
    pods = eventually(lambda: (p := running_pods(kubectl, ns, "app=nginx")) and
                      len(p) == 3 and p)
    owner = get_json(kubectl, ns, "pod", pods[0])["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == (
        "ReplicationController", "nginx", True)
    kubectl("-n", ns, "delete", "pod", pods[0], "--wait=false")
    eventually(lambda: (p := running_pods(kubectl, ns, "app=nginx")) and len(p) == 3 and
               pods[0] not in p)
    eventually(lambda: get_json(kubectl, ns, "rc", "nginx")["status"].get("readyReplicas") == 3)
    table = kubectl("-n", ns, "get", "rc", "nginx").splitlines()
    assert table[1].split()[:4] == ["nginx", "3", "3", "3"]


def test_a_deployment_that_cannot_progress_exceeds_its_deadline(kubectl: Kubectl,
                                                                ns: str) -> None:
    kubectl("-n", ns, "apply", "-f", "-", input=yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "stuck"},
        "spec": {"replicas": 1, "progressDeadlineSeconds": 2,
                 "selector": {"matchLabels": {"app": "stuck"}},
                 "template": {"metadata": {"labels": {"app": "stuck"}},
                              "spec": {"nodeSelector": {"no": "such-node"},
                                       "containers": [{"name": "c", "image": "nginx"}]}}}}))
    result = kubectl.run("-n", ns, "rollout", "status", "deployment/stuck", WAIT, check=False,
                         timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip() == 'error: deployment "stuck" exceeded its progress deadline'
    condition = next(c for c in get_json(kubectl, ns, "deployment", "stuck")["status"][
        "conditions"] if c["type"] == "Progressing")
    assert (condition["status"], condition["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert condition["message"].endswith("has timed out progressing.")


def test_deleting_a_deployment_removes_its_replicasets_and_pods_unless_orphaned(
        kubectl: Kubectl, ns: str) -> None:
    for name in ("gone", "kept"):
        kubectl("-n", ns, "create", "deployment", name, "--image=nginx", "--replicas=2")
        rollout_status(kubectl, ns, name)
    kubectl("-n", ns, "delete", "deployment", "gone", WAIT)
    eventually(lambda: not get_json(kubectl, ns, "rs", "-l", "app=gone")["items"] and
               not running_pods(kubectl, ns, "app=gone"))
    kubectl("-n", ns, "delete", "deployment", "kept", "--cascade=orphan", WAIT)
    [rs] = get_json(kubectl, ns, "rs", "-l", "app=kept")["items"]
    assert "ownerReferences" not in rs["metadata"]
    assert len(running_pods(kubectl, ns, "app=kept")) == 2
