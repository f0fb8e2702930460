"""downwardAPI volumes: the pod's own metadata and its containers' resources as files.

Mirrors upstream's `pkg/volume/downwardapi/downwardapi.go` (v1.33, `CollectData`): each item
is a fieldRef (metadata.name, namespace, uid, labels, annotations, `labels['k']`) or a
resourceFieldRef (naming its container; unset limits default to the node's allocatable), at its
`path` with its `mode` or `defaultMode` (0644). Written with the atomic writer, so changed labels
and annotations show up in place on the next refresh. Every item is tried; the errors are
reported together, as upstream's aggregate (`[a, b]` when there are several).
"""

from __future__ import annotations

from typing import Any

from kajitori.kubelet import envvars
from kajitori.kubelet.volumes import atomicwriter, configmap, plugin

Obj = dict[str, Any]

PLUGIN_NAME = "downward-api"


def aggregate(messages: list[str]) -> str:
    """upstream utilerrors.NewAggregate(...).Error()."""
    return messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"


def collect_data(items: list[Obj], pod: Obj, *, default_mode: int,
                 node_allocatable: dict[str, str] | None) -> atomicwriter.Payload:
    """The files of downwardAPI items; raises VolumeError with every item's error."""
    payload: atomicwriter.Payload = {}
    failures: list[str] = []
    for item in items:
        mode = item.get("mode")
        try:
            if item.get("fieldRef") is not None:
                value = envvars.extract_field_path(pod, str(item["fieldRef"].get("fieldPath")))
            elif item.get("resourceFieldRef") is not None:
                value = envvars.pod_resource_value(item["resourceFieldRef"], pod, None,
                                                   node_allocatable=node_allocatable)
            else:
                value = ""
        except ValueError as exc:
            failures.append(str(exc))
            continue
        payload[str(item.get("path") or "")] = atomicwriter.FileProjection(
            value.encode(), default_mode if mode is None else int(mode))
    if failures:
        raise plugin.VolumeError(aggregate(failures))
    return payload


async def set_up(context: plugin.SetUpContext) -> plugin.MountedVolume:
    source = context.volume.get("downwardAPI") or {}
    payload = collect_data(source.get("items") or [], context.pod,
                           default_mode=configmap.default_mode(source),
                           node_allocatable=context.node_allocatable)
    return await configmap.write_volume(context, context.volume_dir(PLUGIN_NAME), payload)
