"""Server-side apply and managedFields with the real kubectl, as the Kubernetes documentation
walks through them: a client-side `kubectl apply -f`, a `kubectl set image`, then
`kubectl apply --server-side` conflicting with the field `set image` took (kubectl's own
wording around upstream's message), `--force-conflicts` winning, a `--field-manager` of one's
own, `--show-managed-fields` showing entries as a v1.33 cluster writes them, re-applying
changing nothing, and a body that is not an object answered 400.

Every test works in its own namespace of the module's shared server.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from kajitori.testing.harness import Cluster

if TYPE_CHECKING:
    from kubectlrunner import Kubectl

pytestmark = pytest.mark.e2e

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
"""

# kubectl's own advice after the server's message (staging/src/k8s.io/kubectl apply.go).
CONFLICT_HELP = """\
Please review the fields above--they currently have other managers. Here
are the ways you can resolve this warning:
* If you intend to manage all of these fields, please re-run the apply
  command with the `--force-conflicts` flag.
* If you do not intend to manage all of the fields, please edit your
  manifest to remove references to the fields that should keep their
  current managers.
* You may co-own fields by updating your manifest to match the existing
  value; in this case, you'll become the manager if the other manager(s)
  stop managing the field (remove it from their configuration).
See https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts
"""

# `kubectl create deployment web --image=nginx` as a v1.33 cluster records it.
CREATED_DEPLOYMENT_FIELDS = {
    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
    "f:spec": {
        "f:progressDeadlineSeconds": {}, "f:replicas": {}, "f:revisionHistoryLimit": {},
        "f:selector": {},
        "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}},
                       "f:type": {}},
        "f:template": {
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:containers": {'k:{"name":"nginx"}': {
                    ".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {},
                    "f:resources": {}, "f:terminationMessagePath": {},
                    "f:terminationMessagePolicy": {}}},
                "f:dnsPolicy": {}, "f:restartPolicy": {}, "f:schedulerName": {},
                "f:securityContext": {}, "f:terminationGracePeriodSeconds": {}}}}}


@pytest.fixture
def namespace(kubectl: Kubectl) -> str:
    name = f"ssa-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    return name


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "web.yaml"
    path.write_text(DEPLOYMENT)
    return path


def get(kubectl: Kubectl, namespace: str, *what: str) -> dict[str, Any]:
    return json.loads(kubectl("-n", namespace, "get", *what, "-o", "json",  # type: ignore[arg-type]
                              "--show-managed-fields"))


def managers(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["manager"], e["operation"]) for e in obj["metadata"]["managedFields"]]


def test_server_side_apply_conflicts_with_set_image_until_forced(
        kubectl: Kubectl, namespace: str, manifest: Path) -> None:
    assert kubectl("-n", namespace, "apply", "-f", str(manifest)) == \
        "deployment.apps/web created\n"
    assert kubectl("-n", namespace, "set", "image", "deployment/web", "nginx=nginx:1.26") == \
        "deployment.apps/web image updated\n"
    live = get(kubectl, namespace, "deployment", "web")
    assert managers(live) == [("kubectl-client-side-apply", "Update"), ("kubectl-set", "Update")]

    result = kubectl.run("-n", namespace, "apply", "--server-side", "-f", str(manifest),
                         check=False)
    assert result.returncode == 1
    assert result.stderr == (
        'error: Apply failed with 1 conflict: conflict with "kubectl-set" using apps/v1: '
        '.spec.template.spec.containers[name="nginx"].image\n' + CONFLICT_HELP)
    assert get(kubectl, namespace, "deployment", "web")["spec"]["template"]["spec"][
        "containers"][0]["image"] == "nginx:1.26"

    assert kubectl("-n", namespace, "apply", "--server-side", "--force-conflicts", "-f",
                   str(manifest)) == "deployment.apps/web serverside-applied\n"
    live = get(kubectl, namespace, "deployment", "web")
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    # kubectl moved the client-side applier's fields to its own Apply entry; kubectl-set lost
    # its only field.
    assert ("kubectl", "Apply") in managers(live)
    assert ("kubectl-set", "Update") not in managers(live)


