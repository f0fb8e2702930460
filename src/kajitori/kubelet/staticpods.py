"""Static pods: pods from manifest files in `staticPodPath`, and their mirror pods in the API.

Mirrors upstream's file source (`pkg/kubelet/config/file.go`, `common.go`: one pod per YAML or
JSON file, dotfiles skipped; the pod named `<name>-<node>`, namespace `default` if none, bound
to this node, given the NoExecute toleration of every kind, a UID hashed from the pod, the node
and the file, and the `kubernetes.io/config.hash/source/seen` annotations; re-read every
`fileCheckFrequency` (20 s) and whenever the directory changes) and the mirror client
(`pkg/kubelet/pod/mirror_client.go`): for each static pod the API holds a mirror pod of the same
name, owned by the Node and annotated `kubernetes.io/config.mirror` with the static pod's hash,
recreated when someone deletes it or it belongs to an older version of the file. The static pod
itself keeps running whatever happens to its mirror: it stops only when its file goes away.

Departures: the UID is an MD5 of the pod's canonical JSON with the node and the file, not of
Go's object dump (so not byte-equal to upstream's, just as stable); a change is noticed by
polling the directory every `CHANGE_POLL_INTERVAL` seconds rather than through inotify.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import orjson
import yaml

from kajitori.api import defaults, errors, meta
from kajitori.client import backoff, rest

Obj = dict[str, Any]

log = logging.getLogger(__name__)

PODS = ("", "v1", "pods")
CONFIG_MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
CONFIG_HASH_ANNOTATION = "kubernetes.io/config.hash"
CONFIG_SOURCE_ANNOTATION = "kubernetes.io/config.source"
CONFIG_SEEN_ANNOTATION = "kubernetes.io/config.seen"
FILE_SOURCE = "file"
DEFAULT_NAMESPACE = "default"
CHANGE_POLL_INTERVAL = 1.0
"""Seconds between looks at the directory's file names, sizes and modification times."""


class PodUpdates(Protocol):
    """Where static pods go: the pod workers (`podworker.PodWorkers`)."""

    def update_pod(self, pod: Obj) -> None: ...

    def forget(self, pod_uid: str) -> None: ...


def is_mirror_pod(pod: Obj) -> bool:
    return CONFIG_MIRROR_ANNOTATION in meta.annotations(pod)


def is_static_pod(pod: Obj) -> bool:
    return meta.annotations(pod).get(CONFIG_SOURCE_ANNOTATION) == FILE_SOURCE


def static_pod_uid(pod: Obj, *, node_name: str, source: str) -> str:
    """The UID of a static pod without one: a hash of the pod as read, the node and the file,
    so the same file on the same node always gives the same pod and a changed one a new pod."""
    hasher = hashlib.md5(usedforsecurity=False)
    hasher.update(orjson.dumps(pod, option=orjson.OPT_SORT_KEYS))
    hasher.update(f"host:{node_name}".encode())
    hasher.update(f"file:{source}".encode())
    return hasher.hexdigest()


def static_pod(manifest: Obj, *, node_name: str, source: str, seen: str) -> Obj:
    """The pod a manifest file describes, as the kubelet runs it (upstream's `applyDefaults`
    plus the API defaults). Raises ValueError for something that is not a Pod with a name."""
    if manifest.get("kind") != "Pod" or manifest.get("apiVersion") != "v1":
        raise ValueError(f"{source}: not a v1 Pod (kind {manifest.get('kind')!r}, "
                         f"apiVersion {manifest.get('apiVersion')!r})")
    pod = copy.deepcopy(manifest)
    md = pod.setdefault("metadata", {})
    if not md.get("name"):
        raise ValueError(f"{source}: the pod has no metadata.name")
    uid = md.get("uid") or static_pod_uid(manifest, node_name=node_name, source=source)
    md["uid"] = uid
    md["name"] = f"{md['name']}-{node_name.lower()}"
    md["namespace"] = md.get("namespace") or DEFAULT_NAMESPACE
    md.setdefault("annotations", {}).update({
        CONFIG_HASH_ANNOTATION: uid, CONFIG_SOURCE_ANNOTATION: FILE_SOURCE,
        CONFIG_SEEN_ANNOTATION: seen})
    spec = pod.setdefault("spec", {})
    spec["nodeName"] = node_name
    tolerations = spec.setdefault("tolerations", [])
    if {"operator": "Exists", "effect": "NoExecute"} not in tolerations:
        tolerations.append({"operator": "Exists", "effect": "NoExecute"})
    defaults.apply_defaults("", "v1", "Pod", pod)
    return pod


