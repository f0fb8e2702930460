"""kajitori.kubelet.volumes: what configMap, secret, downwardAPI and projected volumes contain,
how refresh updates them in place, and fsGroup ownership."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import fakelookup
import pytest
from fakemounter import FakeMounter

from kajitori.kubelet import errors
from kajitori.kubelet.volumes import VolumeManager, ownership

Obj = dict[str, Any]
UID = "4a5b6c-uid"


def make_pod(volumes: list[Obj], *, mounts: list[Obj] | None = None, **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "uid": UID},
            "spec": {"containers": [{"name": "app", "volumeMounts": mounts or []}],
                     "volumes": volumes, **spec}}


def volume_dir(tmp_path: Path, plugin: str, name: str) -> Path:
    return tmp_path / "kubelet" / "pods" / UID / "volumes" / f"kubernetes.io~{plugin}" / name


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def visible(path: Path) -> dict[str, str]:
    """The names a container sees (not the `..` internals), each file's text."""
    found = {}
    for directory, _, files in os.walk(path, followlinks=True):
        for name in files:
            full = Path(directory) / name
            relative = str(full.relative_to(path))
            if not relative.startswith(".."):
                found[relative] = full.read_text()
    return found


def setup(tmp_path: Path, *objects: Obj, mounter: FakeMounter | None = None
          ) -> tuple[VolumeManager, fakelookup.FakeObjectLookup]:
    lookup = fakelookup.FakeObjectLookup(*objects)
    volumes = VolumeManager(tmp_path / "kubelet", lookup=lookup,
                            mounter=mounter or FakeMounter(),
                            node_allocatable={"cpu": "4", "memory": "8Gi"})
    return volumes, lookup


async def mount_error(volumes: VolumeManager, pod: Obj) -> str:
    with pytest.raises(errors.MountError) as caught:
        await volumes.mount_pod(pod)
    return str(caught.value)


# ---- configMap ------------------------------------------------------------------------------

async def test_config_map_keys_become_read_only_files(tmp_path: Path) -> None:
    volumes, _ = setup(tmp_path, fakelookup.config_map(
        "special-config", {"SPECIAL_LEVEL": "very", "SPECIAL_TYPE": "charm"},
        binary={"blob": b"\x00\x01"}))
    pod = make_pod([{"name": "config-volume", "configMap": {"name": "special-config"}}],
                   mounts=[{"name": "config-volume", "mountPath": "/etc/config"}])
    await volumes.mount_pod(pod)
    path = volume_dir(tmp_path, "configmap", "config-volume")
    assert visible(path) == {"SPECIAL_LEVEL": "very", "SPECIAL_TYPE": "charm",
                             "blob": "\x00\x01"}
    assert os.readlink(path / "SPECIAL_LEVEL") == "..data/SPECIAL_LEVEL"
    assert mode(path / "SPECIAL_LEVEL") == 0o644
    assert mode(path) == 0o777
    [mount] = volumes.container_mounts(pod, pod["spec"]["containers"][0])
    assert (mount.container_path, mount.host_path, mount.readonly) == (
        "/etc/config", str(path), True)


async def test_items_choose_keys_paths_and_modes(tmp_path: Path) -> None:
    volumes, _ = setup(tmp_path, fakelookup.config_map("cfg", {"a": "1", "b": "2", "c": "3"}))
    pod = make_pod([{"name": "v", "configMap": {
        "name": "cfg", "defaultMode": 0o440,
        "items": [{"key": "a", "path": "keys/first"},
                  {"key": "b", "path": "second", "mode": 0o600}]}}])
    await volumes.mount_pod(pod)
    path = volume_dir(tmp_path, "configmap", "v")
    assert visible(path) == {"keys/first": "1", "second": "2"}
    assert mode(path / "keys" / "first") == 0o440
    assert mode(path / "second") == 0o600


