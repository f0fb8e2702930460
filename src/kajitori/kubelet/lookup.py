"""The API objects a pod's environment and volumes are built from, as the kubelet reads them.

Mirrors upstream's kubelet managers behind one seam: `pkg/kubelet/configmap` and
`pkg/kubelet/secret` (GetConfigMap/GetSecret), the service lister feeding
`getServiceEnvVarMap` (`pkg/kubelet/kubelet_pods.go`), and `pkg/kubelet/token`
(`token_manager.go`: service account tokens requested with a TokenRequest bound to the pod and
cached until they near their expiry). `kajitori.kubelet.envvars` and `kajitori.kubelet.volumes`
call it; tests give them a stand-in with the same methods.

Departure: upstream reads ConfigMaps and Secrets through watch-based caches; here every call is
one GET, which keeps the kubelet's state to none and costs one request per pod sync.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kajitori.api import errors, meta
from kajitori.client import rest

Obj = dict[str, Any]

TOKEN_MAX_TTL = 24 * 3600.0
"""Seconds: a cached token older than this is requested again whatever its expiry
(upstream's `maxTTL`)."""
TOKEN_REFRESH_FRACTION = 0.2
"""A token is requested again once less than this part of its lifetime is left (upstream
refreshes at 80% of the TTL)."""
TOKEN_MAX_JITTER = 10.0
"""Seconds of random jitter brought forward on each refresh decision, so that the tokens of
many pods are not all requested in the same second (upstream's `maxJitter`)."""
TOKEN_REQUEST_API_VERSION = "authentication.k8s.io/v1"


class ObjectLookup(Protocol):
    """Reads the objects a pod refers to. None means the object does not exist (404); any
    other failure raises (`StatusError`, transport errors), and the caller reports it as its
    own error (CreateContainerConfigError, FailedMount). Safe for concurrent use."""

    async def config_map(self, namespace: str, name: str) -> Obj | None: ...

    async def secret(self, namespace: str, name: str) -> Obj | None: ...

    async def services(self, namespace: str) -> list[Obj]:
        """This namespace's Services (for the service environment variables)."""
        ...

    async def persistent_volume_claim(self, namespace: str, name: str) -> Obj | None: ...

    async def persistent_volume(self, name: str) -> Obj | None: ...

    async def service_account_token(self, pod: Obj, *, audience: str,
                                    expiration_seconds: int) -> str:
        """A token of the pod's service account, bound to the pod (deleted pod, dead token),
        for `audience` ("" = the apiserver's own audiences). Cached per pod, audience and
        expiry until 80% of its lifetime has passed."""
        ...


@dataclass(frozen=True)
class _CachedToken:
    token: str
    issued_at: float
    expires_at: float


class APIObjectLookup:
    """ObjectLookup over the API with the kubelet's client. `clock` returns wall-clock seconds
    (tests pass a fake); tokens are cached in memory only, so a restarted kubelet asks again."""

    def __init__(self, client: rest.RESTClient, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._clock = clock
        self._tokens: dict[tuple[str, str, str, str, int], _CachedToken] = {}

    async def _get(self, path: str) -> Obj | None:
        try:
            return await self._client.get(path)
        except errors.StatusError as exc:
            if exc.code == 404:
                return None
            raise

    async def config_map(self, namespace: str, name: str) -> Obj | None:
        return await self._get(rest.resource_path("", "v1", "configmaps", namespace=namespace,
                                                  name=name))

    async def secret(self, namespace: str, name: str) -> Obj | None:
        return await self._get(rest.resource_path("", "v1", "secrets", namespace=namespace,
                                                  name=name))

    async def services(self, namespace: str) -> list[Obj]:
        listed = await self._client.get(rest.resource_path("", "v1", "services",
                                                           namespace=namespace))
        return list(listed.get("items") or [])

    async def persistent_volume_claim(self, namespace: str, name: str) -> Obj | None:
        return await self._get(rest.resource_path("", "v1", "persistentvolumeclaims",
                                                  namespace=namespace, name=name))

    async def persistent_volume(self, name: str) -> Obj | None:
        return await self._get(rest.resource_path("", "v1", "persistentvolumes", name=name))

    async def service_account_token(self, pod: Obj, *, audience: str,
                                    expiration_seconds: int) -> str:
        account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
        key = (meta.namespace(pod), account, meta.uid(pod), audience, expiration_seconds)
        cached = self._tokens.get(key)
        if cached is not None and not self._requires_refresh(cached):
            return cached.token
        spec: Obj = {"expirationSeconds": expiration_seconds,
                     "boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                                        "name": meta.name(pod), "uid": meta.uid(pod)}}
        if audience:
            spec["audiences"] = [audience]
        request = {"apiVersion": TOKEN_REQUEST_API_VERSION, "kind": "TokenRequest", "spec": spec}
        path = rest.resource_path("", "v1", "serviceaccounts", namespace=meta.namespace(pod),
                                  name=account, subresource="token")
        answer = await self._client.create(path, request)
        status = answer.get("status") or {}
        token = str(status.get("token") or "")
        expires_at = self._clock() + expiration_seconds
        if status.get("expirationTimestamp"):
            expires_at = meta.parse_time(status["expirationTimestamp"]).timestamp()
        granted = (answer.get("spec") or {}).get("expirationSeconds") or expiration_seconds
        now = self._clock()
        for stale in [k for k, v in self._tokens.items() if v.expires_at <= now]:
            del self._tokens[stale]  # expired tokens of pods long gone: the cache stays small
        self._tokens[key] = _CachedToken(token, expires_at - granted, expires_at)
        return token

    def forget_pod(self, pod_uid: str) -> None:
        """Drop the cached tokens of a pod that is gone (upstream DeleteServiceAccountToken)."""
        for key in [k for k in self._tokens if k[2] == pod_uid]:
            del self._tokens[key]

    def _requires_refresh(self, cached: _CachedToken) -> bool:
        now = self._clock()
        jitter = random.random() * TOKEN_MAX_JITTER
        if now > cached.issued_at + TOKEN_MAX_TTL - jitter:
            return True
        lifetime = cached.expires_at - cached.issued_at
        return now > cached.expires_at - lifetime * TOKEN_REFRESH_FRACTION - jitter
