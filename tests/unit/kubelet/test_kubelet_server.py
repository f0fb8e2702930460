"""The kubelet's HTTPS API (`kajitori.kubelet.server`) for kubectl's plain SPDY upgrade: exec,
attach and port-forward proxied to the runtime's streaming server unchanged, and refused as
upstream's kubelet refuses them (a 500 with the error's text, which kubectl prints after
`unable to upgrade connection: `). The runtime's streaming server is a raw stand-in that
answers 101 with the protocol it picked and echoes in capitals."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from cri_api.v1 import api_pb2

from kajitori.kubelet import server
from kajitori.pki import pkiutil

Obj = dict[str, Any]
POD: Obj = {"metadata": {"name": "p", "namespace": "default", "uid": "uid-1"},
            "spec": {"containers": [{"name": "c"}]}}
PICKED = b"v4.channel.k8s.io"


class Host:
    def get_pod_by_name(self, namespace: str, name: str) -> Obj | None:
        return POD if (namespace, name) == ("default", "p") else None

    def get_pods(self) -> list[Obj]:
        return [POD]


class StreamingRuntime:
    """The CRI calls the streams make: container `c` runs unless `running` is false; every
    streaming URL leads to `url`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.running = True
        self.requests: list[str] = []

    async def list_containers(self, *, sandbox_id: str = "",
                              labels: dict[str, str] | None = None) -> list[api_pb2.Container]:
        state = api_pb2.CONTAINER_RUNNING if self.running else api_pb2.CONTAINER_EXITED
        return [api_pb2.Container(id="c-1", state=state)]

    async def list_pod_sandboxes(self, *, labels: dict[str, str] | None = None
                                 ) -> list[api_pb2.PodSandbox]:
        return [api_pb2.PodSandbox(id="sb-1", state=api_pb2.SANDBOX_READY)]

    async def exec(self, request: api_pb2.ExecRequest) -> str:
        self.requests.append(f"exec {' '.join(request.cmd)} stdin={request.stdin}")
        return f"{self.url}/exec/token"

    async def attach(self, request: api_pb2.AttachRequest) -> str:
        self.requests.append(f"attach tty={request.tty}")
        return f"{self.url}/attach/token"

    async def port_forward(self, request: api_pb2.PortForwardRequest) -> str:
        self.requests.append(f"portforward {request.pod_sandbox_id}")
        return f"{self.url}/portforward/token"


@contextlib.asynccontextmanager
async def streaming_server() -> AsyncIterator[tuple[list[bytes], str]]:
    heads: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                     b"Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: " + PICKED + b"\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                writer.write(chunk.upper())
                await writer.drain()
        writer.close()

    stand_in = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield heads, f"http://127.0.0.1:{stand_in.sockets[0].getsockname()[1]}"
    finally:
        stand_in.close()


@contextlib.asynccontextmanager
async def kubelet(tmp_path: Path, runtime_service: StreamingRuntime
                  ) -> AsyncIterator[tuple[int, ssl.SSLContext]]:
    """A started KubeletServer and a client context holding a certificate its CA signed."""
    now = datetime.datetime.now(datetime.UTC)
    ca = pkiutil.new_self_signed_ca("kubernetes", now=now)
    client = pkiutil.new_signed_cert(ca, "kube-apiserver-kubelet-client",
                                     usages=[pkiutil.CLIENT_AUTH], now=now)
    cert, key = tmp_path / "client.crt", tmp_path / "client.key"
    pkiutil.write_cert_and_key(client, cert_path=cert, key_path=key)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(cert, key)
    api = server.KubeletServer(Host(), runtime_service,  # type: ignore[arg-type]
                               root_dir=tmp_path / "kubelet", node_name="n1",
                               node_ip="127.0.0.1", client_ca=pkiutil.cert_pem(ca.cert),
                               address="127.0.0.1", port=0)
    async with api.running():
        yield api.port, context


async def spdy_request(port: int, context: ssl.SSLContext, path: str
                       ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, list[str]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    writer.write((f"POST {path} HTTP/1.1\r\nHost: n1\r\nConnection: Upgrade\r\n"
                  "Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v5.channel.k8s.io\r\n"
                  "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
                  "Content-Length: 0\r\n\r\n").encode())
    head = await reader.readuntil(b"\r\n\r\n")
    return reader, writer, head.decode().split("\r\n")


async def test_exec_attach_and_port_forward_are_proxied_to_the_runtime(tmp_path: Path) -> None:
    async with streaming_server() as (heads, url):
        cri = StreamingRuntime(url)
        async with kubelet(tmp_path, cri) as (port, context):
            for path in ("/exec/default/p/c?command=cat&command=-n&stdin=1&stdout=1",
                         "/attach/default/p/c?stdin=1&stdout=1&tty=1",
                         "/portForward/default/p"):
                reader, writer, head = await spdy_request(port, context, path)
                assert head[0] == "HTTP/1.1 101 Switching Protocols"
                assert "X-Stream-Protocol-Version: v4.channel.k8s.io" in head
                writer.write(b"\x80\x03\x00\x01frames")
                assert await reader.readexactly(10) == b"\x80\x03\x00\x01FRAMES"
                writer.close()
    assert cri.requests == ["exec cat -n stdin=True", "attach tty=True",
                            "portforward sb-1"]
    assert [h.split(b"\r\n")[0] for h in heads] == [
        b"POST /exec/token HTTP/1.1", b"POST /attach/token HTTP/1.1",
        b"POST /portforward/token HTTP/1.1"]
    assert all(b"X-Stream-Protocol-Version: v5.channel.k8s.io\r\n"
               b"X-Stream-Protocol-Version: v4.channel.k8s.io\r\n" in h for h in heads)


async def test_a_container_not_running_is_refused_as_upstream(tmp_path: Path) -> None:
    async with streaming_server() as (heads, url):
        cri = StreamingRuntime(url)
        cri.running = False
        async with kubelet(tmp_path, cri) as (port, context):
            reader, writer, head = await spdy_request(
                port, context, "/exec/default/p/c?command=ls&stdout=1")
            [length] = [int(h.split(": ")[1]) for h in head if h.startswith("Content-Length")]
            body = await reader.readexactly(length)
            writer.close()
    assert head[0] == "HTTP/1.1 500 Internal Server Error"
    assert body == b'container not found ("c")'
    assert heads == []


async def test_an_unreachable_streaming_server_is_a_500(tmp_path: Path) -> None:
    async with streaming_server() as (_, url):
        pass  # closed: nothing listens on its port any more
    async with kubelet(tmp_path, StreamingRuntime(url)) as (port, context):
        reader, writer, head = await spdy_request(port, context, "/portForward/default/p")
        [length] = [int(h.split(": ")[1]) for h in head if h.startswith("Content-Length")]
        body = await reader.readexactly(length)
        writer.close()
    assert head[0] == "HTTP/1.1 500 Internal Server Error"
    assert body.startswith(b"error dialing backend: ")
