"""Builds the node's own images offline: OCI and docker archives from a recipe in `images/`.

An offline node cannot pull `registry.k8s.io/pause` (every pod sandbox needs it) nor the
busybox the tests and examples run, so the project makes both from Debian's busybox-static.
A recipe is `images/<name>/recipe.json`: the image names, the busybox binary, a directory of
extra files, and the image config (`Cmd`, `Env`, `WorkingDir`). The rootfs is busybox with
every applet linked to it (`busybox --list-full`), plus the files.

Builds are deterministic (uid/gid 0, mtime 0, sorted entries, gzip without a timestamp), so
an image's digest only changes with its recipe, files or busybox, and a build is cached under
a key of exactly those: tests and `kajitori agent` build once per machine. The archive layout
is the OCI image layout in a tar (what `ctr images import` and `skopeo copy oci-archive:` read;
`io.containerd.image.name` in index.json names the image for containerd), and a
docker-archive (`docker load`, `skopeo copy docker-archive:`).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
"""The sandbox image containerd is configured with (`images/pause`)."""
BUSYBOX_IMAGE = "docker.io/library/busybox:latest"
BUILTIN_RECIPES = ("pause", "busybox")
"""The images every node imports at start (`images.ensure_builtin_images`)."""

RECIPES_DIR = Path(__file__).resolve().parents[3] / "images"
"""`images/` at the top of the repository."""
BUILDER_VERSION = "1"
"""Part of every cache key: bump it when this module's output changes."""

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
CONTAINERD_NAME_ANNOTATION = "io.containerd.image.name"
OCI_REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"

_ROOTFS_DIRS = ("bin", "dev", "etc", "home", "proc", "root", "sbin", "sys", "tmp", "usr",
                "usr/bin", "usr/sbin", "var")


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    names: tuple[str, ...]
    """Full references (`docker.io/library/busybox:latest`); the first is the image's name."""
    busybox: Path
    files: Path
    config: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class BuiltImage:
    names: tuple[str, ...]
    oci_archive: Path
    docker_archive: Path
    manifest_digest: str
    """`sha256:...` of the OCI manifest: what a registry reports after a push."""
    config_digest: str
    """`sha256:...` of the image config: the image ID containerd and `crictl images` show."""


