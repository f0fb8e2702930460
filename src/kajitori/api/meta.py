"""Read and stamp object metadata on wire-format dicts.

Objects are `Obj = dict[str, Any]` end to end; this module is the one place that knows where
metadata lives, as upstream's `meta.Accessor` is. Functions never mutate their argument unless
their name says so (`set_*`).
"""

# No `from __future__ import annotations` here: it would be shadowed by `annotations()` below,
# which confuses type checkers; every annotation in this module works at run time on 3.11.
import datetime
from typing import Any

Obj = dict[str, Any]


def metadata(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def name(obj: Obj) -> str:
    return metadata(obj).get("name") or ""


def namespace(obj: Obj) -> str:
    return metadata(obj).get("namespace") or ""


def uid(obj: Obj) -> str:
    return metadata(obj).get("uid") or ""


def labels(obj: Obj) -> dict[str, str]:
    return metadata(obj).get("labels") or {}


def annotations(obj: Obj) -> dict[str, str]:
    return metadata(obj).get("annotations") or {}


def resource_version(obj: Obj) -> str:
    return metadata(obj).get("resourceVersion") or ""


def deletion_timestamp(obj: Obj) -> str | None:
    return metadata(obj).get("deletionTimestamp")


def finalizers(obj: Obj) -> list[str]:
    return metadata(obj).get("finalizers") or []


def generation(obj: Obj) -> int:
    return int(metadata(obj).get("generation") or 0)


def owner_references(obj: Obj) -> list[Obj]:
    return metadata(obj).get("ownerReferences") or []


def api_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def split_api_version(api_version_: str) -> tuple[str, str]:
    """`apps/v1` -> (`apps`, `v1`); `v1` -> (``, `v1`)."""
    if "/" in api_version_:
        group, version = api_version_.split("/", 1)
        return group, version
    return "", api_version_


def now() -> str:
    """The current time as Kubernetes prints it (RFC 3339, seconds, UTC, `Z`)."""
    return format_time(datetime.datetime.now(datetime.UTC))


def now_micro() -> str:
    """metav1.MicroTime: RFC 3339 with six decimals."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime.datetime:
    """Parse RFC 3339 (with `Z` or an offset, with or without fractions) into an aware datetime."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def set_resource_version(obj: Obj, revision: int) -> None:
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)


def with_type(obj: Obj, api_version_: str, kind: str) -> Obj:
    """A shallow copy carrying `apiVersion` and `kind` first, as responses need them."""
    out: Obj = {"kind": kind, "apiVersion": api_version_}
    out.update((k, v) for k, v in obj.items() if k not in ("kind", "apiVersion"))
    return out


def get_path(obj: Any, path: str) -> Any:
    """The value at a dotted path (`spec.nodeName`), or None when any step is missing."""
    current = obj
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(part)
    return current
