"""Why the kubelet could not start a container, in the words users see in `kubectl describe`."""

from __future__ import annotations


class ContainerConfigError(Exception):
    """The container's configuration cannot be built yet: a ConfigMap or Secret it needs is
    missing, a subPath is invalid. The container waits with reason `CreateContainerConfigError`
    and this message (upstream's words, e.g. `configmap "special-config" not found`) and the
    kubelet tries again on its next sync."""


class MountError(Exception):
    """A volume of the pod cannot be set up yet. The pod stays in `ContainerCreating` and gets a
    `FailedMount` event with this message (`MountVolume.SetUp failed for volume "config-volume" :
    configmap "special-config" not found`)."""
