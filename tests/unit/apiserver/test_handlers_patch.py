"""PATCH over HTTP: JSON patch, merge patch, strategic merge patch and apply."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from conftest import API  # the fixture's type, from this directory's conftest.py

Obj = dict[str, Any]

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


def deployment(name: str) -> Obj:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "nginx:1"},
                                        {"name": "sidecar", "image": "busybox"}]}}}}


async def create(api: API, path: str, obj: Obj) -> Obj:
    async with api.session.post(api.url(path), json=obj) as resp:
        assert resp.status == 201, await resp.text()
        return await resp.json()


async def patch(api: API, path: str, document: Any, content_type: str, *,
                status: int = 200, **params: str) -> Obj:
    raw = document if isinstance(document, bytes) else orjson.dumps(document)
    async with api.session.patch(api.url(path), data=raw, params=params,
                                 headers={"Content-Type": content_type}) as resp:
        assert resp.status == status, await resp.text()
        return await resp.json()


async def configmap(api: API) -> Obj:
    return await create(api, CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": {"name": "c"}, "data": {"k": "v"}})


async def test_json_patch(api: API) -> None:
    created = await configmap(api)
    patched = await patch(api, f"{CONFIGMAPS}/c", [
        {"op": "replace", "path": "/data/k", "value": "new"},
        {"op": "add", "path": "/data/other", "value": "x"}], JSON_PATCH)
    assert patched["data"] == {"k": "new", "other": "x"}
    assert int(patched["metadata"]["resourceVersion"]) > \
        int(created["metadata"]["resourceVersion"])


async def test_json_patch_test_failure_is_refused(api: API) -> None:
    await configmap(api)
    body = await patch(api, f"{CONFIGMAPS}/c", [
        {"op": "test", "path": "/data/k", "value": "other"}], JSON_PATCH, status=422)
    assert body["reason"] == "Invalid"


async def test_merge_patch(api: API) -> None:
    await configmap(api)
    patched = await patch(api, f"{CONFIGMAPS}/c",
                          {"metadata": {"labels": {"a": "b"}}, "data": {"k": None, "n": "1"}},
                          MERGE_PATCH)
    assert patched["metadata"]["labels"] == {"a": "b"}
    assert patched["data"] == {"n": "1"}


async def test_strategic_merge_patch_merges_containers_by_name(api: API) -> None:
    await create(api, DEPLOYMENTS, deployment("d"))
    patched = await patch(api, f"{DEPLOYMENTS}/d", {"spec": {"template": {"spec": {
        "containers": [{"name": "web", "image": "nginx:2"}]}}}}, STRATEGIC)
    containers = patched["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("web", "nginx:2"),
                                                            ("sidecar", "busybox")]
    assert patched["metadata"]["generation"] == 2


async def test_patch_with_stale_resource_version_is_conflict(api: API) -> None:
    created = await configmap(api)
    await patch(api, f"{CONFIGMAPS}/c", {"data": {"k": "1"}}, MERGE_PATCH)
    body = await patch(api, f"{CONFIGMAPS}/c", {"metadata": {
        "resourceVersion": created["metadata"]["resourceVersion"]}, "data": {"k": "2"}},
        MERGE_PATCH, status=409)
    assert body["reason"] == "Conflict"


async def test_patch_of_missing_object_is_not_found(api: API) -> None:
    body = await patch(api, f"{CONFIGMAPS}/missing", {"data": {}}, MERGE_PATCH, status=404)
    assert body["message"] == 'configmaps "missing" not found'


async def test_unknown_patch_type_is_unsupported_media_type(api: API) -> None:
    await configmap(api)
    body = await patch(api, f"{CONFIGMAPS}/c", {"data": {}}, "application/json", status=415)
    assert body["reason"] == "UnsupportedMediaType"


async def test_dry_run_patch_stores_nothing(api: API) -> None:
    created = await configmap(api)
    patched = await patch(api, f"{CONFIGMAPS}/c", {"data": {"k": "dry"}}, MERGE_PATCH,
                          dryRun="All")
    assert patched["data"] == {"k": "dry"}
    async with api.session.get(api.url(f"{CONFIGMAPS}/c")) as resp:
        assert await resp.json() == created


async def test_apply_creates_then_updates(api: API) -> None:
    manifest = (b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n"
                b"data:\n  k: one\n")
    created = await patch(api, f"{CONFIGMAPS}/applied", manifest, APPLY, status=201,
                          fieldManager="kubectl")
    assert created["data"] == {"k": "one"}
    assert created["metadata"]["uid"]
    updated = await patch(api, f"{CONFIGMAPS}/applied", manifest.replace(b"one", b"two"), APPLY,
                          fieldManager="kubectl")
    assert updated["data"] == {"k": "two"}
    assert updated["metadata"]["uid"] == created["metadata"]["uid"]


async def test_apply_without_field_manager_is_refused(api: API) -> None:
    # Upstream's ValidatePatchOptions: 422 Invalid PatchOptions.
    manifest = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n"
    body = await patch(api, f"{CONFIGMAPS}/applied", manifest, APPLY, status=422)
    assert body["message"] == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required '
                               "value: is required for apply patch")
    async with api.session.get(api.url(f"{CONFIGMAPS}/applied")) as resp:
        assert resp.status == 404
