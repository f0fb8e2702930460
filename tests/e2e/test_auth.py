"""Authentication and authorization end to end: who gets in, who is refused, and how it reads.

The module's server runs with a static token file (`--token-auth-file`) beside the admin client
certificate. Unauthenticated requests are refused with 401 except the health and version paths;
an authenticated user outside `system:masters` is refused with upstream's Forbidden wording, yet
may still read discovery (upstream's `system:discovery` role is bound to every authenticated
user), which kubectl needs before it can even send the request that gets the 403.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from cryptography import x509
from test_bad_input import RawClient

from kajitori.pki import certs, kubeconfig
from kajitori.testing import harness as testing_cluster

if TYPE_CHECKING:
    from kubectlrunner import Kubectl

pytestmark = pytest.mark.e2e

MASTERS_TOKEN = "masters-token-0123456789"
DEVS_TOKEN = "devs-token-0123456789"
TOKEN_FILE = (f'{MASTERS_TOKEN},alice,uid-alice,"system:masters,ops"\n'
              f"{DEVS_TOKEN},tok-bob,uid-tok-bob,devs\n")
UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
LOGGED_OUT = ("error: You must be logged in to the server (the server has asked for the client "
              "to provide credentials)")
FORBIDDEN_PODS = ('pods is forbidden: User "{user}" cannot list resource "pods" in API group "" '
                  'in the namespace "default"')


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[testing_cluster.Cluster]:
    """This module's server: the shared fixture's, plus a token file."""
    data_dir = tmp_path_factory.mktemp("auth")
    tokens = data_dir / "tokens.csv"
    tokens.write_text(TOKEN_FILE)
    with testing_cluster.running(data_dir, extra_args=("--token-auth-file", str(tokens))) \
            as started:
        yield started


def server_of(cluster: testing_cluster.Cluster) -> str:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    server: str = config["clusters"][0]["cluster"]["server"]
    return server


def pki_of(cluster: testing_cluster.Cluster) -> certs.PKIPaths:
    return certs.PKIPaths(cluster.data_dir / certs.PKI_DIR_NAME)


def client(cluster: testing_cluster.Cluster, **credentials: Any) -> RawClient:
    return RawClient(server_of(cluster), ca_pem=pki_of(cluster).ca_cert.read_bytes(),
                     **credentials)


def kubeconfig_for(cluster: testing_cluster.Cluster, path: Path, user: str,
                   **credentials: Any) -> Path:
    path.write_text(kubeconfig.render_kubeconfig(
        server=server_of(cluster), ca_pem=pki_of(cluster).ca_cert.read_bytes(),
        cluster_name="kajitori", user=user, context=f"{user}@kajitori", **credentials))
    return path


def kubectl_as(kubectl: Kubectl, config: Path) -> Kubectl:
    return dataclasses.replace(kubectl, kubeconfig=config)


def stderr_of(result: Any) -> str:
    """kubectl's error line: the last one, after any discovery retries it logs."""
    lines = [line for line in result.stderr.splitlines()
             if not line.startswith("Warning: version difference")]
    return lines[-1] if lines else ""


@pytest.fixture(scope="module")
def bob_cert(cluster: testing_cluster.Cluster) -> tuple[bytes, bytes]:
    return certs.issue_client_cert(pki_of(cluster), "bob", groups=("devs",))


# ---- no credentials ------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/namespaces", "/api/v1/namespaces/default/pods",
                                  "/api", "/apis", "/openapi/v3"])
def test_unauthenticated_request_is_401(cluster: testing_cluster.Cluster, path: str) -> None:
    response = client(cluster).request("GET", path)
    assert response.status == 401
    assert response.json() == UNAUTHORIZED


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz"])
def test_unauthenticated_health_checks_answer_ok(cluster: testing_cluster.Cluster,
                                                 path: str) -> None:
    response = client(cluster).request("GET", path)
    assert response.status == 200
    assert response.body == b"ok"


def test_unauthenticated_version_answers(cluster: testing_cluster.Cluster) -> None:
    response = client(cluster).request("GET", "/version")
    assert response.status == 200
    version = response.json()
    assert (version["major"], version["minor"]) == ("1", "33")
    assert version["gitVersion"].startswith("v1.33.")


# ---- a certificate outside system:masters -----------------------------------------------------

def test_user_outside_masters_is_forbidden_raw(cluster: testing_cluster.Cluster,
                                               bob_cert: tuple[bytes, bytes]) -> None:
    cert_pem, key_pem = bob_cert
    response = client(cluster, cert_pem=cert_pem, key_pem=key_pem).request(
        "GET", "/api/v1/namespaces/default/pods")
    assert response.status == 403
    assert response.json() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": FORBIDDEN_PODS.format(user="bob"), "reason": "Forbidden",
        "details": {"kind": "pods"}, "code": 403}


