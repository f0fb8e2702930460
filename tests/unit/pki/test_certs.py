"""ensure_pki: kubeadm's layout, what each certificate says, reuse and reissue on a later start."""

from __future__ import annotations

import datetime
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kajitori.pki import certs, pkiutil

KUBEADM_FILES = {
    "ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "apiserver-kubelet-client.crt",
    "apiserver-kubelet-client.key", "front-proxy-ca.crt", "front-proxy-ca.key",
    "front-proxy-client.crt", "front-proxy-client.key", "sa.key", "sa.pub",
}


@pytest.fixture
def pki(tmp_path: Path) -> certs.PKIPaths:
    return certs.ensure_pki(tmp_path, hostname="node-1", extra_sans=["api.example.com", "10.0.0.7"])


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _subject(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(oid)]


def _ext_usages(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def _file_snapshot(pki: certs.PKIPaths) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in pki.dir.iterdir()}


def test_first_start_creates_kubeadm_layout_and_admin_identity(pki: certs.PKIPaths) -> None:
    assert pki.dir.name == "pki"
    assert {p.name for p in pki.dir.iterdir()} == KUBEADM_FILES | {"admin.crt", "admin.key"}


def test_keys_are_private_and_certificates_readable(pki: certs.PKIPaths) -> None:
    for path in pki.dir.iterdir():
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o600 if path.suffix == ".key" else 0o644), path.name


def test_ca_is_a_ten_year_signing_authority(pki: certs.PKIPaths) -> None:
    ca = _load(pki.ca_cert)
    assert _subject(ca, NameOID.COMMON_NAME) == ["kubernetes"]
    assert ca.issuer == ca.subject
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign
    assert usage.digital_signature
    lifetime = ca.not_valid_after_utc - ca.not_valid_before_utc
    assert datetime.timedelta(days=3650) <= lifetime < datetime.timedelta(days=3651)
    ca.verify_directly_issued_by(ca)


def test_serving_certificate_has_service_host_and_extra_sans(pki: certs.PKIPaths) -> None:
    cert = _load(pki.apiserver_cert)
    cert.verify_directly_issued_by(_load(pki.ca_cert))
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {
        "kubernetes", "kubernetes.default", "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local", "localhost", "node-1", "api.example.com"}
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.96.0.1"),
        ipaddress.ip_address("10.0.0.7")}
    assert _ext_usages(cert) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert datetime.timedelta(days=365) <= lifetime < datetime.timedelta(days=366)


@pytest.mark.parametrize(("base_name", "ca_name", "common_name", "groups"), [
    ("admin", "ca", "kubernetes-admin", ["system:masters"]),
    ("apiserver-kubelet-client", "ca", "kube-apiserver-kubelet-client",
     ["kubeadm:cluster-admins"]),
    ("front-proxy-client", "front-proxy-ca", "front-proxy-client", []),
])
def test_client_certificates_carry_identity_and_client_auth(
        pki: certs.PKIPaths, base_name: str, ca_name: str, common_name: str,
        groups: list[str]) -> None:
    cert = _load(pki.cert(base_name))
    cert.verify_directly_issued_by(_load(pki.cert(ca_name)))
    assert _subject(cert, NameOID.COMMON_NAME) == [common_name]
    assert _subject(cert, NameOID.ORGANIZATION_NAME) == groups
    assert _ext_usages(cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_front_proxy_ca_is_a_separate_authority(pki: certs.PKIPaths) -> None:
    front_proxy_ca = _load(pki.front_proxy_ca_cert)
    assert _subject(front_proxy_ca, NameOID.COMMON_NAME) == ["front-proxy-ca"]
    assert not pkiutil.is_issued_by(_load(pki.front_proxy_client_cert), _load(pki.ca_cert))


def test_certificate_keys_are_p256_and_service_account_key_is_rsa_2048(
        pki: certs.PKIPaths) -> None:
    key = pkiutil.load_key(pki.apiserver_key)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp256r1"
    assert pki.apiserver_key.read_bytes().startswith(b"-----BEGIN EC PRIVATE KEY-----")
    sa_key = pkiutil.load_key(pki.sa_key)
    assert isinstance(sa_key, rsa.RSAPrivateKey)
    assert sa_key.key_size == 2048
    assert pki.sa_key.read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    assert pki.sa_pub.read_bytes() == pkiutil.public_key_pem(sa_key)


def test_later_start_reuses_every_file(pki: certs.PKIPaths) -> None:
    before = _file_snapshot(pki)
    again = certs.ensure_pki(pki.dir.parent, hostname="node-1",
                             extra_sans=["10.0.0.7", "API.example.com"])
    assert again == pki
    assert _file_snapshot(pki) == before


def test_new_host_name_reissues_only_the_serving_certificate(pki: certs.PKIPaths) -> None:
    before = _file_snapshot(pki)
    certs.ensure_pki(pki.dir.parent, hostname="node-2")
    after = _file_snapshot(pki)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"apiserver.crt", "apiserver.key"}
    san = _load(pki.apiserver_cert).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert "node-2" in san.get_values_for_type(x509.DNSName)
    _load(pki.apiserver_cert).verify_directly_issued_by(_load(pki.ca_cert))


