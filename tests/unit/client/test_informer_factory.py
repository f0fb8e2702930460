"""Shared informers over HTTP against the real in-process APIServer: one informer per
resource, the cache following creates, updates and deletes, and watches resumed after the
server ends them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from background import running

from conftest import Recorder
from kajitori.client import informer, rest

CONFIGMAPS = rest.resource_path("", "v1", "configmaps", namespace="default")


def configmap(name: str, **data: str) -> informer.Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"}, "data": data}


async def test_factory_shares_one_informer_per_resource(client: rest.RESTClient) -> None:
    factory = informer.SharedInformerFactory(client)
    first = factory.informer_for("", "v1", "configmaps")
    assert factory.informer_for("", "v1", "configmaps") is first
    assert factory.informer_for("apps", "v1", "deployments") is not first
    assert factory.informer_for("apps", "v1", "deployments").name == "deployments.apps"


async def test_informer_follows_the_server(client: rest.RESTClient) -> None:
    await client.create(CONFIGMAPS, configmap("before", a="1"))
    factory = informer.SharedInformerFactory(client)
    configmaps = factory.informer_for("", "v1", "configmaps")
    recorder = Recorder()
    recorder.register(configmaps)
    async with running(factory):
        await factory.wait_for_cache_sync()
        assert configmaps.cache.get("default/before")["data"] == {"a": "1"}
        namespaces = factory.informer_for("", "v1", "namespaces")  # started on demand
        await namespaces.wait_for_sync()
        assert {"default", "kube-system"} <= set(namespaces.cache.list_keys())

        created = await client.create(CONFIGMAPS, configmap("after", b="2"))
        await client.update(f"{CONFIGMAPS}/after", {**created, "data": {"b": "3"}})
        await client.delete(f"{CONFIGMAPS}/before")
        await recorder.wait_for(lambda: ("delete", "default/before") in recorder.calls)
    assert [c[0] for c in recorder.calls if c[1] == "default/after"] == ["add", "update"]
    assert configmaps.cache.get("default/after")["data"] == {"b": "3"}
    assert configmaps.cache.get("default/before") is None


async def test_watch_ended_by_the_server_resumes_without_relisting(
        client: rest.RESTClient) -> None:
    lists: list[str] = []
    watches: list[str] = []
    rewatched = asyncio.Event()

    class Counting(rest.ListWatch):
        async def list(self, *, resource_version: str) -> informer.Obj:
            lists.append(resource_version)
            return await super().list(resource_version=resource_version)

        def watch(self, *, resource_version: str, timeout_seconds: int
                  ) -> AsyncGenerator[informer.Obj, None]:
            watches.append(resource_version)
            if len(watches) == 2:
                rewatched.set()
            return super().watch(resource_version=resource_version,
                                 timeout_seconds=timeout_seconds)

    # The server ends each watch after 1 to 2 s; the informer must watch on from where it was.
    configmaps = informer.Informer(
        Counting(client, "", "v1", "configmaps", namespace="default"),
        settings=informer.InformerSettings(min_watch_timeout=1))
    recorder = Recorder()
    recorder.register(configmaps)
    async with running(configmaps):
        await configmaps.wait_for_sync()
        first = await client.create(CONFIGMAPS, configmap("one"))
        await recorder.wait_for(lambda: len(recorder.calls) == 1)
        await rewatched.wait()
        await client.create(CONFIGMAPS, configmap("two"))
        await recorder.wait_for(lambda: len(recorder.calls) == 2)
    assert lists == ["0"]
    assert watches[1] == first["metadata"]["resourceVersion"]
    assert [c[:2] for c in recorder.calls] == [("add", "default/one"), ("add", "default/two")]
