"""kube-controller-manager's command-line flags, for `kajitori controller-manager` and
`kajitori components`.

Mirrors cmd/kube-controller-manager/app/options/*.go: each flag keeps upstream's v1.33 name,
default, unit and value syntax (Go durations such as `5m0s`, `40s`; booleans as
`--flag`/`--flag=false`; int32 and float values as strconv reads them), and is refused
at parse time with strconv's or time.ParseDuration's words, or the upstream validation's,
naming the flag. Only flags whose behaviour Kajitori's controllers have are here; the table
says where each lands in `kajitori.controllers.manager.ControllerManagerSettings`, which
`kajitori.cli.components` builds from the parsed values.

Imports nothing of the controllers: `kajitori server` parses the same command line and must
not load the components' code. Each row's default is upstream's as `--help` prints it, and
must parse to the default of the settings field it feeds (a unit test holds them together).

Departures from upstream's defaults, kept from Kajitori's earlier behaviour (k3s's):
`--allocate-node-cidrs` is on and `--cluster-cidr` is `10.42.0.0/16`, since the nodes' pod
network is built from the node CIDRs.
"""

from __future__ import annotations

import argparse
import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kajitori.controllers import cron

DEST_PREFIX = "controller_manager."
"""Namespace of the parsed values: `kajitori components` also parses the scheduler's flags,
and the two components' `--leader-elect` must not meet."""
TOP_LEVEL = ""
"""The section of fields that sit on ControllerManagerSettings itself."""
LEADER_ELECTION = "leader_election"
ALL_CONTROLLERS = "*"

_INT = re.compile(r"[+-]?[0-9]+")
_INT32_RANGE = range(-(2**31), 2**31)
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


class Kind(enum.Enum):
    """A flag's value syntax, as pflag names it in `--help` (`int32`, `duration`, ...)."""

    INT32 = "int32"
    FLOAT = "float"
    DURATION = "duration"
    BOOL = "bool"
    STRING = "string"
    PATH = "path"


@dataclass(frozen=True)
class Flag:
    """One flag: where its value lands, how it is read, upstream's default and help."""

    name: str
    """Without the dashes: `concurrent-deployment-syncs`."""
    section: str
    """The ControllerManagerSettings attribute holding `field` (TOP_LEVEL: the settings
    themselves)."""
    field: str
    kind: Kind
    default: str | None
    """As upstream's `--help` prints it (`5m0s`, `true`); None: no default (unset)."""
    help: str
    bounds: tuple[int, int] | None = None
    """Inclusive range upstream's Validate() enforces, for INT32 flags that have one."""

    @property
    def dest(self) -> str:
        return f"{DEST_PREFIX}{self.name}"


def _concurrency(what: str) -> str:
    return (f"The number of {what} that are allowed to sync concurrently. Larger number = "
            "more responsive, but more CPU (and network) load")


