"""The cluster's CA and certificates in kubeadm's layout and file names, created once and reused.

Mirrors kubeadm's `cmd/kubeadm/app/phases/certs/certs.go` and `certlist.go` (which certificates,
which CA signs each, subjects and usages) on the helpers of `kajitori.pki.pkiutil`. The admin
kubeconfig built from these files is written by `kajitori.pki.kubeconfig`; the apiserver's TLS
context by `kajitori.pki.secureserving`.

Departures from kubeadm 1.33, on purpose:
- The admin client certificate is kept as `admin.crt`/`admin.key` here (kubeadm only embeds it in
  `admin.conf`), so that the kubeconfig can be rewritten (new server URL) with the same identity.
  Its group is `system:masters`, as kubeadm's `super-admin.conf`: kubeadm's `admin.conf` carries
  `kubeadm:cluster-admins`, which only RBAC (a ClusterRoleBinding) makes powerful.
- No etcd certificates: the embedded store is SQLite; an external etcd brings its own.
- A leaf certificate that has expired, is not signed by the current CA or does not match its key is
  issued again at start; kubeadm leaves renewal to `kubeadm certs renew`.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from kajitori.auth import user
from kajitori.pki import pkiutil

log = logging.getLogger(__name__)

PKI_DIR_NAME = "pki"
CLUSTER_DOMAIN = "cluster.local"
DEFAULT_SERVICE_IP = "10.96.0.1"
"""The first address of kubeadm's default Service CIDR 10.96.0.0/12: the `kubernetes` Service."""

CA_COMMON_NAME = "kubernetes"
FRONT_PROXY_CA_COMMON_NAME = "front-proxy-ca"
APISERVER_COMMON_NAME = "kube-apiserver"
APISERVER_KUBELET_CLIENT_COMMON_NAME = "kube-apiserver-kubelet-client"
FRONT_PROXY_CLIENT_COMMON_NAME = "front-proxy-client"
ADMIN_COMMON_NAME = "kubernetes-admin"


@dataclass(frozen=True)
class PKIPaths:
    """Where each file of the layout lives under `dir` (normally `<data dir>/pki`). Constructing
    one creates nothing: `ensure_pki` does."""

    dir: Path

    def cert(self, base_name: str) -> Path:
        return self.dir / f"{base_name}.crt"

    def key(self, base_name: str) -> Path:
        return self.dir / f"{base_name}.key"

    @property
    def ca_cert(self) -> Path:
        return self.cert("ca")

    @property
    def ca_key(self) -> Path:
        return self.key("ca")

    @property
    def apiserver_cert(self) -> Path:
        return self.cert("apiserver")

    @property
    def apiserver_key(self) -> Path:
        return self.key("apiserver")

    @property
    def apiserver_kubelet_client_cert(self) -> Path:
        return self.cert("apiserver-kubelet-client")

    @property
    def apiserver_kubelet_client_key(self) -> Path:
        return self.key("apiserver-kubelet-client")

    @property
    def front_proxy_ca_cert(self) -> Path:
        return self.cert("front-proxy-ca")

    @property
    def front_proxy_ca_key(self) -> Path:
        return self.key("front-proxy-ca")

    @property
    def front_proxy_client_cert(self) -> Path:
        return self.cert("front-proxy-client")

    @property
    def front_proxy_client_key(self) -> Path:
        return self.key("front-proxy-client")

    @property
    def admin_cert(self) -> Path:
        return self.cert("admin")

    @property
    def admin_key(self) -> Path:
        return self.key("admin")

    @property
    def sa_key(self) -> Path:
        """RSA key that signs ServiceAccount tokens (PKCS#1 PEM)."""
        return self.dir / "sa.key"

    @property
    def sa_pub(self) -> Path:
        """Public half of `sa_key` (PKIX PEM), which verifies the tokens."""
        return self.dir / "sa.pub"


@dataclass(frozen=True)
class _CA:
    base_name: str
    common_name: str


@dataclass(frozen=True)
class _Leaf:
    base_name: str
    ca: _CA
    common_name: str
    organizations: tuple[str, ...]
    usage: x509.ObjectIdentifier


_ROOT_CA = _CA("ca", CA_COMMON_NAME)
_FRONT_PROXY_CA = _CA("front-proxy-ca", FRONT_PROXY_CA_COMMON_NAME)
_CAS = (_ROOT_CA, _FRONT_PROXY_CA)
_APISERVER = _Leaf("apiserver", _ROOT_CA, APISERVER_COMMON_NAME, (), pkiutil.SERVER_AUTH)
# In the order kubeadm's certlist creates them, then the admin identity.
_LEAVES = (
    _APISERVER,
    _Leaf("apiserver-kubelet-client", _ROOT_CA, APISERVER_KUBELET_CLIENT_COMMON_NAME,
          (user.CLUSTER_ADMINS_GROUP,), pkiutil.CLIENT_AUTH),
    _Leaf("front-proxy-client", _FRONT_PROXY_CA, FRONT_PROXY_CLIENT_COMMON_NAME, (),
          pkiutil.CLIENT_AUTH),
    _Leaf("admin", _ROOT_CA, ADMIN_COMMON_NAME, (user.SYSTEM_PRIVILEGED_GROUP,),
          pkiutil.CLIENT_AUTH),
)


def apiserver_alt_names(*, hostname: str, service_ip: str = DEFAULT_SERVICE_IP,
                        extra_sans: Sequence[str] = ()) -> pkiutil.AltNames:
    """The SANs the serving certificate must carry: the `kubernetes` Service's DNS names and IP
    (kubeadm's `GetAPIServerAltNames`), the host name, localhost and 127.0.0.1 (so that a local
    kubeconfig may say either), and `extra_sans` (kubeadm's `certSANs`: names or IPs)."""
    service_names = [f"kubernetes.default.svc.{CLUSTER_DOMAIN}", "kubernetes.default.svc",
                     "kubernetes.default", "kubernetes"]
    return pkiutil.AltNames.parse([*service_names, "localhost", hostname, "127.0.0.1", service_ip,
                                   *extra_sans])


