"""containerd's config for the kubelet: private paths, the machine's required fixes, and k3s's
registries.yaml turned into hosts.toml files and CRI auth."""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

from kajitori.kubelet import containerd, imagebuild

CRI = "io.containerd.grpc.v1.cri"

REGISTRIES = {
    "mirrors": {
        "docker.io": {"endpoint": ["mirror.example.com:5000", "http://10.0.0.1:5000"]},
        "*": {"endpoint": ["https://all.example.com"]},
    },
    "configs": {
        "mirror.example.com:5000": {
            "auth": {"username": "u", "password": "p"},
            "tls": {"ca_file": "/ca.pem", "cert_file": "/c.pem", "key_file": "/k.pem"}},
        "private.example.com": {"tls": {"insecure_skip_verify": True},
                                "auth": {"auth": "dTpw"}},
    },
}


def test_config_keeps_everything_under_the_root_with_the_required_fixes() -> None:
    settings = containerd.ContainerdSettings(root=Path("/data/kubelet"))
    config = tomllib.loads(containerd.render_config(settings))
    assert (config["root"], config["state"]) == ("/data/kubelet/containerd/root",
                                                 "/data/kubelet/containerd/state")
    assert config["grpc"]["address"] == settings.socket == (
        "/data/kubelet/containerd/containerd.sock")
    assert config["plugins"]["io.containerd.internal.v1.opt"]["path"] == (
        "/data/kubelet/containerd/opt")
    cri = config["plugins"][CRI]
    assert cri["restrict_oom_score_adj"] is True
    assert cri["sandbox_image"] == imagebuild.PAUSE_IMAGE
    assert cri["cni"] == {"bin_dir": "/usr/lib/cni", "conf_dir": "/data/kubelet/cni/net.d",
                          "max_conf_num": 1}
    assert cri["containerd"]["runtimes"]["runc"]["options"] == {
        "SystemdCgroup": False, "Root": "/data/kubelet/containerd/runc"}
    assert cri["registry"] == {"config_path": "/data/kubelet/containerd/certs.d"}


def test_registry_credentials_go_to_the_cri_auths() -> None:
    settings = containerd.ContainerdSettings(root=Path("/r"), registries=REGISTRIES)
    configs = tomllib.loads(containerd.render_config(settings))["plugins"][CRI]["registry"][
        "configs"]
    assert configs == {"mirror.example.com:5000": {"auth": {"username": "u", "password": "p"}},
                       "private.example.com": {"auth": {"auth": "dTpw"}}}


def test_mirrors_become_hosts_files_tried_before_the_registry() -> None:
    files = {name: tomllib.loads(text)
             for name, text in containerd.registry_hosts(REGISTRIES).items()}
    assert files["docker.io"] == {
        "server": "https://registry-1.docker.io",
        "host": {
            "https://mirror.example.com:5000": {
                "capabilities": ["pull", "resolve"], "ca": "/ca.pem",
                "client": [["/c.pem", "/k.pem"]]},
            "http://10.0.0.1:5000": {"capabilities": ["pull", "resolve"]}}}
    assert list(files["docker.io"]["host"]) == ["https://mirror.example.com:5000",
                                                "http://10.0.0.1:5000"]
    assert files["_default"] == {
        "host": {"https://all.example.com": {"capabilities": ["pull", "resolve"]}}}
    assert files["private.example.com"] == {
        "server": "https://private.example.com",
        "host": {"https://private.example.com": {
            "capabilities": ["pull", "resolve", "push"], "skip_verify": True}}}
    # A mirror is a registry too: pulled from by name, it needs its TLS settings as well.
    assert files["mirror.example.com:5000"]["host"]["https://mirror.example.com:5000"]["ca"] == (
        "/ca.pem")


def test_write_config_replaces_hosts_files_of_an_earlier_config(tmp_path: Path) -> None:
    settings = containerd.ContainerdSettings(root=tmp_path, registries=REGISTRIES)
    containerd.write_config(settings)
    assert sorted(p.parent.name for p in settings.hosts_dir.glob("*/hosts.toml")) == [
        "_default", "docker.io", "mirror.example.com:5000", "private.example.com"]
    containerd.write_config(containerd.ContainerdSettings(root=tmp_path))
    assert list(settings.hosts_dir.glob("*/hosts.toml")) == []
    assert tomllib.loads(settings.config_file.read_text())["version"] == 2


def test_registries_file_is_read_as_yaml(tmp_path: Path) -> None:
    path = tmp_path / "registries.yaml"
    path.write_text('mirrors:\n  docker.io:\n    endpoint: ["http://127.0.0.1:5000"]\n')
    assert containerd.load_registries(path) == {
        "mirrors": {"docker.io": {"endpoint": ["http://127.0.0.1:5000"]}}}
    path.write_text("")
    assert containerd.load_registries(path) == {}


class _EmptyRuntime:
    """A CRI runtime with no image."""

    async def __aenter__(self) -> _EmptyRuntime:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def image_status(self, ref: str) -> None:
        return None


async def test_a_builtin_image_that_cannot_be_built_here_comes_from_its_fallback(
        monkeypatch: pytest.MonkeyPatch) -> None:
    imported: list[Path] = []

    def build(recipe: imagebuild.Recipe, *, cache_dir: Path | None = None) -> SimpleNamespace:
        if recipe.programs:
            raise imagebuild.ImageBuildError("gcc is needed to build images with programs")
        return SimpleNamespace(oci_archive=Path(f"/built/{recipe.name}.oci.tar"))

    async def import_archive(socket: str, archive: Path) -> str:
        imported.append(archive)
        return ""

    monkeypatch.setattr(imagebuild, "build", build)
    monkeypatch.setattr(containerd.cri, "CRIRuntime", lambda socket: _EmptyRuntime())
    monkeypatch.setattr(containerd, "import_archive", import_archive)
    names = await containerd.ensure_builtin_images("/run/x.sock")
    assert imported == [Path("/built/pause-sh.oci.tar"), Path("/built/busybox.oci.tar")]
    assert names[0] == imagebuild.PAUSE_IMAGE
    assert imagebuild.load_recipe("pause-sh").names == imagebuild.load_recipe("pause").names
