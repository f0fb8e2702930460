"""Printers for the apps group: deployments, replicasets, statefulsets, daemonsets, revisions.

Mirrors the apps handlers of pkg/printers/internalversion/printers.go (v1.33). Objects are the
served apps/v1 wire form; an absent `spec.replicas` reads as its default, 1.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kajitori.api import meta
from kajitori.api.printers import cells
from kajitori.api.printers.core import CONTAINERS, IMAGES
from kajitori.api.printers.printer import AGE, NAME, Column, Doc, Obj, Printer, created

APPS = "io.k8s.api.apps.v1."
INVALID_SELECTOR = "<invalid>"


def _parts(obj: Obj) -> tuple[Obj, Obj, str, str]:
    spec = obj.get("spec") or {}
    names, images = cells.layout_containers(cells.template_containers(spec.get("template")))
    return spec, obj.get("status") or {}, names, images


def _ready_of_desired(spec: Obj, status: Obj) -> str:
    """The READY cell: `ready/desired` replicas."""
    return f"{int(status.get('readyReplicas') or 0)}/{cells.desired_replicas(spec)}"


def _deployment_cells(obj: Obj, now: datetime) -> list[Any]:
    spec, status, names, images = _parts(obj)
    try:
        selector = cells.selector_string(spec.get("selector"))
    except cells.InvalidSelectorError:
        selector = INVALID_SELECTOR
    return [meta.name(obj), _ready_of_desired(spec, status),
            int(status.get("updatedReplicas") or 0), int(status.get("availableReplicas") or 0),
            created(obj, now), names, images, selector]


DEPLOYMENTS = Printer(
    columns=(
        NAME,
        Column("Ready", "Number of the pod with ready state"),
        Column("Up-to-date", Doc(APPS + "DeploymentStatus", "updatedReplicas")),
        Column("Available", Doc(APPS + "DeploymentStatus", "availableReplicas")),
        AGE, CONTAINERS, IMAGES,
        Column("Selector", Doc(APPS + "DeploymentSpec", "selector"), priority=1),
    ),
    cells=_deployment_cells,
)


def _replica_set_cells(obj: Obj, now: datetime) -> list[Any]:
    spec, status, names, images = _parts(obj)
    return [meta.name(obj), cells.desired_replicas(spec), int(status.get("replicas") or 0),
            int(status.get("readyReplicas") or 0), created(obj, now), names, images,
            cells.format_label_selector(spec.get("selector"))]


REPLICASETS = Printer(
    columns=(
        NAME,
        Column("Desired", Doc(APPS + "ReplicaSetSpec", "replicas"), type="integer"),
        Column("Current", Doc(APPS + "ReplicaSetStatus", "replicas"), type="integer"),
        Column("Ready", Doc(APPS + "ReplicaSetStatus", "readyReplicas"), type="integer"),
        AGE, CONTAINERS, IMAGES,
        Column("Selector", Doc(APPS + "ReplicaSetSpec", "selector"), priority=1),
    ),
    cells=_replica_set_cells,
)


def _stateful_set_cells(obj: Obj, now: datetime) -> list[Any]:
    spec, status, names, images = _parts(obj)
    return [meta.name(obj), _ready_of_desired(spec, status), created(obj, now), names, images]


STATEFULSETS = Printer(
    columns=(NAME, Column("Ready", "Number of the pod with ready state"), AGE, CONTAINERS,
             IMAGES),
    cells=_stateful_set_cells,
)


def _daemon_set_cells(obj: Obj, now: datetime) -> list[Any]:
    spec, status, names, images = _parts(obj)
    template_spec = (spec.get("template") or {}).get("spec") or {}
    return [meta.name(obj)] + [
        int(status.get(key) or 0)
        for key in ("desiredNumberScheduled", "currentNumberScheduled", "numberReady",
                    "updatedNumberScheduled", "numberAvailable")
    ] + [cells.format_labels(template_spec.get("nodeSelector")), created(obj, now), names,
         images, cells.format_label_selector(spec.get("selector"))]


DAEMONSETS = Printer(
    columns=(
        NAME,
        Column("Desired", Doc(APPS + "DaemonSetStatus", "desiredNumberScheduled"),
               type="integer"),
        Column("Current", Doc(APPS + "DaemonSetStatus", "currentNumberScheduled"),
               type="integer"),
        Column("Ready", Doc(APPS + "DaemonSetStatus", "numberReady"), type="integer"),
        Column("Up-to-date", Doc(APPS + "DaemonSetStatus", "updatedNumberScheduled"),
               type="integer"),
        Column("Available", Doc(APPS + "DaemonSetStatus", "numberAvailable"), type="integer"),
        Column("Node Selector", Doc("io.k8s.api.core.v1.PodSpec", "nodeSelector")),
        AGE, CONTAINERS, IMAGES,
        Column("Selector", Doc(APPS + "DaemonSetSpec", "selector"), priority=1),
    ),
    cells=_daemon_set_cells,
)


def controller_name(obj: Obj) -> str:
    """`statefulset.apps/web` for the owner reference marked controller; `<none>` without one."""
    for owner in meta.owner_references(obj):
        if owner.get("controller"):
            group, _ = meta.split_api_version(owner.get("apiVersion", ""))
            kind = owner.get("kind", "")
            group_kind = f"{kind}.{group}" if group else kind
            name = owner.get("name", "")
            return f"{group_kind.lower()}/{name}" if group_kind else name
    return cells.NONE


CONTROLLERREVISIONS = Printer(
    columns=(NAME, Column("Controller", "Controller of the object"),
             Column("Revision", Doc(APPS + "ControllerRevision", "revision")), AGE),
    cells=lambda obj, now: [meta.name(obj), controller_name(obj), int(obj.get("revision") or 0),
                            created(obj, now)],
)

PRINTERS: dict[str, Printer] = {
    "deployments": DEPLOYMENTS,
    "replicasets": REPLICASETS,
    "statefulsets": STATEFULSETS,
    "daemonsets": DAEMONSETS,
    "controllerrevisions": CONTROLLERREVISIONS,
}
