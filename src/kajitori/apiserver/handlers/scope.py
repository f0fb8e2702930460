"""What every resource handler needs to know about its request.

Mirrors upstream's handlers.RequestScope: the parsed request, the registry of the resource it
names, the authenticated user and how to render the answer.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kajitori.api import errors, printers
from kajitori.apiserver import negotiation, registry, requestinfo

TRUE_VALUES = ("true", "1", "True")
OPTIONS_KINDS = {"create": "CreateOptions", "update": "UpdateOptions", "patch": "PatchOptions",
                 "delete": "DeleteOptions", "deletecollection": "DeleteOptions"}


@dataclass
class RequestScope:
    http: web.Request
    info: requestinfo.RequestInfo
    registry: registry.Registry
    user: Any
    authorizer: Any
    authenticator: Any

    @property
    def query(self) -> Any:
        return self.http.query

    @property
    def rendering(self) -> negotiation.Rendering:
        return negotiation.rendering(self.http.headers.get("Accept", ""))

    @property
    def options_kind(self) -> str:
        """The meta.k8s.io options kind of this verb, which upstream names in option errors."""
        return OPTIONS_KINDS.get(self.info.verb, "CreateOptions")

    @property
    def printer(self) -> printers.Printer | None:
        """The Table shape of a resource whose columns are data (custom resources)."""
        custom = self.registry.custom
        return custom.printer if custom is not None else None

    @property
    def dry_run(self) -> bool:
        values = self.http.query.getall("dryRun", [])
        if any(value != "All" for value in values):
            quoted = ", ".join(f'"{v}"' for v in values)
            raise errors.invalid(self.options_kind, "", [errors.FieldError(
                "dryRun", "FieldValueNotSupported",
                f'Unsupported value: []string{{{quoted}}}: supported values: "All"')],
                group="meta.k8s.io")
        return bool(values)

    @property
    def include_object(self) -> str:
        return self.http.query.get("includeObject", "Metadata") or "Metadata"

    @property
    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)

    def int_param(self, name: str, default: int = 0) -> int:
        value = self.http.query.get(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except ValueError as exc:
            raise errors.bad_request(f"invalid value for {name}: {value!r}") from exc

    def list_options(self) -> registry.ListOptions:
        return registry.ListOptions(
            label_selector=self.http.query.get("labelSelector", ""),
            field_selector=self.http.query.get("fieldSelector", ""),
            limit=self.int_param("limit"),
            continue_token=self.http.query.get("continue", ""),
            resource_version=self.http.query.get("resourceVersion", ""),
            resource_version_match=self.http.query.get("resourceVersionMatch", ""),
        )
