"""The scale subresource through the full HTTP stack, as `kubectl scale` drives it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from conftest import API

Obj = dict[str, Any]

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
RCS = "/api/v1/namespaces/default/replicationcontrollers"
MERGE = {"Content-Type": "application/merge-patch+json"}


def deployment(name: str, *, replicas: int = 2) -> Obj:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


async def create(api: API, path: str, obj: Obj) -> Obj:
    async with api.session.post(api.url(path), json=obj) as resp:
        assert resp.status == 201, await resp.text()
        return await resp.json()


async def test_get_scale_shows_parent_metadata_replicas_and_selector(api: API) -> None:
    created = await create(api, DEPLOYMENTS, deployment("web"))
    async with api.session.get(api.url(f"{DEPLOYMENTS}/web/scale")) as resp:
        assert resp.status == 200
        got = await resp.json()
    md = created["metadata"]
    assert got == {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": "web", "namespace": "default", "uid": md["uid"],
                     "resourceVersion": md["resourceVersion"],
                     "creationTimestamp": md["creationTimestamp"]},
        "spec": {"replicas": 2}, "status": {"replicas": 0, "selector": "app=web"}}


async def test_merge_patch_changes_only_spec_replicas_and_bumps_generation(api: API) -> None:
    await create(api, DEPLOYMENTS, deployment("web"))
    async with api.session.patch(api.url(f"{DEPLOYMENTS}/web/scale"),
                                 data=b'{"spec":{"replicas":4}}', headers=MERGE) as resp:
        assert resp.status == 200, await resp.text()
        got = await resp.json()
    assert got["spec"] == {"replicas": 4}
    async with api.session.get(api.url(f"{DEPLOYMENTS}/web")) as resp:
        parent = await resp.json()
    assert parent["spec"]["replicas"] == 4
    assert parent["metadata"]["generation"] == 2
    assert parent["metadata"]["resourceVersion"] == got["metadata"]["resourceVersion"]


async def test_json_and_strategic_patches_apply_to_the_scale(api: API) -> None:
    await create(api, DEPLOYMENTS, deployment("web"))
    json_patch = b'[{"op":"replace","path":"/spec/replicas","value":5}]'
    async with api.session.patch(
            api.url(f"{DEPLOYMENTS}/web/scale"), data=json_patch,
            headers={"Content-Type": "application/json-patch+json"}) as resp:
        assert (await resp.json())["spec"]["replicas"] == 5
    async with api.session.patch(
            api.url(f"{DEPLOYMENTS}/web/scale"), data=b'{"spec":{"replicas":1}}',
            headers={"Content-Type": "application/strategic-merge-patch+json"}) as resp:
        assert (await resp.json())["spec"]["replicas"] == 1


async def test_put_without_content_type_with_current_resource_version(api: API) -> None:
    await create(api, DEPLOYMENTS, deployment("web"))
    async with api.session.get(api.url(f"{DEPLOYMENTS}/web/scale")) as resp:
        current = await resp.json()
    current["spec"]["replicas"] = 3
    async with api.session.put(api.url(f"{DEPLOYMENTS}/web/scale"),
                               data=orjson.dumps(current),
                               skip_auto_headers=["Content-Type"]) as resp:
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["spec"]["replicas"] == 3


async def test_put_with_stale_resource_version_is_conflict(api: API) -> None:
    await create(api, DEPLOYMENTS, deployment("web"))
    async with api.session.get(api.url(f"{DEPLOYMENTS}/web/scale")) as resp:
        stale = await resp.json()
    async with api.session.patch(api.url(f"{DEPLOYMENTS}/web/scale"),
                                 data=b'{"spec":{"replicas":4}}', headers=MERGE):
        pass
    stale["spec"]["replicas"] = 9
    async with api.session.put(api.url(f"{DEPLOYMENTS}/web/scale"), json=stale) as resp:
        assert resp.status == 409
        status = await resp.json()
    assert status["message"] == (
        'Operation cannot be fulfilled on deployments.apps "web": the object has been '
        "modified; please apply your changes to the latest version and try again")


async def test_negative_replicas_are_invalid(api: API) -> None:
    await create(api, DEPLOYMENTS, deployment("web"))
    async with api.session.patch(api.url(f"{DEPLOYMENTS}/web/scale"),
                                 data=b'{"spec":{"replicas":-1}}', headers=MERGE) as resp:
        assert resp.status == 422
        status = await resp.json()
    assert status["message"] == ('Scale.autoscaling "web" is invalid: spec.replicas: '
                                 "Invalid value: -1: must be greater than or equal to 0")
    assert status["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.replicas",
        "message": "Invalid value: -1: must be greater than or equal to 0"}]


async def test_scale_of_missing_parent_is_not_found(api: API) -> None:
    async with api.session.get(api.url(f"{DEPLOYMENTS}/nope/scale")) as resp:
        assert resp.status == 404
        assert (await resp.json())["message"] == 'deployments.apps "nope" not found'


async def test_replication_controller_scale_prints_its_map_selector(api: API) -> None:
    rc = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc"},
          "spec": {"replicas": 1, "selector": {"b": "2", "a": "1"},
                   "template": {"metadata": {"labels": {"a": "1", "b": "2"}},
                                "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    await create(api, RCS, rc)
    async with api.session.get(api.url(f"{RCS}/rc/scale")) as resp:
        got = await resp.json()
    assert got["status"] == {"replicas": 0, "selector": "a=1,b=2"}


async def test_scale_of_a_kind_without_one_is_not_found(api: API) -> None:
    async with api.session.get(
            api.url("/apis/apps/v1/namespaces/default/daemonsets/x/scale")) as resp:
        assert resp.status == 404


async def test_scale_as_table_prints_desired_and_available(api: API) -> None:
    await create(api, DEPLOYMENTS, deployment("web", replicas=3))
    async with api.session.get(
            api.url(f"{DEPLOYMENTS}/web/scale"),
            headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}) as resp:
        table = await resp.json()
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name", "Desired", "Available", "Age"]
    assert table["columnDefinitions"][0]["format"] == ""
    [row] = table["rows"]
    assert row["cells"][:3] == ["web", 3, 0]
