"""kajitori.client against a real server: an informer follows what kubectl creates, changes
and deletes; two leader-election candidates in one process elect one leader, whose Lease
kubectl shows."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from kajitori.client import informer, leaderelection, rest

pytestmark = pytest.mark.e2e

DEADLINE = 30.0
"""Seconds a scenario may take before it fails instead of hanging."""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


class Seen:
    """Handler calls for one key, as (what, labels) pairs, with a wake-up per call."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.changed = asyncio.Event()

    def record(self, what: str, obj: Any) -> None:
        if informer.meta_namespace_key(obj) != self.key:
            return
        if isinstance(obj, informer.DeletedFinalStateUnknown):
            obj = obj.obj
        self.calls.append((what, dict(obj["metadata"].get("labels") or {})))
        self.changed.set()

    async def wait_for(self, count: int) -> None:
        while len(self.calls) < count:
            self.changed.clear()
            await self.changed.wait()


async def follow(kubeconfig: Path, kubectl: Any, name: str) -> list[tuple[str, dict[str, str]]]:
    config = await asyncio.to_thread(rest.load_kubeconfig, kubeconfig)
    seen = Seen(f"default/{name}")
    async with rest.RESTClient(config) as client, asyncio.timeout(DEADLINE):
        factory = informer.SharedInformerFactory(client)
        configmaps = factory.informer_for("", "v1", "configmaps")
        configmaps.add_handlers(on_add=lambda o: seen.record("add", o),
                                on_update=lambda old, new: seen.record("update", new),
                                on_delete=lambda o: seen.record("delete", o))
        running = asyncio.create_task(factory.run())
        try:
            await factory.wait_for_cache_sync()
            await asyncio.to_thread(kubectl, "create", "configmap", name, "--from-literal=a=1")
            await seen.wait_for(1)
            assert configmaps.cache.get(f"default/{name}")["data"] == {"a": "1"}
            await asyncio.to_thread(kubectl, "label", "configmap", name, "tier=web")
            await seen.wait_for(2)
            await asyncio.to_thread(kubectl, "delete", "configmap", name)
            await seen.wait_for(3)
            assert configmaps.cache.get(f"default/{name}") is None
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    return seen.calls


def test_informer_sees_what_kubectl_does(cluster, kubectl) -> None:
    name = unique("informed")
    calls = asyncio.run(follow(cluster.kubeconfig, kubectl, name))
    assert calls == [("add", {}), ("update", {"tier": "web"}), ("delete", {"tier": "web"})]


async def elect(kubeconfig: Path, lease: str) -> tuple[list[str], list[str], str]:
    """Run two candidates until both know the leader; return who led, whom each candidate saw
    leading, and the identity of the one that says it leads."""
    config = await asyncio.to_thread(rest.load_kubeconfig, kubeconfig)
    settings = leaderelection.LeaderElectionSettings(resource_name=lease)
    leaders: list[str] = []
    observed: list[str] = []
    both_observed = asyncio.Event()
    led = asyncio.Event()

    def on_new_leader(identity: str) -> None:
        observed.append(identity)
        if len(observed) == 2:
            both_observed.set()

    async with rest.RESTClient(config) as client, asyncio.timeout(DEADLINE):
        electors = [leaderelection.LeaderElector(
            leaderelection.LeaseLock(client, namespace=settings.resource_namespace,
                                     name=lease),
            identity=leaderelection.default_identity(), settings=settings,
            on_new_leader=on_new_leader) for _ in range(2)]

        def lead_as(identity: str) -> Callable[[], Coroutine[Any, Any, None]]:
            async def lead() -> None:
                leaders.append(identity)
                led.set()
                await asyncio.Event().wait()
            return lead

        tasks = [asyncio.create_task(e.run(lead_as(e.identity))) for e in electors]
        try:
            await both_observed.wait()
            await led.wait()
            leading = [e.identity for e in electors if e.is_leader()]
            assert len(leading) == 1, leading
            return list(leaders), list(observed), leading[0]
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def test_two_candidates_elect_one_leader_kubectl_shows(cluster, kubectl) -> None:
    lease = unique("e2e-election")
    leaders, observed, identity = asyncio.run(elect(cluster.kubeconfig, lease))
    assert leaders == [identity]
    assert observed == [identity, identity]
    out = kubectl("get", "lease", "-n", "kube-system", lease)
    header, row = out.splitlines()
    assert header.split() == ["NAME", "HOLDER", "AGE"]
    assert row.split()[:2] == [lease, identity]
