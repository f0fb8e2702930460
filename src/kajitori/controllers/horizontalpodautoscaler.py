"""The HorizontalPodAutoscaler controller (upstream pkg/controller/podautoscaler/horizontal.go,
written afresh): every sync period, for each autoscaling/v2 HPA, read the target's `/scale`,
compute a replica count from the resource metrics `metrics.k8s.io` serves, stabilise and
rate-limit it by `spec.behavior`, write the new scale and the HPA's status.

Only Resource metrics (cpu, memory; Utilization and AverageValue) are evaluated; other metric
types make ScalingActive False, as an HPA without a custom-metrics adapter does upstream.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kajitori.api import errors, meta, quantity
from kajitori.client import events, informer, rest, workqueue
from kajitori.controllers import replicacalculator, worker

Obj = dict

CONTROLLER_NAME = "horizontal-pod-autoscaler"
HPAS = ("autoscaling", "v2", "horizontalpodautoscalers")
METRICS_PODS = "/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods"

SCALE_PATHS = {
    ("apps/v1", "Deployment"): "/apis/apps/v1/namespaces/{ns}/deployments/{name}/scale",
    ("apps/v1", "ReplicaSet"): "/apis/apps/v1/namespaces/{ns}/replicasets/{name}/scale",
    ("apps/v1", "StatefulSet"): "/apis/apps/v1/namespaces/{ns}/statefulsets/{name}/scale",
    ("v1", "ReplicationController"):
        "/api/v1/namespaces/{ns}/replicationcontrollers/{name}/scale",
}
"""The scalable kinds this controller knows the `/scale` path of."""

# Condition reasons and messages, worded as upstream's.
ABLE_TO_SCALE = "AbleToScale"
SCALING_ACTIVE = "ScalingActive"
SCALING_LIMITED = "ScalingLimited"
MSG_READY_FOR_NEW_SCALE = "recommended size matches current size"
MSG_SCALE_UP_STABILIZED = ("recent recommendations were lower than current one, applying the "
                           "lowest recent recommendation")
MSG_SCALE_DOWN_STABILIZED = ("recent recommendations were higher than current one, applying "
                             "the highest recent recommendation")
MSG_SUCCEEDED_RESCALE = "the HPA controller was able to update the target scale to {replicas}"
MSG_VALID_METRIC = ("the HPA was able to successfully calculate a replica count from "
                    "{metric}")
MSG_SCALING_DISABLED = "scaling is disabled since the replica count of the target is zero"
MSG_DESIRED_WITHIN_RANGE = "the desired count is within the acceptable range"
MSG_TOO_MANY = "the desired replica count is more than the maximum replica count"
MSG_TOO_FEW = "the desired replica count is less than the minimum replica count"
MSG_SCALE_UP_LIMIT = "the desired replica count is increasing faster than the maximum scale rate"
MSG_SCALE_DOWN_LIMIT = ("the desired replica count is decreasing faster than the maximum scale "
                        "rate")
MSG_UNABLE_TO_COMPUTE = "the HPA was unable to compute the replica count: {error}"
MSG_FAILED_GET_SCALE = "the HPA controller was unable to get the target's current scale: {error}"
MSG_FAILED_UPDATE_SCALE = "the HPA controller was unable to update the target scale: {error}"
MSG_NEW_SIZE = "New size: {replicas}; reason: {reason}"
REASON_ABOVE_TARGET = "{metric} above target"
REASON_ALL_BELOW = "All metrics below target"
REASON_ABOVE_MAX = "Current number of replicas above Spec.MaxReplicas"
REASON_BELOW_MIN = "Current number of replicas below Spec.MinReplicas"
MSG_NO_METRICS_API = "unable to get metrics for resource {resource}: {error}"
NO_MATCHES = 'no matches for kind "{kind}" in group version "{version}"'
MSG_UNSUPPORTED_METRIC = "unsupported metric source type \"{type}\""

DEFAULT_SCALE_UP: Obj = {
    "stabilizationWindowSeconds": 0, "selectPolicy": "Max",
    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                 {"type": "Percent", "value": 100, "periodSeconds": 15}]}
DEFAULT_SCALE_DOWN: Obj = {
    "selectPolicy": "Max",
    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}
DEFAULT_DOWNSCALE_STABILIZATION = 300.0
"""`--horizontal-pod-autoscaler-downscale-stabilization`, seconds: the scale-down window when
`behavior.scaleDown.stabilizationWindowSeconds` is unset."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HPASettings:
    """Upstream's `--horizontal-pod-autoscaler-*` flags, with its defaults."""

    sync_period: float = 15.0
    """`--horizontal-pod-autoscaler-sync-period`, seconds: how often every HPA is synced."""
    tolerance: float = replicacalculator.TOLERANCE
    """`--horizontal-pod-autoscaler-tolerance`: usage ratios within this of 1.0 keep the
    replica count."""
    downscale_stabilization: float = DEFAULT_DOWNSCALE_STABILIZATION
    """`--horizontal-pod-autoscaler-downscale-stabilization`, seconds (5 min)."""
    concurrent_syncs: int = 5
    """`--concurrent-horizontal-pod-autoscaler-syncs`: HPAs synced at once."""
    cpu_initialization_period: float = replicacalculator.CPU_INITIALIZATION_PERIOD
    """`--horizontal-pod-autoscaler-cpu-initialization-period`, seconds (5 min): after a pod
    starts, its cpu samples count only once it is ready and sampled over a full window."""
    initial_readiness_delay: float = replicacalculator.INITIAL_READINESS_DELAY
    """`--horizontal-pod-autoscaler-initial-readiness-delay`, seconds: after a pod starts, a
    readiness change within this counts as its first readiness."""

    def startup_timing(self) -> replicacalculator.StartupTiming:
        """The two start-up periods, as the replica calculation takes them."""
        return replicacalculator.StartupTiming(
            cpu_initialization_period=self.cpu_initialization_period,
            initial_readiness_delay=self.initial_readiness_delay)


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str


