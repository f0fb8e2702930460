"""The namespace controller: a deleted namespace is emptied, then let go.

Mirrors pkg/controller/namespace/namespace_controller.go and deletion/
(namespaced_resources_deleter.go, status_condition_utils.go). A namespace with a
deletionTimestamp is queued (after a 5 s grace, so that late creations are visible); its sync
makes sure the phase is `Terminating`, discovers every namespaced resource that can be deleted,
deletes each collection (`deletecollection`, else list and delete one by one, always with
propagationPolicy Background), lists again to see what remains, records upstream's five
conditions in the namespace's status, and once nothing remains removes the `kubernetes`
finalizer through `PUT /api/v1/namespaces/<name>/finalize`. The apiserver deletes the
namespace when its last finalizer goes (apiserver/registry.py). While pods are still in their
grace period, or objects carry finalizers, the sync asks to be looked at again after half the
estimate (`ResourcesRemainingError`).

Departure from upstream: the collections of one namespace are deleted concurrently rather than
one after another (same outcome, fewer round-trip waits).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kajitori.api import errors, meta
from kajitori.client import clock as clock_
from kajitori.client import informer, rest, workqueue
from kajitori.controllers import apistatus, discovery, worker

Obj = dict[str, Any]

log = logging.getLogger(__name__)

NAMESPACES = ("", "v1", "namespaces")
PODS = discovery.APIResource(group="", version="v1", name="pods", kind="Pod", namespaced=True,
                             verbs=frozenset({"list"}))
FINALIZER_KUBERNETES = "kubernetes"
"""The finalizer token this controller owns in a namespace's spec.finalizers."""
PHASE_TERMINATING = "Terminating"
BACKGROUND = "Background"

NAMESPACE_DELETION_GRACE_PERIOD = 5.0
"""Seconds a deleted namespace waits before its first sync, so that every apiserver has seen
the deletion and a creation racing it is visible to the listing (upstream's constant)."""
FINALIZER_ESTIMATE_SECONDS = 15
"""Seconds assumed for finalizers of remaining objects to run (upstream's estimate)."""
RETRY_BASE_DELAY = 0.005
RETRY_MAX_DELAY = 60.0
"""Failed syncs back off from 5 ms to at most 60 s, so a namespace is retried at least every
minute (upstream's nsControllerRateLimiter)."""

DISCOVERY_FAILURE = "NamespaceDeletionDiscoveryFailure"
GROUP_VERSION_PARSING_FAILURE = "NamespaceDeletionGroupVersionParsingFailure"
CONTENT_FAILURE = "NamespaceDeletionContentFailure"
CONTENT_REMAINING = "NamespaceContentRemaining"
FINALIZERS_REMAINING = "NamespaceFinalizersRemaining"
CONDITION_TYPES = (DISCOVERY_FAILURE, GROUP_VERSION_PARSING_FAILURE, CONTENT_FAILURE,
                   CONTENT_REMAINING, FINALIZERS_REMAINING)
"""The conditions this controller maintains, in the order upstream adds them."""
OK_REASONS = {
    DISCOVERY_FAILURE: "ResourcesDiscovered",
    GROUP_VERSION_PARSING_FAILURE: "ParsedGroupVersions",
    CONTENT_FAILURE: "ContentDeleted",
    CONTENT_REMAINING: "ContentRemoved",
    FINALIZERS_REMAINING: "ContentRemoved",
}
OK_MESSAGES = {
    DISCOVERY_FAILURE: "All resources successfully discovered",
    GROUP_VERSION_PARSING_FAILURE: "All legacy kube types successfully parsed",
    CONTENT_FAILURE: "All content successfully deleted, may be waiting on finalization",
    CONTENT_REMAINING: "All content successfully removed",
    FINALIZERS_REMAINING: "All content successfully removed",
}
REASON_DISCOVERY_FAILED = "DiscoveryFailed"
REASON_GROUP_VERSION_PARSING_FAILED = "GroupVersionParsingFailed"
REASON_CONTENT_DELETION_FAILED = "ContentDeletionFailed"
REASON_SOME_RESOURCES_REMAIN = "SomeResourcesRemain"
REASON_SOME_FINALIZER_REMAIN = "SomeFinalizerRemain"


