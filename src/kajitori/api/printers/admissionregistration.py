"""Printers for admissionregistration.k8s.io: webhook configurations and validating admission
policies with their bindings.

Mirrors the admission handlers of pkg/printers/internalversion/printers.go (v1.33). A binding's
param selector prints in the form Go's generated `LabelSelector.String()` gives.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kajitori.api import meta
from kajitori.api.printers import cells
from kajitori.api.printers.printer import AGE, NAME, Column, Obj, Printer, created

WEBHOOKS = Column("Webhooks", "Webhooks indicates the number of webhooks registered in this "
                              "configuration", type="integer")


def _webhook_printer() -> Printer:
    return Printer(
        columns=(NAME, WEBHOOKS, AGE),
        cells=lambda obj, now: [meta.name(obj), len(obj.get("webhooks") or []),
                                created(obj, now)],
    )


def _policy_cells(policy: Obj, now: datetime) -> list[Any]:
    spec = policy.get("spec") or {}
    param_kind = spec.get("paramKind")
    kind = cells.UNSET if param_kind is None else \
        f"{param_kind.get('apiVersion', '')}/{param_kind.get('kind', '')}"
    return [meta.name(policy), len(spec.get("validations") or []), kind, created(policy, now)]


def go_label_selector(selector: Obj) -> str:
    """`&LabelSelector{MatchLabels:map[string]string{a: b,},MatchExpressions:[]...{},}`."""
    expressions = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
        f"Values:[{' '.join(e.get('values') or [])}],}},"
        for e in selector.get("matchExpressions") or [])
    labels = selector.get("matchLabels") or {}
    pairs = "".join(f"{key}: {labels[key]}," for key in sorted(labels))
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{pairs}}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{expressions}}},}}")


def _binding_cells(binding: Obj, now: datetime) -> list[Any]:
    spec = binding.get("spec") or {}
    param = cells.UNSET
    reference = spec.get("paramRef")
    if reference is not None:
        if reference.get("name"):
            # A namespace-less reference may be cluster-scoped or any namespace: upstream's `*`.
            param = f"{reference.get('namespace') or '*'}/{reference['name']}"
        elif reference.get("selector") is not None:
            param = go_label_selector(reference["selector"])
    return [meta.name(binding), spec.get("policyName", ""), param, created(binding, now)]


PRINTERS: dict[str, Printer] = {
    "mutatingwebhookconfigurations": _webhook_printer(),
    "validatingwebhookconfigurations": _webhook_printer(),
    "validatingadmissionpolicies": Printer(
        columns=(
            NAME,
            Column("Validations", "Validations indicates the number of validation rules "
                                  "defined in this configuration", type="integer"),
            Column("ParamKind", "ParamKind specifies the kind of resources used to "
                                "parameterize this policy"),
            AGE,
        ),
        cells=_policy_cells,
    ),
    "validatingadmissionpolicybindings": Printer(
        columns=(
            NAME,
            Column("PolicyName", "PolicyName indicates the policy definition which the policy "
                                 "binding binded to"),
            Column("ParamRef", "ParamRef indicates the param resource which sets the "
                               "configration param"),
            AGE,
        ),
        cells=_binding_cells,
    ),
}
