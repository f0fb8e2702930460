"""Filesystem capacity and the space a directory tree takes, for the kubelet's stats.

Mirrors upstream's `pkg/volume/util/fs` (`Info`: statfs of the filesystem holding a path;
`DiskUsage`: the blocks and inodes a tree uses, as `du` counts them) and cadvisor's
`GetDirFsInfo`, which give the Summary's `fs`, `imageFs`, container `logs` and emptyDir
`volume` entries: capacity is `f_blocks`, available `f_bavail` (what an unprivileged writer
may still use), used `f_blocks - f_bfree`; inodes `f_files`, free `f_ffree`.

A tree's usage counts allocated blocks (512-byte `st_blocks`, so sparse files count what they
hold), each hard-linked inode once, and stays on the tree's own filesystem (a mount inside it,
such as a memory-backed emptyDir in a pod's directory, is not walked). Entries that vanish
during the walk are skipped. All of it is blocking: `kajitori.kubelet.stats` calls it from its
worker thread.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

BLOCK_SIZE = 512
"""The unit of `st_blocks`."""


@dataclass(frozen=True)
class FsInfo:
    """A filesystem's size in bytes and inodes."""

    capacity: int
    available: int
    used: int
    inodes: int
    inodes_free: int

    @property
    def inodes_used(self) -> int:
        return self.inodes - self.inodes_free


@dataclass(frozen=True)
class Usage:
    """What a tree takes: bytes of allocated blocks and inodes (directories included)."""

    bytes: int
    inodes: int


def fs_info(path: Path) -> FsInfo | None:
    """The filesystem holding `path`; None when `path` does not exist."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return FsInfo(capacity=st.f_blocks * st.f_frsize, available=st.f_bavail * st.f_frsize,
                  used=(st.f_blocks - st.f_bfree) * st.f_frsize, inodes=st.f_files,
                  inodes_free=st.f_ffree)


def disk_usage(path: Path) -> Usage | None:
    """The blocks and inodes under `path` (itself included), on its filesystem only; None
    when `path` does not exist."""
    try:
        top = os.lstat(path)
    except OSError:
        return None
    linked: set[int] = set()  # inodes of files with several links, counted once
    total, inodes = top.st_blocks * BLOCK_SIZE, 1
    pending = [os.fspath(path)] if os.path.isdir(path) and not os.path.islink(path) else []
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if st.st_dev != top.st_dev:
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            if not is_dir and st.st_nlink > 1:
                if st.st_ino in linked:
                    continue
                linked.add(st.st_ino)
            total += st.st_blocks * BLOCK_SIZE
            inodes += 1
            if is_dir:
                pending.append(entry.path)
    return Usage(bytes=total, inodes=inodes)
