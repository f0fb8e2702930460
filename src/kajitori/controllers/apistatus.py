"""How controllers read the apiserver's refusals: apimachinery's `IsNotFound`,
`IsMethodNotSupported` and `HasStatusCause` as the controllers of pkg/controller use them.

The errors themselves are `kajitori.api.errors.StatusError`, shared with the apiserver.
"""

from __future__ import annotations

from kajitori.api import errors

NAMESPACE_TERMINATING_CAUSE = "NamespaceTerminating"
"""The cause NamespaceLifecycle admission gives when a namespace is being deleted."""


def has_status_cause(exc: errors.StatusError, cause_type: str) -> bool:
    """Whether the Status lists a cause of this type (on the wire a cause's type is its
    `reason` field)."""
    causes = (exc.status.get("details") or {}).get("causes") or []
    return any(cause.get("reason") == cause_type for cause in causes)


def is_namespace_gone_or_terminating(exc: errors.StatusError) -> bool:
    """A create refused because its namespace no longer takes content: 404, or 403 with the
    `NamespaceTerminating` cause. Controllers that fill namespaces do not retry these."""
    return exc.code == 404 or \
        (exc.code == 403 and has_status_cause(exc, NAMESPACE_TERMINATING_CAUSE))


def is_not_found_or_unsupported(exc: errors.StatusError) -> bool:
    """404 or 405: the resource does not serve this verb here, which upstream's callers treat
    alike (kubernetes/kubernetes#22413)."""
    return exc.code in (404, 405)
