"""The generic registry: one resource's create, read, update, delete and watch over a Store.

Mirrors staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go. The handlers give it
decoded objects and options; it stamps system fields, defaults, runs admission, prepares (the
kind's strategy), validates, and writes through the store, turning storage errors into
upstream-worded StatusErrors (the only place that does). Dry runs take every step but the write.
"""

from __future__ import annotations

import copy
import datetime
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from kajitori.admission import interface as admission
from kajitori.api import (
    catalogue,
    defaults,
    errors,
    fields,
    labels,
    managedfields,
    meta,
    strategy,
    validation,
)
from kajitori.api.apiextensions import customresource
from kajitori.apiserver import serviceallocator
from kajitori.storage import errors as storage_errors
from kajitori.storage.interface import Store, WatchEvent

Obj = dict[str, Any]

# etcd's default request size limit. Upstream passes etcd's "request is too large" through as a
# 500; we answer 413 Request Entity Too Large, which says what happened.
MAX_OBJECT_BYTES = 1536 * 1024
GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
GENERATE_NAME_SUFFIX = 5
GENERATE_NAME_ATTEMPTS = 8
PATCH_RETRIES = 5

EPHEMERAL_CONTAINERS = "ephemeralcontainers"
"""pods/ephemeralcontainers: writes change spec.ephemeralContainers only."""

FINALIZER_ORPHAN = "orphan"
FINALIZER_FOREGROUND = "foregroundDeletion"


@dataclass(frozen=True)
class ListOptions:
    label_selector: str = ""
    field_selector: str = ""
    limit: int = 0
    continue_token: str = ""
    resource_version: str = ""
    resource_version_match: str = ""


@dataclass(frozen=True)
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str | None = None
    preconditions_uid: str | None = None
    preconditions_resource_version: str | None = None


