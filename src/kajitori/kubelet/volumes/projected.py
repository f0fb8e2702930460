"""projected volumes: configMap, secret, downwardAPI and serviceAccountToken sources in one
directory.

Mirrors upstream's `pkg/volume/projected/projected.go` (v1.33, `collectData`): sources are
merged in order (a later one wins a path), each with the rules of its own volume type
(`optional`, `items`, modes from the projected `defaultMode`, 0644 when unset). A
serviceAccountToken source writes a token for `audience` (default: the apiserver's) valid for
`expirationSeconds` (default 3600), bound to the pod and requested again before it expires (on
refresh); its mode is 0600 when the pod has an fsGroup (the ownership change then adds group
read). Errors of all sources are reported together. clusterTrustBundle sources are skipped:
the ClusterTrustBundle API is beta and off by default in v1.33.
"""

from __future__ import annotations

from typing import Any

from kajitori.api import errors as apierrors
from kajitori.kubelet.volumes import atomicwriter, configmap, downwardapi, plugin, secret

Obj = dict[str, Any]

PLUGIN_NAME = "projected"
DEFAULT_TOKEN_EXPIRATION_SECONDS = 3600
TOKEN_MODE_WITH_FS_GROUP = 0o600


async def _source_payload(context: plugin.SetUpContext, source: Obj, *,
                          default_mode: int) -> atomicwriter.Payload:
    if source.get("configMap") is not None:
        ref = source["configMap"]
        return await configmap.config_map_payload(context, ref, name=str(ref.get("name") or ""),
                                                  default_mode=default_mode)
    if source.get("secret") is not None:
        ref = source["secret"]
        return await secret.secret_payload(context, ref, name=str(ref.get("name") or ""),
                                           default_mode=default_mode)
    if source.get("downwardAPI") is not None:
        return downwardapi.collect_data(source["downwardAPI"].get("items") or [], context.pod,
                                        default_mode=default_mode,
                                        node_allocatable=context.node_allocatable)
    if source.get("serviceAccountToken") is not None:
        ref = source["serviceAccountToken"]
        token = await context.lookup.service_account_token(
            context.pod, audience=str(ref.get("audience") or ""),
            expiration_seconds=int(ref.get("expirationSeconds")
                                   or DEFAULT_TOKEN_EXPIRATION_SECONDS))
        mode = TOKEN_MODE_WITH_FS_GROUP if context.fs_group is not None else default_mode
        return {str(ref.get("path") or ""): atomicwriter.FileProjection(token.encode(), mode)}
    return {}


async def set_up(context: plugin.SetUpContext) -> plugin.MountedVolume:
    projected = context.volume.get("projected") or {}
    default_mode = configmap.default_mode(projected)
    payload: atomicwriter.Payload = {}
    failures: list[str] = []
    for source in projected.get("sources") or []:
        try:
            payload.update(await _source_payload(context, source, default_mode=default_mode))
        except (plugin.VolumeError, apierrors.StatusError) as exc:
            failures.append(str(exc))
    if failures:
        raise plugin.VolumeError(downwardapi.aggregate(failures))
    return await configmap.write_volume(context, context.volume_dir(PLUGIN_NAME), payload)
