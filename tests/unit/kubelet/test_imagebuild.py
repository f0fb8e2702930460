"""imagebuild: the recipes make reproducible OCI and docker archives that containerd can import
by name, and the cache serves a second build."""

from __future__ import annotations

import io
import json
import shutil
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
                  (built.manifest_digest, "docker.io/library/busybox:1.35", "1.35")]
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
    first = imagebuild.build_builtin("pause", cache_dir=tmp_path / "a")
    again = imagebuild.build_builtin("pause", cache_dir=tmp_path / "b")
    assert first.oci_archive.read_bytes() == again.oci_archive.read_bytes()
    assert imagebuild.build_builtin("pause", cache_dir=tmp_path / "a") == first


@needs_busybox
def test_a_changed_recipe_is_a_new_cache_entry(tmp_path: Path) -> None:
    recipes = _copied_recipes(tmp_path)
    before = imagebuild.cache_key(imagebuild.load_recipe("busybox", recipes_dir=recipes))
    (recipes / "busybox" / "files" / "etc" / "hostname").write_text("kjt\n")
    after = imagebuild.cache_key(imagebuild.load_recipe("busybox", recipes_dir=recipes))
    assert before != after
