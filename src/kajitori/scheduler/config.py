"""KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1): parsing, defaults, profiles.

Mirrors upstream's `pkg/scheduler/apis/config/v1` (defaults, `mergePlugins` of
default_plugins.go) and the profile assembly of `framework/runtime/framework.go`
(`NewFramework`, `expandMultiPointPlugins`): each profile's `multiPoint` plugins start from
the default list; `disabled` removes plugins (`*` all defaults) per extension point; an
`enabled` entry naming a default plugin replaces it in place, others are appended; a plugin
enabled at a specific extension point overrides its multiPoint entry there and runs first.
Score weights come from the specific `score` entry, else multiPoint's, 0 meaning 1.
`pluginConfig` gives each plugin its args.

Errors are upstream's words: an unknown plugin stops the scheduler with
`initializing profiles: creating profile for scheduler name default-scheduler:
FilterPlugin "Foo" does not exist` (PreFilterPlugin for one named under multiPoint, the first
extension point upstream expands). Plugins upstream has but Kajitori does not build yet
(`registry.NOT_BUILT`) are accepted and skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kajitori.client import leaderelection
from kajitori.scheduler import cache as cache_
from kajitori.scheduler import framework, types
from kajitori.scheduler.plugins import registry

Obj = dict[str, Any]

API_VERSION = "kubescheduler.config.k8s.io/v1"
KIND = "KubeSchedulerConfiguration"
LEASE_NAME = "kube-scheduler"
DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                  "h": 3600.0}

# Extension points as the configuration names them, with upstream's plugin interface names,
# in the order upstream expands multiPoint (which decides the wording of an unknown plugin).
EXTENSION_POINTS: list[tuple[str, str, str]] = [
    ("preFilter", "PreFilterPlugin", "pre_filter"),
    ("filter", "FilterPlugin", "filter"),
    ("postFilter", "PostFilterPlugin", "post_filter"),
    ("reserve", "ReservePlugin", "reserve"),
    ("preScore", "PreScorePlugin", "pre_score"),
    ("score", "ScorePlugin", "score"),
    ("preBind", "PreBindPlugin", "pre_bind"),
    ("bind", "BindPlugin", "bind"),
    ("postBind", "PostBindPlugin", "post_bind"),
    ("permit", "PermitPlugin", "permit"),
    ("preEnqueue", "PreEnqueuePlugin", "pre_enqueue"),
    ("queueSort", "QueueSortPlugin", "less"),
]


class ConfigError(ValueError):
    """A configuration the scheduler refuses to start with; the message says why."""


def parse_duration(text: str | float | int) -> float:
    """Seconds of a Go duration (`15s`, `1m30s`, `500ms`)."""
    if isinstance(text, int | float):
        return float(text)
    pos, total = 0, 0.0
    for match in DURATION_RE.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ConfigError(f'time: invalid duration "{text}"')
    return total


@dataclass
class Profile:
    scheduler_name: str = types.DEFAULT_SCHEDULER_NAME
    plugins: Obj = field(default_factory=dict)
    """Extension point → {"enabled": [{"name", "weight"}], "disabled": [{"name"}]}."""
    plugin_config: dict[str, Obj] = field(default_factory=dict)
    percentage_of_nodes_to_score: int | None = None


@dataclass
class SchedulerConfiguration:
    """The fields of KubeSchedulerConfiguration the scheduler uses, with upstream defaults."""

    profiles: list[Profile] = field(default_factory=lambda: [Profile()])
    percentage_of_nodes_to_score: int = 0
    """Percent of nodes to find fitting before scoring; 0 adapts to the cluster's size."""
    pod_initial_backoff_seconds: float = 1.0
    pod_max_backoff_seconds: float = 10.0
    parallelism: int = 16
    """Accepted for compatibility; cycles here are vectorised, not parallel."""
    leader_election: leaderelection.LeaderElectionSettings = field(
        default_factory=lambda: leaderelection.LeaderElectionSettings(
            resource_name=LEASE_NAME))


