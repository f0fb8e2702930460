"""hostPath volumes: a file or directory of the node, checked against the declared type.

Mirrors upstream's `pkg/volume/hostpath/host_path.go` (v1.33, `checkTypeInternal`): no type
checks nothing; `DirectoryOrCreate` and `FileOrCreate` create what is missing (0755 directory
chain, empty 0644 file); the other types only check, with upstream's messages (`hostPath type
check failed: /x is not a directory`). Also used for PersistentVolumes with a hostPath source.
Nothing is written under the pod: containers bind-mount the path itself.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

from kajitori.kubelet.volumes import plugin

UNSET = ""
DIRECTORY_OR_CREATE = "DirectoryOrCreate"
DIRECTORY = "Directory"
FILE_OR_CREATE = "FileOrCreate"
FILE = "File"
SOCKET = "Socket"
CHAR_DEVICE = "CharDevice"
BLOCK_DEVICE = "BlockDevice"

ERR_TYPE_CHECK = "hostPath type check failed: {path} is not a {what}"
ERR_INVALID_TYPE = "{type} is an invalid volume type"
ERR_BACKSTEPS = "invalid HostPath `{path}`: must not contain '..'"

_CHECKS = {
    DIRECTORY: ("directory", stat.S_ISDIR),
    FILE: ("file", lambda mode: not stat.S_ISDIR(mode)),
    SOCKET: ("socket file", stat.S_ISSOCK),
    CHAR_DEVICE: ("character device", stat.S_ISCHR),
    BLOCK_DEVICE: ("block device", stat.S_ISBLK),
}
_CREATES = {DIRECTORY_OR_CREATE: DIRECTORY, FILE_OR_CREATE: FILE}


def check_type(path: str, path_type: str) -> None:
    """Check (and for the *OrCreate types create) `path`; raises VolumeError. Blocking."""
    if ".." in path.split("/"):
        raise plugin.VolumeError(ERR_BACKSTEPS.format(path=path))
    if path_type == UNSET:
        return
    if path_type in _CREATES and not os.path.exists(path):
        if path_type == DIRECTORY_OR_CREATE:
            os.makedirs(path, mode=0o755, exist_ok=True)
        else:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
        return
    check = _CHECKS.get(_CREATES.get(path_type, path_type))
    if check is None:
        raise plugin.VolumeError(ERR_INVALID_TYPE.format(type=path_type))
    what, matches = check
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = None
    if mode is None or not matches(mode):
        raise plugin.VolumeError(ERR_TYPE_CHECK.format(path=path, what=what))


async def set_up_path(source: dict[str, object], *, readonly: bool) -> plugin.MountedVolume:
    """A hostPath source (of a pod volume or a PersistentVolume), checked."""
    path = str(source.get("path") or "")
    await asyncio.to_thread(check_type, path, str(source.get("type") or UNSET))
    return plugin.MountedVolume(Path(path), readonly=readonly)


async def set_up(context: plugin.SetUpContext) -> plugin.MountedVolume:
    return await set_up_path(context.volume.get("hostPath") or {}, readonly=False)