async def test_missing_config_maps_and_keys_fail_the_mount_unless_optional(
        tmp_path: Path) -> None:
    volumes, lookup = setup(tmp_path)
    pod = make_pod([{"name": "config-volume", "configMap": {"name": "special-config"}}])
    assert await mount_error(volumes, pod) == (
        'MountVolume.SetUp failed for volume "config-volume" : '
        'configmap "special-config" not found')
    lookup.add(fakelookup.config_map("special-config", {"other": "x"}))
    pod["spec"]["volumes"][0]["configMap"]["items"] = [{"key": "wanted", "path": "w"}]
    assert await mount_error(volumes, pod) == (
        'MountVolume.SetUp failed for volume "config-volume" : '
        "configmap references non-existent config key: wanted")
    pod["spec"]["volumes"][0]["configMap"]["optional"] = True
    await volumes.mount_pod(pod)
    assert visible(volume_dir(tmp_path, "configmap", "config-volume")) == {}
    lookup.remove("ConfigMap", "special-config")
    await volumes.mount_pod(pod)


async def test_refresh_updates_config_map_files_in_place(tmp_path: Path) -> None:
    volumes, lookup = setup(tmp_path, fakelookup.config_map("cfg", {"color": "red",
                                                                    "old": "x"}))
    pod = make_pod([{"name": "v", "configMap": {"name": "cfg"}},
                    {"name": "scratch", "emptyDir": {}}])
    await volumes.mount_pod(pod)
    path = volume_dir(tmp_path, "configmap", "v")
    scratch = volume_dir(tmp_path, "empty-dir", "scratch")
    (scratch / "mine").write_text("kept")
    lookup.add(fakelookup.config_map("cfg", {"color": "blue", "new": "y"}))
    await volumes.refresh(pod)
    assert visible(path) == {"color": "blue", "new": "y"}
    assert (scratch / "mine").read_text() == "kept"
    internals = sorted(p.name for p in path.iterdir() if p.name.startswith(".."))
    assert len(internals) == 2  # ..data and one timestamped directory


async def test_a_deleted_config_map_keeps_the_files_of_a_running_pod(tmp_path: Path) -> None:
    volumes, lookup = setup(tmp_path, fakelookup.config_map("cfg", {"color": "red"}))
    pod = make_pod([{"name": "v", "configMap": {"name": "cfg"}}])
    await volumes.mount_pod(pod)
    lookup.remove("ConfigMap", "cfg")
    await volumes.mount_pod(pod)  # not held up: the volume was set up before
    assert visible(volume_dir(tmp_path, "configmap", "v")) == {"color": "red"}
    with pytest.raises(errors.MountError) as caught:
        await volumes.refresh(pod)
    assert str(caught.value) == (
        'MountVolume.SetUp failed for volume "v" : configmap "cfg" not found')
    restarted, _ = setup(tmp_path)  # a new kubelet process finds the written volume
    await restarted.mount_pod(pod)


# ---- secret ---------------------------------------------------------------------------------

async def test_secret_files_are_decoded_on_tmpfs(tmp_path: Path) -> None:
    mounter = FakeMounter()
    volumes, _ = setup(tmp_path, fakelookup.secret("creds", {"username": "admin",
                                                             "password": "1f2d1e2e67df"}),
                       mounter=mounter)
    pod = make_pod([{"name": "secret-volume", "secret": {
        "secretName": "creds", "items": [{"key": "username", "path": "my-group/my-username",
                                          "mode": 0o400}]}}])
    await volumes.mount_pod(pod)
    path = volume_dir(tmp_path, "secret", "secret-volume")
    assert visible(path) == {"my-group/my-username": "admin"}
    assert mode(path / "my-group" / "my-username") == 0o400
    assert list(mounter.mounted) == [path]


async def test_secret_volumes_are_plain_directories_where_mounting_is_not_allowed(
        tmp_path: Path) -> None:
    mounter = FakeMounter(allowed=False)
    volumes, _ = setup(tmp_path, fakelookup.secret("creds", {"k": "v"}), mounter=mounter)
    await volumes.mount_pod(make_pod([{"name": "s", "secret": {"secretName": "creds"}}]))
    assert visible(volume_dir(tmp_path, "secret", "s")) == {"k": "v"}
    assert mounter.mounted == {}


