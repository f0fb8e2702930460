"""POST pods/<name>/eviction through the full HTTP stack, as kubectl drain sends it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import API

Obj = dict[str, Any]

PODS = "/api/v1/namespaces/default/pods"
PDBS = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"


def eviction(name: str, **delete_options: Any) -> Obj:
    body: Obj = {"apiVersion": "policy/v1", "kind": "Eviction",
                 "metadata": {"name": name, "namespace": "default"}}
    if delete_options:
        body["deleteOptions"] = delete_options
    return body


async def post(api: API, path: str, obj: Obj) -> tuple[int, Obj, Any]:
    async with api.session.post(api.url(path), json=obj) as resp:
        return resp.status, await resp.json(), resp.headers


async def put(api: API, path: str, obj: Obj) -> Obj:
    async with api.session.put(api.url(path), json=obj) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def get(api: API, path: str) -> tuple[int, Obj]:
    async with api.session.get(api.url(path)) as resp:
        return resp.status, await resp.json()


async def running_pod(api: API, name: str, *, ready: bool = True, app: str = "web") -> Obj:
    code, created, _ = await post(api, PODS, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": app}},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]}})
    assert code == 201
    created["status"] = {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}
    return await put(api, f"{PODS}/{name}/status", created)


async def pdb(api: API, name: str, *, allowed: int, current: int = 3, desired: int = 2,
              app: str = "web", policy: str | None = None) -> Obj:
    spec: Obj = {"minAvailable": desired, "selector": {"matchLabels": {"app": app}}}
    if policy:
        spec["unhealthyPodEvictionPolicy"] = policy
    code, created, _ = await post(api, PDBS, {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
        "spec": spec})
    assert code == 201, created
    created["status"] = {"disruptionsAllowed": allowed, "currentHealthy": current,
                         "desiredHealthy": desired, "expectedPods": 3,
                         "observedGeneration": created["metadata"]["generation"]}
    return await put(api, f"{PDBS}/{name}/status", created)


async def test_eviction_without_a_budget_deletes_the_pod(api: API) -> None:
    await running_pod(api, "p")
    code, answer, _ = await post(api, f"{PODS}/p/eviction", eviction("p"))
    assert (code, answer) == (201, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                    "status": "Success", "code": 201})
    code, deleted = await get(api, f"{PODS}/p")
    # graceful deletion: the pod is marked, with the condition the eviction added
    assert code == 200
    assert deleted["metadata"]["deletionTimestamp"]
    target = [c for c in deleted["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert [(c["status"], c["reason"], c["message"]) for c in target] == \
        [("True", "EvictionByEvictionAPI", "Eviction API: evicting")]


async def test_eviction_honours_the_grace_period_of_its_delete_options(api: API) -> None:
    await running_pod(api, "p")
    code, _, _ = await post(api, f"{PODS}/p/eviction", eviction("p", gracePeriodSeconds=0))
    assert code == 201
    code, _ = await get(api, f"{PODS}/p")
    assert code == 404


async def test_eviction_spends_one_disruption_and_records_the_pod(api: API) -> None:
    await running_pod(api, "p")
    await pdb(api, "budget", allowed=1)
    code, _, _ = await post(api, f"{PODS}/p/eviction", eviction("p"))
    assert code == 201
    _, budget = await get(api, f"{PDBS}/budget")
    assert budget["status"]["disruptionsAllowed"] == 0
    assert list(budget["status"]["disruptedPods"]) == ["p"]
    (condition,) = budget["status"]["conditions"]
    assert (condition["type"], condition["status"], condition["reason"]) == \
        ("DisruptionAllowed", "False", "InsufficientPods")


async def test_eviction_a_budget_forbids_is_429_with_the_budget_cause(api: API) -> None:
    await running_pod(api, "p")
    await pdb(api, "budget", allowed=0, current=2, desired=2)
    code, status, headers = await post(api, f"{PODS}/p/eviction", eviction("p"))
    assert code == 429
    assert status["reason"] == "TooManyRequests"
    assert status["message"] == \
        "Cannot evict pod as it would violate the pod's disruption budget."
    assert status["details"]["causes"] == [{
        "reason": "DisruptionBudget",
        "message": "The disruption budget budget needs 2 healthy pods and has 2 currently"}]
    assert "Retry-After" not in headers
    code, kept = await get(api, f"{PODS}/p")
    assert code == 200
    assert "deletionTimestamp" not in kept["metadata"]


async def test_eviction_while_the_budget_status_lags_is_429_retry_after_10(api: API) -> None:
    await running_pod(api, "p")
    budget = await pdb(api, "budget", allowed=1)
    budget["spec"]["minAvailable"] = 1
    await put(api, f"{PDBS}/budget", budget)  # generation 2, status still at 1
    code, status, headers = await post(api, f"{PODS}/p/eviction", eviction("p"))
    assert (code, headers["Retry-After"], status["details"]["retryAfterSeconds"]) == \
        (429, "10", 10)
    assert status["details"]["causes"][0]["message"] == \
        "The disruption budget budget is still being processed by the server."


async def test_unready_pod_goes_when_the_budget_is_met(api: API) -> None:
    await running_pod(api, "p", ready=False)
    await pdb(api, "budget", allowed=0, current=2, desired=2)
    code, _, _ = await post(api, f"{PODS}/p/eviction", eviction("p"))
    assert code == 201
    _, budget = await get(api, f"{PDBS}/budget")
    assert budget["status"]["disruptionsAllowed"] == 0
    assert "disruptedPods" not in budget["status"]


async def test_unready_pod_with_always_allow_goes_even_below_budget(api: API) -> None:
    await running_pod(api, "p", ready=False)
    await pdb(api, "budget", allowed=0, current=1, desired=2, policy="AlwaysAllow")
    code, _, _ = await post(api, f"{PODS}/p/eviction", eviction("p"))
    assert code == 201


async def test_pending_pod_ignores_the_budget(api: API) -> None:
    code, _, _ = await post(api, PODS, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    assert code == 201
    await pdb(api, "budget", allowed=0)
    code, _, _ = await post(api, f"{PODS}/p/eviction", eviction("p"))
    assert code == 201


async def test_two_budgets_are_a_500_status(api: API) -> None:
    await running_pod(api, "p")
    await pdb(api, "one", allowed=1)
    await pdb(api, "two", allowed=1)
    code, status, _ = await post(api, f"{PODS}/p/eviction", eviction("p"))
    assert (code, status["status"], status["message"]) == (
        500, "Failure", "This pod has more than one PodDisruptionBudget, which the eviction "
                        "subresource does not support.")


async def test_dry_run_eviction_changes_nothing(api: API) -> None:
    await running_pod(api, "p")
    await pdb(api, "budget", allowed=1)
    code, _, _ = await post(api, f"{PODS}/p/eviction?dryRun=All", eviction("p"))
    assert code == 201
    _, budget = await get(api, f"{PDBS}/budget")
    assert budget["status"]["disruptionsAllowed"] == 1
    _, pod = await get(api, f"{PODS}/p")
    assert "deletionTimestamp" not in pod["metadata"]


async def test_eviction_name_must_match_the_url(api: API) -> None:
    await running_pod(api, "p")
    code, status, _ = await post(api, f"{PODS}/p/eviction", eviction("q"))
    assert (code, status["message"]) == \
        (400, "name in URL does not match name in Eviction object")


async def test_eviction_of_a_missing_pod_is_not_found(api: API) -> None:
    code, status, _ = await post(api, f"{PODS}/nope/eviction", eviction("nope"))
    assert (code, status["message"]) == (404, 'pods "nope" not found')
