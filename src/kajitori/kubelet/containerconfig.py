"""The CRI configurations of a pod's sandbox and containers, built from the pod's spec.

Mirrors upstream v1.33's `pkg/kubelet/kuberuntime/kuberuntime_sandbox.go`
(`generatePodSandboxConfig`), `kuberuntime_container.go` (`generateContainerConfig`),
`kuberuntime_container_linux.go` (resources: `milliCPUToShares`, `milliCPUToQuota`), `labels.go`,
`security_context.go`, `pkg/kubelet/qos/policy.go` (oom_score_adj), `pkg/kubelet/network/dns`
(resolv.conf of ClusterFirst/Default/None pods) and the hostname rules of `kubelet_pods.go`
(`GeneratePodHostNameAndDomain`). The pod worker (`kajitori.kubelet.podworker`) calls these;
the environment (`kajitori.kubelet.envvars`) and mounts (`kajitori.kubelet.volumes`) are
computed by their own modules and passed in.

Notes: cgroup parents are absolute cgroupfs paths under `/kubepods` by QoS class, as
containerd needs them on this machine (node-runtime-facts.md). The oom_score_adj values are
upstream's (-997 Guaranteed, 1000 BestEffort, 3..999 Burstable); containerd runs with
`restrict_oom_score_adj = true`, so it raises a value below its own score to its own
(a Guaranteed container gets containerd's score, not -997). Pod logs live under the
kubelet root dir (`<root>/logs/pods/<ns>_<name>_<uid>`), upstream's `/var/log/pods` layout.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from cri_api.v1 import api_pb2

from kajitori.api import meta, qos, quantity
from kajitori.api import podstatus as apipodstatus
from kajitori.kubelet import errors, runtime

Obj = dict[str, Any]

CGROUP_ROOT = "/kubepods"
CGROUPFS_ROOT = Path("/sys/fs/cgroup")
CGROUP_TIER = {qos.GUARANTEED: "", qos.BURSTABLE: "burstable", qos.BEST_EFFORT: "besteffort"}

MIN_SHARES = 2
SHARES_PER_CPU = 1024
QUOTA_PERIOD = 100_000
"""Microseconds of a CFS period (upstream's `quotaPeriod`)."""
MIN_QUOTA = 1000
"""The smallest CFS quota the kernel accepts, in microseconds (upstream `MinQuotaPeriod`)."""

GUARANTEED_OOM_SCORE_ADJ = -997
BEST_EFFORT_OOM_SCORE_ADJ = 1000

DNS_CLUSTER_FIRST = "ClusterFirst"
DNS_CLUSTER_FIRST_WITH_HOST_NET = "ClusterFirstWithHostNet"
DNS_DEFAULT = "Default"
DNS_NONE = "None"
CLUSTER_NDOTS = "ndots:5"
MAX_DNS_SEARCHES = 32
HOSTNAME_MAX_LENGTH = 63

PROTOCOLS = {"TCP": api_pb2.TCP, "UDP": api_pb2.UDP, "SCTP": api_pb2.SCTP}
SECCOMP_RUNTIME_DEFAULT = "RuntimeDefault"
SECCOMP_LOCALHOST = "Localhost"
PROC_MOUNT_UNMASKED = "Unmasked"
DEFAULT_MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap")
"""What a container may not see (upstream securitycontext's defaultMaskedPaths); containerd
masks only the paths the kubelet sends."""
DEFAULT_READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                          "/proc/sysrq-trigger")
"""What a container may read but not write (upstream's defaultReadonlyPaths)."""
DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_TERMINATION_MESSAGE_POLICY = "File"

RUN_AS_USER_BREAKS_NON_ROOT = ("container's runAsUser breaks non-root policy "
                               "(pod: \"{pod}\", container: {container})")
IMAGE_RUNS_AS_ROOT = ("container has runAsNonRoot and image will run as root "
                      "(pod: \"{pod}\", container: {container})")
IMAGE_NON_NUMERIC_USER = ("container has runAsNonRoot and image has non-numeric user "
                          "({user}), cannot verify user is non-root "
                          "(pod: \"{pod}\", container: {container})")


