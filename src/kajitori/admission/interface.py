"""The admission contract: attributes of a write, plugins that may change or refuse it.

Mirrors staging/src/k8s.io/apiserver/pkg/admission/interfaces.go. Mutating plugins (`admit`) run
first, in the order of `kajitori.admission.plugins.ORDER`, then validating ones (`validate`); any
of them refuses by raising a `kajitori.api.errors.StatusError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from kajitori.api import catalogue

Obj = dict[str, Any]


@dataclass(frozen=True)
class Attributes:
    operation: str  # CREATE, UPDATE, DELETE, CONNECT
    resource: catalogue.Resource
    namespace: str
    name: str
    obj: Obj | None  # the new object (CREATE, UPDATE); plugins in admit() may change it
    old: Obj | None  # the stored object (UPDATE, DELETE)
    user: Any = None
    dry_run: bool = False
    subresource: str = ""


class Plugin(Protocol):
    name: str

    async def admit(self, attrs: Attributes) -> None: ...


class Chain:
    """Runs the configured plugins in order; the registry calls it once per write."""

    def __init__(self, plugins: list[Plugin]) -> None:
        self._plugins = plugins

    async def admit(self, attrs: Attributes) -> None:
        for plugin in self._plugins:
            await plugin.admit(attrs)
