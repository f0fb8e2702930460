"""A `kajitori.kubelet.volumes.mounter.Mounter` that records tmpfs mounts instead of making
them, for the volume manager's unit tests (the real mounts are in tests/node/)."""

from __future__ import annotations

from pathlib import Path


class FakeMounter:
    """`allowed`: what can_mount says; `stuck`: unmount is recorded but leaves the mount."""

    def __init__(self, *, allowed: bool = True, stuck: bool = False) -> None:
        self.allowed = allowed
        self.stuck = stuck
        self.mounted: dict[Path, int | None] = {}
        self.unmounted: list[Path] = []

    def can_mount(self) -> bool:
        return self.allowed

    async def mount_tmpfs(self, target: Path, *, size_bytes: int | None) -> None:
        self.mounted[target] = size_bytes

    async def unmount(self, target: Path) -> None:
        self.unmounted.append(target)
        if not self.stuck:
            del self.mounted[target]

    def mount_points_under(self, path: Path) -> list[Path]:
        return [p for p in self.mounted if p == path or path in p.parents]