FLAGS: tuple[Flag, ...] = (
    # Deployment, ReplicaSet, ReplicationController, StatefulSet, DaemonSet
    Flag("concurrent-deployment-syncs", "deployment_controller", "concurrent_deployment_syncs",
         Kind.INT32, "5", _concurrency("deployment objects")),
    Flag("concurrent-replicaset-syncs", "replicaset_controller", "concurrent_replicaset_syncs",
         Kind.INT32, "5", _concurrency("replica sets")),
    Flag("concurrent-rc-syncs", "replication_controller", "concurrent_replicaset_syncs",
         Kind.INT32, "5", _concurrency("replication controllers")),
    Flag("concurrent-statefulset-syncs", "statefulset_controller", "concurrent_statefulset_syncs",
         Kind.INT32, "5", _concurrency("statefulset objects")),
    Flag("concurrent-daemonset-syncs", "daemonset_controller", "concurrent_daemonset_syncs",
         Kind.INT32, "2", _concurrency("daemonset objects")),
    # Job, CronJob, TTL after finished
    Flag("concurrent-job-syncs", "job_controller", "concurrent_job_syncs", Kind.INT32, "5",
         _concurrency("job objects")),
    Flag("concurrent-cron-job-syncs", "cronjob_controller", "concurrent_cron_job_syncs",
         Kind.INT32, "5", _concurrency("cron job objects")),
    Flag("concurrent-ttl-after-finished-syncs", TOP_LEVEL,
         "concurrent_ttl_after_finished_syncs", Kind.INT32, "5",
         "The number of ttl-after-finished-controller workers that are allowed to sync "
         "concurrently."),
    # Endpoints, EndpointSlice
    Flag("concurrent-endpoint-syncs", "endpoint_controller", "concurrent_endpoint_syncs",
         Kind.INT32, "5",
         "The number of endpoint syncing operations that will be done concurrently. Larger "
         "number = faster endpoint updating, but more CPU (and network) load"),
    Flag("concurrent-service-endpoint-syncs", "endpointslice_controller",
         "concurrent_service_endpoint_syncs", Kind.INT32, "5",
         "The number of service endpoint syncing operations that will be done concurrently. "
         "Larger number = faster endpoint slice updating, but more CPU (and network) load.",
         bounds=(1, 50)),
    Flag("max-endpoints-per-slice", "endpointslice_controller", "max_endpoints_per_slice",
         Kind.INT32, "100",
         "The maximum number of endpoints that will be added to an EndpointSlice. More "
         "endpoints per slice will result in less endpoint slices, but larger resources.",
         bounds=(1, 1000)),
    # ResourceQuota
    Flag("concurrent-resource-quota-syncs", "resourcequota_controller",
         "concurrent_resource_quota_syncs", Kind.INT32, "5", _concurrency("resource quotas")),
    Flag("resource-quota-sync-period", "resourcequota_controller", "resource_quota_sync_period",
         Kind.DURATION, "5m0s", "The period for syncing quota usage status in the system"),
    # HorizontalPodAutoscaler
    Flag("concurrent-horizontal-pod-autoscaler-syncs", "hpa_controller",
         "concurrent_syncs", Kind.INT32, "5",
         _concurrency("horizontal pod autoscaler objects")),
    Flag("horizontal-pod-autoscaler-sync-period", "hpa_controller", "sync_period",
         Kind.DURATION, "15s",
         "The period for syncing the number of pods in horizontal pod autoscaler."),
    Flag("horizontal-pod-autoscaler-downscale-stabilization", "hpa_controller",
         "downscale_stabilization", Kind.DURATION, "5m0s",
         "The period for which autoscaler will look backwards and not scale down below any "
         "recommendation it made during that period."),
    Flag("horizontal-pod-autoscaler-tolerance", "hpa_controller", "tolerance",
         Kind.FLOAT, "0.1",
         "The minimum change (from 1.0) in the desired-to-actual metrics ratio for the "
         "horizontal pod autoscaler to consider scaling."),
    Flag("horizontal-pod-autoscaler-cpu-initialization-period", "hpa_controller",
         "cpu_initialization_period", Kind.DURATION, "5m0s",
         "The period after pod start when CPU samples might be skipped."),
    Flag("horizontal-pod-autoscaler-initial-readiness-delay", "hpa_controller",
         "initial_readiness_delay", Kind.DURATION, "30s",
         "The period after pod start during which readiness changes will be treated as "
         "initial readiness."),
    # Node lifecycle, node IPAM
    Flag("node-monitor-period", "node_lifecycle_controller", "node_monitor_period",
         Kind.DURATION, "5s",
         "The period for syncing NodeStatus in the node lifecycle controller."),
    Flag("node-monitor-grace-period", "node_lifecycle_controller", "node_monitor_grace_period",
         Kind.DURATION, "50s",
         "Amount of time which we allow running Node to be unresponsive before marking it "
         "unhealthy. Must be N times more than kubelet's nodeStatusUpdateFrequency, where N "
         "means number of retries allowed for kubelet to post node status."),
    Flag("node-startup-grace-period", "node_lifecycle_controller", "node_startup_grace_period",
         Kind.DURATION, "1m0s",
         "Amount of time which we allow starting Node to be unresponsive before marking it "
         "unhealthy."),
    Flag("node-eviction-rate", "node_lifecycle_controller", "node_eviction_rate",
         Kind.FLOAT, "0.1",
         "Number of nodes per second on which pods are deleted in case of node failure when "
         "a zone is healthy (see --unhealthy-zone-threshold for definition of "
         "healthy/unhealthy). Zone refers to entire cluster in non-multizone clusters."),
    Flag("secondary-node-eviction-rate", "node_lifecycle_controller",
         "secondary_node_eviction_rate", Kind.FLOAT, "0.01",
         "Number of nodes per second on which pods are deleted in case of node failure when "
         "a zone is unhealthy. This value is implicitly overridden to 0 if the cluster size "
         "is smaller than --large-cluster-size-threshold."),
    Flag("large-cluster-size-threshold", "node_lifecycle_controller",
         "large_cluster_size_threshold", Kind.INT32, "50",
         "Number of nodes from which node-lifecycle-controller treats the cluster as large "
         "for the eviction logic purposes. --secondary-node-eviction-rate is implicitly "
         "overridden to 0 for clusters this size or smaller."),
    Flag("unhealthy-zone-threshold", "node_lifecycle_controller", "unhealthy_zone_threshold",
         Kind.FLOAT, "0.55",
         "Fraction of Nodes in a zone which needs to be not Ready (minimum 3) for zone to be "
         "treated as unhealthy."),
    Flag("allocate-node-cidrs", TOP_LEVEL, "allocate_node_cidrs", Kind.BOOL, "true",
         "Should CIDRs for Pods be allocated and set on the Nodes. Requires --cluster-cidr. "
         "(Kajitori's default is true; upstream's false.)"),
    Flag("cluster-cidr", TOP_LEVEL, "cluster_cidr", Kind.STRING, "10.42.0.0/16",
         "CIDR Range for Pods in cluster. Only used when --allocate-node-cidrs=true."),
    Flag("node-cidr-mask-size", TOP_LEVEL, "node_cidr_mask_size", Kind.INT32, "24",
         "Mask size for node cidr in cluster."),
    # Namespace, garbage collectors, PersistentVolume binder
    Flag("concurrent-namespace-syncs", TOP_LEVEL, "concurrent_namespace_syncs", Kind.INT32,
         "10", _concurrency("namespace objects")),
    Flag("namespace-sync-period", TOP_LEVEL, "namespace_sync_period", Kind.DURATION, "5m0s",
         "The period for syncing namespace life-cycle updates"),
    Flag("concurrent-gc-syncs", TOP_LEVEL, "concurrent_gc_syncs", Kind.INT32, "20",
         "The number of garbage collector workers that are allowed to sync concurrently."),
    Flag("enable-garbage-collector", TOP_LEVEL, "enable_garbage_collector", Kind.BOOL, "true",
         "Enables the generic garbage collector."),
    Flag("terminated-pod-gc-threshold", TOP_LEVEL, "terminated_pod_gc_threshold", Kind.INT32,
         "12500", "Number of terminated pods that can exist before the terminated pod garbage "
         "collector starts deleting terminated pods. If <= 0, the terminated pod garbage "
         "collector is disabled."),
    Flag("pvclaimbinder-sync-period", TOP_LEVEL, "pvclaimbinder_sync_period", Kind.DURATION,
         "15s", "The period for syncing persistent volumes and persistent volume claims"),
    # Generic
    Flag("min-resync-period", TOP_LEVEL, "min_resync_period", Kind.DURATION, "12h0m0s",
         "The resync period in reflectors will be random between MinResyncPeriod and "
         "2*MinResyncPeriod."),
    Flag("root-ca-file", TOP_LEVEL, "root_ca_file", Kind.PATH, None,
         "If set, this root certificate authority will be published as kube-root-ca.crt in "
         "every namespace. Must be a valid PEM-encoded CA bundle. Default: the CA of "
         "--kubeconfig."),
    Flag("leader-elect", LEADER_ELECTION, "leader_elect", Kind.BOOL, "true",
         "Start a leader election client and gain leadership before executing the main loop."),
    Flag("leader-elect-lease-duration", LEADER_ELECTION, "lease_duration", Kind.DURATION,
         "15s", "The duration that non-leader candidates will wait after observing a "
         "leadership renewal until attempting to acquire leadership of a led but unrenewed "
         "leader slot."),
    Flag("leader-elect-renew-deadline", LEADER_ELECTION, "renew_deadline", Kind.DURATION,
         "10s", "The interval between attempts by the acting master to renew a leadership "
         "slot before it stops leading. This must be less than the lease duration."),
    Flag("leader-elect-retry-period", LEADER_ELECTION, "retry_period", Kind.DURATION, "2s",
         "The duration the clients should wait between attempting acquisition and renewal "
         "of a leadership."),
    Flag("leader-elect-resource-name", LEADER_ELECTION, "resource_name", Kind.STRING,
         "kube-controller-manager",
         "The name of resource object that is used for locking during leader election."),
    Flag("leader-elect-resource-namespace", LEADER_ELECTION, "resource_namespace",
         Kind.STRING, "kube-system",
         "The namespace of resource object that is used for locking during leader election."),
)
"""Every kube-controller-manager flag Kajitori honours, in help order, bar --controllers."""