@dataclass
class Registry:
    """One resource (all served versions share it). `resource` is the version it was looked up
    at; responses are labelled with that version's apiVersion."""

    resource: catalogue.Resource
    store: Store
    admission: admission.Chain
    # Services only: cluster IPs and node ports come from here on create.
    service_allocator: serviceallocator.ServiceAllocator | None = None
    # Custom resources and CustomResourceDefinitions: rules that are data. Its hooks replace
    # the built-in defaulting, preparation and validation, and it keeps generation itself.
    custom: customresource.CustomStrategy | None = None

    # ---- reads -------------------------------------------------------------------------

    def _key(self, namespace: str, name: str) -> str:
        return self.resource.key(namespace, name)

    def _prefix(self, namespace: str) -> str:
        prefix = self.resource.storage_prefix()
        if self.resource.namespaced and namespace:
            prefix += namespace + "/"
        return prefix

    def served(self, obj: Obj) -> Obj:
        """Label a stored object with the apiVersion and kind it is served as."""
        if obj.get("apiVersion") == self.resource.api_version and obj.get("kind") == \
                self.resource.kind:
            return obj
        return meta.with_type(obj, self.resource.api_version, self.resource.kind)

    async def get(self, namespace: str, name: str) -> Obj:
        try:
            return self.served(await self.store.get(self._key(namespace, name)))
        except storage_errors.KeyNotFound as exc:
            raise errors.not_found(self.resource.qualified, name) from exc

    def predicate(self, options: ListOptions) -> Callable[[Obj], bool] | None:
        """The filter a list or watch applies; None when nothing is selected."""
        label_sel = labels.parse(options.label_selector) if options.label_selector else None
        field_sel = fields.parse(options.field_selector) if options.field_selector else None
        if field_sel is not None:
            field_sel = fields.check_supported(self.resource.group, self.resource.plural,
                                               field_sel)
        if label_sel is None and field_sel is None:
            return None
        group, plural = self.resource.group, self.resource.plural

        def matches(obj: Obj) -> bool:
            if label_sel is not None and not label_sel.matches(meta.labels(obj)):
                return False
            return field_sel is None or field_sel.matches(fields.object_fields(group, plural, obj))

        return matches

    async def list(self, namespace: str, options: ListOptions) -> Obj:
        self._check_list_revision(options)
        predicate = self.predicate(options)
        try:
            page = await self.store.list(self._prefix(namespace), limit=options.limit,
                                         continue_token=options.continue_token,
                                         predicate=predicate)
        except storage_errors.InvalidContinue as exc:
            raise errors.bad_request(f"invalid continue token: {exc}") from exc
        except storage_errors.Compacted as exc:
            raise errors.resource_expired(
                "The provided continue parameter is too old to display a consistent list "
                "result. You can start a new list without the continue parameter, or use the "
                "continue token in this response to retrieve the remainder of the results. "
                "Continuing with the provided token results in an inconsistent list - objects "
                "that were created, modified, or deleted between the time the first chunk was "
                "returned and now may show up in the list.") from exc
        list_meta: Obj = {"resourceVersion": str(page.revision)}
        if page.continue_token:
            list_meta["continue"] = page.continue_token
            if page.remaining is not None:
                list_meta["remainingItemCount"] = page.remaining
        return {"kind": self.resource.list_kind, "apiVersion": self.resource.api_version,
                "metadata": list_meta, "items": [self.served(o) for o in page.items]}

    def _check_list_revision(self, options: ListOptions) -> None:
        """Upstream's resourceVersion rules for lists: unset or "0" and any older revision read
        the current state (NotOlderThan); a future revision is 504 Too large; with a continue
        token the revision is the token's. Exact reads of past revisions are not kept: a list
        with resourceVersionMatch=Exact of an older revision answers 410, as after compaction."""
        rv = options.resource_version
        if not rv:
            return
        if options.continue_token:
            raise errors.bad_request(
                "specifying resource version is not allowed when using continue")
        try:
            wanted = int(rv)
        except ValueError as exc:
            raise errors.bad_request(f"invalid resource version: {rv}") from exc
        current = self.store.current_revision()
        if wanted > current:
            raise errors.StatusError(errors.status(
                504, "Timeout", f"Too large resource version: {wanted}, current: {current}",
                {"causes": [{"reason": "ResourceVersionTooLarge",
                             "message": "Too large resource version"}],
                 "retryAfterSeconds": 1}))
        if options.resource_version_match == "Exact" and wanted not in (0, current):
            raise errors.resource_expired(f"too old resource version: {wanted} ({current})")

    def watch(self, namespace: str, *, since: int) -> AsyncIterator[WatchEvent]:
        return self.store.watch(self._prefix(namespace), since=since)

    # ---- writes ------------------------------------------------------------------------

    def _check_identity(self, obj: Obj, namespace: str, name: str | None) -> None:
        """The body must describe the object the URL names (upstream's checks in the handlers
        and `rest.BeforeCreate`)."""
        api_version = obj.get("apiVersion")
        if api_version and api_version != self.resource.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API "
                f"version ({self.resource.api_version})")
        kind = obj.get("kind")
        if kind and kind != self.resource.kind:
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind "
                f"({self.resource.kind})")
        md = obj.setdefault("metadata", {})
        if not isinstance(md, dict):
            raise errors.bad_request("metadata must be an object")
        if self.resource.namespaced:
            body_ns = md.get("namespace")
            if body_ns and namespace and body_ns != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request")
            if namespace:
                md["namespace"] = namespace
        else:
            md.pop("namespace", None)
        if name is not None:
            body_name = md.get("name")
            if body_name and body_name != name:
                raise errors.bad_request(
                    "the name of the object "
                    f"({body_name}) does not match the name on the URL ({name})")
            md["name"] = name
        obj["apiVersion"] = self.resource.api_version
        obj["kind"] = self.resource.kind

    def _has_status(self) -> bool:
        return self.resource.subresource("status") is not None

    def _validate(self, obj: Obj, old: Obj | None, *, subresource: str = "") -> None:
        problems = self.custom.validate(obj, old) if self.custom is not None else \
            validation.validate(self.resource.group, self.resource.plural, obj, old=old,
                                subresource=subresource)
        if problems:
            raise errors.invalid(self.resource.kind, meta.name(obj), problems,
                                 group=self.resource.group)
        if len(orjson.dumps(obj)) > MAX_OBJECT_BYTES:
            raise errors.request_entity_too_large(
                f"Request entity too large: limit is {MAX_OBJECT_BYTES}")

    async def create(self, namespace: str, obj: Obj, *, dry_run: bool = False,
                     user: Any = None, field_manager: str | None = None) -> Obj:
        """Create `obj` (the caller's decoded body, which this method owns and changes).
        `field_manager`: who writes, recorded in managedFields (None: record nothing, as for
        an applied object whose managed fields are already computed)."""
        self._check_identity(obj, namespace, None)
        md = obj["metadata"]
        if not md.get("name") and not md.get("generateName"):
            raise errors.invalid(self.resource.kind, "", [errors.FieldError.required(
                "metadata.name", "name or generateName is required")],
                group=self.resource.group)
        if self.custom is not None:
            self.custom.default(obj)
        else:
            defaults.apply_defaults(self.resource.group, self.resource.version,
                                    self.resource.kind, obj)
        if field_manager is not None:
            managedfields.update(None, obj, manager=field_manager, scope=self._fields_scope(""))
        await self.admission.admit(admission.Attributes(
            operation="CREATE", resource=self.resource, namespace=namespace,
            name=md.get("name", ""), obj=obj, old=None, user=user, dry_run=dry_run))
        self._fill_system_fields(obj)
        if self.custom is not None:
            self.custom.prepare_for_create(obj)
        else:
            strategy.prepare_for_create(self.resource.group, self.resource.plural, obj,
                                        has_status=self._has_status())
        if self.service_allocator is None:
            return await self._store_new(namespace, obj, dry_run=dry_run)
        await self.service_allocator.allocate(obj)
        try:
            return await self._store_new(namespace, obj, dry_run=dry_run)
        finally:
            self.service_allocator.release(obj)

    async def _store_new(self, namespace: str, obj: Obj, *, dry_run: bool) -> Obj:
        md = obj["metadata"]
        for attempt in range(GENERATE_NAME_ATTEMPTS):
            candidate = obj
            if md.get("generateName") and not md.get("name"):
                candidate = copy.deepcopy(obj)
                candidate["metadata"]["name"] = md["generateName"] + "".join(
                    secrets.choice(GENERATE_NAME_ALPHABET) for _ in range(GENERATE_NAME_SUFFIX))
            self._validate(candidate, None)
            key = self._key(namespace, meta.name(candidate))
            if dry_run:
                if await self._exists(key):
                    raise errors.already_exists(self.resource.qualified, meta.name(candidate))
                return self.served(candidate)
            try:
                return self.served(await self.store.create(key, candidate))
            except storage_errors.KeyExists as exc:
                if candidate is obj or attempt == GENERATE_NAME_ATTEMPTS - 1:
                    raise errors.already_exists(self.resource.qualified,
                                                meta.name(candidate)) from exc
        raise AssertionError("unreachable")

    async def _exists(self, key: str) -> bool:
        try:
            await self.store.get(key)
        except storage_errors.KeyNotFound:
            return False
        return True

    def _fill_system_fields(self, obj: Obj) -> None:
        """Upstream's FillObjectMetaSystemFields plus the fields a client may not set."""
        md = obj["metadata"]
        md["uid"] = str(uuid.uuid4())
        md["creationTimestamp"] = meta.now()
        for system_field in ("resourceVersion", "deletionTimestamp",
                             "deletionGracePeriodSeconds", "selfLink"):
            md.pop(system_field, None)
        if md.get("generation") is None:
            md.pop("generation", None)

    async def update(self, namespace: str, name: str, obj: Obj, *, dry_run: bool = False,
                     subresource: str = "", user: Any = None,
                     field_manager: str | None = None) -> Obj:
        """Replace the object (PUT). A resourceVersion in the body is a precondition; without
        one the write is unconditional, as upstream allows for most kinds."""
        self._check_identity(obj, namespace, name)
        key = self._key(namespace, name)
        try:
            old = await self.store.get(key)
        except storage_errors.KeyNotFound as exc:
            raise errors.not_found(self.resource.qualified, name) from exc
        wanted = meta.resource_version(obj)
        if wanted and wanted != meta.resource_version(old):
            raise errors.object_modified(self.resource.qualified, name)
        return await self._write_update(key, obj, old, dry_run=dry_run, subresource=subresource,
                                        user=user, field_manager=field_manager)

    async def _write_update(self, key: str, obj: Obj, old: Obj, *, dry_run: bool,
                            subresource: str, user: Any, field_manager: str | None) -> Obj:
        name = meta.name(old)
        if subresource == "status":
            strategy.prepare_for_status_update(self.resource.group, self.resource.plural, obj,
                                               old)
        elif subresource == "finalize":
            strategy.prepare_for_finalize_update(obj, old)
        elif subresource == EPHEMERAL_CONTAINERS:
            defaults.apply_defaults(self.resource.group, self.resource.version,
                                    self.resource.kind, obj)
            strategy.prepare_for_ephemeral_containers_update(obj, old)
        elif self.custom is not None:
            self.custom.default(obj)
            self.custom.prepare_for_update(obj, old)
        else:
            defaults.apply_defaults(self.resource.group, self.resource.version,
                                    self.resource.kind, obj)
            strategy.prepare_for_update(self.resource.group, self.resource.plural, obj, old,
                                        has_status=self._has_status())
        self._keep_system_fields(obj, old)
        if field_manager is not None:
            managedfields.update(old, obj, manager=field_manager,
                                 scope=self._fields_scope(subresource))
        await self.admission.admit(admission.Attributes(
            operation="UPDATE", resource=self.resource, namespace=meta.namespace(old),
            name=name, obj=obj, old=old, user=user, dry_run=dry_run))
        self._validate(obj, old, subresource=subresource)
        if _should_delete_during_update(obj, old):
            # The last finalizer is gone from an object being deleted: finish the deletion.
            return await self._remove(key, old, dry_run=dry_run)
        if obj == old:
            return self.served(old)  # no-op writes keep the resourceVersion, as upstream
        if dry_run:
            return self.served(obj)
        try:
            return self.served(await self.store.update(
                key, obj, expected_revision=int(meta.resource_version(old))))
        except storage_errors.Conflict as exc:
            raise errors.object_modified(self.resource.qualified, name) from exc
        except storage_errors.KeyNotFound as exc:
            raise errors.not_found(self.resource.qualified, name) from exc

    def _fields_scope(self, subresource: str) -> managedfields.Scope:
        return managedfields.Scope(self.resource.group, self.resource.version,
                                   self.resource.kind, subresource=subresource,
                                   has_status=self._has_status())

    def _keep_system_fields(self, obj: Obj, old: Obj) -> None:
        md = obj.setdefault("metadata", {})
        old_md = old["metadata"]
        for system_field in ("uid", "creationTimestamp", "deletionTimestamp",
                             "deletionGracePeriodSeconds", "resourceVersion"):
            if system_field in old_md:
                md[system_field] = old_md[system_field]
            else:
                md.pop(system_field, None)
        if self.custom is None and \
                (self.resource.group, self.resource.plural) not in strategy.GENERATION_KINDS:
            # Only the strategies of generation-tracking kinds set it; clients never do.
            if "generation" in old_md:
                md["generation"] = old_md["generation"]
            else:
                md.pop("generation", None)
        md["name"] = old_md["name"]
        if "namespace" in old_md:
            md["namespace"] = old_md["namespace"]

    async def patch(self, namespace: str, name: str,
                    apply_patch: Callable[[Obj], Awaitable[Obj] | Obj], *,
                    dry_run: bool = False, subresource: str = "", user: Any = None,
                    field_manager: str | None = None) -> Obj:
        """Read, patch, write with compare-and-swap; retried on a lost race unless the patch
        itself carries a resourceVersion (then a mismatch is the client's 409).
        `field_manager` as for `update`; None for apply patches, which set managed fields
        themselves."""
        key = self._key(namespace, name)
        for attempt in range(PATCH_RETRIES):
            try:
                old = await self.store.get(key)
            except storage_errors.KeyNotFound as exc:
                raise errors.not_found(self.resource.qualified, name) from exc
            patched = apply_patch(self.served(old))
            if isinstance(patched, Awaitable):
                patched = await patched
            wanted = meta.resource_version(patched)
            if wanted and wanted != meta.resource_version(old):
                raise errors.object_modified(self.resource.qualified, name)
            self._check_identity(patched, namespace, name)
            try:
                return await self._write_update(key, patched, old, dry_run=dry_run,
                                                subresource=subresource, user=user,
                                                field_manager=field_manager)
            except errors.StatusError as exc:
                if exc.reason != "Conflict" or attempt == PATCH_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    async def delete(self, namespace: str, name: str, options: DeleteOptions, *,
                     dry_run: bool = False, user: Any = None) -> tuple[Obj, bool]:
        """Delete, or start a graceful/finalized deletion. Returns (object, gone): gone is True
        when the object left storage (the handler then answers with it and 200)."""
        key = self._key(namespace, name)
        try:
            old = await self.store.get(key)
        except storage_errors.KeyNotFound as exc:
            raise errors.not_found(self.resource.qualified, name) from exc
        qualified_kind = f"{self.resource.kind}.{self.resource.group}" if self.resource.group \
            else self.resource.kind
        if options.preconditions_uid and options.preconditions_uid != meta.uid(old):
            raise errors.conflict(
                qualified_kind, name,
                f"the UID in the precondition ({options.preconditions_uid}) does not match the "
                f"UID in record ({meta.uid(old)}). The object might have been deleted and then "
                "recreated")
        if options.preconditions_resource_version and \
                options.preconditions_resource_version != meta.resource_version(old):
            raise errors.conflict(
                qualified_kind, name,
                "the ResourceVersion in the precondition "
                f"({options.preconditions_resource_version}) does not match the "
                f"ResourceVersion in record ({meta.resource_version(old)}). The object might "
                "have been modified")
        await self.admission.admit(admission.Attributes(
            operation="DELETE", resource=self.resource, namespace=namespace, name=name,
            obj=None, old=old, user=user, dry_run=dry_run))
        updated = self._begin_deletion(old, options)
        if updated is None:
            return await self._remove(key, old, dry_run=dry_run), True
        if updated == old:
            return self.served(old), False
        if dry_run:
            return self.served(updated), False
        try:
            stored = await self.store.update(key, updated,
                                             expected_revision=int(meta.resource_version(old)))
        except storage_errors.Conflict as exc:
            raise errors.object_modified(self.resource.qualified, name) from exc
        return self.served(stored), False

    def _begin_deletion(self, old: Obj, options: DeleteOptions) -> Obj | None:
        """The object with deletionTimestamp (and finalizers for the propagation policy), or
        None when it can go from storage at once."""
        grace = self._grace_period(old, options)
        if self.custom is not None:
            old = self.custom.prepare_for_delete(old)
        finalizers_ = list(meta.finalizers(old))
        policy = options.propagation_policy
        if policy == "Orphan" and FINALIZER_ORPHAN not in finalizers_:
            finalizers_.append(FINALIZER_ORPHAN)
        elif policy == "Foreground" and FINALIZER_FOREGROUND not in finalizers_:
            finalizers_.append(FINALIZER_FOREGROUND)
        if not finalizers_ and not grace and not _namespace_finalizers(old):
            return None
        updated = copy.deepcopy(old)
        md = updated["metadata"]
        if finalizers_:
            md["finalizers"] = finalizers_
        if not md.get("deletionTimestamp"):
            moment = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=grace)
            md["deletionTimestamp"] = meta.format_time(moment)
            md["deletionGracePeriodSeconds"] = grace
        elif grace < int(md.get("deletionGracePeriodSeconds") or 0):
            md["deletionGracePeriodSeconds"] = grace  # a grace period may only shorten
        if (self.resource.group, self.resource.plural) == ("", "namespaces"):
            updated.setdefault("status", {})["phase"] = "Terminating"
        return updated

    def _grace_period(self, old: Obj, options: DeleteOptions) -> int:
        """Only pods bound to a node are deleted gracefully (their kubelet confirms); upstream's
        pod strategy deletes unscheduled or finished pods at once."""
        if (self.resource.group, self.resource.plural) != ("", "pods"):
            return 0
        spec = old.get("spec") or {}
        phase = (old.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            return 0
        if options.grace_period_seconds is not None:
            return max(options.grace_period_seconds, 0)
        return int(spec.get("terminationGracePeriodSeconds", 30))

    async def _remove(self, key: str, old: Obj, *, dry_run: bool) -> Obj:
        if dry_run:
            return self.served(old)
        try:
            return self.served(await self.store.delete(
                key, expected_revision=int(meta.resource_version(old))))
        except storage_errors.KeyNotFound as exc:
            raise errors.not_found(self.resource.qualified, meta.name(old)) from exc
        except storage_errors.Conflict as exc:
            raise errors.object_modified(self.resource.qualified, meta.name(old)) from exc

    async def delete_collection(self, namespace: str, list_options: ListOptions,
                                options: DeleteOptions, *, dry_run: bool = False,
                                user: Any = None) -> Obj:
        listed = await self.list(namespace, ListOptions(
            label_selector=list_options.label_selector,
            field_selector=list_options.field_selector))
        deleted = []
        for item in listed["items"]:
            try:
                obj, _ = await self.delete(meta.namespace(item), meta.name(item), options,
                                           dry_run=dry_run, user=user)
            except errors.StatusError as exc:
                if exc.code != 404:
                    raise
                continue
            deleted.append(obj)
        listed["items"] = deleted
        return listed


def _should_delete_during_update(new: Obj, old: Obj) -> bool:
    """Upstream's ShouldDeleteDuringUpdate: an object being deleted leaves storage once its last
    finalizer is gone and no grace period is still running (a pod's kubelet reporting status
    during its graceful termination must not delete it)."""
    if not meta.deletion_timestamp(old) or meta.finalizers(new):
        return False
    if _namespace_finalizers(new):
        return False
    return not int(old["metadata"].get("deletionGracePeriodSeconds") or 0)


def _namespace_finalizers(obj: Obj) -> list[str]:
    """A Namespace's spec.finalizers (the `kubernetes` finalizer the namespace controller
    removes through /finalize once the namespace is empty); empty for other kinds."""
    if obj.get("kind") != "Namespace":
        return []
    return list((obj.get("spec") or {}).get("finalizers") or [])
