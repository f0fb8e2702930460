"""Printer for certificates.k8s.io: certificatesigningrequests.

Mirrors printCertificateSigningRequest and extractCSRStatus of
pkg/printers/internalversion/printers.go (v1.33). The REQUESTOR column's description is the
spec's `request` field doc, as upstream has it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kajitori.api import duration, meta
from kajitori.api.printers import cells
from kajitori.api.printers.printer import AGE, NAME, Column, Doc, Obj, Printer, created

CSR = "io.k8s.api.certificates.v1.CertificateSigningRequest"


def csr_condition(csr: Obj) -> str:
    """`Denied` over `Approved` over `Pending`, then `,Failed` and `,Issued` as they apply."""
    status = csr.get("status") or {}
    types = {condition.get("type") for condition in status.get("conditions") or []}
    if "Denied" in types:
        text = "Denied"
    elif "Approved" in types:
        text = "Approved"
    else:
        text = "Pending"
    if "Failed" in types:
        text += ",Failed"
    if status.get("certificate"):
        text += ",Issued"
    return text


def _csr_cells(csr: Obj, now: datetime) -> list[Any]:
    spec = csr.get("spec") or {}
    expiration = spec.get("expirationSeconds")
    requested = cells.NONE if expiration is None else duration.human_duration(expiration)
    return [meta.name(csr), created(csr, now), spec.get("signerName") or cells.NONE,
            spec.get("username", ""), requested, csr_condition(csr)]


CERTIFICATESIGNINGREQUESTS = Printer(
    columns=(
        NAME,
        AGE,
        Column("SignerName", Doc(CSR + "Spec", "signerName")),
        Column("Requestor", Doc(CSR + "Spec", "request")),
        Column("RequestedDuration", Doc(CSR + "Spec", "expirationSeconds")),
        Column("Condition", Doc(CSR + "Status", "conditions")),
    ),
    cells=_csr_cells,
)

PRINTERS: dict[str, Printer] = {"certificatesigningrequests": CERTIFICATESIGNINGREQUESTS}
