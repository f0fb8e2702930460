"""Printers for the core group (`/api/v1`): pods, nodes, services, events, volumes, ...

Mirrors the core-group handlers of pkg/printers/internalversion/printers.go (v1.33). Objects are
the served v1 wire form, already defaulted by the apiserver; where upstream reads a defaulted
internal field, an absent one is read as its API default. LimitRanges have no printer upstream
and use the default convertor (`printer.DEFAULT`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kajitori.api import duration, meta
from kajitori.api.printers import cells
from kajitori.api.printers.printer import AGE, NAME, Column, Doc, Obj, Printer, created

V1 = "io.k8s.api.core.v1."

CONTAINERS = Column("Containers", "Names of each container in the template.", priority=1)
IMAGES = Column("Images", "Images referenced by each container in the template.", priority=1)

TERMINATING = "Terminating"
# Pod status words (upstream's printPod).
RUNNING = "Running"
NOT_READY = "NotReady"
COMPLETED = "Completed"
UNKNOWN = "Unknown"
SCHEDULING_GATED = "SchedulingGated"
POD_INITIALIZING = "PodInitializing"
NODE_LOST = "NodeLost"  # the pod reason the node lifecycle controller sets on unreachable nodes
TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
ROW_CONDITIONS = {
    "Succeeded": [{"type": "Completed", "status": "True", "reason": "Succeeded",
                   "message": "The pod has completed successfully."}],
    "Failed": [{"type": "Completed", "status": "True", "reason": "Failed",
                "message": "The pod failed."}],
}

# Node role labels (upstream's findNodeRoles).
NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
NODE_ROLE_LABEL = "kubernetes.io/role"

BETA_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
ACCESS_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                ("ReadWriteOncePod", "RWOP"))

ENDPOINTS_SHOWN = 3


# -- pods ---------------------------------------------------------------------------------------

def _restartable(container: Obj | None) -> bool:
    """A sidecar: an init container with `restartPolicy: Always`."""
    return container is not None and container.get("restartPolicy") == "Always"


def _finished_at(status: Obj) -> datetime | None:
    terminated = (status.get("lastState") or {}).get("terminated") or {}
    finished = terminated.get("finishedAt")
    return meta.parse_time(finished) if finished else None


def _later(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return current
    if current is None or current < candidate:
        return candidate
    return current


def _condition_true(conditions: list[Obj], condition_type: str) -> bool:
    return cells.condition_status(conditions, condition_type) == "True"


def _terminated_reason(terminated: Obj, *, prefix: str) -> str:
    """A terminated container's reason, or its signal or exit code when it gave none."""
    if terminated.get("reason"):
        return prefix + str(terminated["reason"])
    if terminated.get("signal"):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{terminated.get('exitCode', 0)}"


