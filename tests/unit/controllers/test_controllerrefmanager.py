"""The event-handler side of controller refs: which cached controller a controllerRef names,
and which controllers' selectors would adopt an orphan."""

from __future__ import annotations

from typing import Any

import fakecluster

from kajitori.controllers import controllerrefmanager

Obj = dict[str, Any]


def replicaset(name: str, uid: str, selector: Obj | None) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "default", "uid": uid},
            "spec": {"selector": selector}}


def ref(kind: str, name: str, uid: str) -> Obj:
    return {"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": uid, "controller": True}


def test_a_controller_ref_resolves_only_to_the_same_kind_name_and_uid() -> None:
    web = replicaset("web", "u1", {"matchLabels": {"app": "web"}})
    cache = fakecluster.seeded(web).cache
    resolve = controllerrefmanager.resolve_controller_ref
    assert resolve(cache, "default", ref("ReplicaSet", "web", "u1"), kind="ReplicaSet") == web
    assert resolve(cache, "default", ref("ReplicaSet", "web", "u0"), kind="ReplicaSet") is None
    assert resolve(cache, "default", ref("Deployment", "web", "u1"), kind="ReplicaSet") is None
    assert resolve(cache, "other", ref("ReplicaSet", "web", "u1"), kind="ReplicaSet") is None


def test_only_valid_non_empty_selectors_that_match_select_an_orphan() -> None:
    matching = replicaset("web", "u1", {"matchLabels": {"app": "web"}})
    other = replicaset("db", "u2", {"matchLabels": {"app": "db"}})
    empty = replicaset("all", "u3", {})
    invalid = replicaset("bad", "u4", {"matchExpressions": [
        {"key": "app", "operator": "Exists", "values": ["web"]}]})
    found = controllerrefmanager.selecting(
        [matching, other, empty, invalid], {"app": "web"},
        selector_of=lambda rs: rs["spec"]["selector"])
    assert found == [matching]
