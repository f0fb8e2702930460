"""Logs and exec against a real containerd: the kubelet's HTTPS API (`kajitori.kubelet.server`)
serving `/containerLogs` and `/exec` (kubectl's v5 WebSocket bridged to containerd's SPDY
streaming server), called as the apiserver calls it, with a client certificate of the cluster
CA; and the real kubectl through a real (in-process) apiserver down to the same kubelet."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import os
import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import noderuntime
import pytest
from cri_api.v1 import api_pb2

from kajitori.apiserver import server as apiserver
from kajitori.apiserver.handlers import nodeproxy
from kajitori.auth import authenticator
from kajitori.client import rest
from kajitori.kubelet import imagebuild, runtime, server
from kajitori.pki import certs, kubeconfig, pkiutil, secureserving
from kajitori.storage.sqlite import SQLiteStore

pytestmark = pytest.mark.node

NAMESPACE = "default"
KUBECTL = str(Path(sys.executable).parent / "kubectl")
SERVE_HTTP = ("echo from-the-log; mkdir /www; echo pf-ok > /www/index.html; "
              "httpd -p 8080 -h /www; sleep 3600")
V5 = "v5.channel.k8s.io"


class Host:
    """The kubelet's pods as the server asks for them: set by the test."""

    def __init__(self) -> None:
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}

    def get_pod_by_name(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.pods.get((namespace, name))

    def get_pods(self) -> list[dict[str, Any]]:
        return list(self.pods.values())


def _pki(directory: Path) -> tuple[bytes, Path, Path]:
    """A cluster CA and a client certificate it signed: (ca_pem, cert_path, key_path)."""
    now = datetime.datetime.now(datetime.UTC)
    ca = pkiutil.new_self_signed_ca("kubernetes", now=now)
    client = pkiutil.new_signed_cert(ca, "kube-apiserver-kubelet-client",
                                     usages=[pkiutil.CLIENT_AUTH], now=now)
    cert_path, key_path = directory / "client.crt", directory / "client.key"
    pkiutil.write_cert_and_key(client, cert_path=cert_path, key_path=key_path)
    return pkiutil.cert_pem(ca.cert), cert_path, key_path


async def _start_pod(node: noderuntime.NodeRuntime, host: Host, name: str,
                     command: list[str], *, uid: str = "") -> str:
    """A pod whose one container `c` runs `command`, known to `host` as running; `uid` is the
    API pod's (empty: a made-up one)."""
    config = node.sandbox_config(name)
    if uid:
        config.metadata.uid = uid
        config.labels[runtime.POD_UID_LABEL] = uid
    sandbox_id = await node.runtime.run_pod_sandbox(config)
    uid = config.metadata.uid
    container_id = await node.runtime.create_container(sandbox_id, api_pb2.ContainerConfig(
        metadata=api_pb2.ContainerMetadata(name="c"),
        image=api_pb2.ImageSpec(image=imagebuild.BUSYBOX_IMAGE), command=command,
        log_path="c/0.log", stdin=True,
        labels={runtime.CONTAINER_NAME_LABEL: "c", runtime.POD_UID_LABEL: uid,
                runtime.POD_NAME_LABEL: name, runtime.POD_NAMESPACE_LABEL: NAMESPACE}),
        config)
    await node.runtime.start_container(container_id)
    host.pods[(NAMESPACE, name)] = {
        "metadata": {"name": name, "namespace": NAMESPACE, "uid": uid},
        "spec": {"containers": [{"name": "c"}]},
        "status": {"containerStatuses": [{
            "name": "c", "containerID": runtime.CONTAINER_ID_PREFIX + container_id,
            "state": {"running": {}}}]}}
    return container_id


@contextlib.asynccontextmanager
async def open_store(directory: Path) -> AsyncIterator[SQLiteStore]:
    store = await SQLiteStore.open(str(directory / "state.db"), synchronous="OFF")
    async with store:
        yield store


@contextlib.asynccontextmanager
async def kubelet_api(node: noderuntime.NodeRuntime, tmp_path: Path
                      ) -> AsyncIterator[tuple[Host, aiohttp.ClientSession, str]]:
    """A started KubeletServer on a free port, and a session holding the client certificate;
    yields (host, session, base URL)."""
    host = Host()
    ca_pem, cert, key = _pki(tmp_path)
    api = server.KubeletServer(host, node.runtime, root_dir=tmp_path / "kubelet",
                               node_name="kjt-node", node_ip="127.0.0.1", client_ca=ca_pem,
                               address="127.0.0.1", port=0)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(cert, key)
    async with api.running(), aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context)) as session:
        yield host, session, f"https://127.0.0.1:{api.port}"


