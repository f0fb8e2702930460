"""POST pods/<name>/eviction: delete a pod unless a PodDisruptionBudget forbids it.

Mirrors upstream's EvictionREST (pkg/registry/core/pod/storage/eviction.go), which `kubectl
drain` calls for every pod:

- the body is a policy/v1 (or v1beta1) Eviction whose name must be the URL's; its
  `deleteOptions` are the pod's delete options, `dryRun` taken from the request when the body
  has none;
- a pod that is Pending, Succeeded, Failed or already being deleted is deleted at once, no
  PDB consulted (with its resourceVersion as a precondition when still running, so it cannot
  become Ready meanwhile); conflicts are retried;
- otherwise the PDBs of the pod's namespace whose (non-empty) selector matches it are read:
  more than one is a 500 Status; none lets the pod go; a pod not Ready goes without spending
  the budget when `unhealthyPodEvictionPolicy` is `AlwaysAllow`, or (the default
  `IfHealthyBudget`) when the budget is currently met; else the PDB must allow a disruption:
  its status is written with `disruptionsAllowed` one less and the pod recorded in
  `disruptedPods` (for the disruption controller, `controllers/disruption.py`), or the answer
  is 429 `Cannot evict pod as it would violate the pod's disruption budget.` with a
  `DisruptionBudget` cause naming the budget's needs, or, while the PDB's status lags its
  generation, 429 with Retry-After 10;
- the pod gets the `DisruptionTarget` condition (`EvictionByEvictionAPI`) and is then
  deleted with the eviction's options; the answer is a Success Status, 201.

Departures from upstream: no admission runs on the Eviction object itself (none of our
plugins looks at it); conflicts are retried a fixed number of times half a second apart.
"""

from __future__ import annotations

import asyncio
import datetime
from dataclasses import replace
from typing import Any

from aiohttp import web

from kajitori.api import errors, labels, meta
from kajitori.apiserver import registry, responses
from kajitori.apiserver.handlers.create import decode_body
from kajitori.apiserver.handlers.scope import RequestScope

Obj = dict[str, Any]

EVICTION_GVK = ("policy", "v1", "Eviction")
EVICTION_RETRIES = 20
RETRY_INTERVAL = 0.5
"""Seconds between two tries after a conflict (upstream's EvictionsRetry: 20 steps, 500 ms)."""
MAX_DISRUPTED_POD_SIZE = 2000
PDB_RESOURCE = "poddisruptionbudget.policy"
"""How refusals name the PDB (upstream's `policy.Resource("poddisruptionbudget")`)."""
DISRUPTION_BUDGET_CAUSE = "DisruptionBudget"
VIOLATES_BUDGET = "Cannot evict pod as it would violate the pod's disruption budget."
MULTIPLE_BUDGETS = ("This pod has more than one PodDisruptionBudget, which the eviction "
                    "subresource does not support.")
ALWAYS_ALLOW = "AlwaysAllow"
DISRUPTION_TARGET = "DisruptionTarget"
REASON_EVICTION_BY_EVICTION_API = "EvictionByEvictionAPI"
MESSAGE_EVICTING = "Eviction API: evicting"
DISRUPTION_ALLOWED = "DisruptionAllowed"
PENDING, SUCCEEDED, FAILED = "Pending", "Succeeded", "Failed"


def budget_exhausted(pdb: Obj) -> errors.StatusError:
    """The 429 of a PDB that allows no disruption now (no Retry-After: 0 seconds)."""
    status = pdb.get("status") or {}
    cause = (f"The disruption budget {meta.name(pdb)} needs {status.get('desiredHealthy', 0)} "
             f"healthy pods and has {status.get('currentHealthy', 0)} currently")
    return errors.StatusError(errors.status(429, "TooManyRequests", VIOLATES_BUDGET, {
        "causes": [{"reason": DISRUPTION_BUDGET_CAUSE, "message": cause}]}))


def budget_being_processed(name: str) -> errors.StatusError:
    """The 429 of a PDB whose status the disruption controller has not caught up with."""
    return errors.StatusError(errors.status(429, "TooManyRequests", VIOLATES_BUDGET, {
        "causes": [{"reason": DISRUPTION_BUDGET_CAUSE,
                    "message": f"The disruption budget {name} is still being processed by "
                               "the server."}],
        "retryAfterSeconds": 10}), headers={"Retry-After": "10"})


def is_pod_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def can_ignore_pdb(pod: Obj) -> bool:
    """A pod that is not running (yet, or any more) disrupts nothing by going."""
    return (pod.get("status") or {}).get("phase") in (SUCCEEDED, FAILED, PENDING) or \
        bool(meta.deletion_timestamp(pod))


