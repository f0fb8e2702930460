"""Watch: a chunked stream of JSON watch events.

Mirrors staging/src/k8s.io/apiserver/pkg/endpoints/handlers/watch.go. `resourceVersion` unset or
"0" starts with a synthetic ADDED for every current object, then changes; `N` streams the changes
after N; a compacted N gets one ERROR event (410 Expired) and the stream ends, which makes
informers relist. `timeoutSeconds` ends the stream cleanly (default: 30 to 60 minutes, as
upstream's MinRequestTimeout); `allowWatchBookmarks` adds BOOKMARK events with the newest
revision. Table watches carry column definitions in their first event only.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from kajitori.api import errors, meta, printers
from kajitori.apiserver import registry as registry_
from kajitori.apiserver import responses
from kajitori.apiserver.handlers.scope import TRUE_VALUES, RequestScope
from kajitori.storage import errors as storage_errors
from kajitori.storage.interface import WatchEvent

Obj = dict[str, Any]

MIN_REQUEST_TIMEOUT = 1800
BOOKMARK_INTERVAL = 60.0
QUEUE_SIZE = 1000


class _Encoder:
    """Renders events as the client asked: objects, or one-row Tables (headers once)."""

    def __init__(self, scope: RequestScope) -> None:
        self._scope = scope
        self._rendering = scope.rendering
        self._headers_sent = False

    def event(self, type_: str, obj: Obj) -> bytes:
        rendering = self._rendering
        res = self._scope.registry.resource
        if rendering.as_ == "Table" and type_ != "BOOKMARK":
            table = printers.table(group=res.group, resource=res.plural, objects=[obj],
                                   include_object=self._scope.include_object,
                                   now=self._scope.now,
                                   list_metadata={"resourceVersion": meta.resource_version(obj)},
                                   with_headers=not self._headers_sent)
            table["apiVersion"] = f"meta.k8s.io/{rendering.version}"
            self._headers_sent = True
            obj = table
        elif rendering.as_ in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            obj = responses.partial_metadata(obj, rendering.version)
        return orjson.dumps({"type": type_, "object": obj}) + b"\n"


def _bookmark(scope: RequestScope, revision: int) -> Obj:
    res = scope.registry.resource
    return {"kind": res.kind, "apiVersion": res.api_version,
            "metadata": {"resourceVersion": str(revision)}}


async def watch(scope: RequestScope) -> web.StreamResponse:
    options = scope.list_options()
    reg = scope.registry
    namespace = scope.info.namespace
    predicate = reg.predicate(options)
    if scope.info.name:  # /watch/namespaces/x/pods/name: a watch of one object
        predicate = _and_name(predicate, scope.info.name)
    # 0 means unset, as upstream reads it: the default is 30 to 60 minutes.
    timeout = scope.int_param("timeoutSeconds") or \
        int(MIN_REQUEST_TIMEOUT * (1 + random.random()))
    bookmarks = scope.query.get("allowWatchBookmarks") in TRUE_VALUES
    rv = options.resource_version

    initial: list[Obj] = []
    if rv in ("", "0"):
        listed = await reg.list(namespace, registry_.ListOptions(
            label_selector=options.label_selector, field_selector=options.field_selector))
        initial = [o for o in listed["items"] if predicate is None or predicate(o)]
        since = int(listed["metadata"]["resourceVersion"])
    else:
        try:
            since = int(rv)
        except ValueError as exc:
            raise errors.bad_request(f"invalid resource version: {rv}") from exc

    response = web.StreamResponse(headers={"Content-Type": responses.JSON_CONTENT_TYPE})
    response.enable_chunked_encoding()
    await response.prepare(scope.http)
    encoder = _Encoder(scope)
    for obj in initial:
        await response.write(encoder.event("ADDED", obj))

    queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE_SIZE)

    async def pump() -> None:
        try:
            async for event in reg.watch(namespace, since=since):
                await queue.put(event)
        except storage_errors.Compacted as exc:
            await queue.put(errors.resource_expired(
                f"too old resource version: {exc.requested} ({exc.oldest})"))
            return
        except errors.StatusError as exc:
            await queue.put(exc)
            return
        await queue.put(None)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    next_bookmark = loop.time() + BOOKMARK_INTERVAL
    last_revision = since
    pump_task = asyncio.create_task(pump())
    try:
        while True:
            now = loop.time()
            if now >= deadline:
                break
            wait = deadline - now
            if bookmarks:
                wait = min(wait, max(next_bookmark - now, 0))
            try:
                # Under load the queue is rarely empty: skip wait_for's timer and task then.
                item = queue.get_nowait() if not queue.empty() else \
                    await asyncio.wait_for(queue.get(), timeout=wait)
            except TimeoutError:
                if bookmarks and loop.time() >= next_bookmark:
                    revision = max(last_revision, reg.store.current_revision())
                    await response.write(encoder.event("BOOKMARK", _bookmark(scope, revision)))
                    next_bookmark = loop.time() + BOOKMARK_INTERVAL
                continue
            if item is None:
                break
            if isinstance(item, errors.StatusError):
                await response.write(encoder.event("ERROR", item.status))
                break
            last_revision = item.revision
            type_ = _filtered_type(item, predicate)
            if type_ is not None:
                await response.write(encoder.event(type_, reg.served(item.object)))
    except (ConnectionResetError, ConnectionError):
        pass  # the client went away
    finally:
        pump_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump_task
    with contextlib.suppress(ConnectionResetError, ConnectionError):
        await response.write_eof()
    return response


def _filtered_type(event: WatchEvent, predicate: Callable[[Obj], bool] | None) -> str | None:
    """The event type a filtered watcher sees, as upstream's cacher decides it: an object that
    starts matching is ADDED, one that stops is DELETED, one that never matched is not sent."""
    if predicate is None:
        return event.type
    matches = predicate(event.object)
    if event.type != "MODIFIED":
        return event.type if matches else None
    matched = predicate(event.prev_object) if event.prev_object is not None else matches
    if matches:
        return "MODIFIED" if matched else "ADDED"
    return "DELETED" if matched else None


def _and_name(predicate: Callable[[Obj], bool] | None, name: str) -> Callable[[Obj], bool]:
    def matches(obj: Obj) -> bool:
        return meta.name(obj) == name and (predicate is None or predicate(obj))

    return matches
