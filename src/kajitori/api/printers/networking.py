"""Printers for networking.k8s.io: ingresses, ingressclasses, networkpolicies, servicecidrs,
ipaddresses.

Mirrors the networking handlers of pkg/printers/internalversion/printers.go (v1.33).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kajitori.api import meta
from kajitori.api.printers import cells
from kajitori.api.printers.core import load_balancer_addresses
from kajitori.api.printers.printer import AGE, NAME, Column, Doc, Obj, Printer, created

NETWORKING = "io.k8s.api.networking.v1."
HOSTS_SHOWN = 3
ANY_HOST = "*"
HTTP_PORTS = "80"
HTTPS_PORTS = "80, 443"


def format_hosts(rules: list[Obj]) -> str:
    """The first three rule hosts, `*` if no rule names one; once three are shown, any further
    rule adds `+ N more...` where N counts every rule beyond three, host or not (upstream's
    arithmetic)."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == HOSTS_SHOWN:
            more = True
        if not more and rule.get("host"):
            hosts.append(rule["host"])
    if not hosts:
        return ANY_HOST
    text = ",".join(hosts)
    if more:
        return f"{text} + {len(rules) - HOSTS_SHOWN} more..."
    return text


def _ingress_cells(ingress: Obj, now: datetime) -> list[Any]:
    spec = ingress.get("spec") or {}
    status = ingress.get("status") or {}
    return [meta.name(ingress), spec.get("ingressClassName") or cells.NONE,
            format_hosts(spec.get("rules") or []),
            load_balancer_addresses(status.get("loadBalancer")),
            HTTPS_PORTS if spec.get("tls") else HTTP_PORTS, created(ingress, now)]


INGRESSES = Printer(
    columns=(
        NAME,
        Column("Class", "The name of the IngressClass resource that should be used for "
                        "additional configuration"),
        Column("Hosts", "Hosts that incoming requests are matched against before the ingress "
                        "rule"),
        Column("Address", "Address is a list containing ingress points for the load-balancer"),
        Column("Ports", "Ports of TLS configurations that open"),
        AGE,
    ),
    cells=_ingress_cells,
)


def _ingress_class_cells(ingress_class: Obj, now: datetime) -> list[Any]:
    spec = ingress_class.get("spec") or {}
    parameters = cells.NONE
    reference = spec.get("parameters")
    if reference is not None:
        parameters = reference.get("kind", "")
        if reference.get("apiGroup") is not None:
            parameters += "." + reference["apiGroup"]
        parameters += "/" + reference.get("name", "")
    return [meta.name(ingress_class), spec.get("controller", ""), parameters,
            created(ingress_class, now)]


INGRESSCLASSES = Printer(
    columns=(
        NAME,
        Column("Controller", "Controller that is responsible for handling this class"),
        Column("Parameters", "A reference to a resource with additional parameters"),
        AGE,
    ),
    cells=_ingress_class_cells,
)

NETWORKPOLICIES = Printer(
    columns=(NAME, Column("Pod-Selector", Doc(NETWORKING + "NetworkPolicySpec", "podSelector")),
             AGE),
    cells=lambda obj, now: [
        meta.name(obj), cells.format_label_selector((obj.get("spec") or {}).get("podSelector")),
        created(obj, now)],
)

SERVICECIDRS = Printer(
    columns=(NAME, Column("CIDRs", Doc(NETWORKING + "ServiceCIDRSpec", "cidrs")), AGE),
    cells=lambda obj, now: [meta.name(obj), ",".join((obj.get("spec") or {}).get("cidrs") or []),
                            created(obj, now)],
)


def _ip_address_cells(address: Obj, now: datetime) -> list[Any]:
    parent = (address.get("spec") or {}).get("parentRef")
    parent_text = cells.NONE
    if parent is not None:
        group_resource = parent.get("resource", "")
        if parent.get("group"):
            group_resource += "." + parent["group"]
        parent_text = group_resource.lower()
        if parent.get("namespace"):
            parent_text += "/" + parent["namespace"]
        parent_text += "/" + parent.get("name", "")
    # Upstream prints an age cell without an Age column; kubectl ignores extra cells.
    return [meta.name(address), parent_text, created(address, now)]


IPADDRESSES = Printer(
    columns=(NAME, Column("ParentRef", Doc(NETWORKING + "IPAddressSpec", "parentRef"))),
    cells=_ip_address_cells,
)

PRINTERS: dict[str, Printer] = {
    "ingresses": INGRESSES,
    "ingressclasses": INGRESSCLASSES,
    "networkpolicies": NETWORKPOLICIES,
    "servicecidrs": SERVICECIDRS,
    "ipaddresses": IPADDRESSES,
}
