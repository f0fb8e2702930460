"""Claiming: a controller adopts the orphans its selector matches and releases what it owns
but no longer matches.

Mirrors pkg/controller/controller_ref_manager.go (`BaseControllerRefManager.ClaimObject`,
`PodControllerRefManager`, `ReplicaSetControllerRefManager`, `RecheckDeletionTimestamp`): an
object controlled by someone else is ignored; one we control and match is ours; one we control
but no longer match is released (a strategic merge patch deleting our ownerReference); an
orphan we match is adopted (a patch adding our controllerRef), unless we or it are being
deleted. Adoption first re-reads the controller from the API once per claim (`can_adopt`),
because a cached controller may have been deleted meanwhile (kubernetes#42639).

Used by the ReplicaSet controller (pods) and the Deployment controller (ReplicaSets); the
patches carry the object's uid so they never touch a namesake created since. The event-handler
side every owning controller shares lives here too: `resolve_controller_ref` (each upstream
controller's `resolveControllerRef`) and `selecting` (the listers' `GetPodReplicaSets`,
`getDeploymentsForReplicaSet`, `getPodJobs`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from kajitori.api import errors, labels, meta
from kajitori.client import informer
from kajitori.controllers import podcontrol, worker

Obj = dict[str, Any]

CanAdopt = Callable[[], Awaitable[None]]
"""Raises (`worker.SyncFailed` or an API error) when the controller may not adopt now."""
Patcher = Callable[[str, str, Obj], Awaitable[None]]
"""Strategic-merge-patches object (namespace, name) of the claimed resource."""


def recheck_deletion_timestamp(get_fresh: Callable[[], Awaitable[Obj]]) -> CanAdopt:
    """A `CanAdopt` that refuses once a fresh read of the controller shows a deletion
    timestamp (upstream's RecheckDeletionTimestamp); `get_fresh` raises if it is gone."""

    async def can_adopt() -> None:
        fresh = await get_fresh()
        stamp = meta.deletion_timestamp(fresh)
        if stamp:
            raise worker.SyncFailed(f"{meta.namespace(fresh)}/{meta.name(fresh)} has just been "
                                    f"deleted at {stamp}")

    return can_adopt


def fresh_with_same_uid(get: Callable[[], Awaitable[Obj]], controller: Obj) -> Callable[
        [], Awaitable[Obj]]:
    """Wrap a GET of `controller` so that a namesake with another uid counts as gone (the
    closure upstream's controllers pass to RecheckDeletionTimestamp)."""

    async def get_fresh() -> Obj:
        fresh = await get()
        if meta.uid(fresh) != meta.uid(controller):
            raise worker.SyncFailed(
                f"original {controller.get('kind', '')} {meta.namespace(controller)}/"
                f"{meta.name(controller)} is gone: got uid {meta.uid(fresh)}, "
                f"wanted {meta.uid(controller)}")
        return fresh

    return get_fresh


def resolve_controller_ref(controllers: informer.Indexer, namespace: str, ref: Obj, *,
                           kind: str) -> Obj | None:
    """The cached controller that `ref` (a controllerRef of an object in `namespace`) names, or
    None when it names another kind, is not cached, or is cached with another uid (the named
    controller was deleted and a namesake created since: not the object's controller)."""
    if ref.get("kind") != kind:
        return None
    controller = controllers.get(f"{namespace}/{ref.get('name', '')}")
    if controller is None or meta.uid(controller) != ref.get("uid"):
        return None
    return controller


def selecting(controllers: Iterable[Obj], obj_labels: dict[str, str], *,
              selector_of: Callable[[Obj], Obj | None]) -> list[Obj]:
    """The controllers whose selector (`selector_of` one) matches `obj_labels`: the candidates
    to adopt an orphan with those labels. An empty selector selects nothing, and an invalid one
    is passed over (validation keeps them out; a stored one must not stop the others)."""
    found = []
    for controller in controllers:
        try:
            selector = labels.from_label_selector(selector_of(controller))
        except errors.StatusError:
            continue
        if not selector.empty() and selector.matches(obj_labels):
            found.append(controller)
    return found


def adopt_patch(controller_ref: Obj, obj_uid: str) -> Obj:
    """The patch that makes `controller_ref` the object's controller (ownerReferences merge
    by uid), guarded by the object's uid."""
    return {"metadata": {"ownerReferences": [controller_ref], "uid": obj_uid}}


def release_patch(controller_uid: str, obj_uid: str) -> Obj:
    """The patch that removes the ownerReference of `controller_uid` from the object
    (upstream's GenerateDeleteOwnerRefStrategicMergeBytes)."""
    return {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": controller_uid}],
                         "uid": obj_uid}}