@dataclass(frozen=True)
class HostDNS:
    """The host's resolv.conf (`Default` pods get it; ClusterFirst pods append its search
    domains, as upstream)."""

    servers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeInfo:
    """What the configurations need of the node the kubelet runs on."""

    root_dir: Path
    cluster_dns: tuple[str, ...] = ()
    cluster_domain: str = "cluster.local"
    memory_capacity: int = 0
    """Bytes of memory of the node, for Burstable containers' oom_score_adj (0: unknown)."""
    host_dns: HostDNS = field(default_factory=HostDNS)


def pod_log_directory(root_dir: Path, pod: Obj) -> Path:
    """The directory of a pod's container logs (upstream `/var/log/pods/<ns>_<name>_<uid>`)."""
    return root_dir / "logs" / "pods" / f"{meta.namespace(pod)}_{meta.name(pod)}_{meta.uid(pod)}"


def container_log_path(container_name: str, restart_count: int) -> str:
    """A container's log file relative to its pod's log directory (`<name>/<restarts>.log`)."""
    return f"{container_name}/{restart_count}.log"


def cgroup_parent(pod: Obj) -> str:
    """The pod's cgroup: `/kubepods/pod<uid>`, `/kubepods/burstable/pod<uid>` or
    `/kubepods/besteffort/pod<uid>` by QoS class."""
    tier = CGROUP_TIER[qos.pod_qos_class(pod)]
    return "/".join(p for p in (CGROUP_ROOT, tier, f"pod{meta.uid(pod)}") if p)


def remove_pod_cgroups(pod_uid: str, *, cgroup_root: Path = CGROUPFS_ROOT) -> None:
    """Remove the pod's cgroup directories (`<root>/<controller>/kubepods/.../pod<uid>`, and
    `<root>/kubepods/...` on a unified hierarchy) once its containers are gone: runc removes
    the containers' own cgroups, not the pod's parent (upstream's pod container manager does,
    pkg/kubelet/cm/pod_container_manager_linux.go). Blocking (the caller runs it in a
    thread); a directory still in use stays."""
    pattern = f"kubepods/**/pod{pod_uid}"
    found = [*cgroup_root.glob(pattern), *cgroup_root.glob(f"*/{pattern}")]
    for directory in found:
        for child in sorted((p for p in directory.rglob("*") if p.is_dir()), reverse=True):
            with contextlib.suppress(OSError):
                child.rmdir()
        with contextlib.suppress(OSError):
            directory.rmdir()


def container_hash(container: Obj) -> str:
    """A hash of the container's spec (upstream's `HashContainer`, FNV-1a 32 in hex): the pod
    worker restarts a container whose hash changed. Resources are left out, as in v1.33,
    where they may change in place."""
    spec = {k: v for k, v in container.items() if k != "resources"}
    digest = 0x811C9DC5
    for byte in orjson.dumps(spec, option=orjson.OPT_SORT_KEYS):
        digest = ((digest ^ byte) * 0x01000193) & 0xFFFFFFFF
    return format(digest, "x")


def pod_hostname(pod: Obj, *, cluster_domain: str) -> str:
    """The sandbox's hostname: `spec.hostname` or the pod name, cut to 63 characters without
    a trailing `-` or `.`; the FQDN `<hostname>.<subdomain>.<ns>.svc.<domain>` with
    `setHostnameAsFQDN`. Empty for hostNetwork pods (they have the node's)."""
    spec = pod.get("spec") or {}
    if spec.get("hostNetwork"):
        return ""
    hostname = str(spec.get("hostname") or meta.name(pod))
    if len(hostname) > HOSTNAME_MAX_LENGTH:
        hostname = hostname[:HOSTNAME_MAX_LENGTH].rstrip("-.")
    subdomain = spec.get("subdomain")
    if spec.get("setHostnameAsFQDN") and subdomain:
        return f"{hostname}.{subdomain}.{meta.namespace(pod)}.svc.{cluster_domain}"
    return hostname


