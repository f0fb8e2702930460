"""PVC protection: claims carry kubernetes.io/pvc-protection, and a deleted claim keeps it while
a scheduled, unfinished pod uses it."""

from __future__ import annotations

import contextlib
from typing import Any

import fakecluster

from kajitori.api import meta
from kajitori.client import rest
from kajitori.controllers import pvcprotection

Obj = dict[str, Any]

PVCS = fakecluster.path("", "v1", "persistentvolumeclaims", namespace="default")
PODS = fakecluster.path("", "v1", "pods", namespace="default")
FINALIZER = "kubernetes.io/pvc-protection"


def claim_body(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}}}


def pod_using(claim: str, *, node: str = "n1", phase: str = "Running") -> Obj:
    return {"metadata": {"name": f"user-of-{claim}", "namespace": "default"},
            "spec": {"nodeName": node, "volumes": [
                {"name": "d", "persistentVolumeClaim": {"claimName": claim}}]},
            "status": {"phase": phase}}


async def sync(client: rest.RESTClient, name: str, *pods: Obj) -> None:
    claims = (await client.get(PVCS))["items"]
    controller = pvcprotection.PVCProtectionController(
        client=client, claims=fakecluster.seeded(*claims), pods=fakecluster.seeded(*pods))
    await controller.sync(f"default/{name}")


async def protected_and_deleted(client: rest.RESTClient, name: str) -> None:
    await client.create(PVCS, claim_body(name))
    await sync(client, name)
    assert meta.finalizers(await client.get(f"{PVCS}/{name}")) == [FINALIZER]
    await client.delete(f"{PVCS}/{name}")


async def test_claim_in_use_by_a_running_pod_stays_until_the_pod_is_done(
        client: contextlib.AbstractAsyncContextManager[rest.RESTClient]) -> None:
    async with client as api:
        await protected_and_deleted(api, "data")
        await sync(api, "data", pod_using("data"))
        live = await api.get(f"{PVCS}/data")
        assert meta.deletion_timestamp(live)
        assert meta.finalizers(live) == [FINALIZER]

        await sync(api, "data", pod_using("data", phase="Succeeded"))
        assert await fakecluster.get_or_none(api, f"{PVCS}/data") is None


async def test_unscheduled_pod_does_not_hold_the_claim(
        client: contextlib.AbstractAsyncContextManager[rest.RESTClient]) -> None:
    async with client as api:
        await protected_and_deleted(api, "data")
        await sync(api, "data", pod_using("data", node=""))
        assert await fakecluster.get_or_none(api, f"{PVCS}/data") is None


async def test_pod_the_cache_missed_still_holds_the_claim(
        client: contextlib.AbstractAsyncContextManager[rest.RESTClient]) -> None:
    async with client as api:
        await protected_and_deleted(api, "data")
        await api.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                "metadata": {"name": "late"},
                                "spec": {"nodeName": "n1", "containers": [
                                    {"name": "c", "image": "busybox"}], "volumes": [
                                    {"name": "d", "persistentVolumeClaim": {
                                        "claimName": "data"}}]}})
        await sync(api, "data")
        assert meta.finalizers(await api.get(f"{PVCS}/data")) == [FINALIZER]