def test_missing_leaf_is_issued_again_from_the_same_ca(pki: certs.PKIPaths) -> None:
    ca_before = pki.ca_cert.read_bytes()
    pki.admin_key.unlink()
    certs.ensure_pki(pki.dir.parent, hostname="node-1", extra_sans=["api.example.com", "10.0.0.7"])
    assert pki.ca_cert.read_bytes() == ca_before
    admin = _load(pki.admin_cert)
    assert pkiutil.public_keys_match(admin, pkiutil.load_key(pki.admin_key))
    admin.verify_directly_issued_by(_load(pki.ca_cert))


def test_expired_leaf_is_issued_again(pki: certs.PKIPaths) -> None:
    ca = pkiutil.load_cert_and_key(pki.ca_cert, pki.ca_key)
    long_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=800)
    expired = pkiutil.new_signed_cert(ca, "kubernetes-admin", organizations=["system:masters"],
                                      usages=[pkiutil.CLIENT_AUTH], now=long_ago)
    pkiutil.write_cert_and_key(expired, cert_path=pki.admin_cert, key_path=pki.admin_key)
    certs.ensure_pki(pki.dir.parent, hostname="node-1", extra_sans=["api.example.com", "10.0.0.7"])
    assert _load(pki.admin_cert).not_valid_after_utc > datetime.datetime.now(datetime.UTC)


def test_lost_ca_reissues_all_its_leaves(pki: certs.PKIPaths) -> None:
    old_front_proxy_client = pki.front_proxy_client_cert.read_bytes()
    pki.ca_key.unlink()
    certs.ensure_pki(pki.dir.parent, hostname="node-1")
    ca = _load(pki.ca_cert)
    for path in (pki.apiserver_cert, pki.apiserver_kubelet_client_cert, pki.admin_cert):
        _load(path).verify_directly_issued_by(ca)
    assert pki.front_proxy_client_cert.read_bytes() == old_front_proxy_client


def test_issue_client_cert_is_signed_by_the_cluster_ca(pki: certs.PKIPaths) -> None:
    cert_pem, key_pem = certs.issue_client_cert(pki, "system:node:node-1",
                                                groups=["system:nodes"], days=30)
    cert = x509.load_pem_x509_certificate(cert_pem)
    cert.verify_directly_issued_by(_load(pki.ca_cert))
    assert _subject(cert, NameOID.COMMON_NAME) == ["system:node:node-1"]
    assert _subject(cert, NameOID.ORGANIZATION_NAME) == ["system:nodes"]
    assert _ext_usages(cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert key_pem.startswith(b"-----BEGIN EC PRIVATE KEY-----")
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert datetime.timedelta(days=30) <= lifetime < datetime.timedelta(days=31)


def test_leaf_signed_by_another_ca_is_issued_again(pki: certs.PKIPaths) -> None:
    now = datetime.datetime.now(datetime.UTC)
    foreign = pkiutil.new_signed_cert(pkiutil.new_self_signed_ca("other", now=now),
                                      "kube-apiserver-kubelet-client", usages=[pkiutil.CLIENT_AUTH],
                                      now=now)
    pkiutil.write_cert_and_key(foreign, cert_path=pki.apiserver_kubelet_client_cert,
                               key_path=pki.apiserver_kubelet_client_key)
    certs.ensure_pki(pki.dir.parent, hostname="node-1", extra_sans=["api.example.com", "10.0.0.7"])
    _load(pki.apiserver_kubelet_client_cert).verify_directly_issued_by(_load(pki.ca_cert))
