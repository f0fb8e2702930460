"""ResourceQuota: a create may not take a namespace past any of its quotas.

Mirrors staging/src/k8s.io/apiserver/pkg/admission/plugin/resourcequota (controller.go
CheckRequest): every quota whose scopes select the object and whose hard resources it is
charged for must have usage recorded for them, else `status unknown for quota`; pods must state
the cpu and memory a quota tracks (`failed quota`); the charge plus what is used may not exceed
what is hard (`exceeded quota: <name>, requested: ..., used: ..., limited: ...`). A create that
fits raises `status.used` at once, as upstream does with an optimistic status update, so the
next create sees it before the ResourceQuota controller recounts; a conflicting writer makes
it read the quotas again and re-check. Dry runs are checked but charge nothing.

Departure: upstream also charges updates (pod resize, service type, claim expansion); here
only creates are charged, and the controller's recount covers the rest.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kajitori.admission import refusal
from kajitori.admission.interface import Attributes
from kajitori.api import errors
from kajitori.quota import evaluator
from kajitori.storage import errors as storage_errors

Obj = dict[str, Any]

PLUGIN_NAME = "ResourceQuota"
# Upstream's default ignored resources: events are never charged.
IGNORED_RESOURCES = frozenset({("", "events"), ("events.k8s.io", "events")})
STATUS_UNKNOWN = "status unknown for quota: {quota}, resources: {resources}"
FAILED_QUOTA = "failed quota: {quota}: {reason}"
EXCEEDED = "exceeded quota: {quota}, requested: {requested}, used: {used}, limited: {hard}"
RETRIES_EXHAUSTED = "resource quota evaluation could not record usage: too many conflicts"
MAX_ATTEMPTS = 5


class ResourceQuota:
    name = PLUGIN_NAME

    def __init__(self, *, list_quotas: Callable[[str], Awaitable[list[Obj]]],
                 update_quota_status: Callable[[Obj], Awaitable[None]]) -> None:
        """`update_quota_status` stores a quota's new status if its resourceVersion is still
        current, else raises `kajitori.storage.errors.Conflict`."""
        self._list_quotas = list_quotas
        self._update_quota_status = update_quota_status

    async def admit(self, attrs: Attributes) -> None:
        resource = attrs.resource
        if attrs.operation != "CREATE" or attrs.subresource or attrs.obj is None \
                or not resource.namespaced or not attrs.namespace \
                or (resource.group, resource.plural) in IGNORED_RESOURCES:
            return
        for _ in range(MAX_ATTEMPTS):
            quotas = await self._list_quotas(attrs.namespace)
            charged = check_request(quotas, attrs)
            if attrs.dry_run:
                return
            try:
                for quota in charged:
                    await self._update_quota_status(quota)
            except storage_errors.Conflict:
                continue
            return
        raise errors.internal_error(RETRIES_EXHAUSTED)


def check_request(quotas: list[Obj], attrs: Attributes) -> list[Obj]:
    """The quotas `attrs.obj` is charged to, each a copy with its new `status.used`; raises
    the 403 upstream raises when the object may not be charged or would exceed one."""
    group, plural = attrs.resource.group, attrs.resource.plural
    obj = attrs.obj or {}
    selected: list[tuple[Obj, list[str]]] = []
    for quota in sorted(quotas, key=lambda q: q["metadata"]["name"]):
        hard = (quota.get("status") or {}).get("hard") or {}
        restricted = evaluator.matching_resources(group, plural, list(hard))
        if not restricted or not evaluator.matches_scopes(quota, group, plural, obj):
            continue
        name = quota["metadata"]["name"]
        reason = evaluator.constraints(group, plural, restricted, obj)
        if reason is not None:
            raise refusal.forbidden(attrs, FAILED_QUOTA.format(quota=name, reason=reason))
        used = (quota.get("status") or {}).get("used") or {}
        if any(resource not in used for resource in restricted):
            raise refusal.forbidden(attrs, STATUS_UNKNOWN.format(
                quota=name, resources=",".join(sorted(restricted))))
        selected.append((quota, restricted))
    if not selected:
        return []  # as upstream's CheckRequest: no quota limits it, so nothing to evaluate
    usage = {name: value for name, value in evaluator.usage(group, plural, obj).items()
             if not value.is_zero()}
    charged: list[Obj] = []
    for quota, restricted in selected:
        status = quota.get("status") or {}
        hard = evaluator.parse_list(status.get("hard"))
        used = evaluator.parse_list(status.get("used"))
        requested = {name: usage[name] for name in restricted if name in usage}
        if not requested:
            continue
        new_used = evaluator.add(used, requested)
        exceeded = sorted(name for name in requested if hard[name] < new_used[name])
        if exceeded:
            raise refusal.forbidden(attrs, EXCEEDED.format(
                quota=quota["metadata"]["name"],
                requested=evaluator.pretty({n: requested[n] for n in exceeded}),
                used=evaluator.pretty({n: used[n] for n in exceeded}),
                hard=evaluator.pretty({n: hard[n] for n in exceeded})))
        charged.append({**quota, "status": {**status, "used": evaluator.to_json(new_used)}})
    return charged
