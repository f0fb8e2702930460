"""The disruption controller: PDB status from ready pods, minAvailable and maxUnavailable
against pod counts or controller scales, disruptedPods expiry, the condition, failSafe."""

from __future__ import annotations

import datetime
from typing import Any

import fakecluster

from kajitori.client import rest
from kajitori.controllers import disruption

Obj = dict[str, Any]

PDBS = fakecluster.path("policy", "v1", "poddisruptionbudgets", namespace="default")
NOW = datetime.datetime(2024, 1, 1, 0, 10, tzinfo=datetime.UTC)


class Events:
    """An EventRecorder stand-in keeping (reason, message) pairs."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def event(self, _obj: Obj, _type: str, reason: str, message: str) -> None:
        self.seen.append((reason, message))


async def make_pdb(client: rest.RESTClient, *, disrupted: dict[str, str] | None = None,
                   **spec: Any) -> Obj:
    created = await client.create(PDBS, {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "budget"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}})
    if disrupted:
        created["status"] = {"disruptedPods": disrupted, "currentHealthy": 0,
                             "desiredHealthy": 0, "expectedPods": 0, "disruptionsAllowed": 0}
        created = await client.update(f"{PDBS}/budget/status", created)
    return created


def pod(name: str, *, ready: bool = True, owner: Obj | None = None) -> Obj:
    md: Obj = {"name": name, "namespace": "default", "labels": {"app": "web"},
               "resourceVersion": "1"}
    if owner is not None:
        md["ownerReferences"] = [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                  "name": owner["metadata"]["name"],
                                  "uid": owner["metadata"]["uid"], "controller": True}]
    return {"metadata": md, "status": {"conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}}


def workload(kind: str, name: str, replicas: int, *, owner: Obj | None = None) -> Obj:
    md: Obj = {"name": name, "namespace": "default", "uid": f"{name}-uid"}
    if owner is not None:
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner["kind"],
                                  "name": owner["metadata"]["name"],
                                  "uid": owner["metadata"]["uid"], "controller": True}]
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": md,
            "spec": {"replicas": replicas}}


def controller(client: rest.RESTClient, pdb: Obj, pods: list[Obj], *,
               replica_sets: list[Obj] = (), deployments: list[Obj] = ()  # type: ignore[assignment]
               ) -> disruption.DisruptionController:
    return disruption.DisruptionController(
        client=client, pdbs=fakecluster.seeded(pdb), pods=fakecluster.seeded(*pods),
        replica_sets=fakecluster.seeded(*replica_sets),
        deployments=fakecluster.seeded(*deployments), stateful_sets=fakecluster.seeded(),
        replication_controllers=fakecluster.seeded(), now=lambda: NOW,
        recorder=Events())  # type: ignore[arg-type]


async def status(client: rest.RESTClient) -> Obj:
    return (await client.get(f"{PDBS}/budget"))["status"]


async def test_integer_min_available_counts_the_matching_pods(client: rest.RESTClient) -> None:
    pdb = await make_pdb(client, minAvailable=2)
    pods = [pod("a"), pod("b"), pod("c"), pod("d", ready=False)]
    await controller(client, pdb, pods).sync("default/budget")
    got = await status(client)
    assert {k: got[k] for k in ("currentHealthy", "desiredHealthy", "expectedPods",
                                "disruptionsAllowed", "observedGeneration")} == {
        "currentHealthy": 3, "desiredHealthy": 2, "expectedPods": 4, "disruptionsAllowed": 1,
        "observedGeneration": 1}
    (condition,) = got["conditions"]
    assert {k: condition[k] for k in ("type", "status", "reason", "message")} == {
        "type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods",
        "message": ""}


async def test_budget_met_exactly_allows_nothing(client: rest.RESTClient) -> None:
    pdb = await make_pdb(client, minAvailable=2)
    await controller(client, pdb, [pod("a"), pod("b")]).sync("default/budget")
    got = await status(client)
    assert got["disruptionsAllowed"] == 0
    assert got["conditions"][0]["reason"] == "InsufficientPods"


async def test_max_unavailable_uses_the_deployment_scale(client: rest.RESTClient) -> None:
    deployment = workload("Deployment", "web", 4)
    rs = workload("ReplicaSet", "web-abc", 4, owner=deployment)
    pdb = await make_pdb(client, maxUnavailable="25%")
    pods = [pod("a", owner=rs), pod("b", owner=rs), pod("c", owner=rs)]
    await controller(client, pdb, pods, replica_sets=[rs],
                     deployments=[deployment]).sync("default/budget")
    got = await status(client)
    assert (got["expectedPods"], got["desiredHealthy"], got["currentHealthy"],
            got["disruptionsAllowed"]) == (4, 3, 3, 0)


async def test_percentage_min_available_rounds_up(client: rest.RESTClient) -> None:
    rs = workload("ReplicaSet", "web-abc", 5)
    pdb = await make_pdb(client, minAvailable="50%")
    pods = [pod(n, owner=rs) for n in "abcde"]
    await controller(client, pdb, pods, replica_sets=[rs]).sync("default/budget")
    got = await status(client)
    assert (got["expectedPods"], got["desiredHealthy"], got["disruptionsAllowed"]) == (5, 3, 2)


async def test_missing_controller_fails_safe(client: rest.RESTClient) -> None:
    rs = workload("ReplicaSet", "web-abc", 5)
    pdb = await make_pdb(client, maxUnavailable=1)
    await controller(client, pdb, [pod("a", owner=rs)]).sync("default/budget")
    got = await status(client)
    assert got["disruptionsAllowed"] == 0
    (condition,) = got["conditions"]
    assert (condition["status"], condition["reason"], condition["message"]) == \
        ("False", "SyncFailed", 'found no controllers for pod "a"')


async def test_recent_disruptions_do_not_count_and_old_ones_expire(
        client: rest.RESTClient) -> None:
    recent = (NOW - datetime.timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    old = (NOW - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    pdb = await make_pdb(client, minAvailable=1, disrupted={"a": recent, "b": old})
    ctl = controller(client, pdb, [pod("a"), pod("b"), pod("c")])
    await ctl.sync("default/budget")
    got = await status(client)
    assert got["disruptedPods"] == {"a": recent}
    assert (got["currentHealthy"], got["disruptionsAllowed"]) == (2, 1)
    assert ("NotDeleted", "Pod was expected by PDB default/default to be deleted but it "
                          "wasn't") in ctl.recorder.seen  # type: ignore[attr-defined]


async def test_no_pods_is_an_event_and_allows_nothing(client: rest.RESTClient) -> None:
    pdb = await make_pdb(client, minAvailable=0)
    ctl = controller(client, pdb, [])
    await ctl.sync("default/budget")
    assert (await status(client))["disruptionsAllowed"] == 0
    assert ctl.recorder.seen == [("NoPods", "No matching pods found")]  # type: ignore[attr-defined]


def test_unmanaged_pods_message_prints_the_selector_as_go_does() -> None:
    assert disruption.unmanaged_pods_message({"matchLabels": {"app": "web"}}) == (
        "Pods selected by this PodDisruptionBudget (selector: &LabelSelector{MatchLabels:"
        "map[string]string{app: web,},MatchExpressions:[]LabelSelectorRequirement{},}) were "
        "found to be unmanaged. As a result, the status of the PDB cannot be calculated "
        "correctly, which may result in undefined behavior. To account for these pods please "
        'set ".spec.minAvailable" field of the PDB to an integer value.')
