"""The pod volume manager: sets up a pod's volumes before its containers start, keeps
configMap, secret, downwardAPI and projected contents current, tears everything down at the end,
and tells the runtime what to bind-mount where.

Mirrors upstream's `pkg/kubelet/volumemanager` (WaitForAttachAndMount, the reconciler's
remounts of "requiresRemount" plugins), `kubelet_pods.go` (`makeMounts`: subPath and
subPathExpr, mountPropagation, the managed `/etc/hosts` of `makeHostsMount`) and
`kubelet_volumes.go` (pod directory cleanup). The layout is upstream's:
`root/pods/<uid>/volumes/kubernetes.io~<plugin>/<name>` and `root/pods/<uid>/etc-hosts`. Each
volume type is a sibling module; `PLUGINS` below is the one table naming them.

Called by the pod worker (`kajitori.kubelet.podworker`): `mount_pod` on every sync before
containers are created, `container_mounts` when building each ContainerConfig, `refresh` on
periodic syncs, `unmount_pod` once the pod is terminated. One pod's calls must not overlap
(the pod worker syncs one pod at a time); different pods' may.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from cri_api.v1 import api_pb2

from kajitori.api import errors as apierrors
from kajitori.api import meta
from kajitori.kubelet import envvars, errors, lookup
from kajitori.kubelet.volumes import (
    atomicwriter,
    configmap,
    downwardapi,
    emptydir,
    hostpath,
    mounter,
    persistentvolumeclaim,
    plugin,
    projected,
    secret,
)

log = logging.getLogger(__name__)
Obj = dict[str, Any]
SetUp = Callable[[plugin.SetUpContext], Awaitable[plugin.MountedVolume]]

PLUGINS: dict[str, tuple[str, SetUp]] = {
    "emptyDir": (emptydir.PLUGIN_NAME, emptydir.set_up),
    "hostPath": ("", hostpath.set_up),
    "configMap": (configmap.PLUGIN_NAME, configmap.set_up),
    "secret": (secret.PLUGIN_NAME, secret.set_up),
    "downwardAPI": (downwardapi.PLUGIN_NAME, downwardapi.set_up),
    "projected": (projected.PLUGIN_NAME, projected.set_up),
    "persistentVolumeClaim": ("", persistentvolumeclaim.set_up),
}
"""Volume source field → (directory plugin name, "" when nothing is kept under the pod; set up)."""
REFRESHED = frozenset({"configMap", "secret", "downwardAPI", "projected"})
"""Sources whose contents follow their objects (upstream's RequiresRemount plugins)."""

PODS_DIR = "pods"
ETC_HOSTS_FILE = "etc-hosts"
ETC_HOSTS_PATH = "/etc/hosts"
NODE_HOSTS_FILE = Path("/etc/hosts")
MANAGED_HOSTS_HEADER = "# Kubernetes-managed hosts file.\n"
MANAGED_HOSTS_HEADER_HOST_NETWORK = "# Kubernetes-managed hosts file (host network).\n"
HOST_ALIASES_HEADER = "\n# Entries added by HostAliases.\n"
LOCAL_HOSTS = ("127.0.0.1\tlocalhost\n"
               "::1\tlocalhost ip6-localhost ip6-loopback\n"
               "fe00::0\tip6-localnet\n"
               "fe00::0\tip6-mcastprefix\n"
               "fe00::1\tip6-allnodes\n"
               "fe00::2\tip6-allrouters\n")
HOSTNAME_MAX_LENGTH = 63

ERR_SET_UP = 'MountVolume.SetUp failed for volume "{volume}" : {error}'
ERR_UNSUPPORTED_VOLUME = "volume type not supported by this node: {fields}"
ERR_NO_VOLUME = 'cannot find volume "{volume}" to mount into container "{container}"'
ERR_ABSOLUTE_SUBPATH = "error SubPath `{subpath}` must not be an absolute path"
ERR_SUBPATH_BACKSTEPS = "unable to provision SubPath `{subpath}`: must not contain '..'"
ERR_SUBPATH_CREATE = ('failed to create subPath directory for volumeMount "{volume}" of '
                      'container "{container}"')
ERR_SUBPATH_PREPARE = ('failed to prepare subPath for volumeMount "{volume}" of container '
                       '"{container}"')
ERR_PROPAGATION = 'invalid MountPropagation mode: "{mode}"'
ERR_STILL_MOUNTED = "cannot remove the directory of pod {uid}: {path} is still mounted"

PROPAGATION = {
    None: api_pb2.PROPAGATION_PRIVATE,
    "None": api_pb2.PROPAGATION_PRIVATE,
    "HostToContainer": api_pb2.PROPAGATION_HOST_TO_CONTAINER,
    "Bidirectional": api_pb2.PROPAGATION_BIDIRECTIONAL,
}


def _source_field(volume: Obj) -> str | None:
    for field in PLUGINS:
        if volume.get(field) is not None:
            return field
    return None


def pod_hostname(pod: Obj, *, cluster_domain: str) -> tuple[str, str]:
    """(hostname, domain) of a pod as upstream's GeneratePodHostNameAndDomain: spec.hostname or
    the pod's name, cut to 63 characters without a trailing `-` or `.`; the domain
    `<subdomain>.<namespace>.svc.<cluster domain>` when spec.subdomain is set."""
    spec = pod.get("spec") or {}
    hostname = str(spec.get("hostname") or meta.name(pod))
    if len(hostname) > HOSTNAME_MAX_LENGTH:
        hostname = hostname[:HOSTNAME_MAX_LENGTH].rstrip("-.")
    domain = ""
    if spec.get("subdomain"):
        domain = f"{spec['subdomain']}.{meta.namespace(pod)}.svc.{cluster_domain}"
    return hostname, domain


def managed_hosts_content(pod: Obj, pod_ips: Sequence[str], *, cluster_domain: str) -> str:
    """The `/etc/hosts` of a pod on the pod network (upstream managedHostsFileContent)."""
    hostname, domain = pod_hostname(pod, cluster_domain=cluster_domain)
    names = f"{hostname}.{domain}\t{hostname}" if domain else hostname
    lines = [MANAGED_HOSTS_HEADER, LOCAL_HOSTS, *(f"{ip}\t{names}\n" for ip in pod_ips)]
    return "".join(lines) + _host_aliases(pod)


def _host_aliases(pod: Obj) -> str:
    aliases = (pod.get("spec") or {}).get("hostAliases") or []
    if not aliases:
        return ""
    return HOST_ALIASES_HEADER + "".join(
        f"{alias.get('ip', '')}\t{chr(9).join(alias.get('hostnames') or [])}\n"
        for alias in aliases)


class VolumeManager:
    """The volumes of the pods of this node, under `root` (the kubelet's root dir).

    `mounter`: how tmpfs volumes are mounted (None: the machine's, `SystemMounter`);
    `node_allocatable`: the node's allocatable resources (None: the machine's), the default of
    unset limits in downward API files and of tmpfs sizes; `cluster_domain`: for the managed
    /etc/hosts of pods with a subdomain."""

    def __init__(self, root: Path, *, lookup: lookup.ObjectLookup,
                 mounter: mounter.Mounter | None = None,
                 node_allocatable: dict[str, str] | None = None,
                 cluster_domain: str = "cluster.local") -> None:
        self._root = root
        self._lookup = lookup
        self._mounter = mounter if mounter is not None else _system_mounter()
        self._node_allocatable = node_allocatable
        self._cluster_domain = cluster_domain
        self._mounted: dict[str, dict[str, plugin.MountedVolume]] = {}

    def pod_dir(self, pod_uid: str) -> Path:
        """`root/pods/<uid>`: the pod's volumes, its etc-hosts, its containers' files."""
        return self._root / PODS_DIR / pod_uid

    def volume_path(self, pod: Obj, volume_name: str) -> Path | None:
        """The host path of a set-up volume of `pod` (None: not set up by this process yet)."""
        mounted = self._mounted.get(meta.uid(pod), {}).get(volume_name)
        return None if mounted is None else mounted.host_path

    async def mount_pod(self, pod: Obj) -> None:
        """Set up every volume of `pod`; idempotent (what is there is kept, and configMap &
        co. are brought up to date). Every volume is tried; raises MountError with the first
        failure's message (`MountVolume.SetUp failed for volume "config" : configmap "x" not
        found`) of a volume not set up before. A volume set up before whose update fails
        (its ConfigMap was deleted) keeps its contents and is only logged, as upstream's
        running pods are not held up by a failed remount: `refresh` reports those."""
        await self._set_up(pod, only=None, strict=False)

    async def refresh(self, pod: Obj) -> None:
        """Rewrite the configMap, secret, downwardAPI and projected volumes of `pod` in place
        (a container sees a changed ConfigMap without restarting; tokens are renewed). Raises
        MountError with the first failure, set up before or not."""
        await self._set_up(pod, only=REFRESHED, strict=True)

    def _was_set_up(self, uid: str, volume: Obj) -> bool:
        """Set up by this process, or (after a restart) a volume with written contents."""
        name = str(volume.get("name") or "")
        if name in self._mounted.get(uid, {}):
            return True
        field = _source_field(volume)
        if field not in REFRESHED:
            return False
        path = plugin.volume_dir(self.pod_dir(uid), PLUGINS[str(field)][0], name)
        return (path / atomicwriter.DATA_DIR_NAME).is_symlink()

    async def _set_up(self, pod: Obj, *, only: frozenset[str] | None, strict: bool) -> None:
        uid = meta.uid(pod)
        pod_dir = self.pod_dir(uid)
        await asyncio.to_thread(_make_pod_dirs, pod_dir)
        mounted = self._mounted.setdefault(uid, {})
        failures: list[errors.MountError] = []
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            field = _source_field(volume)
            if only is not None and field not in only:
                continue
            name = str(volume.get("name") or "")
            context = plugin.SetUpContext(pod=pod, volume=volume, pod_dir=pod_dir,
                                          lookup=self._lookup, mounter=self._mounter,
                                          node_allocatable=self._node_allocatable)
            known = self._was_set_up(uid, volume)
            try:
                if field is None:
                    fields = sorted(k for k in volume if k != "name")
                    raise plugin.VolumeError(ERR_UNSUPPORTED_VOLUME.format(
                        fields=", ".join(fields)))
                mounted[name] = await PLUGINS[field][1](context)
            except errors.MountError as exc:
                failure = exc
            except (plugin.VolumeError, mounter.MountFailure, apierrors.StatusError,
                    aiohttp.ClientError, OSError, TimeoutError) as exc:
                failure = errors.MountError(ERR_SET_UP.format(volume=name, error=exc))
            else:
                continue
            if known and not strict:
                log.warning("pod %s: keeping volume %r as it was: %s", uid, name, failure)
            else:
                failures.append(failure)
        if failures:
            raise failures[0]

    async def unmount_pod(self, pod_uid: str) -> None:
        """Unmount the pod's tmpfs volumes and remove its directory (hostPath and
        PersistentVolume contents are never touched: they live outside it). Idempotent.
        Raises MountError, leaving everything in place, if something stays mounted."""
        self._mounted.pop(pod_uid, None)
        pod_dir = self.pod_dir(pod_uid)
        if not await asyncio.to_thread(pod_dir.exists):
            return
        for point in self._mounter.mount_points_under(pod_dir):
            try:
                await self._mounter.unmount(point)
            except mounter.MountFailure as exc:
                raise errors.MountError(str(exc)) from exc
        remaining = self._mounter.mount_points_under(pod_dir)
        if remaining:
            raise errors.MountError(ERR_STILL_MOUNTED.format(uid=pod_uid, path=remaining[0]))
        await asyncio.to_thread(shutil.rmtree, pod_dir)

    def container_mounts(self, pod: Obj, container: Obj, *, pod_ips: Sequence[str] = (),
                         env: Sequence[api_pb2.KeyValue] = ()) -> list[api_pb2.Mount]:
        """The bind mounts of `container` (upstream makeMounts): one per volumeMount (subPath
        and subPathExpr resolved inside the volume, created when missing; readOnly also when
        the volume type is read-only), then the managed /etc/hosts unless the container mounts
        something there itself or the pod has no IP yet (`pod_ips` empty, not hostNetwork).
        `env`: the container's environment (envvars.container_env) for subPathExpr. Call after
        mount_pod. Raises ContainerConfigError with upstream's message. Writes the hosts file
        (small) on the caller's thread."""
        uid = meta.uid(pod)
        volumes = {str(v.get("name")): v for v in (pod.get("spec") or {}).get("volumes") or []}
        container_name = str(container.get("name") or "")
        mounts = []
        mount_hosts = bool(pod_ips) or bool((pod.get("spec") or {}).get("hostNetwork"))
        for volume_mount in container.get("volumeMounts") or []:
            name = str(volume_mount.get("name") or "")
            mounted = self._mounted_volume(uid, volumes.get(name))
            if mounted is None:
                raise errors.ContainerConfigError(ERR_NO_VOLUME.format(
                    volume=name, container=container_name))
            mount_path = str(volume_mount.get("mountPath") or "")
            if mount_path == ETC_HOSTS_PATH:
                mount_hosts = False
            host_path = mounted.host_path
            subpath = str(volume_mount.get("subPath") or "")
            if volume_mount.get("subPathExpr"):
                subpath = envvars.expand_subpath(volume_mount, env)
            if subpath:
                host_path = _prepare_subpath(host_path, subpath, volume=name,
                                             container=container_name)
            propagation = volume_mount.get("mountPropagation")
            if propagation not in PROPAGATION:
                raise errors.ContainerConfigError(ERR_PROPAGATION.format(mode=propagation))
            mounts.append(api_pb2.Mount(
                container_path=mount_path, host_path=str(host_path),
                readonly=bool(volume_mount.get("readOnly")) or mounted.readonly,
                selinux_relabel=False, propagation=PROPAGATION[propagation]))
        if mount_hosts:
            mounts.append(self.etc_hosts_mount(pod, pod_ips=pod_ips))
        return mounts

    def etc_hosts_mount(self, pod: Obj, *, pod_ips: Sequence[str]) -> api_pb2.Mount:
        """Write the pod's managed hosts file (`root/pods/<uid>/etc-hosts`, 0644) and return
        its mount at /etc/hosts (upstream makeHostsMount): localhost entries, each pod IP with
        the pod's hostname (and FQDN), hostAliases; a hostNetwork pod gets the node's own file
        under a header."""
        path = self.pod_dir(meta.uid(pod)) / ETC_HOSTS_FILE
        if (pod.get("spec") or {}).get("hostNetwork"):
            content = (MANAGED_HOSTS_HEADER_HOST_NETWORK + NODE_HOSTS_FILE.read_text()
                       + _host_aliases(pod))
        else:
            content = managed_hosts_content(pod, pod_ips, cluster_domain=self._cluster_domain)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        os.chmod(path, 0o644)
        return api_pb2.Mount(container_path=ETC_HOSTS_PATH, host_path=str(path),
                             readonly=False, selinux_relabel=False)

    def _mounted_volume(self, uid: str, volume: Obj | None) -> plugin.MountedVolume | None:
        """A set-up volume; after a kubelet restart, volumes that live at a known path are
        found without mount_pod having run in this process (claims must be resolved again)."""
        if volume is None:
            return None
        name = str(volume.get("name") or "")
        known = self._mounted.get(uid, {}).get(name)
        if known is not None:
            return known
        field = _source_field(volume)
        if field == "hostPath":
            return plugin.MountedVolume(Path(str(volume["hostPath"].get("path") or "")))
        if field is None or not PLUGINS[field][0]:
            return None
        path = plugin.volume_dir(self.pod_dir(uid), PLUGINS[field][0], name)
        return plugin.MountedVolume(path, readonly=field in REFRESHED)


def _system_mounter() -> mounter.Mounter:
    return mounter.SystemMounter()


def _make_pod_dirs(pod_dir: Path) -> None:
    """`pods/<uid>` and its `volumes` and `plugins` directories, 0750 (upstream
    makePodDataDirs)."""
    for path in (pod_dir, pod_dir / plugin.VOLUMES_DIR, pod_dir / "plugins"):
        path.mkdir(mode=0o750, parents=True, exist_ok=True)


def _prepare_subpath(volume_path: Path, subpath: str, *, volume: str, container: str) -> Path:
    """The host path of a subPath inside a volume, created (with the volume's mode) when
    missing. Refuses absolute paths, `..`, and symlinks leading out of the volume, as
    upstream's makeMounts and PrepareSafeSubpath do; the path is resolved now, so a later
    change of a configMap does not reach a subPath mount (as upstream)."""
    if subpath.startswith("/"):
        raise errors.ContainerConfigError(ERR_ABSOLUTE_SUBPATH.format(subpath=subpath))
    if ".." in subpath.split("/"):
        raise errors.ContainerConfigError(ERR_SUBPATH_BACKSTEPS.format(subpath=subpath))
    base = os.path.realpath(volume_path)
    target = Path(volume_path) / subpath
    if not os.path.lexists(target):
        try:
            mode = os.stat(base).st_mode & 0o7777
            os.makedirs(target, exist_ok=True)
            os.chmod(target, mode)
        except OSError as exc:
            raise errors.ContainerConfigError(ERR_SUBPATH_CREATE.format(
                volume=volume, container=container)) from exc
    resolved = os.path.realpath(target)
    if resolved != base and not resolved.startswith(base.rstrip("/") + "/"):
        raise errors.ContainerConfigError(ERR_SUBPATH_PREPARE.format(volume=volume,
                                                                     container=container))
    return Path(resolved)
