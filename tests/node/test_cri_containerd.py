"""CRIRuntime against a real containerd: pods on the CNI network, logs, OOM kills, pulls from a
registry, and a kubelet reconnecting to what it left running."""

from __future__ import annotations

import asyncio
import ipaddress
import os
import signal
import sys
from pathlib import Path

import noderuntime
import pytest
from cri_api.v1 import api_pb2

from kajitori.kubelet import cni, containerd, cri, imagebuild, images, runtime

pytestmark = pytest.mark.node

MiB = 1024 * 1024


def _container(name: str, command: list[str], *, image: str = imagebuild.BUSYBOX_IMAGE,
               memory: int = 0) -> api_pb2.ContainerConfig:
    return api_pb2.ContainerConfig(
        metadata=api_pb2.ContainerMetadata(name=name), image=api_pb2.ImageSpec(image=image),
        command=command, log_path=f"{name}/0.log", labels={runtime.CONTAINER_NAME_LABEL: name},
        linux=api_pb2.LinuxContainerConfig(resources=api_pb2.LinuxContainerResources(
            memory_limit_in_bytes=memory, memory_swap_limit_in_bytes=memory)))


async def _run(node: noderuntime.NodeRuntime, name: str, command: list[str], *,
               image: str = imagebuild.BUSYBOX_IMAGE, memory: int = 0
               ) -> tuple[api_pb2.PodSandboxConfig, str]:
    """A pod with one container running `command`; returns its sandbox config and the
    container's id."""
    config = node.sandbox_config(name)
    sandbox_id = await node.runtime.run_pod_sandbox(config)
    container_id = await node.runtime.create_container(
        sandbox_id, _container(name, command, image=image, memory=memory), config)
    await node.runtime.start_container(container_id)
    return config, container_id


async def test_sandbox_gets_an_address_of_the_pod_cidr(node: noderuntime.NodeRuntime) -> None:
    config = node.sandbox_config("net")
    sandbox_id = await node.runtime.run_pod_sandbox(config)
    status = await node.runtime.pod_sandbox_status(sandbox_id)
    assert status.state == api_pb2.SANDBOX_READY
    assert ipaddress.ip_address(status.network.ip) in ipaddress.ip_network(node.pod_cidr)
    [listed] = await node.runtime.list_pod_sandboxes(
        labels={runtime.POD_UID_LABEL: config.metadata.uid})
    assert listed.id == sandbox_id


async def test_container_output_lands_in_the_cri_log(node: noderuntime.NodeRuntime) -> None:
    config, container_id = await _run(node, "hello", ["echo", "hello"])
    status = await node.wait_exited(container_id)
    assert (status.exit_code, status.reason) == (0, "Completed")
    log = (Path(config.log_directory) / "hello" / "0.log").read_text()
    [line] = log.splitlines()
    assert line.endswith(" stdout F hello")


async def test_memory_limit_kills_with_oom(node: noderuntime.NodeRuntime) -> None:
    _, container_id = await _run(node, "oom", ["dd", "if=/dev/zero", "of=/dev/null", "bs=200M",
                                               "count=1"], memory=64 * MiB)
    status = await node.wait_exited(container_id)
    assert (status.exit_code, status.reason) == (137, "OOMKilled")


async def test_pull_from_a_registry(node: noderuntime.NodeRuntime,
                                    registry: noderuntime.Registry) -> None:
    registry.push(node.busybox.oci_archive, "kjt/busybox:v1")
    ref = f"{registry.host}/kjt/busybox:v1"
    assert await node.runtime.image_status(ref) is None
    image_id = await node.runtime.pull_image(ref)
    assert image_id == node.busybox.config_digest
    image = await node.runtime.image_status(ref)
    assert image is not None
    assert ref in image.repo_tags
    _, container_id = await _run(node, "pulled", ["true"], image=ref)
    assert (await node.wait_exited(container_id)).exit_code == 0


async def test_pull_of_a_missing_image_fails(node: noderuntime.NodeRuntime,
                                             registry: noderuntime.Registry) -> None:
    ref = f"{registry.host}/kjt/missing:v1"
    with pytest.raises(cri.CRIError) as raised:
        await node.runtime.pull_image(ref)
    assert raised.value.code == "NOT_FOUND"
    assert f'failed to pull and unpack image "{ref}"' in raised.value.message


async def test_a_new_connection_finds_running_containers(
        node: noderuntime.NodeRuntime) -> None:
    config, container_id = await _run(node, "survivor", ["sleep", "3600"])
    # A kubelet killed mid-way leaves its channel unclosed; the next one connects afresh.
    async with cri.CRIRuntime(node.socket) as first:
        await first.version()
    async with cri.CRIRuntime(node.socket) as second:
        listed = await second.list_containers(
            labels={runtime.CONTAINER_NAME_LABEL: "survivor"})
        assert [(c.id, c.state) for c in listed] == [(container_id, api_pb2.CONTAINER_RUNNING)]
        [sandbox] = await second.list_pod_sandboxes(
            labels={runtime.POD_UID_LABEL: config.metadata.uid})
        assert [c.id for c in await second.list_containers(sandbox_id=sandbox.id)] == [
            container_id]


