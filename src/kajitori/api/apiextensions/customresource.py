"""One served version of a custom resource: how its objects are decoded, prepared, validated
and printed.

Mirrors staging/src/k8s.io/apiextensions-apiserver/pkg/registry/customresource/strategy.go
and status_strategy.go (status and generation rules), validator.go (object metadata and the
version's schema), and the decoding steps of .../pkg/apiserver/customresource_handler.go
(pruning, then defaulting). Objects are stored at the CRD's storage version: with conversion
`None` a version differs from another by its apiVersion alone, which `prepare_*` rewrite and
the registry rewrites back when serving.

`CustomStrategy` is the seam the generic registry (`kajitori.apiserver.registry`) calls for
resources whose rules are data rather than code: this module's `CustomResourceStrategy` and
the CustomResourceDefinition kind's own strategy.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kajitori.api import catalogue, errors, meta, strategy
from kajitori.api import scale as scale_
from kajitori.api import validation as api_validation
from kajitori.api.apiextensions import defaulting, pruning, schemavalidation, tableconvertor
from kajitori.api.errors import FieldError
from kajitori.api.printers import printer as printer_

Obj = dict[str, Any]

MAX_INT32 = 2**31 - 1


class CustomStrategy(Protocol):
    """The registry's hooks for one resource whose rules come from data.

    Contract: `prune` (None: the kind's built-in schema applies) drops unknown fields in place
    and returns their paths; `default` fills defaults in place; `prepare_for_create` and
    `prepare_for_update` (main resource writes only: status and scale writes use the generic
    rules) reset what a client may not set and keep `metadata.generation` themselves;
    `prepare_for_delete` returns the object the first delete should write (finalizers,
    conditions), or `obj` itself; `validate` returns every FieldError (`old` None on create).
    `printer` is the Table shape, None for the default convertor. All may raise StatusError.
    """

    @property
    def printer(self) -> printer_.Printer | None: ...

    @property
    def prune(self) -> Callable[[Obj], list[str]] | None: ...

    def default(self, obj: Obj) -> None: ...

    def prepare_for_create(self, obj: Obj) -> None: ...

    def prepare_for_update(self, new: Obj, old: Obj) -> None: ...

    def prepare_for_delete(self, obj: Obj) -> Obj: ...

    def validate(self, obj: Obj, old: Obj | None) -> list[FieldError]: ...


@dataclass(frozen=True)
class CustomResourceStrategy:
    """The rules of `resource` (one served version of a CRD), immutable: the apiserver builds
    a new one when the CRD changes."""

    resource: catalogue.Resource
    storage_api_version: str
    schema: Obj | None  # the version's openAPIV3Schema
    status_enabled: bool
    scale: scale_.ScaleAccess | None
    # The CRD's subresources.scale (specReplicasPath, statusReplicasPath, labelSelectorPath).
    scale_paths: Obj | None
    printer: printer_.Printer
    # The CRD is being deleted: creates are refused, as upstream's handler does.
    terminating: bool = False

    def prune(self, obj: Obj) -> list[str]:
        return pruning.prune(obj, self.schema)

    def default(self, obj: Obj) -> None:
        defaulting.prune_non_nullable_nulls(obj, self.schema)
        defaulting.default(obj, self.schema)

    def prepare_for_create(self, obj: Obj) -> None:
        if self.terminating:
            raise errors.StatusError(errors.status(
                405, "MethodNotAllowed",
                f'create is not supported on resources of kind "{self.resource.qualified}"',
                {"group": self.resource.group, "kind": self.resource.plural}))
        strategy.drop_empty_metadata_maps(obj)
        if self.status_enabled:
            obj.pop("status", None)
        obj["metadata"]["generation"] = 1
        obj["apiVersion"] = self.storage_api_version

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """Status is kept from `old` when the status subresource is on; any change outside
        metadata (status included when it is a plain field) bumps generation."""
        new["apiVersion"] = self.storage_api_version
        strategy.drop_empty_metadata_maps(new)
        if self.status_enabled:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        generation = int(meta.metadata(old).get("generation") or 0)
        if _non_metadata(new) != _non_metadata(old):
            generation += 1
        new["metadata"]["generation"] = generation

    def prepare_for_delete(self, obj: Obj) -> Obj:
        return obj

    def validate(self, obj: Obj, old: Obj | None) -> list[FieldError]:
        if old is None:
            errs = api_validation.validate_object_meta(
                obj, namespaced=self.resource.namespaced,
                name_rule=api_validation.dns_subdomain)
        else:
            errs = api_validation.validate_update_object_meta(obj, old)
        if self.schema is not None:
            served = meta.with_type(obj, self.resource.api_version, self.resource.kind)
            errs += schemavalidation.validate(served, self.schema)
        errs += self._validate_scale(obj)
        return errs

    def _validate_scale(self, obj: Obj) -> list[FieldError]:
        """upstream ValidateScaleSpec and ValidateScaleStatus: the replica counts, where
        present, are non-negative int32s; the selector, where present, a string."""
        if self.scale_paths is None:
            return []
        errs: list[FieldError] = []
        for key in ("specReplicasPath", "statusReplicasPath"):
            path = self.scale_paths.get(key) or ""
            value, problem = _nested(obj, path, "int64")
            if problem:
                errs.append(FieldError.invalid(path, 0, problem))
            elif value is not None and value < 0:
                errs.append(FieldError.invalid(path, value, "should be a non-negative integer"))
            elif value is not None and value > MAX_INT32:
                errs.append(FieldError.invalid(path, value, "should be less than or equal to "
                                                            f"{MAX_INT32}"))
        selector_path = self.scale_paths.get("labelSelectorPath") or ""
        if selector_path:
            _, problem = _nested(obj, selector_path, "string")
            if problem:
                errs.append(FieldError.invalid(selector_path, "", problem))
        return errs


def _nested(obj: Obj, path: str, expected: str) -> tuple[Any, str]:
    """(value or None, accessor error as unstructured.NestedInt64/NestedString word it)."""
    fields = [part for part in path.removeprefix(".").split(".") if part]
    current: Any = obj
    for i, name in enumerate(fields):
        if not isinstance(current, dict):
            return None, (f".{'.'.join(fields[:i])} accessor error: "
                          f"{tableconvertor.go_text(current)} is of the type "
                          f"{_go_type(current)}, expected map[string]interface{{}}")
        if name not in current:
            return None, ""
        current = current[name]
    wanted = str if expected == "string" else int
    if isinstance(current, bool) or not isinstance(current, wanted):
        return None, (f"{path} accessor error: {tableconvertor.go_text(current)} is of the type "
                      f"{_go_type(current)}, expected {expected}")
    return current, ""


def _go_type(value: Any) -> str:
    """Go's %T of a decoded JSON value."""
    if value is None:
        return "<nil>"
    for python_type, go_type in ((bool, "bool"), (int, "int64"), (float, "float64"),
                                 (str, "string"), (list, "[]interface {}")):
        if isinstance(value, python_type):
            return go_type
    return "map[string]interface {}"


def _non_metadata(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k != "metadata"}