def dns_config(pod: Obj, node: NodeInfo) -> api_pb2.DNSConfig:
    """The pod's resolv.conf by dnsPolicy (upstream `GetPodDNS`): ClusterFirst (or
    ClusterFirstWithHostNet) pods get the cluster DNS servers, the searches
    `<ns>.svc.<domain> svc.<domain> <domain>` and the host's, `ndots:5`; ClusterFirst on the
    host network, or without cluster DNS, falls back to Default (the host's resolv.conf);
    `None` has only `dnsConfig`. `dnsConfig` is then merged in: servers and searches
    appended (duplicates dropped), options replacing those of the same name."""
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or DNS_CLUSTER_FIRST
    if policy == DNS_CLUSTER_FIRST and spec.get("hostNetwork"):
        policy = DNS_DEFAULT
    if policy in (DNS_CLUSTER_FIRST, DNS_CLUSTER_FIRST_WITH_HOST_NET) and not node.cluster_dns:
        policy = DNS_DEFAULT
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    if policy == DNS_DEFAULT:
        servers, searches, options = (list(node.host_dns.servers), list(node.host_dns.searches),
                                      list(node.host_dns.options))
    elif policy != DNS_NONE:
        domain = node.cluster_domain
        servers = list(node.cluster_dns)
        searches = [f"{meta.namespace(pod)}.svc.{domain}", f"svc.{domain}", domain,
                    *node.host_dns.searches]
        options = [CLUSTER_NDOTS]
    extra = spec.get("dnsConfig") or {}
    servers = _unique(servers + list(extra.get("nameservers") or []))
    searches = _unique(searches + list(extra.get("searches") or []))[:MAX_DNS_SEARCHES]
    for option in extra.get("options") or []:
        name = option.get("name", "")
        text = f"{name}:{option['value']}" if option.get("value") is not None else name
        options = [o for o in options if o.split(":", 1)[0] != name] + [text]
    return api_pb2.DNSConfig(servers=servers, searches=searches, options=options)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def port_mappings(pod: Obj) -> list[api_pb2.PortMapping]:
    """A mapping for every container port with a hostPort."""
    mappings = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                mappings.append(api_pb2.PortMapping(
                    protocol=PROTOCOLS.get(port.get("protocol") or "TCP", api_pb2.TCP),
                    container_port=int(port["containerPort"]), host_port=int(port["hostPort"]),
                    host_ip=port.get("hostIP") or ""))
    return mappings


def pod_labels(pod: Obj) -> dict[str, str]:
    """The sandbox's labels: the pod's own plus the kubelet's name, namespace and uid."""
    labels = dict((pod.get("metadata") or {}).get("labels") or {})
    labels.update({runtime.POD_NAME_LABEL: meta.name(pod),
                   runtime.POD_NAMESPACE_LABEL: meta.namespace(pod),
                   runtime.POD_UID_LABEL: meta.uid(pod)})
    return labels


def namespace_options(pod: Obj, *, target_id: str = "") -> api_pb2.NamespaceOption:
    """hostNetwork/hostPID/hostIPC share the node's namespaces; shareProcessNamespace gives
    the containers one PID namespace, the pause container's. `target_id`: the runtime id of
    the container an ephemeral container targets (`targetContainerName`), whose PID namespace
    it joins (`TARGET`) when the pod's containers have one each; "" for every other
    container."""
    spec = pod.get("spec") or {}
    pid = api_pb2.CONTAINER
    if spec.get("hostPID"):
        pid = api_pb2.NODE
    elif spec.get("shareProcessNamespace"):
        pid = api_pb2.POD
    elif target_id:
        pid = api_pb2.TARGET
    return api_pb2.NamespaceOption(
        network=api_pb2.NODE if spec.get("hostNetwork") else api_pb2.POD, pid=pid,
        ipc=api_pb2.NODE if spec.get("hostIPC") else api_pb2.POD,
        target_id=target_id if pid == api_pb2.TARGET else "")


def _seccomp(profile: Obj | None, *, root_dir: Path) -> api_pb2.SecurityProfile:
    """Unconfined unless asked otherwise (the kubelet's SeccompDefault is off)."""
    profile = profile or {}
    kind = profile.get("type")
    if kind == SECCOMP_RUNTIME_DEFAULT:
        return api_pb2.SecurityProfile(profile_type=api_pb2.SecurityProfile.RuntimeDefault)
    if kind == SECCOMP_LOCALHOST:
        return api_pb2.SecurityProfile(
            profile_type=api_pb2.SecurityProfile.Localhost,
            localhost_ref=str(root_dir / "seccomp" / str(profile.get("localhostProfile"))))
    return api_pb2.SecurityProfile(profile_type=api_pb2.SecurityProfile.Unconfined)


