"""NamespaceLifecycle: nothing new in a missing or terminating namespace; immortal ones stay.

Mirrors staging/src/k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle/admission.go
(v1.33), in its order: an immortal namespace may not be deleted; namespaces themselves, objects
of cluster-scoped resources and deletes pass; so do local subject access reviews, whose answer
must not reveal whether a namespace exists; any other create or update in a missing namespace is
NotFound, and a create in a Terminating one is Forbidden with the `NamespaceTerminating` cause
that clients (the garbage collector, controllers) recognise it by. Events get no exemption.
It reads namespaces straight from the apiserver's store (in-process, consistent), so upstream's
informer-cache waits and forced live lookups have nothing to do here.
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
TERMINATING = "Terminating"
# Upstream's accessReviewResources: exempt from every check, or a review would tell whether
# the "people I'm going to fire" namespace exists.
ACCESS_REVIEW_RESOURCES = frozenset({("authorization.k8s.io", "localsubjectaccessreviews")})

IMMORTAL_MESSAGE = "this namespace may not be deleted"
TERMINATING_MESSAGE = ("unable to create new content in namespace {namespace} because it is "
                       "being terminated")
TERMINATING_CAUSE_REASON = "NamespaceTerminating"  # v1.NamespaceTerminatingCause
TERMINATING_CAUSE_MESSAGE = "namespace {namespace} is being terminated"
TERMINATING_CAUSE_FIELD = "metadata.namespace"
# admission.NewForbidden's name for an object that has neither name nor generateName yet.
UNKNOWN_NAME = "Unknown"


class NamespaceLifecycle:
    name = PLUGIN_NAME

    def __init__(self, *, get_namespace: Callable[[str], Awaitable[Obj | None]]) -> None:
        self._get_namespace = get_namespace

    async def admit(self, attrs: Attributes) -> None:
        resource = attrs.resource
        if resource.group == "" and resource.plural == NAMESPACES:
            if attrs.operation == "DELETE" and attrs.name in IMMORTAL_NAMESPACES:
                raise errors.forbidden(NAMESPACES, attrs.name, IMMORTAL_MESSAGE)
            return
        if not resource.namespaced or not attrs.namespace or attrs.operation == "DELETE":
            return
        if (resource.group, resource.plural) in ACCESS_REVIEW_RESOURCES:
            return
        namespace = await self._get_namespace(attrs.namespace)
        if namespace is None:
            raise errors.not_found(NAMESPACES, attrs.namespace)
        if attrs.operation == "CREATE" and \
                (namespace.get("status") or {}).get("phase") == TERMINATING:
            raise _terminating(attrs)


def _terminating(attrs: Attributes) -> errors.StatusError:
    """Upstream's admission.NewForbidden for the create, plus the NamespaceTerminating cause."""
    refusal = errors.forbidden(attrs.resource.qualified, _forbidden_name(attrs),
                               TERMINATING_MESSAGE.format(namespace=attrs.namespace))
    cause: errors.StatusCause = {
        "reason": TERMINATING_CAUSE_REASON,
        "message": TERMINATING_CAUSE_MESSAGE.format(namespace=attrs.namespace),
        "field": TERMINATING_CAUSE_FIELD}
    refusal.status["details"].setdefault("causes", []).append(cause)
    return refusal


def _forbidden_name(attrs: Attributes) -> str:
    """The name admission.NewForbidden reports: the request's, else the object's, else its
    generateName (names are generated after admission), else `Unknown`."""
    if attrs.name:
        return attrs.name
    metadata = (attrs.obj or {}).get("metadata") or {}
    return metadata.get("name") or metadata.get("generateName") or UNKNOWN_NAME
