"""What every volume plugin gets and gives: the pod, its volume, where to write, and the
host path the volume's containers bind-mount.

Mirrors upstream's `pkg/volume/plugins.go` and `volume.go` (VolumeHost, Mounter.SetUp,
Attributes.ReadOnly) cut down to what a node without attach/detach needs. Plugins are the
sibling modules (`emptydir`, `hostpath`, `configmap`, `secret`, `downwardapi`, `projected`,
`persistentvolumeclaim`); `manager.VolumeManager` picks one per volume and turns a plugin's
`VolumeError` into the `MountError` users see.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kajitori.api import meta
from kajitori.kubelet import lookup
from kajitori.kubelet.volumes import mounter

Obj = dict[str, Any]

VOLUMES_DIR = "volumes"
PLUGIN_PREFIX = "kubernetes.io~"
"""Pod volume directories are `pods/<uid>/volumes/kubernetes.io~<plugin>/<name>`: the escaped
form of upstream's plugin names (`kubernetes.io/configmap`)."""


class VolumeError(Exception):
    """A volume could not be set up; the message is upstream's SetUp error (the manager adds
    `MountVolume.SetUp failed for volume "x" : `)."""


@dataclass(frozen=True)
class SetUpContext:
    """One volume of one pod, as a plugin's `set_up` sees it."""

    pod: Obj
    volume: Obj
    """The pod's `spec.volumes[]` entry."""
    pod_dir: Path
    lookup: lookup.ObjectLookup
    mounter: mounter.Mounter
    node_allocatable: dict[str, str] | None
    """The node's allocatable resources (None: the machine's); memory sizes tmpfs volumes."""

    @property
    def name(self) -> str:
        return str(self.volume.get("name") or "")

    @property
    def namespace(self) -> str:
        return meta.namespace(self.pod)

    @property
    def fs_group(self) -> int | None:
        value = ((self.pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
        return None if value is None else int(value)

    @property
    def fs_group_change_policy(self) -> str:
        context = (self.pod.get("spec") or {}).get("securityContext") or {}
        return str(context.get("fsGroupChangePolicy") or "")

    def volume_dir(self, plugin: str) -> Path:
        """Where a plugin that owns its files keeps this volume."""
        return volume_dir(self.pod_dir, plugin, self.name)


def volume_dir(pod_dir: Path, plugin: str, name: str) -> Path:
    return pod_dir / VOLUMES_DIR / (PLUGIN_PREFIX + plugin) / name


@dataclass(frozen=True)
class MountedVolume:
    """A set-up volume: the host path containers bind-mount, and whether every mount of it is
    read-only whatever the volumeMount says (configMap, secret, downwardAPI, projected)."""

    host_path: Path
    readonly: bool = False
