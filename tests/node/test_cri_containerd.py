"""CRIRuntime against a real containerd: pods on the CNI network, logs, OOM kills, pulls from a
registry, and a kubelet reconnecting to what it left running."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import noderuntime
import pytest
from cri_api.v1 import api_pb2

from kajitori.kubelet import cri, imagebuild, runtime

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