class ResourcesRemainingError(worker.RequeueAfter):
    """Content is still going away: look again after half the estimate, plus a second."""

    def __init__(self, estimate: int) -> None:
        super().__init__(estimate // 2 + 1, "some content remains in the namespace, estimate "
                                            f"{estimate} seconds before it is removed")
        self.estimate = estimate


def condition(type_: str, reason: str, message: str) -> Obj:
    """A failing (status True) NamespaceCondition stamped now."""
    return {"type": type_, "status": "True", "lastTransitionTime": meta.now(),
            "reason": reason, "message": message}


def discovery_failed_condition(exc: BaseException) -> Obj:
    if isinstance(exc, discovery.GroupDiscoveryFailed):
        message = f"Discovery failed for some groups, {len(exc.groups)} failing: {exc}"
    else:
        message = str(exc)
    return condition(DISCOVERY_FAILURE, REASON_DISCOVERY_FAILED, message)


def content_failed_condition(failures: list[str]) -> Obj | None:
    if not failures:
        return None
    return condition(CONTENT_FAILURE, REASON_CONTENT_DELETION_FAILED,
                     f"Failed to delete all resource types, {len(failures)} remaining: "
                     + ", ".join(sorted(failures)))


def update_conditions(status: Obj, new_conditions: list[Obj]) -> bool:
    """Set each maintained condition in `status` to the failing one in `new_conditions` or
    else its OK variant (status False); a condition whose status flips gets a new
    lastTransitionTime. Returns whether anything changed (upstream's updateConditions)."""
    changed = False
    conditions: list[Obj] = status.setdefault("conditions", [])
    for type_ in CONDITION_TYPES:
        new = next((c for c in new_conditions if c["type"] == type_), None)
        if new is None:
            new = {"type": type_, "status": "False", "lastTransitionTime": meta.now(),
                   "reason": OK_REASONS[type_], "message": OK_MESSAGES[type_]}
        old = next((c for c in conditions if c.get("type") == type_), None)
        if old is None:
            conditions.append(new)
            changed = True
        elif (old.get("status"), old.get("reason"), old.get("message")) != \
                (new["status"], new["reason"], new["message"]):
            if old.get("status") != new["status"]:
                old["lastTransitionTime"] = meta.now()
            old.update(status=new["status"], reason=new["reason"], message=new["message"])
            changed = True
    return changed


@dataclass
class ContentTotals:
    """What remains after one pass (upstream's allGVRDeletionMetadata)."""

    remaining: dict[discovery.APIResource, int] = field(default_factory=dict)
    finalizers: dict[str, int] = field(default_factory=dict)

    def conditions(self) -> list[Obj]:
        """NamespaceContentRemaining and NamespaceFinalizersRemaining, when they apply."""
        found = []
        counts = sorted(f"{r.name}.{r.group} has {n} resource instances"
                        for r, n in self.remaining.items() if n)
        if self.remaining:
            found.append(condition(CONTENT_REMAINING, REASON_SOME_RESOURCES_REMAIN,
                                   "Some resources are remaining: " + ", ".join(counts)))
        by_finalizer = sorted(f"{f} in {n} resource instances"
                              for f, n in self.finalizers.items() if n)
        if self.finalizers:
            found.append(condition(FINALIZERS_REMAINING, REASON_SOME_FINALIZER_REMAIN,
                                   "Some finalizers are remaining: " + ", ".join(by_finalizer)))
        return found


@dataclass
class _Remaining:
    """One resource's outcome (upstream's gvrDeletionMetadata)."""

    estimate: int = 0
    count: int = 0
    finalizers: dict[str, int] = field(default_factory=dict)


class UnexpectedItemsRemain(worker.SyncFailed):
    """Objects are left that neither a grace period nor a finalizer explains."""

    def __init__(self, message: str, *, remaining: _Remaining) -> None:
        super().__init__(message)
        self.remaining = remaining


