"""pods/ephemeralcontainers through the full HTTP stack, as `kubectl debug` drives it: a
strategic-merge PATCH adds a container and changes nothing else; removals and unknown pods
answer as upstream."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import API

Obj = dict[str, Any]

PODS = "/api/v1/namespaces/default/pods"
STRATEGIC = {"Content-Type": "application/strategic-merge-patch+json"}
DEBUGGER = {"name": "debugger", "image": "busybox", "targetContainerName": "app",
            "stdin": True}


async def create_pod(api: API, name: str) -> Obj:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": [{"name": "app", "image": "nginx"}]}}
    async with api.session.post(api.url(PODS), json=pod) as resp:
        assert resp.status == 201, await resp.text()
        created: Obj = await resp.json()
        return created


async def test_strategic_patch_adds_an_ephemeral_container_and_nothing_else(api: API) -> None:
    created = await create_pod(api, "x")
    patch = {"metadata": {"labels": {"ignored": "yes"}},
             "spec": {"ephemeralContainers": [DEBUGGER],
                      "containers": [{"name": "app", "image": "changed"}]}}
    async with api.session.patch(api.url(f"{PODS}/x/ephemeralcontainers"), json=patch,
                                 headers=STRATEGIC) as resp:
        assert resp.status == 200, await resp.text()
        got = await resp.json()
    assert got["kind"] == "Pod"
    (debugger,) = got["spec"]["ephemeralContainers"]
    assert debugger["name"] == "debugger"
    assert debugger["terminationMessagePolicy"] == "File"  # defaulted as any container
    assert got["spec"]["containers"] == created["spec"]["containers"]
    assert "labels" not in got["metadata"]
    entry = got["metadata"]["managedFields"][-1]
    assert entry["subresource"] == "ephemeralcontainers"
    async with api.session.get(api.url(f"{PODS}/x/ephemeralcontainers")) as resp:
        assert resp.status == 200
        assert (await resp.json())["spec"]["ephemeralContainers"] == [debugger]


async def test_removing_an_ephemeral_container_is_invalid(api: API) -> None:
    await create_pod(api, "x")
    async with api.session.patch(api.url(f"{PODS}/x/ephemeralcontainers"),
                                 json={"spec": {"ephemeralContainers": [DEBUGGER]}},
                                 headers=STRATEGIC) as resp:
        pod = await resp.json()
    pod["spec"]["ephemeralContainers"] = []
    async with api.session.put(api.url(f"{PODS}/x/ephemeralcontainers"), json=pod) as resp:
        assert resp.status == 422
        status = await resp.json()
    assert status["message"] == ('Pod "x" is invalid: spec.ephemeralContainers: Forbidden: '
                                 'existing ephemeral containers "debugger" may not be removed\n')
    assert status["details"]["causes"][0]["field"] == "spec.ephemeralContainers"


async def test_an_unknown_pod_is_not_found_and_create_is_not_allowed(api: API) -> None:
    async with api.session.patch(api.url(f"{PODS}/nope/ephemeralcontainers"),
                                 json={"spec": {"ephemeralContainers": [DEBUGGER]}},
                                 headers=STRATEGIC) as resp:
        assert resp.status == 404
        assert (await resp.json())["message"] == 'pods "nope" not found'
    async with api.session.post(api.url(f"{PODS}/nope/ephemeralcontainers"), json={}) as resp:
        assert resp.status == 405
