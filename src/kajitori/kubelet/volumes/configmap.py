"""configMap volumes: a ConfigMap's keys as files, updated in place when it changes.

Mirrors upstream's `pkg/volume/configmap/configmap.go` (v1.33): the directory is set up as an
emptyDir (mode 0777) and filled by the atomic writer (`..data` swap), so containers see a
changed ConfigMap on the next refresh without a restart. Without `items` every key of `data`
and `binaryData` is a file; with `items` only the listed keys, at their `path`, with their
`mode`. Files get `defaultMode` (0644 when unset). A missing ConfigMap fails the mount unless
`optional` (then the volume is empty); a listed key that is missing fails it unless `optional`.
With an fsGroup the whole volume is given to the group after each write (read-only bits).
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

from kajitori.kubelet.volumes import atomicwriter, emptydir, ownership, plugin

Obj = dict[str, Any]

PLUGIN_NAME = "configmap"
DEFAULT_MODE = 0o644
ERR_NOT_FOUND = 'configmap "{name}" not found'
ERR_MISSING_KEY = "configmap references non-existent config key: {key}"


def config_map_data(config_map: Obj | None) -> dict[str, bytes]:
    """`data` and `binaryData` of a ConfigMap (None: none) as bytes."""
    if config_map is None:
        return {}
    data = {key: str(value).encode() for key, value in (config_map.get("data") or {}).items()}
    for key, value in (config_map.get("binaryData") or {}).items():
        data[key] = base64.b64decode(value)
    return data


def make_payload(items: list[Obj] | None, data: dict[str, bytes], *, default_mode: int,
                 optional: bool, missing_key: str) -> atomicwriter.Payload:
    """The files of a configMap or secret source (upstream MakePayload). `missing_key` is the
    message (with `{key}`) for a listed key that is absent, which is skipped when `optional`.
    Raises VolumeError."""
    if not items:
        return {key: atomicwriter.FileProjection(value, default_mode)
                for key, value in data.items()}
    payload: atomicwriter.Payload = {}
    for item in items:
        key = str(item.get("key") or "")
        if key not in data:
            if optional:
                continue
            raise plugin.VolumeError(missing_key.format(key=key))
        mode = item.get("mode")
        payload[str(item.get("path") or "")] = atomicwriter.FileProjection(
            data[key], default_mode if mode is None else int(mode))
    return payload


def _write(path: Path, payload: atomicwriter.Payload, *, fs_group: int | None) -> None:
    """Prepare the directory and write the payload; blocking, for a thread."""
    emptydir.make_dir(path)
    set_perms = None
    if fs_group is not None:
        def set_perms() -> None:
            ownership.set_volume_ownership(path, fs_group, readonly=True)
    try:
        atomicwriter.write(path, payload, set_perms=set_perms)
    except atomicwriter.PayloadError as exc:
        raise plugin.VolumeError(str(exc)) from exc


async def write_volume(context: plugin.SetUpContext, path: Path,
                       payload: atomicwriter.Payload) -> plugin.MountedVolume:
    """Write `payload` atomically into the volume directory `path` (created as an emptyDir
    unless it exists, e.g. as a tmpfs); the volume is mounted read-only."""
    await asyncio.to_thread(_write, path, payload, fs_group=context.fs_group)
    return plugin.MountedVolume(path, readonly=True)


def default_mode(source: Obj) -> int:
    mode = source.get("defaultMode")
    return DEFAULT_MODE if mode is None else int(mode)


async def config_map_payload(context: plugin.SetUpContext, source: Obj, *, name: str,
                             default_mode: int) -> atomicwriter.Payload:
    """The files of ConfigMap `name` as `source` (a volume's or a projection's `configMap`:
    `items`, `optional`) selects them; VolumeError when it is missing and not optional."""
    optional = bool(source.get("optional"))
    found = await context.lookup.config_map(context.namespace, name)
    if found is None and not optional:
        raise plugin.VolumeError(ERR_NOT_FOUND.format(name=name))
    return make_payload(source.get("items"), config_map_data(found), default_mode=default_mode,
                        optional=optional, missing_key=ERR_MISSING_KEY)


async def set_up(context: plugin.SetUpContext) -> plugin.MountedVolume:
    source = context.volume.get("configMap") or {}
    payload = await config_map_payload(context, source, name=str(source.get("name") or ""),
                                       default_mode=default_mode(source))
    return await write_volume(context, context.volume_dir(PLUGIN_NAME), payload)