@dataclass
class ScaleHistory:
    """Per-HPA memory the behavior rules look back on: past recommendations and past scale
    changes, each as (replicas or change, when)."""

    recommendations: list[tuple[int, float]] = field(default_factory=list)
    scale_ups: list[tuple[int, float]] = field(default_factory=list)
    scale_downs: list[tuple[int, float]] = field(default_factory=list)


def behavior_rules(hpa: Obj, *, downscale_stabilization: float) -> tuple[Obj, Obj]:
    """(scaleUp, scaleDown) with upstream's defaults filled in where `spec.behavior` leaves
    them unset."""
    behavior = (hpa.get("spec") or {}).get("behavior") or {}
    up = {**DEFAULT_SCALE_UP, **(behavior.get("scaleUp") or {})}
    down = {**DEFAULT_SCALE_DOWN,
            "stabilizationWindowSeconds": downscale_stabilization,
            **(behavior.get("scaleDown") or {})}
    return up, down


def stabilize(history: ScaleHistory, *, current: int, recommended: int, up: Obj, down: Obj,
              now: float) -> tuple[int, Condition]:
    """Upstream's stabilizeRecommendationWithBehaviors: scale up only to the lowest, and down
    only to the highest, recommendation within the respective window; records `recommended`."""
    up_window = up.get("stabilizationWindowSeconds") or 0
    down_window = down.get("stabilizationWindowSeconds") or 0
    up_bound = down_bound = recommended
    for replicas, when in history.recommendations:
        if when > now - up_window:
            up_bound = min(up_bound, replicas)
        if when > now - down_window:
            down_bound = max(down_bound, replicas)
    result = current
    if result < up_bound:
        result = up_bound
    if result > down_bound:
        result = down_bound
    horizon = now - max(up_window, down_window)
    history.recommendations = [r for r in history.recommendations if r[1] > horizon]
    history.recommendations.append((recommended, now))
    if result == recommended:
        return result, Condition(ABLE_TO_SCALE, "True", "ReadyForNewScale",
                                 MSG_READY_FOR_NEW_SCALE)
    if result < recommended:
        return result, Condition(ABLE_TO_SCALE, "True", "ScaleUpStabilized",
                                 MSG_SCALE_UP_STABILIZED)
    return result, Condition(ABLE_TO_SCALE, "True", "ScaleDownStabilized",
                             MSG_SCALE_DOWN_STABILIZED)