@pytest.mark.parametrize("path", ["/api", "/apis", "/api/v1", "/apis/apps/v1", "/openapi/v3"])
def test_any_authenticated_user_may_read_discovery(cluster: testing_cluster.Cluster,
                                                   bob_cert: tuple[bytes, bytes],
                                                   path: str) -> None:
    cert_pem, key_pem = bob_cert
    response = client(cluster, cert_pem=cert_pem, key_pem=key_pem).request("GET", path)
    assert response.status == 200, response.body


def test_kubectl_as_user_outside_masters_is_forbidden(
        cluster: testing_cluster.Cluster, kubectl: Kubectl, tmp_path: Path,
        bob_cert: tuple[bytes, bytes]) -> None:
    cert_pem, key_pem = bob_cert
    config = kubeconfig_for(cluster, tmp_path / "bob.kubeconfig", "bob",
                            client_cert_pem=cert_pem, client_key_pem=key_pem)
    result = kubectl_as(kubectl, config).run("get", "pods", check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    assert stderr_of(result) == \
        f"Error from server (Forbidden): {FORBIDDEN_PODS.format(user='bob')}"


# ---- static tokens --------------------------------------------------------------------------

def test_masters_token_is_admitted(cluster: testing_cluster.Cluster, kubectl: Kubectl,
                                   tmp_path: Path) -> None:
    assert client(cluster, token=MASTERS_TOKEN).request("GET", "/api/v1/namespaces").status \
        == 200
    config = kubeconfig_for(cluster, tmp_path / "alice.kubeconfig", "alice", token=MASTERS_TOKEN)
    names = kubectl_as(kubectl, config)("get", "namespaces", "-o", "name").split()
    assert "namespace/default" in names
    assert "namespace/kube-system" in names


def test_token_outside_masters_is_forbidden(cluster: testing_cluster.Cluster) -> None:
    response = client(cluster, token=DEVS_TOKEN).request("GET", "/api/v1/namespaces/default/pods")
    assert response.status == 403
    assert response.json()["message"] == FORBIDDEN_PODS.format(user="tok-bob")


def test_wrong_token_is_401(cluster: testing_cluster.Cluster) -> None:
    response = client(cluster, token="not-a-token").request("GET", "/api/v1/namespaces")
    assert response.status == 401
    assert response.json() == UNAUTHORIZED


def test_kubectl_with_wrong_token_must_log_in(cluster: testing_cluster.Cluster,
                                              kubectl: Kubectl, tmp_path: Path) -> None:
    config = kubeconfig_for(cluster, tmp_path / "wrong.kubeconfig", "mallory", token="nope")
    result = kubectl_as(kubectl, config).run("get", "pods", check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    assert stderr_of(result) == LOGGED_OUT


def test_a_certificate_wins_over_a_wrong_token(cluster: testing_cluster.Cluster) -> None:
    # Upstream tries x509 first; the admin certificate authenticates whatever the header says.
    admin = RawClient.from_kubeconfig(cluster.kubeconfig)
    admin.token = "nope"
    assert admin.request("GET", "/api/v1/namespaces").status == 200


# ---- the serving certificate ----------------------------------------------------------------

def serving_certificate(cluster: testing_cluster.Cluster) -> x509.Certificate:
    host, port = server_of(cluster).removeprefix("https://").rsplit(":", 1)
    pem = ssl.get_server_certificate((host, int(port)))
    return x509.load_pem_x509_certificate(pem.encode())


def test_serving_certificate_names_the_service_the_loopback_and_the_host(
        cluster: testing_cluster.Cluster) -> None:
    sans = serving_certificate(cluster).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    dns_names = set(sans.get_values_for_type(x509.DNSName))
    ips = set(sans.get_values_for_type(x509.IPAddress))
    assert {"kubernetes", "kubernetes.default", "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local", socket.gethostname()} <= dns_names
    assert {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.96.0.1")} <= ips


@pytest.mark.parametrize("name", ["kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
                                  "localhost"])
def test_tls_verifies_for_the_service_names(cluster: testing_cluster.Cluster, name: str) -> None:
    """A client inside the cluster dials the Service name: the handshake must verify."""
    host, port = server_of(cluster).removeprefix("https://").rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(pki_of(cluster).ca_cert))
    with socket.create_connection((host, int(port)), timeout=10) as sock, \
            context.wrap_socket(sock, server_hostname=name) as tls:
        assert tls.version() is not None
