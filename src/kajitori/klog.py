"""klog's two conventions on Python's `logging`: V levels and structured key/value pairs.

Upstream's components log through klog (`k8s.io/klog/v2`): `klog.V(2).InfoS("Successfully bound
pod to node", "pod", klog.KObj(pod), "node", node)`. Kajitori's components log through the
standard `logging` module and import nothing else to say the same:

    log.log(klog.level(2), "Successfully bound pod to node",
            extra=klog.kv(pod=klog.kobj(pod), node=node))

How a record is written (klog's text header, or component-base's JSON with
`--logging-format=json`) is `kajitori.cli.logformat`'s business; this module is only the
vocabulary, so that any layer may use it.

Verbosity (`-v N` shows a V(n) message when n <= N) maps onto logging levels, one to one and
in order, so that a logger's level alone filters, at the cost of one comparison per call:

    V(0)        INFO (20); WARNING and above are V(0) too
    V(1)..V(3)  19, 18, 17
    V(4)        DEBUG (10): what the code logs with `log.debug` shows from `-v 4`
    V(5)..V(13) 9 .. 1

Levels between 11 and 16 (nothing standard uses them) read as V(4); `level` never returns them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from kajitori.api import meta

KV_ATTRIBUTE = "kv"
"""The LogRecord attribute `kv()` sets through `extra=`: the message's key/value pairs."""

DEBUG_VERBOSITY = 4
"""`logging.DEBUG` is V(4): debug output appears from `-v 4`, as upstream's detailed
per-object traces (`SyncPod enter`, watch restarts) do."""

_FEW_VERBOSITIES = 3
"""V(1)..V(3) sit just below INFO."""

_LOWEST_LEVEL = 1
"""Level 0 is NOTSET (inherit the parent's level): the deepest V levels stop at 1."""


def level(verbosity: int) -> int:
    """The logging level of klog's V(`verbosity`); 0 and below are INFO."""
    if verbosity <= 0:
        return logging.INFO
    if verbosity <= _FEW_VERBOSITIES:
        return logging.INFO - verbosity
    return max(logging.DEBUG - (verbosity - DEBUG_VERBOSITY), _LOWEST_LEVEL)


def verbosity(levelno: int) -> int:
    """The V level a record of `levelno` was logged at: the inverse of `level`, monotonic
    for the levels `level` never returns."""
    if levelno >= logging.INFO:
        return 0
    if levelno >= logging.INFO - _FEW_VERBOSITIES:
        return logging.INFO - levelno
    if levelno >= logging.DEBUG:
        return DEBUG_VERBOSITY
    return DEBUG_VERBOSITY + logging.DEBUG - max(levelno, _LOWEST_LEVEL)


def kv(**pairs: Any) -> dict[str, dict[str, Any]]:
    """The `extra=` of a structured message: its key/value pairs, in the order given, as
    klog's `InfoS(msg, k1, v1, k2, v2)`. Values are strings, numbers, booleans, None,
    `ObjectRef`s, exceptions, or lists and dicts of those; anything else is written as its
    `str()`."""
    return {KV_ATTRIBUTE: pairs}


@dataclass(frozen=True)
class ObjectRef:
    """klog's ObjectRef: an object named in a log message. Text shows `namespace/name` (or
    `name` for a cluster-scoped object); JSON shows `{"name": ..., "namespace": ...}`, the
    namespace left out when empty, as upstream's MarshalLog does."""

    name: str
    namespace: str = ""

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def to_json(self) -> dict[str, str]:
        if self.namespace:
            return {"name": self.name, "namespace": self.namespace}
        return {"name": self.name}


def kobj(obj: meta.Obj) -> ObjectRef:
    """klog.KObj: the reference to an API object (a dict) for a log message."""
    return ObjectRef(name=meta.name(obj), namespace=meta.namespace(obj))


def kref(namespace: str, name: str) -> ObjectRef:
    """klog.KRef: a reference from a namespace and a name, when only those are at hand."""
    return ObjectRef(name=name, namespace=namespace)