async def test_missing_secrets_and_keys(tmp_path: Path) -> None:
    volumes, lookup = setup(tmp_path)
    pod = make_pod([{"name": "s", "secret": {"secretName": "creds"}}])
    assert await mount_error(volumes, pod) == (
        'MountVolume.SetUp failed for volume "s" : secret "creds" not found')
    lookup.add(fakelookup.secret("creds", {"a": "1"}))
    pod["spec"]["volumes"][0]["secret"]["items"] = [{"key": "b", "path": "b"}]
    assert await mount_error(volumes, pod) == (
        'MountVolume.SetUp failed for volume "s" : references non-existent secret key: b')


# ---- downwardAPI ----------------------------------------------------------------------------

def downward_pod(items: list[Obj]) -> Obj:
    pod = make_pod([{"name": "podinfo", "downwardAPI": {"items": items}}])
    pod["metadata"]["labels"] = {"zone": "us-est-coast", "cluster": "test-cluster1"}
    pod["metadata"]["annotations"] = {"builder": "john-doe"}
    pod["spec"]["containers"][0]["resources"] = {"limits": {"memory": "64Mi"},
                                                 "requests": {"cpu": "250m"}}
    return pod


async def test_downward_api_files_and_their_refresh(tmp_path: Path) -> None:
    volumes, _ = setup(tmp_path)
    pod = downward_pod([
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}},
        {"path": "zone", "fieldRef": {"fieldPath": "metadata.labels['zone']"}, "mode": 0o600},
        {"path": "cpu_request", "resourceFieldRef": {"containerName": "app",
                                                      "resource": "requests.cpu",
                                                      "divisor": "1m"}},
        {"path": "mem_limit", "resourceFieldRef": {"containerName": "app",
                                                    "resource": "limits.memory",
                                                    "divisor": "1Mi"}},
        {"path": "cpu_limit", "resourceFieldRef": {"containerName": "app",
                                                    "resource": "limits.cpu"}}])
    await volumes.mount_pod(pod)
    path = volume_dir(tmp_path, "downward-api", "podinfo")
    assert visible(path) == {
        "labels": 'cluster="test-cluster1"\nzone="us-est-coast"\n',
        "annotations": 'builder="john-doe"\n', "zone": "us-est-coast",
        "cpu_request": "250", "mem_limit": "64", "cpu_limit": "4"}
    assert mode(path / "zone") == 0o600
    assert mode(path / "labels") == 0o644
    pod["metadata"]["labels"]["zone"] = "eu-west"
    await volumes.refresh(pod)
    assert (path / "zone").read_text() == "eu-west"


async def test_downward_api_errors_are_reported_together(tmp_path: Path) -> None:
    volumes, _ = setup(tmp_path)
    pod = downward_pod([
        {"path": "a", "fieldRef": {"fieldPath": "spec.nodeName"}},
        {"path": "b", "resourceFieldRef": {"containerName": "ghost", "resource": "limits.cpu"}}])
    assert await mount_error(volumes, pod) == (
        'MountVolume.SetUp failed for volume "podinfo" : '
        "[unsupported fieldPath: spec.nodeName, container ghost not found]")


# ---- projected ------------------------------------------------------------------------------

def projected_pod(sources: list[Obj], **projected: Any) -> Obj:
    pod = make_pod([{"name": "all-in-one", "projected": {"sources": sources, **projected}}])
    pod["metadata"]["labels"] = {"app": "web"}
    return pod


async def test_projected_sources_share_one_directory(tmp_path: Path) -> None:
    volumes, lookup = setup(tmp_path, fakelookup.config_map("cfg", {"config": "c"}),
                            fakelookup.secret("user", {"username": "admin"}))
    pod = projected_pod([
        {"secret": {"name": "user", "items": [{"key": "username", "path": "my-group/user"}]}},
        {"downwardAPI": {"items": [{"path": "labels",
                                    "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        {"configMap": {"name": "cfg", "items": [{"key": "config", "path": "my-group/config",
                                                 "mode": 0o400}]}},
        {"configMap": {"name": "absent", "optional": True}},
        {"serviceAccountToken": {"path": "token", "audience": "vault",
                                 "expirationSeconds": 7200}},
        {"serviceAccountToken": {"path": "default-token"}}], defaultMode=0o440)
    await volumes.mount_pod(pod)
    path = volume_dir(tmp_path, "projected", "all-in-one")
    assert visible(path) == {"my-group/user": "admin", "labels": 'app="web"\n',
                             "my-group/config": "c", "token": "token-1",
                             "default-token": "token-2"}
    assert lookup.token_requests == [("web", "vault", 7200), ("web", "", 3600)]
    assert mode(path / "my-group" / "config") == 0o400
    assert mode(path / "token") == 0o440
    [mount] = volumes.container_mounts(
        pod, {"name": "app", "volumeMounts": [{"name": "all-in-one", "mountPath": "/p"}]})
    assert mount.readonly is True
    await volumes.refresh(pod)
    assert (path / "token").read_text() == "token-3"


