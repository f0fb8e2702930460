"""Bad input end to end: what kubectl and a raw HTTPS client see, and that nothing is stored.

Every wording asserted here is upstream v1.33's: the apiserver's (strict decoding, field errors,
Status reasons, `field label not supported`, the body size limit) and kubectl's own framing of
them (`Error from server (...)`, `error when creating "<file>"`, `The Pod "x" is invalid:`,
`resource mapping not found`, `Unable to find "/v1, Resource=pods" ...`). After each refused
request the stored objects and their resourceVersions must be exactly as before.

Deliberate departure from upstream, asserted as kajitori answers it: an object bigger than etcd's
1.5 MiB request limit is a 413 (a real cluster passes etcd's `etcdserver: request is too large`
through as a 500; kubernetes/kubernetes#112152).
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from kubectlrunner import eventually

from kajitori.testing.harness import Cluster

if TYPE_CHECKING:
    from kubectlrunner import Kubectl

pytestmark = pytest.mark.e2e

RFC1123_SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
MODIFIED = ("the object has been modified; please apply your changes to the latest version and "
            "try again")
MAX_BODY_BYTES = 3 * 1024 * 1024
MAX_CONFIGMAP_BYTES = 1024 * 1024
MIB = 1024 * 1024


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class RawClient:
    """HTTPS straight to the server, for what kubectl cannot send (broken bodies, stale
    resourceVersions, oversized objects, other identities). Credentials: a client certificate
    (`cert_pem` and `key_pem`), a bearer `token`, or none at all."""

    def __init__(self, server: str, *, ca_pem: bytes, cert_pem: bytes | None = None,
                 key_pem: bytes | None = None, token: str | None = None) -> None:
        self.context = ssl.create_default_context(cadata=ca_pem.decode())
        if cert_pem is not None and key_pem is not None:
            with tempfile.TemporaryDirectory() as tmp:
                cert, key = Path(tmp, "client.crt"), Path(tmp, "client.key")
                cert.write_bytes(cert_pem)
                key.write_bytes(key_pem)
                self.context.load_cert_chain(cert, key)
        host, port = server.removeprefix("https://").rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.token = token

    @classmethod
    def from_kubeconfig(cls, kubeconfig: Path) -> RawClient:
        """The kubeconfig's server and embedded credentials (the admin's, for ours)."""
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        credentials = config["users"][0]["user"]
        return cls(cluster["server"],
                   ca_pem=base64.b64decode(cluster["certificate-authority-data"]),
                   cert_pem=base64.b64decode(credentials["client-certificate-data"]),
                   key_pem=base64.b64decode(credentials["client-key-data"]))

    def connect(self, *, timeout: float = 60) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.host, self.port, context=self.context,
                                           timeout=timeout)

    def headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def request(self, method: str, path: str, body: bytes | dict[str, Any] | None = None, *,
                content_type: str = "application/json") -> Response:
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        connection = self.connect()
        try:
            connection.request(method, path, body=body,
                               headers=self.headers(content_type if body is not None else None))
            response = connection.getresponse()
            return Response(response.status, response.headers, response.read())
        finally:
            connection.close()


# ---- fixtures and helpers --------------------------------------------------------------------

@pytest.fixture
def raw(cluster: Cluster) -> RawClient:
    return RawClient.from_kubeconfig(cluster.kubeconfig)


@pytest.fixture
def ns(raw: RawClient) -> str:
    """A fresh namespace per test, so that both kubectl runs of a test start clean."""
    name = f"bad-{uuid.uuid4().hex[:8]}"
    created = raw.request("POST", "/api/v1/namespaces",
                          {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert created.status == 201, created.body
    eventually(lambda: settled(raw), what="every namespace's default ServiceAccount and "
                                           "kube-root-ca.crt")
    return name


def settled(raw: RawClient) -> bool:
    """Whether every namespace has what the controllers give it, so that nothing but the test
    changes the snapshot."""
    def namespaces_with(path: str, name: str) -> set[str]:
        listed = raw.request("GET", f"{path}?fieldSelector=metadata.name%3D{name}").json()
        return {item["metadata"]["namespace"] for item in listed["items"]}

    every = {item["metadata"]["name"]
             for item in raw.request("GET", "/api/v1/namespaces").json()["items"]}
    return (namespaces_with("/api/v1/serviceaccounts", "default") >= every
            and namespaces_with("/api/v1/configmaps", "kube-root-ca.crt") >= every)


SNAPSHOT_COLLECTIONS = ("/api/v1/namespaces", "/api/v1/configmaps", "/api/v1/pods",
                        "/apis/apps/v1/deployments")


def snapshot(raw: RawClient) -> dict[str, str]:
    """Every stored namespace, configmap, pod and deployment with its resourceVersion."""
    seen: dict[str, str] = {}
    for path in SNAPSHOT_COLLECTIONS:
        listed = raw.request("GET", path)
        assert listed.status == 200, listed.body
        for item in listed.json()["items"]:
            md = item["metadata"]
            seen[f"{path}/{md.get('namespace', '')}/{md['name']}"] = md["resourceVersion"]
    return seen


@pytest.fixture
def unchanged(raw: RawClient, ns: str) -> Iterator[None]:
    """Asserts, after the test, that the refused requests stored nothing and changed nothing."""
    before = snapshot(raw)
    yield
    assert snapshot(raw) == before


def write(tmp_path: Path, name: str, manifest: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(manifest))
    return path


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": spec if spec else {"containers": [{"name": "c", "image": "nginx"}]}}


def configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def deployment_with_typo(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicaz": 3, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def refused(kubectl: Kubectl, *args: str, stdin: str | None = None) -> str:
    """Run kubectl expecting failure; its stderr without the version-skew warning."""
    result = kubectl.run(*args, input=stdin, check=False)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    return "\n".join(line for line in result.stderr.splitlines()
                     if not line.startswith("Warning: version difference"))


# ---- unknown fields: --validate / fieldValidation ---------------------------------------------

@pytest.mark.usefixtures("unchanged")
def test_unknown_field_under_strict_validation_is_refused_naming_it(
        kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    manifest = write(tmp_path, "bad.yaml", deployment_with_typo("typo"))
    stderr = refused(kubectl, "create", "-n", ns, "-f", str(manifest), "--validate=strict")
    assert stderr == (
        f'Error from server (BadRequest): error when creating "{manifest}": Deployment in '
        'version "v1" cannot be handled as a Deployment: strict decoding error: unknown field '
        '"spec.replicaz"')


def test_unknown_field_under_warn_validation_warns_and_creates(
        kubectl: Kubectl, ns: str, tmp_path: Path, raw: RawClient) -> None:
    manifest = write(tmp_path, "bad.yaml", deployment_with_typo("typo"))
    result = kubectl.run("create", "-n", ns, "-f", str(manifest), "--validate=warn")
    assert 'Warning: unknown field "spec.replicaz"' in result.stderr.splitlines()
    assert result.stdout == "deployment.apps/typo created\n"
    stored = raw.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/typo").json()
    assert "replicaz" not in stored["spec"]
    assert stored["spec"]["replicas"] == 1  # the default: the misspelt field was dropped


@pytest.mark.usefixtures("unchanged")
def test_raw_strict_field_validation_is_400_with_the_field(raw: RawClient, ns: str) -> None:
    response = raw.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments"
                           "?fieldValidation=Strict", deployment_with_typo("typo"))
    assert response.status == 400
    status = response.json()
    assert status["reason"] == "BadRequest"
    assert status["message"] == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.replicaz"')


def test_raw_warn_field_validation_sends_a_warning_header(raw: RawClient, ns: str) -> None:
    response = raw.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments"
                           "?fieldValidation=Warn", deployment_with_typo("typo"))
    assert response.status == 201, response.body
    assert response.headers.get_all("Warning") == ['299 - "unknown field \\"spec.replicaz\\""']


# ---- invalid objects: 422 ---------------------------------------------------------------------

@pytest.mark.usefixtures("unchanged")
def test_bad_pod_name_is_invalid(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    manifest = write(tmp_path, "pod.yaml", pod("BAD_name"))
    stderr = refused(kubectl, "create", "-n", ns, "-f", str(manifest))
    assert stderr == (f'The Pod "BAD_name" is invalid: metadata.name: Invalid value: '
                      f'"BAD_name": {RFC1123_SUBDOMAIN}')


@pytest.mark.usefixtures("unchanged")
def test_pod_without_containers_is_invalid(kubectl: Kubectl, ns: str, tmp_path: Path) -> None:
    manifest = write(tmp_path, "pod.yaml", pod("nocontainers", restartPolicy="Always"))
    stderr = refused(kubectl, "create", "-n", ns, "-f", str(manifest))
    assert stderr == 'The Pod "nocontainers" is invalid: spec.containers: Required value'


@pytest.mark.usefixtures("unchanged")
def test_raw_invalid_pod_is_422_with_every_cause(raw: RawClient, ns: str) -> None:
    response = raw.request("POST", f"/api/v1/namespaces/{ns}/pods",
                           pod("BAD_name", restartPolicy="Always"))
    assert response.status == 422
    status = response.json()
    assert status["kind"] == "Status"
    assert status["status"] == "Failure"
    assert status["reason"] == "Invalid"
    assert status["code"] == 422
    assert status["message"] == (
        f'Pod "BAD_name" is invalid: [metadata.name: Invalid value: "BAD_name": '
        f"{RFC1123_SUBDOMAIN}, spec.containers: Required value]")
    assert status["details"] == {
        "name": "BAD_name", "kind": "Pod",
        "causes": [
            {"reason": "FieldValueInvalid", "field": "metadata.name",
             "message": f'Invalid value: "BAD_name": {RFC1123_SUBDOMAIN}'},
            {"reason": "FieldValueRequired", "field": "spec.containers",
             "message": "Required value"},
        ]}


# ---- unknown kinds and resources ---------------------------------------------------------------

@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("validate", ["--validate=strict", "--validate=false"])
def test_unknown_kind_is_a_resource_mapping_error(kubectl: Kubectl, ns: str, tmp_path: Path,
                                                  validate: str) -> None:
    manifest = write(tmp_path, "foo.yaml",
                     {"apiVersion": "v1", "kind": "Foo", "metadata": {"name": "x"}})
    stderr = refused(kubectl, "create", "-n", ns, "-f", str(manifest), validate)
    assert stderr == (
        f'error: resource mapping not found for name: "x" namespace: "" from "{manifest}": '
        'no matches for kind "Foo" in version "v1"\nensure CRDs are installed first')


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("validate", ["--validate=strict", "--validate=false"])
def test_unknown_api_version_is_a_resource_mapping_error(kubectl: Kubectl, ns: str,
                                                         validate: str) -> None:
    manifest = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"
    stderr = refused(kubectl, "create", "-n", ns, "-f", "-", validate, stdin=manifest)
    assert stderr == (
        'error: resource mapping not found for name: "w" namespace: "" from "STDIN": '
        'no matches for kind "Widget" in version "example.com/v1"\n'
        "ensure CRDs are installed first")


@pytest.mark.usefixtures("unchanged")
def test_raw_unknown_resource_is_404(raw: RawClient, ns: str) -> None:
    response = raw.request("POST", f"/api/v1/namespaces/{ns}/foos",
                           {"apiVersion": "v1", "kind": "Foo", "metadata": {"name": "x"}})
    assert response.status == 404
    assert response.json()["message"] == "the server could not find the requested resource"
    assert response.json()["reason"] == "NotFound"


# ---- undecodable bodies ---------------------------------------------------------------------

@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(("body", "content_type", "prefix"), [
    (b"this is: not: json {", "application/json", "couldn't get version/kind; json parse error: "),
    (b"\x00\x01\xfe{{{", "application/json", "couldn't get version/kind; json parse error: "),
    (b"kind: [unclosed\n  - : :", "application/yaml", "error converting YAML to JSON: "),
], ids=["text-as-json", "binary-as-json", "broken-yaml"])
def test_raw_body_neither_json_nor_yaml_is_400(raw: RawClient, ns: str, body: bytes,
                                               content_type: str, prefix: str) -> None:
    response = raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body,
                           content_type=content_type)
    assert response.status == 400
    status = response.json()
    assert status["reason"] == "BadRequest"
    assert status["code"] == 400
    assert status["message"].startswith(prefix), status["message"]


@pytest.mark.usefixtures("unchanged")
def test_raw_body_of_an_unknown_media_type_is_415(raw: RawClient, ns: str) -> None:
    response = raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps", b"hello",
                           content_type="text/plain")
    assert response.status == 415
    assert response.json()["reason"] == "UnsupportedMediaType"
    assert response.json()["message"] == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json, application/yaml, application/vnd.kubernetes.protobuf")


# ---- optimistic concurrency ---------------------------------------------------------------------

def test_raw_put_with_stale_resource_version_is_409(raw: RawClient, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    first = raw.request("POST", path, configmap("cm", {"a": "1"})).json()
    current = raw.request("PUT", f"{path}/cm", {**first, "data": {"a": "2"}})
    assert current.status == 200, current.body
    before = snapshot(raw)
    stale = raw.request("PUT", f"{path}/cm", {**first, "data": {"a": "3"}})
    assert stale.status == 409
    status = stale.json()
    assert status["reason"] == "Conflict"
    assert status["message"] == f'Operation cannot be fulfilled on configmaps "cm": {MODIFIED}'
    assert status["details"] == {"name": "cm", "kind": "configmaps"}
    assert snapshot(raw) == before
    assert raw.request("GET", f"{path}/cm").json()["data"] == {"a": "2"}


def test_replace_with_stale_resource_version_is_a_conflict(kubectl: Kubectl, ns: str,
                                                           tmp_path: Path) -> None:
    kubectl("create", "-n", ns, "configmap", "cm", "--from-literal=a=1")
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(kubectl("get", "-n", ns, "configmap", "cm", "-o", "yaml"))
    kubectl("label", "-n", ns, "configmap", "cm", "touched=yes")
    stderr = refused(kubectl, "replace", "-n", ns, "-f", str(manifest))
    assert stderr == (f'Error from server (Conflict): error when replacing "{manifest}": '
                      f'Operation cannot be fulfilled on configmaps "cm": {MODIFIED}')
    labels = kubectl("get", "-n", ns, "configmap", "cm", "-o", "jsonpath={.metadata.labels}")
    assert json.loads(labels) == {"touched": "yes"}


# ---- size limits --------------------------------------------------------------------------------

def test_raw_large_object_under_every_limit_is_stored_whole(raw: RawClient, ns: str) -> None:
    value = "x" * (900 * 1024)
    response = raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps",
                           configmap("large", {"v": value}))
    assert response.status == 201, response.body[:500]
    stored = raw.request("GET", f"/api/v1/namespaces/{ns}/configmaps/large").json()
    assert stored["data"]["v"] == value


@pytest.mark.usefixtures("unchanged")
def test_raw_configmap_over_1_mib_is_invalid(raw: RawClient, ns: str) -> None:
    # A real cluster's ConfigMap validation (1 MiB of data) refuses this before etcd's limit.
    response = raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps",
                           configmap("big", {"v": "x" * int(1.6 * MIB)}))
    assert response.status == 422, response.body[:500]
    status = response.json()
    assert status["message"] == (f'ConfigMap "big" is invalid: []: Too long: may not be more '
                                 f"than {MAX_CONFIGMAP_BYTES} bytes")
    assert status["details"]["causes"] == [
        {"reason": "FieldValueTooLong", "field": "[]",
         "message": f"Too long: may not be more than {MAX_CONFIGMAP_BYTES} bytes"}]


@pytest.mark.usefixtures("unchanged")
def test_raw_object_over_the_storage_limit_is_413(raw: RawClient, ns: str) -> None:
    # No per-kind limit applies to an environment variable: only the 1.5 MiB storage limit.
    big = pod("big", containers=[{"name": "c", "image": "nginx",
                                  "env": [{"name": "V", "value": "x" * int(1.6 * MIB)}]}])
    response = raw.request("POST", f"/api/v1/namespaces/{ns}/pods", big)
    assert response.status == 413, response.body[:500]
    assert response.json()["reason"] == "RequestEntityTooLarge"


@pytest.mark.usefixtures("unchanged")
def test_raw_body_over_3_mib_is_413(raw: RawClient, ns: str) -> None:
    response = raw.request("POST", f"/api/v1/namespaces/{ns}/configmaps",
                           configmap("huge", {"v": "x" * int(3.2 * MIB)}))
    assert response.status == 413
    status = response.json()
    assert status["reason"] == "RequestEntityTooLarge"
    assert status["message"] == f"Request entity too large: limit is {MAX_BODY_BYTES}"


# ---- missing, duplicate, misplaced -----------------------------------------------------------

@pytest.mark.usefixtures("unchanged")
def test_get_missing_pod_is_not_found(kubectl: Kubectl, ns: str) -> None:
    stderr = refused(kubectl, "get", "-n", ns, "pods", "nosuch")
    assert stderr == 'Error from server (NotFound): pods "nosuch" not found'


def test_creating_twice_is_already_exists(kubectl: Kubectl, ns: str, tmp_path: Path,
                                          raw: RawClient) -> None:
    manifest = write(tmp_path, "cm.yaml", configmap("twice", {"a": "1"}))
    assert kubectl("create", "-n", ns, "-f", str(manifest)) == "configmap/twice created\n"
    before = snapshot(raw)
    stderr = refused(kubectl, "create", "-n", ns, "-f", str(manifest))
    assert stderr == (f'Error from server (AlreadyExists): error when creating "{manifest}": '
                      'configmaps "twice" already exists')
    assert snapshot(raw) == before


@pytest.mark.usefixtures("unchanged")
def test_creating_in_a_missing_namespace_is_not_found(kubectl: Kubectl, ns: str,
                                                      tmp_path: Path) -> None:
    manifest = write(tmp_path, "cm.yaml", configmap("lost", {"a": "1"}))
    stderr = refused(kubectl, "create", "-n", "nope", "-f", str(manifest))
    assert stderr == (f'Error from server (NotFound): error when creating "{manifest}": '
                      'namespaces "nope" not found')


# ---- selectors ----------------------------------------------------------------------------

@pytest.mark.usefixtures("unchanged")
def test_unsupported_pod_field_selector_is_bad_request(kubectl: Kubectl, ns: str) -> None:
    stderr = refused(kubectl, "get", "-n", ns, "pods", "--field-selector", "foo=bar")
    assert stderr == (
        'Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label '
        'selector "", field selector "foo=bar": field label not supported: foo')


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(("resource", "message"), [
    ("pods", "field label not supported: foo"),
    ("configmaps", '"foo" is not a known field selector: only "metadata.name", '
                   '"metadata.namespace"'),
])
def test_raw_unsupported_field_selector_is_400(raw: RawClient, ns: str, resource: str,
                                               message: str) -> None:
    response = raw.request("GET", f"/api/v1/namespaces/{ns}/{resource}?fieldSelector=foo%3Dbar")
    assert response.status == 400
    assert response.json()["reason"] == "BadRequest"
    assert response.json()["message"] == message
