"""An in-memory container runtime for the kubelet's unit tests: the CRI RuntimeService and
ImageService of `kajitori.kubelet.runtime`, with nothing running.

Sandboxes and containers live in dicts; a test makes a container exit (`exit`), die of the
OOM killer (`oom`), fail to start (`fail_start[name] = message`) or be created with an error
(`fail_create[name]`), and reads every call in `calls`. Times come from `now_ns`, which a test
sets. IDs are `sb-1`, `c-1`, ... in creation order, so assertions can name them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from cri_api.v1 import api_pb2

from kajitori.kubelet import runtime

OOM_EXIT_CODE = 137
SIGTERM_EXIT_CODE = 143


@dataclass
class FakeSandbox:
    id: str
    config: api_pb2.PodSandboxConfig
    created_at: int
    ip: str
    state: int = api_pb2.SANDBOX_READY


@dataclass
class FakeContainer:
    id: str
    sandbox_id: str
    config: api_pb2.ContainerConfig
    image_ref: str
    image_name: str
    created_at: int
    state: int = api_pb2.CONTAINER_CREATED
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    message: str = ""


@dataclass
class FakeImage:
    id: str
    tags: list[str] = field(default_factory=list)
    size: int = 0
    pinned: bool = False


class FakeRuntime:
    """Both CRI services over dicts; errors are `runtime.CRIError`s as the real client raises."""

    def __init__(self) -> None:
        self.sandboxes: dict[str, FakeSandbox] = {}
        self.containers: dict[str, FakeContainer] = {}
        self.images: dict[str, FakeImage] = {}
        self.calls: list[tuple[str, str]] = []
        self.fail_start: dict[str, str] = {}
        """Container name → the runtime's message when starting it fails."""
        self.fail_create: dict[str, str] = {}
        self.stops: list[tuple[str, int]] = []
        """(container id, grace seconds) of every stop_container call."""
        self.exec_results: dict[tuple[str, ...], tuple[int, bytes]] = {}
        """Command → (exit code, stdout) of exec_sync; unknown commands succeed."""
        self.now_ns = 1_750_000_000 * 1_000_000_000
        self._ids = itertools.count(1)
        self._ips = itertools.count(2)

    def _record(self, verb: str, target: str = "") -> None:
        self.calls.append((verb, target))

    def verbs(self, verb: str) -> list[str]:
        """The targets of every call of `verb`, in order."""
        return [target for called, target in self.calls if called == verb]

    # Test controls.

    def exit(self, container_id: str, code: int = 0, *, reason: str = "") -> None:
        """The container's process ends with `code` (reason as containerd gives it:
        `Completed`, `Error`, `OOMKilled`)."""
        container = self.containers[container_id]
        container.state = api_pb2.CONTAINER_EXITED
        container.exit_code = code
        container.reason = reason or ("Completed" if code == 0 else "Error")
        container.finished_at = self.now_ns

    def oom(self, container_id: str) -> None:
        self.exit(container_id, OOM_EXIT_CODE, reason="OOMKilled")

    def by_name(self, name: str) -> list[FakeContainer]:
        """The containers named `name` (metadata), oldest first."""
        return [c for c in self.containers.values() if c.config.metadata.name == name]

    def running(self) -> list[str]:
        """Names of running containers."""
        return [c.config.metadata.name for c in self.containers.values()
                if c.state == api_pb2.CONTAINER_RUNNING]

    def add_image(self, name: str, image_id: str = "", *, size: int = 0) -> str:
        ref = image_id or f"sha256:{abs(hash(name)):064x}"[:71]
        self.images[name] = FakeImage(id=ref, tags=[name], size=size)
        return ref

    # RuntimeService.

    async def version(self) -> api_pb2.VersionResponse:
        return api_pb2.VersionResponse(version="0.1.0", runtime_name="containerd",
                                       runtime_version="v1.6.20", runtime_api_version="v1")

    async def status(self) -> api_pb2.StatusResponse:
        return api_pb2.StatusResponse()

    async def run_pod_sandbox(self, config: api_pb2.PodSandboxConfig, *,
                              runtime_handler: str = "") -> str:
        sandbox_id = f"sb-{next(self._ids)}"
        self._record("run_pod_sandbox", sandbox_id)
        copied = api_pb2.PodSandboxConfig()
        copied.CopyFrom(config)
        self.sandboxes[sandbox_id] = FakeSandbox(sandbox_id, copied, self.now_ns,
                                                 ip=f"10.42.0.{next(self._ips)}")
        return sandbox_id

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        self._record("stop_pod_sandbox", sandbox_id)
        sandbox = self.sandboxes.get(sandbox_id)
        if sandbox is None:
            return
        sandbox.state = api_pb2.SANDBOX_NOTREADY
        for container in self.containers.values():
            if container.sandbox_id == sandbox_id and \
                    container.state == api_pb2.CONTAINER_RUNNING:
                self.exit(container.id, SIGTERM_EXIT_CODE)

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        self._record("remove_pod_sandbox", sandbox_id)
        self.sandboxes.pop(sandbox_id, None)
        for container_id in [c.id for c in self.containers.values()
                             if c.sandbox_id == sandbox_id]:
            del self.containers[container_id]

    async def pod_sandbox_status(self, sandbox_id: str) -> api_pb2.PodSandboxStatus:
        sandbox = self.sandboxes.get(sandbox_id)
        if sandbox is None:
            raise runtime.CRIError("NOT_FOUND", f"an error occurred when try to find sandbox "
                                                f"{sandbox_id!r}: not found")
        return api_pb2.PodSandboxStatus(
            id=sandbox.id, metadata=sandbox.config.metadata, state=sandbox.state,
            created_at=sandbox.created_at,
            network=api_pb2.PodSandboxNetworkStatus(ip=sandbox.ip),
            labels=sandbox.config.labels, annotations=sandbox.config.annotations)

    async def list_pod_sandboxes(self, *, labels: dict[str, str] | None = None
                                 ) -> list[api_pb2.PodSandbox]:
        return [api_pb2.PodSandbox(id=s.id, metadata=s.config.metadata, state=s.state,
                                   created_at=s.created_at, labels=s.config.labels,
                                   annotations=s.config.annotations)
                for s in self.sandboxes.values()
                if all(s.config.labels.get(k) == v for k, v in (labels or {}).items())]

    async def create_container(self, sandbox_id: str, config: api_pb2.ContainerConfig,
                               sandbox_config: api_pb2.PodSandboxConfig) -> str:
        name = config.metadata.name
        self._record("create_container", name)
        if name in self.fail_create:
            raise runtime.CRIError("UNKNOWN", self.fail_create[name])
        if sandbox_id not in self.sandboxes:
            raise runtime.CRIError("NOT_FOUND", f"sandbox {sandbox_id} not found")
        container_id = f"c-{next(self._ids)}"
        copied = api_pb2.ContainerConfig()
        copied.CopyFrom(config)
        # As containerd: the image's first tag and its id, whichever the config names.
        image = next((i for i in self.images.values()
                      if config.image.image in (i.id, *i.tags)), None)
        self.containers[container_id] = FakeContainer(
            container_id, sandbox_id, copied,
            image_ref=image.id if image else config.image.image,
            image_name=image.tags[0] if image and image.tags else config.image.image,
            created_at=self.now_ns)
        return container_id

    async def start_container(self, container_id: str) -> None:
        container = self.containers[container_id]
        self._record("start_container", container.config.metadata.name)
        message = self.fail_start.get(container.config.metadata.name)
        if message is not None:
            container.state = api_pb2.CONTAINER_EXITED
            container.exit_code = 128
            container.reason = "StartError"
            container.message = message
            container.finished_at = self.now_ns
            raise runtime.CRIError("UNKNOWN", message)
        container.state = api_pb2.CONTAINER_RUNNING
        container.started_at = self.now_ns

    async def stop_container(self, container_id: str, *, grace_seconds: int) -> None:
        container = self.containers.get(container_id)
        self._record("stop_container", container.config.metadata.name if container else "")
        self.stops.append((container_id, grace_seconds))
        if container is not None and container.state == api_pb2.CONTAINER_RUNNING:
            self.exit(container_id, SIGTERM_EXIT_CODE)

    async def remove_container(self, container_id: str) -> None:
        container = self.containers.pop(container_id, None)
        self._record("remove_container", container.config.metadata.name if container else "")

    async def list_containers(self, *, sandbox_id: str = "",
                              labels: dict[str, str] | None = None
                              ) -> list[api_pb2.Container]:
        return [api_pb2.Container(
                    id=c.id, pod_sandbox_id=c.sandbox_id, metadata=c.config.metadata,
                    image=c.config.image, image_ref=c.image_ref, state=c.state,
                    created_at=c.created_at, labels=c.config.labels,
                    annotations=c.config.annotations)
                for c in self.containers.values()
                if (not sandbox_id or c.sandbox_id == sandbox_id)
                and all(c.config.labels.get(k) == v for k, v in (labels or {}).items())]

    async def container_status(self, container_id: str) -> api_pb2.ContainerStatus:
        c = self.containers.get(container_id)
        if c is None:
            raise runtime.CRIError("NOT_FOUND", f"container {container_id} not found")
        return api_pb2.ContainerStatus(
            id=c.id, metadata=c.config.metadata, state=c.state, created_at=c.created_at,
            started_at=c.started_at, finished_at=c.finished_at, exit_code=c.exit_code,
            image=api_pb2.ImageSpec(image=c.image_name), image_ref=c.image_ref,
            reason=c.reason, message=c.message,
            labels=c.config.labels, annotations=c.config.annotations,
            log_path=self._log_path(c))

    def _log_path(self, container: FakeContainer) -> str:
        """As containerd: under the sandbox's log directory when it has one."""
        sandbox = self.sandboxes.get(container.sandbox_id)
        directory = sandbox.config.log_directory if sandbox is not None else ""
        if not directory or not container.config.log_path:
            return container.config.log_path
        return f"{directory}/{container.config.log_path}"

    async def exec_sync(self, container_id: str, cmd: list[str], *,
                        run_seconds: int = 0) -> api_pb2.ExecSyncResponse:
        self._record("exec_sync", " ".join(cmd))
        code, stdout = self.exec_results.get(tuple(cmd), (0, b""))
        return api_pb2.ExecSyncResponse(stdout=stdout, exit_code=code)

    async def exec(self, request: api_pb2.ExecRequest) -> str:
        return "http://127.0.0.1:0/exec/fake"

    async def attach(self, request: api_pb2.AttachRequest) -> str:
        return "http://127.0.0.1:0/attach/fake"

    async def port_forward(self, request: api_pb2.PortForwardRequest) -> str:
        return "http://127.0.0.1:0/portforward/fake"

    async def list_container_stats(self) -> list[api_pb2.ContainerStats]:
        return []

    async def list_pod_sandbox_stats(self) -> list[api_pb2.PodSandboxStats]:
        return []

    async def update_runtime_config(self, pod_cidr: str) -> None:
        self._record("update_runtime_config", pod_cidr)

    async def reopen_container_log(self, container_id: str) -> None:
        self._record("reopen_container_log", container_id)

    # ImageService.

    async def list_images(self) -> list[api_pb2.Image]:
        return [api_pb2.Image(id=i.id, repo_tags=i.tags, size=i.size, pinned=i.pinned)
                for i in self.images.values()]

    async def image_status(self, image: str) -> api_pb2.Image | None:
        found = self.images.get(image)
        return api_pb2.Image(id=found.id, repo_tags=found.tags) if found else None

    async def pull_image(self, image: str, *, auth: api_pb2.AuthConfig | None = None,
                         sandbox_config: api_pb2.PodSandboxConfig | None = None) -> str:
        self._record("pull_image", image)
        return self.images[image].id if image in self.images else self.add_image(image)

    async def remove_image(self, image: str) -> None:
        """By name or id, as containerd."""
        self._record("remove_image", image)
        for name in [n for n, i in self.images.items() if image in (i.id, *i.tags)]:
            del self.images[name]

    async def image_fs_info(self) -> api_pb2.ImageFsInfoResponse:
        return api_pb2.ImageFsInfoResponse()
