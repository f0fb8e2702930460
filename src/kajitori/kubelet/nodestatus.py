"""The kubelet's own Node: what this machine is, registration, and the status posts.

Mirrors `pkg/kubelet/kubelet_node_status.go` (`initialNode`, `registerWithAPIServer`,
`updateNodeStatus`: computed every `nodeStatusUpdateFrequency`, posted when it changed or
`nodeStatusReportFrequency` has passed) and the setters of `pkg/kubelet/nodestatus/setters.go`:
capacity from the machine (cadvisor's MachineInfo: CPUs, MemTotal, the root dir's filesystem),
allocatable as `pkg/kubelet/cm/node_container_manager_linux.go` computes it (capacity minus
kubeReserved, systemReserved and the hard eviction thresholds of memory and nodefs), addresses
(InternalIP, Hostname), nodeInfo, the images (`nodeStatusMaxImages` 50, 5 names each), and the
conditions, Ready only while the runtime's CRI Status says RuntimeReady and NetworkReady, with
upstream's messages. Condition changes become the upstream Events on the Node (`NodeReady`,
`NodeHasSufficientMemory`, ...). The conditions and registration common to every node agent are
`kajitori.client.nodestatus`; the Lease is `kajitori.client.nodelease`.

The status loop also watches the Node's `spec.podCIDR` (set by the node IPAM controller) and
hands a new one to the kubelet (`on_pod_cidr`), which configures the pod network: until then
the runtime reports NetworkReady=false and the node stays NotReady, as upstream.

The pressure conditions (MemoryPressure, DiskPressure, PIDPressure) are True while the
eviction manager (`kajitori.kubelet.eviction`, `pressure`) reports them, with upstream's
reasons and messages (`KubeletHasInsufficientMemory`, `kubelet has insufficient memory
available`, ...); the eviction manager wakes the status loop (`refresh`) when they change.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable, Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any

from cri_api.v1 import api_pb2

from kajitori.api import meta, quantity, version
from kajitori.client import backoff, events, informer, nodestatus, rest
from kajitori.client import clock as clock_
from kajitori.kubelet import runtime as runtime_
from kajitori.kubelet import settings as settings_

Obj = dict[str, Any]
Wall = Callable[[], datetime.datetime]

log = logging.getLogger(__name__)

RUNTIME_NAME = "containerd"
"""`containerRuntimeVersion` is `<runtime name>://<version>` (`containerd://1.6.20~ds1`)."""
NODE_STATUS_MAX_IMAGES = 50
"""Images listed in the status, largest first (upstream's `nodeStatusMaxImages`)."""
MAX_NAMES_PER_IMAGE = 5
"""Names listed per image (upstream's `maxNamesPerImageInNodeStatus`)."""
HUGEPAGES = ("hugepages-1Gi", "hugepages-2Mi")
REGISTRATION_BACKOFF = backoff.Backoff(0.1, cap=7.0)
NETWORK_RECHECK_INTERVAL = 0.5
NETWORK_RECHECK_PERIOD = 10.0
"""For this long after a podCIDR is applied, a node not yet Ready is checked every
NETWORK_RECHECK_INTERVAL seconds."""
"""The kubelet retries registration from 100 ms, doubling, up to 7 s."""

# CRI runtime condition types and the kubelet's words for a runtime that is not ready
# (pkg/kubelet/kubelet.go `updateRuntimeUp`, pkg/kubelet/container/runtime.go).
RUNTIME_READY = "RuntimeReady"
NETWORK_READY = "NetworkReady"
RUNTIME_DOWN = "container runtime is down"
RUNTIME_NOT_READY = "container runtime not ready"
NETWORK_NOT_READY = "container runtime network not ready"

# Event reasons (pkg/kubelet/events/event.go) and their message.
STARTING = "Starting"
STARTING_MESSAGE = "Starting kubelet."
NODE_READY = "NodeReady"
NODE_NOT_READY = "NodeNotReady"
CONDITION_EVENTS = {
    (nodestatus.MEMORY_PRESSURE, "False"): "NodeHasSufficientMemory",
    (nodestatus.MEMORY_PRESSURE, "True"): "NodeHasInsufficientMemory",
    (nodestatus.DISK_PRESSURE, "False"): "NodeHasNoDiskPressure",
    (nodestatus.DISK_PRESSURE, "True"): "NodeHasDiskPressure",
    (nodestatus.PID_PRESSURE, "False"): "NodeHasSufficientPID",
    (nodestatus.PID_PRESSURE, "True"): "NodeHasInsufficientPID",
    (nodestatus.READY, "True"): NODE_READY,
    (nodestatus.READY, "False"): NODE_NOT_READY,
}
"""The Event a condition's transition to a status records."""


PRESSURE_CONDITIONS = {
    nodestatus.MEMORY_PRESSURE: ("KubeletHasInsufficientMemory",
                                 "kubelet has insufficient memory available"),
    nodestatus.DISK_PRESSURE: ("KubeletHasDiskPressure", "kubelet has disk pressure"),
    nodestatus.PID_PRESSURE: ("KubeletHasInsufficientPID",
                              "kubelet has insufficient PID available"),
}
"""A pressure condition's reason and message when it is True (upstream's setters)."""


def with_pressure(conditions: list[Obj], pressure: Iterable[str], *,
                  previous: list[Obj] | None, now: str) -> list[Obj]:
    """`conditions` (all healthy) with the `pressure` ones True; a condition whose status
    is unchanged from `previous` keeps its lastTransitionTime, a changed one gets `now`."""
    true = set(pressure)
    before = {c.get("type"): c for c in previous or []}
    out = []
    for condition in conditions:
        kind = condition["type"]
        if kind in true and kind in PRESSURE_CONDITIONS:
            reason, message = PRESSURE_CONDITIONS[kind]
            old = before.get(kind)
            transition = old.get(nodestatus.TRANSITION) \
                if old and old.get("status") == "True" else None
            condition = {**condition, "status": "True", "reason": reason, "message": message,
                         nodestatus.TRANSITION: transition or now}
        out.append(condition)
    return out


def status_event_message(node_name: str, reason: str) -> str:
    """Upstream's `recordNodeStatusEvent` wording."""
    return f"Node {node_name} status is now: {reason}"


@dataclasses.dataclass(frozen=True)
class MachineInfo:
    """This machine as the Node reports it (cadvisor's MachineInfo and VersionInfo)."""

    cpus: int
    memory_bytes: int
    ephemeral_storage_bytes: int
    """Size of the filesystem holding the kubelet's root dir."""
    machine_id: str
    system_uuid: str
    boot_id: str
    kernel_version: str
    os_image: str


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def os_image(os_release: str) -> str:
    """PRETTY_NAME of an /etc/os-release text, unquoted; upstream's fallback `Linux`."""
    for line in os_release.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "PRETTY_NAME":
            return value.strip().strip('"').strip("'")
    return "Linux"


def mem_total_bytes(meminfo: str) -> int:
    """MemTotal of a /proc/meminfo text, in bytes."""
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            fields = line.split()
            return int(fields[1]) * (1024 if fields[-1] == "kB" else 1)
    raise ValueError("/proc/meminfo has no MemTotal")


def read_machine_info(root_dir: Path, *, host: Path = Path("/")) -> MachineInfo:
    """Read this machine's facts (`host` is "/" but for tests). Blocking file I/O: call it off
    the loop. The root dir's filesystem is measured where the nearest existing parent is."""
    measured = root_dir
    while not measured.exists() and measured != measured.parent:
        measured = measured.parent
    fs = os.statvfs(measured)
    return MachineInfo(
        cpus=os.cpu_count() or 1,
        memory_bytes=mem_total_bytes(_read(host / "proc/meminfo")),
        ephemeral_storage_bytes=fs.f_blocks * fs.f_frsize,
        machine_id=_read(host / "etc/machine-id"),
        system_uuid=_read(host / "sys/class/dmi/id/product_uuid").lower(),
        boot_id=_read(host / "proc/sys/kernel/random/boot_id"),
        kernel_version=os.uname().release,
        os_image=os_image(_read(host / "etc/os-release")),
    )


def default_node_ip() -> str:
    """The IPv4 address of the default-route interface (the source address the kernel picks
    for an outside destination; no packet is sent), else 127.0.0.1 on a machine without a
    default route."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routed by the default route only
        except OSError:
            return "127.0.0.1"
        return str(probe.getsockname()[0])


def capacity(machine: MachineInfo, *, max_pods: int) -> dict[str, str]:
    """The Node's capacity as upstream prints it (memory and storage in BinarySI)."""
    return {
        "cpu": str(machine.cpus),
        "ephemeral-storage": quantity.canonical(Fraction(machine.ephemeral_storage_bytes),
                                                quantity.BINARY_SI),
        **dict.fromkeys(HUGEPAGES, "0"),
        "memory": quantity.canonical(Fraction(machine.memory_bytes), quantity.BINARY_SI),
        "pods": str(max_pods),
    }


def _float32(value: float) -> float:
    result: float = struct.unpack("f", struct.pack("f", value))[0]
    return result


def eviction_reservation(threshold: str, capacity_: quantity.Quantity) -> Fraction:
    """What a hard eviction threshold keeps free: a quantity, or a percentage of capacity
    (computed in float32 and truncated, as upstream's `GetThresholdQuantity`)."""
    if threshold.endswith("%"):
        percentage = _float32(_float32(float(threshold[:-1])) / 100)
        return Fraction(int(float(capacity_.value()) * percentage))
    return quantity.parse(threshold).amount


EVICTION_SIGNALS = {"memory": "memory.available", "ephemeral-storage": "nodefs.available"}
"""The eviction signals that reserve a resource from allocatable."""


def allocatable(capacity_: dict[str, str], *, kube_reserved: dict[str, str],
                system_reserved: dict[str, str], eviction_hard: dict[str, str]
                ) -> dict[str, str]:
    """capacity minus kubeReserved, systemReserved and the hard eviction reservation, never
    below zero (upstream's `GetNodeAllocatableAbsolute` and `hardEvictionReservation`)."""
    out = {}
    for name, text in capacity_.items():
        value = quantity.parse(text)
        reserved = Fraction(0)
        for reservation in (kube_reserved, system_reserved):
            if name in reservation:
                reserved += quantity.parse(reservation[name]).amount
        signal = EVICTION_SIGNALS.get(name)
        if signal and signal in eviction_hard:
            reserved += eviction_reservation(eviction_hard[signal], value)
        if not reserved:
            out[name] = text
            continue
        left = value - quantity.Quantity(reserved, value.format)
        out[name] = str(left) if left.sign() > 0 else "0"
    return out


def not_ready_message(status: api_pb2.StatusResponse | None) -> str:
    """Why the node is not Ready, in upstream's words, from the runtime's CRI Status (None:
    the runtime did not answer); "" when it is ready. Several reasons are listed as upstream's
    aggregated errors: `[first, second]`."""
    if status is None:
        reasons = [RUNTIME_DOWN]
    else:
        found = {c.type: c for c in status.status.conditions}
        reasons = []
        for type_, prefix in ((RUNTIME_READY, RUNTIME_NOT_READY),
                              (NETWORK_READY, NETWORK_NOT_READY)):
            condition = found.get(type_)
            if condition is None:
                reasons.append(f"{prefix}: <nil>")
            elif not condition.status:
                reasons.append(f"{prefix}: {type_}=false reason:{condition.reason} "
                               f"message:{condition.message}")
    if len(reasons) <= 1:
        return "".join(reasons)
    return "[" + ", ".join(reasons) + "]"


def node_images(images: list[api_pb2.Image]) -> list[Obj]:
    """The status's images: largest first, at most 50, each with up to 5 names (digests
    before tags)."""
    ordered = sorted(images, key=lambda image: image.size, reverse=True)
    out = []
    for image in ordered[:NODE_STATUS_MAX_IMAGES]:
        names = [*image.repo_digests, *image.repo_tags][:MAX_NAMES_PER_IMAGE]
        out.append({"names": names, "sizeBytes": image.size})
    return out


@dataclasses.dataclass(frozen=True)
class NodeFacts:
    """What the status is computed from, besides the conditions."""

    machine: MachineInfo
    node_ip: str
    runtime_version: str
    """`containerd://1.6.20~ds1`."""


def is_extended_resource_name(name: str) -> bool:
    """A resource someone else advertises (upstream IsExtendedResourceName): a qualified name
    outside the `kubernetes.io/` domains and not a `requests.` quota name."""
    domain, slash, _ = name.partition("/")
    return bool(slash) and not domain.endswith("kubernetes.io") and \
        not name.startswith("requests.")


def node_status(settings: settings_.KubeletSettings, facts: NodeFacts, *, now: str,
                not_ready: str, images: list[Obj], previous: list[Obj] | None = None,
                server_capacity: dict[str, str] | None = None,
                pressure: Iterable[str] = ()) -> Obj:
    """The status the kubelet posts; `previous` are the conditions on the server and
    `server_capacity` its capacity, whose extended resources (advertised by a patch of the
    node's status, as in "Advertise Extended Resources for a Node") are kept and given to
    allocatable too, as upstream's MachineInfo setter does; `pressure` the pressure
    conditions that are True."""
    capacity_ = capacity(facts.machine, max_pods=settings.max_pods)
    capacity_.update({name: value for name, value in (server_capacity or {}).items()
                      if is_extended_resource_name(name)})
    status: Obj = {
        "capacity": capacity_,
        "allocatable": allocatable(capacity_, kube_reserved=settings.kube_reserved,
                                   system_reserved=settings.system_reserved,
                                   eviction_hard=settings.eviction_hard),
        "conditions": with_pressure(
            nodestatus.conditions(now=now, previous=previous, not_ready=not_ready), pressure,
            previous=previous, now=now),
        "addresses": [{"type": "InternalIP", "address": facts.node_ip},
                      {"type": "Hostname", "address": settings.node_name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": settings.port}},
        "nodeInfo": {
            "machineID": facts.machine.machine_id, "systemUUID": facts.machine.system_uuid,
            "bootID": facts.machine.boot_id, "kernelVersion": facts.machine.kernel_version,
            "osImage": facts.machine.os_image,
            "containerRuntimeVersion": facts.runtime_version,
            "kubeletVersion": version.GIT_VERSION, "kubeProxyVersion": "",
            "operatingSystem": nodestatus.OPERATING_SYSTEM,
            "architecture": nodestatus.ARCHITECTURE,
        },
        "images": images,
    }
    return status


def initial_node(settings: settings_.KubeletSettings, status: Obj) -> Obj:
    """The Node the kubelet registers (upstream's `initialNode`): no podCIDR yet, the node
    IPAM controller gives it one."""
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": settings.node_name,
                     "labels": nodestatus.kubelet_labels(settings.node_name),
                     "annotations": {nodestatus.ATTACH_DETACH_ANNOTATION: "true"}},
        "spec": {},
        "status": status,
    }


def transition_events(previous: list[Obj] | None, current: list[Obj]) -> list[str]:
    """The Event reasons the conditions' changes from `previous` record, in condition order:
    one for each condition that is new or whose status changed."""
    before = {c.get("type"): c.get("status") for c in previous or []}
    reasons = []
    for condition in current:
        if before.get(condition["type"]) != condition["status"]:
            reason = CONDITION_EVENTS.get((condition["type"], condition["status"]))
            if reason:
                reasons.append(reason)
    return reasons


def node_reference(node_name: str) -> Obj:
    """The object the kubelet's node Events name: upstream's `nodeRef`, whose UID is the
    node's name."""
    return {"kind": "Node", "metadata": {"name": node_name, "uid": node_name}}


PodCIDRHandler = Callable[[str], Awaitable[None]]


class NodeStatusManager:
    """Registers the Node and keeps its status current until cancelled.

    `run()` registers (retrying with back-off), records `Starting`, then every
    `node_status_update_frequency` (or at once when the Node changes on the server) computes
    the status and posts it when it differs from the server's, or when
    `node_status_report_frequency` has passed. A new `spec.podCIDR` is passed to `on_pod_cidr`
    before the status is computed; if that raises, it is tried again at the next sync. A failed
    post is logged and retried at the next sync. `registered` is set once the Node exists and
    `node` holds the latest copy the server returned."""

    def __init__(self, client: rest.RESTClient, runtime: runtime_.RuntimeService,
                 images: runtime_.ImageService, *, settings: settings_.KubeletSettings,
                 recorder: events.EventRecorder, on_pod_cidr: PodCIDRHandler,
                 node_ip: str, clock: clock_.Clock | None = None,
                 wall: Wall | None = None,
                 pressure: Callable[[], Iterable[str]] = lambda: ()) -> None:
        """`pressure` gives the pressure conditions now True (the kubelet passes the
        eviction manager's `node_conditions`)."""
        self._client = client
        self._runtime = runtime
        self._images = images
        self._settings = settings
        self._recorder = recorder
        self._on_pod_cidr = on_pod_cidr
        self._pressure = pressure
        self._node_ip = node_ip
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self._wall: Wall = wall or _utc_now
        self._facts: NodeFacts | None = None
        self._applied_cidr = ""
        self._reported_at = float("-inf")
        self._not_ready = ""
        self._network_deadline = float("-inf")
        self._sent: Obj | None = None
        self._posted: Obj | None = None
        self._wake = asyncio.Event()
        self.registered = asyncio.Event()
        self.node: Obj | None = None
        self._informer = informer.Informer(
            rest.ListWatch(client, *nodestatus.NODES,
                           field_selector=f"metadata.name={settings.node_name}"),
            name="kubelet-node")
        self._informer.add_handlers(on_add=lambda _: self._wake.set(),
                                    on_update=lambda _old, _new: self._wake.set())

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._informer.run())
            self._recorder.event(node_reference(self._settings.node_name), events.NORMAL,
                                 STARTING, STARTING_MESSAGE)
            await self.register()
            while True:
                self._wake.clear()  # before the sync: a change during it wakes the next one
                try:
                    await self.sync()
                except (*backoff.RETRIABLE, runtime_.CRIError) as exc:
                    log.warning("error updating node status, will retry: %s", exc)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._next_check()):
                        await self._wake.wait()

    def refresh(self) -> None:
        """Compute (and post, if it changed) the status now rather than at the next period:
        the eviction manager calls this when the pressure conditions change."""
        self._wake.set()

    def _next_check(self) -> float:
        """Seconds to the next sync: the update frequency, but soon while the network of a
        just-applied podCIDR comes up (containerd loads the CNI config a moment after it is
        written), so the node turns Ready at once rather than a whole period later."""
        if self._not_ready and self._clock.now() < self._network_deadline:
            return NETWORK_RECHECK_INTERVAL
        return self._settings.node_status_update_frequency

    async def facts(self) -> NodeFacts:
        """This machine's facts, read once (they do not change while the kubelet runs)."""
        if self._facts is None:
            machine = await asyncio.to_thread(read_machine_info, self._settings.root_dir)
            runtime = await self._runtime.version()
            self._facts = NodeFacts(
                machine=machine, node_ip=self._node_ip,
                runtime_version=f"{RUNTIME_NAME}://{runtime.runtime_version}")
        return self._facts

    async def _runtime_status(self) -> tuple[str, list[Obj]]:
        """(why the node is not ready, or "", the images)."""
        try:
            status = await self._runtime.status()
            images = node_images(await self._images.list_images())
        except runtime_.CRIError as exc:
            log.warning("container runtime status check failed: %s", exc)
            return not_ready_message(None), []
        return not_ready_message(status), images

    async def register(self) -> None:
        """Create the Node, or reconcile the existing one's labels; retries until it
        succeeds (upstream's `registerWithAPIServer`)."""
        delays = backoff.BackoffManager(REGISTRATION_BACKOFF, reset_after=60.0,
                                        clock=self._clock)
        while True:
            try:
                status = await self._status(previous=None)
                node, _ = await nodestatus.register(
                    self._client, initial_node(self._settings, status))
            except (*backoff.RETRIABLE, runtime_.CRIError) as exc:
                log.warning("unable to register node %s with the API server, will retry: %s",
                            self._settings.node_name, exc)
                await self._clock.sleep(delays.delay(exc))
                continue
            log.info("successfully registered node %s", self._settings.node_name)
            self.node = node
            self.registered.set()
            # Upstream sets the status of a fresh Node object at every start, so its
            # conditions are all new: their Events are recorded again after a restart.
            self._record(transition_events(None, status["conditions"]))
            return

    def _record(self, reasons: list[str]) -> None:
        name = self._settings.node_name
        for reason in reasons:
            self._recorder.event(node_reference(name), events.NORMAL, reason,
                                 status_event_message(name, reason))

    async def _status(self, *, previous: list[Obj] | None,
                      server_capacity: dict[str, str] | None = None) -> Obj:
        facts = await self.facts()
        not_ready, images = await self._runtime_status()
        self._not_ready = not_ready
        return node_status(self._settings, facts, now=meta.format_time(self._wall()),
                           not_ready=not_ready, images=images, previous=previous,
                           server_capacity=server_capacity, pressure=self._pressure())

    async def sync(self) -> None:
        """One status update: apply a new podCIDR, compute the status, post it if it changed
        or is due, record the conditions' transitions."""
        node = self._informer.cache.get(self._settings.node_name) or self.node
        if node is None:
            return
        pod_cidr = str((node.get("spec") or {}).get("podCIDR") or "")
        if pod_cidr and pod_cidr != self._applied_cidr:
            await self._on_pod_cidr(pod_cidr)
            self._applied_cidr = pod_cidr
            self._network_deadline = self._clock.now() + NETWORK_RECHECK_PERIOD
        current = node.get("status") or {}
        previous = current.get("conditions")
        status = await self._status(previous=previous, server_capacity=current.get("capacity"))
        # Changed: what we would post differs from what we posted last, or someone else
        # (the node lifecycle controller marking it Unknown) changed the server's copy.
        changed = self._sent is None or self._posted is None or \
            nodestatus.without_heartbeats(status) != nodestatus.without_heartbeats(self._sent) \
            or nodestatus.without_heartbeats(current) != \
            nodestatus.without_heartbeats(self._posted)
        due = self._clock.now() - self._reported_at >= \
            self._settings.node_status_report_frequency
        if not changed and not due:
            return
        self.node = await self._client.patch(
            rest.resource_path(*nodestatus.NODES, name=self._settings.node_name,
                               subresource="status"), {"status": status})
        self._sent, self._posted = status, self.node.get("status") or {}
        self._reported_at = self._clock.now()
        self._record(transition_events(previous, status["conditions"]))


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
