"""The OpenAPI v2 document, as kubectl fetches it: protobuf (gnostic's openapi_v2.Document).

kubectl asks for `/openapi/v2` only as a fallback: for kinds that no OpenAPI v3 document
describes (an unknown kind or group in a manifest), to validate them client-side. Kinds we
serve are all in the v3 documents, so the v2 document carries no definitions: kubectl then
finds no schema, skips client-side validation, and reports what upstream reports for an
unknown kind (`no matches for kind "Foo" in version "v1"`) instead of failing to download
OpenAPI. Field numbers from gnostic's OpenAPIv2.proto: Document.swagger = 1, Document.info = 2,
Info.title = 1, Info.version = 2.
"""

from __future__ import annotations

import functools

import orjson

from kajitori.api import openapi, version

PROTOBUF_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
# What kube-openapi answers a protobuf request with: Go's mime parser rejects the `@` above.
PROTOBUF_RESPONSE_CONTENT_TYPE = "application/octet-stream"
SWAGGER_VERSION = "2.0"


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


@functools.cache
def protobuf_document() -> bytes:
    info = _field(1, openapi.TITLE.encode()) + _field(2, version.KUBERNETES_VERSION.encode())
    return _field(1, SWAGGER_VERSION.encode()) + _field(2, info)


@functools.cache
def json_document() -> bytes:
    return orjson.dumps({"swagger": SWAGGER_VERSION,
                         "info": {"title": openapi.TITLE, "version": version.KUBERNETES_VERSION},
                         "paths": {}, "definitions": {}})
