"""Read and decode request bodies: JSON, YAML or protobuf into a wire-format dict.

Mirrors the decoding half of upstream's create/update handlers
(staging/src/k8s.io/apiserver/pkg/endpoints/handlers/create.go, rest.go): size limit, media
type, then the strict-decoding checks of `fieldValidation` (Strict refuses unknown and duplicate
fields with 400, Warn reports them as `Warning` headers, Ignore says nothing; upstream's default
is Warn). Type errors are always 400, as Go's decoder refuses them whatever the mode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import yaml
from aiohttp import web

from kajitori.api import catalogue, errors, gojson, protobuf, schemas
from kajitori.apiserver import negotiation

Obj = dict[str, Any]

# upstream's apiserver MaxRequestBodyBytes
MAX_BODY_BYTES = 3 * 1024 * 1024
FIELD_VALIDATION_MODES = ("Strict", "Warn", "Ignore")
ACCEPTED_MEDIA_TYPES = [negotiation.JSON, negotiation.YAML, negotiation.PROTOBUF]

try:
    YAML_LOADER: Any = yaml.CSafeLoader
except AttributeError:  # PyYAML without libyaml
    YAML_LOADER = yaml.SafeLoader


async def read(request: web.Request) -> bytes:
    """The raw body, refusing more than upstream's limit with 413."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise errors.request_entity_too_large(
            f"Request entity too large: limit is {MAX_BODY_BYTES}")
    chunks = []
    size = 0
    while chunk := await request.content.read(MAX_BODY_BYTES + 1 - size):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise errors.request_entity_too_large(
                f"Request entity too large: limit is {MAX_BODY_BYTES}")
    return b"".join(chunks)


def decode(raw: bytes, media_type: str) -> tuple[Obj, list[str]]:
    """(object, duplicate field paths) for a JSON, YAML or protobuf body."""
    if media_type == negotiation.PROTOBUF:
        return protobuf.decode(raw), []
    if media_type in (negotiation.YAML, "application/x-yaml", "text/yaml"):
        try:
            obj = yaml.load(raw, Loader=YAML_LOADER)
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"error converting YAML to JSON: {exc}") from exc
        duplicates: list[str] = []
    elif media_type == negotiation.JSON or media_type.endswith("+json"):
        obj, duplicates = parse_json(raw)
    else:
        raise errors.unsupported_media_type(media_type, ACCEPTED_MEDIA_TYPES)
    if not isinstance(obj, dict):
        raise errors.bad_request(
            "couldn't get version/kind; json parse error: json: cannot unmarshal "
            f"{gojson.json_kind(obj)} into Go value of type struct "
            '{ APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string '
            '"json:\\"kind,omitempty\\"" }')
    return obj, duplicates


def parse_json(raw: bytes) -> tuple[Any, list[str]]:
    try:
        return schemas.duplicate_fields(raw)
    except (orjson.JSONDecodeError, ValueError) as exc:
        raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") from exc



def options_invalid(options_kind: str, error: errors.FieldError) -> errors.StatusError:
    """A 422 about a query option, as upstream's ValidateCreateOptions and friends word it:
    `CreateOptions.meta.k8s.io "" is invalid: ...`."""
    return errors.invalid(options_kind, "", [error], group="meta.k8s.io")


def field_validation(mode: str | None, *, options_kind: str) -> str:
    """The fieldValidation mode; upstream's default (unset) is Warn."""
    if not mode:
        return "Warn"
    if mode not in FIELD_VALIDATION_MODES:
        raise options_invalid(options_kind, errors.FieldError.not_supported(
            "fieldValidation", mode, ["", *sorted(FIELD_VALIDATION_MODES)]))
    return mode


def check(obj: Obj, gvk: tuple[str, str, str], *, mode: str, duplicates: list[str],
          prune: Callable[[Obj], list[str]] | None = None) -> list[str]:
    """Check the decoded body against the schema of `gvk` (group, version, kind); returns the
    warnings to send. Unknown fields are pruned from `obj` (Go's decoder drops them).
    `prune`: a custom resource's own pruning (drops unknown fields in place, returns their
    paths), used instead of the built-in schemas; custom objects decode without type errors,
    which their schema validation reports later as 422."""
    group, version, kind = gvk
    prefix = f'{kind} in version "{version}" cannot be handled as a {kind}: '
    if prune is not None:
        unknown = prune(obj)
    else:
        report = schemas.check(obj, group=group, version=version, kind=kind)
        if report.type_errors:
            raise errors.bad_request(prefix + report.type_errors[0])
        unknown = report.unknown_fields
        if unknown:
            schemas.prune(obj, group=group, version=version, kind=kind)
    problems = [f'duplicate field "{d}"' for d in duplicates] + \
        [f'unknown field "{u}"' for u in unknown]
    if not problems or mode == "Ignore":
        return []
    if mode == "Strict":
        raise errors.bad_request(prefix + "strict decoding error: " + ", ".join(problems))
    return problems


def gvk_of(resource: catalogue.Resource) -> tuple[str, str, str]:
    return resource.group, resource.version, resource.kind