def load(path: Path | None) -> SchedulerConfiguration:
    """The configuration in `path` (YAML or JSON), or the defaults for None. Blocking I/O:
    call it off the loop. Raises ConfigError."""
    if path is None:
        return SchedulerConfiguration()
    return parse(yaml.safe_load(path.read_text()) or {})


def parse(doc: Obj) -> SchedulerConfiguration:
    if doc.get("kind", KIND) != KIND or doc.get("apiVersion", API_VERSION) != API_VERSION:
        raise ConfigError(f'no kind "{doc.get("kind")}" is registered for version '
                          f'"{doc.get("apiVersion")}"')
    config = SchedulerConfiguration()
    percentage = doc.get("percentageOfNodesToScore")
    if percentage is not None:
        config.percentage_of_nodes_to_score = _percentage(percentage,
                                                          "percentageOfNodesToScore")
    config.pod_initial_backoff_seconds = float(doc.get("podInitialBackoffSeconds") or 1)
    config.pod_max_backoff_seconds = float(doc.get("podMaxBackoffSeconds") or 10)
    config.parallelism = int(doc.get("parallelism") or 16)
    election = doc.get("leaderElection") or {}
    defaults = config.leader_election
    config.leader_election = leaderelection.LeaderElectionSettings(
        leader_elect=bool(election.get("leaderElect", True)),
        lease_duration=parse_duration(election.get("leaseDuration", defaults.lease_duration)),
        renew_deadline=parse_duration(election.get("renewDeadline", defaults.renew_deadline)),
        retry_period=parse_duration(election.get("retryPeriod", defaults.retry_period)),
        resource_name=election.get("resourceName") or LEASE_NAME,
        resource_namespace=election.get("resourceNamespace") or defaults.resource_namespace)
    profiles = doc.get("profiles")
    if profiles:
        config.profiles = []
        for i, raw in enumerate(profiles):
            own = raw.get("percentageOfNodesToScore")
            config.profiles.append(Profile(
                scheduler_name=raw.get("schedulerName") or types.DEFAULT_SCHEDULER_NAME,
                plugins=raw.get("plugins") or {},
                plugin_config={c["name"]: c.get("args") or {}
                               for c in raw.get("pluginConfig") or []},
                percentage_of_nodes_to_score=None if own is None else _percentage(
                    own, f"profiles[{i}].percentageOfNodesToScore")))
    names = [p.scheduler_name for p in config.profiles]
    if len(set(names)) != len(names):
        raise ConfigError("profiles: Duplicate value: scheduler names must be unique")
    return config


def _percentage(value: Any, path: str) -> int:
    number = int(value)
    if not 0 <= number <= 100:
        raise ConfigError(f"{path}: Invalid value: {number}: not in valid range [0-100]")
    return number


def _merge_plugin_set(default: list[tuple[str, int]], custom: Obj
                      ) -> tuple[list[tuple[str, int]], set[str]]:
    """upstream's mergePluginSet: (enabled (name, weight) in order, disabled names)."""
    disabled = {p.get("name", "") for p in custom.get("disabled") or []}
    enabled_custom = [(p.get("name", ""), int(p.get("weight") or 0))
                      for p in custom.get("enabled") or []]
    custom_index = {name: i for i, (name, _) in enumerate(enabled_custom)}
    replaced: set[int] = set()
    merged: list[tuple[str, int]] = []
    if "*" not in disabled:
        for name, weight in default:
            if name in disabled:
                continue
            if name in custom_index:
                replaced.add(custom_index[name])
                merged.append(enabled_custom[custom_index[name]])
            else:
                merged.append((name, weight))
    merged.extend(p for i, p in enumerate(enabled_custom) if i not in replaced)
    return merged, disabled


@dataclass
class HandleSeed:
    """What every profile's handle shares (the scheduler passes its own)."""

    cache: cache_.Cache
    client: Any = None
    recorder: Any = None
    nominator: Any = None
    lister: Callable[[str, str, str], list[Obj]] | None = None
    getter: Callable[[str, str, str, str], Obj | None] | None = None