class ControllerRefManager:
    """Claims objects of one kind for one controller. One instance per sync: the adoption
    recheck runs at most once per instance, and its refusal is remembered."""

    def __init__(self, controller: Obj, *, selector: labels.Selector, controller_ref: Obj,
                 can_adopt: CanAdopt, patch: Patcher) -> None:
        """`controller_ref` is the ownerReference adoption adds (`podcontrol.new_controller_ref`
        of the controller, with the kind's apiVersion and kind)."""
        self._controller = controller
        self._selector = selector
        self._controller_ref = controller_ref
        self._can_adopt = can_adopt
        self._patch = patch
        self._adoption_checked = False
        self._adoption_error: BaseException | None = None

    async def claim(self, objs: Iterable[Obj],
                    *, match: Callable[[Obj], bool] | None = None) -> list[Obj]:
        """The objects of `objs` the controller owns after adopting and releasing. Every
        object is tried; then the first failure, if any, is raised (the caller requeues), as
        upstream aggregates them. `match` narrows the selector (Deployments' ReplicaSets)."""
        claimed: list[Obj] = []
        failures: list[Exception] = []
        for obj in objs:
            try:
                if await self._claim_object(obj, match):
                    claimed.append(obj)
            except (errors.StatusError, worker.SyncFailed) as exc:
                failures.append(exc)
        if failures:
            if len(failures) == 1:
                raise failures[0]
            raise worker.SyncFailed("[" + ", ".join(str(f) for f in failures) + "]")
        return claimed

    def _matches(self, obj: Obj, match: Callable[[Obj], bool] | None) -> bool:
        return self._selector.matches(meta.labels(obj)) and (match is None or match(obj))

    async def _claim_object(self, obj: Obj, match: Callable[[Obj], bool] | None) -> bool:
        controller_uid = meta.uid(self._controller)
        ref = podcontrol.get_controller_of(obj)
        if ref is not None:
            if ref.get("uid") != controller_uid:
                return False  # someone else's
            if self._matches(obj, match):
                return True
            if meta.deletion_timestamp(self._controller):
                return False  # a controller being deleted takes no actions
            await self._release(obj)
            return False
        if meta.deletion_timestamp(self._controller) or not self._matches(obj, match):
            return False
        if meta.deletion_timestamp(obj):
            return False
        if meta.namespace(self._controller) and \
                meta.namespace(self._controller) != meta.namespace(obj):
            return False
        return await self._adopt(obj)

    async def _adopt(self, obj: Obj) -> bool:
        if not self._adoption_checked:
            self._adoption_checked = True
            try:
                await self._can_adopt()
            except (errors.StatusError, worker.SyncFailed) as exc:
                self._adoption_error = exc
        if self._adoption_error is not None:
            raise worker.SyncFailed(f"can't adopt {obj.get('kind', 'object')} "
                                    f"{meta.namespace(obj)}/{meta.name(obj)} "
                                    f"({meta.uid(obj)}): {self._adoption_error}")
        try:
            await self._patch(meta.namespace(obj), meta.name(obj),
                              adopt_patch(self._controller_ref, meta.uid(obj)))
        except errors.StatusError as exc:
            if exc.code == 404:
                return False  # gone meanwhile
            raise
        return True

    async def _release(self, obj: Obj) -> None:
        try:
            await self._patch(meta.namespace(obj), meta.name(obj),
                              release_patch(meta.uid(self._controller), meta.uid(obj)))
        except errors.StatusError as exc:
            # 404: gone; 422: our reference is already gone, or a namesake with another uid
            # replaced the object. Either way there is nothing left to release.
            if exc.code not in (404, 422):
                raise
