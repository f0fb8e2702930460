"""Content negotiation: what a client accepts and what its body is.

Mirrors staging/src/k8s.io/apiserver/pkg/endpoints/handlers/negotiation. Responses are always
JSON (every client kubectl ships accepts it); `Accept` only decides whether the JSON is the
object itself, a meta.k8s.io Table, or PartialObjectMetadata.
"""

from __future__ import annotations

from dataclasses import dataclass

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
META_GROUP = "meta.k8s.io"
TABLE_VERSIONS = ("v1", "v1beta1")


@dataclass(frozen=True)
class MediaType:
    type: str  # "application/json"
    params: dict[str, str]


@dataclass(frozen=True)
class Rendering:
    """How to render a response: `as_` is "" (the object), "Table", "PartialObjectMetadata" or
    "PartialObjectMetadataList"; version is the meta.k8s.io version asked for."""

    as_: str = ""
    version: str = "v1"


def parse_accept(header: str) -> list[MediaType]:
    """The media ranges of an Accept header in the client's order (q-values ignored, as
    upstream's negotiation picks the first one it can serve)."""
    out = []
    for part in header.split(","):
        part = part.strip()
        if not part:
            continue
        pieces = [p.strip() for p in part.split(";")]
        params = {}
        for piece in pieces[1:]:
            if "=" in piece:
                key, value = piece.split("=", 1)
                params[key.strip()] = value.strip()
        out.append(MediaType(pieces[0].lower(), params))
    return out


def rendering(accept: str) -> Rendering:
    """The first acceptable rendering in the client's order; plain objects otherwise."""
    for media in parse_accept(accept or JSON):
        if media.type not in (JSON, "application/*", "*/*", PROTOBUF, YAML):
            continue
        as_ = media.params.get("as")
        if as_ is None:
            if media.type == PROTOBUF:
                continue  # we answer JSON; keep looking for an explicit choice
            return Rendering()
        if media.params.get("g") == META_GROUP and media.params.get("v") in TABLE_VERSIONS \
                and as_ in ("Table", "PartialObjectMetadata", "PartialObjectMetadataList"):
            return Rendering(as_=as_, version=media.params["v"])
    return Rendering()


def content_type(header: str | None) -> str:
    """The bare media type of a Content-Type header; a missing one is JSON, since
    `kubectl scale --current-replicas` sends PUT bodies without it."""
    if not header:
        return JSON
    return header.split(";", 1)[0].strip().lower()