def should_enforce_resource_version(pod: Obj) -> bool:
    """Guard the delete against the pod becoming Ready meanwhile, unless it is terminal."""
    return (pod.get("status") or {}).get("phase") not in (SUCCEEDED, FAILED) and \
        not meta.deletion_timestamp(pod)


def delete_options(eviction: Obj, *, query_dry_run: bool) -> tuple[registry.DeleteOptions, bool]:
    """The eviction's DeleteOptions and whether this is a dry run (upstream's
    propagateDryRun). Raises StatusError 500 when body and query disagree on dryRun."""
    options = eviction.get("deleteOptions") or {}
    body_dry_run = list(options.get("dryRun") or [])
    query = ["All"] if query_dry_run else []
    if body_dry_run and query and body_dry_run != query:
        raise errors.unknown("Non-matching dry-run options in request and content: "
                             f"[{' '.join(query)}] and [{' '.join(body_dry_run)}]")
    policy = options.get("propagationPolicy")
    if policy is None and options.get("orphanDependents") is True:
        policy = "Orphan"
    preconditions = options.get("preconditions") or {}
    return registry.DeleteOptions(
        grace_period_seconds=options.get("gracePeriodSeconds"), propagation_policy=policy,
        preconditions_uid=preconditions.get("uid"),
        preconditions_resource_version=preconditions.get("resourceVersion"),
    ), bool(body_dry_run or query)


async def create_eviction(scope: RequestScope, *, pdbs: registry.Registry) -> web.Response:
    """Serve one POST to `pods/<name>/eviction`; the caller has checked the verb. `pdbs` is
    the registry of policy/v1 poddisruptionbudgets."""
    eviction, _warnings = await decode_body(scope, gvk=EVICTION_GVK)
    name = scope.info.name
    if meta.name(eviction) != name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    options, dry_run = delete_options(eviction, query_dry_run=scope.dry_run)
    evictor = _Evictor(scope, pdbs=pdbs, options=options, dry_run=dry_run)
    result = await evictor.evict(name)
    return responses.json_response(result, status=result["code"])


class _Evictor:
    def __init__(self, scope: RequestScope, *, pdbs: registry.Registry,
                 options: registry.DeleteOptions, dry_run: bool) -> None:
        self._scope = scope
        self._pods = scope.registry
        self._pdbs = pdbs
        self._namespace = scope.info.namespace
        self._options = options
        self._dry_run = dry_run

    async def evict(self, name: str) -> Obj:
        """The Status to answer with; raises the refusals as StatusErrors."""
        rv_unset = self._options.preconditions_resource_version is None
        pod: Obj = {}
        for attempt in range(EVICTION_RETRIES):
            pod = await self._pods.get(self._namespace, name)
            if not can_ignore_pdb(pod):
                break
            options = self._options
            if should_enforce_resource_version(pod) and rv_unset:
                options = replace(options,
                                  preconditions_resource_version=meta.resource_version(pod))
            try:
                await self._add_condition_and_delete(name, options)
            except errors.StatusError as exc:
                if exc.code != 409 or not rv_unset or attempt == EVICTION_RETRIES - 1:
                    raise
                await asyncio.sleep(RETRY_INTERVAL)
                continue
            return _success()
        matching = await self._pdbs_for(pod)
        if len(matching) > 1:
            body = errors.status(500, "", MULTIPLE_BUDGETS)
            del body["reason"]
            return body
        guard_resource_version = False
        if matching:
            pdb = matching[0]
            status = pdb.get("status") or {}
            policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy")
            if not is_pod_ready(pod) and (
                    policy == ALWAYS_ALLOW or
                    (status.get("currentHealthy", 0) >= status.get("desiredHealthy", 0) > 0)):
                guard_resource_version = True
            else:
                await self._check_and_decrement(pdb, pod_name=name)
        options = self._options
        if guard_resource_version:
            options = replace(options, preconditions_resource_version=meta.resource_version(pod))
        try:
            await self._add_condition_and_delete(name, options)
        except errors.StatusError as exc:
            if exc.code == 409 and guard_resource_version and rv_unset:
                # The pod changed (it may be Ready now): let the client try again.
                raise budget_being_processed(meta.name(matching[0])) from exc
            raise
        return _success()

    async def _pdbs_for(self, pod: Obj) -> list[Obj]:
        listed = await self._pdbs.list(self._namespace, registry.ListOptions())
        found = []
        for pdb in listed["items"]:
            try:
                selector = labels.from_label_selector((pdb.get("spec") or {}).get("selector"))
            except errors.StatusError:
                continue  # an invalid selector matches nothing
            if selector.empty() or not selector.matches(meta.labels(pod)):
                continue  # an empty selector matches nothing here, unlike the controller's
            found.append(pdb)
        return found

    async def _check_and_decrement(self, pdb: Obj, *, pod_name: str) -> None:
        """Spend one of the PDB's disruptions on `pod_name`, re-reading the PDB after a lost
        race. Raises the 429s and 403s of the module docstring."""
        for attempt in range(EVICTION_RETRIES):
            if attempt:
                pdb = await self._pdbs.get(self._namespace, meta.name(pdb))
            status = dict(pdb.get("status") or {})
            if status.get("observedGeneration", 0) < meta.generation(pdb):
                raise budget_being_processed(meta.name(pdb))
            allowed = int(status.get("disruptionsAllowed", 0))
            if allowed < 0:
                raise errors.forbidden(PDB_RESOURCE, meta.name(pdb),
                                       "pdb disruptions allowed is negative")
            if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_POD_SIZE:
                raise errors.forbidden(PDB_RESOURCE, meta.name(pdb),
                                       "DisruptedPods map too big - too many evictions not "
                                       "confirmed by PDB controller")
            if allowed == 0:
                raise budget_exhausted(pdb)
            if self._dry_run:
                return
            now = meta.format_time(datetime.datetime.now(datetime.UTC))
            status["disruptionsAllowed"] = allowed - 1
            if allowed - 1 == 0:
                _set_insufficient(status, now=now)
            status["disruptedPods"] = {**(status.get("disruptedPods") or {}), pod_name: now}
            try:
                await self._pdbs.update(self._namespace, meta.name(pdb), {**pdb, "status": status},
                                        subresource="status", user=self._scope.user)
                return
            except errors.StatusError as exc:
                if exc.code != 409 or attempt == EVICTION_RETRIES - 1:
                    raise
                await asyncio.sleep(RETRY_INTERVAL)

    async def _add_condition_and_delete(self, name: str, options: registry.DeleteOptions
                                        ) -> None:
        """Mark the pod a DisruptionTarget (checking the preconditions against the latest
        pod), then delete it; a resourceVersion precondition moves to the marked pod."""
        if not self._dry_run:
            updated = await self._pods.patch(
                self._namespace, name, lambda pod: _with_disruption_target(pod, options),
                subresource="status", user=self._scope.user)
            if options.preconditions_resource_version is not None:
                options = replace(options,
                                  preconditions_resource_version=meta.resource_version(updated))
        await self._pods.delete(self._namespace, name, options, dry_run=self._dry_run,
                                user=self._scope.user)


