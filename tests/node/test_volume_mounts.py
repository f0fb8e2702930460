"""Memory-backed volumes on the real mount table: emptyDir `medium: Memory` and secret volumes
are tmpfs mounts of the requested size, and unmount_pod takes them down before removing the
pod directory. Needs root (no containerd); everything mounted is unmounted at teardown."""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kajitori.kubelet.volumes import VolumeManager, mounter

pytestmark = [pytest.mark.node,
              pytest.mark.skipif(os.geteuid() != 0, reason="tmpfs mounts need root")]
UID = "kjt-volume-mounts-uid"
Obj = dict[str, Any]


class OneSecret:
    """The ObjectLookup of this test: one Secret, nothing else."""

    async def secret(self, namespace: str, name: str) -> Obj | None:
        return {"data": {"password": base64.b64encode(b"s3cret").decode()}}

    async def config_map(self, namespace: str, name: str) -> Obj | None:
        return None

    async def services(self, namespace: str) -> list[Obj]:
        return []

    async def persistent_volume_claim(self, namespace: str, name: str) -> Obj | None:
        return None

    async def persistent_volume(self, name: str) -> Obj | None:
        return None

    async def service_account_token(self, pod: Obj, *, audience: str,
                                    expiration_seconds: int) -> str:
        return ""


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    """The kubelet root; whatever is still mounted below it is lazily unmounted at the end."""
    path = tmp_path / "kjt-kubelet"
    yield path
    for point in mounter.SystemMounter().mount_points_under(tmp_path):
        with contextlib.suppress(subprocess.CalledProcessError):
            subprocess.run(["umount", "-l", str(point)], check=True)


def tmpfs_size(path: Path) -> int:
    info = os.statvfs(path)
    return info.f_blocks * info.f_frsize


async def test_memory_volumes_are_sized_tmpfs_mounts_removed_with_the_pod(root: Path) -> None:
    volumes = VolumeManager(root, lookup=OneSecret(), node_allocatable={"memory": "1Gi"})
    pod = {"metadata": {"name": "web", "namespace": "default", "uid": UID},
           "spec": {"containers": [{"name": "app"}], "volumes": [
               {"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
               {"name": "creds", "secret": {"secretName": "creds"}}]}}
    await volumes.mount_pod(pod)
    await volumes.mount_pod(pod)  # idempotent: no second mount on top
    pod_dir = root / "pods" / UID
    cache = pod_dir / "volumes" / "kubernetes.io~empty-dir" / "cache"
    creds = pod_dir / "volumes" / "kubernetes.io~secret" / "creds"
    system = mounter.SystemMounter()
    assert sorted(system.mount_points_under(pod_dir)) == sorted([cache, creds])
    assert tmpfs_size(cache) == 16 * 2**20
    assert tmpfs_size(creds) == 2**30
    assert (creds / "password").read_text() == "s3cret"
    await volumes.unmount_pod(UID)
    assert system.mount_points_under(root) == []
    assert not pod_dir.exists()