@dataclass
class Handle:
    """The framework.Handle a profile's plugins get."""

    cache: cache_.Cache
    client: Any
    recorder: Any
    nominator: Any
    lister: Callable[[str, str, str], list[Obj]] | None
    scheduler_name: str
    framework: framework.Framework | None = None
    getter: Callable[[str, str, str, str], Obj | None] | None = None
    """`getter(group, plural, namespace, name)`: one object from the scheduler's informers
    (version v1), None when absent."""


def build_framework(profile: Profile, seed: HandleSeed, *,
                    factories: dict[str, registry.Factory] | None = None
                    ) -> framework.Framework:
    """Instantiate a profile's plugins and order them per extension point. Raises
    ConfigError for an unknown plugin or a profile without exactly one queue sort."""
    factories = registry.IN_TREE if factories is None else factories
    prefix = f"initializing profiles: creating profile for scheduler name " \
             f"{profile.scheduler_name}: "
    multi, _multi_disabled = _merge_plugin_set(registry.DEFAULT_MULTI_POINT,
                                               profile.plugins.get("multiPoint") or {})
    specific: dict[str, tuple[list[tuple[str, int]], set[str]]] = {
        point: _merge_plugin_set([], profile.plugins.get(point) or {})
        for point, _, _ in EXTENSION_POINTS}
    for point, type_name, _ in EXTENSION_POINTS:
        for name, _ in specific[point][0]:
            if name not in factories and name not in registry.NOT_BUILT:
                raise ConfigError(f'{prefix}{type_name} "{name}" does not exist')
    for name, _ in multi:
        if name not in factories and name not in registry.NOT_BUILT:
            raise ConfigError(f'{prefix}{EXTENSION_POINTS[0][1]} "{name}" does not exist')
    handle = Handle(cache=seed.cache, client=seed.client, recorder=seed.recorder,
                    nominator=seed.nominator, lister=seed.lister,
                    scheduler_name=profile.scheduler_name, getter=seed.getter)
    needed = {name for name, _ in multi} | {name for enabled, _ in specific.values()
                                            for name, _ in enabled}
    instances = {name: factories[name](profile.plugin_config.get(name), handle)
                 for name in needed if name in factories}
    points: dict[str, list[tuple[Any, int]]] = {}
    for point, type_name, method in EXTENSION_POINTS:
        enabled, disabled = specific[point]
        specific_names = [name for name, _ in enabled]
        weights = dict(multi)
        weights.update({name: w for name, w in enabled if w})
        overrides, from_multi = [], []
        if "*" not in disabled:
            for name, _ in multi:
                plugin = instances.get(name)
                if plugin is None or not hasattr(plugin, method) or name in disabled:
                    continue
                if name in specific_names:
                    overrides.append(name)
                elif name in from_multi:
                    raise ConfigError(f'{prefix}plugin "{name}" already registered as '
                                      f'"{type_name}"')
                else:
                    from_multi.append(name)
        ordered = [n for n in specific_names if n in overrides] + from_multi + \
            [n for n in specific_names if n not in overrides]
        points[point] = [(instances[n], weights.get(n) or 1) for n in ordered
                         if n in instances and hasattr(instances[n], method)]
    queue_sort = points["queueSort"]
    if len(queue_sort) != 1:
        raise ConfigError(f"{prefix}only one queue sort plugin can be enabled")
    fw = framework.Framework(
        profile_name=profile.scheduler_name, cache=seed.cache, queue_sort=queue_sort[0][0],
        pre_filter=[p for p, _ in points["preFilter"]],
        filter=[p for p, _ in points["filter"]],
        post_filter=[p for p, _ in points["postFilter"]],
        pre_score=[p for p, _ in points["preScore"]],
        score=points["score"], bind=[p for p, _ in points["bind"]],
        reserve=[p for p, _ in points["reserve"]],
        pre_bind=[p for p, _ in points["preBind"]],
        percentage_of_nodes_to_score=profile.percentage_of_nodes_to_score,
        plugins=instances)
    handle.framework = fw
    return fw
