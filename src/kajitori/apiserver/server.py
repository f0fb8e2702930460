"""The API server: HTTPS, authentication, authorization, routing to handlers.

Mirrors the handler chain of staging/src/k8s.io/apiserver/pkg/server/config.go
(DefaultBuildHandlerChain): authenticate → authorize → route. Health and version paths answer
without credentials, as upstream's system:public-info-viewer allows. One catch-all aiohttp
handler dispatches by `kajitori.apiserver.requestinfo`, so the 60-odd resources need no route
table of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from kajitori.admission import plugins
from kajitori.api import catalogue, errors, events, openapi, openapiv2
from kajitori.apiserver import (
    bootstrap,
    customresources,
    discovery,
    metricsapi,
    metricsscraper,
    registry,
    requestinfo,
    responses,
    serviceallocator,
    version,
)
from kajitori.apiserver.handlers import (
    binding,
    create,
    delete,
    eviction,
    get,
    nodeproxy,
    patch,
    proxy,
    reviews,
    scale,
    tokenrequest,
    update,
    watch,
)
from kajitori.apiserver.handlers.scope import RequestScope
from kajitori.auth import authenticator as authn
from kajitori.auth import authorizer as authz
from kajitori.auth import serviceaccount
from kajitori.auth import x509 as auth_x509
from kajitori.storage import codec
from kajitori.storage import errors as storage_errors
from kajitori.storage.interface import Store

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Handler = Callable[[RequestScope], Awaitable[web.StreamResponse]]

PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})
HEALTH_PATHS = ("/healthz", "/livez", "/readyz")

VERB_HANDLERS: dict[str, Handler] = {
    "get": get.get,
    "list": get.list_,
    "watch": watch.watch,
    "create": create.create,
    "update": update.update,
    "patch": patch.patch,
    "delete": delete.delete,
    "deletecollection": delete.delete_collection,
}
# Subresources served so far; the generic registry serves status and finalize with the main
# verb handlers, the verbs each allows come from discovery.
SERVED_SUBRESOURCES = frozenset({"status", "finalize", "token", "scale", "binding",
                                 "eviction", registry.EPHEMERAL_CONTAINERS,
                                 proxy.SUBRESOURCE, *nodeproxy.SUBRESOURCES})


@dataclass
class APIServer:
    """Serves the API from `store` on an already-configured TLS context.

    Start with `async with server.running(): ...` or `await server.start()` / `stop()`.
    """

    store: Store
    ssl_context: ssl.SSLContext | None
    authenticator: authn.Authenticator
    bind_address: str = "127.0.0.1"
    port: int = 6443
    advertise_address: str = "127.0.0.1"
    # The server's own copy: CustomResourceDefinitions add groups to it.
    catalogue: catalogue.Catalogue = field(default_factory=lambda: catalogue.builtin().copy())
    authorizer: Any = field(default_factory=authz.MastersOnlyAuthorizer)
    # Signs ServiceAccount tokens (serviceaccounts/token); None serves no such subresource.
    token_issuer: serviceaccount.TokenIssuer | None = None
    # How pods/log, exec, attach and portforward reach kubelets (the kubelet client cert).
    kubelet_client: nodeproxy.KubeletClient = field(default_factory=nodeproxy.KubeletClient)
    # Seconds between scrapes of the kubelets for metrics.k8s.io (`--metric-resolution`).
    metric_resolution: float = metricsscraper.DEFAULT_METRIC_RESOLUTION
    _runner: web.AppRunner | None = None
    _registries: dict[tuple[str, str, str], registry.Registry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.discovery = discovery.DiscoveryDocuments(
            self.catalogue, server_address=f"{self.advertise_address}:{self.port}",
            served_apart=metricsapi.GROUP_VERSIONS)
        self.customresources = customresources.CustomResources(
            store=self.store, resources=self.catalogue, registry_for=self.registry_for,
            on_change=self._custom_resources_changed)
        self.openapi = openapi.OpenAPIDocuments(
            self.catalogue, custom_document=self.customresources.openapi_document)
        self.admission = plugins.default_chain(
            get_namespace=self._get_namespace,
            list_priority_classes=self._list_priority_classes,
            list_storage_classes=self._list_storage_classes,
            list_limit_ranges=self._list_limit_ranges, list_quotas=self._list_quotas,
            get_service_account=self._get_service_account,
            update_quota_status=self._update_quota_status)
        self.service_allocator = serviceallocator.ServiceAllocator(
            list_services=self._list_services)
        self.metrics_scraper = metricsscraper.MetricsScraper(
            self._list_nodes, kubelet=self.kubelet_client,
            metric_resolution=self.metric_resolution)
        nodes, pods = self.registry_for("", "v1", "nodes"), self.registry_for("", "v1", "pods")
        if nodes is None or pods is None:
            raise RuntimeError("the catalogue lacks nodes or pods")
        self.metrics = metricsapi.MetricsAPI(self.metrics_scraper, nodes=nodes, pods=pods)
        self._scraping: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    # ---- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        # Bind first: the kubernetes Service's endpoints name the real port (0 picks one).
        sock = socket.create_server((self.bind_address, self.port), backlog=1024)
        self.port = sock.getsockname()[1]
        try:
            await bootstrap.ensure_defaults(self.registry_for, service_ip="10.96.0.1",
                                            advertise_address=self.advertise_address,
                                            port=self.port)
            await self.customresources.start()
            app = web.Application(client_max_size=0, handler_args={"max_field_size": 65536})
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
            await self._runner.setup()
            site = web.SockSite(self._runner, sock, ssl_context=self.ssl_context)
            await site.start()
        except BaseException:
            sock.close()
            raise
        self._scraping = asyncio.create_task(self.metrics_scraper.run(),
                                             name="metrics-scraper")
        self.ready.set()

    async def stop(self) -> None:
        self.ready.clear()
        if self._scraping is not None:
            self._scraping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scraping
            self._scraping = None
        await self.customresources.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @contextlib.asynccontextmanager
    async def running(self) -> Any:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    # ---- registries --------------------------------------------------------------------

    def registry_for(self, group: str, version: str, plural: str) -> registry.Registry | None:
        key = (group, version, plural)
        reg = self._registries.get(key)
        if reg is None:
            resource = self.catalogue.get(group, version, plural)
            if resource is None:
                return None
            reg = registry.Registry(
                resource=resource, store=self._store_for(resource), admission=self.admission,
                service_allocator=self.service_allocator
                if (group, plural) == ("", "services") else None,
                custom=self.customresources.strategy_for(group, version, plural))
            self._registries[key] = reg
        return reg

    def _custom_resources_changed(self, groups: set[str]) -> None:
        """CustomResourceDefinitions changed what `groups` serve: forget their registries
        (their rules changed) and every discovery and OpenAPI document."""
        for key in [k for k in self._registries if k[0] in groups]:
            del self._registries[key]
        self.discovery.catalogue_changed()
        self.openapi.catalogue_changed()

    def _store_for(self, resource: catalogue.Resource) -> Store:
        """events.k8s.io Events live in the core Events' storage, in core form (upstream's
        cohabitating resources); every other resource in its own."""
        core_events = self.catalogue.get("", "v1", "events")
        if (resource.group, resource.plural) != (events.GROUP, "events") or core_events is None:
            return self.store
        return codec.CodecStore(self.store, prefix=resource.storage_prefix(),
                                storage_prefix=core_events.storage_prefix(),
                                encode=events.to_core, decode=events.to_events_v1)

    async def _list_priority_classes(self) -> list[Obj]:
        return (await self.store.list("/registry/scheduling.k8s.io/priorityclasses/")).items

    async def _list_storage_classes(self) -> list[Obj]:
        return (await self.store.list("/registry/storage.k8s.io/storageclasses/")).items

    async def _list_limit_ranges(self, namespace: str) -> list[Obj]:
        return (await self.store.list(f"/registry/limitranges/{namespace}/")).items

    async def _get_service_account(self, namespace: str, name: str) -> Obj | None:
        try:
            return await self.store.get(f"/registry/serviceaccounts/{namespace}/{name}")
        except storage_errors.KeyNotFound:
            return None

    async def _list_quotas(self, namespace: str) -> list[Obj]:
        return (await self.store.list(f"/registry/resourcequotas/{namespace}/")).items

    async def _update_quota_status(self, quota: Obj) -> None:
        """Store admission's charge to a quota if nobody wrote it since it was read (raises
        storage Conflict otherwise), as upstream's status update with a resourceVersion."""
        md = quota["metadata"]
        await self.store.update(f"/registry/resourcequotas/{md['namespace']}/{md['name']}",
                                quota, expected_revision=int(md["resourceVersion"]))

    async def _list_nodes(self) -> list[Obj]:
        return (await self.store.list("/registry/nodes/")).items

    async def _list_services(self) -> list[Obj]:
        return (await self.store.list("/registry/services/")).items

    async def _get_namespace(self, name: str) -> Obj | None:
        try:
            return await self.store.get(f"/registry/namespaces/{name}")
        except storage_errors.KeyNotFound:
            return None

    # ---- request handling --------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._serve(request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - one place renders every error
            return responses.error_response(exc)

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path in PUBLIC_PATHS:
            return self._public(path)
        user = self._authenticate(request)
        info = requestinfo.parse(request.method, path, request.query)
        self._authorize(user, info)
        if not info.is_resource_request:
            return self._non_resource(request, info)
        return await self._resource(request, info, user)

    def _authenticate(self, request: web.Request) -> Any:
        peer = auth_x509.peer_certificate(request.transport)
        user = self.authenticator.authenticate(
            peer_cert=peer, authorization_header=request.headers.get("Authorization"))
        if user is None:
            raise errors.unauthorized()
        return user

    def _authorize(self, user: Any, info: requestinfo.RequestInfo) -> None:
        attrs = authz.Attributes(
            user=user, verb=info.verb, api_group=info.group, resource=info.resource,
            subresource=info.subresource, namespace=info.namespace, name=info.name,
            path=info.path, resource_request=info.is_resource_request)
        decision = self.authorizer.authorize(attrs)
        if not decision.allowed:
            raise authz.forbidden(attrs, decision.reason)

    def _public(self, path: str) -> web.Response:
        if path == "/version":
            return responses.json_response(version.info())
        return web.Response(text="ok", content_type="text/plain")

    def _non_resource(self, request: web.Request, info: requestinfo.RequestInfo
                      ) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise errors.method_not_allowed() if self._is_discovery(info.path) \
                else errors.not_found_path()
        path = info.path.rstrip("/") or "/"
        if path.startswith(HEALTH_PATHS):
            return web.Response(text="ok", content_type="text/plain")
        if path == "/openapi/v3":
            body, etag = self.openapi.index()
            return self._cached(request, body, etag, "application/json")
        if path == "/openapi/v2":
            if openapiv2.PROTOBUF_CONTENT_TYPE in request.headers.get("Accept", ""):
                body, content_type = openapiv2.protobuf_document(), \
                    openapiv2.PROTOBUF_RESPONSE_CONTENT_TYPE
            else:
                body, content_type = openapiv2.json_document(), "application/json"
            return self._cached(request, body, f'"{hashlib.sha256(body).hexdigest()[:32]}"',
                                content_type)
        if path.startswith("/openapi/v3/"):
            found = self.openapi.document(path[len("/openapi/v3/"):])
            if found is None:
                raise errors.not_found_path()
            body, etag = found
            return self._cached(request, body, etag, "application/json")
        rendered = self.discovery.render(path, request.headers.get("Accept", ""))
        if rendered is None:
            raise errors.not_found_path()
        return self._cached(request, rendered.body, rendered.etag, rendered.content_type)

    @staticmethod
    def _is_discovery(path: str) -> bool:
        return path.startswith(("/api", "/openapi"))

    @staticmethod
    def _cached(request: web.Request, body: bytes, etag: str, content_type: str
                ) -> web.Response:
        headers = {"ETag": etag, "Vary": "Accept", "Content-Type": content_type,
                   "Cache-Control": "no-cache, private"}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, headers=headers)

    async def _resource(self, request: web.Request, info: requestinfo.RequestInfo,
                        user: Any) -> web.StreamResponse:
        if info.group == metricsapi.GROUP:
            return await self.metrics.serve(request, info)
        reg = self.registry_for(info.group, info.version, info.resource)
        if reg is None:
            raise errors.not_found_path()
        resource = reg.resource
        if resource.namespaced and not info.namespace and info.verb not in ("list", "watch"):
            raise errors.not_found_path()
        if not resource.namespaced and info.namespace and info.resource != "namespaces":
            raise errors.not_found_path()
        scope = RequestScope(http=request, info=info, registry=reg, user=user,
                             authorizer=self.authorizer, authenticator=self.authenticator)
        if reviews.is_review(resource):
            if info.verb != "create":
                raise errors.method_not_allowed()
            return await reviews.create(scope)
        if info.subresource:
            sub = resource.subresource(info.subresource)
            if sub is None or info.subresource not in SERVED_SUBRESOURCES:
                raise errors.not_found_path()
            if info.verb not in sub.verbs:
                raise errors.method_not_allowed()
            if info.subresource == "binding":
                return await binding.create_binding(scope)
            if info.subresource == proxy.SUBRESOURCE and resource.plural in proxy.RESOURCES:
                return await proxy.serve(scope, registry_for=self.registry_for,
                                         kubelet=self.kubelet_client)
            if info.subresource in nodeproxy.SUBRESOURCES and resource.plural == "pods":
                nodes = self.registry_for("", "v1", "nodes")
                if nodes is None:
                    raise errors.not_found_path()
                return await nodeproxy.serve(scope, nodes=nodes, kubelet=self.kubelet_client)
            if info.subresource == "eviction":
                pdbs = self.registry_for("policy", "v1", "poddisruptionbudgets")
                if pdbs is None:
                    raise errors.not_found_path()
                return await eviction.create_eviction(scope, pdbs=pdbs)
            if info.subresource == "token":
                if self.token_issuer is None:
                    raise errors.not_found_path()
                return await tokenrequest.create_token(scope, self.token_issuer)
            if info.subresource == "scale":
                access = scale.builtin_access(resource.group, resource.plural) or \
                    self.customresources.scale_access(resource.group, resource.version,
                                                      resource.plural)
                if access is None:
                    raise errors.not_found_path()
                return await scale.scale(scope, access)
        elif info.verb not in resource.verbs:
            raise errors.method_not_allowed()
        return await VERB_HANDLERS[info.verb](scope)

