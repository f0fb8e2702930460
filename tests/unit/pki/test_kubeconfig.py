"""write_admin_kubeconfig / render_kubeconfig: kubeadm's admin.conf shape, credentials embedded."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
import yaml

from kajitori.pki import certs, kubeconfig


@pytest.fixture
def pki(tmp_path: Path) -> certs.PKIPaths:
    return certs.ensure_pki(tmp_path / "data", hostname="node-1")


def test_admin_kubeconfig_embeds_ca_and_admin_credentials(pki: certs.PKIPaths,
                                                          tmp_path: Path) -> None:
    path = tmp_path / "kube" / "admin.conf"
    kubeconfig.write_admin_kubeconfig(path, server="https://127.0.0.1:6443", pki=pki)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = yaml.safe_load(path.read_text())
    assert config == {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kajitori", "cluster": {
            "server": "https://127.0.0.1:6443",
            "certificate-authority-data": base64.b64encode(pki.ca_cert.read_bytes()).decode()}}],
        "contexts": [{"name": "kubernetes-admin@kajitori",
                      "context": {"cluster": "kajitori", "user": "kubernetes-admin"}}],
        "current-context": "kubernetes-admin@kajitori",
        "preferences": {},
        "users": [{"name": "kubernetes-admin", "user": {
            "client-certificate-data": base64.b64encode(pki.admin_cert.read_bytes()).decode(),
            "client-key-data": base64.b64encode(pki.admin_key.read_bytes()).decode()}}],
    }


def test_admin_kubeconfig_keys_are_in_clientcmd_order(pki: certs.PKIPaths,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "admin.conf"
    kubeconfig.write_admin_kubeconfig(path, server="https://10.0.0.7:6443", pki=pki,
                                      cluster_name="lab", context="admin@lab")
    top_level = [line.split(":")[0] for line in path.read_text().splitlines()
                 if line and not line.startswith((" ", "-"))]
    assert top_level == ["apiVersion", "clusters", "contexts", "current-context", "kind",
                         "preferences", "users"]
    assert "current-context: admin@lab" in path.read_text()


def test_render_kubeconfig_with_token_only() -> None:
    config = yaml.safe_load(kubeconfig.render_kubeconfig(
        server="https://k:6443", ca_pem=b"CA", cluster_name="c", user="u", context="ctx",
        token="abc.def"))
    assert config["users"] == [{"name": "u", "user": {"token": "abc.def"}}]


def test_render_kubeconfig_rejects_a_certificate_without_its_key() -> None:
    with pytest.raises(ValueError, match="go together"):
        kubeconfig.render_kubeconfig(server="https://k:6443", ca_pem=b"CA", cluster_name="c",
                                     user="u", context="ctx", client_cert_pem=b"CERT")
