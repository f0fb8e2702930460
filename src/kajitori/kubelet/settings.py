"""The kubelet's settings: the KubeletConfiguration fields and flags Kajitori honours.

Mirrors `staging/src/k8s.io/kubelet/config/v1beta1/types.go` (KubeletConfiguration) and the
kubelet's flags (`cmd/kubelet/app/options/options.go`), with upstream's defaults from
`pkg/kubelet/apis/config/v1beta1/defaults.go`. Durations are seconds (floats); quantities and
resource lists are strings as in the config file. Every kubelet module reads what it needs from
one `KubeletSettings`, built by `kajitori agent` (`kajitori.cli.agent`) or by tests.

Departures: `root_dir` defaults under Kajitori's data directory (upstream: /var/lib/kubelet);
`container_runtime_endpoint` may be empty, and then the kubelet starts containerd itself
(`kajitori.kubelet.containerd`), as k3s does.
"""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

DEFAULT_DATA_DIR = Path("/var/lib/kajitori")
"""`kajitori agent --data-dir`'s default as root."""
DEFAULT_EVICTION_HARD = {"memory.available": "100Mi", "nodefs.available": "10%",
                         "nodefs.inodesFree": "5%", "imagefs.available": "15%",
                         "imagefs.inodesFree": "5%"}
"""Upstream's `evictionHard` default (Linux; imagefs.inodesFree since v1.30)."""


def default_node_name() -> str:
    """The kubelet's default node name: the hostname, lowercased (`--hostname-override`)."""
    return socket.gethostname().lower()