def parse_int32(text: str) -> int:
    """strconv.ParseInt(text, 10, 32); ValueError worded as Go's."""
    if not _INT.fullmatch(text):
        raise ValueError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    value = int(text)
    if value not in _INT32_RANGE:
        raise ValueError(f'strconv.ParseInt: parsing "{text}": value out of range')
    return value


def parse_float(text: str) -> float:
    """strconv.ParseFloat(text, 64); ValueError worded as Go's, which also refuses what
    Python would forgive: surrounding blanks and `_` between digits."""
    invalid = ValueError(f'strconv.ParseFloat: parsing "{text}": invalid syntax')
    if "_" in text or text != text.strip():
        raise invalid
    try:
        return float(text)
    except ValueError:
        raise invalid from None


def parse_bool(text: str) -> bool:
    """strconv.ParseBool; ValueError worded as Go's."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax')


_PARSERS: dict[Kind, Callable[[str], Any]] = {
    Kind.INT32: parse_int32, Kind.FLOAT: parse_float, Kind.DURATION: cron.parse_go_duration,
    Kind.BOOL: parse_bool, Kind.STRING: str, Kind.PATH: Path}


def value_reader(flag: Flag) -> Callable[[str], Any]:
    """argparse `type=` for `flag`: its parser plus upstream's bounds; errors become
    `invalid argument "V" for "--name" flag: <Go's reason>`, pflag's wording."""
    parse = _PARSERS[flag.kind]

    def read(text: str) -> Any:
        try:
            value = parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(
                f'invalid argument "{text}" for "--{flag.name}" flag: {exc}') from exc
        if flag.bounds is not None:
            low, high = flag.bounds
            if value < low:
                raise argparse.ArgumentTypeError(
                    f"{flag.name} must not be less than {low}, but got {value}")
            if value > high:
                raise argparse.ArgumentTypeError(
                    f"{flag.name} must not be more than {high}, but got {value}")
        return value

    return read