def _changed_within(changes: list[tuple[int, float]], period: float, now: float) -> int:
    return sum(change for change, when in changes if when > now - period)


def scale_up_limit(current: int, changes: list[tuple[int, float]], rules: Obj, *,
                   now: float) -> int:
    """The most replicas `rules` allow now, counting from the size at each policy's period
    start; a Disabled selectPolicy allows no growth."""
    if rules.get("selectPolicy") == "Disabled":
        return current
    pick_min = rules.get("selectPolicy") == "Min"
    proposals = []
    for policy in rules.get("policies") or []:
        start = current - _changed_within(changes, policy["periodSeconds"], now)
        if policy["type"] == "Pods":
            proposals.append(start + policy["value"])
        else:
            proposals.append(math.ceil(start * (1 + policy["value"] / 100)))
    if not proposals:
        return current
    return min(proposals) if pick_min else max(proposals)


def scale_down_limit(current: int, changes: list[tuple[int, float]], rules: Obj, *,
                     now: float) -> int:
    """The fewest replicas `rules` allow now (mirror of `scale_up_limit`)."""
    if rules.get("selectPolicy") == "Disabled":
        return current
    pick_min_change = rules.get("selectPolicy") == "Min"
    proposals = []
    for policy in rules.get("policies") or []:
        start = current + _changed_within(changes, policy["periodSeconds"], now)
        if policy["type"] == "Pods":
            proposals.append(start - policy["value"])
        else:
            proposals.append(int(start * (1 - policy["value"] / 100)))
    if not proposals:
        return current
    return max(proposals) if pick_min_change else min(proposals)


def limit_by_behavior(history: ScaleHistory, *, current: int, desired: int, min_replicas: int,
                      max_replicas: int, up: Obj, down: Obj, now: float
                      ) -> tuple[int, Condition]:
    """Upstream's convertDesiredReplicasWithBehaviorRate: clamp `desired` to the scale rate
    policies and to [min, max], saying which bound (if any) applied."""
    up_limit = max(scale_up_limit(current, history.scale_ups, up, now=now), current)
    maximum = min(max_replicas, up_limit)
    if desired > maximum:
        if maximum == up_limit:
            return maximum, Condition(SCALING_LIMITED, "True", "ScaleUpLimit",
                                      MSG_SCALE_UP_LIMIT)
        return maximum, Condition(SCALING_LIMITED, "True", "TooManyReplicas", MSG_TOO_MANY)
    down_limit = min(scale_down_limit(current, history.scale_downs, down, now=now), current)
    minimum = max(min_replicas, down_limit)
    if desired < minimum:
        if minimum == down_limit:
            return minimum, Condition(SCALING_LIMITED, "True", "ScaleDownLimit",
                                      MSG_SCALE_DOWN_LIMIT)
        return minimum, Condition(SCALING_LIMITED, "True", "TooFewReplicas", MSG_TOO_FEW)
    return desired, Condition(SCALING_LIMITED, "False", "DesiredWithinRange",
                              MSG_DESIRED_WITHIN_RANGE)


def record_rescale(history: ScaleHistory, *, current: int, desired: int, up: Obj, down: Obj,
                   now: float) -> None:
    """Remember a scale change for the rate policies, forgetting changes older than the
    longest policy period."""
    for changes, rules in ((history.scale_ups, up), (history.scale_downs, down)):
        longest = max((p["periodSeconds"] for p in rules.get("policies") or []), default=0)
        changes[:] = [c for c in changes if c[1] > now - longest]
    if desired > current:
        history.scale_ups.append((desired - current, now))
    elif desired < current:
        history.scale_downs.append((current - desired, now))


def metric_name(metric: Obj) -> str:
    """How events and conditions name a Resource metric (upstream's wording)."""
    resource = metric["resource"]
    if resource["target"].get("type") == "Utilization":
        return f"{resource['name']} resource utilization (percentage of request)"
    return f"{resource['name']} resource"


