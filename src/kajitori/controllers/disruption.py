"""The disruption controller: the status of every PodDisruptionBudget.

Mirrors pkg/controller/disruption/disruption.go and pkg/apis/policy/helper (the
`DisruptionAllowed` condition). A PDB, or a pod it selects, changing queues the PDB; its sync
counts, from the caches:

- `expectedPods`: with an integer `minAvailable`, the number of selected pods; otherwise (a
  percentage, or `maxUnavailable`) the sum of the scales of the pods' controllers (a
  ReplicaSet, or the Deployment owning it; a ReplicationController; a StatefulSet; any other
  kind through its scale subresource);
- `desiredHealthy`: `minAvailable` (scaled against expectedPods, rounded up), or expectedPods
  minus `maxUnavailable`;
- `currentHealthy`: selected pods that are Ready, not being deleted, and not in
  `disruptedPods` (pods an eviction admitted less than two minutes ago);
- `disruptionsAllowed`: currentHealthy - desiredHealthy, never below 0, and 0 while
  expectedPods is 0;
- `observedGeneration` and the `DisruptionAllowed` condition (`SufficientPods` /
  `InsufficientPods`); `disruptedPods` entries older than two minutes are dropped (the pod
  was not deleted after all: event `NotDeleted`) and the PDB looked at again when the oldest
  one expires.

A PDB whose counts cannot be computed (a pod's controller not found) gets disruptionsAllowed 0
and the condition `SyncFailed` with the reason (upstream's failSafe). Pods without controller
selected by a PDB whose minAvailable is not an integer are reported (`UnmanagedPods`). The
writer of `disruptedPods` is the apiserver's eviction subresource
(`apiserver/handlers/eviction.py`).

Left out (TODO(#5)): the stale DisruptionTarget pod condition cleanup
(`stalePodDisruptionQueue`).
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kajitori.api import errors, labels, meta
from kajitori.client import events, informer, rest, workqueue
from kajitori.controllers import discovery, podstate, worker

Obj = dict[str, Any]

log = logging.getLogger(__name__)

PDBS = ("policy", "v1", "poddisruptionbudgets")
PODS = ("", "v1", "pods")
REPLICA_SETS = ("apps", "v1", "replicasets")
DEPLOYMENTS = ("apps", "v1", "deployments")
STATEFUL_SETS = ("apps", "v1", "statefulsets")
REPLICATION_CONTROLLERS = ("", "v1", "replicationcontrollers")

EVENT_COMPONENT = "controllermanager"
DELETION_TIMEOUT = datetime.timedelta(minutes=2)
"""How long an eviction's entry in disruptedPods holds before the pod counts again (upstream's
DeletionTimeout)."""
DISRUPTION_ALLOWED = "DisruptionAllowed"
SUFFICIENT_PODS = "SufficientPods"
INSUFFICIENT_PODS = "InsufficientPods"
SYNC_FAILED = "SyncFailed"
REASON_NO_PODS = "NoPods"
MESSAGE_NO_PODS = "No matching pods found"
REASON_CALCULATE_FAILED = "CalculateExpectedPodCountFailed"
REASON_UNMANAGED_PODS = "UnmanagedPods"
REASON_NOT_DELETED = "NotDeleted"


class ControllerNotFound(Exception):
    """A selected pod's controller could not be found, so the expected count is unknown."""


def unmanaged_pods_message(selector: Obj | None) -> str:
    return (f"Pods selected by this PodDisruptionBudget (selector: {_go_selector(selector)}) "
            "were found to be unmanaged. As a result, the status of the PDB cannot be "
            "calculated correctly, which may result in undefined behavior. To account for "
            'these pods please set ".spec.minAvailable" field of the PDB to an integer value.')


def _go_selector(selector: Obj | None) -> str:
    """A LabelSelector as Go's %v prints the pointer (its generated String method)."""
    if selector is None:
        return "nil"
    match = "".join(f"{k}: {v}," for k, v in sorted((selector.get("matchLabels") or {}).items()))
    expressions = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
        f"Values:[{' '.join(e.get('values') or [])}],}},"
        for e in selector.get("matchExpressions") or [])
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{match}}},"
            f"MatchExpressions:[]LabelSelectorRequirement{{{expressions}}},}}")


def scaled_value(value: int | str, total: int) -> int:
    """An IntOrString against `total`, percentages rounded up (upstream's
    GetScaledValueFromIntOrPercent with roundUp). Raises ValueError for a bad string."""
    if isinstance(value, int):
        return value
    if not value.endswith("%") or not value[:-1].isdigit():
        raise ValueError(f"invalid value for IntOrString: invalid value {value!r}")
    return math.ceil(int(value[:-1]) * total / 100)


