"""The REST client every component talks to the cluster with: JSON over HTTPS, from a kubeconfig.

Mirrors client-go's `rest` package (rest.Config, RESTClient, the request's error decoding) and
`tools/clientcmd` for the kubeconfig's current context, kept to what components need: verbs on
paths, the server's Status as a `kajitori.api.errors.StatusError` (the class the apiserver
raises, as client-go and the apiserver share apimachinery's errors), watch streams, and a
`ListWatch` that is the informer's HTTP `ListerWatcher`. Retries are the caller's (the reflector,
the event recorder); every request has a timeout, except a watch, which the server ends after
its `timeoutSeconds`.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import aiohttp
import orjson
import yaml

from kajitori.api import errors

Obj = dict[str, Any]

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"

DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Config:
    """Where the server is and who we are (client-go's rest.Config)."""

    server: str
    """Base URL, `https://host:port`."""
    ssl_context: ssl.SSLContext | None = None
    """Trusts the cluster CA and carries the client certificate; None for plain HTTP (tests)."""
    token: str | None = None
    """Bearer token (ServiceAccounts), sent when set."""
    timeout: float = DEFAULT_TIMEOUT
    """Seconds a request other than a watch may take in all (client-go's Timeout)."""


def load_kubeconfig(path: str | Path, *, timeout: float = DEFAULT_TIMEOUT) -> Config:
    """The Config of the kubeconfig's current context: server, CA, client certificate and key
    (inline `-data` or file paths) and token. Blocking file I/O: call it off the loop
    (`asyncio.to_thread`) in a running component. Raises ValueError for a kubeconfig without
    a usable current context."""
    path = Path(path)
    doc = yaml.safe_load(path.read_text())
    context_name = doc.get("current-context")
    context = _named(doc.get("contexts"), context_name, "context")
    cluster = _named(doc.get("clusters"), context.get("cluster"), "cluster")
    user = _named(doc.get("users"), context.get("user"), "user")
    server = cluster.get("server")
    if not server:
        raise ValueError(f"{path}: cluster {context.get('cluster')!r} has no server")
    ssl_context = None
    if server.startswith("https://"):
        ssl_context = ssl.create_default_context(cadata=_pem(
            cluster, "certificate-authority", base=path.parent))
        if cluster.get("insecure-skip-tls-verify"):
            ssl_context.check_hostname = False
            ssl_context.verify_mode = ssl.CERT_NONE
        if user.get("client-certificate-data") or user.get("client-certificate"):
            _load_client_certificate(ssl_context, _pem(user, "client-certificate",
                                                       base=path.parent),
                                     _pem(user, "client-key", base=path.parent))
    return Config(server=server.rstrip("/"), ssl_context=ssl_context, token=user.get("token"),
                  timeout=timeout)


def cluster_ca(path: str | Path) -> str:
    """The CA bundle (PEM) of the kubeconfig's current cluster, inline or in a file beside
    it; "" when it names none (a plain-HTTP test server). What components publish or trust as
    the cluster CA (the root CA publisher, the kubelet's client CA). Blocking file I/O. Raises
    ValueError for a kubeconfig without a usable current context."""
    path = Path(path)
    doc = yaml.safe_load(path.read_text()) or {}
    context = _named(doc.get("contexts"), doc.get("current-context"), "context")
    cluster = _named(doc.get("clusters"), context.get("cluster"), "cluster")
    if not (cluster.get("certificate-authority-data") or cluster.get("certificate-authority")):
        return ""
    return _pem(cluster, "certificate-authority", base=path.parent)


def _named(entries: list[Obj] | None, name: str | None, what: str) -> Obj:
    for entry in entries or []:
        if entry.get("name") == name:
            return entry.get(what) or {}
    raise ValueError(f"kubeconfig has no {what} named {name!r}")


def _pem(section: Obj, field: str, *, base: Path) -> str:
    """`<field>-data` (base64) or the file `<field>` names, relative to the kubeconfig."""
    if section.get(f"{field}-data"):
        return base64.b64decode(section[f"{field}-data"]).decode("ascii")
    if section.get(field):
        return (base / section[field]).read_text()
    raise ValueError(f"kubeconfig lacks {field}")


def _load_client_certificate(context: ssl.SSLContext, cert_pem: str, key_pem: str) -> None:
    # The ssl module loads certificates only from files: a private file, removed at once.
    fd, name = tempfile.mkstemp(prefix="kajitori-client-", suffix=".pem")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(cert_pem + "\n" + key_pem)
        context.load_cert_chain(name)
    finally:
        os.unlink(name)


def resource_path(group: str, version: str, plural: str, *, namespace: str = "",
                  name: str = "", subresource: str = "") -> str:
    """`/api/v1/namespaces/ns/pods/x/status`-style path of a resource, an object or its
    subresource; an empty namespace addresses all namespaces (or a cluster-scoped resource)."""
    path = f"/apis/{group}/{version}" if group else f"/api/{version}"
    if namespace:
        path += f"/namespaces/{namespace}"
    path += f"/{plural}"
    if name:
        path += f"/{name}"
        if subresource:
            path += f"/{subresource}"
    return path


def _status_error(code: int, body: bytes, headers: Any) -> errors.StatusError:
    """The server's Status as a StatusError; a body that is no Status (a proxy's error page)
    becomes one with the code and the text, as client-go's `newUnstructuredResponseError`."""
    retry = {"Retry-After": headers["Retry-After"]} if "Retry-After" in headers else None
    try:
        status = orjson.loads(body)
    except orjson.JSONDecodeError:
        status = None
    if isinstance(status, dict) and status.get("kind") == "Status":
        return errors.StatusError(status, headers=retry)
    text = body.decode("utf-8", "replace").strip()
    return errors.StatusError(errors.status(code, "", text or f"the server returned {code}"),
                              headers=retry)


class RESTClient:
    """HTTP verbs on API paths for one Config. Open with `async with RESTClient(config)`;
    every method raises `StatusError` for a non-2xx answer and aiohttp/OSError/TimeoutError
    for transport failures. Safe for concurrent use by many tasks of one loop."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        headers = {"Accept": JSON, "User-Agent": "kajitori"}
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        self._session = aiohttp.ClientSession(
            base_url=self.config.server, headers=headers,
            connector=aiohttp.TCPConnector(ssl=self.config.ssl_context or False))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("RESTClient used outside `async with`")
        return self._session

    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                      body: Any = None, content_type: str = JSON) -> Obj:
        """One request; the decoded JSON answer (an object, or a Status for some deletes)."""
        data = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": content_type} if data is not None else None
        timeout = aiohttp.ClientTimeout(total=self.config.timeout)
        async with self._open().request(method, path, params=params, data=data,
                                        headers=headers, timeout=timeout) as resp:
            raw = await resp.read()
            if resp.status >= 300:
                raise _status_error(resp.status, raw, resp.headers)
            result: Obj = orjson.loads(raw) if raw else {}
            return result

    async def get(self, path: str, *, params: dict[str, str] | None = None) -> Obj:
        return await self.request("GET", path, params=params)

    async def create(self, path: str, obj: Obj) -> Obj:
        """POST `obj` to the collection at `path`."""
        return await self.request("POST", path, body=obj)

    async def update(self, path: str, obj: Obj) -> Obj:
        return await self.request("PUT", path, body=obj)

    async def patch(self, path: str, patch: Any, *, patch_type: str = MERGE_PATCH) -> Obj:
        return await self.request("PATCH", path, body=patch, content_type=patch_type)

    async def delete(self, path: str, *, options: Obj | None = None) -> Obj:
        return await self.request("DELETE", path, body=options)

    async def watch(self, path: str, *, params: dict[str, str] | None = None
                    ) -> AsyncGenerator[Obj, None]:
        """The events of a watch (`{"type", "object"}` dicts) until the server ends it. No
        total timeout: pass `timeoutSeconds` in `params` and the server closes the stream;
        a connection silent for that long plus `config.timeout` is given up on."""
        query = {**(params or {}), "watch": "true"}
        seconds = float(query.get("timeoutSeconds") or 0)
        timeout = aiohttp.ClientTimeout(total=None, connect=self.config.timeout,
                                        sock_read=seconds + self.config.timeout
                                        if seconds else None)
        async with self._open().get(path, params=query, timeout=timeout) as resp:
            if resp.status >= 300:
                raise _status_error(resp.status, await resp.read(), resp.headers)
            async for line in _lines(resp.content):
                yield orjson.loads(line)


async def _lines(stream: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """Newline-separated JSON documents, however the chunks split them."""
    while True:
        line = await stream.readline()
        if not line:
            return
        if line.strip():
            yield line


@dataclass
class ListWatch:
    """The informer's `ListerWatcher` over HTTP (client-go's
    `cache.NewFilteredListWatchFromClient`): one resource, optionally one namespace and
    selectors."""

    client: RESTClient
    group: str
    version: str
    plural: str
    namespace: str = ""
    label_selector: str = ""
    field_selector: str = ""

    def _params(self) -> dict[str, str]:
        params = {}
        if self.label_selector:
            params["labelSelector"] = self.label_selector
        if self.field_selector:
            params["fieldSelector"] = self.field_selector
        return params

    def _path(self) -> str:
        return resource_path(self.group, self.version, self.plural, namespace=self.namespace)

    async def list(self, *, resource_version: str) -> Obj:
        params = self._params()
        if resource_version:
            params["resourceVersion"] = resource_version
        return await self.client.get(self._path(), params=params)

    async def watch(self, *, resource_version: str, timeout_seconds: int
                    ) -> AsyncGenerator[Obj, None]:
        params = {**self._params(), "allowWatchBookmarks": "true",
                  "timeoutSeconds": str(timeout_seconds)}
        if resource_version:
            params["resourceVersion"] = resource_version
        events = self.client.watch(self._path(), params=params)
        try:
            async for event in events:
                yield event
        finally:
            await events.aclose()  # closes the response now, not when garbage-collected
