"""Builds the node's own images offline: OCI and docker archives from a recipe in `images/`.

An offline node cannot pull `registry.k8s.io/pause` (every pod sandbox needs it) nor the
images the tests and tutorials run, so the project makes them from Debian packages. A recipe
is `images/<name>/recipe.json`:

- `names`: the full references the image is known by (the first is its name);
- `busybox`: the busybox-static binary the rootfs is based on; every applet is linked to it
  (`busybox --list-full`), so each image has `sh`, `sleep`, `cat`, `ps`...;
- `packages` (optional): Debian packages whose files are added (docs, man pages and locales
  left out), with the shared libraries they need: the `Depends`/`Pre-Depends` closure through
  packages of section `libs`. Libraries come from the archive rather than from this host
  (`ldd`), so the image is the same on every machine with the same apt lists and does not
  depend on what the host happens to have installed; the build then checks that every
  `DT_NEEDED` of every ELF file is in the image, so a missing library fails the build rather
  than the container. Packages are fetched with `apt-get download` (the lists must exist:
  `apt-get update`), verified against the lists' SHA256, and kept under the cache by digest;
- `programs` (optional): `{"path/in/image": "src/x.c"}`, small C programs compiled statically
  with the host's `gcc` (stand-ins for upstream's Go binaries: agnhost, goproxy...), with
  `images/common` on the include path for what they share;
- `files`: a directory (or list of them, later wins) of files copied in as they are;
- `directories` (`{"path": "mode[:uid:gid]"}`) and `symlinks` (`{"path": "target"}`);
- `config`: the OCI image config (`Entrypoint`, `Cmd`, `Env`, `WorkingDir`, `User`,
  `ExposedPorts`, `StopSignal`).

Later sources win over earlier ones for the same path: busybox applets, then packages, then
programs, files, directories and symlinks.

Builds are deterministic (uid/gid 0 unless a recipe says otherwise, mtime 0, sorted entries,
gzip without a timestamp), so an image's digest only changes with its inputs, and a build is
cached under a key of those (the recipe, busybox, files, program sources, the packages'
SHA256 from the apt lists; not the gcc version, whose output differs in bytes only): tests and
`kajitori agent` build once per machine, and a cached build needs neither the network nor gcc
(the resolved package list is cached too, until the apt lists change). The archive layout is the OCI
image layout in a tar (what `ctr images import` and `skopeo copy oci-archive:` read;
`io.containerd.image.name` in index.json names the image for containerd), and a
docker-archive (`docker load`, `skopeo copy docker-archive:`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import io
import json
import os
import posixpath
import shutil
import struct
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
"""The sandbox image containerd is configured with (`images/pause`)."""
BUSYBOX_IMAGE = "docker.io/library/busybox:latest"
BUILTIN_RECIPES = ("pause", "busybox")
"""The images every node imports at start (`images.ensure_builtin_images`)."""
TUTORIAL_RECIPES = ("busybox", "nginx", "redis", "stress", "vish-stress", "agnhost", "goproxy",
                    "node-hello")
"""The images the Kubernetes pod tutorials run (nodes pull them from a registry mirror)."""

RECIPES_DIR = Path(__file__).resolve().parents[3] / "images"
COMMON_DIR_NAME = "common"
"""`images/common`: headers the recipes' C programs share (not a recipe)."""
"""`images/` at the top of the repository."""
BUILDER_VERSION = "3"
"""Part of every cache key: bump it when this module's output changes."""
LAYER_COMPRESSION = 6
"""gzip's level: 9 takes three times as long for 2% less on the 30-40 MB package images."""

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
CONTAINERD_NAME_ANNOTATION = "io.containerd.image.name"
OCI_REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"

_ROOTFS_DIRS = ("bin", "dev", "etc", "home", "proc", "root", "sbin", "sys", "tmp", "usr",
                "usr/bin", "usr/sbin", "var")
_PACKAGE_EXCLUDES = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/lintian",
                     "usr/share/locale")
"""What the image does not need from a package (Docker's Debian images drop them too)."""
_LIBRARY_SECTIONS = ("libs",)
"""A dependency is followed into packages of these sections (`contrib/libs` too)."""
_LIBRARY_DIRS = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib", "usr/lib", "lib64",
                 "usr/lib64")