def _supplemental_groups(pod_sc: Obj) -> list[int]:
    groups = [int(g) for g in pod_sc.get("supplementalGroups") or []]
    if pod_sc.get("fsGroup") is not None:
        groups.insert(0, int(pod_sc["fsGroup"]))
    return groups


def pod_sandbox_config(pod: Obj, node: NodeInfo, *, attempt: int = 0) -> api_pb2.PodSandboxConfig:
    """The sandbox of `pod`; `attempt` counts the sandboxes made for it before."""
    spec = pod.get("spec") or {}
    pod_sc = spec.get("securityContext") or {}
    security = api_pb2.LinuxSandboxSecurityContext(
        namespace_options=namespace_options(pod),
        supplemental_groups=_supplemental_groups(pod_sc),
        privileged=any((c.get("securityContext") or {}).get("privileged")
                       for c in _all_containers(spec)),
        seccomp=_seccomp(pod_sc.get("seccompProfile"), root_dir=node.root_dir))
    if pod_sc.get("runAsUser") is not None:
        security.run_as_user.value = int(pod_sc["runAsUser"])
    if pod_sc.get("runAsGroup") is not None:
        security.run_as_group.value = int(pod_sc["runAsGroup"])
    sysctls = {s["name"]: str(s.get("value", "")) for s in pod_sc.get("sysctls") or []}
    return api_pb2.PodSandboxConfig(
        metadata=api_pb2.PodSandboxMetadata(name=meta.name(pod), namespace=meta.namespace(pod),
                                            uid=meta.uid(pod), attempt=attempt),
        hostname=pod_hostname(pod, cluster_domain=node.cluster_domain),
        log_directory=str(pod_log_directory(node.root_dir, pod)),
        dns_config=dns_config(pod, node),
        port_mappings=port_mappings(pod),
        labels=pod_labels(pod),
        annotations=dict((pod.get("metadata") or {}).get("annotations") or {}),
        linux=api_pb2.LinuxPodSandboxConfig(cgroup_parent=cgroup_parent(pod),
                                            security_context=security, sysctls=sysctls))


def _all_containers(spec: Obj) -> list[Obj]:
    return list(spec.get("initContainers") or []) + list(spec.get("containers") or [])


