"""The container runtime as the kubelet sees it: the CRI v1 RuntimeService and ImageService.

The kubelet talks to containerd over CRI (gRPC, `kajitori.kubelet.cri.CRIRuntime`); unit tests
give it an in-memory runtime with the same methods (`tests/unit/kubelet/fakeruntime.py`). Both
take and return the CRI protobuf messages of `cri_api.v1.api_pb2` so that nothing is translated
twice: the kubelet builds `PodSandboxConfig` and `ContainerConfig` itself, as upstream's
`kuberuntime` package does.

The labels and annotations below are upstream's (`pkg/kubelet/kuberuntime/labels.go`): the
kubelet finds its pods and containers again after a restart by them alone, so a container
started by an earlier kubelet process is recognised and never started twice.
"""

from __future__ import annotations

from typing import Protocol

from cri_api.v1 import api_pb2

# Labels on every sandbox and container.
POD_NAME_LABEL = "io.kubernetes.pod.name"
POD_NAMESPACE_LABEL = "io.kubernetes.pod.namespace"
POD_UID_LABEL = "io.kubernetes.pod.uid"
CONTAINER_NAME_LABEL = "io.kubernetes.container.name"
"""Only on containers."""
KUBERNETES_MANAGED_LABEL = "io.cri-containerd.kind"
"""containerd's own label telling sandboxes (`sandbox`) from containers (`container`)."""

# Annotations on containers.
CONTAINER_HASH_ANNOTATION = "io.kubernetes.container.hash"
"""A hash of the container's spec: a container whose spec changed is restarted."""
CONTAINER_RESTART_COUNT_ANNOTATION = "io.kubernetes.container.restartCount"
CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION = "io.kubernetes.container.terminationMessagePath"
CONTAINER_TERMINATION_MESSAGE_POLICY_ANNOTATION = (
    "io.kubernetes.container.terminationMessagePolicy")
POD_TERMINATION_GRACE_PERIOD_ANNOTATION = "io.kubernetes.pod.terminationGracePeriod"
CONTAINER_PRESTOP_HANDLER_ANNOTATION = "io.kubernetes.container.preStopHandler"
CONTAINER_PORTS_ANNOTATION = "io.kubernetes.container.ports"

CONTAINER_ID_PREFIX = "containerd://"
"""How `containerStatuses[].containerID` names a container (`<runtime>://<id>`)."""


class RuntimeService(Protocol):
    """CRI RuntimeService, the calls the kubelet makes. Errors are raised as `CRIError`."""

    async def version(self) -> api_pb2.VersionResponse: ...

    async def status(self) -> api_pb2.StatusResponse: ...

    async def run_pod_sandbox(self, config: api_pb2.PodSandboxConfig, *,
                              runtime_handler: str = "") -> str: ...

    async def stop_pod_sandbox(self, sandbox_id: str) -> None: ...

    async def remove_pod_sandbox(self, sandbox_id: str) -> None: ...

    async def pod_sandbox_status(self, sandbox_id: str) -> api_pb2.PodSandboxStatus: ...

    async def list_pod_sandboxes(self, *, labels: dict[str, str] | None = None
                                 ) -> list[api_pb2.PodSandbox]: ...

    async def create_container(self, sandbox_id: str, config: api_pb2.ContainerConfig,
                               sandbox_config: api_pb2.PodSandboxConfig) -> str: ...

    async def start_container(self, container_id: str) -> None: ...

    async def stop_container(self, container_id: str, *, grace_seconds: int) -> None:
        """SIGTERM, then SIGKILL after `grace_seconds` (the CRI `timeout`)."""
        ...

    async def remove_container(self, container_id: str) -> None: ...

    async def list_containers(self, *, sandbox_id: str = "",
                              labels: dict[str, str] | None = None
                              ) -> list[api_pb2.Container]: ...

    async def container_status(self, container_id: str) -> api_pb2.ContainerStatus: ...

    async def exec_sync(self, container_id: str, cmd: list[str], *,
                        run_seconds: int = 0) -> api_pb2.ExecSyncResponse:
        """The CRI `timeout` is `run_seconds`; 0 waits for ever."""
        ...

    async def exec(self, request: api_pb2.ExecRequest) -> str:
        """The URL of the runtime's streaming server for this exec."""
        ...

    async def attach(self, request: api_pb2.AttachRequest) -> str: ...

    async def port_forward(self, request: api_pb2.PortForwardRequest) -> str: ...

    async def list_container_stats(self) -> list[api_pb2.ContainerStats]: ...

    async def list_pod_sandbox_stats(self) -> list[api_pb2.PodSandboxStats]: ...

    async def update_runtime_config(self, pod_cidr: str) -> None: ...

    async def reopen_container_log(self, container_id: str) -> None: ...


class ImageService(Protocol):
    """CRI ImageService."""

    async def list_images(self) -> list[api_pb2.Image]: ...

    async def image_status(self, image: str) -> api_pb2.Image | None:
        """The image, or None when the runtime does not have it."""
        ...

    async def pull_image(self, image: str, *, auth: api_pb2.AuthConfig | None = None,
                         sandbox_config: api_pb2.PodSandboxConfig | None = None) -> str:
        """The image reference (its `sha256:` id) once pulled."""
        ...

    async def remove_image(self, image: str) -> None: ...

    async def image_fs_info(self) -> api_pb2.ImageFsInfoResponse: ...


class CRIError(Exception):
    """A CRI call failed. `code` is the gRPC status name (`NOT_FOUND`, `UNKNOWN`, ...) and
    `message` the runtime's own words, which the kubelet shows users (`StartError`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