"""Where the dynamic loader looks without an ld.so.cache (its system search path)."""
_CC = ("gcc", "-static", "-Os", "-s", "-Wall")
APT_LISTS = Path("/var/lib/apt/lists")
DPKG_STATUS = Path("/var/lib/dpkg/status")


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    names: tuple[str, ...]
    """Full references (`docker.io/library/busybox:latest`); the first is the image's name."""
    busybox: Path
    files: tuple[Path, ...]
    config: dict[str, Any]
    packages: tuple[str, ...] = ()
    programs: Mapping[str, Path] = dataclasses.field(default_factory=dict)
    directories: Mapping[str, str] = dataclasses.field(default_factory=dict)
    symlinks: Mapping[str, str] = dataclasses.field(default_factory=dict)
    source: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    """The recipe.json as read: part of the cache key."""
    include_dir: Path | None = None
    """Headers the programs share (`images/common`): on the compiler's include path and
    part of the cache key."""


@dataclasses.dataclass(frozen=True)
class BuiltImage:
    names: tuple[str, ...]
    oci_archive: Path
    docker_archive: Path
    manifest_digest: str
    """`sha256:...` of the OCI manifest: what a registry reports after a push."""
    config_digest: str
    """`sha256:...` of the image config: the image ID containerd and `crictl images` show."""


@dataclasses.dataclass(frozen=True)
class DebianPackage:
    """One package of the apt lists (its candidate version)."""

    name: str
    version: str
    sha256: str
    section: str
    depends: tuple[str, ...]
    """`Depends` and `Pre-Depends`: the first alternative of each, without versions."""


class ImageBuildError(Exception):
    """A recipe cannot be built here: a package not in the apt lists, a failed download or
    compile, or a library the image's binaries need that the image lacks."""