def ensure_pki(data_dir: Path, *, hostname: str, service_ip: str = DEFAULT_SERVICE_IP,
               extra_sans: Sequence[str] = ()) -> PKIPaths:
    """Create what is missing of the PKI under `data_dir/pki` and return its paths.

    First start: both CAs, the four leaf certificates, `sa.key`/`sa.pub`. Later starts reuse every
    file and issue again only a leaf that is missing, expired, not signed by its current CA or not
    matching its key, and the serving certificate when its SANs do not cover `hostname`,
    `service_ip` and `extra_sans` (the old SANs are not kept). A missing CA is created anew and all
    its leaves with it; an unreadable CA file raises `ValueError` rather than being replaced, since
    a new CA would lock out every kubeconfig issued so far.

    Synchronous and CPU-bound (about 10-80 ms on a first start, under 5 ms after): call it with
    `asyncio.to_thread` from async code. Not safe to run concurrently on the same directory.
    Keys are written with mode 0600, certificates 0644, each file atomically.
    """
    pki = PKIPaths(data_dir / PKI_DIR_NAME)
    pki.dir.mkdir(mode=0o755, parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    cas = {ca: _ensure_ca(pki, ca, now=now) for ca in _CAS}
    wanted_sans = apiserver_alt_names(hostname=hostname, service_ip=service_ip,
                                      extra_sans=extra_sans)
    for leaf in _LEAVES:
        ca, ca_is_new = cas[leaf.ca]
        sans = wanted_sans if leaf is _APISERVER else None
        reason = "its CA is new" if ca_is_new else _stale_reason(pki, leaf, ca.cert, sans=sans,
                                                                 now=now)
        if reason:
            log.info("issuing %s certificate: %s", leaf.base_name, reason)
            pair = pkiutil.new_signed_cert(ca, leaf.common_name, organizations=leaf.organizations,
                                           usages=[leaf.usage], alt_names=sans, now=now)
            pkiutil.write_cert_and_key(pair, cert_path=pki.cert(leaf.base_name),
                                       key_path=pki.key(leaf.base_name))
    _ensure_service_account_key(pki)
    return pki


def _ensure_ca(pki: PKIPaths, ca: _CA, *, now: datetime.datetime) -> tuple[pkiutil.CertAndKey,
                                                                          bool]:
    cert_path, key_path = pki.cert(ca.base_name), pki.key(ca.base_name)
    if cert_path.exists() and key_path.exists():
        return pkiutil.load_cert_and_key(cert_path, key_path), False
    log.info("creating %s certificate authority in %s", ca.base_name, pki.dir)
    pair = pkiutil.new_self_signed_ca(ca.common_name, now=now)
    pkiutil.write_cert_and_key(pair, cert_path=cert_path, key_path=key_path)
    return pair, True


def _stale_reason(pki: PKIPaths, leaf: _Leaf, ca_cert: x509.Certificate, *,
                  sans: pkiutil.AltNames | None, now: datetime.datetime) -> str:
    """Why the leaf must be issued again, or "" when the files on disk are fine."""
    cert_path, key_path = pki.cert(leaf.base_name), pki.key(leaf.base_name)
    if not (cert_path.exists() and key_path.exists()):
        return "missing"
    try:
        existing = pkiutil.load_cert_and_key(cert_path, key_path)
    except ValueError as exc:
        return f"unreadable ({exc})"
    if not pkiutil.is_issued_by(existing.cert, ca_cert):
        return "not signed by the current CA"
    if not pkiutil.public_keys_match(existing.cert, existing.key):
        return "certificate and key do not match"
    if existing.cert.not_valid_after_utc <= now:
        return f"expired at {existing.cert.not_valid_after_utc.isoformat()}"
    if sans is not None and not pkiutil.alt_names_of(existing.cert).covers(sans):
        return "its SANs do not cover the current host name and extra SANs"
    return ""


def _ensure_service_account_key(pki: PKIPaths) -> None:
    if not pki.sa_key.exists():
        log.info("creating service account signing key %s", pki.sa_key)
        key = pkiutil.generate_rsa_key()
        pkiutil.write_file(pki.sa_key, pkiutil.key_pem(key), mode=pkiutil.KEY_MODE)
    elif pki.sa_pub.exists():
        return
    else:
        key = pkiutil.load_key(pki.sa_key)
    pkiutil.write_file(pki.sa_pub, pkiutil.public_key_pem(key), mode=pkiutil.CERT_MODE)


def issue_client_cert(pki: PKIPaths, cn: str, *, groups: Sequence[str] = (),
                      days: int = 365) -> tuple[bytes, bytes]:
    """A new client certificate for user `cn` in `groups` (its O attributes), signed by the
    cluster CA and valid for `days`; returns `(cert_pem, key_pem)` and writes nothing.

    For tests and components that need their own identity (kubelets, controllers). Requires
    `ensure_pki` to have run; synchronous (one key generation and one signature).
    """
    ca = pkiutil.load_cert_and_key(pki.ca_cert, pki.ca_key)
    pair = pkiutil.new_signed_cert(ca, cn, organizations=groups, usages=[pkiutil.CLIENT_AUTH],
                                   validity=datetime.timedelta(days=days),
                                   now=datetime.datetime.now(datetime.UTC))
    return pkiutil.cert_pem(pair.cert), pkiutil.key_pem(pair.key)
