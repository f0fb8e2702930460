"""The pod source: this node's API pods go to the pod workers, a deletion too (and a pod gone
from the API is forgotten after being handed over as deleted); mirror pods are never run, they
only wake the static pods' source."""

from __future__ import annotations

from pathlib import Path

from inprocessserver import open_client

from kajitori.client import informer
from kajitori.kubelet import podsource

NOW = "2026-01-01T00:00:00Z"


def pod(name: str, *, annotations: dict[str, str] | None = None, deleting: bool = False) -> dict:
    md: dict = {"name": name, "namespace": "default", "uid": f"uid-{name}",
                "annotations": annotations or {}}
    if deleting:
        md["deletionTimestamp"] = "2025-12-31T23:59:00Z"
        md["deletionGracePeriodSeconds"] = 30
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": {"nodeName": "n"}}


class Updates:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None, int | None]] = []

    def update_pod(self, p: dict) -> None:
        md = p["metadata"]
        self.calls.append(("update", md["name"], md.get("deletionTimestamp"),
                           md.get("deletionGracePeriodSeconds")))

    def forget(self, uid: str) -> None:
        self.calls.append(("forget", uid, None, None))


async def test_pods_deletions_and_mirrors_reach_the_right_place(tmp_path: Path) -> None:
    updates = Updates()
    woken: list[bool] = []
    async with open_client(tmp_path) as client:
        source = podsource.PodSource(client, node_name="n", updates=updates,
                                     on_mirror_change=lambda: woken.append(True),
                                     now=lambda: NOW)
        mirror = pod("static-n", annotations={"kubernetes.io/config.mirror": "h"})
        source.add_pod(pod("web"))
        source.add_pod(mirror)
        source.add_pod(pod("web", deleting=True))
        source.delete_pod(pod("web", deleting=True))
        source.delete_pod(informer.DeletedFinalStateUnknown("default/gone", pod("gone")))
        source.delete_pod(mirror)
    assert updates.calls == [
        ("update", "web", None, None),
        ("update", "web", "2025-12-31T23:59:00Z", 30),
        ("update", "web", "2025-12-31T23:59:00Z", 30),
        ("forget", "uid-web", None, None),
        ("update", "gone", NOW, 0),  # force-deleted, or missed: stop it now
        ("forget", "uid-gone", None, None),
    ]
    assert woken == [True, True]
    assert podsource.node_pods_selector("n") == "spec.nodeName=n"