def load_recipe(name: str, *, recipes_dir: Path = RECIPES_DIR) -> Recipe:
    directory = recipes_dir / name
    data = json.loads((directory / "recipe.json").read_text())
    files = data.get("files", "files")
    return Recipe(name=name, names=tuple(data["names"]), busybox=Path(data["busybox"]),
                  files=tuple((directory / f).resolve()
                              for f in ([files] if isinstance(files, str) else files)),
                  config=dict(data["config"]), packages=tuple(data.get("packages", ())),
                  programs={path: (directory / src).resolve()
                            for path, src in data.get("programs", {}).items()},
                  directories=dict(data.get("directories", {})),
                  symlinks=dict(data.get("symlinks", {})), source=data,
                  include_dir=(recipes_dir / COMMON_DIR_NAME).resolve())


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/kajitori/images` (default `~/.cache/kajitori/images`)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kajitori" / "images"


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _extra_files(recipe: Recipe) -> dict[str, Path]:
    """Image path -> file of the recipe's `files` directories (a later directory wins)."""
    files: dict[str, Path] = {}
    for directory in recipe.files:
        if directory.is_dir():
            files.update((str(p.relative_to(directory)), p)
                         for p in sorted(directory.rglob("*")) if p.is_file())
    return dict(sorted(files.items()))


def _run(argv: list[str], *, cwd: Path | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise ImageBuildError(f"{' '.join(argv)} failed: {done.stderr.strip() or done.stdout}")
    return done.stdout


def _package_records(names: Iterable[str]) -> dict[str, DebianPackage]:
    """The candidate record of each name that has one (virtual packages have none): one
    `apt-cache` call for all of them, as each call reads the whole lists."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    out = subprocess.run(["apt-cache", "show", "--no-all-versions", *wanted],
                         capture_output=True, text=True, check=False).stdout
    records: dict[str, DebianPackage] = {}
    for paragraph in out.split("\n\n"):
        fields: dict[str, str] = {}
        key = ""
        for line in paragraph.splitlines():
            if line.startswith(" ") and key:
                fields[key] += line
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        name = fields.get("Package", "")
        if name not in wanted or name in records or "SHA256" not in fields:
            continue
        depends = ", ".join(filter(None, (fields.get("Pre-Depends"), fields.get("Depends"))))
        records[name] = DebianPackage(
            name=name, version=fields["Version"], sha256=fields["SHA256"],
            section=fields.get("Section", ""),
            depends=tuple(dict.fromkeys(
                alternative.split("|")[0].split("(")[0].strip().split(":")[0]
                for alternative in depends.split(",") if alternative.strip())))
    return records


def resolve_packages(names: Iterable[str]) -> list[DebianPackage]:
    """The named packages and the library packages they need (transitively), sorted by name.
    Raises ImageBuildError for a named package the apt lists lack (or have only as an
    installed version no archive offers)."""
    wanted = sorted(set(names))
    found = _package_records(wanted)
    missing = [name for name in wanted if name not in found]
    if missing:
        raise ImageBuildError(f"not in the apt lists (run apt-get update?): {', '.join(missing)}")
    queue = [dep for package in found.values() for dep in package.depends]
    while queue:
        new = _package_records(dep for dep in queue if dep not in found)
        libraries = {name: package for name, package in new.items()
                     if package.section.rsplit("/", 1)[-1] in _LIBRARY_SECTIONS}
        found.update(libraries)
        queue = [dep for package in libraries.values() for dep in package.depends]
    return [found[name] for name in sorted(found)]


def _apt_state() -> str:
    """Changes whenever apt's candidates may: with the lists (`apt-get update`) or dpkg's
    status (an installed version can be the candidate)."""
    h = hashlib.sha256()
    for path in sorted([*APT_LISTS.glob("*Packages*"), DPKG_STATUS]):
        with contextlib.suppress(FileNotFoundError):
            st = path.stat()
            h.update(f"{path.name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return h.hexdigest()


def resolve_packages_cached(names: Iterable[str], *, cache_dir: Path) -> list[DebianPackage]:
    """`resolve_packages(names)`, remembered under `cache_dir/resolved` until apt's state
    changes: resolving reads the whole lists a few times (seconds), a cached build should not."""
    wanted = sorted(set(names))
    key = hashlib.sha256(json.dumps([wanted, _apt_state()]).encode()).hexdigest()[:16]
    path = cache_dir / "resolved" / f"{key}.json"
    with contextlib.suppress(FileNotFoundError, ValueError, TypeError):
        return [DebianPackage(**{**fields, "depends": tuple(fields["depends"])})
                for fields in json.loads(path.read_text())]
    packages = resolve_packages(wanted)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(path, _json([dataclasses.asdict(package) for package in packages]))
    return packages


def fetch_packages(packages: Iterable[DebianPackage], *, cache_dir: Path) -> list[Path]:
    """The packages' .deb files, in order: those not in `cache_dir/debs` yet are downloaded
    (one `apt-get download` for all) and checked against the SHA256 of the apt lists."""
    debs = cache_dir / "debs"
    paths = {package.sha256: debs / f"{package.sha256}.deb" for package in packages}
    missing = [package for package in packages if not paths[package.sha256].exists()]
    if missing:
        debs.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=debs) as tmp:
            _run(["apt-get", "download", "-q",
                  *(f"{package.name}={package.version}" for package in missing)], cwd=Path(tmp))
            downloaded = {hashlib.sha256(deb.read_bytes()).hexdigest(): deb
                          for deb in Path(tmp).glob("*.deb")}
            for package in missing:
                if package.sha256 not in downloaded:
                    raise ImageBuildError(f"{package.name} {package.version}: downloaded, "
                                          "but not with the SHA256 of the apt lists")
                downloaded[package.sha256].replace(paths[package.sha256])
    return [paths[package.sha256] for package in packages]


def cache_key(recipe: Recipe, *, packages: Iterable[DebianPackage] = ()) -> str:
    """Changes when the built image would (given `resolve_packages(recipe.packages)`), but
    for the compiler's version."""
    h = hashlib.sha256(BUILDER_VERSION.encode())
    h.update(json.dumps(recipe.source or [recipe.names, recipe.config], sort_keys=True).encode())
    h.update(recipe.busybox.read_bytes())
    for rel, path in _extra_files(recipe).items():
        h.update(rel.encode() + b"\0")
        h.update(oct(path.stat().st_mode & 0o777).encode() + path.read_bytes())
    for rel, source in sorted(recipe.programs.items()):
        h.update(rel.encode() + b"\0" + source.read_bytes())
    if recipe.programs and recipe.include_dir is not None and recipe.include_dir.is_dir():
        for header in sorted(recipe.include_dir.iterdir()):
            h.update(header.name.encode() + b"\0" + header.read_bytes())
    for package in packages:
        h.update(f"{package.name}\0{package.sha256}\0".encode())
    return h.hexdigest()[:16]


def _tar_info(name: str, kind: bytes, *, mode: int, size: int = 0,
              linkname: str = "", uid: int = 0, gid: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.linkname = kind, mode, size, linkname
    info.uid, info.gid = uid, gid
    info.uname = info.gname = "root" if uid == 0 else ""
    info.mtime = 0
    return info


def _applets(busybox: Path) -> list[str]:
    out = subprocess.run([str(busybox), "--list-full"], check=True, capture_output=True,
                         text=True).stdout
    return sorted(set(out.split()))


class _Rootfs:
    """The layer's entries by path; a later entry of a path replaces an earlier one."""

    def __init__(self) -> None:
        self.entries: dict[str, tarfile.TarInfo] = {}
        self.data: dict[str, bytes] = {}

    def _parents(self, path: str) -> None:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            parent = "/".join(parts[:i])
            self.entries.setdefault(parent, _tar_info(parent, tarfile.DIRTYPE, mode=0o755))

    def directory(self, path: str, *, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
        self._parents(path)
        self.data.pop(path, None)
        self.entries[path] = _tar_info(path, tarfile.DIRTYPE, mode=mode, uid=uid, gid=gid)

    def file(self, path: str, content: bytes, *, mode: int) -> None:
        self._parents(path)
        self.entries[path] = _tar_info(path, tarfile.REGTYPE, mode=mode, size=len(content))
        self.data[path] = content

    def symlink(self, path: str, target: str) -> None:
        self._parents(path)
        self.data.pop(path, None)
        self.entries[path] = _tar_info(path, tarfile.SYMTYPE, mode=0o777, linkname=target)

    def add_tree(self, root: Path, *, excludes: tuple[str, ...] = ()) -> None:
        """Every directory, file and symlink under `root`, with its permission bits."""
        for directory, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in [*dirnames, *sorted(filenames)]:
                path = Path(directory, name)
                rel = str(path.relative_to(root))
                if any(rel == e or rel.startswith(e + "/") for e in excludes):
                    continue
                st = path.lstat()
                if path.is_symlink():
                    self.symlink(rel, os.readlink(path))
                elif path.is_dir():
                    self.directory(rel, mode=st.st_mode & 0o7777)
                elif path.is_file():
                    self.file(rel, path.read_bytes(), mode=st.st_mode & 0o7777)

    def missing_libraries(self) -> dict[str, list[str]]:
        """ELF file -> the `DT_NEEDED` libraries neither in the loader's search path nor
        beside the file (glibc's gconv modules find theirs by a `$ORIGIN` RUNPATH)."""
        present = {posixpath.basename(path) for path in self.entries
                   if posixpath.dirname(path) in _LIBRARY_DIRS}
        missing: dict[str, list[str]] = {}
        for path, content in self.data.items():
            here = posixpath.dirname(path)
            lacking = [lib for lib in _needed_libraries(content)
                       if lib not in present and posixpath.join(here, lib) not in self.entries]
            if lacking:
                missing[path] = lacking
        return missing

    def tar(self) -> bytes:
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(self.entries):
                tar.addfile(self.entries[name],
                            io.BytesIO(self.data[name]) if name in self.data else None)
        return out.getvalue()


def _needed_libraries(content: bytes) -> list[str]:
    """The `DT_NEEDED` entries of a 64-bit little-endian ELF file ([] for anything else)."""
    if content[:6] != b"\x7fELF\x02\x01":
        return []
    shoff, = struct.unpack_from("<Q", content, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", content, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", content, shoff + i * shentsize)
                for i in range(shnum)]
    needed: list[str] = []
    for _, kind, _, _, offset, size, link, *_ in sections:
        if kind != 6:  # SHT_DYNAMIC
            continue
        strings = sections[link][4]
        for i in range(size // 16):
            tag, value = struct.unpack_from("<qQ", content, offset + 16 * i)
            if tag == 0:
                break
            if tag == 1:  # DT_NEEDED
                start = strings + value
                needed.append(content[start:content.index(b"\0", start)].decode())
    return needed


def _compile(source: Path, *, into: Path, include_dir: Path | None) -> bytes:
    if shutil.which(_CC[0]) is None:
        raise ImageBuildError(f"{_CC[0]} is needed to build images with programs "
                              "(apt-get install gcc libc6-dev)")
    include = ["-I", str(include_dir)] if include_dir is not None else []
    _run([*_CC, *include, "-o", str(into), str(source)])
    return into.read_bytes()


def _parse_mode(spec: str) -> tuple[int, int, int]:
    """`"0755"` or `"0755:999:999"` -> (mode, uid, gid)."""
    mode, _, owner = spec.partition(":")
    uid, _, gid = owner.partition(":")
    return int(mode, 8), int(uid or 0), int(gid or 0)


def layer_tar(recipe: Recipe, *, packages: Iterable[DebianPackage] = (),
              cache_dir: Path | None = None) -> bytes:
    """The uncompressed rootfs layer: directories, busybox at /bin/busybox, every applet a
    symlink to it, then the packages' files, the programs, the recipe's files, directories
    and symlinks (each winning over the earlier ones for the same path). Raises
    ImageBuildError when a binary of the image needs a library the image lacks."""
    rootfs = _Rootfs()
    for directory in _ROOTFS_DIRS:
        rootfs.directory(directory, mode=0o1777 if directory == "tmp" else 0o755)
    rootfs.file("bin/busybox", recipe.busybox.read_bytes(), mode=0o755)
    for applet in _applets(recipe.busybox):
        if applet != "bin/busybox":
            rootfs.symlink(applet, "/bin/busybox")
    packages = list(packages)
    if packages or recipe.programs:
        with tempfile.TemporaryDirectory(prefix="kjt-imagebuild-") as tmp:
            extracted = Path(tmp, "rootfs")
            extracted.mkdir()
            for deb in fetch_packages(packages, cache_dir=cache_dir or default_cache_dir()):
                _run(["dpkg-deb", "-x", str(deb), str(extracted)])
            rootfs.add_tree(extracted, excludes=_PACKAGE_EXCLUDES)
            for rel, source in sorted(recipe.programs.items()):
                rootfs.file(rel, _compile(source, into=Path(tmp, "program"),
                                          include_dir=recipe.include_dir), mode=0o755)
    for rel, path in _extra_files(recipe).items():
        rootfs.file(rel, path.read_bytes(), mode=path.stat().st_mode & 0o777)
    for rel, spec in sorted(recipe.directories.items()):
        mode, uid, gid = _parse_mode(spec)
        rootfs.directory(rel, mode=mode, uid=uid, gid=gid)
    for rel, target in sorted(recipe.symlinks.items()):
        rootfs.symlink(rel, target)
    missing = rootfs.missing_libraries()
    if missing:
        raise ImageBuildError(f"{recipe.name}: libraries missing from the image: " + "; ".join(
            f"{path} needs {', '.join(libs)}" for path, libs in sorted(missing.items())))
    return rootfs.tar()


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
    async code. Safe to run concurrently: archives appear atomically. Raises ImageBuildError
    when a package, a download, a compile or a library is missing."""
    cache = cache_dir or default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    packages = resolve_packages_cached(recipe.packages, cache_dir=cache) if recipe.packages else []
    stem = f"{recipe.name}-{cache_key(recipe, packages=packages)}"
    oci_path = cache / f"{stem}.oci.tar"
    docker_path = cache / f"{stem}.docker.tar"
    meta_path = cache / f"{stem}.json"
    if oci_path.exists() and docker_path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        return BuiltImage(recipe.names, oci_path, docker_path, meta["manifest"], meta["config"])

    raw = layer_tar(recipe, packages=packages, cache_dir=cache)
    layer = gzip.compress(raw, compresslevel=LAYER_COMPRESSION, mtime=0)
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