def pod_status(pod: Obj) -> tuple[str, int, int, datetime | None]:
    """(STATUS, ready containers, restarts, last restart) as upstream's printPod derives them:
    init containers first (`Init:1/2`, `Init:CrashLoopBackOff`), then the last container with a
    waiting or terminated reason (`ContainerCreating`, `CrashLoopBackOff`, `Completed`, `Error`),
    then deletion (`Terminating`, `Unknown` on a lost node)."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    phase = status.get("phase", "")
    conditions = status.get("conditions") or []
    reason = status.get("reason") or phase
    for condition in conditions:
        if condition.get("type") == "PodScheduled" and \
                condition.get("reason") == SCHEDULING_GATED:
            reason = SCHEDULING_GATED

    init_specs = spec.get("initContainers") or []
    by_name = {c.get("name"): c for c in init_specs}
    ready = 0
    restarts = sidecar_restarts = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None
    initializing = False
    for index, container in enumerate(status.get("initContainerStatuses") or []):
        count = int(container.get("restartCount") or 0)
        restarts += count
        last_restart = _later(last_restart, _finished_at(container))
        sidecar = _restartable(by_name.get(container.get("name")))
        if sidecar:
            sidecar_restarts += count
            last_sidecar_restart = _later(last_sidecar_restart, _finished_at(container))
        state = container.get("state") or {}
        terminated = state.get("terminated")
        waiting = state.get("waiting")
        if terminated is not None and int(terminated.get("exitCode") or 0) == 0:
            continue
        if sidecar and container.get("started") is True:
            if container.get("ready"):
                ready += 1
            continue
        if terminated is not None:
            reason = _terminated_reason(terminated, prefix="Init:")
        elif waiting is not None and waiting.get("reason") and \
                waiting["reason"] != POD_INITIALIZING:
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _condition_true(conditions, "Initialized"):
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for container in reversed(status.get("containerStatuses") or []):
            restarts += int(container.get("restartCount") or 0)
            last_restart = _later(last_restart, _finished_at(container))
            state = container.get("state") or {}
            terminated = state.get("terminated")
            waiting = state.get("waiting")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None:
                reason = _terminated_reason(terminated, prefix="")
            elif container.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        # A pod whose last container completed while another still runs is not Completed.
        if reason == COMPLETED and has_running:
            reason = RUNNING if _condition_true(conditions, "Ready") else NOT_READY

    if meta.deletion_timestamp(pod):
        if status.get("reason") == NODE_LOST:
            reason = UNKNOWN
        elif phase not in TERMINAL_PHASES:
            reason = TERMINATING
    return reason, ready, restarts, last_restart


def _pod_cells(pod: Obj, now: datetime) -> list[Any]:
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    reason, ready, restarts, last_restart = pod_status(pod)
    total = len(spec.get("containers") or []) + sum(
        1 for c in spec.get("initContainers") or [] if _restartable(c))
    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        ago = duration.human_duration((now - last_restart).total_seconds())
        restarts_text = f"{restarts} ({ago} ago)"

    pod_ips = status.get("podIPs") or []
    pod_ip = (pod_ips[0].get("ip") if pod_ips else status.get("podIP")) or cells.NONE
    gates = spec.get("readinessGates") or []
    readiness_gates = cells.NONE
    if gates:
        passed = sum(1 for gate in gates
                     if _condition_true(status.get("conditions") or [], gate.get("conditionType")))
        readiness_gates = f"{passed}/{len(gates)}"
    return [meta.name(pod), f"{ready}/{total}", reason, restarts_text,
            created(pod, now),
            pod_ip, spec.get("nodeName") or cells.NONE,
            status.get("nominatedNodeName") or cells.NONE, readiness_gates]


def _pod_conditions(pod: Obj) -> list[Obj]:
    return ROW_CONDITIONS.get((pod.get("status") or {}).get("phase", ""), [])


PODS = Printer(
    columns=(
        NAME,
        Column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
        Column("Status", "The aggregate status of the containers in this pod."),
        Column("Restarts", "The number of times the containers in this pod have been restarted "
                           "and when the last container in this pod has restarted."),
        AGE,
        Column("IP", Doc(V1 + "PodStatus", "podIP"), priority=1),
        Column("Node", Doc(V1 + "PodSpec", "nodeName"), priority=1),
        Column("Nominated Node", Doc(V1 + "PodStatus", "nominatedNodeName"), priority=1),
        Column("Readiness Gates", Doc(V1 + "PodSpec", "readinessGates"), priority=1),
    ),
    cells=_pod_cells,
    conditions=_pod_conditions,
)


def _pod_template_cells(obj: Obj, now: datetime) -> list[Any]:
    template = obj.get("template") or {}
    names, images = cells.layout_containers(cells.template_containers(template))
    return [meta.name(obj), names, images,
            cells.format_labels((template.get("metadata") or {}).get("labels"))]


PODTEMPLATES = Printer(
    columns=(NAME,
             Column("Containers", "Names of each container in the template."),
             Column("Images", "Images referenced by each container in the template."),
             Column("Pod Labels", "The labels for the pod template.")),
    cells=_pod_template_cells,
)


# -- controllers and services -------------------------------------------------------------------

def _replication_controller_cells(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    names, images = cells.layout_containers(cells.template_containers(spec.get("template")))
    return [meta.name(obj), cells.desired_replicas(spec), int(status.get("replicas") or 0),
            int(status.get("readyReplicas") or 0), created(obj, now),
            names, images, cells.format_labels(spec.get("selector"))]


REPLICATIONCONTROLLERS = Printer(
    columns=(
        NAME,
        Column("Desired", Doc(V1 + "ReplicationControllerSpec", "replicas"), type="integer"),
        Column("Current", Doc(V1 + "ReplicationControllerStatus", "replicas"), type="integer"),
        Column("Ready", Doc(V1 + "ReplicationControllerStatus", "readyReplicas"),
               type="integer"),
        AGE, CONTAINERS, IMAGES,
        Column("Selector", Doc(V1 + "ReplicationControllerSpec", "selector"), priority=1),
    ),
    cells=_replication_controller_cells,
)


def load_balancer_addresses(status: Obj | None) -> str:
    """The distinct IPs (or hostnames) of a load balancer's ingress points, sorted, comma-joined.
    Never clipped: the apiserver prints wide, and clipping is for narrow output only."""
    found = set()
    for point in (status or {}).get("ingress") or []:
        if point.get("ip"):
            found.add(point["ip"])
        elif point.get("hostname"):
            found.add(point["hostname"])
    return ",".join(sorted(found))


def _service_external_ip(spec: Obj, status: Obj) -> str:
    service_type = spec.get("type", "ClusterIP")
    external_ips = spec.get("externalIPs") or []
    if service_type in ("ClusterIP", "NodePort"):
        return ",".join(external_ips) or cells.NONE
    if service_type == "LoadBalancer":
        balancer = load_balancer_addresses(status.get("loadBalancer"))
        if external_ips:
            return ",".join(([*balancer.split(",")] if balancer else []) + external_ips)
        return balancer or "<pending>"
    if service_type == "ExternalName":
        return str(spec.get("externalName", ""))
    return cells.UNKNOWN


def _service_ports(ports: list[Obj]) -> str:
    pieces = []
    for port in ports:
        protocol = port.get("protocol", "TCP")
        if port.get("nodePort"):
            pieces.append(f"{port.get('port')}:{port['nodePort']}/{protocol}")
        else:
            pieces.append(f"{port.get('port')}/{protocol}")
    return ",".join(pieces) or cells.NONE


def _service_cells(obj: Obj, now: datetime) -> list[Any]:
    spec = obj.get("spec") or {}
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [meta.name(obj), spec.get("type", "ClusterIP"), cluster_ips[0] if cluster_ips
            else cells.NONE, _service_external_ip(spec, obj.get("status") or {}),
            _service_ports(spec.get("ports") or []), created(obj, now),
            cells.format_labels(spec.get("selector"))]


SERVICES = Printer(
    columns=(
        NAME,
        Column("Type", Doc(V1 + "ServiceSpec", "type")),
        Column("Cluster-IP", Doc(V1 + "ServiceSpec", "clusterIP")),
        Column("External-IP", Doc(V1 + "ServiceSpec", "externalIPs")),
        Column("Port(s)", Doc(V1 + "ServiceSpec", "ports")),
        AGE,
        Column("Selector", Doc(V1 + "ServiceSpec", "selector"), priority=1),
    ),
    cells=_service_cells,
)


def _join_host_port(host: str, port: Any) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def format_endpoints(endpoints: Obj) -> str:
    """`10.0.0.1:80,10.0.0.2:80 + 3 more...`: at most three `ip:port` (or bare ip for a subset
    without ports) entries, every port of every subset."""
    subsets = endpoints.get("subsets") or []
    if not subsets:
        return cells.NONE
    shown: list[str] = []
    count = 0
    for subset in subsets:
        addresses = [a.get("ip", "") for a in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        if not ports:
            count += len(addresses)
            shown.extend(addresses)
            continue
        for port in ports:
            count += len(addresses)
            shown.extend(_join_host_port(ip, port.get("port")) for ip in addresses)
    text = ",".join(shown[:ENDPOINTS_SHOWN])
    if count > ENDPOINTS_SHOWN:
        return f"{text} + {count - ENDPOINTS_SHOWN} more..."
    return text


ENDPOINTS = Printer(
    columns=(NAME, Column("Endpoints", Doc(V1 + "Endpoints", "subsets")), AGE),
    cells=lambda obj, now: [meta.name(obj), format_endpoints(obj), created(obj, now)],
)


# -- nodes and namespaces -----------------------------------------------------------------------

def node_roles(node: Obj) -> list[str]:
    roles = set()
    for key, value in meta.labels(node).items():
        if key.startswith(NODE_ROLE_PREFIX) and key[len(NODE_ROLE_PREFIX):]:
            roles.add(key[len(NODE_ROLE_PREFIX):])
        elif key == NODE_ROLE_LABEL and value:
            roles.add(value)
    return sorted(roles)


def _node_address(node: Obj, address_type: str) -> str:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == address_type:
            return str(address.get("address", ""))
    return cells.NONE


def _node_cells(node: Obj, now: datetime) -> list[Any]:
    status = node.get("status") or {}
    ready = None
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            ready = condition  # a repeated type: the last one wins, as in upstream's map
    words = [] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
    if not words:
        words.append(UNKNOWN)
    if (node.get("spec") or {}).get("unschedulable"):
        words.append("SchedulingDisabled")
    info = status.get("nodeInfo") or {}
    return [meta.name(node), ",".join(words), ",".join(node_roles(node)) or cells.NONE,
            created(node, now), info.get("kubeletVersion", ""),
            _node_address(node, "InternalIP"), _node_address(node, "ExternalIP"),
            info.get("osImage") or cells.UNKNOWN, info.get("kernelVersion") or cells.UNKNOWN,
            info.get("containerRuntimeVersion") or cells.UNKNOWN]


NODES = Printer(
    columns=(
        NAME,
        Column("Status", "The status of the node"),
        Column("Roles", "The roles of the node"),
        AGE,
        Column("Version", Doc(V1 + "NodeSystemInfo", "kubeletVersion")),
        Column("Internal-IP", Doc(V1 + "NodeStatus", "addresses"), priority=1),
        Column("External-IP", Doc(V1 + "NodeStatus", "addresses"), priority=1),
        Column("OS-Image", Doc(V1 + "NodeSystemInfo", "osImage"), priority=1),
        Column("Kernel-Version", Doc(V1 + "NodeSystemInfo", "kernelVersion"), priority=1),
        Column("Container-Runtime", Doc(V1 + "NodeSystemInfo", "containerRuntimeVersion"),
               priority=1),
    ),
    cells=_node_cells,
)

NAMESPACES = Printer(
    columns=(NAME, Column("Status", "The status of the namespace"), AGE),
    cells=lambda obj, now: [meta.name(obj), (obj.get("status") or {}).get("phase", ""),
                            created(obj, now)],
)


# -- events -------------------------------------------------------------------------------------

def _event_source(event: Obj) -> str:
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingController") or ""
    instance = source.get("host") or event.get("reportingInstance") or ""
    return f"{component}, {instance}" if instance else component


def _event_cells(event: Obj, now: datetime) -> list[Any]:
    first = duration.since(event.get("firstTimestamp"), now=now) \
        if event.get("firstTimestamp") else duration.since(event.get("eventTime"), now=now)
    last = duration.since(event["lastTimestamp"], now=now) \
        if event.get("lastTimestamp") else first
    count = int(event.get("count") or 0)
    series = event.get("series")
    if series is not None:
        last = duration.since(series.get("lastObservedTime"), now=now)
        count = int(series.get("count") or 0)
    elif count == 0:
        count = 1  # singleton events of the events.k8s.io API carry no count
    involved = event.get("involvedObject") or {}
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    return [last, event.get("type", ""), event.get("reason", ""), target,
            involved.get("fieldPath", ""), _event_source(event),
            str(event.get("message", "")).strip(), first, count, meta.name(event)]


EVENT = "io.k8s.api.core.v1.Event"
EVENTS = Printer(
    columns=(
        Column("Last Seen", Doc(EVENT, "lastTimestamp")),
        Column("Type", Doc(EVENT, "type")),
        Column("Reason", Doc(EVENT, "reason")),
        Column("Object", Doc(EVENT, "involvedObject")),
        Column("Subobject", Doc(V1 + "ObjectReference", "fieldPath"), priority=1),
        Column("Source", Doc(EVENT, "source"), priority=1),
        Column("Message", Doc(EVENT, "message")),
        Column("First Seen", Doc(EVENT, "firstTimestamp"), priority=1),
        Column("Count", Doc(EVENT, "count"), priority=1),
        Column("Name", NAME.description, format="name", priority=1),
    ),
    cells=_event_cells,
)


# -- configuration and identity -----------------------------------------------------------------

SECRETS = Printer(
    columns=(NAME, Column("Type", Doc(V1 + "Secret", "type")),
             Column("Data", Doc(V1 + "Secret", "data")), AGE),
    cells=lambda obj, now: [meta.name(obj), obj.get("type", "Opaque"), len(obj.get("data") or {}),
                            created(obj, now)],
)

CONFIGMAPS = Printer(
    columns=(NAME, Column("Data", Doc(V1 + "ConfigMap", "data")), AGE),
    cells=lambda obj, now: [meta.name(obj),
                            len(obj.get("data") or {}) + len(obj.get("binaryData") or {}),
                            created(obj, now)],
)

# v1.33 still prints the SECRETS count; upstream drops the column only in a later release.
SERVICEACCOUNTS = Printer(
    columns=(NAME, Column("Secrets", Doc(V1 + "ServiceAccount", "secrets")), AGE),
    cells=lambda obj, now: [meta.name(obj), len(obj.get("secrets") or []), created(obj, now)],
)


def _component_status_cells(obj: Obj, now: datetime) -> list[Any]:
    for condition in obj.get("conditions") or []:
        if condition.get("type") == "Healthy":
            health = "Healthy" if condition.get("status") == "True" else "Unhealthy"
            return [meta.name(obj), health, condition.get("message", ""),
                    condition.get("error", "")]
    return [meta.name(obj), UNKNOWN, "", ""]


COMPONENTSTATUSES = Printer(
    columns=(NAME, Column("Status", "Status of the component conditions"),
             Column("Message", "Message of the component conditions"),
             Column("Error", "Error of the component conditions")),
    cells=_component_status_cells,
)


def _resource_quota_cells(obj: Obj, now: datetime) -> list[Any]:
    status = obj.get("status") or {}
    hard = status.get("hard") or {}
    used = status.get("used") or {}
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        column = limits if resource.split(".")[0] == "limits" and "." in resource else requests
        column.append(f"{resource}: {used.get(resource, '0')}/{hard[resource]}")
    return [meta.name(obj), ", ".join(requests), ", ".join(limits), created(obj, now)]


RESOURCEQUOTAS = Printer(
    columns=(
        NAME,
        Column("Request", "Request represents a minimum amount of cpu/memory that a container "
                          "may consume."),
        Column("Limit", "Limits control the maximum amount of cpu/memory that a container may "
                        "use independent of contention on the node."),
        AGE,
    ),
    cells=_resource_quota_cells,
)


# -- volumes ------------------------------------------------------------------------------------

def access_modes(modes: list[str] | None) -> str:
    """`RWO,ROX,RWX,RWOP` in that fixed order, each at most once."""
    present = set(modes or [])
    return ",".join(short for mode, short in ACCESS_MODES if mode in present)


def _volume_cells(volume: Obj, now: datetime) -> list[Any]:
    spec = volume.get("spec") or {}
    status = volume.get("status") or {}
    claim = spec.get("claimRef")
    claim_text = f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else ""
    annotations = meta.metadata(volume).get("annotations") or {}
    storage_class = annotations.get(BETA_STORAGE_CLASS_ANNOTATION, spec.get("storageClassName", ""))
    phase = TERMINATING if meta.deletion_timestamp(volume) else status.get("phase", "")
    return [meta.name(volume), (spec.get("capacity") or {}).get("storage", "0"),
            access_modes(spec.get("accessModes")),
            spec.get("persistentVolumeReclaimPolicy", ""), phase, claim_text, storage_class,
            spec.get("volumeAttributesClassName") or cells.UNSET, status.get("reason", ""),
            created(volume, now), spec.get("volumeMode") or cells.UNSET]


PERSISTENTVOLUMES = Printer(
    columns=(
        NAME,
        Column("Capacity", Doc(V1 + "PersistentVolumeSpec", "capacity")),
        Column("Access Modes", Doc(V1 + "PersistentVolumeSpec", "accessModes")),
        Column("Reclaim Policy", Doc(V1 + "PersistentVolumeSpec",
                                     "persistentVolumeReclaimPolicy")),
        Column("Status", Doc(V1 + "PersistentVolumeStatus", "phase")),
        Column("Claim", Doc(V1 + "PersistentVolumeSpec", "claimRef")),
        Column("StorageClass", "StorageClass of the pv"),
        Column("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
        Column("Reason", Doc(V1 + "PersistentVolumeStatus", "reason")),
        AGE,
        Column("VolumeMode", Doc(V1 + "PersistentVolumeSpec", "volumeMode"), priority=1),
    ),
    cells=_volume_cells,
)


def _claim_cells(claim: Obj, now: datetime) -> list[Any]:
    spec = claim.get("spec") or {}
    status = claim.get("status") or {}
    phase = TERMINATING if meta.deletion_timestamp(claim) else status.get("phase", "")
    capacity = modes = ""
    if spec.get("volumeName"):
        modes = access_modes(status.get("accessModes"))
        capacity = (status.get("capacity") or {}).get("storage", "0")
    annotations = meta.metadata(claim).get("annotations") or {}
    storage_class = annotations[BETA_STORAGE_CLASS_ANNOTATION] \
        if BETA_STORAGE_CLASS_ANNOTATION in annotations else spec.get("storageClassName") or ""
    return [meta.name(claim), phase, spec.get("volumeName", ""), capacity, modes, storage_class,
            spec.get("volumeAttributesClassName") or cells.UNSET, created(claim, now),
            spec.get("volumeMode") or cells.UNSET]


PERSISTENTVOLUMECLAIMS = Printer(
    columns=(
        NAME,
        Column("Status", Doc(V1 + "PersistentVolumeClaimStatus", "phase")),
        Column("Volume", Doc(V1 + "PersistentVolumeClaimSpec", "volumeName")),
        Column("Capacity", Doc(V1 + "PersistentVolumeClaimStatus", "capacity")),
        Column("Access Modes", Doc(V1 + "PersistentVolumeClaimStatus", "accessModes")),
        Column("StorageClass", "StorageClass of the pvc"),
        Column("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
        AGE,
        Column("VolumeMode", Doc(V1 + "PersistentVolumeClaimSpec", "volumeMode"), priority=1),
    ),
    cells=_claim_cells,
)

PRINTERS: dict[str, Printer] = {
    "pods": PODS,
    "podtemplates": PODTEMPLATES,
    "replicationcontrollers": REPLICATIONCONTROLLERS,
    "services": SERVICES,
    "endpoints": ENDPOINTS,
    "nodes": NODES,
    "namespaces": NAMESPACES,
    "events": EVENTS,
    "secrets": SECRETS,
    "configmaps": CONFIGMAPS,
    "serviceaccounts": SERVICEACCOUNTS,
    "componentstatuses": COMPONENTSTATUSES,
    "resourcequotas": RESOURCEQUOTAS,
    "persistentvolumes": PERSISTENTVOLUMES,
    "persistentvolumeclaims": PERSISTENTVOLUMECLAIMS,
}
