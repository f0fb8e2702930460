"""Static pods: a manifest file becomes a pod named <name>-<node> with upstream's annotations
and a mirror pod in the API; a deleted mirror comes back while the pod keeps running; a removed
or changed file stops the pod (and a changed one starts its new version)."""

from __future__ import annotations

from pathlib import Path

import pytest
from inprocessserver import open_client

from kajitori.api import meta
from kajitori.client import rest
from kajitori.kubelet import staticpods

NODE = "node-a"
NODE_UID = "4b2c1f0e-0000-4000-8000-000000000001"
PODS = rest.resource_path("", "v1", "pods", namespace="default")
MANIFEST = """\
apiVersion: v1
kind: Pod
metadata:
  name: static-web
  labels: {role: myrole}
spec:
  containers:
  - name: web
    image: nginx
    ports: [{name: web, containerPort: 80, protocol: TCP}]
"""
SEEN = "2026-01-01T00:00:00.000000000Z"


class Updates:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bool]] = []
        """(verb, uid, deletion requested)."""

    def update_pod(self, pod: dict) -> None:
        self.calls.append(("update", meta.uid(pod), bool(meta.deletion_timestamp(pod))))

    def forget(self, pod_uid: str) -> None:
        self.calls.append(("forget", pod_uid, True))


class Mirrors:
    """The pod source's cache of the API, refreshed by the test before each sync."""

    def __init__(self, client: rest.RESTClient) -> None:
        self._client = client
        self.pods: dict[str, dict] = {}

    async def refresh(self) -> None:
        listed = await self._client.get(PODS)
        self.pods = {f"default/{meta.name(p)}": p for p in listed["items"]}

    def lookup(self, namespace: str, name: str) -> dict | None:
        return self.pods.get(f"{namespace}/{name}")


async def test_static_pod_lifecycle_with_its_mirror(tmp_path: Path) -> None:
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "web.yaml").write_text(MANIFEST)
    (manifests / ".hidden.yaml").write_text("not: [a pod")
    updates = Updates()
    async with open_client(tmp_path) as client:
        mirrors = Mirrors(client)
        source = staticpods.StaticPods(
            client, node_name=NODE, manifest_dir=manifests, updates=updates,
            mirror_lookup=mirrors.lookup, node_uid=lambda: NODE_UID, now=lambda: SEEN)
        await source.sync()
        [pod] = source.pods
        uid = meta.uid(pod)
        assert updates.calls == [("update", uid, False)]
        assert (meta.namespace(pod), meta.name(pod), pod["spec"]["nodeName"]) == (
            "default", "static-web-node-a", NODE)
        assert meta.annotations(pod) == {"kubernetes.io/config.hash": uid,
                                         "kubernetes.io/config.source": "file",
                                         "kubernetes.io/config.seen": SEEN}
        assert {"operator": "Exists", "effect": "NoExecute"} in pod["spec"]["tolerations"]
        assert pod["spec"]["restartPolicy"] == "Always"  # API defaults applied

        mirror = await client.get(f"{PODS}/static-web-node-a")
        assert meta.annotations(mirror)["kubernetes.io/config.mirror"] == uid
        assert meta.owner_references(mirror) == [
            {"apiVersion": "v1", "kind": "Node", "name": NODE, "uid": NODE_UID}]
        assert meta.uid(mirror) != uid

        # Someone deletes the mirror: it comes back; the static pod is not touched.
        await client.delete(f"{PODS}/static-web-node-a")
        await mirrors.refresh()
        mirrors.pods.clear()
        await source.sync()
        assert meta.annotations(await client.get(f"{PODS}/static-web-node-a"))[
            "kubernetes.io/config.mirror"] == uid
        assert updates.calls == [("update", uid, False)]

        # The file changes: the old pod stops, the new one starts, the mirror follows.
        await mirrors.refresh()
        (manifests / "web.yaml").write_text(MANIFEST.replace("nginx", "busybox"))
        await source.sync()
        [new] = source.pods
        assert meta.uid(new) != uid
        assert updates.calls[1:] == [("update", uid, True), ("forget", uid, True),
                                     ("update", meta.uid(new), False)]
        mirror = await client.get(f"{PODS}/static-web-node-a")
        assert meta.annotations(mirror)["kubernetes.io/config.mirror"] == meta.uid(new)

        # The file goes: the pod stops and its mirror is deleted.
        await mirrors.refresh()
        (manifests / "web.yaml").unlink()
        await source.sync()
        assert source.pods == []
        assert updates.calls[-2:] == [("update", meta.uid(new), True),
                                      ("forget", meta.uid(new), True)]
        assert (await client.get(PODS))["items"] == []


def test_a_manifest_that_is_no_pod_is_refused() -> None:
    with pytest.raises(ValueError, match="not a v1 Pod"):
        staticpods.static_pod({"apiVersion": "v1", "kind": "Service"}, node_name=NODE,
                              source="/m/svc.yaml", seen=SEEN)