@dataclasses.dataclass(frozen=True)
class KubeletSettings:
    """What one kubelet runs with. Frozen: the kubelet reads it and never changes it."""

    node_name: str = dataclasses.field(default_factory=default_node_name)
    """The Node's name (`--hostname-override`; default the hostname, lowercased)."""
    root_dir: Path = DEFAULT_DATA_DIR / "kubelet"
    """`--root-dir`: pod directories (`pods/<uid>/volumes/...`), logs' parent, containerd's
    and the CNI config's home when the kubelet starts containerd. Default DATA_DIR/kubelet."""
    container_runtime_endpoint: str = ""
    """`containerRuntimeEndpoint`: the CRI socket path. Empty (Kajitori's default): the kubelet
    starts containerd under `root_dir`, or adopts the one it started before."""
    pod_manifest_path: Path = DEFAULT_DATA_DIR / "manifests"
    """`staticPodPath`: a directory of static pod manifests (default DATA_DIR/manifests)."""
    file_check_frequency: float = 20.0
    """`fileCheckFrequency`, seconds (20 s): how often `pod_manifest_path` is re-read even
    without a change seen."""
    max_pods: int = 110
    """`maxPods`: the node's `pods` capacity."""
    cluster_dns: tuple[str, ...] = ()
    """`clusterDNS`: nameservers of `ClusterFirst` pods' resolv.conf; empty makes them fall
    back to the host's resolv.conf, as upstream does."""
    cluster_domain: str = "cluster.local"
    """`clusterDomain`: the DNS search suffix of pods."""
    container_log_max_size: str = "10Mi"
    """`containerLogMaxSize`: a container log is rotated at this size."""
    container_log_max_files: int = 5
    """`containerLogMaxFiles`: log files kept per container, the current one included (at
    least 2)."""
    container_log_monitor_interval: float = 10.0
    """`containerLogMonitorInterval`, seconds (10 s): how often container logs are checked
    for rotation (`kajitori.kubelet.logrotation`)."""
    image_gc_high_threshold_percent: int = 85
    """`imageGCHighThresholdPercent`: image filesystem usage (%) at or above which unused
    images are removed (`kajitori.kubelet.imagegc`)."""
    image_gc_low_threshold_percent: int = 80
    """`imageGCLowThresholdPercent`: the usage (%) image garbage collection frees down to."""
    image_minimum_gc_age: float = 120.0
    """`imageMinimumGCAge`, seconds (2 min): an unused image younger than this is kept."""
    image_maximum_gc_age: float = 0.0
    """`imageMaximumGCAge`, seconds: an image unused this long is removed whatever the disk
    usage; 0 (the default) never."""
    image_gc_period: float = 300.0
    """Kajitori's own (upstream's ImageGCPeriod constant, 5 min): seconds between two image
    garbage collections; tests shorten it."""
    container_gc_period: float = 60.0
    """Kajitori's own (upstream's ContainerGCPeriod constant, 1 min): seconds between two
    container garbage collections (`kajitori.kubelet.containergc`); tests shorten it."""
    node_status_update_frequency: float = 10.0
    """`nodeStatusUpdateFrequency`, seconds (10 s): how often the node status is computed and
    posted if it changed."""
    node_status_report_frequency: float = 300.0
    """`nodeStatusReportFrequency`, seconds (5 min): an unchanged status is posted anyway
    after this long."""
    node_lease_duration_seconds: int = 40
    """`nodeLeaseDurationSeconds`: the Lease is renewed every quarter of it (10 s)."""
    sync_frequency: float = 10.0
    """`syncFrequency`, seconds (10 s in Kajitori, upstream 1 min): how often every pod is
    synced again, refreshing configMap and secret volumes."""
    serialize_image_pulls: bool = True
    """`serializeImagePulls`: pull one image at a time."""
    image_pull_backoff_initial: float = 10.0
    """Seconds of the first image pull back-off (upstream's fixed 10 s)."""
    image_pull_backoff_max: float = 300.0
    """Seconds the image pull back-off stops doubling at (upstream's 5 min)."""
    kube_reserved: dict[str, str] = dataclasses.field(default_factory=dict)
    """`kubeReserved`: resources (`cpu`, `memory`, `ephemeral-storage`, `pid`) set aside for
    Kubernetes daemons, taken off allocatable. Default none."""
    system_reserved: dict[str, str] = dataclasses.field(default_factory=dict)
    """`systemReserved`: likewise for the OS. Default none."""
    eviction_hard: dict[str, str] = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_EVICTION_HARD))
    """`evictionHard`: signal → threshold; memory.available and nodefs.available are taken
    off allocatable memory and ephemeral-storage."""
    eviction_soft: dict[str, str] = dataclasses.field(default_factory=dict)
    """`evictionSoft`: signal → threshold met for its `eviction_soft_grace_period` before pods
    are evicted (with `eviction_max_pod_grace_period`). Default none."""
    eviction_soft_grace_period: dict[str, float] = dataclasses.field(default_factory=dict)
    """`evictionSoftGracePeriod`: signal → seconds (the config file's durations, parsed);
    every soft threshold needs one. Default none."""
    eviction_max_pod_grace_period: int = 0
    """`evictionMaxPodGracePeriod`, seconds (0): the grace period of a pod evicted for a soft
    threshold (raised to the runtime's 2 s minimum)."""
    eviction_pressure_transition_period: float = 300.0
    """`evictionPressureTransitionPeriod`, seconds (5 min): how long a pressure condition
    stays True after its threshold was last met, so it does not flap."""
    eviction_minimum_reclaim: dict[str, str] = dataclasses.field(default_factory=dict)
    """`evictionMinimumReclaim`: signal → quantity or percentage that must be freed beyond
    the threshold before it counts as resolved. Default none."""
    local_storage_capacity_isolation: bool = True
    """`localStorageCapacityIsolation` (true): pods exceeding their ephemeral-storage
    limits or emptyDir sizeLimits are evicted."""
    address: str = "0.0.0.0"
    """`address`: where the kubelet server listens."""
    port: int = 10250
    """`port`: the kubelet's HTTPS API (logs, exec, attach, port-forward)."""
    authorization_mode: str = "Webhook"
    """`authorization.mode`: `Webhook` asks the apiserver (SubjectAccessReview) whether a
    client may call the kubelet's API, as kubeadm's and k3s's kubelets do; `AlwaysAllow`
    admits every client certificate of the cluster CA (`kajitori.kubelet.auth`)."""
    healthz_port: int = 10248
    """`healthzPort`: `/healthz` on `healthz_bind_address`, plain HTTP; 0 disables it."""
    healthz_bind_address: str = "127.0.0.1"
    """`healthzBindAddress`."""
    node_ip: str = ""
    """`--node-ip`: the node's InternalIP; empty picks the address of the default-route
    interface, as upstream's `ChooseHostInterface`."""
    registries_config: Path | None = None
    """Kajitori's own, as k3s's `/etc/rancher/k3s/registries.yaml`: registry mirrors and
    credentials (`mirrors`, `configs`) for the containerd the kubelet starts. `kajitori
    agent` passes `--registries`, else `<data-dir>/registries.yaml` when it exists; None:
    every registry is reached directly."""
    cni_bridge: str = "kjt0"
    """Kajitori's own: the Linux bridge of the pod network (`kajitori.kubelet.cni`) when the
    kubelet starts containerd itself; tests give each node a unique `kjt*` name."""
    local_path_storage_root: Path = DEFAULT_DATA_DIR / "storage"
    """Kajitori's own: where the local-path provisioner puts this node's volumes (its
    `/var/lib/kajitori/storage`); a deleted volume's directory is removed only under it
    (`kajitori.kubelet.localvolumes`)."""
    allowed_unsafe_sysctls: tuple[str, ...] = ()
    """`--allowed-unsafe-sysctls`: sysctls (or prefixes ending in `*`) pods may set besides
    the safe ones; each must be namespaced by the kernel (`net.*`, `kernel.shm*`,
    `kernel.msg*`, `kernel.sem`, `fs.mqueue.*`)."""
    service_cluster_ip_range: str = "10.96.0.0/12"
    """Kajitori's own (the apiserver's `--service-cluster-ip-range`): routed to the pod bridge
    on the host, so a ClusterIP never leaves the machine by its default route."""
