"""A fake API server for the client's tests: the HTTP boundary, not the client, is faked.

It keeps objects by path, answers GET, POST (201), PATCH (merge of a flat patch) and watch
the way the apiserver does for these tests' needs, with upstream-shaped Status errors, and
records every request so tests assert what went over the wire.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from kajitori.api import errors
from kajitori.client import rest

Obj = dict[str, Any]


@dataclass
class Request:
    method: str
    path: str
    content_type: str
    body: Any


@dataclass
class FakeAPI:
    objects: dict[str, Obj] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    watch_events: list[Obj] = field(default_factory=list)
    revisions: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = orjson.loads(raw) if raw else None
        self.requests.append(Request(request.method, request.path,
                                     request.headers.get("Content-Type", ""), body))
        if request.query.get("watch") == "true":
            return await self._watch(request)
        try:
            return self._serve(request.method, request.path, body)
        except errors.StatusError as exc:
            return web.json_response(exc.status, status=exc.code)

    def _serve(self, method: str, path: str, body: Any) -> web.Response:
        if method == "POST":
            name = body["metadata"]["name"]
            key = f"{path}/{name}"
            if key in self.objects:
                raise errors.already_exists("events", name)
            stored = {**body, "metadata": {**body["metadata"],
                                           "resourceVersion": str(next(self.revisions))}}
            self.objects[key] = stored
            return web.json_response(stored, status=201)
        if path not in self.objects:
            raise errors.not_found("events", path.rsplit("/", 1)[-1])
        if method == "PATCH":
            stored = {**self.objects[path], **body}
            stored["metadata"] = {**stored["metadata"],
                                  "resourceVersion": str(next(self.revisions))}
            self.objects[path] = stored
        return web.json_response(self.objects[path])

    async def _watch(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for event in self.watch_events:
            await response.write(orjson.dumps(event) + b"\n")
        await response.write_eof()
        return response


@contextlib.asynccontextmanager
async def serving(api: FakeAPI) -> AsyncIterator[rest.RESTClient]:
    """The fake on a free local port, and an open RESTClient talking to it."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", api.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with rest.RESTClient(rest.Config(server=f"http://127.0.0.1:{port}")) as client:
            yield client
    finally:
        await runner.cleanup()
