"""`CRIRuntime`: the CRI v1 RuntimeService and ImageService of `kubelet/runtime.py` over gRPC.

Mirrors upstream's `staging/src/k8s.io/cri-client/pkg/remote_runtime.go` and `remote_image.go`:
one channel to the runtime's unix socket (containerd, started by `kubelet/containerd.py`), a
deadline on every call, and gRPC failures turned into `runtime.CRIError` with the status code's
name and the runtime's own words (the kubelet shows those words to users, e.g. in `StartError`).

The calls are thin: they take and return the `cri_api.v1.api_pb2` messages the kubelet builds
itself (`kubelet/containerconfig.py`), so nothing is translated twice.
"""

from __future__ import annotations

import json
import types
from collections.abc import Awaitable, Callable
from typing import Any, Self, cast

import grpc
from cri_api.v1 import api_pb2, api_pb2_grpc

from kajitori.kubelet.runtime import CRIError

CRI_API_VERSION = "v1"
"""What `Version` sends; containerd answers with its own name and version."""

QUICK_TIMEOUT = 10.0
"""Seconds for calls that only read the runtime's state (`Version`, `*Status`, `List*`)."""
RUNTIME_REQUEST_TIMEOUT = 120.0
"""Seconds for calls that change state; upstream's `--runtime-request-timeout` default (2m)."""
PULL_TIMEOUT = 1800.0
"""Seconds a single pull may take. Upstream sets none; a big image over a slow link takes long,
but a pull hung on a dead registry must end some time so the kubelet can report it."""
MAX_MESSAGE_SIZE = 16 * 1024 * 1024
"""Upstream's `maxMsgSize`: a node with many containers answers `ListContainers` with a lot."""

_Call = Callable[..., Awaitable[Any]]


