"""Keys and certificates: generate, sign, read and write PEM files.

Mirrors kubeadm's `cmd/kubeadm/app/phases/certs/pkiutil/pki_helpers.go` and client-go's
`util/cert` and `util/keyutil`: the building blocks `kajitori.pki.certs` assembles into the kubeadm
layout. Everything here is synchronous and CPU-bound (key generation, signing): async callers run it
with `asyncio.to_thread`.

Departures from kubeadm, on purpose:
- Certificate keys are ECDSA P-256, the algorithm kubeadm's `encryptionAlgorithm: ECDSA-P256`
  selects, not its default RSA-2048. Generating one RSA-2048 key takes 10-80 ms on this machine
  (ECDSA: 0.01 ms) and a first start creates seven; an ECDSA server key also makes every TLS
  handshake cheaper. The ServiceAccount signing key stays RSA-2048 (see `generate_rsa_key`).
- keyEncipherment is set only on RSA keys: it names RSA key transport and RFC 5480 does not allow it
  on an EC key.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import exceptions, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

RSA_KEY_SIZE = 2048
"""Bits of the ServiceAccount signing key: kubeadm's default RSA size."""

CA_VALIDITY = datetime.timedelta(days=3650)
"""kubeadm's CA lifetime (`CertificateValidityPeriod` of a CA): ten years."""

CERT_VALIDITY = datetime.timedelta(days=365)
"""kubeadm's leaf certificate lifetime: one year."""

BACKDATE = datetime.timedelta(minutes=5)
"""NotBefore lies this far in the past, so that a machine whose clock runs a little behind the one
that signed still accepts a certificate issued a moment ago."""

SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class AltNames:
    """Subject alternative names of a serving certificate, as client-go's `cert.AltNames`."""

    dns_names: frozenset[str] = frozenset()
    ips: frozenset[IPAddress] = frozenset()

    @classmethod
    def parse(cls, names: Iterable[str]) -> AltNames:
        """Sort each name into an IP address or a DNS name, as kubeadm does with `certSANs`.
        DNS names are compared case-insensitively, so they are kept in lower case."""
        dns_names: set[str] = set()
        ips: set[IPAddress] = set()
        for name in names:
            try:
                ips.add(ipaddress.ip_address(name))
            except ValueError:
                dns_names.add(name.lower())
        return cls(frozenset(dns_names), frozenset(ips))

    def covers(self, other: AltNames) -> bool:
        return other.dns_names <= self.dns_names and other.ips <= self.ips


@dataclass(frozen=True)
class CertAndKey:
    cert: x509.Certificate
    key: PrivateKey


def generate_key() -> ec.EllipticCurvePrivateKey:
    """A new certificate key (ECDSA P-256; see the module docstring for why not RSA)."""
    return ec.generate_private_key(ec.SECP256R1())


def generate_rsa_key() -> rsa.RSAPrivateKey:
    """A new RSA-2048 key. Used for `sa.key`: ServiceAccount tokens are RS256 JWTs, the algorithm
    every Kubernetes token verifier accepts."""
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)


def _key_usage(key: PrivateKey, *, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False,
        key_encipherment=isinstance(key, rsa.RSAPrivateKey), data_encipherment=False,
        key_agreement=False, key_cert_sign=ca, crl_sign=False, encipher_only=False,
        decipher_only=False)


def _subject(common_name: str, organizations: Sequence[str]) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def new_self_signed_ca(common_name: str, *, now: datetime.datetime) -> CertAndKey:
    """A CA valid for ten years from `now`, as kubeadm's `NewCertificateAuthority`."""
    key = generate_key()
    name = _subject(common_name, ())
    public_key = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(key, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertAndKey(cert, key)


def new_signed_cert(ca: CertAndKey, common_name: str, *, organizations: Sequence[str] = (),
                    usages: Sequence[x509.ObjectIdentifier], alt_names: AltNames | None = None,
                    validity: datetime.timedelta = CERT_VALIDITY,
                    now: datetime.datetime) -> CertAndKey:
    """A new key and a certificate for it signed by `ca`, as kubeadm's `NewCertAndKey`.

    `organizations` become the subject's O attributes (the groups of a client certificate);
    `usages` the extended key usages; `alt_names` the SANs of a serving certificate (None for a
    client certificate, which has none).
    """
    key = generate_key()
    public_key = key.public_key()
    ca_ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(_subject(common_name, organizations))
        .issuer_name(ca.cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(key, ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                       critical=False)
    )
    if alt_names is not None:
        general_names: list[x509.GeneralName] = [x509.DNSName(n) for n in
                                                 sorted(alt_names.dns_names)]
        general_names += [x509.IPAddress(ip) for ip in sorted(alt_names.ips, key=_ip_sort_key)]
        builder = builder.add_extension(x509.SubjectAlternativeName(general_names),
                                        critical=False)
    return CertAndKey(builder.sign(ca.key, hashes.SHA256()), key)


def _ip_sort_key(ip: IPAddress) -> tuple[int, int]:
    return ip.version, int(ip)


def alt_names_of(cert: x509.Certificate) -> AltNames:
    """The SANs a certificate carries (empty when it has no SAN extension)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return AltNames()
    return AltNames(frozenset(n.lower() for n in san.get_values_for_type(x509.DNSName)),
                    frozenset(san.get_values_for_type(x509.IPAddress)))  # type: ignore[arg-type]


def is_issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """True when `ca` signed `cert` (one signature check; no chain, time or usage checks)."""
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, exceptions.InvalidSignature):
        return False
    return True


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: PrivateKey) -> bytes:
    """The key as kubeadm writes it: SEC1 `EC PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`."""
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def public_key_pem(key: PrivateKey) -> bytes:
    """The public half in PKIX form (`PUBLIC KEY`), as kubeadm writes `sa.pub`."""
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def load_key(path: Path) -> PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"{path}: unsupported private key type {type(key).__name__}")
    return key


def load_cert_and_key(cert_path: Path, key_path: Path) -> CertAndKey:
    return CertAndKey(load_cert(cert_path), load_key(key_path))


CERT_MODE = 0o644
KEY_MODE = 0o600


def write_file(path: Path, data: bytes, *, mode: int) -> None:
    """Replace `path` atomically with `data` and exactly `mode`: a reader sees the old file or the
    new one, never a part, and a key is never readable by others, not even for a moment."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # os.open's mode is filtered by the umask
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_cert_and_key(pair: CertAndKey, *, cert_path: Path, key_path: Path) -> None:
    """Key first: a crash in between leaves a new key beside an old certificate, which the next
    `ensure_pki` sees as unsigned by its CA or mismatched and issues again."""
    write_file(key_path, key_pem(pair.key), mode=KEY_MODE)
    write_file(cert_path, cert_pem(pair.cert), mode=CERT_MODE)


def public_keys_match(cert: x509.Certificate, key: PrivateKey) -> bool:
    return cert.public_key() == key.public_key()
