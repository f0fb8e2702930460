"""Printers for rbac.authorization.k8s.io: rolebindings and clusterrolebindings.

Mirrors printRoleBinding and printClusterRoleBinding of pkg/printers/internalversion/printers.go
(v1.33). Roles and ClusterRoles have no printer upstream: they use the default convertor
(`NAME`, `CREATED AT`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kajitori.api import meta
from kajitori.api.printers.printer import AGE, NAME, Column, Doc, Obj, Printer, created

RBAC = "io.k8s.api.rbac.v1."


def subjects_strings(subjects: list[Obj]) -> tuple[list[str], list[str], list[str]]:
    """(users, groups, `namespace/name` service accounts); other kinds are not printed."""
    users: list[str] = []
    groups: list[str] = []
    service_accounts: list[str] = []
    for subject in subjects:
        kind = subject.get("kind")
        if kind == "ServiceAccount":
            service_accounts.append(f"{subject.get('namespace', '')}/{subject.get('name', '')}")
        elif kind == "User":
            users.append(subject.get("name", ""))
        elif kind == "Group":
            groups.append(subject.get("name", ""))
    return users, groups, service_accounts


def _binding_cells(binding: Obj, now: datetime) -> list[Any]:
    role = binding.get("roleRef") or {}
    users, groups, service_accounts = subjects_strings(binding.get("subjects") or [])
    return [meta.name(binding), f"{role.get('kind', '')}/{role.get('name', '')}",
            created(binding, now), ", ".join(users), ", ".join(groups),
            ", ".join(service_accounts)]


def _binding_printer(kind: str, noun: str) -> Printer:
    return Printer(
        columns=(
            NAME,
            Column("Role", Doc(RBAC + kind, "roleRef")),
            AGE,
            Column("Users", f"Users in the {noun}", priority=1),
            Column("Groups", f"Groups in the {noun}", priority=1),
            Column("ServiceAccounts", f"ServiceAccounts in the {noun}", priority=1),
        ),
        cells=_binding_cells,
    )


PRINTERS: dict[str, Printer] = {
    "rolebindings": _binding_printer("RoleBinding", "roleBinding"),
    "clusterrolebindings": _binding_printer("ClusterRoleBinding", "clusterRoleBinding"),
}