def _with_disruption_target(pod: Obj, options: registry.DeleteOptions) -> Obj:
    if options.preconditions_uid and options.preconditions_uid != meta.uid(pod):
        raise errors.conflict("pods", meta.name(pod), (
            f"Precondition failed: UID in precondition: {options.preconditions_uid}, "
            f"UID in object meta: {meta.uid(pod)}"))
    wanted_rv = options.preconditions_resource_version
    if wanted_rv and wanted_rv != meta.resource_version(pod):
        raise errors.conflict("pods", meta.name(pod), (
            f"Precondition failed: ResourceVersion in precondition: {wanted_rv}, "
            f"ResourceVersion in object meta: {meta.resource_version(pod)}"))
    status = dict(pod.get("status") or {})
    conditions = [dict(c) for c in status.get("conditions") or []]
    wanted = {"type": DISRUPTION_TARGET, "status": "True",
              "reason": REASON_EVICTION_BY_EVICTION_API, "message": MESSAGE_EVICTING}
    now = meta.now()
    for condition in conditions:
        if condition.get("type") == DISRUPTION_TARGET:
            if condition.get("status") != "True":
                condition["lastTransitionTime"] = now
            condition.update(wanted)
            break
    else:
        conditions.append({**wanted, "lastProbeTime": None, "lastTransitionTime": now})
    status["conditions"] = conditions
    # The pod as read: a resourceVersion here would make the patch a precondition of its own.
    md = {k: v for k, v in (pod.get("metadata") or {}).items() if k != "resourceVersion"}
    return {**pod, "metadata": md, "status": status}


def _set_insufficient(status: Obj, *, now: str) -> None:
    """The DisruptionAllowed condition once the last allowed disruption is spent."""
    conditions = [dict(c) for c in status.get("conditions") or []]
    wanted = {"type": DISRUPTION_ALLOWED, "status": "False", "reason": "InsufficientPods",
              "message": "", "observedGeneration": status.get("observedGeneration", 0)}
    for condition in conditions:
        if condition.get("type") == DISRUPTION_ALLOWED:
            if condition.get("status") != "False":
                condition["lastTransitionTime"] = now
            condition.update(wanted)
            break
    else:
        conditions.append({**wanted, "lastTransitionTime": now})
    status["conditions"] = conditions


def _success() -> Obj:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "code": 201}