def mirror_pod(pod: Obj, *, node_name: str, node_uid: str) -> Obj:
    """The mirror of static `pod` (upstream's `CreateMirrorPod`): its copy with the mirror
    annotation, owned by the Node, without the static pod's UID."""
    mirror = copy.deepcopy(pod)
    md = mirror["metadata"]
    md.pop("uid", None)
    md["annotations"][CONFIG_MIRROR_ANNOTATION] = md["annotations"][CONFIG_HASH_ANNOTATION]
    md["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node_name,
                              "uid": node_uid}]
    mirror.pop("status", None)
    return mirror


def _signature(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and mtimes of the directory's files: what changes when a file does."""
    try:
        entries = sorted(directory.iterdir())
    except FileNotFoundError:
        return ()
    out = []
    for entry in entries:
        with contextlib.suppress(FileNotFoundError):
            stat = entry.stat()
            out.append((entry.name, stat.st_size, stat.st_mtime_ns))
    return tuple(out)


def read_manifests(directory: Path) -> dict[Path, Obj]:
    """Every manifest of the directory (dotfiles and subdirectories skipped); a file that does
    not parse is logged and left out, as upstream. Blocking: call it off the loop."""
    found: dict[Path, Obj] = {}
    try:
        entries = sorted(directory.iterdir())
    except FileNotFoundError:
        return found
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_file():
            continue
        try:
            doc = yaml.safe_load(entry.read_text())
        except (OSError, yaml.YAMLError) as exc:
            log.error("could not read static pod manifest %s: %s", entry, exc)
            continue
        if isinstance(doc, dict):
            found[entry] = doc
    return found


@dataclasses.dataclass
class _Known:
    pod: Obj
    source: Path


class StaticPods:
    """The static pods of `settings.pod_manifest_path` on this node, and their mirrors.

    `run()` re-reads the directory every `file_check_frequency` seconds and soon after any
    change: a new pod goes to `updates.update_pod`; a pod whose file changed or went away is
    marked deleted (`update_pod` with a deletionTimestamp), `forget`-ten and its mirror
    deleted; the new version starts as a new pod. Mirrors are made whenever one is missing or
    stale: `mirror_changed()` (the pod source calls it when a mirror pod changes or goes) asks
    for that check now. `node_uid` gives the registered Node's UID, "" until it exists (no
    mirrors before). API failures are logged and retried at the next check."""

    def __init__(self, client: rest.RESTClient, *, node_name: str, manifest_dir: Path,
                 updates: PodUpdates, mirror_lookup: Callable[[str, str], Obj | None],
                 node_uid: Callable[[], str], file_check_frequency: float = 20.0,
                 now: Callable[[], str] = meta.now) -> None:
        self._client = client
        self._node_name = node_name
        self._dir = manifest_dir
        self._updates = updates
        self._mirror_lookup = mirror_lookup
        self._node_uid = node_uid
        self._frequency = file_check_frequency
        self._now = now
        self._known: dict[str, _Known] = {}
        self._wake = asyncio.Event()
        self.synced = asyncio.Event()
        """Set once the directory has been read for the first time."""

    @property
    def pods(self) -> list[Obj]:
        """The static pods running now."""
        return [known.pod for known in self._known.values()]

    def mirror_changed(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._watch_directory())
            while True:
                self._wake.clear()  # before the sync: a change during it wakes the next one
                await self.sync()
                self.synced.set()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._frequency):
                        await self._wake.wait()

    async def _watch_directory(self) -> None:
        last = await asyncio.to_thread(_signature, self._dir)
        while True:
            await asyncio.sleep(CHANGE_POLL_INTERVAL)
            current = await asyncio.to_thread(_signature, self._dir)
            if current != last:
                last = current
                self._wake.set()

    async def sync(self) -> None:
        """Re-read the manifests, start and stop pods, and make the mirrors right."""
        manifests = await asyncio.to_thread(read_manifests, self._dir)
        wanted: dict[str, tuple[Obj, Path]] = {}
        for source, manifest in manifests.items():
            try:
                uid = str((manifest.get("metadata") or {}).get("uid") or "") or \
                    static_pod_uid(manifest, node_name=self._node_name, source=str(source))
                if uid not in self._known:
                    pod = static_pod(manifest, node_name=self._node_name, source=str(source),
                                     seen=self._now())
                else:
                    pod = self._known[uid].pod
            except ValueError as exc:
                log.error("invalid static pod manifest: %s", exc)
                continue
            wanted[meta.uid(pod)] = (pod, source)
        for uid in list(self._known):
            if uid not in wanted:
                await self._remove(self._known.pop(uid).pod)
        for uid, (pod, source) in wanted.items():
            if uid not in self._known:
                log.info("static pod %s/%s from %s", meta.namespace(pod), meta.name(pod), source)
                self._known[uid] = _Known(pod, source)
                self._updates.update_pod(pod)
        for known in list(self._known.values()):
            try:
                await self._ensure_mirror(known.pod)
            except backoff.RETRIABLE as exc:
                log.warning("failed creating a mirror pod for %s: %s", meta.name(known.pod), exc)

    async def _remove(self, pod: Obj) -> None:
        log.info("static pod %s/%s removed", meta.namespace(pod), meta.name(pod))
        gone = copy.deepcopy(pod)
        gone["metadata"]["deletionTimestamp"] = self._now()
        gone["metadata"].setdefault("deletionGracePeriodSeconds", int(
            pod["spec"].get("terminationGracePeriodSeconds", 30)))
        self._updates.update_pod(gone)
        self._updates.forget(meta.uid(pod))
        try:
            await self._delete_mirror(pod, mirror=self._mirror_lookup(
                meta.namespace(pod), meta.name(pod)))
        except backoff.RETRIABLE as exc:
            log.warning("failed deleting the mirror pod of %s: %s", meta.name(pod), exc)

    async def _ensure_mirror(self, pod: Obj) -> None:
        """Create the mirror if missing; replace one of another version or being deleted."""
        node_uid = self._node_uid()
        if not node_uid:
            return
        mirror = self._mirror_lookup(meta.namespace(pod), meta.name(pod))
        if mirror is not None:
            current = meta.annotations(mirror).get(CONFIG_MIRROR_ANNOTATION)
            if current == meta.uid(pod) and not meta.deletion_timestamp(mirror):
                return
            await self._delete_mirror(pod, mirror=mirror)
        try:
            await self._client.create(
                rest.resource_path(*PODS, namespace=meta.namespace(pod)),
                mirror_pod(pod, node_name=self._node_name, node_uid=node_uid))
        except errors.StatusError as exc:
            if exc.code != 409:  # the informer has not seen it yet: checked again later
                raise

    async def _delete_mirror(self, pod: Obj, *, mirror: Obj | None) -> None:
        """Delete the mirror pod named like `pod` (upstream's `DeleteMirrorPod`: grace 0,
        preconditioned on the UID seen, so a newer mirror is left alone)."""
        if mirror is None or not is_mirror_pod(mirror):
            return
        options: Obj = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                        "preconditions": {"uid": meta.uid(mirror)}}
        try:
            await self._client.delete(rest.resource_path(
                *PODS, namespace=meta.namespace(pod), name=meta.name(pod)), options=options)
        except errors.StatusError as exc:
            if exc.code not in (404, 409):
                raise
