"""The admission chain, in upstream's order (pkg/kubeapiserver/options/plugins.go,
AllOrderedPlugins), of the plugins Kajitori has so far.

Kept out for now, with the issue that brings them: ServiceAccount (needs the `default` account
the ServiceAccount controller creates, #5), LimitRanger and ResourceQuota (#5), PodSecurity,
NodeRestriction and webhooks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kajitori.admission import defaulttolerationseconds, namespacelifecycle, priority
from kajitori.admission.interface import Chain

Obj = dict[str, Any]


def default_chain(*, get_namespace: Callable[[str], Awaitable[Obj | None]],
                  list_priority_classes: Callable[[], Awaitable[list[Obj]]]) -> Chain:
    return Chain([
        namespacelifecycle.NamespaceLifecycle(get_namespace=get_namespace),
        priority.Priority(list_priority_classes=list_priority_classes),
        defaulttolerationseconds.DefaultTolerationSeconds(),
    ])
