"""Create, get, list, update and delete through the full HTTP stack, as kubectl drives them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from kajitori.apiserver import body

if TYPE_CHECKING:
    from conftest import API  # the fixture's type, from this directory's conftest.py

Obj = dict[str, Any]

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
PODS = "/api/v1/namespaces/default/pods"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
PROTOBUF = "application/vnd.kubernetes.protobuf"
PROTOBUF_FIXTURES = Path(__file__).parent.parent / "api" / "protobuf_fixtures"


def configmap(name: str, **extra: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": {"k": "v"}, **extra}


def pod(name: str, *, node: str = "") -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "nginx"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


async def create(api: API, path: str, obj: Obj) -> Obj:
    async with api.session.post(api.url(path), json=obj) as resp:
        assert resp.status == 201, await resp.text()
        return await resp.json()


async def test_create_then_get(api: API) -> None:
    async with api.session.post(api.url(CONFIGMAPS), json=configmap("c")) as resp:
        assert resp.status == 201
        assert resp.headers["Content-Type"] == "application/json"
        assert "Warning" not in resp.headers
        created = await resp.json()
    assert created["metadata"]["namespace"] == "default"
    assert created["metadata"]["uid"]
    async with api.session.get(api.url(f"{CONFIGMAPS}/c")) as resp:
        assert resp.status == 200
        assert await resp.json() == created


async def test_get_missing_object_is_not_found(api: API) -> None:
    async with api.session.get(api.url(f"{CONFIGMAPS}/missing")) as resp:
        assert resp.status == 404
        assert await resp.json() == {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": 'configmaps "missing" not found', "reason": "NotFound",
            "details": {"name": "missing", "kind": "configmaps"}, "code": 404}


async def test_create_yaml_body(api: API) -> None:
    raw = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  k: v\n"
    async with api.session.post(api.url(CONFIGMAPS), data=raw,
                                headers={"Content-Type": "application/yaml"}) as resp:
        assert resp.status == 201
        assert (await resp.json())["data"] == {"k": "v"}


async def test_create_protobuf_body_as_kubectl_sends_it(api: API) -> None:
    # `kubectl create configmap cm1 --from-literal=a=b --from-literal=empty=`
    raw = (PROTOBUF_FIXTURES / "configmap.kubectl-1.33.pb").read_bytes()
    async with api.session.post(api.url(CONFIGMAPS), data=raw, headers={
            "Content-Type": PROTOBUF,
            "Accept": f"{PROTOBUF},application/json"}) as resp:
        assert resp.status == 201, await resp.text()
        assert resp.headers["Content-Type"] == "application/json"
        created = await resp.json()
    assert created["metadata"]["name"] == "cm1"
    assert created["data"] == {"a": "b", "empty": ""}


async def test_create_with_unknown_field_warns_by_default(api: API) -> None:
    async with api.session.post(api.url(CONFIGMAPS), json=configmap("c", bogus=1)) as resp:
        assert resp.status == 201
        assert resp.headers.getall("Warning") == ['299 - "unknown field \\"bogus\\""']
        assert "bogus" not in await resp.json()


async def test_create_with_unknown_field_in_strict_mode_is_bad_request(api: API) -> None:
    async with api.session.post(api.url(CONFIGMAPS), params={"fieldValidation": "Strict"},
                                json=configmap("c", bogus=1)) as resp:
        assert resp.status == 400
        assert (await resp.json())["message"] == (
            'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
            'unknown field "bogus"')


async def test_body_over_the_limit_is_413(api: API) -> None:
    big = b"x" * (body.MAX_BODY_BYTES + 1)
    async with api.session.post(api.url(CONFIGMAPS), data=big,
                                headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 413
        assert (await resp.json())["message"] == "Request entity too large: limit is 3145728"


async def test_existing_name_is_409(api: API) -> None:
    await create(api, CONFIGMAPS, configmap("c"))
    async with api.session.post(api.url(CONFIGMAPS), json=configmap("c")) as resp:
        assert resp.status == 409
        assert (await resp.json())["message"] == 'configmaps "c" already exists'


async def test_dry_run_create_stores_nothing(api: API) -> None:
    async with api.session.post(api.url(CONFIGMAPS), params={"dryRun": "All"},
                                json=configmap("c")) as resp:
        assert resp.status == 201
    async with api.session.get(api.url(f"{CONFIGMAPS}/c")) as resp:
        assert resp.status == 404


async def test_invalid_dry_run_value_is_refused_as_upstream_validates_options(api: API) -> None:
    async with api.session.post(api.url(CONFIGMAPS), params={"dryRun": "Yes"},
                                json=configmap("c")) as resp:
        assert resp.status == 422
        assert (await resp.json())["message"] == (
            'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: '
            '[]string{"Yes"}: supported values: "All"')


async def test_list_and_list_all_namespaces(api: API) -> None:
    await create(api, CONFIGMAPS, configmap("a"))
    await create(api, "/api/v1/namespaces/kube-system/configmaps", configmap("b"))
    async with api.session.get(api.url(CONFIGMAPS)) as resp:
        listed = await resp.json()
    assert (listed["kind"], listed["apiVersion"]) == ("ConfigMapList", "v1")
    assert [o["metadata"]["name"] for o in listed["items"]] == ["a"]
    async with api.session.get(api.url("/api/v1/configmaps")) as resp:
        everywhere = await resp.json()
    assert sorted(o["metadata"]["name"] for o in everywhere["items"]) == ["a", "b"]


async def test_list_with_selector_and_limit(api: API) -> None:
    for name in ("a", "b", "c"):
        obj = configmap(name)
        obj["metadata"]["labels"] = {"keep": "yes" if name != "b" else "no"}
        await create(api, CONFIGMAPS, obj)
    async with api.session.get(api.url(CONFIGMAPS), params={"labelSelector": "keep=yes"}) as resp:
        assert [o["metadata"]["name"] for o in (await resp.json())["items"]] == ["a", "c"]
    async with api.session.get(api.url(CONFIGMAPS), params={"limit": "2"}) as resp:
        page = await resp.json()
    assert [o["metadata"]["name"] for o in page["items"]] == ["a", "b"]
    assert page["metadata"]["remainingItemCount"] == 1
    async with api.session.get(api.url(CONFIGMAPS), params={
            "limit": "2", "continue": page["metadata"]["continue"]}) as resp:
        assert [o["metadata"]["name"] for o in (await resp.json())["items"]] == ["c"]


async def test_list_as_table(api: API) -> None:
    created = await create(api, CONFIGMAPS, configmap("c"))
    async with api.session.get(api.url(CONFIGMAPS), headers={"Accept": TABLE}) as resp:
        assert resp.status == 200
        table = await resp.json()
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    [row] = table["rows"]
    assert row["cells"][:2] == ["c", 1]
    assert row["object"] == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": created["metadata"]}
    assert table["metadata"]["resourceVersion"]


async def test_get_as_table(api: API) -> None:
    await create(api, CONFIGMAPS, configmap("c"))
    async with api.session.get(api.url(f"{CONFIGMAPS}/c"), headers={"Accept": TABLE}) as resp:
        table = await resp.json()
    assert table["kind"] == "Table"
    assert [row["cells"][0] for row in table["rows"]] == ["c"]


async def test_update_with_put(api: API) -> None:
    created = await create(api, CONFIGMAPS, configmap("c"))
    changed = {**created, "data": {"k": "new"}}
    async with api.session.put(api.url(f"{CONFIGMAPS}/c"), json=changed) as resp:
        assert resp.status == 200
        updated = await resp.json()
    assert updated["data"] == {"k": "new"}
    async with api.session.put(api.url(f"{CONFIGMAPS}/c"), json=changed) as resp:
        assert resp.status == 409  # created's resourceVersion is stale now
        assert (await resp.json())["reason"] == "Conflict"


async def test_put_without_content_type_is_json(api: API) -> None:
    # kubectl scale --current-replicas sends its PUT body without a Content-Type
    created = await create(api, CONFIGMAPS, configmap("c"))
    raw = orjson.dumps({**created, "data": {"k": "raw"}})
    async with api.session.put(api.url(f"{CONFIGMAPS}/c"), data=raw,
                               skip_auto_headers=["Content-Type"]) as resp:
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["data"] == {"k": "raw"}


async def test_status_subresource_update(api: API) -> None:
    created = await create(api, PODS, pod("p"))
    created["status"] = {"phase": "Running", "qosClass": "BestEffort"}
    created["spec"]["activeDeadlineSeconds"] = 5
    async with api.session.put(api.url(f"{PODS}/p/status"), json=created) as resp:
        assert resp.status == 200, await resp.text()
        updated = await resp.json()
    assert updated["status"]["phase"] == "Running"
    assert "activeDeadlineSeconds" not in updated["spec"]


async def test_unserved_subresource_is_not_found(api: API) -> None:
    await create(api, CONFIGMAPS, configmap("c"))
    async with api.session.get(api.url(f"{CONFIGMAPS}/c/status")) as resp:
        assert resp.status == 404


async def test_delete_configmap_answers_status(api: API) -> None:
    created = await create(api, CONFIGMAPS, configmap("c"))
    async with api.session.delete(api.url(f"{CONFIGMAPS}/c")) as resp:
        assert resp.status == 200
        assert await resp.json() == {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": "c", "kind": "configmaps", "uid": created["metadata"]["uid"]}}
    async with api.session.get(api.url(f"{CONFIGMAPS}/c")) as resp:
        assert resp.status == 404


async def test_delete_deployment_status_names_the_group(api: API) -> None:
    labels = {"app": "d"}
    created = await create(api, DEPLOYMENTS, {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    async with api.session.delete(api.url(f"{DEPLOYMENTS}/d")) as resp:
        assert (await resp.json())["details"] == {
            "name": "d", "group": "apps", "kind": "deployments", "uid": created["metadata"]["uid"]}


async def test_delete_pod_answers_the_pod(api: API) -> None:
    created = await create(api, PODS, pod("p"))
    async with api.session.delete(api.url(f"{PODS}/p")) as resp:
        assert resp.status == 200
        deleted = await resp.json()
    assert deleted["kind"] == "Pod"
    assert deleted["metadata"]["uid"] == created["metadata"]["uid"]


async def test_delete_bound_pod_answers_it_terminating(api: API) -> None:
    await create(api, PODS, pod("p", node="n1"))
    async with api.session.delete(api.url(f"{PODS}/p"),
                                  json={"gracePeriodSeconds": 10}) as resp:
        assert resp.status == 200
        deleted = await resp.json()
    assert deleted["metadata"]["deletionGracePeriodSeconds"] == 10
    async with api.session.get(api.url(f"{PODS}/p")) as resp:
        assert resp.status == 200
    async with api.session.delete(api.url(f"{PODS}/p"),
                                  params={"gracePeriodSeconds": "0"}) as resp:
        assert resp.status == 200
    async with api.session.get(api.url(f"{PODS}/p")) as resp:
        assert resp.status == 404


async def test_delete_with_propagation_policy_in_body(api: API) -> None:
    await create(api, CONFIGMAPS, configmap("c"))
    async with api.session.delete(api.url(f"{CONFIGMAPS}/c"), json={
            "kind": "DeleteOptions", "apiVersion": "v1",
            "propagationPolicy": "Foreground"}) as resp:
        assert resp.status == 200
        held = await resp.json()
    assert held["metadata"]["finalizers"] == ["foregroundDeletion"]


async def test_delete_with_unknown_propagation_policy_is_invalid(api: API) -> None:
    await create(api, CONFIGMAPS, configmap("c"))
    async with api.session.delete(api.url(f"{CONFIGMAPS}/c"),
                                  params={"propagationPolicy": "Sideways"}) as resp:
        assert resp.status == 422


async def test_delete_collection(api: API) -> None:
    for name in ("a", "b"):
        await create(api, CONFIGMAPS, configmap(name))
    async with api.session.delete(api.url(CONFIGMAPS)) as resp:
        assert resp.status == 200
        deleted = await resp.json()
    assert deleted["kind"] == "ConfigMapList"
    assert sorted(o["metadata"]["name"] for o in deleted["items"]) == ["a", "b"]
    async with api.session.get(api.url(CONFIGMAPS)) as resp:
        assert (await resp.json())["items"] == []


async def test_create_in_missing_namespace_is_not_found(api: API) -> None:
    async with api.session.post(api.url("/api/v1/namespaces/nowhere/configmaps"),
                                json=configmap("c")) as resp:
        assert resp.status == 404
        assert (await resp.json())["message"] == 'namespaces "nowhere" not found'


async def test_immortal_namespace_cannot_be_deleted(api: API) -> None:
    async with api.session.delete(api.url("/api/v1/namespaces/default")) as resp:
        assert resp.status == 403
        assert (await resp.json())["message"] == \
            'namespaces "default" is forbidden: this namespace may not be deleted'
