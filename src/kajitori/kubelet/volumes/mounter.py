"""Mounting and unmounting on the node: the one seam between the volume plugins and the
kernel's mount table.

Mirrors upstream's `k8s.io/mount-utils` (`Interface`: Mount, Unmount, IsLikelyNotMountPoint,
List) with only the tmpfs mounts Kajitori's volume plugins make (emptyDir `medium: Memory`,
secret volumes). `SystemMounter` runs `mount`/`umount` as subprocesses and reads
`/proc/self/mountinfo`; unit tests pass a fake that records calls.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Protocol

MOUNT = "mount"
UMOUNT = "umount"
MOUNTINFO = Path("/proc/self/mountinfo")
ERR_NEEDS_ROOT = ("a memory-backed volume needs a tmpfs mount, and mounting needs root "
                  "(the kubelet runs as uid {uid})")


class MountFailure(Exception):
    """A mount or unmount failed; the message says how (the command's output)."""


class Mounter(Protocol):
    """Mount operations. Failures raise MountFailure."""

    def can_mount(self) -> bool:
        """Whether this process may mount (root); without it secret volumes fall back to plain
        directories and memory-backed emptyDirs fail."""
        ...

    async def mount_tmpfs(self, target: Path, *, size_bytes: int | None) -> None:
        """Mount a tmpfs at the existing directory `target`, `size_bytes` big (None: the
        kernel's default, half the memory)."""
        ...

    async def unmount(self, target: Path) -> None: ...

    def mount_points_under(self, path: Path) -> list[Path]:
        """The mount points at or below `path`, deepest first (the order to unmount in)."""
        ...


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal `\\040`."""
    out, index = [], 0
    while index < len(field):
        if field[index] == "\\" and field[index + 1:index + 4].isdigit():
            out.append(chr(int(field[index + 1:index + 4], 8)))
            index += 4
        else:
            out.append(field[index])
            index += 1
    return "".join(out)


class SystemMounter:
    """The real mount table of this machine."""

    def can_mount(self) -> bool:
        return os.geteuid() == 0

    async def mount_tmpfs(self, target: Path, *, size_bytes: int | None) -> None:
        if not self.can_mount():
            raise MountFailure(ERR_NEEDS_ROOT.format(uid=os.geteuid()))
        options = ["-o", f"size={size_bytes}"] if size_bytes else []
        await _run(MOUNT, "-t", "tmpfs", *options, "tmpfs", str(target))

    async def unmount(self, target: Path) -> None:
        await _run(UMOUNT, str(target))

    def mount_points_under(self, path: Path) -> list[Path]:
        base = os.path.realpath(path)
        found = []
        for line in MOUNTINFO.read_text().splitlines():
            fields = line.split(" ")
            if len(fields) < 5:
                continue
            point = _unescape(fields[4])
            if point == base or point.startswith(base + "/"):
                found.append(Path(point))
        return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


async def _run(*argv: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await process.communicate()
    if process.returncode:
        raise MountFailure(f"mount failed: exit status {process.returncode}\n"
                              f"Mounting command: {argv[0]}\n"
                              f"Mounting arguments: {' '.join(argv[1:])}\n"
                              f"Output: {output.decode(errors='replace').strip()}")
