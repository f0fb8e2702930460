"""Priority: a pod's priority comes from its PriorityClass, or the global default, or 0.

Mirrors plugin/pkg/admission/priority/admission.go for pods: the class named in
`priorityClassName` must exist; `spec.priority` and `spec.preemptionPolicy` are set from it; a
pod may not state a different priority of its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from kajitori.admission.interface import Attributes
from kajitori.api import errors

Obj = dict[str, Any]

PLUGIN_NAME = "Priority"
DEFAULT_PREEMPTION_POLICY = "PreemptLowerPriority"


class Priority:
    name = PLUGIN_NAME

    def __init__(self, *, list_priority_classes: Callable[[], Awaitable[list[Obj]]]) -> None:
        self._list_priority_classes = list_priority_classes

    async def admit(self, attrs: Attributes) -> None:
        resource = attrs.resource
        if (resource.group, resource.plural) != ("", "pods") or attrs.operation != "CREATE" \
                or attrs.subresource or attrs.obj is None:
            return
        spec = attrs.obj.setdefault("spec", {})
        class_name = spec.get("priorityClassName") or ""
        classes = await self._list_priority_classes()
        if class_name:
            chosen = next((c for c in classes if c["metadata"]["name"] == class_name), None)
            if chosen is None:
                raise errors.forbidden("pods", attrs.name,
                                       f"no PriorityClass with name {class_name} was found")
        else:
            chosen = next((c for c in classes if c.get("globalDefault")), None)
        value = int(chosen.get("value", 0)) if chosen else 0
        policy = (chosen or {}).get("preemptionPolicy") or DEFAULT_PREEMPTION_POLICY
        if chosen is not None and not class_name:
            spec["priorityClassName"] = chosen["metadata"]["name"]
        if spec.get("priority") is not None and spec["priority"] != value:
            raise errors.forbidden(
                "pods", attrs.name,
                f"the integer value of priority ({spec['priority']}) must not be provided in "
                f"pod spec; priority admission controller computed {value} from the given "
                "PriorityClass name")
        spec["priority"] = value
        if spec.get("preemptionPolicy") not in (None, policy):
            raise errors.forbidden(
                "pods", attrs.name,
                f"the string value of PreemptionPolicy ({spec['preemptionPolicy']}) must not "
                "be provided in pod spec; priority admission controller computed "
                f"{policy} from the given PriorityClass name")
        spec["preemptionPolicy"] = policy
