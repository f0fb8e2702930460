"""PV protection: volumes carry kubernetes.io/pv-protection, and a deleted volume keeps it
while it is Bound."""

from __future__ import annotations

import contextlib
from typing import Any

import fakecluster

from kajitori.api import meta
from kajitori.client import rest
from kajitori.controllers import pvprotection

Obj = dict[str, Any]

PVS = fakecluster.path("", "v1", "persistentvolumes")
FINALIZER = "kubernetes.io/pv-protection"


async def sync(client: rest.RESTClient, name: str) -> None:
    volumes = (await client.get(PVS))["items"]
    controller = pvprotection.PVProtectionController(
        client=client, volumes=fakecluster.seeded(*volumes))
    await controller.sync(name)


async def test_bound_volume_stays_until_it_is_no_longer_bound(
        client: contextlib.AbstractAsyncContextManager[rest.RESTClient]) -> None:
    async with client as api:
        created = await api.create(PVS, {
            "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "vol"},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                     "hostPath": {"path": "/d"}}})
        created["status"] = {"phase": "Bound"}
        await api.update(f"{PVS}/vol/status", created)
        await sync(api, "vol")
        assert meta.finalizers(await api.get(f"{PVS}/vol")) == [FINALIZER]

        await api.delete(f"{PVS}/vol")
        await sync(api, "vol")
        deleting = await api.get(f"{PVS}/vol")
        assert meta.deletion_timestamp(deleting)

        deleting["status"] = {"phase": "Released"}
        await api.update(f"{PVS}/vol/status", deleting)
        await sync(api, "vol")
        assert await fakecluster.get_or_none(api, f"{PVS}/vol") is None