def _help(flag: Flag) -> str:
    # pflag leaves a false boolean's default out of --help, and prints the rest.
    if flag.default is None or flag.default == "false":
        return flag.help
    return f"{flag.help} (default {flag.default})"


def add_controllers_flag(parser: argparse.ArgumentParser) -> None:
    """`--controllers` alone: what `kajitori server`/`up` pass on to their components."""
    parser.add_argument("--controllers", type=lambda v: tuple(filter(None, v.split(","))),
                        default=(ALL_CONTROLLERS,), metavar="strings",
                        help="controllers to run, as kube-controller-manager's --controllers: "
                             "'*' (all on by default), 'name' to enable, '-name' to disable "
                             "(default '*')")


def add_flags(parser: argparse.ArgumentParser) -> None:
    """`--controllers` and every flag of FLAGS, under a group of their own in `--help`."""
    add_controllers_flag(parser)
    group = parser.add_argument_group("controller manager flags (kube-controller-manager's)")
    for flag in FLAGS:
        extra: dict[str, Any] = {"metavar": flag.kind.value}
        if flag.kind is Kind.BOOL:  # `--flag` alone is true, as pflag reads it
            extra = {"nargs": "?", "const": True, "metavar": "true|false"}
        group.add_argument(f"--{flag.name}", dest=flag.dest, type=value_reader(flag),
                           default=flag.default, help=_help(flag), **extra)


def values(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The parsed values of FLAGS by settings section, then field: `{"": {...},
    "deployment": {"concurrent_deployment_syncs": 5}, ...}`. Unset defaults (None) are left
    out, so the settings' own default (e.g. the kubeconfig's CA) stays."""
    sections: dict[str, dict[str, Any]] = {}
    for flag in FLAGS:
        value = getattr(args, flag.dest)
        if value is not None:
            sections.setdefault(flag.section, {})[flag.field] = value
    return sections
