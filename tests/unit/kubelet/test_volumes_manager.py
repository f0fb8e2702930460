"""kajitori.kubelet.volumes.VolumeManager: layout, emptyDir, hostPath, claims, container
mounts, /etc/hosts and teardown (contents of configMap & co. in test_volumes_contents)."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from typing import Any

import fakelookup
import pytest
from cri_api.v1 import api_pb2
from fakemounter import FakeMounter

from kajitori.kubelet import errors
from kajitori.kubelet.volumes import VolumeManager

Obj = dict[str, Any]
UID = "0f1e2d3c-uid"


def make_pod(volumes: list[Obj], *, mounts: list[Obj] | None = None, **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": "default", "uid": UID},
            "spec": {"containers": [{"name": "app", "volumeMounts": mounts or []}],
                     "volumes": volumes, **spec}}


def manager(tmp_path: Path, *objects: Obj, mounter: FakeMounter | None = None
            ) -> VolumeManager:
    return VolumeManager(tmp_path / "kubelet", lookup=fakelookup.FakeObjectLookup(*objects),
                         mounter=mounter or FakeMounter(),
                         node_allocatable={"cpu": "4", "memory": "8Gi"})


def volume_dir(tmp_path: Path, plugin: str, name: str) -> Path:
    return tmp_path / "kubelet" / "pods" / UID / "volumes" / f"kubernetes.io~{plugin}" / name


async def mount_error(volumes: VolumeManager, pod: Obj) -> str:
    with pytest.raises(errors.MountError) as caught:
        await volumes.mount_pod(pod)
    return str(caught.value)


# ---- emptyDir -------------------------------------------------------------------------------

async def test_empty_dir_is_a_0777_directory_under_the_pod(tmp_path: Path) -> None:
    volumes = manager(tmp_path)
    pod = make_pod([{"name": "cache", "emptyDir": {}}],
                   mounts=[{"name": "cache", "mountPath": "/cache"}])
    await volumes.mount_pod(pod)
    path = volume_dir(tmp_path, "empty-dir", "cache")
    assert path.is_dir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o777
    (path / "kept").write_text("x")
    await volumes.mount_pod(pod)
    assert (path / "kept").read_text() == "x"
    assert volumes.container_mounts(pod, pod["spec"]["containers"][0]) == [
        api_pb2.Mount(container_path="/cache", host_path=str(path), readonly=False,
                      propagation=api_pb2.PROPAGATION_PRIVATE)]


async def test_memory_empty_dir_mounts_tmpfs_once_with_the_smallest_size(
        tmp_path: Path) -> None:
    mounter = FakeMounter()
    volumes = manager(tmp_path, mounter=mounter)
    pod = make_pod([{"name": "a", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                    {"name": "b", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
                    {"name": "c", "emptyDir": {"medium": "Memory"}}])
    pod["spec"]["containers"][0]["resources"] = {"limits": {"memory": "256Mi"}}
    await volumes.mount_pod(pod)
    await volumes.mount_pod(pod)
    assert mounter.mounted == {volume_dir(tmp_path, "empty-dir", "a"): 64 * 2**20,
                               volume_dir(tmp_path, "empty-dir", "b"): 256 * 2**20,
                               volume_dir(tmp_path, "empty-dir", "c"): 256 * 2**20}


async def test_memory_empty_dir_without_a_pod_limit_is_node_allocatable(
        tmp_path: Path) -> None:
    mounter = FakeMounter()
    await manager(tmp_path, mounter=mounter).mount_pod(
        make_pod([{"name": "a", "emptyDir": {"medium": "Memory"}}]))
    assert list(mounter.mounted.values()) == [8 * 2**30]


async def test_memory_empty_dir_needs_mount_permission(tmp_path: Path) -> None:
    volumes = manager(tmp_path, mounter=FakeMounter(allowed=False))
    message = await mount_error(volumes, make_pod([{"name": "a",
                                                    "emptyDir": {"medium": "Memory"}}]))
    assert message == (
        'MountVolume.SetUp failed for volume "a" : a memory-backed volume needs a tmpfs mount, '
        f"and mounting needs root (the kubelet runs as uid {os.geteuid()})")


async def test_unknown_medium_is_refused(tmp_path: Path) -> None:
    message = await mount_error(manager(tmp_path), make_pod(
        [{"name": "huge", "emptyDir": {"medium": "HugePages"}}]))
    assert message == ('MountVolume.SetUp failed for volume "huge" : '
                       'unknown storage medium "HugePages"')


async def test_an_unsupported_volume_type_fails_its_mount(tmp_path: Path) -> None:
    message = await mount_error(manager(tmp_path), make_pod(
        [{"name": "share", "nfs": {"server": "nas", "path": "/x"}}]))
    assert message == ('MountVolume.SetUp failed for volume "share" : '
                       "volume type not supported by this node: nfs")


# ---- hostPath -------------------------------------------------------------------------------

async def host_path_error(tmp_path: Path, path: Path | str, kind: str) -> str | None:
    pod = make_pod([{"name": "host", "hostPath": {"path": str(path), "type": kind}}])
    try:
        await manager(tmp_path).mount_pod(pod)
    except errors.MountError as exc:
        return str(exc)
    return None


async def test_host_path_types_check_what_is_there(tmp_path: Path) -> None:
    directory, file = tmp_path / "d", tmp_path / "f"
    directory.mkdir()
    file.write_text("x")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "s"))
    try:
        prefix = 'MountVolume.SetUp failed for volume "host" : hostPath type check failed: '
        assert await host_path_error(tmp_path, directory, "Directory") is None
        assert await host_path_error(tmp_path, file, "Directory") == (
            f"{prefix}{file} is not a directory")
        assert await host_path_error(tmp_path, tmp_path / "none", "Directory") == (
            f"{prefix}{tmp_path / 'none'} is not a directory")
        assert await host_path_error(tmp_path, file, "File") is None
        assert await host_path_error(tmp_path, directory, "File") == (
            f"{prefix}{directory} is not a file")
        assert await host_path_error(tmp_path, tmp_path / "s", "Socket") is None
        assert await host_path_error(tmp_path, file, "Socket") == (
            f"{prefix}{file} is not a socket file")
        assert await host_path_error(tmp_path, "/dev/null", "CharDevice") is None
        assert await host_path_error(tmp_path, file, "CharDevice") == (
            f"{prefix}{file} is not a character device")
        assert await host_path_error(tmp_path, "/dev/null", "BlockDevice") == (
            f"{prefix}/dev/null is not a block device")
        assert await host_path_error(tmp_path, tmp_path / "none", "") is None
        assert await host_path_error(tmp_path, file, "Fancy") == (
            'MountVolume.SetUp failed for volume "host" : Fancy is an invalid volume type')
        assert await host_path_error(tmp_path, f"{directory}/../d", "") == (
            f'MountVolume.SetUp failed for volume "host" : invalid HostPath '
            f"`{directory}/../d`: must not contain '..'")
    finally:
        sock.close()


async def test_or_create_types_create_what_is_missing(tmp_path: Path) -> None:
    assert await host_path_error(tmp_path, tmp_path / "a" / "b", "DirectoryOrCreate") is None
    assert (tmp_path / "a" / "b").is_dir()
    assert await host_path_error(tmp_path, tmp_path / "a" / "f", "FileOrCreate") is None
    assert (tmp_path / "a" / "f").is_file()
    assert await host_path_error(tmp_path, tmp_path / "a" / "b", "FileOrCreate") == (
        'MountVolume.SetUp failed for volume "host" : hostPath type check failed: '
        f"{tmp_path / 'a' / 'b'} is not a file")


async def test_host_path_mounts_the_path_itself(tmp_path: Path) -> None:
    pod = make_pod([{"name": "logs", "hostPath": {"path": str(tmp_path)}}],
                   mounts=[{"name": "logs", "mountPath": "/var/log", "readOnly": True,
                            "mountPropagation": "HostToContainer"}])
    volumes = manager(tmp_path)
    await volumes.mount_pod(pod)
    assert volumes.container_mounts(pod, pod["spec"]["containers"][0]) == [
        api_pb2.Mount(container_path="/var/log", host_path=str(tmp_path), readonly=True,
                      propagation=api_pb2.PROPAGATION_HOST_TO_CONTAINER)]


# ---- persistentVolumeClaim ------------------------------------------------------------------

def claim(name: str, *, volume: str = "", phase: str = "Pending") -> Obj:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"volumeName": volume}, "status": {"phase": phase}}


def persistent_volume(name: str, source: Obj) -> Obj:
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": source}


def claim_pod(**source: Any) -> Obj:
    return make_pod([{"name": "data", "persistentVolumeClaim": {"claimName": "data",
                                                                 **source}}],
                    mounts=[{"name": "data", "mountPath": "/data"}])


async def test_claims_that_are_missing_or_pending_keep_the_pod_waiting(tmp_path: Path) -> None:
    assert await mount_error(manager(tmp_path), claim_pod()) == (
        "error processing PVC default/data: failed to fetch PVC from API server: "
        'persistentvolumeclaims "data" not found')
    assert await mount_error(manager(tmp_path, claim("data")), claim_pod()) == (
        "error processing PVC default/data: PVC is not bound")


async def test_a_bound_host_path_claim_mounts_the_volume_path(tmp_path: Path) -> None:
    store = tmp_path / "pv"
    volumes = manager(tmp_path, claim("data", volume="pv-1", phase="Bound"),
                      persistent_volume("pv-1", {"hostPath": {"path": str(store),
                                                              "type": "DirectoryOrCreate"}}))
    pod = claim_pod(readOnly=True)
    await volumes.mount_pod(pod)
    assert store.is_dir()
    assert volumes.container_mounts(pod, pod["spec"]["containers"][0]) == [
        api_pb2.Mount(container_path="/data", host_path=str(store), readonly=True,
                      propagation=api_pb2.PROPAGATION_PRIVATE)]


async def test_a_local_volume_must_exist(tmp_path: Path) -> None:
    objects = (claim("data", volume="pv-1", phase="Bound"),
               persistent_volume("pv-1", {"local": {"path": str(tmp_path / "disk")}}))
    assert await mount_error(manager(tmp_path, *objects), claim_pod()) == (
        f'MountVolume.SetUp failed for volume "data" : path "{tmp_path / "disk"}" '
        "does not exist")
    (tmp_path / "disk").mkdir()
    volumes = manager(tmp_path, *objects)
    pod = claim_pod()
    await volumes.mount_pod(pod)
    assert volumes.volume_path(pod, "data") == tmp_path / "disk"


async def test_an_unresolved_claim_cannot_be_mounted_into_a_container(tmp_path: Path) -> None:
    pod = claim_pod()
    with pytest.raises(errors.ContainerConfigError) as caught:
        manager(tmp_path).container_mounts(pod, pod["spec"]["containers"][0])
    assert str(caught.value) == 'cannot find volume "data" to mount into container "app"'


# ---- container mounts: subPath, propagation, /etc/hosts -------------------------------------

async def mounts_of(tmp_path: Path, volume_mounts: list[Obj], **kwargs: Any
                    ) -> list[api_pb2.Mount]:
    volumes = manager(tmp_path)
    pod = make_pod([{"name": "work", "emptyDir": {}}], mounts=volume_mounts)
    await volumes.mount_pod(pod)
    return volumes.container_mounts(pod, pod["spec"]["containers"][0], **kwargs)


async def test_sub_paths_are_created_inside_the_volume(tmp_path: Path) -> None:
    env = [api_pb2.KeyValue(key="POD_NAME", value="web")]
    mounts = await mounts_of(tmp_path, [
        {"name": "work", "mountPath": "/a", "subPath": "one/two"},
        {"name": "work", "mountPath": "/b", "subPathExpr": "logs/$(POD_NAME)"},
        {"name": "work", "mountPath": "/c", "mountPropagation": "Bidirectional"},
        {"name": "work", "mountPath": "/d", "mountPropagation": "None"}], env=env)
    base = volume_dir(tmp_path, "empty-dir", "work")
    assert [(m.container_path, m.host_path, m.propagation) for m in mounts] == [
        ("/a", str(base / "one" / "two"), api_pb2.PROPAGATION_PRIVATE),
        ("/b", str(base / "logs" / "web"), api_pb2.PROPAGATION_PRIVATE),
        ("/c", str(base), api_pb2.PROPAGATION_BIDIRECTIONAL),
        ("/d", str(base), api_pb2.PROPAGATION_PRIVATE)]
    assert (base / "one" / "two").is_dir()
    assert stat.S_IMODE((base / "logs" / "web").stat().st_mode) == 0o777


@pytest.mark.parametrize(("volume_mount", "message"), [
    ({"subPath": "/etc"}, "error SubPath `/etc` must not be an absolute path"),
    ({"subPath": "a/../../x"}, "unable to provision SubPath `a/../../x`: must not contain '..'"),
    ({"subPathExpr": "$(NOPE)"}, "missing value for NOPE"),
    ({"subPath": "escape/x"},
     'failed to prepare subPath for volumeMount "work" of container "app"'),
    ({"mountPropagation": "Sideways"}, 'invalid MountPropagation mode: "Sideways"'),
    ({"name": "ghost"}, 'cannot find volume "ghost" to mount into container "app"'),
])
async def test_bad_volume_mounts_are_container_config_errors(
        tmp_path: Path, volume_mount: Obj, message: str) -> None:
    base = volume_dir(tmp_path, "empty-dir", "work")
    base.mkdir(parents=True)
    (base / "escape").symlink_to("/")
    with pytest.raises(errors.ContainerConfigError) as caught:
        await mounts_of(tmp_path, [{"name": "work", "mountPath": "/w", **volume_mount}])
    assert str(caught.value) == message


async def test_etc_hosts_is_managed_once_the_pod_has_an_ip(tmp_path: Path) -> None:
    assert await mounts_of(tmp_path, []) == []
    pod = make_pod([], hostname="box", subdomain="crew",
                   hostAliases=[{"ip": "10.1.2.3", "hostnames": ["foo.local", "bar.local"]}])
    volumes = manager(tmp_path)
    await volumes.mount_pod(pod)
    hosts = tmp_path / "kubelet" / "pods" / UID / "etc-hosts"
    assert volumes.container_mounts(pod, pod["spec"]["containers"][0],
                                    pod_ips=["10.42.0.9"]) == [
        api_pb2.Mount(container_path="/etc/hosts", host_path=str(hosts))]
    assert hosts.read_text() == (
        "# Kubernetes-managed hosts file.\n"
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\n"
        "fe00::0\tip6-mcastprefix\n"
        "fe00::1\tip6-allnodes\n"
        "fe00::2\tip6-allrouters\n"
        "10.42.0.9\tbox.crew.default.svc.cluster.local\tbox\n"
        "\n"
        "# Entries added by HostAliases.\n"
        "10.1.2.3\tfoo.local\tbar.local\n")
    assert stat.S_IMODE(hosts.stat().st_mode) == 0o644


def test_etc_hosts_of_a_plain_pod_and_of_a_host_network_pod(tmp_path: Path) -> None:
    volumes = manager(tmp_path)
    pod = make_pod([])
    volumes.etc_hosts_mount(pod, pod_ips=["10.42.0.9"])
    hosts = tmp_path / "kubelet" / "pods" / UID / "etc-hosts"
    assert hosts.read_text().endswith("fe00::2\tip6-allrouters\n10.42.0.9\tweb\n")
    host_pod = make_pod([], hostNetwork=True)
    assert [m.container_path for m in volumes.container_mounts(
        host_pod, host_pod["spec"]["containers"][0])] == ["/etc/hosts"]
    assert hosts.read_text() == ("# Kubernetes-managed hosts file (host network).\n"
                                 + Path("/etc/hosts").read_text())


async def test_a_container_mounting_its_own_etc_hosts_gets_no_managed_one(
        tmp_path: Path) -> None:
    mounts = await mounts_of(tmp_path, [{"name": "work", "mountPath": "/etc/hosts",
                                         "subPath": "hosts"}], pod_ips=["10.42.0.9"])
    assert [m.container_path for m in mounts] == ["/etc/hosts"]


# ---- teardown -------------------------------------------------------------------------------

async def test_unmount_pod_unmounts_tmpfs_then_removes_the_pod_directory(
        tmp_path: Path) -> None:
    mounter = FakeMounter()
    volumes = manager(tmp_path, mounter=mounter)
    host = tmp_path / "host"
    host.mkdir()
    (host / "keep").write_text("x")
    pod = make_pod([{"name": "mem", "emptyDir": {"medium": "Memory"}},
                    {"name": "disk", "emptyDir": {}},
                    {"name": "host", "hostPath": {"path": str(host)}}])
    await volumes.mount_pod(pod)
    await volumes.unmount_pod(UID)
    assert mounter.unmounted == [volume_dir(tmp_path, "empty-dir", "mem")]
    assert not (tmp_path / "kubelet" / "pods" / UID).exists()
    assert (host / "keep").read_text() == "x"
    await volumes.unmount_pod(UID)  # idempotent


async def test_unmount_pod_keeps_everything_when_something_stays_mounted(
        tmp_path: Path) -> None:
    volumes = manager(tmp_path, mounter=FakeMounter(stuck=True))
    await volumes.mount_pod(make_pod([{"name": "mem", "emptyDir": {"medium": "Memory"}}]))
    with pytest.raises(errors.MountError, match="is still mounted"):
        await volumes.unmount_pod(UID)
    assert volume_dir(tmp_path, "empty-dir", "mem").is_dir()
