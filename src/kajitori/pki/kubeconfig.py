"""Kubeconfig files with embedded credentials, shaped like kubeadm's `admin.conf`.

Mirrors kubeadm's `cmd/kubeadm/app/phases/kubeconfig/kubeconfig.go` and client-go's
`tools/clientcmd/api/v1` serialisation: one cluster, one user, one context, current-context set,
certificates and keys embedded as base64 `*-data` fields, keys in alphabetical order as
`clientcmd.WriteToFile` writes them. The certificates come from `kajitori.pki.certs`.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml

from kajitori.pki import certs, pkiutil

DEFAULT_CLUSTER_NAME = "kajitori"
ADMIN_USER = certs.ADMIN_COMMON_NAME
ADMIN_CONTEXT = f"{ADMIN_USER}@{DEFAULT_CLUSTER_NAME}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def render_kubeconfig(*, server: str, ca_pem: bytes, cluster_name: str, user: str, context: str,
                      client_cert_pem: bytes | None = None, client_key_pem: bytes | None = None,
                      token: str | None = None) -> str:
    """A kubeconfig document for one identity: a client certificate and key (both or neither)
    and/or a bearer token (ServiceAccount components pass one). `server` is the https URL."""
    if (client_cert_pem is None) != (client_key_pem is None):
        raise ValueError("a client certificate and its key go together")
    credentials: dict[str, Any] = {}
    if client_cert_pem is not None and client_key_pem is not None:
        credentials["client-certificate-data"] = _b64(client_cert_pem)
        credentials["client-key-data"] = _b64(client_key_pem)
    if token is not None:
        credentials["token"] = token
    document = {
        "apiVersion": "v1",
        "clusters": [{"cluster": {"certificate-authority-data": _b64(ca_pem), "server": server},
                      "name": cluster_name}],
        "contexts": [{"context": {"cluster": cluster_name, "user": user}, "name": context}],
        "current-context": context,
        "kind": "Config",
        "preferences": {},
        "users": [{"name": user, "user": credentials}],
    }
    return yaml.safe_dump(document, sort_keys=True, default_flow_style=False, width=1 << 20)


def write_admin_kubeconfig(path: Path, *, server: str, pki: certs.PKIPaths,
                           cluster_name: str = DEFAULT_CLUSTER_NAME, user: str = ADMIN_USER,
                           context: str = ADMIN_CONTEXT) -> None:
    """Write (or replace, atomically) the admin kubeconfig at `path` with mode 0600, embedding
    the CA and the admin client certificate and key that `certs.ensure_pki` created. Parent
    directories are created. Synchronous file I/O; small."""
    document = render_kubeconfig(
        server=server, ca_pem=pki.ca_cert.read_bytes(), cluster_name=cluster_name, user=user,
        context=context, client_cert_pem=pki.admin_cert.read_bytes(),
        client_key_pem=pki.admin_key.read_bytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    pkiutil.write_file(path, document.encode(), mode=pkiutil.KEY_MODE)
