"""Creating and deleting a controller's pods, with their ownerReference and upstream's events.

Mirrors the pod half of pkg/controller/controller_utils.go: `PodControl` is the seam
controllers write pods through (ReplicaSet, Job, DaemonSet, StatefulSet); `RealPodControl`
writes through the API and records `SuccessfulCreate`/`FailedCreate`/`SuccessfulDelete`/
`FailedDelete` events on the controller object; `FakePodControl` records the calls for unit
tests, as upstream's controller tests swap it in. `get_pod_from_template` builds a pod from a
PodTemplateSpec exactly as upstream does (labels, annotations, finalizers and spec copied;
`generateName` from the controller's name; the controllerRef as the one ownerReference).

Expectations (`expectations.py`) are the caller's business: raise them before calling
`create_pods`/`delete_pod`, lower them for each call that failed.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from kajitori.api import errors, meta
from kajitori.client import events, rest
from kajitori.controllers import apistatus

Obj = dict[str, Any]

log = logging.getLogger(__name__)

PODS = ("", "v1", "pods")
FAILED_CREATE_POD_REASON = "FailedCreate"
SUCCESSFUL_CREATE_POD_REASON = "SuccessfulCreate"
FAILED_DELETE_POD_REASON = "FailedDelete"
SUCCESSFUL_DELETE_POD_REASON = "SuccessfulDelete"
MAX_NAME_LENGTH = 253
"""A pod name is a DNS subdomain: at most 253 characters, generated suffix included."""


class NoLabelsError(ValueError):
    """A pod template without labels: its pods could never be selected by their owner."""

    def __init__(self) -> None:
        super().__init__("unable to create pods, no labels")


def new_controller_ref(owner: Obj) -> Obj:
    """The ownerReference a controller puts on what it creates: `controller` and
    `blockOwnerDeletion` true (upstream's metav1.NewControllerRef). `owner` must carry its
    apiVersion and kind, as objects from informers do."""
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta.name(owner),
            "uid": meta.uid(owner), "controller": True, "blockOwnerDeletion": True}


def get_controller_of(obj: Obj) -> Obj | None:
    """The ownerReference with `controller: true`, if any (upstream's GetControllerOf)."""
    return next((ref for ref in meta.owner_references(obj) if ref.get("controller")), None)


def pods_prefix(controller_name: str) -> str:
    """`<name>-`, the generateName of a controller's pods, or the bare name when the dash
    would make it too long to be a valid name prefix (upstream's getPodsPrefix)."""
    prefix = f"{controller_name}-"
    return prefix if len(prefix) <= MAX_NAME_LENGTH else controller_name


def get_pod_from_template(template: Obj, parent: Obj, controller_ref: Obj | None) -> Obj:
    """A new pod (no name, `generateName` set) from a PodTemplateSpec: copies of the
    template's labels, annotations, finalizers and spec, owned through `controller_ref`
    (None: not owned). Never shares structure with `template`."""
    template_md = template.get("metadata") or {}
    md: Obj = {"generateName": pods_prefix(meta.name(parent))}
    for key in ("labels", "annotations", "finalizers"):
        if template_md.get(key):
            md[key] = copy.deepcopy(template_md[key])
    if controller_ref is not None:
        md["ownerReferences"] = [dict(controller_ref)]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": copy.deepcopy(template.get("spec") or {})}


class PodControl(Protocol):
    """How controllers create, delete and patch pods. Every method raises the API's
    StatusError (and transport errors) on failure; `create_pods` also NoLabelsError."""

    async def create_pods(self, namespace: str, template: Obj, *, controller_object: Obj,
                          controller_ref: Obj) -> None:
        """Create one pod from `template` in `namespace`, owned through `controller_ref`;
        events go on `controller_object`."""
        ...

    async def create_pods_with_generate_name(self, namespace: str, template: Obj, *,
                                             controller_object: Obj, controller_ref: Obj,
                                             generate_name: str) -> None:
        """As `create_pods`, with `generate_name` instead of `<controller name>-` (Jobs
        with indexes use `<job>-<index>-`)."""
        ...

    async def delete_pod(self, namespace: str, pod_id: str, *, controller_object: Obj) -> None:
        """Delete pod `pod_id`; raises StatusError 404 if it is already gone (callers lower
        their expectations on any failure, as the deletion will never be observed)."""
        ...

    async def patch_pod(self, namespace: str, name: str, patch: Obj) -> None:
        """Strategic-merge-patch pod `name` (adopting or releasing it)."""
        ...


class RealPodControl:
    """`PodControl` through the API, with events recorded by `recorder` (whose `run()` the
    controller runs)."""

    def __init__(self, client: rest.RESTClient, *, recorder: events.EventRecorder) -> None:
        self._client = client
        self._recorder = recorder

    async def create_pods(self, namespace: str, template: Obj, *, controller_object: Obj,
                          controller_ref: Obj) -> None:
        await self._create(namespace, get_pod_from_template(template, controller_object,
                                                            controller_ref), controller_object)

    async def create_pods_with_generate_name(self, namespace: str, template: Obj, *,
                                             controller_object: Obj, controller_ref: Obj,
                                             generate_name: str) -> None:
        pod = get_pod_from_template(template, controller_object, controller_ref)
        if generate_name:
            pod["metadata"]["generateName"] = generate_name
        await self._create(namespace, pod, controller_object)

    async def _create(self, namespace: str, pod: Obj, controller_object: Obj) -> None:
        if not meta.labels(pod):
            raise NoLabelsError
        try:
            created = await self._client.create(rest.resource_path(*PODS, namespace=namespace),
                                                pod)
        except errors.StatusError as exc:
            # No event when the namespace is going away: the failure is expected then.
            if not apistatus.has_status_cause(exc, apistatus.NAMESPACE_TERMINATING_CAUSE):
                self._recorder.event(controller_object, events.WARNING,
                                     FAILED_CREATE_POD_REASON, f"Error creating: {_text(exc)}")
            raise
        log.debug("controller %s created pod %s", meta.name(controller_object),
                  meta.name(created))
        self._recorder.event(controller_object, events.NORMAL, SUCCESSFUL_CREATE_POD_REASON,
                             f"Created pod: {meta.name(created)}")

    async def delete_pod(self, namespace: str, pod_id: str, *, controller_object: Obj) -> None:
        log.debug("controller %s deleting pod %s/%s", meta.name(controller_object), namespace,
                  pod_id)
        try:
            await self._client.delete(rest.resource_path(*PODS, namespace=namespace,
                                                         name=pod_id))
        except errors.StatusError as exc:
            if exc.code != 404:
                self._recorder.event(controller_object, events.WARNING,
                                     FAILED_DELETE_POD_REASON, f"Error deleting: {_text(exc)}")
            raise
        self._recorder.event(controller_object, events.NORMAL, SUCCESSFUL_DELETE_POD_REASON,
                             f"Deleted pod: {pod_id}")

    async def patch_pod(self, namespace: str, name: str, patch: Obj) -> None:
        await self._client.patch(rest.resource_path(*PODS, namespace=namespace, name=name),
                                 patch, patch_type=rest.STRATEGIC_MERGE_PATCH)


def _text(exc: errors.StatusError) -> str:
    return str(exc.status.get("message") or exc)


@dataclass
class FakePodControl:
    """A `PodControl` that records what it was asked (upstream's FakePodControl). Set `err`
    to make every call fail with it; `create_limit` > 0 makes creations beyond that many
    fail, as upstream's fake does to test slow-start batches."""

    templates: list[Obj] = field(default_factory=list)
    """Pods asked for, as `get_pod_from_template` builds them (generateName included)."""
    controller_refs: list[Obj] = field(default_factory=list)
    delete_pod_names: list[str] = field(default_factory=list)
    delete_pod_namespaces: list[str] = field(default_factory=list)
    patches: list[Obj] = field(default_factory=list)
    err: Exception | None = None
    create_limit: int = 0
    create_call_count: int = 0

    async def create_pods(self, namespace: str, template: Obj, *, controller_object: Obj,
                          controller_ref: Obj) -> None:
        await self.create_pods_with_generate_name(
            namespace, template, controller_object=controller_object,
            controller_ref=controller_ref, generate_name="")

    async def create_pods_with_generate_name(self, namespace: str, template: Obj, *,
                                             controller_object: Obj, controller_ref: Obj,
                                             generate_name: str) -> None:
        self.create_call_count += 1
        if self.create_limit and self.create_call_count > self.create_limit:
            raise errors.internal_error(
                f"not creating pod, limit {self.create_limit} already reached "
                f"(create call {self.create_call_count})")
        pod = get_pod_from_template(template, controller_object, controller_ref)
        if generate_name:
            pod["metadata"]["generateName"] = generate_name
        pod["metadata"]["namespace"] = namespace
        self.templates.append(pod)
        self.controller_refs.append(controller_ref)
        if self.err is not None:
            raise self.err

    async def delete_pod(self, namespace: str, pod_id: str, *, controller_object: Obj) -> None:
        self.delete_pod_names.append(pod_id)
        self.delete_pod_namespaces.append(namespace)
        if self.err is not None:
            raise self.err

    async def patch_pod(self, namespace: str, name: str, patch: Obj) -> None:
        self.patches.append(patch)
        if self.err is not None:
            raise self.err

    def clear(self) -> None:
        """Forget every recorded call (between steps of a test)."""
        self.templates.clear()
        self.controller_refs.clear()
        self.delete_pod_names.clear()
        self.delete_pod_namespaces.clear()
        self.patches.clear()
        self.create_call_count = 0