def gvr_string(resource: discovery.APIResource) -> str:
    """How upstream prints a GroupVersionResource: `apps/v1, Resource=deployments`."""
    return f"{resource.group}/{resource.version}, Resource={resource.name}"


class NamespacedResourcesDeleter:
    """Deletes everything in a namespace, then removes `finalizer_token` from it.

    `delete(name)` is idempotent and meant to be called until it returns: it raises
    `ResourcesRemainingError` while content is still going, `worker.SyncFailed` (or an API
    error) when some deletion failed. `now` gives the wall-clock time (tests fix it)."""

    def __init__(self, client: rest.RESTClient, *, finalizer_token: str = FINALIZER_KUBERNETES,
                 now: Callable[[], datetime.datetime] | None = None) -> None:
        self._client = client
        self._finalizer_token = finalizer_token
        self._now = now or (lambda: datetime.datetime.now(datetime.UTC))
        self._unsupported: set[tuple[str, discovery.APIResource]] = set()

    def _namespace_path(self, name: str, *, subresource: str = "") -> str:
        return rest.resource_path(*NAMESPACES, name=name, subresource=subresource)

    async def delete(self, name: str) -> None:
        try:
            namespace = await self._client.get(self._namespace_path(name))
        except errors.StatusError as exc:
            if exc.code == 404:
                return
            raise
        if not meta.deletion_timestamp(namespace):
            return
        try:
            namespace = await self._retry_on_conflict(namespace, self._update_phase)
        except errors.StatusError as exc:
            if exc.code == 404:
                return
            raise
        if not meta.deletion_timestamp(namespace) or not _spec_finalizers(namespace):
            return
        estimate = await self.delete_all_content(namespace)
        if estimate > 0:
            raise ResourcesRemainingError(estimate)
        try:
            await self._retry_on_conflict(namespace, self._finalize)
        except errors.StatusError as exc:
            if exc.code != 404:  # another controller finished the deletion first
                raise

    async def _retry_on_conflict(self, namespace: Obj,
                                 update: Callable[[Obj], Any]) -> Obj:
        """Apply `update` to the latest namespace until it does not conflict; raises
        SyncFailed if the namespace was replaced by another of the same name meanwhile."""
        latest = namespace
        while True:
            try:
                result: Obj = await update(latest)
                return result
            except errors.StatusError as exc:
                if exc.code != 409:
                    raise
            previous = latest
            latest = await self._client.get(self._namespace_path(meta.name(namespace)))
            if meta.uid(previous) != meta.uid(latest):
                raise worker.SyncFailed("namespace uid has changed across retries")

    async def _update_phase(self, namespace: Obj) -> Obj:
        if not meta.deletion_timestamp(namespace) or \
                (namespace.get("status") or {}).get("phase") == PHASE_TERMINATING:
            return namespace
        updated = {**namespace, "status": {**(namespace.get("status") or {}),
                                           "phase": PHASE_TERMINATING}}
        return await self._client.update(
            self._namespace_path(meta.name(namespace), subresource="status"), updated)

    async def _finalize(self, namespace: Obj) -> Obj:
        kept = sorted({f for f in _spec_finalizers(namespace) if f != self._finalizer_token})
        finalized = {**namespace, "spec": {**(namespace.get("spec") or {}), "finalizers": kept}}
        return await self._client.update(
            self._namespace_path(meta.name(namespace), subresource="finalize"), finalized)

    async def delete_all_content(self, namespace: Obj) -> int:
        """Delete every namespaced resource in `namespace`, record the conditions, and return
        the estimated seconds until what remains is gone (0: nothing remains). Raises
        SyncFailed, after recording the conditions, if something could not be deleted."""
        name = meta.name(namespace)
        failures: list[str] = []
        new_conditions: list[Obj] = []
        try:
            resources = await discovery.server_preferred_resources(self._client,
                                                                   namespaced_only=True)
        except discovery.GroupDiscoveryFailed as exc:
            failures.append(str(exc))
            new_conditions.append(discovery_failed_condition(exc))
            resources = exc.resources  # delete what can be seen; retry for the rest
        except discovery.GroupVersionParsingFailed as exc:
            failures.append(str(exc))
            new_conditions.append(condition(GROUP_VERSION_PARSING_FAILURE,
                                            REASON_GROUP_VERSION_PARSING_FAILED, str(exc)))
            resources = []
        except worker.SYNC_FAILURES as exc:
            failures.append(str(exc))
            new_conditions.append(discovery_failed_condition(exc))
            resources = []
        deletable = discovery.supporting_all_verbs(resources, ["delete"])
        deleted_at = meta.parse_time(meta.deletion_timestamp(namespace) or meta.now())
        outcomes = await asyncio.gather(
            *(self._delete_resource(r, name, deleted_at=deleted_at) for r in deletable),
            return_exceptions=True)
        totals = ContentTotals()
        estimate = 0
        content_failures = []
        for resource, outcome in zip(deletable, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, worker.SYNC_FAILURES):
                    raise outcome
                remaining = outcome.remaining if isinstance(outcome, UnexpectedItemsRemain) \
                    else _Remaining()
                content_failures.append(_message(outcome))
            else:
                remaining = outcome
            estimate = max(estimate, remaining.estimate)
            if remaining.count:
                totals.remaining[resource] = remaining.count
                for finalizer, count in remaining.finalizers.items():
                    totals.finalizers[finalizer] = totals.finalizers.get(finalizer, 0) + count
        new_conditions += totals.conditions()
        content = content_failed_condition(content_failures)
        if content is not None and not any(c["type"] == CONTENT_FAILURE for c in new_conditions):
            new_conditions.append(content)
        status = dict(namespace.get("status") or {})
        status["conditions"] = [dict(c) for c in status.get("conditions") or []]
        if update_conditions(status, new_conditions):
            try:
                await self._client.update(self._namespace_path(name, subresource="status"),
                                          {**namespace, "status": status})
            except worker.SYNC_FAILURES as exc:
                log.warning("couldn't update status condition for namespace %r: %s", name, exc)
        failures += content_failures
        if failures:
            raise worker.SyncFailed("; ".join(failures))
        return estimate

    async def _delete_resource(self, resource: discovery.APIResource, namespace: str, *,
                               deleted_at: datetime.datetime) -> _Remaining:
        """Delete one resource's objects in `namespace` and report what remains (upstream's
        deleteAllContentForGroupVersionResource). Raises UnexpectedItemsRemain when objects
        remain that nothing explains, and API errors as they come."""
        estimate = await self._estimate_graceful_termination(resource, namespace,
                                                             deleted_at=deleted_at)
        if not await self._delete_collection(resource, namespace):
            await self._delete_each_item(resource, namespace)
        items = await self._list(resource, namespace)
        if not items:
            return _Remaining()
        finalizers: dict[str, int] = {}
        for item in items:
            for finalizer in meta.finalizers(item):
                finalizers[finalizer] = finalizers.get(finalizer, 0) + 1
        if estimate:
            return _Remaining(estimate, len(items), finalizers)
        if finalizers:
            return _Remaining(FINALIZER_ESTIMATE_SECONDS, len(items), finalizers)
        raise UnexpectedItemsRemain(f"unexpected items still remain in namespace: {namespace} "
                                    f"for gvr: {gvr_string(resource)}",
                                    remaining=_Remaining(0, len(items)))

    async def _delete_collection(self, resource: discovery.APIResource, namespace: str) -> bool:
        """True if the collection was deleted; False if the resource has no deletecollection
        (by discovery, or as the server answered), so items go one by one."""
        if "deletecollection" not in resource.verbs or \
                ("deletecollection", resource) in self._unsupported:
            return False
        try:
            await self._client.delete(resource.path(namespace=namespace),
                                      options=_delete_options())
        except errors.StatusError as exc:
            if apistatus.is_not_found_or_unsupported(exc):
                self._unsupported.add(("deletecollection", resource))
                return False
            raise
        return True

    async def _list(self, resource: discovery.APIResource, namespace: str) -> list[Obj]:
        """The objects left; empty when the resource cannot be listed here."""
        if "list" not in resource.verbs or ("list", resource) in self._unsupported:
            return []
        try:
            listed = await self._client.get(resource.path(namespace=namespace))
        except errors.StatusError as exc:
            if apistatus.is_not_found_or_unsupported(exc):
                self._unsupported.add(("list", resource))
                return []
            raise
        items: list[Obj] = listed.get("items") or []
        return items

    async def _delete_each_item(self, resource: discovery.APIResource, namespace: str) -> None:
        for item in await self._list(resource, namespace):
            try:
                await self._client.delete(
                    resource.path(namespace=namespace, name=meta.name(item)),
                    options=_delete_options())
            except errors.StatusError as exc:
                if not apistatus.is_not_found_or_unsupported(exc):
                    raise

    async def _estimate_graceful_termination(self, resource: discovery.APIResource,
                                             namespace: str, *,
                                             deleted_at: datetime.datetime) -> int:
        """Seconds pods may still take to terminate gracefully: the longest grace period of a
        pod not yet finished, or 0 once that long has passed since the namespace's deletion."""
        if (resource.group, resource.name) != (PODS.group, PODS.name):
            return 0
        estimate = 0
        for pod in await self._list(PODS, namespace):
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
            if grace is not None:
                estimate = max(estimate, int(grace))
        if (self._now() - deleted_at).total_seconds() >= estimate:
            return 0
        return estimate