def pod_usage(pod_metrics: Obj, resource: str) -> int:
    """A PodMetrics item's summed container usage of `resource`, in milli-units."""
    return sum(quantity.from_json(c["usage"][resource]).milli_value()
               for c in pod_metrics.get("containers") or [] if resource in c.get("usage", {}))


def parse_window(text: str) -> float:
    """Seconds of a PodMetrics `window` as metrics-server writes it (`15s`, `10.5s`); 0 for
    anything else, which makes the sample count as taken over no time."""
    try:
        return float(text.removesuffix("s")) if text.endswith("s") else 0.0
    except ValueError:
        return 0.0


class HorizontalPodAutoscalerController:
    """Syncs every HPA once per `sync_period` (and on each change to it)."""

    def __init__(self, *, client: rest.RESTClient, hpas: informer.Informer,
                 settings: HPASettings | None = None,
                 recorder: events.EventRecorder | None = None,
                 now: Callable[[], float] = time.time) -> None:
        self._client = client
        self._hpas = hpas
        self._settings = settings or HPASettings()
        self._recorder = recorder
        self._now = now
        self._history: dict[str, ScaleHistory] = {}
        self.queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="horizontalpodautoscaler")
        hpas.add_handlers(on_add=self._enqueue, on_update=self._update, on_delete=self._forget)

    def _enqueue(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        self.queue.add(informer.meta_namespace_key(obj))

    def _update(self, old: Obj, new: Obj) -> None:
        """A changed spec is looked at at once; the controller's own status writes are not
        (they would make every sync trigger the next), the sync period covers the rest."""
        if old.get("spec") != new.get("spec"):
            self._enqueue(new)

    def _forget(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        self._history.pop(informer.meta_namespace_key(obj), None)

    async def run(self) -> None:
        """Wait for the HPA cache, then sync with `concurrent_syncs` workers until cancelled."""
        try:
            async with asyncio.TaskGroup() as group:
                if self._recorder is not None:
                    group.create_task(self._recorder.run())
                await self._hpas.wait_for_sync()
                for _ in range(self._settings.concurrent_syncs):
                    group.create_task(worker.run_worker(self.queue, self.sync,
                                                        what="HorizontalPodAutoscaler"))
        finally:
            self.queue.shut_down()

    def _event(self, hpa: Obj, type_: str, reason: str, message: str) -> None:
        if self._recorder is not None:
            self._recorder.event(hpa, type_, reason, message)

    async def sync(self, key: str) -> None:
        """Reconcile one HPA, then look again after the sync period."""
        hpa = self._hpas.cache.get(key)
        if hpa is None:
            self._history.pop(key, None)
            return
        await self._reconcile(key, hpa)
        raise worker.RequeueAfter(self._settings.sync_period)

    async def _reconcile(self, key: str, hpa: Obj) -> None:
        spec = hpa["spec"]
        ns = meta.namespace(hpa)
        ref = spec["scaleTargetRef"]
        old_status = hpa.get("status") or {}
        # What this sync cannot work out keeps its last value, as upstream's status does.
        status: Obj = {"currentReplicas": old_status.get("currentReplicas", 0),
                       "desiredReplicas": old_status.get("desiredReplicas", 0)}
        for kept in ("lastScaleTime",):
            if old_status.get(kept):
                status[kept] = old_status[kept]
        conditions: list[Condition] = []
        path_template = SCALE_PATHS.get((ref.get("apiVersion", ""), ref.get("kind", "")))
        scale_path = path_template.format(ns=ns, name=ref["name"]) if path_template else ""
        try:
            if not scale_path:
                raise errors.StatusError(errors.status(
                    404, "NotFound", NO_MATCHES.format(kind=ref.get("kind"),
                                                       version=ref.get("apiVersion"))))
            scale = await self._client.get(scale_path)
        except errors.StatusError as exc:
            message = MSG_FAILED_GET_SCALE.format(error=exc)
            self._event(hpa, "Warning", "FailedGetScale", str(exc))
            await self._write_status(hpa, status, [Condition(ABLE_TO_SCALE, "False",
                                                             "FailedGetScale", message)])
            return
        current = (scale.get("spec") or {}).get("replicas", 0)
        status["currentReplicas"] = (scale.get("status") or {}).get("replicas", 0)
        min_replicas = spec.get("minReplicas", 1)
        max_replicas = spec["maxReplicas"]
        now = self._now()
        history = self._history.setdefault(key, ScaleHistory())
        up, down = behavior_rules(hpa, downscale_stabilization=self._settings
                                  .downscale_stabilization)
        rescale_reason = ""
        if current == 0 and min_replicas != 0:
            desired = 0
            conditions.append(Condition(SCALING_ACTIVE, "False", "ScalingDisabled",
                                        MSG_SCALING_DISABLED))
        elif current > max_replicas:
            desired, rescale_reason = max_replicas, REASON_ABOVE_MAX
        elif current < min_replicas:
            desired, rescale_reason = min_replicas, REASON_BELOW_MIN
        else:
            proposal = await self._compute_metrics(hpa, scale, current, status=status, now=now)
            if isinstance(proposal, Condition):
                self._event(hpa, "Warning", proposal.reason, proposal.message)
                await self._write_status(hpa, status, [
                    Condition(ABLE_TO_SCALE, "True", "SucceededGetScale",
                              "the HPA controller was able to get the target's current scale"),
                    proposal])
                return
            recommended, metric = proposal
            conditions.append(Condition(SCALING_ACTIVE, "True", "ValidMetricFound",
                                        MSG_VALID_METRIC.format(metric=metric)))
            rescale_reason = (REASON_ABOVE_TARGET.format(metric=metric)
                              if recommended > current else REASON_ALL_BELOW)
            stabilized, able = stabilize(history, current=current, recommended=recommended,
                                         up=up, down=down, now=now)
            desired, limited = limit_by_behavior(
                history, current=current, desired=stabilized, min_replicas=min_replicas,
                max_replicas=max_replicas, up=up, down=down, now=now)
            conditions[:0] = [able]
            conditions.append(limited)
        status["desiredReplicas"] = desired
        if desired != current:
            try:
                await self._client.patch(scale_path, {"spec": {"replicas": desired}})
            except errors.StatusError as exc:
                self._event(hpa, "Warning", "FailedRescale",
                            f"New size: {desired}; reason: {rescale_reason}; error: {exc}")
                conditions = [Condition(ABLE_TO_SCALE, "False", "FailedUpdateScale",
                                        MSG_FAILED_UPDATE_SCALE.format(error=exc)),
                              *[c for c in conditions if c.type != ABLE_TO_SCALE]]
                await self._write_status(hpa, status, conditions)
                return
            record_rescale(history, current=current, desired=desired, up=up, down=down, now=now)
            self._event(hpa, "Normal", "SuccessfulRescale",
                        MSG_NEW_SIZE.format(replicas=desired, reason=rescale_reason))
            status["lastScaleTime"] = meta.now()
            conditions = [Condition(ABLE_TO_SCALE, "True", "SucceededRescale",
                                    MSG_SUCCEEDED_RESCALE.format(replicas=desired)),
                          *[c for c in conditions if c.type != ABLE_TO_SCALE]]
        await self._write_status(hpa, status, conditions)

    async def _compute_metrics(self, hpa: Obj, scale: Obj, current: int, *, status: Obj,
                               now: float) -> tuple[int, str] | Condition:
        """The largest replica proposal over the HPA's metrics and the name of the metric that
        made it, filling `status.currentMetrics`; or the ScalingActive False condition of the
        first metric that failed when all failed, or when some failed and the others would
        scale down (upstream will not shrink on partial information)."""
        ns = meta.namespace(hpa)
        selector = (scale.get("status") or {}).get("selector", "")
        best: tuple[int, str] | None = None
        current_metrics = []
        failure: Condition | None = None
        for metric in hpa["spec"].get("metrics") or []:
            if metric.get("type") != "Resource":
                failure = failure or Condition(SCALING_ACTIVE, "False", "InvalidMetricSourceType",
                                    MSG_UNABLE_TO_COMPUTE.format(error=MSG_UNSUPPORTED_METRIC
                                                                 .format(type=metric.get("type"))))
                continue
            try:
                replicas, entry = await self._resource_proposal(
                    ns, selector, metric["resource"], current=current, now=now)
            except (replicacalculator.ReplicaCalculationError, errors.StatusError) as exc:
                name = metric["resource"]["name"]
                kind = ("utilization" if metric["resource"]["target"].get("type")
                        == "Utilization" else "usage")
                failure = failure or Condition(
                    SCALING_ACTIVE, "False", "FailedGetResourceMetric",
                    MSG_UNABLE_TO_COMPUTE.format(error=f"failed to get {name} {kind}: {exc}"))
                continue
            current_metrics.append(entry)
            if best is None or replicas > best[0]:
                best = (replicas, metric_name(metric))
        if current_metrics:
            status["currentMetrics"] = current_metrics
        if best is None:
            return failure or Condition(SCALING_ACTIVE, "False", "FailedGetResourceMetric",
                                        MSG_UNABLE_TO_COMPUTE.format(error="no metrics"))
        if failure is not None and best[0] < current:
            return failure
        return best

    async def _resource_proposal(self, ns: str, selector: str, resource: Obj, *, current: int,
                                 now: float) -> tuple[int, Obj]:
        name = resource["name"]
        params = {"labelSelector": selector}
        pods = (await self._client.get(rest.resource_path("", "v1", "pods", namespace=ns),
                                       params=params)).get("items") or []
        try:
            listing = await self._client.get(METRICS_PODS.format(namespace=ns), params=params)
        except errors.StatusError as exc:
            raise replicacalculator.ReplicaCalculationError(
                MSG_NO_METRICS_API.format(resource=name, error=exc)) from exc
        samples = {
            meta.name(item): replicacalculator.PodMetric(
                pod_usage(item, name), meta.parse_time(item["timestamp"]).timestamp(),
                parse_window(item.get("window", "0s")))
            for item in listing.get("items") or []}
        if not samples:
            raise replicacalculator.ReplicaCalculationError(MSG_NO_METRICS_API.format(
                resource=name, error="no metrics returned from resource metrics API"))
        target = resource["target"]
        if target.get("type") == "Utilization":
            rec = replicacalculator.resource_replicas(
                current, pods, samples, resource=name,
                target_utilization=target["averageUtilization"], now=now,
                tolerance=self._settings.tolerance,
                timing=self._settings.startup_timing())
            current_value: Obj = {"averageUtilization": rec.utilization,
                                  "averageValue": str(quantity.from_milli(rec.raw_average))}
        else:
            rec = replicacalculator.resource_replicas(
                current, pods, samples, resource=name,
                target_average=quantity.from_json(target["averageValue"]).milli_value(),
                now=now, tolerance=self._settings.tolerance,
                timing=self._settings.startup_timing())
            current_value = {"averageValue": str(quantity.from_milli(rec.raw_average))}
        return rec.replicas, {"type": "Resource",
                              "resource": {"name": name, "current": current_value}}

    async def _write_status(self, hpa: Obj, status: Obj, conditions: list[Condition]) -> None:
        old = {c["type"]: c for c in (hpa.get("status") or {}).get("conditions") or []}
        stamp = meta.now()
        status["conditions"] = [
            {"type": c.type, "status": c.status, "reason": c.reason, "message": c.message,
             "lastTransitionTime": (old[c.type]["lastTransitionTime"]
                                    if c.type in old and old[c.type].get("status") == c.status
                                    and old[c.type].get("lastTransitionTime") else stamp)}
            for c in conditions]
        path = rest.resource_path(*HPAS, namespace=meta.namespace(hpa), name=meta.name(hpa))
        try:
            await self._client.update(path + "/status", {**hpa, "status": status})
        except errors.StatusError as exc:
            if exc.code != 409:
                raise
            log.debug("HPA %s status conflict; next sync writes it", meta.name(hpa))


def new_horizontal_pod_autoscaler_controller(client: rest.RESTClient, *,
                                             informers: informer.SharedInformerFactory,
                                             settings: HPASettings | None = None
                                             ) -> HorizontalPodAutoscalerController:
    """The HPA controller on `informers`, reporting events as `horizontal-pod-autoscaler`."""
    return HorizontalPodAutoscalerController(
        client=client, hpas=informers.informer_for(*HPAS), settings=settings,
        recorder=events.EventRecorder(client, component=CONTROLLER_NAME))
