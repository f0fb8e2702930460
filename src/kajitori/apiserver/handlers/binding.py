"""POST pods/<name>/binding: assign a pending pod to a node (what a scheduler's bind does).

Mirrors upstream's BindingREST (`pkg/registry/core/pod/storage/storage.go`, `assignPod` and
`setPodNodeAndMetadata`) and `ValidatePodBinding`: the Binding's name must be the URL's; the
target must name a node (`target.kind` empty or `Node`); the pod's UID and resourceVersion in
the Binding's metadata, when given, are preconditions. The pod is written straight to storage,
past the pod strategy (spec.nodeName is otherwise immutable), with a compare-and-swap retried
on a lost race as upstream's GuaranteedUpdate: `spec.nodeName` set, the Binding's annotations
merged into the pod's, and the `PodScheduled` condition made `True`. A pod already assigned,
being deleted or still gated is a 409 on `pods/binding`, worded as upstream. The answer is a
`Status` of `Success` with code 201.

Departures from upstream: no admission on the Binding (upstream runs the validating chain on
it; none of our plugins looks at bindings).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kajitori.api import errors, meta
from kajitori.apiserver import responses
from kajitori.apiserver.handlers.create import decode_body
from kajitori.apiserver.handlers.scope import RequestScope
from kajitori.storage import errors as storage_errors

Obj = dict[str, Any]

BINDING_GVK = ("", "v1", "Binding")
BINDING_RESOURCE = "pods/binding"
"""How conflicts name the subresource (upstream's `api.Resource("pods/binding")`)."""
POD_SCHEDULED = "PodScheduled"
UPDATE_RETRIES = 5
"""Compare-and-swap attempts before a lost race is the client's 409."""


async def create_binding(scope: RequestScope) -> web.Response:
    """Serve one POST to `pods/<name>/binding`; the caller has checked the verb."""
    binding, _warnings = await decode_body(scope, gvk=BINDING_GVK)
    name = scope.info.name
    if meta.name(binding) != name:
        raise errors.bad_request("name in URL does not match name in Binding object")
    target = binding.get("target") or {}
    problems = validate_binding(binding)
    if problems:
        # upstream returns the field errors' aggregate, which the handler renders as a 500
        raise errors.internal_error(_aggregate(problems))
    await assign_pod(scope, name=name, node_name=str(target.get("name")),
                     uid=meta.uid(binding), resource_version=meta.resource_version(binding),
                     annotations=(binding.get("metadata") or {}).get("annotations") or {})
    return responses.json_response({"kind": "Status", "apiVersion": "v1", "metadata": {},
                                    "status": "Success", "code": 201}, status=201)


def validate_binding(binding: Obj) -> list[errors.FieldError]:
    """upstream's ValidatePodBinding."""
    target = binding.get("target") or {}
    problems = []
    kind = target.get("kind") or ""
    if kind and kind != "Node":
        problems.append(errors.FieldError.not_supported("target.kind", kind, ["Node", "<empty>"]))
    if not target.get("name"):
        problems.append(errors.FieldError.required("target.name"))
    return problems


def _aggregate(problems: list[errors.FieldError]) -> str:
    if len(problems) == 1:
        return str(problems[0])
    return "[" + ", ".join(str(p) for p in problems) + "]"


async def assign_pod(scope: RequestScope, *, name: str, node_name: str, uid: str,
                     resource_version: str, annotations: dict[str, str]) -> None:
    """Set the pod's node, with upstream's preconditions and refusals (409 on pods/binding).
    Raises StatusError 404 for a missing pod."""
    reg = scope.registry
    key = reg.resource.key(scope.info.namespace, name)
    for attempt in range(UPDATE_RETRIES):
        try:
            pod = await reg.store.get(key)
        except storage_errors.KeyNotFound as exc:
            raise errors.not_found(reg.resource.qualified, name) from exc
        _check_preconditions(pod, name=name, uid=uid, resource_version=resource_version)
        refusal = _refusal(pod)
        if refusal:
            raise errors.conflict(BINDING_RESOURCE, name, refusal)
        if scope.dry_run:
            return
        bound = bind_pod(pod, node_name, annotations=annotations, now=meta.now())
        try:
            await reg.store.update(key, bound,
                                   expected_revision=int(meta.resource_version(pod)))
            return
        except storage_errors.KeyNotFound as exc:
            raise errors.not_found(reg.resource.qualified, name) from exc
        except storage_errors.Conflict as exc:
            if attempt == UPDATE_RETRIES - 1:
                raise errors.object_modified(reg.resource.qualified, name) from exc


def _check_preconditions(pod: Obj, *, name: str, uid: str, resource_version: str) -> None:
    if uid and uid != meta.uid(pod):
        raise errors.conflict("pods", name, (
            f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
            f"{meta.uid(pod)}"))
    if resource_version and resource_version != meta.resource_version(pod):
        raise errors.conflict("pods", name, (
            f"Precondition failed: ResourceVersion in precondition: {resource_version}, "
            f"ResourceVersion in object meta: {meta.resource_version(pod)}"))


def _refusal(pod: Obj) -> str:
    """Why upstream's setPodNodeAndMetadata refuses this pod, or ''."""
    spec = pod.get("spec") or {}
    if meta.deletion_timestamp(pod):
        return f"pod {meta.name(pod)} is being deleted, cannot be assigned to a host"
    if spec.get("nodeName"):
        return f'pod {meta.name(pod)} is already assigned to node "{spec["nodeName"]}"'
    if spec.get("schedulingGates"):
        return f"pod {meta.name(pod)} has non-empty .spec.schedulingGates"
    return ""


def bind_pod(pod: Obj, node_name: str, *, annotations: dict[str, str], now: str) -> Obj:
    """A copy of `pod` on `node_name` with PodScheduled=True (upstream's UpdatePodCondition:
    the transition time moves only when the status changes)."""
    spec = {**(pod.get("spec") or {}), "nodeName": node_name}
    md = dict(pod.get("metadata") or {})
    if annotations:
        md["annotations"] = {**(md.get("annotations") or {}), **annotations}
    status = dict(pod.get("status") or {})
    conditions = list(status.get("conditions") or [])
    wanted: Obj = {"type": POD_SCHEDULED, "status": "True", "lastProbeTime": None,
                   "lastTransitionTime": now}
    for i, condition in enumerate(conditions):
        if condition.get("type") == POD_SCHEDULED:
            if condition.get("status") == "True":
                wanted["lastTransitionTime"] = condition.get("lastTransitionTime", now)
            conditions[i] = wanted
            break
    else:
        conditions.append(wanted)
    status["conditions"] = conditions
    return {**pod, "metadata": md, "spec": spec, "status": status}