async def test_projected_errors_of_all_sources(tmp_path: Path) -> None:
    volumes, _ = setup(tmp_path)
    pod = projected_pod([{"configMap": {"name": "cfg"}}, {"secret": {"name": "user"}}])
    assert await mount_error(volumes, pod) == (
        'MountVolume.SetUp failed for volume "all-in-one" : '
        '[configmap "cfg" not found, secret "user" not found]')


# ---- fsGroup --------------------------------------------------------------------------------

requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another group needs root")
FS_GROUP = 2345


@requires_root
async def test_fs_group_owns_volumes_with_setgid_directories(tmp_path: Path) -> None:
    volumes, _ = setup(tmp_path, fakelookup.config_map("cfg", {"a": "1"}))
    pod = projected_pod([{"configMap": {"name": "cfg"}},
                         {"serviceAccountToken": {"path": "token"}}])
    pod["spec"]["volumes"] += [{"name": "scratch", "emptyDir": {}},
                               {"name": "cm", "configMap": {"name": "cfg"}}]
    pod["spec"]["securityContext"] = {"fsGroup": FS_GROUP}
    await volumes.mount_pod(pod)
    scratch = volume_dir(tmp_path, "empty-dir", "scratch")
    assert os.stat(scratch).st_gid == FS_GROUP
    assert mode(scratch) == 0o777 | stat.S_ISGID
    projected = volume_dir(tmp_path, "projected", "all-in-one")
    assert os.stat(projected / "token").st_gid == FS_GROUP
    assert mode(projected / "token") == 0o640  # 0600 plus group read
    assert mode(projected / "a") == 0o644
    data = projected / os.readlink(projected / "..data")
    assert mode(data) == 0o755 | stat.S_ISGID
    cm = volume_dir(tmp_path, "configmap", "cm")
    assert os.stat(cm / "a").st_gid == FS_GROUP


def owned_tree(tmp_path: Path) -> Path:
    root = tmp_path / "vol"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "file").write_text("x")
    os.chmod(root / "sub" / "file", 0o600)
    (root / "link").symlink_to("sub/file")
    return root


@requires_root
def test_set_volume_ownership_walks_the_tree(tmp_path: Path) -> None:
    root = owned_tree(tmp_path)
    ownership.set_volume_ownership(root, FS_GROUP, readonly=False)
    assert os.stat(root / "sub" / "file").st_gid == FS_GROUP
    assert mode(root / "sub" / "file") == 0o660
    assert mode(root / "sub") & (stat.S_ISGID | 0o070) == stat.S_ISGID | 0o070
    assert os.lstat(root / "link").st_gid == FS_GROUP
    ownership.set_volume_ownership(root, FS_GROUP + 1, readonly=True)
    assert mode(root / "sub" / "file") == 0o660  # bits are only ever added
    assert os.stat(root / "sub" / "file").st_gid == FS_GROUP + 1


@requires_root
def test_on_root_mismatch_skips_a_tree_whose_root_already_belongs(tmp_path: Path) -> None:
    root = owned_tree(tmp_path)
    os.chown(root, -1, FS_GROUP)
    os.chmod(root, 0o770 | stat.S_ISGID)
    ownership.set_volume_ownership(root, FS_GROUP, readonly=False,
                                   change_policy="OnRootMismatch")
    assert os.stat(root / "sub" / "file").st_gid != FS_GROUP
    os.chmod(root, 0o700)
    ownership.set_volume_ownership(root, FS_GROUP, readonly=False,
                                   change_policy="OnRootMismatch")
    assert os.stat(root / "sub" / "file").st_gid == FS_GROUP