def controller_of(obj: Obj) -> Obj | None:
    return next((ref for ref in meta.owner_references(obj) if ref.get("controller")), None)


def set_status_condition(conditions: list[Obj], wanted: Obj, *, now: str) -> None:
    """apimachinery's meta.SetStatusCondition: the transition time moves only when the status
    changes; reason, message and observedGeneration always follow `wanted`."""
    for condition in conditions:
        if condition.get("type") == wanted["type"]:
            if condition.get("status") != wanted["status"]:
                condition["status"] = wanted["status"]
                condition["lastTransitionTime"] = now
            condition["reason"] = wanted["reason"]
            condition["message"] = wanted["message"]
            condition["observedGeneration"] = wanted["observedGeneration"]
            return
    conditions.append({**wanted, "lastTransitionTime": now})


def update_disruption_allowed_condition(status: Obj, *, now: str) -> None:
    """Upstream's UpdateDisruptionAllowedCondition, on a status being written."""
    allowed = status.get("disruptionsAllowed", 0) > 0
    conditions = status.setdefault("conditions", [])
    set_status_condition(conditions, {
        "type": DISRUPTION_ALLOWED, "status": "True" if allowed else "False",
        "reason": SUFFICIENT_PODS if allowed else INSUFFICIENT_PODS, "message": "",
        "observedGeneration": status.get("observedGeneration", 0)}, now=now)


def conditions_are_up_to_date(status: Obj) -> bool:
    for condition in status.get("conditions") or []:
        if condition.get("type") == DISRUPTION_ALLOWED:
            allowed = status.get("disruptionsAllowed", 0) > 0
            return condition.get("observedGeneration") == status.get("observedGeneration") \
                and condition.get("status") == ("True" if allowed else "False")
    return False


@dataclass(frozen=True)
class Counts:
    expected: int
    desired_healthy: int
    unmanaged: list[str]