async def _exec(session: aiohttp.ClientSession, url: str, *, stdin: bytes | None = None,
                tty: bool = False) -> tuple[bytes, bytes, dict[str, Any], int | None]:
    """Run one exec as kubectl does: (stdout, stderr, status, close code)."""
    out, err = b"", b""
    status: dict[str, Any] = {}
    async with session.ws_connect(url, protocols=(V5,)) as ws:
        assert ws.protocol == V5
        if tty:
            await ws.send_bytes(b"\x04" + b'{"Width":100,"Height":30}')
        if stdin is not None:
            await ws.send_bytes(b"\x00" + stdin)
            await ws.send_bytes(bytes([255, 0]))
        async for msg in ws:
            assert msg.type == aiohttp.WSMsgType.BINARY
            channel, payload = msg.data[0], msg.data[1:]
            if channel == 1:
                out += payload
            elif channel == 2:
                err += payload
            elif channel == 3:
                status = json.loads(payload)
        return out, err, status, ws.close_code


async def test_exec_exit_code_comes_back(node: noderuntime.NodeRuntime, tmp_path: Path) -> None:
    async with kubelet_api(node, tmp_path) as (host, session, base):
        await _start_pod(node, host, "ex", ["sleep", "3600"])
        out, err, status, code = await _exec(
            session, f"{base}/exec/default/ex/c?command=sh&command=-c&command=echo+out;"
                     "echo+err+>%262;exit+3&stdout=1&stderr=1")
        assert (out, err, code) == (b"out\n", b"err\n", 1000)
        assert status["status"] == "Failure"
        assert status["reason"] == "NonZeroExitCode"
        assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]


async def test_exec_stdin_close_ends_cat(node: noderuntime.NodeRuntime, tmp_path: Path) -> None:
    async with kubelet_api(node, tmp_path) as (host, session, base):
        await _start_pod(node, host, "cat", ["sleep", "3600"])
        out, _, status, code = await _exec(
            session, f"{base}/exec/default/cat/c?command=cat&stdin=1&stdout=1&stderr=1",
            stdin=b"hello-stdin\n")
        assert (out, status, code) == (b"hello-stdin\n", {"metadata": {}, "status": "Success"},
                                       1000)


async def test_exec_tty_gets_the_size(node: noderuntime.NodeRuntime, tmp_path: Path) -> None:
    async with kubelet_api(node, tmp_path) as (host, session, base):
        await _start_pod(node, host, "tty", ["sleep", "3600"])
        out, _, status, _ = await _exec(
            session, f"{base}/exec/default/tty/c?command=sh&command=-c&command=sleep+0.5;"
                     "stty+size&stdin=1&stdout=1&tty=1", tty=True)
        assert status["status"] == "Success"
        assert out.strip() == b"30 100"


async def test_exec_in_a_missing_container_reports_it(node: noderuntime.NodeRuntime,
                                                      tmp_path: Path) -> None:
    async with kubelet_api(node, tmp_path) as (host, session, base):
        await _start_pod(node, host, "nox", ["sleep", "3600"])
        host.pods[(NAMESPACE, "nox")]["metadata"]["uid"] = "other"
        _, _, status, _ = await _exec(session, f"{base}/exec/default/nox/c?command=true&stdout=1")
        assert status["message"] == 'container not found ("c")'


async def test_container_logs(node: noderuntime.NodeRuntime, tmp_path: Path) -> None:
    async with kubelet_api(node, tmp_path) as (host, session, base):
        container_id = await _start_pod(node, host, "lp", ["sh", "-c", "echo one; echo two >&2"])
        await node.wait_exited(container_id)
        async with session.get(f"{base}/containerLogs/default/lp/c") as resp:
            assert resp.status == 200
            assert await resp.read() == b"one\ntwo\n"
        async with session.get(f"{base}/containerLogs/default/lp/c?tailLines=1&timestamps=true"
                               ) as resp:
            line = await resp.read()
            assert line.endswith(b"Z two\n")
        async with session.get(f"{base}/containerLogs/default/lp/c?previous=true") as resp:
            assert resp.status == 400
            assert await resp.text() == 'previous terminated container "c" in pod "lp" not found'


async def test_follow_ends_when_the_container_exits(node: noderuntime.NodeRuntime,
                                                    tmp_path: Path) -> None:
    async with kubelet_api(node, tmp_path) as (host, session, base):
        await _start_pod(node, host, "fol", ["sh", "-c", "echo a; sleep 1; echo b"])
        async with session.get(f"{base}/containerLogs/default/fol/c?follow=true") as resp:
            assert await resp.read() == b"a\nb\n"


async def test_requests_without_a_client_certificate_are_refused(
        node: noderuntime.NodeRuntime, tmp_path: Path) -> None:
    async with kubelet_api(node, tmp_path) as (_, _, base):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connector = aiohttp.TCPConnector(ssl=context)
        async with aiohttp.ClientSession(connector=connector) as anonymous, \
                anonymous.get(f"{base}/healthz") as resp:
            assert resp.status == 401


