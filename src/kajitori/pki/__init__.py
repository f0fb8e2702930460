"""The cluster PKI: CA and certificates in kubeadm's layout, kubeconfigs, the TLS server context."""

from kajitori.pki.certs import PKIPaths, ensure_pki, issue_client_cert
from kajitori.pki.kubeconfig import render_kubeconfig, write_admin_kubeconfig
from kajitori.pki.secureserving import server_ssl_context

__all__ = [
    "PKIPaths",
    "ensure_pki",
    "issue_client_cert",
    "render_kubeconfig",
    "server_ssl_context",
    "write_admin_kubeconfig",
]
