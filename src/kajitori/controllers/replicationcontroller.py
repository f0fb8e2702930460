"""The replication controller: ReplicationControllers run by the ReplicaSet controller.

Mirrors pkg/controller/replication (replication_controller.go, conversion.go): upstream wraps
the ReplicaSet controller in adapters that convert each ReplicationController to a ReplicaSet
on the way in and back on the way out. Here the conversion is `as_replicaset`, given to
`replicaset.ReplicaSetController` through its `ReplicaSetKind`: the equality-based
`spec.selector` map becomes `matchLabels`; apiVersion, kind and metadata stay the
ReplicationController's, so controllerRefs and events name it. Status has the same fields in
both kinds and is written to `replicationcontrollers/<name>/status` unchanged.
"""

from __future__ import annotations

from typing import Any

from kajitori.client import events, informer, rest
from kajitori.controllers import podcontrol, replicaset

Obj = dict[str, Any]

REPLICATION_CONTROLLERS = ("", "v1", "replicationcontrollers")
PODS = replicaset.PODS
CONTROLLER_NAME = "replication-controller"
"""The component its events are reported by (upstream's event source)."""


def as_replicaset(rc: Obj) -> Obj:
    """The ReplicationController read as a ReplicaSet: a shallow copy whose spec carries a
    LabelSelector. A missing selector (the apiserver defaults it from the template's labels)
    selects nothing, as upstream's conversion of an empty map does."""
    spec = dict(rc.get("spec") or {})
    selector = spec.get("selector")
    spec["selector"] = {"matchLabels": dict(selector)} if selector else None
    return {**rc, "spec": spec}


REPLICATION_CONTROLLER_KIND = replicaset.ReplicaSetKind(
    resource=REPLICATION_CONTROLLERS, kind="ReplicationController",
    queue_name="replicationmanager", as_replicaset=as_replicaset)


def new_replication_manager(client: rest.RESTClient, *, informers: informer.SharedInformerFactory,
                            settings: replicaset.ReplicaSetSettings | None = None
                            ) -> replicaset.ReplicaSetController:
    """The replication controller on `informers`, writing through `client` and reporting
    events as `replication-controller` (upstream's NewReplicationManager)."""
    recorder = events.EventRecorder(client, component=CONTROLLER_NAME)
    return replicaset.ReplicaSetController(
        client=client, replicasets=informers.informer_for(*REPLICATION_CONTROLLERS),
        pods=informers.informer_for(*PODS),
        pod_control=podcontrol.RealPodControl(client, recorder=recorder),
        kind=REPLICATION_CONTROLLER_KIND, settings=settings, recorder=recorder)
