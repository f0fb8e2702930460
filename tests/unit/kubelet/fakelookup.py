"""An in-memory `kajitori.kubelet.lookup.ObjectLookup` for the kubelet's unit tests.

Objects are wire-format dicts put in with `add`; `service_account_token` hands out numbered
tokens and records each request, so a test sees when a token was requested again.
"""

from __future__ import annotations

import base64
from typing import Any

from kajitori.api import meta

Obj = dict[str, Any]


def config_map(name: str, data: dict[str, str] | None = None, *, namespace: str = "default",
               binary: dict[str, bytes] | None = None) -> Obj:
    obj: Obj = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": namespace}, "data": dict(data or {})}
    if binary:
        obj["binaryData"] = {k: base64.b64encode(v).decode() for k, v in binary.items()}
    return obj


def secret(name: str, data: dict[str, str], *, namespace: str = "default") -> Obj:
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def service(name: str, cluster_ip: str, ports: list[Obj], *, namespace: str = "default") -> Obj:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"clusterIP": cluster_ip, "ports": ports}}


class FakeObjectLookup:
    """ObjectLookup over dicts; missing objects are None as the real one's 404s."""

    def __init__(self, *objects: Obj) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.token_requests: list[tuple[str, str, int]] = []
        for obj in objects:
            self.add(obj)

    def add(self, obj: Obj) -> None:
        self.objects[(obj["kind"], meta.namespace(obj), meta.name(obj))] = obj

    def remove(self, kind: str, name: str, *, namespace: str = "default") -> None:
        del self.objects[(kind, namespace, name)]

    async def config_map(self, namespace: str, name: str) -> Obj | None:
        return self.objects.get(("ConfigMap", namespace, name))

    async def secret(self, namespace: str, name: str) -> Obj | None:
        return self.objects.get(("Secret", namespace, name))

    async def services(self, namespace: str) -> list[Obj]:
        return [obj for (kind, ns, _), obj in self.objects.items()
                if kind == "Service" and ns == namespace]

    async def persistent_volume_claim(self, namespace: str, name: str) -> Obj | None:
        return self.objects.get(("PersistentVolumeClaim", namespace, name))

    async def persistent_volume(self, name: str) -> Obj | None:
        return self.objects.get(("PersistentVolume", "", name))

    async def service_account_token(self, pod: Obj, *, audience: str,
                                    expiration_seconds: int) -> str:
        self.token_requests.append((meta.name(pod), audience, expiration_seconds))
        return f"token-{len(self.token_requests)}"
