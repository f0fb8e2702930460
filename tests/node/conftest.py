"""Node tests: a real containerd (Debian's, with runc and the CNI plugins) private to the session.

`containerd` starts containerd under a temporary directory through `kajitori.kubelet.containerd`,
imports the built pause and busybox images, writes the CNI conflist for podCIDR 10.42.250.0/24
on a bridge with a unique `kjt` name, and yields a `NodeRuntime` with a connected `CRIRuntime`.
At the end of the session every pod is removed (CNI DEL, netns), containerd stopped, the bridge
deleted, leftover mounts under the directory unmounted, the test cgroups removed and
`net.ipv4.ip_forward` put back (the bridge plugin turns it on).

Async tests here run on one event loop for the whole session (the runtime's gRPC channel is
bound to it), each with a deadline. They skip unless run as root with containerd installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import agentnode
import noderuntime
import pytest
import tutorialregistry

from kajitori.kubelet import cni, containerd, cri, imagebuild

TEST_DEADLINE = 30.0
"""Seconds an async node test may run."""
POD_CIDR = "10.42.250.0/24"
CGROUP_ROOT = Path("/sys/fs/cgroup")
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
REGISTRY_BINARY = "/usr/bin/docker-registry"
HOST_DIRS = (Path("/run/containerd/s"), Path("/run/containerd"), Path("/var/lib/cni/results"),
             Path("/var/lib/cni"))
"""Where containerd 1.6 puts things whatever its config says: the shims' sockets (`s/`) and
go-cni's result cache. Removed at the end when the session created them and they are empty."""


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "node tests need root"
    if not Path(containerd.CONTAINERD_BINARY).exists():
        return f"node tests need {containerd.CONTAINERD_BINARY} (apt-get install containerd)"
    return None


_LOOP: asyncio.Runner | None = None


@pytest.fixture(scope="session", autouse=True)
def _node_loop() -> Iterator[asyncio.Runner]:
    global _LOOP
    with asyncio.Runner() as runner:
        _LOOP = runner
        yield runner
        _LOOP = None


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    assert _LOOP is not None
    kwargs = {name: pyfuncitem.funcargs[name]
              for name in inspect.signature(pyfuncitem.obj).parameters}

    async def run() -> None:
        async with asyncio.timeout(TEST_DEADLINE):
            await pyfuncitem.obj(**kwargs)

    _LOOP.run(run())
    return True


def _run(loop: asyncio.Runner, coro: Any) -> Any:
    return loop.run(asyncio.wait_for(coro, TEST_DEADLINE))


async def _start(settings: containerd.ContainerdSettings, bridge: str
                 ) -> tuple[containerd.Containerd, cri.CRIRuntime]:
    daemon = await containerd.start(settings)
    await containerd.ensure_builtin_images(daemon.socket)
    cni.write_conflist(settings.cni_conf_dir, POD_CIDR, ipam_dir=settings.root / "cni" / "ipam",
                       bridge=bridge)
    runtime = cri.CRIRuntime(daemon.socket)
    while True:  # containerd reloads the CNI config on a file event, a moment later
        conditions = {c.type: c.status for c in (await runtime.status()).status.conditions}
        if conditions.get("NetworkReady"):
            return daemon, runtime
        await asyncio.sleep(0.05)


async def _remove_all_pods(runtime: cri.CRIRuntime) -> None:
    for sandbox in await runtime.list_pod_sandboxes():
        with contextlib.suppress(cri.CRIError):
            await runtime.stop_pod_sandbox(sandbox.id)
        with contextlib.suppress(cri.CRIError):
            await runtime.remove_pod_sandbox(sandbox.id)


def _unmount_under(root: Path) -> None:
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for target in sorted((m for m in mounts if m.startswith(f"{root}/")), reverse=True):
        subprocess.run(["umount", "-l", target], check=False, capture_output=True)


def _remove_empty(directories: list[Path]) -> None:
    for directory in directories:
        with contextlib.suppress(OSError):
            directory.rmdir()


def _remove_cgroups(parent: str) -> None:
    for controller in CGROUP_ROOT.iterdir():
        top = controller / parent.lstrip("/")
        if not top.is_dir():
            continue
        for directory in sorted((p for p in top.rglob("*") if p.is_dir()), reverse=True):
            with contextlib.suppress(OSError):
                directory.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()


@pytest.fixture(scope="session")
def node(_node_loop: asyncio.Runner, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[noderuntime.NodeRuntime]:
    """A private containerd with the built images and the CNI network (see the module doc)."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    suffix = secrets.token_hex(3)
    root = tmp_path_factory.mktemp("kjt")
    bridge = f"kjt{suffix}"
    cgroup_parent = f"/kjtnode{suffix}"
    settings = containerd.ContainerdSettings(root=root)
    forward_before = IP_FORWARD.read_text()
    new_host_dirs = [d for d in HOST_DIRS if not d.exists()]
    busybox = imagebuild.build_builtin("busybox")
    daemon: containerd.Containerd | None = None
    runtime: cri.CRIRuntime | None = None
    try:
        daemon, runtime = _run(_node_loop, _start(settings, bridge))
        yield noderuntime.NodeRuntime(runtime=runtime, socket=daemon.socket, root=root,
                                      pod_cidr=POD_CIDR, bridge=bridge,
                                      cgroup_parent=cgroup_parent, busybox=busybox)
    finally:
        if runtime is not None:
            _run(_node_loop, _remove_all_pods(runtime))
            _run(_node_loop, runtime.close())
        if daemon is not None:
            _run(_node_loop, daemon.stop())
        _run(_node_loop, cni.remove_bridge(bridge=bridge))
        _unmount_under(root)
        _remove_cgroups(cgroup_parent)
        IP_FORWARD.write_text(forward_before)
        _remove_empty(new_host_dirs)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def runtime(node: noderuntime.NodeRuntime) -> cri.CRIRuntime:
    return node.runtime


@pytest.fixture(scope="session")
def registry(node: noderuntime.NodeRuntime, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[noderuntime.Registry]:
    """docker-registry on a free loopback port, with storage in a temporary directory."""
    if not Path(REGISTRY_BINARY).exists():
        pytest.skip(f"needs {REGISTRY_BINARY} (apt-get install docker-registry)")
    directory = tmp_path_factory.mktemp("kjtregistry")
    host = f"127.0.0.1:{agentnode.free_port()}"

    def push(archive: Path, ref: str) -> None:
        subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                        f"oci-archive:{archive}:latest", f"docker://{host}/{ref}"],
                       check=True, capture_output=True, timeout=30)

    with tutorialregistry.serving_registry(directory, host):
        yield noderuntime.Registry(host=host, push=push)


@pytest.fixture(scope="session")
def tutorial_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The registries.yaml of a local registry serving every tutorial image under its real
    name (`tutorialregistry`), for `running_agent_node(root, registries=...)`."""
    reason = tutorialregistry.skip_reason()
    if reason:
        pytest.skip(reason)
    with tutorialregistry.running_tutorial_registry(
            tmp_path_factory.mktemp("kjttutorialregistry")) as registry:
        yield registry.registries_file
