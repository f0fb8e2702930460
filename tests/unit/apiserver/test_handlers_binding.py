"""POST pods/<name>/binding through the full HTTP stack, as a scheduler's bind sends it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import API

Obj = dict[str, Any]

PODS = "/api/v1/namespaces/default/pods"


def pod(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def binding(name: str, node: str, **metadata: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": name, **metadata},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}


async def post(api: API, path: str, obj: Obj) -> tuple[int, Obj]:
    async with api.session.post(api.url(path), json=obj) as resp:
        return resp.status, await resp.json()


async def test_binding_sets_node_name_and_pod_scheduled(api: API) -> None:
    code, created = await post(api, PODS, pod("x"))
    assert code == 201
    code, answer = await post(api, f"{PODS}/x/binding",
                              binding("x", "node-1", uid=created["metadata"]["uid"],
                                      annotations={"a": "b"}))
    assert (code, answer) == (201, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                    "status": "Success", "code": 201})
    async with api.session.get(api.url(f"{PODS}/x")) as resp:
        bound = await resp.json()
    assert bound["spec"]["nodeName"] == "node-1"
    assert bound["metadata"]["annotations"] == {"a": "b"}
    scheduled = [c for c in bound["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert [(c["status"], "reason" in c) for c in scheduled] == [("True", False)]


async def test_binding_an_assigned_pod_is_a_conflict_on_pods_binding(api: API) -> None:
    await post(api, PODS, pod("x"))
    await post(api, f"{PODS}/x/binding", binding("x", "node-1"))
    code, status = await post(api, f"{PODS}/x/binding", binding("x", "node-2"))
    assert code == 409
    assert status["message"] == \
        'Operation cannot be fulfilled on pods/binding "x": pod x is already assigned to node ' \
        '"node-1"'
    assert status["details"] == {"name": "x", "kind": "pods/binding"}


async def test_binding_with_a_stale_uid_fails_its_precondition(api: API) -> None:
    await post(api, PODS, pod("x"))
    code, status = await post(api, f"{PODS}/x/binding", binding("x", "node-1", uid="other"))
    assert code == 409
    assert status["message"].startswith(
        'Operation cannot be fulfilled on pods "x": Precondition failed: UID in precondition: '
        'other, UID in object meta: ')


async def test_binding_name_must_match_the_url(api: API) -> None:
    await post(api, PODS, pod("x"))
    code, status = await post(api, f"{PODS}/x/binding", binding("y", "node-1"))
    assert (code, status["message"]) == (400, "name in URL does not match name in Binding object")


async def test_binding_of_a_missing_pod_is_not_found(api: API) -> None:
    code, status = await post(api, f"{PODS}/nope/binding", binding("nope", "node-1"))
    assert (code, status["message"]) == (404, 'pods "nope" not found')


async def test_binding_without_a_target_name_is_refused(api: API) -> None:
    await post(api, PODS, pod("x"))
    code, status = await post(api, f"{PODS}/x/binding", binding("x", ""))
    assert (code, status["message"]) == \
        (500, "Internal error occurred: target.name: Required value")
