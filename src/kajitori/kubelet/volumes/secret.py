"""secret volumes: a Secret's keys as files, in memory, updated in place when it changes.

Mirrors upstream's `pkg/volume/secret/secret.go` (v1.33): like a configMap volume (items,
defaultMode 0644, optional, the atomic `..data` writer, fsGroup), but the directory is a tmpfs
(an emptyDir of medium Memory, sized as one) so secrets never reach the disk.

Departure: a kubelet that may not mount (not root, as in unit tests) keeps secret volumes in a
plain directory instead of failing every pod that has a service account token.
"""

from __future__ import annotations

import base64
from typing import Any

from kajitori.kubelet.volumes import atomicwriter, configmap, emptydir, plugin

Obj = dict[str, Any]

PLUGIN_NAME = "secret"
ERR_NOT_FOUND = 'secret "{name}" not found'
ERR_MISSING_KEY = "references non-existent secret key: {key}"


def secret_data(secret: Obj | None) -> dict[str, bytes]:
    if secret is None:
        return {}
    return {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}


async def secret_payload(context: plugin.SetUpContext, source: Obj, *, name: str,
                         default_mode: int) -> atomicwriter.Payload:
    """The files of Secret `name` as `source` (a volume's or a projection's `secret`:
    `items`, `optional`) selects them; VolumeError when it is missing and not optional."""
    optional = bool(source.get("optional"))
    found = await context.lookup.secret(context.namespace, name)
    if found is None and not optional:
        raise plugin.VolumeError(ERR_NOT_FOUND.format(name=name))
    return configmap.make_payload(source.get("items"), secret_data(found),
                                  default_mode=default_mode, optional=optional,
                                  missing_key=ERR_MISSING_KEY)


async def set_up(context: plugin.SetUpContext) -> plugin.MountedVolume:
    source = context.volume.get("secret") or {}
    payload = await secret_payload(context, source, name=str(source.get("secretName") or ""),
                                   default_mode=configmap.default_mode(source))
    path = context.volume_dir(PLUGIN_NAME)
    if context.mounter.can_mount():
        size = emptydir.memory_size(context.pod, size_limit=None,
                                    node_allocatable=context.node_allocatable)
        await emptydir.set_up_tmpfs(path, size_bytes=size, mounts=context.mounter)
    return await configmap.write_volume(context, path, payload)