def _delete_options() -> Obj:
    # The namespace is emptied whatever the objects' owners say: no orphan finalizers.
    return {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": BACKGROUND}


def _spec_finalizers(namespace: Obj) -> list[str]:
    return list((namespace.get("spec") or {}).get("finalizers") or [])


def _message(exc: BaseException) -> str:
    if isinstance(exc, errors.StatusError):
        return str(exc.status.get("message") or exc)
    return str(exc)


class NamespaceController:
    """Runs the deleter for every terminating namespace, `workers` at a time."""

    def __init__(self, *, client: rest.RESTClient, namespaces: informer.Informer, workers: int,
                 resync_period: float, clock: clock_.Clock | None = None,
                 deleter: NamespacedResourcesDeleter | None = None) -> None:
        """`deleter` is None except in tests, which give one with a fixed clock."""
        self._namespaces = namespaces
        self._workers = workers
        self._resync_period = resync_period
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self._deleter = deleter or NamespacedResourcesDeleter(client)
        self.queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="namespace", clock=clock, rate_limiter=workqueue.MaxOfRateLimiter(
                workqueue.ItemExponentialFailureRateLimiter(RETRY_BASE_DELAY, RETRY_MAX_DELAY),
                workqueue.BucketRateLimiter(qps=workqueue.DEFAULT_QPS,
                                            burst=workqueue.DEFAULT_BURST, clock=clock)))
        namespaces.add_handlers(on_add=self._enqueue,
                                on_update=lambda _old, new: self._enqueue(new))

    def _enqueue(self, namespace: Obj) -> None:
        if meta.deletion_timestamp(namespace):
            self.queue.add_after(informer.meta_namespace_key(namespace),
                                 NAMESPACE_DELETION_GRACE_PERIOD)

    async def run(self) -> None:
        try:
            await self._namespaces.wait_for_sync()
            async with asyncio.TaskGroup() as group:
                for _ in range(self._workers):
                    group.create_task(worker.run_worker(self.queue, self.sync,
                                                        what="namespace"))
                group.create_task(self._resync())
        finally:
            self.queue.shut_down()

    async def _resync(self) -> None:
        """Look at every terminating namespace again each `resync_period` (upstream's
        handler resync period, `--namespace-sync-period`)."""
        while True:
            await self._clock.sleep(self._resync_period)
            for namespace in self._namespaces.cache.list():
                self._enqueue(namespace)

    async def sync(self, key: str) -> None:
        """Delete the namespace's content if it is being deleted; see the deleter's contract."""
        namespace = self._namespaces.cache.get(key)
        if namespace is None:
            log.info("namespace has been deleted: %s", key)
            return
        await self._deleter.delete(meta.name(namespace))
