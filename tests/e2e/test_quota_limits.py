"""ResourceQuota and LimitRange through kubectl: quotas count and refuse, limit ranges default
and refuse, as upstream's admission plugins and quota controller do."""

from __future__ import annotations

import json

import pytest
from kubectlrunner import eventually, new_namespace


@pytest.fixture
def ns(kubectl) -> str:
    return new_namespace(kubectl, "quota")



def used(kubectl, ns: str, name: str) -> dict[str, str]:
    quota = json.loads(kubectl("-n", ns, "get", "resourcequota", name, "-o", "json"))
    return (quota.get("status") or {}).get("used") or {}


def test_quota_counts_and_refuses_the_pod_over_it(kubectl, ns: str) -> None:
    kubectl("-n", ns, "create", "quota", "q1", "--hard=pods=2,services=5")
    eventually(lambda: used(kubectl, ns, "q1") == {"pods": "0", "services": "0"})
    kubectl("-n", ns, "run", "web1", "--image=nginx")
    kubectl("-n", ns, "run", "web2", "--image=nginx")
    result = kubectl.run("-n", ns, "run", "web3", "--image=nginx", check=False)
    assert result.returncode == 1
    assert result.stderr == (
        'Error from server (Forbidden): pods "web3" is forbidden: exceeded quota: q1, '
        "requested: pods=1, used: pods=2, limited: pods=2\n")
    lines = kubectl("-n", ns, "describe", "quota", "q1").splitlines()
    assert [line.split() for line in lines[2:]] == [
        ["Resource", "Used", "Hard"], ["--------", "----", "----"],
        ["pods", "2", "2"], ["services", "0", "5"]]
    described = kubectl("-n", ns, "describe", "namespace", ns)
    quotas = described.split("Resource Quotas", 1)[1].splitlines()
    assert [line.split() for line in quotas[1:6]] == [
        ["Name:", "q1"], ["Resource", "Used", "Hard"], ["--------", "---", "---"],
        ["pods", "2", "2"], ["services", "0", "5"]]
    kubectl("-n", ns, "delete", "pod", "web1", "--wait=false")
    eventually(lambda: used(kubectl, ns, "q1").get("pods") == "1")
    kubectl("-n", ns, "run", "web3", "--image=nginx")


def test_quota_on_cpu_requires_requests(kubectl, ns: str) -> None:
    kubectl("-n", ns, "create", "quota", "compute", "--hard=requests.cpu=1")
    eventually(lambda: used(kubectl, ns, "compute") == {"requests.cpu": "0"})
    result = kubectl.run("-n", ns, "run", "web", "--image=nginx", check=False)
    assert result.stderr == (
        'Error from server (Forbidden): pods "web" is forbidden: failed quota: compute: '
        "must specify requests.cpu for: web\n")


LIMIT_RANGE = {
    "apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits"},
    "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"},
                         "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "100m"}}]}}


def test_limit_range_defaults_and_refuses(kubectl, ns: str) -> None:
    kubectl("-n", ns, "create", "-f", "-", input=json.dumps(LIMIT_RANGE))
    kubectl("-n", ns, "run", "web", "--image=nginx")
    pod = json.loads(kubectl("-n", ns, "get", "pod", "web", "-o", "json"))
    assert pod["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "500m"}, "requests": {"cpu": "100m"}}
    assert pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu request for container web; cpu limit for container web")
    big = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "big"},
           "spec": {"containers": [{"name": "c", "image": "nginx",
                                    "resources": {"limits": {"cpu": "2"}}}]}}
    result = kubectl.run("-n", ns, "create", "-f", "-", input=json.dumps(big), check=False)
    assert result.stderr == (
        'Error from server (Forbidden): error when creating "STDIN": pods "big" is forbidden: '
        "maximum cpu usage per Container is 1, but limit is 2\n")
