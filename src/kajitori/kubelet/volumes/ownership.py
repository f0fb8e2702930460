"""Group ownership of a volume for the pod's fsGroup.

Mirrors upstream's `pkg/volume/volume_linux.go` (`SetVolumeOwnership`): every file and
directory of the volume gets the group `fsGroup`; files get group read (and write, unless the
volume is read-only) added to their mode, directories also group execute and the setgid bit,
so files the containers create later inherit the group. With `fsGroupChangePolicy:
OnRootMismatch` nothing is walked when the volume's root already has the group and the bits.
Symbolic links get the group (lchown) but no mode change. Runs in a thread (it walks the tree).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

RW_MASK = 0o660
RO_MASK = 0o440
EXEC_MASK = 0o110
ON_ROOT_MISMATCH = "OnRootMismatch"


def _mask(mode: int, *, readonly: bool) -> int:
    mask = RO_MASK if readonly else RW_MASK
    if stat.S_ISDIR(mode):
        mask |= stat.S_ISGID | EXEC_MASK
    return mask


def _root_matches(path: Path, fs_group: int, *, readonly: bool) -> bool:
    info = os.lstat(path)
    mask = _mask(info.st_mode, readonly=readonly)
    return info.st_gid == fs_group and (info.st_mode & mask) == mask


def set_volume_ownership(path: Path, fs_group: int, *, readonly: bool,
                         change_policy: str = "") -> None:
    """Give the tree at `path` to group `fs_group` as described above. Raises OSError."""
    if change_policy == ON_ROOT_MISMATCH and _root_matches(path, fs_group, readonly=readonly):
        return
    _own(str(path), fs_group, readonly=readonly)
    for directory, dirnames, filenames in os.walk(path):
        for name in [*dirnames, *filenames]:
            _own(os.path.join(directory, name), fs_group, readonly=readonly)


def _own(target: str, fs_group: int, *, readonly: bool) -> None:
    info = os.lstat(target)
    os.lchown(target, -1, fs_group)
    if not stat.S_ISLNK(info.st_mode):
        os.chmod(target, stat.S_IMODE(info.st_mode) | _mask(info.st_mode, readonly=readonly))