def load_recipe(name: str, *, recipes_dir: Path = RECIPES_DIR) -> Recipe:
    directory = recipes_dir / name
    data = json.loads((directory / "recipe.json").read_text())
    return Recipe(name=name, names=tuple(data["names"]), busybox=Path(data["busybox"]),
                  files=(directory / data.get("files", "files")).resolve(),
                  config=dict(data["config"]))


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/kajitori/images` (default `~/.cache/kajitori/images`)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kajitori" / "images"


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _extra_files(recipe: Recipe) -> list[Path]:
    if not recipe.files.is_dir():
        return []
    return sorted(p for p in recipe.files.rglob("*") if p.is_file())


def cache_key(recipe: Recipe) -> str:
    """Changes exactly when the built image would."""
    h = hashlib.sha256(BUILDER_VERSION.encode())
    h.update(json.dumps([recipe.names, recipe.config], sort_keys=True).encode())
    h.update(recipe.busybox.read_bytes())
    for path in _extra_files(recipe):
        h.update(str(path.relative_to(recipe.files)).encode() + b"\0")
        h.update(oct(path.stat().st_mode & 0o777).encode() + path.read_bytes())
    return h.hexdigest()[:16]


def _tar_info(name: str, kind: bytes, *, mode: int, size: int = 0,
              linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname = kind, mode, size, linkname
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = 0
    return info


def _applets(busybox: Path) -> list[str]:
    out = subprocess.run([str(busybox), "--list-full"], check=True, capture_output=True,
                         text=True).stdout
    return sorted(set(out.split()))


def layer_tar(recipe: Recipe) -> bytes:
    """The uncompressed rootfs layer: directories, busybox at /bin/busybox, every applet a
    symlink to it, then the recipe's files (which win over an applet of the same path)."""
    files = {str(p.relative_to(recipe.files)): p for p in _extra_files(recipe)}
    entries: dict[str, tarfile.TarInfo] = {}
    data: dict[str, bytes] = {}
    for directory in _ROOTFS_DIRS:
        entries[directory] = _tar_info(directory, tarfile.DIRTYPE,
                                       mode=0o1777 if directory == "tmp" else 0o755)
    for rel in files:
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            entries.setdefault("/".join(parts[:i]),
                               _tar_info("/".join(parts[:i]), tarfile.DIRTYPE, mode=0o755))
    binary = recipe.busybox.read_bytes()
    entries["bin/busybox"] = _tar_info("bin/busybox", tarfile.REGTYPE, mode=0o755,
                                       size=len(binary))
    data["bin/busybox"] = binary
    for applet in _applets(recipe.busybox):
        if applet != "bin/busybox" and applet not in files:
            entries[applet] = _tar_info(applet, tarfile.SYMTYPE, mode=0o777,
                                        linkname="/bin/busybox")
    for rel, path in files.items():
        content = path.read_bytes()
        entries[rel] = _tar_info(rel, tarfile.REGTYPE, mode=path.stat().st_mode & 0o777,
                                 size=len(content))
        data[rel] = content
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(entries):
            tar.addfile(entries[name], io.BytesIO(data[name]) if name in data else None)
    return out.getvalue()


def _json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _add(tar: tarfile.TarFile, name: str, content: bytes) -> None:
    tar.addfile(_tar_info(name, tarfile.REGTYPE, mode=0o644, size=len(content)),
                io.BytesIO(content))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    tar.addfile(_tar_info(name, tarfile.DIRTYPE, mode=0o755))


def _write_atomically(path: Path, content: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.",
                                     delete=False) as tmp:
        tmp.write(content)
    os.chmod(tmp.name, 0o644)
    Path(tmp.name).replace(path)


def build(recipe: Recipe, *, cache_dir: Path | None = None) -> BuiltImage:
    """The recipe's archives, from the cache when built before (`cache_dir`, default
    `default_cache_dir()`). Blocking (reads and compresses a few MB): call it in a thread from
    async code. Safe to run concurrently: archives appear atomically."""
    cache = cache_dir or default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    stem = f"{recipe.name}-{cache_key(recipe)}"
    oci_path = cache / f"{stem}.oci.tar"
    docker_path = cache / f"{stem}.docker.tar"
    meta_path = cache / f"{stem}.json"
    if oci_path.exists() and docker_path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        return BuiltImage(recipe.names, oci_path, docker_path, meta["manifest"], meta["config"])

    raw = layer_tar(recipe)
    layer = gzip.compress(raw, compresslevel=9, mtime=0)
    config = _json({
        "architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:00Z",
        "config": recipe.config,
        "rootfs": {"type": "layers", "diff_ids": [_sha256(raw)]},
        "history": [{"created": "1970-01-01T00:00:00Z",
                     "created_by": f"kajitori imagebuild {recipe.name}"}],
    })
    manifest = _json({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": _sha256(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": _sha256(layer), "size": len(layer)}],
    })
    index = _json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": _sha256(manifest), "size": len(manifest),
         "platform": {"architecture": "amd64", "os": "linux"},
         "annotations": {CONTAINERD_NAME_ANNOTATION: name,
                         OCI_REF_NAME_ANNOTATION: name.rsplit(":", 1)[1]}}
        for name in recipe.names]})

    oci = io.BytesIO()
    with tarfile.open(fileobj=oci, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "oci-layout", _json({"imageLayoutVersion": "1.0.0"}))
        _add(tar, "index.json", index)
        for directory in ("blobs", "blobs/sha256"):
            _add_dir(tar, directory)
        for blob in sorted((layer, config, manifest), key=_sha256):
            _add(tar, "blobs/sha256/" + _sha256(blob).split(":")[1], blob)

    config_hex, diff_hex = _sha256(config).split(":")[1], _sha256(raw).split(":")[1]
    docker = io.BytesIO()
    with tarfile.open(fileobj=docker, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "manifest.json", _json([{"Config": f"{config_hex}.json",
                                           "RepoTags": list(recipe.names),
                                           "Layers": [f"{diff_hex}/layer.tar"]}]))
        _add(tar, f"{config_hex}.json", config)
        _add_dir(tar, diff_hex)
        _add(tar, f"{diff_hex}/layer.tar", raw)

    _write_atomically(oci_path, oci.getvalue())
    _write_atomically(docker_path, docker.getvalue())
    _write_atomically(meta_path, _json({"manifest": _sha256(manifest),
                                        "config": _sha256(config)}))
    return BuiltImage(recipe.names, oci_path, docker_path, _sha256(manifest), _sha256(config))


def build_builtin(name: str, *, cache_dir: Path | None = None,
                  recipes_dir: Path = RECIPES_DIR) -> BuiltImage:
    """`build(load_recipe(name))` for one of `BUILTIN_RECIPES` (or any recipe directory)."""
    return build(load_recipe(name, recipes_dir=recipes_dir), cache_dir=cache_dir)
