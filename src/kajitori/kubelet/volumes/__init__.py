"""Pod volumes on a real node: `VolumeManager` and one module per volume type."""

from kajitori.kubelet.volumes.manager import VolumeManager

__all__ = ["VolumeManager"]