def test_field_manager_is_its_own_manager(kubectl: Kubectl, namespace: str,
                                          manifest: Path) -> None:
    assert kubectl("-n", namespace, "apply", "--server-side", "--field-manager", "ci-tool",
                   "-f", str(manifest)) == "deployment.apps/web serverside-applied\n"
    live = get(kubectl, namespace, "deployment", "web")
    assert managers(live) == [("ci-tool", "Apply")]
    [entry] = live["metadata"]["managedFields"]
    assert entry["apiVersion"] == "apps/v1"
    assert entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"] == {
        'k:{"name":"nginx"}': {".": {}, "f:image": {}, "f:name": {}, "f:ports": {
            'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}}}

    manifest.write_text(DEPLOYMENT.replace("replicas: 2", "replicas: 3"))
    result = kubectl.run("-n", namespace, "apply", "--server-side", "--field-manager", "other",
                         "-f", str(manifest), check=False)
    assert result.returncode == 1
    # An applier is named without an apiVersion.
    assert result.stderr.startswith(
        'error: Apply failed with 1 conflict: conflict with "ci-tool": .spec.replicas\n')


def test_show_managed_fields_shows_entries_like_a_cluster(kubectl: Kubectl,
                                                          namespace: str) -> None:
    kubectl("-n", namespace, "create", "deployment", "web", "--image=nginx")
    plain = yaml.safe_load(kubectl("-n", namespace, "get", "deployment", "web", "-o", "yaml"))
    assert "managedFields" not in plain["metadata"]
    shown = yaml.safe_load(kubectl("-n", namespace, "get", "deployment", "web", "-o", "yaml",
                                   "--show-managed-fields"))
    [entry] = shown["metadata"]["managedFields"]
    assert list(entry) == ["apiVersion", "fieldsType", "fieldsV1", "manager", "operation",
                           "time"]  # as `-o yaml` sorts them
    assert (entry["manager"], entry["operation"], entry["apiVersion"], entry["fieldsType"]) == \
        ("kubectl-create", "Update", "apps/v1", "FieldsV1")
    assert entry["fieldsV1"] == CREATED_DEPLOYMENT_FIELDS


def test_server_side_apply_twice_changes_nothing(kubectl: Kubectl, namespace: str,
                                                 manifest: Path) -> None:
    kubectl("-n", namespace, "apply", "--server-side", "-f", str(manifest))
    before = get(kubectl, namespace, "deployment", "web")
    assert kubectl("-n", namespace, "apply", "--server-side", "-f", str(manifest)) == \
        "deployment.apps/web serverside-applied\n"
    after = get(kubectl, namespace, "deployment", "web")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["metadata"]["managedFields"] == before["metadata"]["managedFields"]


def test_server_side_apply_removes_fields_it_no_longer_applies(
        kubectl: Kubectl, namespace: str, manifest: Path) -> None:
    with_label = DEPLOYMENT.replace("    app: web\nspec:", "    app: web\n    tier: front\nspec:")
    manifest.write_text(with_label)
    kubectl("-n", namespace, "apply", "--server-side", "-f", str(manifest))
    assert get(kubectl, namespace, "deployment", "web")["metadata"]["labels"] == \
        {"app": "web", "tier": "front"}
    manifest.write_text(DEPLOYMENT)
    kubectl("-n", namespace, "apply", "--server-side", "-f", str(manifest))
    assert get(kubectl, namespace, "deployment", "web")["metadata"]["labels"] == {"app": "web"}


# ---- what kubectl cannot send ------------------------------------------------------------------

def patch(cluster: Cluster, path: str, body: bytes, *, content_type: str) -> tuple[int, Any]:
    """PATCH over HTTPS with the kubeconfig's admin certificate."""
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    server = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    context = ssl.create_default_context(
        cadata=base64.b64decode(server["certificate-authority-data"]).decode())
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp, "admin.crt"), Path(tmp, "admin.key")
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        context.load_cert_chain(cert, key)
    host, port = server["server"].removeprefix("https://").rsplit(":", 1)
    connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=60)
    try:
        connection.request("PATCH", path, body=body, headers={
            "Content-Type": content_type, "Accept": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_apply_body_that_is_not_an_object_is_400(cluster: Cluster) -> None:
    status, body = patch(cluster, "/api/v1/namespaces/default/configmaps/x?fieldManager=m",
                         b"[1, 2]", content_type="application/apply-patch+yaml")
    assert status == 400
    assert body["reason"] == "BadRequest"
    assert body["message"] == (
        "error decoding YAML: error unmarshaling JSON: while decoding JSON: json: cannot "
        "unmarshal array into Go value of type map[string]interface {}")
