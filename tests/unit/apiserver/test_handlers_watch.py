"""Watch over HTTP: a chunked stream of JSON lines, as client-go's watch decoder reads it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

if TYPE_CHECKING:
    from conftest import API  # the fixture's type, from this directory's conftest.py

Obj = dict[str, Any]

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def configmap(name: str, **labels: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}


async def create(api: API, path: str, obj: Obj) -> Obj:
    async with api.session.post(api.url(path), json=obj) as resp:
        assert resp.status == 201, await resp.text()
        return await resp.json()


class Stream:
    """One watch response, read line by line."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.resp = resp

    async def next(self) -> Obj:
        line = await self.resp.content.readline()
        assert line, "the watch ended"
        assert line.endswith(b"\n")
        return orjson.loads(line)

    async def ended(self) -> bool:
        return await self.resp.content.readline() == b""


@contextlib.asynccontextmanager
async def watch(api: API, path: str = CONFIGMAPS, **params: str) -> AsyncIterator[Stream]:
    headers = {"Accept": params.pop("accept")} if "accept" in params else {}
    async with api.session.get(api.url(path), params={"watch": "true", **params},
                               headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.headers["Content-Type"] == "application/json"
        assert resp.headers["Transfer-Encoding"] == "chunked"
        yield Stream(resp)


async def test_resource_version_0_starts_with_existing_objects(api: API) -> None:
    first = await create(api, CONFIGMAPS, configmap("a"))
    async with watch(api, resourceVersion="0") as stream:
        event = await stream.next()
        assert event == {"type": "ADDED", "object": first}
        later = await create(api, CONFIGMAPS, configmap("b"))
        assert await stream.next() == {"type": "ADDED", "object": later}


async def test_unset_resource_version_starts_with_existing_objects(api: API) -> None:
    await create(api, CONFIGMAPS, configmap("a"))
    async with watch(api) as stream:
        event = await stream.next()
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "a")


async def test_changes_after_a_resource_version(api: API) -> None:
    created = await create(api, CONFIGMAPS, configmap("a"))
    async with watch(api, resourceVersion=created["metadata"]["resourceVersion"]) as stream:
        changed = {**created, "data": {"k": "changed"}}
        async with api.session.put(api.url(f"{CONFIGMAPS}/a"), json=changed) as resp:
            modified = await resp.json()
        assert await stream.next() == {"type": "MODIFIED", "object": modified}
        async with api.session.delete(api.url(f"{CONFIGMAPS}/a")) as resp:
            assert resp.status == 200
        deleted = await stream.next()
    assert deleted["type"] == "DELETED"
    assert deleted["object"]["kind"] == "ConfigMap"
    assert deleted["object"]["metadata"]["uid"] == created["metadata"]["uid"]


async def test_watch_sees_only_its_namespace_and_selection(api: API) -> None:
    async with watch(api, resourceVersion="0", labelSelector="pick=yes") as stream:
        await create(api, "/api/v1/namespaces/kube-system/configmaps", configmap("x", pick="yes"))
        await create(api, CONFIGMAPS, configmap("skip", pick="no"))
        await create(api, CONFIGMAPS, configmap("take", pick="yes"))
        event = await stream.next()
    assert event["object"]["metadata"]["name"] == "take"


async def test_legacy_watch_path(api: API) -> None:
    await create(api, CONFIGMAPS, configmap("a"))
    async with api.session.get(api.url("/api/v1/watch/namespaces/default/configmaps"),
                               params={"resourceVersion": "0"}) as resp:
        assert resp.status == 200
        event = orjson.loads(await resp.content.readline())
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "a")


async def test_timeout_seconds_ends_the_stream(api: API) -> None:
    await create(api, CONFIGMAPS, configmap("a"))
    async with watch(api, resourceVersion="0", timeoutSeconds="1") as stream:
        assert (await stream.next())["type"] == "ADDED"
        assert await stream.ended()


async def test_timeout_seconds_0_means_the_default(api: API) -> None:
    # Upstream: a zero timeoutSeconds is "not set", and the server picks its own timeout.
    created = await create(api, CONFIGMAPS, configmap("a"))
    async with watch(api, resourceVersion=created["metadata"]["resourceVersion"],
                     timeoutSeconds="0") as stream:
        later = await create(api, CONFIGMAPS, configmap("b"))
        assert await stream.next() == {"type": "ADDED", "object": later}


async def test_too_old_resource_version_is_an_error_event(
        make_api: Callable[..., contextlib.AbstractAsyncContextManager[API]]) -> None:
    async with make_api(watch_window=2) as api:
        for name in ("a", "b", "c"):
            await create(api, CONFIGMAPS, configmap(name))
        async with watch(api, resourceVersion="1") as stream:
            event = await stream.next()
            assert await stream.ended()
    assert event["type"] == "ERROR"
    status = event["object"]
    assert (status["kind"], status["status"], status["code"], status["reason"]) == (
        "Status", "Failure", 410, "Expired")
    assert status["message"].startswith("too old resource version: 1 (")


async def test_bad_resource_version_is_bad_request(api: API) -> None:
    async with api.session.get(api.url(CONFIGMAPS),
                               params={"watch": "true", "resourceVersion": "abc"}) as resp:
        assert resp.status == 400


async def test_table_watch_sends_column_definitions_once(api: API) -> None:
    await create(api, CONFIGMAPS, configmap("a"))
    async with watch(api, resourceVersion="0", accept=TABLE) as stream:
        first = await stream.next()
        await create(api, CONFIGMAPS, configmap("b"))
        second = await stream.next()
    assert first["object"]["kind"] == "Table"
    assert [c["name"] for c in first["object"]["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert first["object"]["rows"][0]["cells"][0] == "a"
    assert second["object"]["columnDefinitions"] is None
    assert second["object"]["rows"][0]["cells"][0] == "b"
