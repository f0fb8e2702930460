"""The admission chain, in upstream's order (pkg/kubeapiserver/options/plugins.go,
AllOrderedPlugins), of the plugins Kajitori has so far.

Kept out for now: PodSecurity, NodeRestriction and webhooks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kajitori.admission import (
    defaultstorageclass,
    defaulttolerationseconds,
    limitranger,
    namespacelifecycle,
    priority,
    resourcequota,
    serviceaccount,
)
from kajitori.admission.interface import Chain

Obj = dict[str, Any]


def default_chain(*, get_namespace: Callable[[str], Awaitable[Obj | None]],
                  list_priority_classes: Callable[[], Awaitable[list[Obj]]],
                  list_storage_classes: Callable[[], Awaitable[list[Obj]]],
                  list_limit_ranges: Callable[[str], Awaitable[list[Obj]]],
                  list_quotas: Callable[[str], Awaitable[list[Obj]]],
                  get_service_account: Callable[[str, str], Awaitable[Obj | None]],
                  update_quota_status: Callable[[Obj], Awaitable[None]]) -> Chain:
    """`list_limit_ranges` and `list_quotas` list a namespace's objects; see
    `resourcequota.ResourceQuota` for `update_quota_status`; `get_service_account(namespace,
    name)` is None when there is no such ServiceAccount."""
    return Chain([
        namespacelifecycle.NamespaceLifecycle(get_namespace=get_namespace),
        limitranger.LimitRanger(list_limit_ranges=list_limit_ranges),
        serviceaccount.ServiceAccount(get_service_account=get_service_account),
        priority.Priority(list_priority_classes=list_priority_classes),
        defaulttolerationseconds.DefaultTolerationSeconds(),
        defaultstorageclass.DefaultStorageClass(list_storage_classes=list_storage_classes),
        resourcequota.ResourceQuota(list_quotas=list_quotas,
                                    update_quota_status=update_quota_status),
    ])