def milli_cpu_to_shares(milli_cpu: int) -> int:
    """CPU shares for a request (upstream milliCPUToShares): 1024 a CPU, at least 2."""
    return max(milli_cpu * SHARES_PER_CPU // 1000, MIN_SHARES)


def milli_cpu_to_quota(milli_cpu: int, *, period: int = QUOTA_PERIOD) -> int:
    """The CFS quota of a limit (upstream milliCPUToQuota): 0 (none) without a limit, else
    at least 1 ms."""
    if milli_cpu == 0:
        return 0
    return max(milli_cpu * period // 1000, MIN_QUOTA)


def oom_score_adj(pod: Obj, container: Obj, *, memory_capacity: int) -> int:
    """Upstream's GetContainerOOMScoreAdjust: Guaranteed -997, BestEffort 1000, Burstable
    1000 minus the per-mille of node memory the container requests, within 3..999."""
    klass = qos.pod_qos_class(pod)
    if klass == qos.GUARANTEED:
        return GUARANTEED_OOM_SCORE_ADJ
    if klass == qos.BEST_EFFORT or memory_capacity <= 0:
        return BEST_EFFORT_OOM_SCORE_ADJ
    request = _amount(container, "requests", qos.MEMORY, milli=False)
    score = BEST_EFFORT_OOM_SCORE_ADJ - (1000 * request) // memory_capacity
    if score < BEST_EFFORT_OOM_SCORE_ADJ + GUARANTEED_OOM_SCORE_ADJ:
        return BEST_EFFORT_OOM_SCORE_ADJ + GUARANTEED_OOM_SCORE_ADJ
    if score == BEST_EFFORT_OOM_SCORE_ADJ:
        return score - 1
    return score


def _amount(container: Obj, kind: str, resource: str, *, milli: bool) -> int:
    value = ((container.get("resources") or {}).get(kind) or {}).get(resource)
    if value is None:
        return 0
    amount = quantity.from_json(value)
    return amount.milli_value() if milli else amount.value()


def container_resources(pod: Obj, container: Obj, *,
                        memory_capacity: int) -> api_pb2.LinuxContainerResources:
    """cpu shares from the request (or the limit when no request), CFS quota from the limit
    over a 100 ms period, the memory limit and oom_score_adj."""
    cpu_request = _amount(container, "requests", qos.CPU, milli=True) or \
        _amount(container, "limits", qos.CPU, milli=True)
    return api_pb2.LinuxContainerResources(
        cpu_shares=milli_cpu_to_shares(cpu_request),
        cpu_period=QUOTA_PERIOD,
        cpu_quota=milli_cpu_to_quota(_amount(container, "limits", qos.CPU, milli=True)),
        memory_limit_in_bytes=_amount(container, "limits", qos.MEMORY, milli=False),
        oom_score_adj=oom_score_adj(pod, container, memory_capacity=memory_capacity))


def verify_run_as_non_root(pod: Obj, container: Obj, *, image: api_pb2.Image | None) -> None:
    """Raise ContainerConfigError (upstream's words) when runAsNonRoot is asked for and the
    container would run as root: runAsUser 0, or no runAsUser and an image whose user is
    root, unset, or a name that cannot be checked."""
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    sc = container.get("securityContext") or {}
    non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    if not non_root:
        return
    names = {"pod": apipodstatus.format_pod(pod), "container": container.get("name")}
    run_as_user = sc.get("runAsUser", pod_sc.get("runAsUser"))
    if run_as_user is not None:
        if int(run_as_user) == 0:
            raise errors.ContainerConfigError(RUN_AS_USER_BREAKS_NON_ROOT.format(**names))
        return
    if image is not None and image.HasField("uid"):
        if image.uid.value == 0:
            raise errors.ContainerConfigError(IMAGE_RUNS_AS_ROOT.format(**names))
        return
    if image is not None and image.username:
        raise errors.ContainerConfigError(
            IMAGE_NON_NUMERIC_USER.format(user=image.username, **names))
    raise errors.ContainerConfigError(IMAGE_RUNS_AS_ROOT.format(**names))


def container_security_context(pod: Obj, container: Obj, *, root_dir: Path,
                               target_id: str = "") -> api_pb2.LinuxContainerSecurityContext:
    """The container's securityContext over the pod's (upstream's
    `determineEffectiveSecurityContext`), with the default masked and read-only paths unless
    `procMount: Unmasked`; `target_id` as for `namespace_options`."""
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    sc = container.get("securityContext") or {}
    capabilities = sc.get("capabilities") or {}
    unmasked = sc.get("procMount") == PROC_MOUNT_UNMASKED
    out = api_pb2.LinuxContainerSecurityContext(
        masked_paths=[] if unmasked else list(DEFAULT_MASKED_PATHS),
        readonly_paths=[] if unmasked else list(DEFAULT_READONLY_PATHS),
        capabilities=api_pb2.Capability(add_capabilities=capabilities.get("add") or [],
                                        drop_capabilities=capabilities.get("drop") or []),
        privileged=bool(sc.get("privileged")),
        namespace_options=namespace_options(pod, target_id=target_id),
        readonly_rootfs=bool(sc.get("readOnlyRootFilesystem")),
        supplemental_groups=_supplemental_groups(pod_sc),
        no_new_privs=sc.get("allowPrivilegeEscalation") is False,
        seccomp=_seccomp(sc.get("seccompProfile") or pod_sc.get("seccompProfile"),
                         root_dir=root_dir))
    run_as_user = sc.get("runAsUser", pod_sc.get("runAsUser"))
    if run_as_user is not None:
        out.run_as_user.value = int(run_as_user)
    run_as_group = sc.get("runAsGroup", pod_sc.get("runAsGroup"))
    if run_as_group is not None:
        out.run_as_group.value = int(run_as_group)
    return out


def container_labels(pod: Obj, container: Obj) -> dict[str, str]:
    """The kubelet's labels on a container (upstream newContainerLabels)."""
    return {runtime.POD_NAME_LABEL: meta.name(pod),
            runtime.POD_NAMESPACE_LABEL: meta.namespace(pod),
            runtime.POD_UID_LABEL: meta.uid(pod),
            runtime.CONTAINER_NAME_LABEL: str(container.get("name"))}


def container_annotations(pod: Obj, container: Obj, *, restart_count: int) -> dict[str, str]:
    """The kubelet's annotations on a container (upstream newContainerAnnotations): the spec
    hash, the restart count, the termination message settings, the pod's grace period, the
    preStop handler and ports (as JSON), so a restarted kubelet knows them without the pod."""
    spec = pod.get("spec") or {}
    annotations = {
        runtime.CONTAINER_HASH_ANNOTATION: container_hash(container),
        runtime.CONTAINER_RESTART_COUNT_ANNOTATION: str(restart_count),
        runtime.CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION:
            container.get("terminationMessagePath") or DEFAULT_TERMINATION_MESSAGE_PATH,
        runtime.CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION:
            container.get("terminationMessagePolicy") or DEFAULT_TERMINATION_MESSAGE_POLICY,
    }
    if spec.get("terminationGracePeriodSeconds") is not None:
        annotations[runtime.POD_TERMINATION_GRACE_PERIOD_ANNOTATION] = str(
            spec["terminationGracePeriodSeconds"])
    pre_stop = (container.get("lifecycle") or {}).get("preStop")
    if pre_stop:
        annotations[runtime.CONTAINER_PRESTOP_HANDLER_ANNOTATION] = orjson.dumps(
            pre_stop).decode()
    if container.get("ports"):
        annotations[runtime.CONTAINER_PORTS_ANNOTATION] = orjson.dumps(
            container["ports"]).decode()
    return annotations


def termination_message_file(root_dir: Path, pod_uid: str, container_name: str,
                             restart_count: int) -> Path:
    """The host file bind-mounted at the container's terminationMessagePath
    (`<root>/pods/<uid>/containers/<name>/<restarts>`, as upstream's pod directory)."""
    return root_dir / "pods" / pod_uid / "containers" / container_name / str(restart_count)


def container_config(pod: Obj, container: Obj, *, node: NodeInfo, image_ref: str,
                     restart_count: int, command: list[str], args: list[str],
                     envs: list[api_pb2.KeyValue], mounts: list[api_pb2.Mount],
                     image: api_pb2.Image | None = None,
                     target_id: str = "") -> api_pb2.ContainerConfig:
    """The container's configuration for its `restart_count`-th run. `command`/`args` are
    already $(VAR)-expanded (envvars.expand_command), `envs` and `mounts` come from envvars
    and the volume manager; the termination message file is mounted here. `image`: the
    image's status (its user), which the caller passes after pulling; `target_id`: for an
    ephemeral container with a `targetContainerName`, that container's runtime id (see
    `namespace_options`). Raises ContainerConfigError when runAsNonRoot cannot be
    honoured."""
    verify_run_as_non_root(pod, container, image=image)
    name = str(container.get("name"))
    message_mount = api_pb2.Mount(
        container_path=container.get("terminationMessagePath")
        or DEFAULT_TERMINATION_MESSAGE_PATH,
        host_path=str(termination_message_file(node.root_dir, meta.uid(pod), name,
                                               restart_count)))
    return api_pb2.ContainerConfig(
        metadata=api_pb2.ContainerMetadata(name=name, attempt=restart_count),
        image=api_pb2.ImageSpec(image=image_ref,
                                user_specified_image=str(container.get("image") or "")),
        command=command, args=args, working_dir=container.get("workingDir") or "",
        envs=envs, mounts=[*mounts, message_mount],
        labels=container_labels(pod, container),
        annotations=container_annotations(pod, container, restart_count=restart_count),
        log_path=container_log_path(name, restart_count),
        stdin=bool(container.get("stdin")), stdin_once=bool(container.get("stdinOnce")),
        tty=bool(container.get("tty")),
        linux=api_pb2.LinuxContainerConfig(
            resources=container_resources(pod, container,
                                          memory_capacity=node.memory_capacity),
            security_context=container_security_context(pod, container,
                                                         root_dir=node.root_dir,
                                                         target_id=target_id)))
