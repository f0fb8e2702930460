"""Writes the pod statuses the pod workers generate to the API, and deletes pods whose
deletion was requested once they have stopped.

Mirrors upstream v1.33's `pkg/kubelet/status/status_manager.go`: `SetPodStatus` caches the
newest status of each pod (a condition whose status did not change keeps the
lastTransitionTime it was last written with: `updateLastTransitionTime`) and marks the pod
dirty; `run` writes dirty pods one at a time as a JSON patch of pods/status that first tests
the pod's uid (a pod re-created under the same name is never written: the patch fails as a
whole) and then sets the whole status, only when the status differs from what was last
written or what the pod already shows. A pod with a deletionTimestamp whose worker reports
it terminated is then deleted with grace period 0 and a uid precondition (`canBeDeleted`,
`syncPod`), which is what removes it from `kubectl get pods`.

Every SYNC_PERIOD_SECONDS the newest status of each pod is compared with the API's copy of the
pod (`needsReconcile` in `syncBatch`; the copy is the kubelet's informer's, a static pod's
being its mirror pod): a pod whose status differs in anything the kubelet owns (a mirror pod
re-created without status, a status someone else overwrote) is written again.

Departures: a failed write is also retried after RETRY_SECONDS, not only at the next periodic
sync; static pods' statuses go to their mirror pod by name, without the uid precondition
(upstream translates the static pod's uid to the mirror pod's).
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kajitori.api import errors, meta
from kajitori.api import podstatus as apipodstatus
from kajitori.client import backoff, rest
from kajitori.client import clock as clock_

Obj = dict[str, Any]

log = logging.getLogger(__name__)

PODS = ("", "v1", "pods")
CONFIG_SOURCE_ANNOTATION = "kubernetes.io/config.source"
API_SOURCE = "api"
RETRY_SECONDS = 1.0
"""Seconds before a failed status write or delete is tried again."""
SYNC_PERIOD_SECONDS = 10.0
"""Seconds between comparisons of every pod's status with the API's (upstream's syncPeriod)."""


@dataclass
class _Entry:
    pod: Obj
    status: Obj
    terminated: bool = False
    written: Obj | None = None
    deleted: bool = False


def _keep_transition_times(status: Obj, before: Obj | None) -> Obj:
    """`status` with each condition whose status is the same as in `before` carrying
    `before`'s lastTransitionTime."""
    if not before:
        return status
    old = {c.get("type"): c for c in before.get("conditions") or []}
    conditions = []
    for condition in status.get("conditions") or []:
        previous = old.get(condition.get("type"))
        if previous is not None and previous.get("status") == condition.get("status") and \
                previous.get("lastTransitionTime"):
            condition = {**condition, "lastTransitionTime": previous["lastTransitionTime"]}
        conditions.append(condition)
    return {**status, "conditions": conditions} if "conditions" in status else status


def is_pod_status_by_kubelet_equal(api_status: Obj, status: Obj) -> bool:
    """Whether the API's `api_status` shows `status` (upstream's isPodStatusByKubeletEqual):
    equal but for the conditions others own (DisruptionTarget, readiness gates), which the
    kubelet carries over but does not decide."""

    def kubelet_part(pod_status: Obj) -> tuple[Obj, list[Obj]]:
        rest_of_it = {k: v for k, v in pod_status.items() if k != "conditions"}
        owned = [c for c in pod_status.get("conditions") or []
                 if c.get("type") in apipodstatus.KUBELET_CONDITIONS]
        return rest_of_it, owned

    return kubelet_part(api_status) == kubelet_part(status)


def _is_static(pod: Obj) -> bool:
    source = ((pod.get("metadata") or {}).get("annotations") or {}).get(
        CONFIG_SOURCE_ANNOTATION)
    return source is not None and source != API_SOURCE


class StatusManager:
    """The one writer of this node's pod statuses. `set_pod_status` may be called from any
    task and never blocks; `run()` (in the kubelet's TaskGroup) does the writing."""

    def __init__(self, client: rest.RESTClient, *, clock: clock_.Clock | None = None,
                 api_pod: Callable[[Obj], Obj | None] | None = None) -> None:
        """`clock` paces retries and the periodic sync; tests pass a FakeClock, the kubelet
        None (the loop's). `api_pod(pod)` is the API's copy of a pod the kubelet runs (a
        static pod's mirror pod), or None while it has none; None (some tests) never
        reconciles."""
        self._client = client
        self._clock: clock_.Clock = clock or clock_.LoopClock()
        self._api_pod = api_pod
        self._entries: dict[str, _Entry] = {}
        self._dirty: dict[str, None] = {}
        self._wake = asyncio.Event()

    def set_pod_status(self, pod: Obj, status: Obj, *, terminated: bool = False) -> None:
        """Record `status` as `pod`'s newest. `terminated`: the pod worker has stopped every
        container of the pod (and unmounted its volumes), so a pod being deleted may go."""
        uid = meta.uid(pod)
        entry = self._entries.get(uid)
        before = entry.status if entry else pod.get("status")
        status = _keep_transition_times(status, before)
        if entry is None:
            entry = self._entries[uid] = _Entry(pod=pod, status=status,
                                                written=pod.get("status") or None)
        entry.pod, entry.status, entry.terminated = pod, status, terminated
        if entry.status != entry.written or self._can_be_deleted(entry):
            self._mark(uid)

    def pod_status(self, pod_uid: str) -> Obj | None:
        """The newest status set for the pod, whether written yet or not."""
        entry = self._entries.get(pod_uid)
        return copy.deepcopy(entry.status) if entry else None

    def forget(self, pod_uid: str) -> None:
        """Drop what is known of a pod that is gone (idempotent)."""
        self._entries.pop(pod_uid, None)
        self._dirty.pop(pod_uid, None)

    def _mark(self, uid: str) -> None:
        self._dirty[uid] = None
        self._wake.set()

    @staticmethod
    def _can_be_deleted(entry: _Entry) -> bool:
        return entry.terminated and not entry.deleted and \
            bool(meta.deletion_timestamp(entry.pod))

    def reconcile(self) -> None:
        """Mark for writing every pod whose API copy does not show its newest status
        (upstream's needsReconcile), so the next write sets it whole."""
        if self._api_pod is None:
            return
        for uid, entry in self._entries.items():
            if entry.deleted:
                continue
            current = self._api_pod(entry.pod)
            if current is None:
                continue
            api_status = current.get("status") or {}
            if not is_pod_status_by_kubelet_equal(api_status, entry.status):
                log.info("the status of pod %s/%s differs from the API's, writing it again",
                         meta.namespace(entry.pod), meta.name(entry.pod))
                entry.written = api_status
                self._mark(uid)

    async def run(self) -> None:
        """Write dirty pods until cancelled, comparing every pod with the API's copy every
        SYNC_PERIOD_SECONDS; failures are logged and retried later."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._write_dirty())
            tasks.create_task(self._reconcile_periodically())

    async def _reconcile_periodically(self) -> None:
        while True:
            await self._clock.sleep(SYNC_PERIOD_SECONDS)
            self.reconcile()

    async def _write_dirty(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._dirty:
                uid = next(iter(self._dirty))
                del self._dirty[uid]
                try:
                    await self.sync_pod(uid)
                except backoff.RETRIABLE as exc:
                    log.warning("updating the status of pod %s failed, will retry: %s", uid, exc)
                    self._clock.call_at(self._clock.now() + RETRY_SECONDS,
                                        functools.partial(self._retry, uid))

    def _retry(self, uid: str) -> None:
        if uid in self._entries:
            self._mark(uid)

    async def sync_pod(self, uid: str) -> None:
        """Write the pod's status if it changed, then delete the pod if it may go. Raises
        StatusError and transport errors; a pod that is gone (404) or was replaced (409) is
        forgotten."""
        entry = self._entries.get(uid)
        if entry is None:
            return
        pod = entry.pod
        path = rest.resource_path(*PODS, namespace=meta.namespace(pod), name=meta.name(pod))
        try:
            if entry.status != entry.written:
                status = entry.status
                await self._client.patch(path + "/status", self._patch(pod, status),
                                         patch_type=rest.JSON_PATCH)
                entry.written = status
            if self._can_be_deleted(entry):
                options: Obj = {"apiVersion": "v1", "kind": "DeleteOptions",
                                "gracePeriodSeconds": 0}
                if not _is_static(pod):
                    options["preconditions"] = {"uid": uid}
                await self._client.delete(path, options=options)
                entry.deleted = True
        except errors.StatusError as exc:
            if exc.code in (404, 409, 422) and await self._replaced(path, uid):
                self.forget(uid)
                return
            raise

    async def _replaced(self, path: str, uid: str) -> bool:
        """Whether the pod at `path` is gone or is another pod than `uid` (a failed uid test
        is a 422, as a status the server refuses)."""
        try:
            current = await self._client.get(path)
        except errors.StatusError as exc:
            if exc.code == 404:
                return True
            raise
        return meta.uid(current) != uid

    @staticmethod
    def _patch(pod: Obj, status: Obj) -> list[Obj]:
        """Test the uid (not for static pods, whose mirror pod has its own), set the status."""
        patch = [{"op": "add", "path": "/status", "value": status}]
        if not _is_static(pod):
            patch.insert(0, {"op": "test", "path": "/metadata/uid", "value": meta.uid(pod)})
        return patch