async def _kubectl(kubeconfig: Path, *args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        KUBECTL, f"--kubeconfig={kubeconfig}", *args, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": str(kubeconfig.parent)})
    out, err = await process.communicate(stdin)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_kubectl_logs_and_exec_through_the_apiserver(node: noderuntime.NodeRuntime,
                                                           tmp_path: Path) -> None:
    pki = await asyncio.to_thread(certs.ensure_pki, tmp_path, hostname="localhost")
    host = Host()
    kubelet = server.KubeletServer(host, node.runtime, root_dir=tmp_path / "kubelet",
                                   node_name="kjt-node", node_ip="127.0.0.1",
                                   client_ca=pki.ca_cert.read_bytes(), address="127.0.0.1",
                                   port=0)
    async with open_store(tmp_path) as store:
        api = apiserver.APIServer(
            store=store, ssl_context=secureserving.server_ssl_context(pki), port=0,
            authenticator=authenticator.Authenticator(anonymous=False),
            kubelet_client=nodeproxy.KubeletClient(
                cert_file=pki.apiserver_kubelet_client_cert,
                key_file=pki.apiserver_kubelet_client_key))
        async with kubelet.running(), api.running():
            config = tmp_path / "admin.conf"
            kubeconfig.write_admin_kubeconfig(config, server=f"https://127.0.0.1:{api.port}",
                                              pki=pki)
            rest_config = await asyncio.to_thread(rest.load_kubeconfig, config)
            async with rest.RESTClient(rest_config) as client:
                await client.create("/api/v1/nodes", {
                    "apiVersion": "v1", "kind": "Node", "metadata": {"name": "kjt-node"}})
                await client.patch("/api/v1/nodes/kjt-node/status", {"status": {
                    "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet.port}}}})
                # The ServiceAccount admission wants the namespace's default account.
                await client.create(f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts", {
                    "apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": {"name": "default"}})
                pod = await client.create(f"/api/v1/namespaces/{NAMESPACE}/pods", {
                    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kx"},
                    "spec": {"nodeName": "kjt-node", "containers": [
                        {"name": "c", "image": imagebuild.BUSYBOX_IMAGE}]}})
                # kubectl port-forward wants a Running pod.
                await client.patch(f"/api/v1/namespaces/{NAMESPACE}/pods/kx/status",
                                   {"status": {"phase": "Running"}})
            await _start_pod(node, host, "kx", ["sh", "-c", SERVE_HTTP],
                             uid=pod["metadata"]["uid"])

            code, out, err = await _kubectl(config, "logs", "kx")
            assert (code, out) == (0, "from-the-log\n"), err
            code, out, err = await _kubectl(config, "logs", "kx", "--previous")
            assert code == 1
            assert err.strip() == ('Error from server (BadRequest): previous terminated '
                                   'container "c" in pod "kx" not found')
            code, out, err = await _kubectl(config, "exec", "kx", "--", "sh", "-c",
                                            "echo hi; exit 3")
            assert (code, out, err.strip()) == (3, "hi\n", "command terminated with exit code 3")
            code, out, err = await _kubectl(config, "exec", "-i", "kx", "--", "cat",
                                            stdin=b"through-stdin\n")
            assert (code, out) == (0, "through-stdin\n"), err
            assert await _port_forward_get(config, "kx", 8080) == b"pf-ok\n"


async def _port_forward_get(kubeconfig: Path, pod: str, port: int) -> bytes:
    """`kubectl port-forward pod :port`, then one HTTP GET through it."""
    process = await asyncio.create_subprocess_exec(
        KUBECTL, f"--kubeconfig={kubeconfig}", "port-forward", pod, f":{port}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "HOME": str(kubeconfig.parent)})
    try:
        assert process.stdout is not None
        line = (await process.stdout.readline()).decode()
        # Forwarding from 127.0.0.1:41234 -> 8080
        local = int(line.split("127.0.0.1:")[1].split()[0])
        reader, writer = await asyncio.open_connection("127.0.0.1", local)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        await writer.drain()
        answer = await reader.read()
        writer.close()
        return answer.split(b"\r\n\r\n", 1)[1]
    finally:
        process.terminate()
        await process.wait()


async def test_attach_reaches_the_containers_stdin_and_stdout(node: noderuntime.NodeRuntime,
                                                              tmp_path: Path) -> None:
    async with kubelet_api(node, tmp_path) as (host, session, base):
        await _start_pod(node, host, "att", ["cat"])
        async with session.ws_connect(f"{base}/attach/default/att/c?stdin=1&stdout=1&stderr=1",
                                      protocols=(V5,)) as ws:
            await ws.send_bytes(b"\x00ping\n")
            msg = await ws.receive()
            assert msg.data == b"\x01ping\n"
