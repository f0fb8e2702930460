"""Continue tokens for paged lists: opaque to clients, a start key and a revision to us.

Mirrors staging/src/k8s.io/apiserver/pkg/storage/continue.go, byte for byte on the wire: base64
(URL alphabet, no padding) of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key after the prefix>"}`,
so a token from upstream decodes here and the reverse. The start key is stored relative to the
list's prefix and re-joined to it on decode; a start that climbs out of the prefix (`..`) is
refused, as upstream refuses it. Which revision a token may still be served at is the store's
business (kajitori.storage.watchcache).
"""

from __future__ import annotations

import base64
import binascii
import posixpath

import orjson

from kajitori.storage import errors

API_VERSION = "meta.k8s.io/v1"

# Upstream's wording (continue.go); the apiserver prefixes "invalid continue token: ".
INVALID_KEY = "continue key is not valid"
INVALID_START_RV = (
    f"continue key is not valid: incorrect encoded start resourceVersion (version {API_VERSION})"
)
EMPTY_START_KEY = f"continue key is not valid: encoded start key empty (version {API_VERSION})"
UNRECOGNIZED_VERSION = "continue key is not valid: server does not recognize this encoded version"


def encode(start_key: str, *, prefix: str, revision: int) -> str:
    """The token that resumes a list of `prefix` at `start_key` (inclusive), read at `revision`.

    `start_key` must lie under `prefix`; callers pass the last returned key plus "\\x00", the
    smallest key after it.
    """
    if not start_key.startswith(prefix) or start_key == prefix:
        raise ValueError(f"start key {start_key!r} is not under prefix {prefix!r}")
    body = {"v": API_VERSION, "rv": revision, "start": start_key[len(prefix):]}
    return base64.urlsafe_b64encode(orjson.dumps(body)).rstrip(b"=").decode("ascii")


def decode(token: str, *, prefix: str) -> tuple[str, int]:
    """(start key, revision) of a token issued by `encode` for any prefix, joined to `prefix`.

    Raises InvalidContinue, keyed by `prefix`, with upstream's message, for anything else.
    """
    try:
        padded = token.encode("ascii") + b"=" * (-len(token) % 4)
        body = orjson.loads(base64.b64decode(padded, altchars=b"-_", validate=True))
    except (UnicodeEncodeError, binascii.Error, orjson.JSONDecodeError) as exc:
        raise errors.InvalidContinue(prefix, f"{INVALID_KEY}: {exc}") from exc
    if not isinstance(body, dict):
        raise errors.InvalidContinue(prefix, INVALID_KEY)
    version, revision, start = body.get("v"), body.get("rv", 0), body.get("start", "")
    if version != API_VERSION:
        raise errors.InvalidContinue(prefix, f"{UNRECOGNIZED_VERSION} {version}")
    if not isinstance(revision, int) or isinstance(revision, bool) or not isinstance(start, str):
        raise errors.InvalidContinue(prefix, INVALID_KEY)
    if revision == 0:
        raise errors.InvalidContinue(prefix, INVALID_START_RV)
    if not start:
        raise errors.InvalidContinue(prefix, EMPTY_START_KEY)
    rooted = start if start.startswith("/") else "/" + start
    # Go's path.Clean also folds a leading "//", which normpath keeps.
    if "//" in rooted or posixpath.normpath(rooted) != rooted:
        raise errors.InvalidContinue(prefix, f"{INVALID_KEY}: {start}")
    return prefix + rooted[1:], revision