class CRIRuntime:
    """A connection to a CRI runtime at `socket` (a unix socket path).

    Use it as an async context manager, or call `close()`. Connecting is lazy: a runtime that is
    not up yet makes the first call fail with `CRIError("UNAVAILABLE", ...)`, not the
    constructor. Every method raises `CRIError` on failure and is safe to call concurrently.
    """

    def __init__(self, socket: str, *, quick_timeout: float = QUICK_TIMEOUT,
                 request_timeout: float = RUNTIME_REQUEST_TIMEOUT) -> None:
        self.socket = socket
        self._quick = quick_timeout
        self._request = request_timeout
        self._channel = grpc.aio.insecure_channel(
            f"unix://{socket}",
            options=[("grpc.max_receive_message_length", MAX_MESSAGE_SIZE),
                     ("grpc.max_send_message_length", MAX_MESSAGE_SIZE)])
        # The generated stubs carry no annotations: every call returns Any, cast below.
        stubs = api_pb2_grpc
        self._runtime = stubs.RuntimeServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._images = stubs.ImageServiceStub(self._channel)  # type: ignore[no-untyped-call]
        self._users: dict[str, api_pb2.ContainerUser] = {}
        """Containers' users read from their verbose status, by container id."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: types.TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def _call(self, method: _Call, request: Any, *, deadline: float | None) -> Any:
        """`deadline`: seconds the call may take; None for no limit."""
        try:
            return await method(request, timeout=deadline)
        except grpc.aio.AioRpcError as exc:
            raise CRIError(exc.code().name, exc.details() or "") from exc

    # RuntimeService

    async def version(self) -> api_pb2.VersionResponse:
        return cast(api_pb2.VersionResponse, await self._call(
            self._runtime.Version, api_pb2.VersionRequest(version=CRI_API_VERSION),
            deadline=self._quick))

    async def status(self) -> api_pb2.StatusResponse:
        return cast(api_pb2.StatusResponse, await self._call(
            self._runtime.Status, api_pb2.StatusRequest(verbose=False), deadline=self._quick))

    async def run_pod_sandbox(self, config: api_pb2.PodSandboxConfig, *,
                              runtime_handler: str = "") -> str:
        resp = await self._call(
            self._runtime.RunPodSandbox,
            api_pb2.RunPodSandboxRequest(config=config, runtime_handler=runtime_handler),
            deadline=self._request)
        return str(resp.pod_sandbox_id)

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        await self._call(self._runtime.StopPodSandbox,
                         api_pb2.StopPodSandboxRequest(pod_sandbox_id=sandbox_id),
                         deadline=self._request)

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        await self._call(self._runtime.RemovePodSandbox,
                         api_pb2.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id),
                         deadline=self._request)

    async def pod_sandbox_status(self, sandbox_id: str) -> api_pb2.PodSandboxStatus:
        resp = await self._call(self._runtime.PodSandboxStatus,
                                api_pb2.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id),
                                deadline=self._quick)
        return cast(api_pb2.PodSandboxStatus, resp.status)

    async def list_pod_sandboxes(self, *, labels: dict[str, str] | None = None
                                 ) -> list[api_pb2.PodSandbox]:
        """All sandboxes (ready or not) carrying every one of `labels`."""
        request = api_pb2.ListPodSandboxRequest(
            filter=api_pb2.PodSandboxFilter(label_selector=labels or {}))
        resp = await self._call(self._runtime.ListPodSandbox, request, deadline=self._quick)
        return list(resp.items)

    async def create_container(self, sandbox_id: str, config: api_pb2.ContainerConfig,
                               sandbox_config: api_pb2.PodSandboxConfig) -> str:
        resp = await self._call(
            self._runtime.CreateContainer,
            api_pb2.CreateContainerRequest(pod_sandbox_id=sandbox_id, config=config,
                                           sandbox_config=sandbox_config),
            deadline=self._request)
        return str(resp.container_id)

    async def start_container(self, container_id: str) -> None:
        await self._call(self._runtime.StartContainer,
                         api_pb2.StartContainerRequest(container_id=container_id),
                         deadline=self._request)

    async def stop_container(self, container_id: str, *, grace_seconds: int) -> None:
        """SIGTERM, then SIGKILL after `grace_seconds`; the deadline allows for both."""
        await self._call(
            self._runtime.StopContainer,
            api_pb2.StopContainerRequest(container_id=container_id, timeout=grace_seconds),
            deadline=self._request + grace_seconds)

    async def remove_container(self, container_id: str) -> None:
        await self._call(self._runtime.RemoveContainer,
                         api_pb2.RemoveContainerRequest(container_id=container_id),
                         deadline=self._request)
        self._users.pop(container_id, None)

    async def list_containers(self, *, sandbox_id: str = "",
                              labels: dict[str, str] | None = None
                              ) -> list[api_pb2.Container]:
        """All containers (any state), of one sandbox when `sandbox_id` is given, carrying every
        one of `labels`."""
        request = api_pb2.ListContainersRequest(
            filter=api_pb2.ContainerFilter(pod_sandbox_id=sandbox_id,
                                           label_selector=labels or {}))
        resp = await self._call(self._runtime.ListContainers, request, deadline=self._quick)
        return list(resp.containers)

    async def container_status(self, container_id: str) -> api_pb2.ContainerStatus:
        """The container's status with its `user` (the identity of its first process): a
        runtime older than that field (containerd 1.6) is asked once per container for its
        verbose status, whose OCI spec has the process's user."""
        known = self._users.get(container_id)
        resp = await self._call(self._runtime.ContainerStatus,
                                api_pb2.ContainerStatusRequest(container_id=container_id,
                                                               verbose=known is None),
                                deadline=self._quick)
        status = cast(api_pb2.ContainerStatus, resp.status)
        if not status.HasField("user"):
            user = known if known is not None else _spec_user(dict(resp.info))
            self._users[container_id] = user
            if user.HasField("linux"):
                status.user.CopyFrom(user)
        return status

    async def exec_sync(self, container_id: str, cmd: list[str], *,
                        run_seconds: int = 0) -> api_pb2.ExecSyncResponse:
        """Runs `cmd` to its end; with `run_seconds` 0 there is no deadline (as upstream)."""
        return cast(api_pb2.ExecSyncResponse, await self._call(
            self._runtime.ExecSync,
            api_pb2.ExecSyncRequest(container_id=container_id, cmd=cmd, timeout=run_seconds),
            deadline=run_seconds + self._request if run_seconds else None))

    async def exec(self, request: api_pb2.ExecRequest) -> str:
        resp = await self._call(self._runtime.Exec, request, deadline=self._request)
        return str(resp.url)

    async def attach(self, request: api_pb2.AttachRequest) -> str:
        resp = await self._call(self._runtime.Attach, request, deadline=self._request)
        return str(resp.url)

    async def port_forward(self, request: api_pb2.PortForwardRequest) -> str:
        resp = await self._call(self._runtime.PortForward, request, deadline=self._request)
        return str(resp.url)

    async def list_container_stats(self) -> list[api_pb2.ContainerStats]:
        resp = await self._call(self._runtime.ListContainerStats,
                                api_pb2.ListContainerStatsRequest(), deadline=self._quick)
        return list(resp.stats)

    async def list_pod_sandbox_stats(self) -> list[api_pb2.PodSandboxStats]:
        resp = await self._call(self._runtime.ListPodSandboxStats,
                                api_pb2.ListPodSandboxStatsRequest(), deadline=self._quick)
        return list(resp.stats)

    async def update_runtime_config(self, pod_cidr: str) -> None:
        request = api_pb2.UpdateRuntimeConfigRequest(runtime_config=api_pb2.RuntimeConfig(
            network_config=api_pb2.NetworkConfig(pod_cidr=pod_cidr)))
        await self._call(self._runtime.UpdateRuntimeConfig, request, deadline=self._request)

    async def reopen_container_log(self, container_id: str) -> None:
        await self._call(self._runtime.ReopenContainerLog,
                         api_pb2.ReopenContainerLogRequest(container_id=container_id),
                         deadline=self._request)

    # ImageService

    async def list_images(self) -> list[api_pb2.Image]:
        resp = await self._call(self._images.ListImages, api_pb2.ListImagesRequest(),
                                deadline=self._quick)
        return list(resp.images)

    async def image_status(self, image: str) -> api_pb2.Image | None:
        resp = await self._call(
            self._images.ImageStatus,
            api_pb2.ImageStatusRequest(image=api_pb2.ImageSpec(image=image)),
            deadline=self._quick)
        return resp.image if resp.HasField("image") else None

    async def pull_image(self, image: str, *, auth: api_pb2.AuthConfig | None = None,
                         sandbox_config: api_pb2.PodSandboxConfig | None = None) -> str:
        request = api_pb2.PullImageRequest(image=api_pb2.ImageSpec(image=image), auth=auth,
                                           sandbox_config=sandbox_config)
        resp = await self._call(self._images.PullImage, request, deadline=PULL_TIMEOUT)
        return str(resp.image_ref)

    async def remove_image(self, image: str) -> None:
        await self._call(self._images.RemoveImage,
                         api_pb2.RemoveImageRequest(image=api_pb2.ImageSpec(image=image)),
                         deadline=self._request)

    async def image_fs_info(self) -> api_pb2.ImageFsInfoResponse:
        return cast(api_pb2.ImageFsInfoResponse, await self._call(
            self._images.ImageFsInfo, api_pb2.ImageFsInfoRequest(), deadline=self._quick))


def _spec_user(info: dict[str, str]) -> api_pb2.ContainerUser:
    """The user of the OCI spec in a verbose container status's `info` (containerd's
    `runtimeSpec.process.user`); empty when there is none."""
    try:
        spec = json.loads(info.get("info") or "{}").get("runtimeSpec") or {}
    except ValueError:
        return api_pb2.ContainerUser()
    user = (spec.get("process") or {}).get("user")
    if not isinstance(user, dict):
        return api_pb2.ContainerUser()
    return api_pb2.ContainerUser(linux=api_pb2.LinuxContainerUser(
        uid=int(user.get("uid") or 0), gid=int(user.get("gid") or 0),
        supplemental_groups=[int(g) for g in user.get("additionalGids") or []]))
