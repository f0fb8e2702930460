"""imagebuild: the recipes make reproducible OCI and docker archives that containerd can import
by name, and the cache serves a second build."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from kajitori.kubelet import imagebuild

needs_busybox = pytest.mark.skipif(not Path("/bin/busybox").exists(),
                                   reason="needs busybox-static (apt-get install busybox-static)")


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: (tar.extractfile(m).read() if m.isfile() else b"")  # type: ignore[union-attr]
                for m in tar.getmembers()}


def _copied_recipes(tmp_path: Path) -> Path:
    """A copy of the recipes, for a test to change."""
    recipes = tmp_path / "recipes"
    shutil.copytree(imagebuild.RECIPES_DIR, recipes)
    return recipes


def test_builtin_recipes_carry_the_names_the_node_uses() -> None:
    assert imagebuild.load_recipe("pause").names == (imagebuild.PAUSE_IMAGE,)
    busybox = imagebuild.load_recipe("busybox")
    assert busybox.names[0] == imagebuild.BUSYBOX_IMAGE
    assert "docker.io/library/busybox:1.35" in busybox.names


@needs_busybox
def test_oci_archive_names_each_image_for_containerd(tmp_path: Path) -> None:
    built = imagebuild.build_builtin("busybox", cache_dir=tmp_path)
    files = _members(built.oci_archive)
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(files["index.json"])
    assert [(m["digest"], m["annotations"]["io.containerd.image.name"],
             m["annotations"]["org.opencontainers.image.ref.name"]) for m in index["manifests"]
            ] == [(built.manifest_digest, "docker.io/library/busybox:latest", "latest"),
                  (built.manifest_digest, "docker.io/library/busybox:1.35", "1.35"),
                  (built.manifest_digest, "docker.io/library/busybox:1.28", "1.28"),
                  (built.manifest_digest, "registry.k8s.io/busybox:latest", "latest")]
    manifest = json.loads(files["blobs/sha256/" + built.manifest_digest.split(":")[1]])
    assert manifest["config"]["digest"] == built.config_digest
    config = json.loads(files["blobs/sha256/" + built.config_digest.split(":")[1]])
    assert config["config"]["Cmd"] == ["sh"]
    [layer] = manifest["layers"]
    with tarfile.open(fileobj=io.BytesIO(files["blobs/sha256/" + layer["digest"][7:]])) as tar:
        entries = {m.name: m for m in tar.getmembers()}
        passwd = tar.extractfile("etc/passwd").read()  # type: ignore[union-attr]
    assert entries["bin/sh"].issym()
    assert entries["bin/sh"].linkname == "/bin/busybox"
    assert entries["tmp"].mode == 0o1777
    assert b"nobody:x:65534" in passwd
    assert {(m.uid, m.gid, m.mtime) for m in entries.values()} == {(0, 0, 0)}


@needs_busybox
def test_docker_archive_tags_every_name(tmp_path: Path) -> None:
    built = imagebuild.build_builtin("busybox", cache_dir=tmp_path)
    files = _members(built.docker_archive)
    [entry] = json.loads(files["manifest.json"])
    assert entry["RepoTags"] == list(built.names)
    assert entry["Config"] == built.config_digest.split(":")[1] + ".json"
    assert entry["Layers"][0] in files


@needs_busybox
def test_builds_are_reproducible_and_cached(tmp_path: Path) -> None:
    first = imagebuild.build_builtin("pause-sh", cache_dir=tmp_path / "a")
    again = imagebuild.build_builtin("pause-sh", cache_dir=tmp_path / "b")
    assert first.oci_archive.read_bytes() == again.oci_archive.read_bytes()
    assert imagebuild.build_builtin("pause-sh", cache_dir=tmp_path / "a") == first


@needs_busybox
def test_a_changed_recipe_is_a_new_cache_entry(tmp_path: Path) -> None:
    recipes = _copied_recipes(tmp_path)
    before = imagebuild.cache_key(imagebuild.load_recipe("busybox", recipes_dir=recipes))
    (recipes / "busybox" / "files" / "etc" / "hostname").write_text("kjt\n")
    after = imagebuild.cache_key(imagebuild.load_recipe("busybox", recipes_dir=recipes))
    assert before != after


def _layer_members(layer: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        return {m.name: m for m in tar.getmembers()}


def _fake_package(tmp_path: Path, name: str, files: dict[str, Path], *,
                  cache_dir: Path) -> imagebuild.DebianPackage:
    """A .deb of `files` (image path -> host file), put in the cache as if downloaded."""
    root = tmp_path / f"{name}-src"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: 1.0\nArchitecture: amd64\nMaintainer: kjt <kjt@example>\n"
        f"Description: test package\n")
    for rel, source in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, root / rel)
    doc = root / "usr" / "share" / "doc" / name / "copyright"
    doc.parent.mkdir(parents=True)
    doc.write_text("free\n")
    deb = tmp_path / f"{name}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(root), str(deb)], check=True,
                   capture_output=True)
    digest = hashlib.sha256(deb.read_bytes()).hexdigest()
    (cache_dir / "debs").mkdir(parents=True, exist_ok=True)
    shutil.copy(deb, cache_dir / "debs" / f"{digest}.deb")
    return imagebuild.DebianPackage(name=name, version="1.0", sha256=digest, section="utils",
                                    depends=())


def _recipe(tmp_path: Path, **fields: object) -> imagebuild.Recipe:
    recipe_dir = tmp_path / "recipes" / "kjt"
    recipe_dir.mkdir(parents=True)
    (recipe_dir / "recipe.json").write_text(json.dumps({
        "names": ["example.com/kjt:1"], "busybox": "/bin/busybox", "files": "../none",
        "config": {"Cmd": ["sh"]}, **fields}))
    return imagebuild.load_recipe("kjt", recipes_dir=tmp_path / "recipes")


needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
HOST_TRUE = Path("/bin/true")
HOST_LIBC = Path("/lib/x86_64-linux-gnu/libc.so.6")


@needs_busybox
@needs_dpkg
def test_a_binary_whose_library_is_not_in_the_image_fails_the_build(tmp_path: Path) -> None:
    tool = _fake_package(tmp_path, "kjt-tool", {"usr/bin/kjt-true": HOST_TRUE},
                         cache_dir=tmp_path / "cache")
    with pytest.raises(imagebuild.ImageBuildError, match=r"usr/bin/kjt-true needs libc\.so\.6"):
        imagebuild.layer_tar(_recipe(tmp_path), packages=[tool], cache_dir=tmp_path / "cache")


@needs_busybox
@needs_dpkg
def test_package_files_and_their_libraries_make_the_image(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    tool = _fake_package(tmp_path, "kjt-tool", {"usr/bin/kjt-true": HOST_TRUE}, cache_dir=cache)
    libc = _fake_package(tmp_path, "kjt-libc", {
        "lib/x86_64-linux-gnu/libc.so.6": HOST_LIBC,
        "lib64/ld-linux-x86-64.so.2": Path("/lib64/ld-linux-x86-64.so.2")}, cache_dir=cache)
    recipe = _recipe(tmp_path, directories={"data": "0750:999:998"},
                     symlinks={"var/log/kjt.log": "/dev/stdout", "bin/sh": "/usr/bin/kjt-true"})
    entries = _layer_members(imagebuild.layer_tar(recipe, packages=[tool, libc], cache_dir=cache))
    assert entries["usr/bin/kjt-true"].isfile()
    assert entries["usr/bin/kjt-true"].mode == 0o755
    assert "lib/x86_64-linux-gnu/libc.so.6" in entries
    assert not any(name.startswith("usr/share/doc") for name in entries)
    assert (entries["data"].mode, entries["data"].uid, entries["data"].gid) == (0o750, 999, 998)
    assert entries["var/log/kjt.log"].linkname == "/dev/stdout"
    assert entries["bin/sh"].linkname == "/usr/bin/kjt-true"
    assert entries["bin/ls"].linkname == "/bin/busybox"


@needs_busybox
@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_programs_are_compiled_static_into_the_image(tmp_path: Path) -> None:
    source = tmp_path / "recipes" / "kjt" / "src" / "hello.c"
    recipe = _recipe(tmp_path, programs={"hello": "src/hello.c"})
    source.parent.mkdir()
    source.write_text('#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n')
    layer = imagebuild.layer_tar(recipe)
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        member = tar.getmember("hello")
        binary = tar.extractfile(member).read()  # type: ignore[union-attr]
    assert member.mode == 0o755
    out = tmp_path / "hello"
    out.write_bytes(binary)
    out.chmod(0o755)
    assert subprocess.run([str(out)], capture_output=True, text=True).stdout == "hi\n"
    before = imagebuild.cache_key(recipe)
    source.write_text('#include <stdio.h>\nint main(void) { puts("ho"); return 0; }\n')
    assert imagebuild.cache_key(recipe) != before


def _apt_has(package: str) -> bool:
    if shutil.which("apt-cache") is None:
        return False
    out = subprocess.run(["apt-cache", "show", "--no-all-versions", package],
                         capture_output=True, text=True).stdout
    return "SHA256:" in out


@pytest.mark.skipif(not _apt_has("nginx"), reason="needs apt lists with nginx (apt-get update)")
def test_packages_bring_the_library_packages_they_depend_on() -> None:
    names = {package.name for package in imagebuild.resolve_packages(["nginx"])}
    assert {"nginx", "libc6", "libssl3", "libpcre2-8-0", "zlib1g"} <= names
    assert "iproute2" not in names  # a dependency, but not a library


def test_unknown_packages_are_named() -> None:
    with pytest.raises(imagebuild.ImageBuildError, match="kjt-no-such-package"):
        imagebuild.resolve_packages(["kjt-no-such-package"])


def test_tutorial_recipes_keep_the_upstream_entrypoints() -> None:
    nginx = imagebuild.load_recipe("nginx")
    assert nginx.names == ("docker.io/library/nginx:latest",)
    assert nginx.config["Cmd"] == ["nginx", "-g", "daemon off;"]
    assert nginx.config["StopSignal"] == "SIGQUIT"
    assert "80/tcp" in nginx.config["ExposedPorts"]
    passwd = (imagebuild.RECIPES_DIR / "nginx" / "files" / "etc" / "passwd").read_text()
    assert "nginx:x:101:101:" in passwd
    stress = imagebuild.load_recipe("stress")
    assert stress.names == ("docker.io/polinux/stress:latest",)
    assert "stress" in stress.packages


def test_every_tutorial_image_has_a_recipe() -> None:
    names = {name for recipe in imagebuild.TUTORIAL_RECIPES
             for name in imagebuild.load_recipe(recipe).names}
    assert {"docker.io/library/nginx:latest", "docker.io/library/redis:latest",
            "docker.io/polinux/stress:latest", "docker.io/vish/stress:latest",
            "docker.io/library/busybox:latest", "docker.io/library/busybox:1.28",
            "registry.k8s.io/busybox:latest", "registry.k8s.io/e2e-test-images/agnhost:2.40",
            "registry.k8s.io/e2e-test-images/agnhost:2.45", "registry.k8s.io/goproxy:0.1",
            "gcr.io/google-samples/node-hello:1.0"} <= names


def test_entrypoints_the_tutorials_rely_on() -> None:
    configs = {name: imagebuild.load_recipe(name).config for name in imagebuild.TUTORIAL_RECIPES}
    assert configs["vish-stress"]["Entrypoint"] == ["/stress", "-logtostderr"]
    assert configs["redis"]["WorkingDir"] == "/data"
    assert configs["redis"]["Cmd"] == ["redis-server"]
    assert configs["node-hello"]["Cmd"] == ["/bin/sh", "-c", "node server.js"]
    assert configs["agnhost"]["Entrypoint"] == ["/agnhost"]
    group = (imagebuild.RECIPES_DIR / "agnhost" / "files" / "etc" / "group").read_text()
    assert "user-defined-in-image:x:1000:\n" in group
    assert "group-defined-in-image:x:50000:user-defined-in-image\n" in group


def test_resolved_packages_are_remembered_until_apt_lists_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    packages_file = lists / "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"
    packages_file.write_text("v1")
    monkeypatch.setattr(imagebuild, "APT_LISTS", lists)
    monkeypatch.setattr(imagebuild, "DPKG_STATUS", tmp_path / "status")
    calls: list[list[str]] = []
    libc = imagebuild.DebianPackage(name="libc6", version="2.36", sha256="ab" * 32,
                                    section="libs", depends=("libgcc-s1",))

    def resolve(names: list[str]) -> list[imagebuild.DebianPackage]:
        calls.append(list(names))
        return [libc]

    monkeypatch.setattr(imagebuild, "resolve_packages", resolve)
    cache = tmp_path / "cache"
    assert imagebuild.resolve_packages_cached(["libc6"], cache_dir=cache) == [libc]
    assert imagebuild.resolve_packages_cached(["libc6"], cache_dir=cache) == [libc]
    assert len(calls) == 1
    packages_file.write_text("v2, after apt-get update")
    imagebuild.resolve_packages_cached(["libc6"], cache_dir=cache)
    assert len(calls) == 2
