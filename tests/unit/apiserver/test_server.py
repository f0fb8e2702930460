"""The API server in-process over plain HTTP: authentication, discovery, routing errors and the
objects every cluster starts with."""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp

from kajitori.apiserver.server import APIServer

if TYPE_CHECKING:
    from conftest import API  # the fixture's type, from this directory's conftest.py

DISCOVERY_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
NOT_FOUND = "the server could not find the requested resource"
METHOD_NOT_ALLOWED = "the server does not allow this method on the requested resource"


async def test_request_without_token_is_unauthorized(api: API) -> None:
    async with aiohttp.ClientSession() as anonymous, \
            anonymous.get(api.url("/api/v1/namespaces")) as resp:
        assert resp.status == 401
        body = await resp.json()
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


async def test_request_with_unknown_token_is_unauthorized(api: API) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer nope"}) as stranger, \
            stranger.get(api.url("/api/v1/namespaces")) as resp:
        assert resp.status == 401


async def test_health_and_version_need_no_token(api: API) -> None:
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.get(api.url("/healthz")) as resp:
            assert resp.status == 200
            assert await resp.text() == "ok"
        async with anonymous.get(api.url("/version")) as resp:
            assert resp.status == 200
            version = await resp.json()
    assert version["major"] == "1"
    assert version["minor"].startswith("33")


async def test_discovery_answers_304_to_its_etag(api: API) -> None:
    headers = {"Accept": f"{DISCOVERY_V2},application/json"}
    async with api.session.get(api.url("/apis"), headers=headers) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == DISCOVERY_V2
        etag = resp.headers["ETag"]
        assert (await resp.json())["kind"] == "APIGroupDiscoveryList"
    async with api.session.get(api.url("/apis"),
                               headers={**headers, "If-None-Match": etag}) as resp:
        assert resp.status == 304
        assert resp.headers["ETag"] == etag
        assert await resp.read() == b""
    async with api.session.get(api.url("/apis"),
                               headers={**headers, "If-None-Match": '"stale"'}) as resp:
        assert resp.status == 200


async def test_legacy_discovery(api: API) -> None:
    async with api.session.get(api.url("/api/v1")) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["kind"] == "APIResourceList"
    assert "configmaps" in {r["name"] for r in body["resources"]}


async def test_openapi_v3_index(api: API) -> None:
    async with api.session.get(api.url("/openapi/v3")) as resp:
        assert resp.status == 200
        etag = resp.headers["ETag"]
        index = await resp.json()
    assert index["paths"]["api/v1"]["serverRelativeURL"].startswith("/openapi/v3/api/v1?hash=")
    assert "apis/apps/v1" in index["paths"]
    async with api.session.get(api.url("/openapi/v3"),
                               headers={"If-None-Match": etag}) as resp:
        assert resp.status == 304
    async with api.session.get(api.url(index["paths"]["apis/apps/v1"]["serverRelativeURL"])) \
            as resp:
        assert resp.status == 200
        document = await resp.json()
    assert "io.k8s.api.apps.v1.Deployment" in document["components"]["schemas"]


async def test_unknown_resource_is_not_found(api: API) -> None:
    for path in ("/api/v1/namespaces/default/widgets", "/apis/example.com/v1/widgets",
                 "/openapi/v3/apis/example.com/v1", "/nothing"):
        async with api.session.get(api.url(path)) as resp:
            assert resp.status == 404, path
            body = await resp.json()
        assert body["message"] == NOT_FOUND, path
        assert body["reason"] == "NotFound"


async def test_namespaced_resource_named_without_namespace_is_not_found(api: API) -> None:
    async with api.session.get(api.url("/api/v1/configmaps/x")) as resp:
        assert resp.status == 404
        assert (await resp.json())["message"] == NOT_FOUND


async def test_verb_the_resource_lacks_is_method_not_allowed(api: API) -> None:
    # namespaces have no deletecollection
    async with api.session.delete(api.url("/api/v1/namespaces")) as resp:
        assert resp.status == 405
        body = await resp.json()
    assert body["reason"] == "MethodNotAllowed"
    assert body["message"] == METHOD_NOT_ALLOWED


async def test_write_to_discovery_is_method_not_allowed(api: API) -> None:
    async with api.session.post(api.url("/api"), json={}) as resp:
        assert resp.status == 405


async def test_system_namespaces_are_bootstrapped(api: API) -> None:
    async with api.session.get(api.url("/api/v1/namespaces")) as resp:
        body = await resp.json()
    by_name = {ns["metadata"]["name"]: ns for ns in body["items"]}
    assert sorted(by_name) == ["default", "kube-node-lease", "kube-public", "kube-system"]
    assert by_name["kube-system"]["metadata"]["labels"] == {
        "kubernetes.io/metadata.name": "kube-system"}
    assert by_name["default"]["status"] == {"phase": "Active"}


async def test_kubernetes_service_is_bootstrapped(api: API) -> None:
    async with api.session.get(api.url("/api/v1/namespaces/default/services/kubernetes")) as resp:
        assert resp.status == 200
        service = await resp.json()
    assert service["spec"]["clusterIP"] == "10.96.0.1"
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"][0]["name"] == "https"
    assert service["spec"]["ports"][0]["port"] == 443
    assert service["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}


async def test_kubernetes_endpoints_point_at_the_listening_port(api: API) -> None:
    # A server asked for port 0 learns its port only when it binds; the kubernetes Service's
    # endpoints must carry that port, or in-cluster clients cannot reach the API.
    port = api.server.port
    async with api.session.get(api.url("/api/v1/namespaces/default/endpoints/kubernetes")) \
            as resp:
        endpoints = await resp.json()
    assert endpoints["subsets"][0]["addresses"] == [{"ip": "127.0.0.1"}]
    assert endpoints["subsets"][0]["ports"][0]["port"] == port
    async with api.session.get(api.url("/api/v1/namespaces/default/services/kubernetes")) as resp:
        service = await resp.json()
    assert service["spec"]["ports"][0]["targetPort"] == port
    path = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes"
    async with api.session.get(api.url(path)) as resp:
        assert (await resp.json())["ports"][0]["port"] == port


async def test_bootstrap_on_restart_keeps_what_exists(api: API) -> None:
    server: APIServer = api.server
    async with api.session.get(api.url("/api/v1/namespaces/default")) as resp:
        before = await resp.json()
    await server.stop()
    await server.start()
    async with api.session.get(api.url("/api/v1/namespaces/default")) as resp:
        after = await resp.json()
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
