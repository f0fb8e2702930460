"""emptyDir volumes: a directory that lives as long as the pod, on disk or in memory.

Mirrors upstream's `pkg/volume/emptydir/empty_dir.go` (v1.33): a disk-backed emptyDir is a
directory of mode 0777 under the pod; `medium: Memory` mounts a tmpfs there whose size is the
smallest of `sizeLimit`, the pod's memory limit and the node's allocatable memory
(`calculateEmptyDirMemorySize`, SizeMemoryBackedVolumes is GA). With an fsGroup the directory
is given to the group once, when it is created. `medium: HugePages` is not supported here.
The disk `sizeLimit` is enforced by eviction, not here.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from kajitori.api import quantity
from kajitori.kubelet.volumes import mounter, ownership, plugin

Obj = dict[str, Any]

PLUGIN_NAME = "empty-dir"
MEDIUM_DEFAULT = ""
MEDIUM_MEMORY = "Memory"
DIR_MODE = 0o777
ERR_UNKNOWN_MEDIUM = 'unknown storage medium "{medium}"'


def _pod_memory_limit(pod: Obj) -> int | None:
    """The pod's memory limit as its cgroup gets it (upstream ResourceConfigForPod): the sum of
    the app containers' limits or the largest init container's, whichever is bigger; None
    unless every container has one."""
    spec = pod.get("spec") or {}
    app = [_memory_limit(c) for c in spec.get("containers") or []]
    init = [_memory_limit(c) for c in spec.get("initContainers") or []]
    app_limits = [v for v in app if v is not None]
    init_limits = [v for v in init if v is not None]
    if not app or len(app_limits) < len(app) or len(init_limits) < len(init):
        return None
    return max([sum(app_limits), *init_limits])


def _memory_limit(container: Obj) -> int | None:
    value = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    return None if value is None else quantity.from_json(value).value()


def memory_size(pod: Obj, *, size_limit: Any, node_allocatable: dict[str, str] | None
                ) -> int | None:
    """Bytes of a memory-backed volume of `pod` (upstream calculateEmptyDirMemorySize); None
    when nothing is known (the kernel's default)."""
    size = None
    allocatable = (node_allocatable or {}).get("memory")
    if allocatable is not None:
        size = quantity.from_json(allocatable).value()
    for candidate in (_pod_memory_limit(pod),
                      None if size_limit is None else quantity.from_json(size_limit).value()):
        if candidate is not None and candidate > 0 and (size is None or candidate <= size):
            size = candidate
    return size


def make_dir(path: Path) -> bool:
    """Create `path` with mode 0777 whatever the umask; True when it was new."""
    created = not path.is_dir()
    path.mkdir(parents=True, exist_ok=True)
    if created or (path.stat().st_mode & 0o777) != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return created


async def set_up_tmpfs(path: Path, *, size_bytes: int | None, mounts: mounter.Mounter) -> bool:
    """A directory at `path` with a tmpfs mounted on it (once); True when it was mounted now."""
    await asyncio.to_thread(make_dir, path)
    if path in mounts.mount_points_under(path):
        return False
    await mounts.mount_tmpfs(path, size_bytes=size_bytes)
    return True


async def set_up(context: plugin.SetUpContext) -> plugin.MountedVolume:
    source = context.volume.get("emptyDir") or {}
    medium = str(source.get("medium") or MEDIUM_DEFAULT)
    path = context.volume_dir(PLUGIN_NAME)
    if medium == MEDIUM_MEMORY:
        if not context.mounter.can_mount():
            raise plugin.VolumeError(mounter.ERR_NEEDS_ROOT.format(uid=os.geteuid()))
        size = memory_size(context.pod, size_limit=source.get("sizeLimit"),
                           node_allocatable=context.node_allocatable)
        new = await set_up_tmpfs(path, size_bytes=size, mounts=context.mounter)
    elif medium == MEDIUM_DEFAULT:
        new = await asyncio.to_thread(make_dir, path)
    else:
        raise plugin.VolumeError(ERR_UNKNOWN_MEDIUM.format(medium=medium))
    fs_group = context.fs_group
    if new and fs_group is not None:
        await asyncio.to_thread(ownership.set_volume_ownership, path, fs_group, readonly=False,
                                change_policy=context.fs_group_change_policy)
    return plugin.MountedVolume(path)
