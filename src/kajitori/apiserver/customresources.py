"""CustomResourceDefinitions turned into served resources, inside the API server.

Mirrors what staging/src/k8s.io/apiextensions-apiserver runs beside its handler: the naming
controller (.../controller/status/naming_controller.go: accepted names and `NamesAccepted`),
the establishing controller (.../controller/establish: `Established`), the discovery and
OpenAPI controllers (.../apiserver/customresource_discovery_controller.go,
.../controller/openapiv3) and the finalizer (.../controller/finalizer/crd_finalizer.go: delete
every instance, then drop `customresourcecleanup.apiextensions.k8s.io`). Like upstream's, this
apiserver owns its storage: it watches the CRD objects in the store and writes their status
there directly (compare-and-swap on the revision), never through HTTP.

Departures: naming and establishing are one write (NamesAccepted and Established both True,
where upstream passes through `Established=False, reason Installing` for a moment); instances
are deleted one by one through their registry (finalizers and all) and their absence is polled
every `CLEANUP_POLL_SECONDS` for up to `CLEANUP_TIMEOUT_SECONDS`, as upstream polls, then
retried after `CLEANUP_RETRY_SECONDS` (upstream requeues with its rate limiter).

Concurrency: one task reads the watch and syncs CRDs one at a time (naming is not safe to run
concurrently, as upstream's single worker); each terminating CRD's cleanup runs in its own task.
All tasks belong to `run`, which `start` launches and `stop` cancels.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Callable
from typing import Any

from kajitori.api import catalogue, errors, meta
from kajitori.api import scale as scale_
from kajitori.api.apiextensions import (
    customresource,
    openapibuilder,
    structural,
    tableconvertor,
)
from kajitori.api.apiextensions import customresourcedefinition as crds
from kajitori.apiserver import registry as registry_
from kajitori.storage import errors as storage_errors
from kajitori.storage.interface import Store

log = logging.getLogger(__name__)

Obj = dict[str, Any]
RegistryFor = Callable[[str, str, str], registry_.Registry | None]

CRD_PREFIX = f"/registry/{crds.GROUP}/{crds.RESOURCE}/"
CRD_VERSION = "v1"
CLEANUP_POLL_SECONDS = 0.5
CLEANUP_TIMEOUT_SECONDS = 60.0
CLEANUP_RETRY_SECONDS = 5.0
WATCH_RETRY_SECONDS = 1.0


class CustomResources:
    """The custom resources a store's CRDs define, served through `catalogue`.

    `strategy_for` answers the registry's rules for any served custom resource (and the CRD
    kind itself); `openapi_document` the OpenAPI v3 document of a custom group-version;
    `on_change(groups)` is called after the catalogue changed for those groups, so the
    apiserver drops cached registries and documents. `registry_for` reaches the instances a
    finalizing CRD must delete."""

    def __init__(self, *, store: Store, resources: catalogue.Catalogue,
                 registry_for: RegistryFor, on_change: Callable[[set[str]], None]) -> None:
        self._store = store
        self._catalogue = resources
        self._registry_for = registry_for
        self._on_change = on_change
        self._crds: dict[str, Obj] = {}  # name -> latest stored CRD
        self._strategies: dict[tuple[str, str, str], customresource.CustomResourceStrategy] = {}
        self._crd_strategy = crds.CustomResourceDefinitionStrategy()
        self._schemas: dict[tuple[str, str, str], Obj | None] = {}  # (group, version, kind)
        self._served: dict[str, list[Obj]] = {}  # group -> the CRDs it was last built from
        self._cleanups: dict[str, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._group: asyncio.TaskGroup | None = None

    # ---- serving ----------------------------------------------------------------------

    def strategy_for(self, group: str, version: str, plural: str
                     ) -> customresource.CustomStrategy | None:
        if (group, plural) == (crds.GROUP, crds.RESOURCE):
            return self._crd_strategy
        return self._strategies.get((group, version, plural))

    def scale_access(self, group: str, version: str, plural: str) -> scale_.ScaleAccess | None:
        strategy = self._strategies.get((group, version, plural))
        return strategy.scale if strategy is not None else None

    def openapi_document(self, gv: catalogue.GroupVersion) -> Obj | None:
        if not self._catalogue.is_custom(gv.group):
            return None
        return openapibuilder.build_document(gv, {
            r.kind: self._schemas.get((gv.group, gv.version, r.kind)) for r in gv.resources})

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Serve what the stored CRDs define (settling their status first), then follow the
        store. Returns once the first sync is done: custom resources are served before the
        apiserver reports ready."""
        page = await self._store.list(CRD_PREFIX)
        for crd in page.items:
            self._crds[meta.name(crd)] = crd
        for name in sorted(self._crds):
            await self._sync(name)
        self._task = asyncio.create_task(self.run(since=page.revision),
                                         name="customresourcedefinitions")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self, *, since: int) -> None:
        """Follow CRD changes from revision `since` until cancelled; a compacted watch
        relists."""
        async with asyncio.TaskGroup() as group:
            self._group = group
            for name, crd in self._crds.items():
                if meta.deletion_timestamp(crd) and \
                        crds.CLEANUP_FINALIZER in meta.finalizers(crd):
                    self._start_cleanup(name)
            try:
                while True:
                    try:
                        async for event in self._store.watch(CRD_PREFIX, since=since):
                            since = event.revision
                            name = meta.name(event.object)
                            if event.type == "DELETED":
                                self._crds.pop(name, None)
                            else:
                                self._crds[name] = event.object
                            await self._sync(name)
                    except storage_errors.Compacted:
                        since = await self._relist()
                    except Exception:  # logged once; the watch restarts
                        log.exception("watching CustomResourceDefinitions failed; restarting")
                        await asyncio.sleep(WATCH_RETRY_SECONDS)
                        since = await self._relist()
            finally:
                self._group = None

    async def _relist(self) -> int:
        page = await self._store.list(CRD_PREFIX)
        self._crds = {meta.name(crd): crd for crd in page.items}
        for group in {crd["spec"].get("group", "") for crd in self._crds.values()} | \
                {g for g, _, _ in self._strategies}:
            self._serve_group(group)
        for name in sorted(self._crds):
            await self._sync(name)
        return page.revision

    # ---- sync ---------------------------------------------------------------------------

    async def _sync(self, name: str) -> None:
        """Bring one CRD's status and serving up to date; a failure is logged and left for
        the CRD's next event (or the next relist)."""
        try:
            crd = self._crds.get(name)
            if crd is not None:
                crd = await self._settle_names(crd)
                if meta.deletion_timestamp(crd) and \
                        crds.CLEANUP_FINALIZER in meta.finalizers(crd):
                    self._start_cleanup(name)
            group = (crd or {}).get("spec", {}).get("group") or name.split(".", 1)[-1]
            self._serve_group(group)
        except Exception:  # one CRD must not stop the others
            log.exception("syncing CustomResourceDefinition %s failed", name)

    async def _settle_names(self, crd: Obj) -> Obj:
        """The naming and establishing controllers: accepted names and conditions."""
        if meta.deletion_timestamp(crd) and crds.is_condition_true(crd, crds.ESTABLISHED):
            return crd  # names stay while instances are removed
        updated = copy.deepcopy(crd)
        status = updated.setdefault("status", {})
        accepted, reason_message, ok = self._accepted_names(crd)
        status["acceptedNames"] = accepted
        crds.set_condition(updated, crds.NAMES_ACCEPTED, crds.TRUE if ok else crds.FALSE,
                           reason_message)
        if ok:
            crds.set_condition(updated, crds.ESTABLISHED, crds.TRUE,
                               crds.INITIAL_NAMES_ACCEPTED)
        elif not crds.is_condition_true(crd, crds.ESTABLISHED):
            crds.set_condition(updated, crds.ESTABLISHED, crds.FALSE, crds.NOT_ACCEPTED)
        if updated == crd:
            return crd
        return await self._write(updated)

    def _accepted_names(self, crd: Obj) -> tuple[Obj, tuple[str, str], bool]:
        """upstream calculateNamesAndConditions: each requested name is taken unless another
        CRD of the group accepted it already."""
        spec = crd.get("spec") or {}
        group = spec.get("group", "")
        requested = spec.get("names") or {}
        current = (crd.get("status") or {}).get("acceptedNames") or {}
        resources: set[str] = set()
        kinds: set[str] = set()
        for other_name, other in self._crds.items():
            if other_name == meta.name(crd) or other["spec"].get("group") != group:
                continue
            other_names = (other.get("status") or {}).get("acceptedNames") or {}
            resources.update(n for n in (other_names.get("plural"), other_names.get("singular"),
                                         *(other_names.get("shortNames") or ())) if n)
            kinds.update(n for n in (other_names.get("kind"), other_names.get("listKind")) if n)
        accepted = dict(current)
        problem: tuple[str, str] | None = None
        for key, used, reason in (("plural", resources, "PluralConflict"),
                                  ("singular", resources, "SingularConflict"),
                                  ("kind", kinds, "KindConflict"),
                                  ("listKind", kinds, "ListKindConflict")):
            wanted = requested.get(key, "")
            if wanted != current.get(key) and wanted in used:
                problem = (reason, crds.NAME_IN_USE.format(name=wanted))
            else:
                accepted[key] = wanted
        short_names = list(requested.get("shortNames") or [])
        taken = [s for s in short_names if s in resources
                 and s not in (current.get("shortNames") or [])]
        if taken:
            problem = ("ShortNamesConflict",
                       ", ".join(crds.NAME_IN_USE.format(name=s) for s in taken))
        elif short_names:
            accepted["shortNames"] = short_names
        else:
            accepted.pop("shortNames", None)
        if requested.get("categories"):
            accepted["categories"] = list(requested["categories"])
        else:
            accepted.pop("categories", None)
        if problem is not None:
            return accepted, problem, False
        return accepted, crds.NO_CONFLICTS, True

    async def _write(self, crd: Obj) -> Obj:
        """Store `crd` if nobody wrote it since it was read (else the next event retries);
        an object left without finalizers while being deleted leaves the store."""
        key = CRD_PREFIX + meta.name(crd)
        revision = int(meta.resource_version(crd))
        try:
            if meta.deletion_timestamp(crd) and not meta.finalizers(crd):
                await self._store.delete(key, expected_revision=revision)
                return crd
            stored = await self._store.update(key, crd, expected_revision=revision)
        except (storage_errors.Conflict, storage_errors.KeyNotFound):
            return crd
        self._crds[meta.name(stored)] = stored
        return stored

    # ---- serving state ----------------------------------------------------------------

    def _serve_group(self, group: str) -> None:
        """Rebuild what the catalogue serves for one custom group from its established CRDs."""
        members = sorted((crd for crd in self._crds.values()
                          if crd["spec"].get("group") == group
                          and crds.is_condition_true(crd, crds.ESTABLISHED)),
                         key=meta.name)
        # What serving depends on: a status-only change (conditions) changes nothing served.
        basis = [{"spec": crd["spec"], "names": crd["status"].get("acceptedNames"),
                  "deleting": bool(meta.deletion_timestamp(crd))} for crd in members]
        if self._served.get(group) == basis:
            return
        by_version: dict[str, list[catalogue.Resource]] = {}
        strategies: dict[tuple[str, str, str], customresource.CustomResourceStrategy] = {}
        schemas: dict[tuple[str, str, str], Obj | None] = {}
        for crd in members:
            for version in crds.served_versions(crd):
                resource = crds.served_resource(crd, version)
                by_version.setdefault(version, []).append(resource)
                strategies[(group, version, resource.plural)] = _strategy(crd, resource)
                schema = _schema(crd, version)
                schemas[(group, version, resource.kind)] = \
                    schema if schema is not None and structural.is_structural(schema) else None
        versions = [catalogue.GroupVersion(group, v, tuple(by_version[v]))
                    for v in crds.sort_versions(list(by_version))]
        try:
            self._catalogue.set_group(group, versions)
        except ValueError:
            log.warning("CustomResourceDefinitions of built-in group %s are not served", group)
            return
        self._served[group] = basis
        for key in [k for k in self._strategies if k[0] == group]:
            del self._strategies[key]
        for key in [k for k in self._schemas if k[0] == group]:
            del self._schemas[key]
        self._strategies.update(strategies)
        self._schemas.update(schemas)
        self._on_change({group})

    # ---- cleanup ------------------------------------------------------------------------

    def _start_cleanup(self, name: str) -> None:
        running = self._cleanups.get(name)
        if running is not None and not running.done():
            return
        if self._group is None:  # during start: run() picks it up from the first event
            return
        self._cleanups[name] = self._group.create_task(self._cleanup(name),
                                                       name=f"crd-cleanup-{name}")

    async def _cleanup(self, name: str) -> None:
        """The finalizer: Terminating, delete every instance, wait for them to go, then drop
        the finalizer (which deletes the CRD)."""
        crd = self._crds.get(name)
        if crd is None:
            return
        updated = copy.deepcopy(crd)
        crds.set_condition(updated, crds.TERMINATING, crds.TRUE,
                           crds.INSTANCE_DELETION_IN_PROGRESS)
        crd = await self._write(updated)
        if crds.is_condition_true(crd, crds.ESTABLISHED):
            while failure := await self._delete_instances(crd):
                # Instances held by finalizers nobody removes: say so, and try again later.
                updated = copy.deepcopy(self._crds.get(name) or crd)
                crds.set_condition(updated, crds.TERMINATING, crds.TRUE,
                                   (crds.INSTANCE_DELETION_FAILED, failure))
                await self._write(updated)
                await asyncio.sleep(CLEANUP_RETRY_SECONDS)
                crd = self._crds.get(name) or {}
                if not meta.deletion_timestamp(crd):
                    return
            final = crds.INSTANCE_DELETION_COMPLETED
        else:
            final = crds.NEVER_ESTABLISHED
        updated = copy.deepcopy(self._crds.get(name) or crd)
        crds.set_condition(updated, crds.TERMINATING, crds.FALSE, final)
        md = updated["metadata"]
        md["finalizers"] = [f for f in meta.finalizers(updated) if f != crds.CLEANUP_FINALIZER]
        if not md["finalizers"]:
            del md["finalizers"]
        await self._write(updated)

    async def _delete_instances(self, crd: Obj) -> str:
        """Delete every instance through its registry; '' once none is left, else the
        condition message of the failure."""
        versions = crds.served_versions(crd) or [crds.storage_version(crd)]
        plural = ((crd.get("status") or {}).get("acceptedNames") or {}).get("plural", "")
        reg = self._registry_for(crd["spec"]["group"], versions[0], plural)
        if reg is None:
            return f"could not list instances: no storage for {plural}"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLEANUP_TIMEOUT_SECONDS
        options = registry_.DeleteOptions()
        while True:
            listed = await reg.list("", registry_.ListOptions())
            items = listed["items"]
            if not items:
                return ""
            pending = [item for item in items if not meta.deletion_timestamp(item)]
            for item in pending:
                try:
                    await reg.delete(meta.namespace(item), meta.name(item), options)
                except errors.StatusError as exc:
                    if exc.code != 404:
                        return f"could not issue all deletes: {exc}"
            if pending and loop.time() < deadline:
                continue  # most are gone at once; the rest wait for their finalizers
            if loop.time() >= deadline:
                return ("could not confirm zero CustomResources remaining: timed out waiting "
                        "for the condition")
            await asyncio.sleep(CLEANUP_POLL_SECONDS)


def _schema(crd: Obj, version: str) -> Obj | None:
    schema = (crds.version_entry(crd, version).get("schema") or {}).get("openAPIV3Schema")
    return schema if isinstance(schema, dict) else None


def _strategy(crd: Obj, resource: catalogue.Resource) -> customresource.CustomResourceStrategy:
    entry = crds.version_entry(crd, resource.version)
    subresources = entry.get("subresources") or {}
    scale = subresources.get("scale")
    access = None
    if isinstance(scale, dict):
        access = scale_.for_custom_resource(
            spec_replicas_path=scale.get("specReplicasPath", ""),
            status_replicas_path=scale.get("statusReplicasPath", ""),
            label_selector_path=scale.get("labelSelectorPath") or "")
    group = crd["spec"].get("group", "")
    return customresource.CustomResourceStrategy(
        resource=resource,
        storage_api_version=meta.api_version(group, crds.storage_version(crd)),
        schema=_schema(crd, resource.version),
        status_enabled="status" in subresources,
        scale=access,
        scale_paths=scale if isinstance(scale, dict) else None,
        printer=tableconvertor.printer(tableconvertor.columns_for_version(crd,
                                                                          resource.version)),
        terminating=bool(meta.deletion_timestamp(crd)))
