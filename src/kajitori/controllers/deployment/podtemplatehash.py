"""The `pod-template-hash` label: which template a Deployment's ReplicaSet and pods run.

Mirrors `controller.ComputeHash` (pkg/controller/controller_utils.go) and `EqualIgnoreHash`
(pkg/controller/deployment/util/deployment_util.go). The hash is FNV-32a of the template, then
the Deployment's `collisionCount` (when set) as 8 bytes, its decimal value written in the
alphabet of `rand.SafeEncodeString` (no vowels, no 0/1/3: `5d9c8b7f6`-like), and the
ReplicaSet is named `<deployment>-<hash>`.

Departure from upstream: upstream hashes the Go-printed (go-spew `%#v`) PodTemplateSpec
struct, a rendering that depends on every Go field, type name and zero value of the v1.33
types; here the hashed bytes are the template's canonical JSON (sorted keys). Same shape, same
collision handling, different values: a ReplicaSet created by upstream's controller for the
same template has another suffix. Nothing compares hashes across controllers: a Deployment
finds its ReplicaSets by comparing templates (`equal_ignore_hash`), never by hash.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

Obj = dict[str, Any]

DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY = "pod-template-hash"
"""apps/v1 DefaultDeploymentUniqueLabelKey."""

_FNV32_OFFSET = 0x811C9DC5
_FNV32_PRIME = 0x01000193
_SAFE_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"
"""k8s.io/apimachinery/pkg/util/rand's alphabet: no vowels, no look-alike digits."""


def fnv32a(data: bytes, *, start: int = _FNV32_OFFSET) -> int:
    value = start
    for byte in data:
        value = ((value ^ byte) * _FNV32_PRIME) & 0xFFFFFFFF
    return value


def safe_encode_string(text: str) -> str:
    """Each byte of `text` mapped into the safe alphabet (upstream's SafeEncodeString)."""
    return "".join(_SAFE_ALPHANUMS[b % len(_SAFE_ALPHANUMS)] for b in text.encode())


def compute_hash(template: Obj, collision_count: int | None) -> str:
    """The `pod-template-hash` of `template`; a different `collision_count` gives another
    value, which is how a Deployment steps around a name taken by a foreign ReplicaSet."""
    value = fnv32a(orjson.dumps(template, option=orjson.OPT_SORT_KEYS))
    if collision_count is not None:
        value = fnv32a((collision_count & 0xFFFFFFFF).to_bytes(4, "little") + bytes(4),
                       start=value)
    return safe_encode_string(str(value))


def _semantic(value: Any) -> Any:
    """`value` with Go's zero values dropped from objects (null, "", 0, false, [], {}), so that
    two templates decoding to equal Go structs compare equal, as apimachinery's
    `Semantic.DeepEqual` compares them."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            normal = _semantic(item)
            if normal not in (None, "", 0, False, [], {}):
                out[key] = normal
        return out
    if isinstance(value, list):
        return [_semantic(item) for item in value]
    return value


def without_hash_label(template: Obj) -> Obj:
    """A deep copy of `template` without the `pod-template-hash` label."""
    copied = copy.deepcopy(template)
    template_labels = (copied.get("metadata") or {}).get("labels")
    if template_labels:
        template_labels.pop(DEFAULT_DEPLOYMENT_UNIQUE_LABEL_KEY, None)
    return copied


def equal_ignore_hash(template1: Obj, template2: Obj) -> bool:
    """Whether two pod templates are the same but for `pod-template-hash` (a Deployment's
    template never has it; its ReplicaSets' always do)."""
    return _semantic(without_hash_label(template1)) == _semantic(without_hash_label(template2))