async def test_pull_through_a_mirror_of_registries_yaml(node: noderuntime.NodeRuntime,
                                                        registry: noderuntime.Registry) -> None:
    registry.push(node.busybox.oci_archive, "kjt/mirrored:v1")
    hosts_dir = containerd.ContainerdSettings(root=node.root).hosts_dir
    mirrors = {"mirrors": {"kjt-mirrored.invalid": {"endpoint": [f"http://{registry.host}"]}}}
    for name, text in containerd.registry_hosts(mirrors).items():
        (hosts_dir / name).mkdir(parents=True)
        (hosts_dir / name / "hosts.toml").write_text(text)
    # containerd reads hosts.toml on each pull: no restart.
    ref = "kjt-mirrored.invalid/kjt/mirrored:v1"
    assert await node.runtime.pull_image(ref) == node.busybox.config_digest


async def test_image_puller_pulls_and_reports(node: noderuntime.NodeRuntime,
                                              registry: noderuntime.Registry) -> None:
    registry.push(node.busybox.oci_archive, "kjt/puller:v1")

    class NoSecrets:
        async def secret(self, namespace: str, name: str) -> None:
            return None

    class Recorder:
        def __init__(self) -> None:
            self.reasons: list[str] = []

        def event(self, obj: object, type_: str, reason: str, message: str, *,
                  field_path: str = "") -> None:
            self.reasons.append(reason)

    recorder = Recorder()
    puller = images.ImagePuller(node.runtime, recorder=recorder, lookup=NoSecrets())
    pod = {"metadata": {"name": "p", "namespace": "default", "uid": "kjt-puller"}, "spec": {}}
    image = f"{registry.host}/kjt/puller:v1"
    assert await puller.ensure_image(pod, {"name": "c", "image": image}) == (
        node.busybox.config_digest)
    with pytest.raises(images.ImagePullError) as raised:
        await puller.ensure_image(pod, {"name": "c", "image": f"{registry.host}/kjt/gone:v1"})
    assert raised.value.reason == "ErrImagePull"
    assert raised.value.message.startswith("rpc error: code = NotFound desc = failed to pull")
    assert recorder.reasons == ["Pulling", "Pulled", "Pulling", "Failed", "Failed"]


async def test_builtin_images_are_imported_once(node: noderuntime.NodeRuntime) -> None:
    assert await containerd.ensure_builtin_images(node.socket) == []
    tags = {tag for image in await node.runtime.list_images() for tag in image.repo_tags}
    assert {imagebuild.PAUSE_IMAGE, imagebuild.BUSYBOX_IMAGE} <= tags


KUBELET_STAND_IN = """
import asyncio, sys
from pathlib import Path
from kajitori.kubelet import containerd
daemon = asyncio.run(containerd.start(containerd.ContainerdSettings(root=Path(sys.argv[1]))))
print(daemon.pid, flush=True)
sys.stdin.read()
"""


async def test_containerd_outlives_a_killed_kubelet(tmp_path: Path) -> None:
    """A kubelet killed with its whole process group leaves containerd running; the next one
    adopts it."""
    kubelet = await asyncio.create_subprocess_exec(
        sys.executable, "-c", KUBELET_STAND_IN, str(tmp_path), stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, start_new_session=True)
    assert kubelet.stdout is not None
    pid = int(await kubelet.stdout.readline())
    settings = containerd.ContainerdSettings(root=tmp_path)
    try:
        os.killpg(kubelet.pid, signal.SIGKILL)
        await kubelet.wait()
        adopted = await containerd.start(settings)
        assert (adopted.adopted, adopted.pid) == (True, pid)
    finally:
        await containerd.Containerd(settings.socket, pid, adopted=True).stop()
    assert not await containerd.answers(settings.socket)


async def test_service_cidr_route_stays_on_the_bridge(node: noderuntime.NodeRuntime) -> None:
    service_cidr = "10.96.250.0/24"  # a slice of the service CIDR no other test routes
    await cni.ensure_service_route(service_cidr, node.pod_cidr, bridge=node.bridge)
    await cni.ensure_service_route(service_cidr, node.pod_cidr, bridge=node.bridge)
    ip = await asyncio.create_subprocess_exec("ip", "route", "show", service_cidr,
                                              stdout=asyncio.subprocess.PIPE)
    route = (await ip.communicate())[0].decode().split()
    assert route == [service_cidr, "dev", node.bridge, "scope", "link", "src", "10.42.250.1"]
