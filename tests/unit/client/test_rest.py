"""The REST client against a fake server: paths, bodies, Status errors, watch streams, and
kubeconfig loading."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp import web
from fakeapi import FakeAPI, serving

from kajitori.api import errors
from kajitori.client import rest

EVENTS = "/api/v1/namespaces/ns/events"


def test_resource_paths() -> None:
    assert rest.resource_path("", "v1", "pods", namespace="ns", name="p",
                              subresource="status") == "/api/v1/namespaces/ns/pods/p/status"
    assert rest.resource_path("apps", "v1", "deployments") == "/apis/apps/v1/deployments"
    assert rest.resource_path("", "v1", "nodes", name="n") == "/api/v1/nodes/n"


async def test_create_get_and_patch_send_json_bodies() -> None:
    api = FakeAPI()
    async with serving(api) as client:
        created = await client.create(EVENTS, {"metadata": {"name": "e"}, "count": 1})
        assert created["metadata"]["resourceVersion"] == "1"
        await client.patch(f"{EVENTS}/e", {"count": 2}, patch_type=rest.STRATEGIC_MERGE_PATCH)
        got = await client.get(f"{EVENTS}/e")
    assert got["count"] == 2
    assert [(r.method, r.path, r.content_type) for r in api.requests] == [
        ("POST", EVENTS, "application/json"),
        ("PATCH", f"{EVENTS}/e", "application/strategic-merge-patch+json"),
        ("GET", f"{EVENTS}/e", "")]


async def test_status_answers_raise_status_errors() -> None:
    async with serving(FakeAPI()) as client:
        with pytest.raises(errors.StatusError) as caught:
            await client.get(f"{EVENTS}/missing")
    assert caught.value.code == 404
    assert caught.value.status["message"] == 'events "missing" not found'


async def test_a_non_status_error_body_still_raises_with_its_code() -> None:
    async def teapot(_request: web.Request) -> web.Response:
        return web.Response(status=503, text="upstream connect error",
                            headers={"Retry-After": "3"})

    api = FakeAPI()
    api.handle = teapot  # type: ignore[method-assign]
    async with serving(api) as client:
        with pytest.raises(errors.StatusError) as caught:
            await client.get("/api/v1/pods")
    assert caught.value.code == 503
    assert caught.value.status["message"] == "upstream connect error"


async def test_watch_yields_each_event_and_list_watch_passes_selectors() -> None:
    api = FakeAPI(watch_events=[{"type": "ADDED", "object": {"metadata": {"name": "a"}}},
                                {"type": "BOOKMARK", "object": {"metadata": {}}}])
    async with serving(api) as client:
        lw = rest.ListWatch(client, "", "v1", "pods", namespace="ns",
                            field_selector="spec.nodeName=n")
        events = [e async for e in lw.watch(resource_version="5", timeout_seconds=60)]
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert api.requests[0].path == "/api/v1/namespaces/ns/pods"


def test_load_kubeconfig_reads_the_current_context(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: b\n"
        "clusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:8080/'}\n"
        "contexts:\n- name: a\n  context: {cluster: x, user: x}\n"
        "- name: b\n  context: {cluster: c, user: u}\n"
        "users:\n- name: u\n  user: {token: secret}\n")
    config = rest.load_kubeconfig(kubeconfig)
    assert (config.server, config.token, config.ssl_context) == (
        "http://127.0.0.1:8080", "secret", None)


def test_load_kubeconfig_without_the_named_context_fails(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("current-context: nope\ncontexts: []\n")
    with pytest.raises(ValueError, match="no context named 'nope'"):
        rest.load_kubeconfig(kubeconfig)
