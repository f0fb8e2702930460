"""NamespaceLifecycle: nothing new in a missing or terminating namespace; immortal ones stay.

Mirrors staging/src/k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle/admission.go.
It reads namespaces straight from the apiserver's store (in-process, consistent), not a cache.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kajitori.admission.interface import Attributes
from kajitori.api import errors

Obj = dict[str, Any]

PLUGIN_NAME = "NamespaceLifecycle"
IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})
NAMESPACES = "namespaces"
# Kinds that may be written in a terminating namespace: the namespace controller and kubelets
# must be able to finish their work there (upstream's accessReviewResources and events).
ALLOWED_WHILE_TERMINATING = frozenset({"events", "localsubjectaccessreviews"})


class NamespaceLifecycle:
    name = PLUGIN_NAME

    def __init__(self, *, get_namespace: Callable[[str], Awaitable[Obj | None]]) -> None:
        self._get_namespace = get_namespace

    async def admit(self, attrs: Attributes) -> None:
        resource = attrs.resource
        if resource.group == "" and resource.plural == NAMESPACES:
            if attrs.operation == "DELETE" and attrs.name in IMMORTAL_NAMESPACES:
                raise errors.forbidden(NAMESPACES, attrs.name,
                                       "this namespace may not be deleted")
            return
        if not resource.namespaced or not attrs.namespace or attrs.operation == "DELETE":
            return
        namespace = await self._get_namespace(attrs.namespace)
        if namespace is None:
            raise errors.not_found(NAMESPACES, attrs.namespace)
        terminating = (namespace.get("status") or {}).get("phase") == "Terminating"
        if attrs.operation == "CREATE" and terminating and \
                resource.plural not in ALLOWED_WHILE_TERMINATING:
            raise errors.forbidden(
                resource.qualified, attrs.name,
                f"unable to create new content in namespace {attrs.namespace} because it is "
                "being terminated")
