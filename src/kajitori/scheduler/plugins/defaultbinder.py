"""DefaultBinder: bind by POSTing a Binding to `pods/<name>/binding` (upstream's
`plugins/defaultbinder/default_binder.go`); the pod's UID makes it a precondition, so a pod
deleted and recreated under the same name is not bound by mistake."""

from __future__ import annotations

from typing import Any

from kajitori.api import errors
from kajitori.client import rest
from kajitori.scheduler import framework, types

NAME = "DefaultBinder"


def binding_for(pod: types.PodInfo, node_name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Binding",
            "metadata": {"namespace": pod.namespace, "name": pod.name, "uid": pod.uid},
            "target": {"kind": "Node", "name": node_name}}


class DefaultBinder:
    name = NAME

    def __init__(self, args: dict[str, Any] | None = None, handle: Any = None) -> None:
        del args
        self._handle = handle

    async def bind(self, state: Any, pod: types.PodInfo, node_name: str
                   ) -> framework.Status | None:
        """None when bound; an ERROR status carrying the server's message otherwise."""
        path = rest.resource_path("", "v1", "pods", namespace=pod.namespace, name=pod.name,
                                  subresource="binding")
        try:
            await self._handle.client.create(path, binding_for(pod, node_name))
        except errors.StatusError as exc:
            return framework.Status(framework.Code.ERROR,
                                    (str(exc.status.get("message", "")),))
        return None
