"""What the node tests get from their fixtures (tests/node/conftest.py): the private runtime
and a local registry."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Callable
from pathlib import Path

from cri_api.v1 import api_pb2

from kajitori.kubelet import cri, imagebuild


@dataclasses.dataclass
class NodeRuntime:
    runtime: cri.CRIRuntime
    socket: str
    root: Path
    pod_cidr: str
    bridge: str
    cgroup_parent: str
    """Absolute cgroup parent for the tests' sandboxes, removed at the end."""
    busybox: imagebuild.BuiltImage

    def sandbox_config(self, name: str, *, namespace: str = "default"
                       ) -> api_pb2.PodSandboxConfig:
        """A minimal pod: its own network (CNI), log directory under the root, the test
        cgroup parent, upstream's pod labels."""
        uid = secrets.token_hex(8)
        log_dir = self.root / "pods" / f"{namespace}_{name}_{uid}"
        log_dir.mkdir(parents=True)
        return api_pb2.PodSandboxConfig(
            metadata=api_pb2.PodSandboxMetadata(name=name, namespace=namespace, uid=uid),
            hostname=name, log_directory=str(log_dir),
            labels={"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": namespace,
                    "io.kubernetes.pod.uid": uid},
            linux=api_pb2.LinuxPodSandboxConfig(
                cgroup_parent=f"{self.cgroup_parent}/pod{uid}",
                security_context=api_pb2.LinuxSandboxSecurityContext(
                    namespace_options=api_pb2.NamespaceOption(pid=api_pb2.CONTAINER))))

    async def wait_exited(self, container_id: str) -> api_pb2.ContainerStatus:
        """The container's status once it has exited (polling: containerd 1.6 has no CRI
        container events)."""
        while True:
            status = await self.runtime.container_status(container_id)
            if status.state == api_pb2.CONTAINER_EXITED:
                return status
            await asyncio.sleep(0.05)


@dataclasses.dataclass(frozen=True)
class Registry:
    host: str
    """`127.0.0.1:<port>`; containerd talks plain HTTP to a loopback registry unasked."""
    push: Callable[[Path, str], None]
    """`push(oci_archive, "repo:tag")` copies an archive's `latest` into the registry."""
