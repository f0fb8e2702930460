"""Deleted local-path volumes of this node lose their directory, and only under the storage
root: other nodes' volumes, other provisioners' and paths outside the root stay."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from background import running
from inprocessserver import open_client

from kajitori.client import informer
from kajitori.kubelet import localvolumes

Obj = dict[str, Any]
NODE = "n1"
LABELS = {"kubernetes.io/hostname": NODE}
PVS = "/api/v1/persistentvolumes"


def volume(name: str, path: Path | str, *, node: str = NODE,
           provisioner: str = "rancher.io/local-path") -> Obj:
    """A PersistentVolume as the local-path provisioner makes it."""
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {
                "pv.kubernetes.io/provisioned-by": provisioner}},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": "Delete",
                     "storageClassName": "local-path",
                     "hostPath": {"path": str(path), "type": "DirectoryOrCreate"},
                     "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                         {"key": "kubernetes.io/hostname", "operator": "In",
                          "values": [node]}]}]}}}}


def filled_directory(path: Path) -> Path:
    (path / "sub").mkdir(parents=True)
    (path / "sub" / "data").write_text("x")
    return path


def test_only_this_nodes_local_path_volumes_are_cleaned() -> None:
    def of_this_node(v: Obj) -> bool:
        return localvolumes.is_local_volume_of(v, node_name=NODE, node_labels=LABELS)

    assert of_this_node(volume("a", "/x"))
    assert not of_this_node(volume("a", "/x", node="n2"))
    assert not of_this_node(volume("a", "/x", provisioner="example.com/nfs"))
    unpinned = volume("a", "/x")
    del unpinned["spec"]["nodeAffinity"]
    assert not of_this_node(unpinned)


def test_only_paths_strictly_under_the_storage_root_are_removable(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    root.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (root / "link").symlink_to(tmp_path / "elsewhere")

    def removable(path: Path | str) -> Path | None:
        return localvolumes.removable_path(volume("a", path), storage_root=root)

    assert removable(root / "pvc-1_default_data") == root / "pvc-1_default_data"
    assert removable(root) is None
    assert removable(f"{root}/") is None
    assert removable(tmp_path / "elsewhere") is None
    assert removable(f"{root}/../elsewhere") is None
    assert removable(root / "link") is None
    assert removable(f"{root}-other/pvc-1") is None
    assert removable("") is None


async def test_a_deleted_volume_of_this_node_loses_its_directory(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    mine = filled_directory(root / "pvc-1_default_data")
    other_node = filled_directory(root / "pvc-2_default_data")
    outside = filled_directory(tmp_path / "outside")
    async with open_client(tmp_path) as client:
        cleaner = localvolumes.LocalVolumeCleaner(client, node_name=NODE, storage_root=root,
                                                  node_labels=lambda: LABELS)
        async with running(cleaner.volumes):
            for name, path, node in (("pvc-2", other_node, "n2"), ("pvc-3", outside, NODE),
                                     ("pvc-1", mine, NODE)):
                await client.create(PVS, volume(name, path, node=node))
                await client.delete(f"{PVS}/{name}")
            async with asyncio.timeout(10):
                await cleaner.remove_next()  # pvc-3: outside the root, left
                await cleaner.remove_next()  # pvc-1
    assert not mine.exists()
    assert (other_node / "sub" / "data").read_text() == "x"
    assert (outside / "sub" / "data").read_text() == "x"
    assert root.is_dir()


async def test_a_missed_delete_removes_the_directory_too(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    mine = filled_directory(root / "pvc-1_default_data")
    async with open_client(tmp_path) as client:
        cleaner = localvolumes.LocalVolumeCleaner(client, node_name=NODE, storage_root=root,
                                                  node_labels=lambda: LABELS)
        cleaner.volume_deleted(informer.DeletedFinalStateUnknown("pvc-1", volume("pvc-1", mine)))
        await cleaner.remove_next()
        assert not mine.exists()
        cleaner.volume_deleted(volume("pvc-1", mine))
        await cleaner.remove_next()  # already gone: nothing to do
    assert root.is_dir()
