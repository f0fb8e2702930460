"""PersistentVolumes and claims with kubectl: static binding (smallest fit), Retain and Delete,
the default `local-path` StorageClass and its provisioner on simulated nodes.

The module's server runs the PersistentVolume binder, the local-path provisioner, the PVC and
PV protection controllers (plus what namespaces need) and the scheduler; two simulated nodes
join it. The scheduler's VolumeBinding plugin sets `volume.kubernetes.io/selected-node` on a
WaitForFirstConsumer claim; should a claim's pod be placed without it, the test sets it itself
to the pod's node, as that plugin does.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from kubectlrunner import Kubectl, eventually, new_namespace

from kajitori.testing import harness

pytestmark = pytest.mark.e2e

CONTROLLERS = (*harness.NAMESPACE_CONTROLLERS, "persistentvolume-binder",
               "local-path-provisioner", "pvc-protection", "pv-protection")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Cluster]:
    with harness.running(tmp_path_factory.mktemp("cluster"),
                         controllers=CONTROLLERS) as started:
        yield started


@pytest.fixture
def ns(kubectl: Kubectl) -> str:
    return new_namespace(kubectl, "pv")



def apply(kubectl: Kubectl, ns: str, *objs: dict[str, Any]) -> None:
    kubectl("-n", ns, "apply", "-f", "-",
            input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}))


def pv(name: str, size: str, *, policy: str = "Retain", cls: str = "manual") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": policy, "storageClassName": cls,
                     "hostPath": {"path": f"/tmp/{name}"}}}


def pvc(name: str, size: str, *, cls: str | None = "manual") -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": spec}


def rows(kubectl: Kubectl, *args: str) -> dict[str, list[str]]:
    """`kubectl get` rows as {name: cells split on blanks}; empty cells drop out."""
    lines = kubectl("get", *args).splitlines()
    return {line.split()[0]: line.split() for line in lines[1:]}


def phase(kubectl: Kubectl, *args: str) -> str:
    return kubectl("get", *args, "-o", "jsonpath={.status.phase}")


def events_of(kubectl: Kubectl, ns: str, name: str) -> list[str]:
    items = json.loads(kubectl("-n", ns, "get", "events", "-o", "json"))["items"]
    return [f"{e['type']} {e['reason']} {e['message']}" for e in items
            if e["involvedObject"]["name"] == name]


def test_default_storage_class_is_local_path(kubectl: Kubectl) -> None:
    header, row = kubectl("get", "storageclass").splitlines()[:2]
    assert header.split() == ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE",
                              "ALLOWVOLUMEEXPANSION", "AGE"]
    assert row.split()[:6] == ["local-path", "(default)", "rancher.io/local-path", "Delete",
                               "WaitForFirstConsumer", "false"]


def test_static_claim_binds_to_the_smallest_volume_that_fits(kubectl: Kubectl,
                                                             ns: str) -> None:
    small, big, tiny = f"{ns}-small", f"{ns}-big", f"{ns}-tiny"
    try:
        apply(kubectl, ns, pv(big, "5Gi"), pv(small, "1Gi"), pv(tiny, "100Mi"))
        apply(kubectl, ns, pvc("data", "500Mi"))
        eventually(lambda: phase(kubectl, "-n", ns, "pvc", "data") == "Bound")

        claims = rows(kubectl, "-n", ns, "pvc")
        assert claims["data"][:6] == ["data", "Bound", small, "1Gi", "RWO", "manual"]
        volumes = rows(kubectl, "pv", small, big)
        assert volumes[small][:7] == [small, "1Gi", "RWO", "Retain", "Bound", f"{ns}/data",
                                      "manual"]
        assert volumes[big][4:6] == ["Available", "manual"]  # no CLAIM
        assert eventually(lambda: kubectl("-n", ns, "get", "pvc", "data", "-o",
                                          "jsonpath={.metadata.finalizers}")) == \
            '["kubernetes.io/pvc-protection"]'
        assert eventually(lambda: kubectl("get", "pv", small, "-o",
                                          "jsonpath={.metadata.finalizers}")) == \
            '["kubernetes.io/pv-protection"]'
    finally:
        kubectl("delete", "pv", small, big, tiny, "--wait=false", check=False)


def test_retained_volume_is_released_and_deleted_policy_volume_goes(kubectl: Kubectl,
                                                                    ns: str) -> None:
    kept, gone = f"{ns}-kept", f"{ns}-gone"
    try:
        apply(kubectl, ns, pv(kept, "1Gi", cls="keep"), pv(gone, "1Gi", policy="Delete",
                                                          cls="scratch"))
        apply(kubectl, ns, pvc("keep", "1Gi", cls="keep"), pvc("scratch", "1Gi", cls="scratch"))
        for claim in ("keep", "scratch"):
            eventually(lambda c=claim: phase(kubectl, "-n", ns, "pvc", c) == "Bound")
        kubectl("-n", ns, "delete", "pvc", "keep", "scratch")

        eventually(lambda: phase(kubectl, "pv", kept) == "Released")
        assert rows(kubectl, "pv", kept)[kept][4:6] == ["Released", f"{ns}/keep"]
        eventually(lambda: kubectl.run("get", "pv", gone, check=False).returncode != 0)
    finally:
        kubectl("delete", "pv", kept, gone, "--wait=false", "--ignore-not-found", check=False)


def test_claim_without_class_waits_for_its_first_consumer_then_gets_a_local_volume(
        kubectl: Kubectl, ns: str, simulator: subprocess.Popen[bytes]) -> None:
    apply(kubectl, ns, pvc("cache", "2Gi", cls=None))
    claim = json.loads(kubectl("-n", ns, "get", "pvc", "cache", "-o", "json"))
    assert claim["spec"]["storageClassName"] == "local-path"
    eventually(lambda: "Normal WaitForFirstConsumer waiting for first consumer to be created "
                       "before binding" in events_of(kubectl, ns, "cache"))
    assert phase(kubectl, "-n", ns, "pvc", "cache") == "Pending"

    apply(kubectl, ns, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user"},
                        "spec": {"containers": [{"name": "c", "image": "busybox"}],
                                 "volumes": [{"name": "d", "persistentVolumeClaim": {
                                     "claimName": "cache"}}]}})

    def placed() -> str:
        claim = json.loads(kubectl("-n", ns, "get", "pvc", "cache", "-o", "json"))
        node = claim["metadata"].get("annotations", {}).get(
            "volume.kubernetes.io/selected-node")
        if node:
            return str(node)
        # Stand-in for the scheduler's VolumeBinding plugin (see the module docstring).
        scheduled = kubectl("-n", ns, "get", "pod", "user", "-o", "jsonpath={.spec.nodeName}")
        if scheduled:
            kubectl("-n", ns, "annotate", "pvc", "cache",
                    f"volume.kubernetes.io/selected-node={scheduled}")
        return scheduled

    node = eventually(placed)
    eventually(lambda: phase(kubectl, "-n", ns, "pvc", "cache") == "Bound")
    claim = json.loads(kubectl("-n", ns, "get", "pvc", "cache", "-o", "json"))
    uid = claim["metadata"]["uid"]
    volume = json.loads(kubectl("get", "pv", f"pvc-{uid}", "-o", "json"))
    assert volume["spec"]["hostPath"] == {
        "path": f"/var/lib/kajitori/storage/pvc-{uid}_{ns}_cache", "type": "DirectoryOrCreate"}
    assert volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0][
        "matchExpressions"][0]["values"] == [node]
    assert volume["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == \
        "rancher.io/local-path"
    assert rows(kubectl, "-n", ns, "pvc")["cache"][:6] == [
        "cache", "Bound", f"pvc-{uid}", "2Gi", "RWO", "local-path"]
    assert f"Normal ProvisioningSucceeded Successfully provisioned volume pvc-{uid}" in \
        events_of(kubectl, ns, "cache")

    # In use by a scheduled pod: the claim waits for it (pvc-protection).
    assert eventually(lambda: kubectl("-n", ns, "get", "pod", "user", "-o",
                                      "jsonpath={.spec.nodeName}")) == node
    kubectl("-n", ns, "delete", "pvc", "cache", "--wait=false")
    assert kubectl("-n", ns, "get", "pvc", "cache", "-o", "jsonpath={.status.phase}") == "Bound"
    kubectl("-n", ns, "delete", "pod", "user", "--grace-period=0", "--force")
    eventually(lambda: kubectl.run("get", "pv", f"pvc-{uid}", check=False).returncode != 0)
