"""Where the kubelet learns which pods to run: the API's pods bound to this node.

Mirrors upstream's apiserver config source (`pkg/kubelet/config/apiserver.go`: a list-watch of
pods with the field selector `spec.nodeName=<node>`) merged with the file source
(`kajitori.kubelet.staticpods`) as `pkg/kubelet/config/config.go` merges them: every pod added
or changed goes to the pod workers (`update_pod`), a pod whose deletion was requested too (its
`deletionTimestamp` tells the worker to stop it with its grace period), and a pod gone from the
API is handed over as deleted once more and then `forget`-ten (upstream's REMOVE, which kills
a pod still running, as after a force deletion).

Mirror pods (the API copies of static pods) are not run: they only tell the static pods'
source that a mirror changed or went (`StaticPods.mirror_changed`), so it recreates it.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

from kajitori.api import meta
from kajitori.client import informer, rest
from kajitori.kubelet import staticpods

Obj = dict[str, Any]

log = logging.getLogger(__name__)

PODS = ("", "v1", "pods")


def node_pods_selector(node_name: str) -> str:
    return f"spec.nodeName={node_name}"


def as_deleted(pod: Obj, *, now: str) -> Obj:
    """`pod` with a deletion requested: its own deletionTimestamp if it has one, else `now`
    and no grace period (the object is already gone from the API)."""
    if meta.deletion_timestamp(pod):
        return pod
    gone = copy.deepcopy(pod)
    gone["metadata"]["deletionTimestamp"] = now
    gone["metadata"]["deletionGracePeriodSeconds"] = 0
    return gone


class PodSource:
    """The API pods of one node, fed to `updates` as they change, until cancelled (`run`).
    `pods` is the informer, for anyone who needs the API's copy of a pod (the mirror pods of
    static pods are looked up there)."""

    def __init__(self, client: rest.RESTClient, *, node_name: str,
                 updates: staticpods.PodUpdates,
                 on_mirror_change: Callable[[], None] = lambda: None,
                 now: Callable[[], str] = meta.now) -> None:
        self._updates = updates
        self._on_mirror_change = on_mirror_change
        self._now = now
        self.pods = informer.Informer(
            rest.ListWatch(client, *PODS, field_selector=node_pods_selector(node_name)),
            name="kubelet-pods")
        self.pods.add_handlers(on_add=self.add_pod,
                               on_update=lambda _old, new: self.add_pod(new),
                               on_delete=self.delete_pod)

    def mirror_pod(self, namespace: str, name: str) -> Obj | None:
        """The mirror pod `namespace/name` as the informer last saw it, or None."""
        pod = self.pods.cache.get(f"{namespace}/{name}")
        return pod if pod is not None and staticpods.is_mirror_pod(pod) else None

    def add_pod(self, pod: Obj) -> None:
        """The informer's add and update handler."""
        if staticpods.is_mirror_pod(pod):
            self._on_mirror_change()
            return
        self._updates.update_pod(pod)

    def delete_pod(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        """The informer's delete handler."""
        pod = informer.deleted_object(obj)
        if staticpods.is_mirror_pod(pod):
            self._on_mirror_change()
            return
        self._updates.update_pod(as_deleted(pod, now=self._now()))
        self._updates.forget(meta.uid(pod))

    async def run(self) -> None:
        await self.pods.run()
