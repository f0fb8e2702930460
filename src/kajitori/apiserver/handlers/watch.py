"""Watch: a chunked stream of JSON watch events.

Mirrors staging/src/k8s.io/apiserver/pkg/endpoints/handlers/watch.go. `resourceVersion` unset or
"0" starts with a synthetic ADDED for every current object, then changes; `N` streams the changes
after N; a compacted N gets one ERROR event (410 Expired) and the stream ends, which makes
informers relist. `timeoutSeconds` ends the stream cleanly (default: 30 to 60 minutes, as
upstream's MinRequestTimeout); `allowWatchBookmarks` adds BOOKMARK events with the newest
revision. Table watches carry column definitions in their first event only.

`sendInitialEvents` (upstream's WatchList, on by default in v1.33) needs
`resourceVersionMatch=NotOlderThan`: `true` sends a synthetic ADDED for every object of a state
not older than `resourceVersion` ("" is the newest), then, when bookmarks are allowed, a
BOOKMARK annotated `k8s.io/initial-events-end: "true"` at that state's revision, then changes;
`false` sends only the changes after `resourceVersion` (after the newest revision when unset or
"0"). Other combinations are refused with upstream's 422 (`validateWatchOptions` of
staging/src/k8s.io/apimachinery/pkg/apis/meta/internalversion/validation/validation.go).
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

INITIAL_EVENTS_END_ANNOTATION = "k8s.io/initial-events-end"
NOT_OLDER_THAN = "NotOlderThan"
LIST_OPTIONS_KIND = "ListOptions"
META_GROUP = "meta.k8s.io"


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
                                   with_headers=not self._headers_sent,
                                   printer=self._scope.printer)
            table["apiVersion"] = f"meta.k8s.io/{rendering.version}"
            self._headers_sent = True
            obj = table
        elif rendering.as_ in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            obj = responses.partial_metadata(obj, rendering.version)
        return orjson.dumps({"type": type_, "object": obj}) + b"\n"


def _bookmark(scope: RequestScope, revision: int, *, initial_events_end: bool = False) -> Obj:
    res = scope.registry.resource
    md: Obj = {"resourceVersion": str(revision)}
    if initial_events_end:
        md["annotations"] = {INITIAL_EVENTS_END_ANNOTATION: "true"}
    return {"kind": res.kind, "apiVersion": res.api_version, "metadata": md}


def _send_initial_events(scope: RequestScope) -> bool | None:
    """The `sendInitialEvents` parameter: None when absent (the legacy semantics)."""
    value = scope.query.get("sendInitialEvents")
    if value is None:
        return None
    return value in TRUE_VALUES


def validate_watch_options(options: registry_.ListOptions, send_initial: bool | None) -> None:
    """Upstream's validateWatchOptions (WatchList enabled): raises the 422 `ListOptions.meta
    .k8s.io "" is invalid: ...` carrying every problem."""
    problems: list[errors.FieldError] = []
    match = options.resource_version_match
    if send_initial is not None and match != NOT_OLDER_THAN:
        problems.append(errors.FieldError.forbidden(
            "resourceVersionMatch",
            f"sendInitialEvents requires setting resourceVersionMatch to {NOT_OLDER_THAN}"))
    if match:
        if send_initial is None:
            problems.append(errors.FieldError.forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden for watch unless sendInitialEvents is "
                "provided"))
        if match != NOT_OLDER_THAN:
            problems.append(errors.FieldError.not_supported(
                "resourceVersionMatch", match, [NOT_OLDER_THAN]))
        if options.continue_token:
            problems.append(errors.FieldError.forbidden(
                "resourceVersionMatch", "resourceVersionMatch is forbidden when continue is "
                "provided"))
    if problems:
        raise errors.invalid(LIST_OPTIONS_KIND, "", problems, group=META_GROUP)


def _parse_revision(rv: str) -> int:
    try:
        return int(rv)
    except ValueError as exc:
        raise errors.bad_request(f"invalid resource version: {rv}") from exc


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
    send_initial = _send_initial_events(scope)
    validate_watch_options(options, send_initial)

    initial: list[Obj] = []
    if send_initial or (send_initial is None and rv in ("", "0")):
        # A state not older than rv: the store's current one (a future rv is 504, as the
        # registry's list answers it).
        listed = await reg.list(namespace, registry_.ListOptions(
            label_selector=options.label_selector, field_selector=options.field_selector,
            resource_version="" if rv == "0" else rv,
            resource_version_match=NOT_OLDER_THAN if send_initial and rv not in ("", "0")
            else ""))
        initial = [o for o in listed["items"] if predicate is None or predicate(o)]
        since = int(listed["metadata"]["resourceVersion"])
    elif send_initial is False and rv in ("", "0"):
        since = reg.store.current_revision()
    else:
        since = _parse_revision(rv)

    response = web.StreamResponse(headers={"Content-Type": responses.JSON_CONTENT_TYPE})
    response.enable_chunked_encoding()
    await response.prepare(scope.http)
    encoder = _Encoder(scope)
    for obj in initial:
        await response.write(encoder.event("ADDED", obj))
    if send_initial and bookmarks:
        # client-go's reflector knows its initial list is complete when it sees this.
        await response.write(encoder.event(
            "BOOKMARK", _bookmark(scope, since, initial_events_end=True)))

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
