"""The garbage collector's graph: which nodes land on which queue as objects change."""

from __future__ import annotations

from kajitori.client import workqueue
from kajitori.controllers import graphbuilder as gb


def builder() -> gb.GraphBuilder:
    return gb.GraphBuilder(informers=None,  # type: ignore[arg-type]
                           attempt_to_delete=workqueue.RateLimitingQueue(name="delete"),
                           attempt_to_orphan=workqueue.RateLimitingQueue(name="orphan"),
                           ignored_resources=frozenset())


def owner_ref(uid: str, *, block: bool = False) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"d-{uid}", "uid": uid,
            "blockOwnerDeletion": block}


def obj(uid: str, *owners: dict, kind: str = "ConfigMap", **metadata: object) -> dict:
    api_version = "apps/v1" if kind == "Deployment" else "v1"
    name = f"d-{uid}" if kind == "Deployment" else f"cm-{uid}"
    return {"apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": "ns", "uid": uid,
                         "resourceVersion": "1", "ownerReferences": list(owners), **metadata}}


def drain(queue: workqueue.RateLimitingQueue[gb.Node]) -> list[str]:
    names = []
    while len(queue):
        node = queue._queue.popleft()
        queue._dirty.discard(node)
        names.append(f"{node.identity.name}{' (virtual)' if node.virtual else ''}")
    return names


def test_owner_not_yet_seen_becomes_a_virtual_node_to_verify() -> None:
    graph = builder()
    graph.process_event(gb.Event(gb.ADD, obj("c1", owner_ref("o1"))))
    owner = graph.uid_to_node["o1"]
    assert owner.virtual
    assert owner.identity == gb.ObjectReference("apps/v1", "Deployment", "d-o1", "o1", "ns")
    assert drain(graph._attempt_to_delete) == ["d-o1 (virtual)"]
    graph.process_event(gb.Event(gb.ADD, obj("o1", kind="Deployment")))
    assert not owner.virtual
    assert [d.identity.uid for d in owner.dependents] == ["c1"]


def test_owner_seen_first_needs_no_verification() -> None:
    graph = builder()
    graph.process_event(gb.Event(gb.ADD, obj("o1", kind="Deployment")))
    graph.process_event(gb.Event(gb.ADD, obj("c1", owner_ref("o1"))))
    assert drain(graph._attempt_to_delete) == []


def test_foreground_deletion_queues_dependents_and_owner() -> None:
    graph = builder()
    graph.process_event(gb.Event(gb.ADD, obj("o1", kind="Deployment")))
    graph.process_event(gb.Event(gb.ADD, obj("c1", owner_ref("o1", block=True))))
    deleting = obj("o1", kind="Deployment", deletionTimestamp="2025-01-01T00:00:00Z",
                   finalizers=["foregroundDeletion"])
    deleting["metadata"]["resourceVersion"] = "2"
    graph.process_event(gb.Event(gb.UPDATE, deleting, old=obj("o1", kind="Deployment")))
    assert graph.uid_to_node["o1"].deleting_dependents
    assert drain(graph._attempt_to_delete) == ["cm-c1", "d-o1"]
    assert [n.identity.uid for n in graph.uid_to_node["o1"].blocking_dependents()] == ["c1"]


def test_orphan_finalizer_queues_the_owner_to_orphan() -> None:
    graph = builder()
    graph.process_event(gb.Event(gb.ADD, obj("o1", kind="Deployment",
                                             deletionTimestamp="2025-01-01T00:00:00Z",
                                             finalizers=["orphan"])))
    assert drain(graph._attempt_to_orphan) == ["d-o1"]
    assert drain(graph._attempt_to_delete) == []


def test_deleted_owner_queues_its_dependents_and_is_remembered_absent() -> None:
    graph = builder()
    graph.process_event(gb.Event(gb.ADD, obj("o1", kind="Deployment")))
    graph.process_event(gb.Event(gb.ADD, obj("c1", owner_ref("o1"))))
    graph.process_event(gb.Event(gb.DELETE, obj("o1", kind="Deployment")))
    assert "o1" not in graph.uid_to_node
    assert drain(graph._attempt_to_delete) == ["cm-c1"]
    assert gb.ObjectReference("apps/v1", "Deployment", "d-o1", "o1", "ns") in \
        graph.absent_owner_cache


def test_dependent_dropping_its_blocking_reference_frees_a_waiting_owner() -> None:
    graph = builder()
    graph.process_event(gb.Event(gb.ADD, obj("o1", kind="Deployment",
                                             deletionTimestamp="2025-01-01T00:00:00Z",
                                             finalizers=["foregroundDeletion"])))
    graph.process_event(gb.Event(gb.ADD, obj("c1", owner_ref("o1", block=True))))
    drain(graph._attempt_to_delete)
    released = obj("c1")
    released["metadata"]["resourceVersion"] = "2"
    graph.process_event(gb.Event(gb.UPDATE, released, old=obj("c1", owner_ref("o1", block=True))))
    assert drain(graph._attempt_to_delete) == ["d-o1"]
    assert graph.uid_to_node["o1"].dependents == set()


def test_resync_with_the_same_version_is_ignored() -> None:
    graph = builder()
    same = obj("c1", owner_ref("o1"))
    graph._queue(gb.UPDATE, same, "v1", "ConfigMap", old=same)
    graph.process_pending()
    assert graph.uid_to_node == {}


def test_virtual_delete_removes_the_virtual_owner_and_queues_its_dependents() -> None:
    graph = builder()
    graph.process_event(gb.Event(gb.ADD, obj("c1", owner_ref("o1"))))
    drain(graph._attempt_to_delete)
    graph.enqueue_virtual_delete(graph.uid_to_node["o1"].identity)
    graph.process_pending()
    assert "o1" not in graph.uid_to_node
    assert drain(graph._attempt_to_delete) == ["cm-c1"]


def test_virtual_delete_under_other_coordinates_keeps_an_observed_node() -> None:
    graph = builder()
    graph.process_event(gb.Event(gb.ADD, obj("o1", kind="Deployment")))
    graph.process_event(gb.Event(gb.ADD, obj("c1", owner_ref("o1"))))
    graph.enqueue_virtual_delete(gb.ObjectReference("apps/v1", "Deployment", "d-o1", "o1",
                                                    "elsewhere"))
    graph.process_pending()
    assert "o1" in graph.uid_to_node
    assert drain(graph._attempt_to_delete) == []
