"""ServiceAccount admission: pods run as an existing account, with its token mounted."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kajitori.admission import interface, serviceaccount
from kajitori.api import catalogue, errors

Obj = dict[str, Any]

PODS = catalogue.builtin().get("", "v1", "pods")
MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


def admit(pod: Obj, accounts: dict[str, Obj]) -> list[str]:
    """Admit `pod` in namespace `ns`; returns the account names looked up."""
    asked: list[str] = []

    async def get_service_account(namespace: str, name: str) -> Obj | None:
        asked.append(f"{namespace}/{name}")
        return accounts.get(name)

    plugin = serviceaccount.ServiceAccount(get_service_account=get_service_account,
                                           retry_interval=lambda: 0.0)
    assert PODS is not None
    asyncio.run(plugin.admit(interface.Attributes(
        operation="CREATE", resource=PODS, namespace="ns", name="web", obj=pod, old=None)))
    return asked


def web(**spec: Any) -> Obj:
    return {"metadata": {"name": "web"},
            "spec": {"containers": [{"name": "web", "image": "nginx"}],
                     "initContainers": [{"name": "setup", "image": "busybox"}], **spec}}


def test_default_account_and_token_volume() -> None:
    pod = web()
    admit(pod, {"default": {"metadata": {"name": "default"}}})
    spec = pod["spec"]
    assert (spec["serviceAccountName"], spec["serviceAccount"]) == ("default", "default")
    [volume] = spec["volumes"]
    name = volume["name"]
    assert name.startswith("kube-api-access-")
    assert len(name) == len("kube-api-access-") + 5
    assert volume["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt",
                                                               "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}
    for container in spec["containers"] + spec["initContainers"]:
        assert container["volumeMounts"] == [{"name": name, "readOnly": True,
                                              "mountPath": MOUNT}]


def test_missing_account_is_forbidden_after_retrying_default() -> None:
    with pytest.raises(errors.StatusError) as refused:
        admit(web(), {})
    assert refused.value.status["code"] == 403
    assert refused.value.status["message"] == (
        'pods "web" is forbidden: error looking up service account ns/default: '
        'serviceaccount "default" not found')
    with pytest.raises(errors.StatusError) as refused:
        admit(web(serviceAccountName="robot"), {})
    assert refused.value.status["message"].endswith(
        'error looking up service account ns/robot: serviceaccount "robot" not found')


def test_default_is_looked_up_ten_times_others_once() -> None:
    calls: list[str] = []

    async def get_service_account(namespace: str, name: str) -> Obj | None:
        calls.append(name)
        return None

    plugin = serviceaccount.ServiceAccount(get_service_account=get_service_account,
                                           retry_interval=lambda: 0.0)
    for pod in (web(), web(serviceAccountName="robot")):
        with pytest.raises(errors.StatusError):
            asyncio.run(plugin.admit(interface.Attributes(
                operation="CREATE", resource=PODS, namespace="ns", name="web", obj=pod,
                old=None)))
    assert calls == ["default"] * 10 + ["robot"]


def test_automount_false_on_pod_or_account_mounts_nothing() -> None:
    pod = web(automountServiceAccountToken=False)
    admit(pod, {"default": {"metadata": {"name": "default"}}})
    assert "volumes" not in pod["spec"]
    pod = web(serviceAccountName="robot")
    admit(pod, {"robot": {"metadata": {"name": "robot"}, "automountServiceAccountToken": False,
                          "imagePullSecrets": [{"name": "regcred"}]}})
    assert "volumes" not in pod["spec"]
    assert pod["spec"]["imagePullSecrets"] == [{"name": "regcred"}]


def test_a_container_with_its_own_mount_there_keeps_it() -> None:
    pod = web()
    own = {"name": "mine", "mountPath": MOUNT}
    pod["spec"]["containers"][0]["volumeMounts"] = [own]
    pod["spec"]["initContainers"] = []
    admit(pod, {"default": {"metadata": {"name": "default"}}})
    assert pod["spec"]["containers"][0]["volumeMounts"] == [own]
    assert "volumes" not in pod["spec"]
