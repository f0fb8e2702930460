"""DefaultTolerationSeconds: pods tolerate not-ready and unreachable nodes for five minutes.

Mirrors plugin/pkg/admission/defaulttolerationseconds/admission.go: on create, a pod without a
NoExecute toleration for `node.kubernetes.io/not-ready` (or `unreachable`) gets one with
`tolerationSeconds: 300`, so the node lifecycle controller evicts it five minutes after its
node fails.
"""

from __future__ import annotations

from typing import Any

from kajitori.admission.interface import Attributes

Obj = dict[str, Any]

PLUGIN_NAME = "DefaultTolerationSeconds"
DEFAULT_TOLERATION_SECONDS = 300
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"


def _tolerates(tolerations: list[Obj], key: str) -> bool:
    return any(t.get("effect", "") in ("", "NoExecute")
               and (t.get("key") == key or (not t.get("key") and t.get("operator") == "Exists"))
               for t in tolerations)


class DefaultTolerationSeconds:
    name = PLUGIN_NAME

    async def admit(self, attrs: Attributes) -> None:
        resource = attrs.resource
        if (resource.group, resource.plural) != ("", "pods") or attrs.operation != "CREATE" \
                or attrs.subresource or attrs.obj is None:
            return
        spec = attrs.obj.setdefault("spec", {})
        tolerations = list(spec.get("tolerations") or [])
        for key in (NOT_READY_TAINT, UNREACHABLE_TAINT):
            if not _tolerates(tolerations, key):
                tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                    "tolerationSeconds": DEFAULT_TOLERATION_SECONDS})
        spec["tolerations"] = tolerations