class DisruptionController:
    """Keeps every PodDisruptionBudget's status current (module docstring)."""

    def __init__(self, *, client: rest.RESTClient, pdbs: informer.Informer,
                 pods: informer.Informer, replica_sets: informer.Informer,
                 deployments: informer.Informer, stateful_sets: informer.Informer,
                 replication_controllers: informer.Informer,
                 now: Callable[[], datetime.datetime] | None = None,
                 recorder: events.EventRecorder | None = None) -> None:
        """`now` is wall-clock time (tests pass a fixed one); `recorder` None makes one for
        the `controllermanager` component."""
        self._client = client
        self._pdbs = pdbs
        self._pods = pods
        self._rs = replica_sets
        self._deployments = deployments
        self._sts = stateful_sets
        self._rc = replication_controllers
        self._now = now or (lambda: datetime.datetime.now(datetime.UTC))
        self.recorder = recorder or events.EventRecorder(client, component=EVENT_COMPONENT)
        self._mapper: discovery.RESTMapper | None = None
        self.queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="disruption")
        pdbs.add_handlers(on_add=self._enqueue, on_update=lambda _o, new: self._enqueue(new),
                          on_delete=self._enqueue)
        pods.add_handlers(on_add=self._pod_changed, on_update=self._pod_updated,
                          on_delete=self._pod_changed)

    def _enqueue(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        self.queue.add(informer.meta_namespace_key(obj))

    def _pod_changed(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        pod = informer.deleted_object(obj)
        for pdb in self.pdbs_for_pod(pod):
            self.queue.add(informer.meta_namespace_key(pdb))

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if meta.resource_version(old) == meta.resource_version(new):
            return
        self._pod_changed(new)
        if meta.labels(old) != meta.labels(new):
            self._pod_changed(old)

    def pdbs_for_pod(self, pod: Obj) -> list[Obj]:
        """The cached PDBs of the pod's namespace whose selector matches it (none for a pod
        without labels, as upstream)."""
        if not meta.labels(pod):
            return []
        return [pdb for pdb in self._pdbs.cache.list(meta.namespace(pod))
                if _selector(pdb).matches(meta.labels(pod))]

    async def run(self) -> None:
        try:
            await asyncio.gather(*(i.wait_for_sync() for i in (
                self._pdbs, self._pods, self._rs, self._deployments, self._sts, self._rc)))
            async with asyncio.TaskGroup() as group:
                group.create_task(self.recorder.run())
                group.create_task(worker.run_worker(self.queue, self.sync,
                                                    what="PodDisruptionBudget"))
        finally:
            self.queue.shut_down()

    async def sync(self, key: str) -> None:
        """Recompute the status of the PDB at `key` and write it when it changed."""
        pdb = self._pdbs.cache.get(key)
        if pdb is None:
            return
        try:
            await self.try_sync(pdb)
        except errors.StatusError as exc:
            if exc.code == 409:
                raise
            await self._fail_safe(pdb, str(exc))
        except ControllerNotFound as exc:
            await self._fail_safe(pdb, str(exc))

    async def try_sync(self, pdb: Obj) -> None:
        selector = _selector(pdb)
        pods = [p for p in self._pods.cache.list(meta.namespace(pdb))
                if selector.matches(meta.labels(p))]
        if not pods:
            self.recorder.event(pdb, events.NORMAL, REASON_NO_PODS, MESSAGE_NO_PODS)
        try:
            counts = await self.expected_pod_count(pdb, pods)
        except ControllerNotFound as exc:
            self.recorder.event(pdb, events.WARNING, REASON_CALCULATE_FAILED,
                                f"Failed to calculate the number of expected pods: {exc}")
            raise
        if counts.unmanaged:
            self.recorder.event(pdb, events.WARNING, REASON_UNMANAGED_PODS,
                                unmanaged_pods_message((pdb.get("spec") or {}).get("selector")))
        now = self._now()
        disrupted, recheck = self._build_disrupted_pod_map(pdb, pods, now=now)
        healthy = count_healthy_pods(pods, disrupted, now=now)
        await self._update_status(pdb, current_healthy=healthy,
                                  desired_healthy=counts.desired_healthy,
                                  expected=counts.expected, disrupted=disrupted)
        if recheck is not None:
            self.queue.add_after(informer.meta_namespace_key(pdb),
                                 max((recheck - now).total_seconds(), 0.0))

    async def expected_pod_count(self, pdb: Obj, pods: list[Obj]) -> Counts:
        """(expectedPods, desiredHealthy, unmanaged pod names). Raises ControllerNotFound."""
        spec = pdb.get("spec") or {}
        if spec.get("maxUnavailable") is not None:
            expected, unmanaged = await self._expected_scale(pods)
            desired = max(expected - scaled_value(spec["maxUnavailable"], expected), 0)
            return Counts(expected, desired, unmanaged)
        min_available = spec.get("minAvailable")
        if isinstance(min_available, int):
            return Counts(len(pods), min_available, [])
        if isinstance(min_available, str):
            expected, unmanaged = await self._expected_scale(pods)
            return Counts(expected, scaled_value(min_available, expected), unmanaged)
        return Counts(0, 0, [])

    async def _expected_scale(self, pods: list[Obj]) -> tuple[int, list[str]]:
        scales: dict[str, int] = {}
        unmanaged = []
        for pod in pods:
            ref = controller_of(pod)
            if ref is None:
                unmanaged.append(meta.name(pod))
                continue
            if ref.get("uid") in scales:
                continue
            found = await self._find_scale(ref, meta.namespace(pod))
            if found is None:
                raise ControllerNotFound(f'found no controllers for pod "{meta.name(pod)}"')
            uid, scale = found
            scales[uid] = scale
        return sum(scales.values()), unmanaged

    async def _find_scale(self, ref: Obj, namespace: str) -> tuple[str, int] | None:
        """(uid, replicas) of the controller `ref` names, upstream's finders in order: a
        ReplicaSet not owned by a Deployment, the Deployment of one that is, a
        ReplicationController, a StatefulSet, then any kind's scale subresource."""
        group, _ = meta.split_api_version(ref.get("apiVersion", ""))
        kind, name, uid = str(ref.get("kind", "")), str(ref.get("name", "")), ref.get("uid")
        key = f"{namespace}/{name}"
        if (group, kind) == ("apps", "ReplicaSet"):
            rs = self._rs.cache.get(key)
            if rs is None or meta.uid(rs) != uid:
                return None
            owner = controller_of(rs)
            if owner is None or owner.get("kind") != "Deployment":
                return uid, _replicas(rs)
            deployment = self._deployments.cache.get(f"{namespace}/{owner.get('name')}")
            if deployment is None or meta.uid(deployment) != owner.get("uid"):
                return None
            return meta.uid(deployment), _replicas(deployment)
        informers = {("", "ReplicationController"): self._rc, ("apps", "StatefulSet"): self._sts}
        if (group, kind) in informers:
            found = informers[(group, kind)].cache.get(key)
            if found is None or meta.uid(found) != uid:
                return None
            return uid, _replicas(found)
        return await self._scale_subresource(ref, namespace)

    async def _scale_subresource(self, ref: Obj, namespace: str) -> tuple[str, int] | None:
        if self._mapper is None:
            self._mapper = discovery.RESTMapper(await discovery.server_resources(self._client))
        try:
            resource = self._mapper.mapping(ref.get("apiVersion", ""), ref.get("kind", ""))
        except discovery.RESTMappingError as exc:
            raise ControllerNotFound(str(exc)) from exc
        try:
            scale = await self._client.get(resource.path(
                namespace=namespace, name=ref.get("name", ""), subresource="scale"))
        except errors.StatusError as exc:
            if exc.code == 404:
                return None
            raise
        if meta.uid(scale) != ref.get("uid"):
            return None
        return meta.uid(scale), int((scale.get("spec") or {}).get("replicas") or 0)

    def _build_disrupted_pod_map(self, pdb: Obj, pods: list[Obj], *, now: datetime.datetime
                                 ) -> tuple[dict[str, str], datetime.datetime | None]:
        """The disruptedPods entries still pending, and when the oldest expires."""
        recorded = (pdb.get("status") or {}).get("disruptedPods") or {}
        result: dict[str, str] = {}
        recheck = None
        for pod in pods:
            if meta.deletion_timestamp(pod) or meta.name(pod) not in recorded:
                continue
            stamp = recorded[meta.name(pod)]
            expires = meta.parse_time(stamp) + DELETION_TIMEOUT
            if expires < now:
                self.recorder.event(pod, events.WARNING, REASON_NOT_DELETED,
                                    f"Pod was expected by PDB {meta.namespace(pdb)}/"
                                    f"{meta.namespace(pdb)} to be deleted but it wasn't")
                continue
            result[meta.name(pod)] = stamp
            if recheck is None or expires < recheck:
                recheck = expires
        return result, recheck

    async def _update_status(self, pdb: Obj, *, current_healthy: int, desired_healthy: int,
                             expected: int, disrupted: dict[str, str]) -> None:
        allowed = current_healthy - desired_healthy
        if expected <= 0 or allowed <= 0:
            allowed = 0
        status = pdb.get("status") or {}
        generation = meta.generation(pdb)
        if (status.get("currentHealthy") == current_healthy
                and status.get("desiredHealthy") == desired_healthy
                and status.get("expectedPods") == expected
                and status.get("disruptionsAllowed") == allowed
                and (status.get("disruptedPods") or {}) == disrupted
                and status.get("observedGeneration") == generation
                and conditions_are_up_to_date(status)):
            return
        new_status: Obj = {"currentHealthy": current_healthy, "desiredHealthy": desired_healthy,
                           "expectedPods": expected, "disruptionsAllowed": allowed,
                           "observedGeneration": generation,
                           "conditions": copy.deepcopy(status.get("conditions") or [])}
        if disrupted:
            new_status["disruptedPods"] = disrupted
        update_disruption_allowed_condition(new_status, now=meta.format_time(self._now()))
        await self._write_status(pdb, new_status)

    async def _fail_safe(self, pdb: Obj, message: str) -> None:
        """Allow no disruption while the PDB cannot be computed (upstream's failSafe)."""
        status = copy.deepcopy(pdb.get("status") or {})
        status["disruptionsAllowed"] = 0
        set_status_condition(status.setdefault("conditions", []), {
            "type": DISRUPTION_ALLOWED, "status": "False", "reason": SYNC_FAILED,
            "message": message, "observedGeneration": status.get("observedGeneration", 0)},
            now=meta.format_time(self._now()))
        await self._write_status(pdb, status)

    async def _write_status(self, pdb: Obj, status: Obj) -> None:
        updated = {**pdb, "status": status}
        await self._client.update(rest.resource_path(
            *PDBS, namespace=meta.namespace(pdb), name=meta.name(pdb), subresource="status"),
            updated)


def _selector(pdb: Obj) -> labels.Selector:
    """The PDB's selector; an invalid one selects nothing."""
    try:
        return labels.from_label_selector((pdb.get("spec") or {}).get("selector"))
    except errors.StatusError:
        return labels.NOTHING


def _replicas(obj: Obj) -> int:
    replicas = (obj.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def count_healthy_pods(pods: list[Obj], disrupted: dict[str, str], *,
                       now: datetime.datetime) -> int:
    """Ready pods that are neither being deleted nor recently evicted."""
    healthy = 0
    for pod in pods:
        if meta.deletion_timestamp(pod):
            continue
        stamp = disrupted.get(meta.name(pod))
        if stamp is not None and meta.parse_time(stamp) + DELETION_TIMEOUT > now:
            continue
        if podstate.is_pod_ready(pod):
            healthy += 1
    return healthy


def new_disruption_controller(client: rest.RESTClient, *,
                              informers: informer.SharedInformerFactory
                              ) -> DisruptionController:
    """The disruption controller on `informers` (upstream's NewDisruptionController)."""
    return DisruptionController(
        client=client, pdbs=informers.informer_for(*PDBS), pods=informers.informer_for(*PODS),
        replica_sets=informers.informer_for(*REPLICA_SETS),
        deployments=informers.informer_for(*DEPLOYMENTS),
        stateful_sets=informers.informer_for(*STATEFUL_SETS),
        replication_controllers=informers.informer_for(*REPLICATION_CONTROLLERS))
