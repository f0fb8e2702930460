"""A CustomResourceDefinition's own rules (apiextensions.k8s.io/v1), worded as upstream.

Mirrors staging/src/k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation/
validation.go: `ValidateCustomResourceDefinition` (metadata, spec, status, stored versions,
API approval) and `ValidateCustomResourceDefinitionUpdate` (plus immutable group and plural,
and scope and kind once established), in upstream's order. Schemas must be structural
(`kajitori.api.apiextensions.structural`) and their defaults valid and pruned.

Departures: a whole `spec.versions` list in an error prints as a short Go-like literal
(`[]apiextensions.CustomResourceDefinitionVersion{...}` with names, served and storage), where
upstream dumps every field and pointer; x-kubernetes-validations rules are checked for shape
only, not compiled; webhook conversion's client config is checked for presence only.
"""

from __future__ import annotations

import copy
from typing import Any

from kajitori.api import validation as api_validation
from kajitori.api.apiextensions import (
    defaulting,
    fieldpath,
    pruning,
    schemavalidation,
    structural,
)
from kajitori.api.errors import FieldError
from kajitori.api.validation import gorepr, objectmeta

Obj = dict[str, Any]

PRINTER_COLUMN_TYPES = ("boolean", "date", "integer", "number", "string")
PRINTER_COLUMN_FORMATS = ("byte", "date", "date-time", "double", "float", "int32", "int64",
                          "password")
OPENAPI_V3_TYPES = ("array", "boolean", "integer", "number", "object", "string")
SCOPES = ("Cluster", "Namespaced")
CONVERSION_STRATEGIES = ("None", "Webhook")
LIST_TYPES = ("atomic", "set", "map")
MAP_TYPES = ("atomic", "granular")
ESTABLISHED = "Established"

API_APPROVAL_ANNOTATION = "api-approved.kubernetes.io"
_APPROVAL = f'protected groups must have approval annotation "{API_APPROVAL_ANNOTATION}"'
API_APPROVAL_MISSING = _APPROVAL + ", see https://github.com/kubernetes/enhancements/pull/1111"
API_APPROVAL_INVALID = (_APPROVAL + ' with either a URL or a reason starting with '
                        '"unapproved", see https://github.com/kubernetes/enhancements/pull/1111')
NAME_MISMATCH = 'must be spec.names.plural+"."+spec.group'
MIXED_CASE = "may have mixed case, but should otherwise match: "
ONE_STORAGE_VERSION = "must have exactly one version marked as storage version"
UNIQUE_VERSIONS = "must contain unique version names"
SCHEMAS_REQUIRED = "schemas are required"
PRESERVE_UNKNOWN_FIELDS_V1 = ("cannot set to true, set x-kubernetes-preserve-unknown-fields to "
                              "true in spec.versions[*].schema instead")
STATUS_ROOT_FIELDS = ("Description", "Type", "Format", "Title", "Maximum", "ExclusiveMaximum",
                      "Minimum", "ExclusiveMinimum", "MaxLength", "MinLength", "Pattern",
                      "MaxItems", "MinItems", "UniqueItems", "MultipleOf", "Required", "Items",
                      "Properties", "ExternalDocs", "Example", "XPreserveUnknownFields",
                      "XValidations")
_STATUS_ROOT_KEYS = frozenset({
    "description", "type", "format", "title", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
    "uniqueItems", "multipleOf", "required", "items", "properties", "externalDocs", "example",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-validations"})
_META_FIELDS = frozenset({"metadata", "kind", "apiVersion"})


def validate(crd: Obj, *, old: Obj | None = None) -> list[FieldError]:
    """Every FieldError of a create (`old` None) or an update of a defaulted CRD whose status
    the strategy has prepared; empty when valid."""
    spec = crd.get("spec") or {}
    status = crd.get("status") or {}
    if old is None:
        errs = api_validation.validate_object_meta(crd, namespaced=False,
                                                   name_rule=_name_rule(spec))
        errs += validate_spec(spec, old_spec=None)
    else:
        errs = api_validation.validate_update_object_meta(crd, old)
        errs += validate_spec(spec, old_spec=old.get("spec") or {})
        errs += _validate_spec_update(spec, old.get("spec") or {},
                                      established=is_condition_true(old, ESTABLISHED))
    errs += validate_names(status.get("acceptedNames") or {}, "status.acceptedNames")
    errs += _validate_stored_versions(status.get("storedVersions") or [],
                                      spec.get("versions") or [])
    errs += _validate_api_approval(crd, old)
    errs += _validate_preserve_unknown_fields(spec, old)
    return errs


def is_condition_true(crd: Obj, condition_type: str) -> bool:
    for condition in (crd.get("status") or {}).get("conditions") or []:
        if condition.get("type") == condition_type:
            return bool(condition.get("status") == "True")
    return False


def _name_rule(spec: Obj) -> api_validation.NameRule:
    names = spec.get("names") or {}
    required = f"{names.get('plural', '')}.{spec.get('group', '')}"

    def rule(name: str, prefix: bool) -> list[str]:
        messages = api_validation.dns_subdomain(name, prefix)
        if name != required:
            messages.append(NAME_MISMATCH)
        return messages

    return rule


def _versions_literal(versions: list[Obj]) -> Any:
    entries = ", ".join(
        "apiextensions.CustomResourceDefinitionVersion{"
        f'Name:"{v.get("name", "")}", Served:{str(bool(v.get("served"))).lower()}, '
        f'Storage:{str(bool(v.get("storage"))).lower()}}}' for v in versions)
    return gorepr.value(
        "[]apiextensions.CustomResourceDefinitionVersion{" + entries + "}")


def validate_spec(spec: Obj, *, old_spec: Obj | None) -> list[FieldError]:
    """upstream validateCustomResourceDefinitionSpec for apiextensions.k8s.io/v1."""
    errs: list[FieldError] = []
    group = spec.get("group") or ""
    if not group:
        errs.append(FieldError.required("spec.group"))
    elif messages := api_validation.is_dns1123_subdomain(group):
        errs.append(FieldError.invalid("spec.group", group, ",".join(messages)))
    elif len(group.split(".")) < 2:
        errs.append(FieldError.invalid("spec.group", group,
                                       "should be a domain with at least one dot"))
    errs += _enum("spec.scope", spec.get("scope") or "", SCOPES)

    versions = [v for v in spec.get("versions") or [] if isinstance(v, dict)]
    require_schema = old_spec is None or all(
        (v.get("schema") or {}).get("openAPIV3Schema") is not None
        for v in old_spec.get("versions") or [])
    if require_schema:
        for i, version in enumerate(versions):
            if (version.get("schema") or {}).get("openAPIV3Schema") is None:
                errs.append(FieldError.required(
                    f"spec.versions[{i}].schema.openAPIV3Schema", SCHEMAS_REQUIRED))

    storage_count = 0
    seen: set[str] = set()
    unique = True
    for i, version in enumerate(versions):
        name = version.get("name") or ""
        if version.get("storage"):
            storage_count += 1
        if name in seen:
            unique = False
        seen.add(name)
        if messages := api_validation.is_dns1035_label(name):
            errs.append(FieldError.invalid(f"spec.versions[{i}].name", name, ",".join(messages)))
        errs += _validate_version(version, f"spec.versions[{i}]")
    if not unique:
        errs.append(FieldError.invalid("spec.versions", _versions_literal(versions),
                                       UNIQUE_VERSIONS))
    if storage_count != 1:
        errs.append(FieldError.invalid("spec.versions", _versions_literal(versions),
                                       ONE_STORAGE_VERSION))

    names = spec.get("names") or {}
    for required in ("plural", "singular", "kind", "listKind"):
        if not names.get(required):
            errs.append(FieldError.required(f"spec.names.{required}"))
    errs += validate_names(names, "spec.names")
    errs += _validate_conversion(spec.get("conversion"))
    return errs


def _enum(path: str, value: str, accepted: tuple[str, ...]) -> list[FieldError]:
    if not value:
        return [FieldError.required(path)]
    if value not in accepted:
        return [FieldError.not_supported(path, value, list(accepted))]
    return []


def _validate_version(version: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    warning = version.get("deprecationWarning")
    if warning is not None:
        if not version.get("deprecated"):
            errs.append(FieldError.invalid(f"{path}.deprecationWarning", warning,
                                           "can only be set for deprecated versions"))
        elif len(warning) > 256:
            errs.append(FieldError.invalid(f"{path}.deprecationWarning", warning,
                                           "must be <= 256 characters long"))
        elif not warning:
            errs.append(FieldError.invalid(f"{path}.deprecationWarning", warning,
                                           "must not be an empty string"))
    subresources = version.get("subresources") or {}
    schema = (version.get("schema") or {}).get("openAPIV3Schema")
    if isinstance(schema, dict):
        errs += validate_schema(schema, f"{path}.schema.openAPIV3Schema",
                                status_enabled="status" in subresources)
    errs += _validate_subresources(subresources, f"{path}.subresources")
    for i, column in enumerate(version.get("additionalPrinterColumns") or []):
        errs += _validate_column(column, f"{path}.additionalPrinterColumns[{i}]")
    return errs


def validate_schema(schema: Obj, path: str, *, status_enabled: bool) -> list[FieldError]:
    """One version's openAPIV3Schema: root rules, structural invariants, valid and pruned
    defaults, then the OpenAPI rules of every sub-schema (upstream's
    validateCustomResourceDefinitionValidation)."""
    errs: list[FieldError] = []
    if status_enabled:
        if "type" in schema and schema.get("type") != "object":
            errs.append(FieldError.invalid(
                f"{path}.type", schema.get("type"),
                'only "object" is allowed as the type at the root of the schema if the status '
                "subresource is enabled"))
        elif set(schema) - _STATUS_ROOT_KEYS - {"type"}:
            errs.append(FieldError.invalid(
                path, gorepr.value("apiextensions.JSONSchemaProps{...}"),
                f"only [{' '.join(STATUS_ROOT_FIELDS)}] fields are allowed at the root of the "
                "schema if the status subresource is enabled"))
    if schema.get("nullable"):
        errs.append(FieldError.forbidden(f"{path}.nullable", "nullable cannot be true at the "
                                                             "root"))
    structural_errs = structural.validate_structural(schema, path)
    errs += structural_errs
    if not structural_errs:
        errs += _validate_defaults(schema, path, is_root=True)
    errs += _openapi_schema(schema, path, is_root=True, defaults_forbidden="",
                            inside_meta=False)
    return errs


def _validate_defaults(schema: Obj, path: str, *, is_root: bool) -> list[FieldError]:
    """Each default validates against its own schema and keeps no field the schema would
    prune (upstream's structuraldefaulting.ValidateDefaults)."""
    errs: list[FieldError] = []
    if not is_root and "default" in schema:
        default_path = f"{path}.default"
        value = copy.deepcopy(schema["default"])
        defaulting.default(value, schema)
        for error in schemavalidation.validate(value, schema):
            field_ = fieldpath.child(default_path, error.field) if error.field else default_path
            errs.append(FieldError(field_, error.reason, error.message))
        pruned = copy.deepcopy(schema["default"])
        if isinstance(pruned, dict) and pruning.prune_value(pruned, schema):
            errs.append(FieldError.invalid(default_path, gorepr.value(
                "map[string]interface {}{...}"), "must not have unknown fields"))
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict) and not (is_root and name in _META_FIELDS):
            errs += _validate_defaults(prop, fieldpath.key(f"{path}.properties", name),
                                       is_root=False)
    if isinstance(schema.get("items"), dict):
        errs += _validate_defaults(schema["items"], f"{path}.items", is_root=False)
    if isinstance(schema.get("additionalProperties"), dict):
        errs += _validate_defaults(schema["additionalProperties"],
                                   f"{path}.additionalProperties", is_root=False)
    return errs


def _openapi_schema(schema: Obj, path: str, *, is_root: bool, defaults_forbidden: str,
                    inside_meta: bool) -> list[FieldError]:
    """upstream ValidateCustomResourceDefinitionOpenAPISchema with the v3 standard
    validator, minus CEL compilation."""
    errs: list[FieldError] = []
    type_ = schema.get("type") or ""
    if type_ and type_ not in OPENAPI_V3_TYPES:
        errs.append(FieldError.not_supported(f"{path}.type", type_, list(OPENAPI_V3_TYPES)))
    if "default" in schema and defaults_forbidden:
        errs.append(FieldError.forbidden(f"{path}.default",
                                         f"must not be set {defaults_forbidden}"))
    for key, detail in (("id", "id is not supported"),
                        ("additionalItems", "additionalItems is not supported"),
                        ("patternProperties", "patternProperties is not supported"),
                        ("definitions", "definitions is not supported"),
                        ("dependencies", "dependencies is not supported"),
                        ("$ref", "$ref is not supported")):
        if schema.get(key):
            errs.append(FieldError.forbidden(f"{path}.{key}", detail))
    if type_ == "null":
        errs.append(FieldError.forbidden(f"{path}.type", "type cannot be set to null, use "
                                                         "nullable as an alternative"))
    if isinstance(schema.get("items"), list):
        errs.append(FieldError.forbidden(f"{path}.items", "items must be a schema object and "
                                                          "not an array"))
    if inside_meta and schema.get("x-kubernetes-embedded-resource"):
        errs.append(FieldError.forbidden(f"{path}.x-kubernetes-embedded-resource",
                                         "must not be used inside of resource meta"))
    if schema.get("uniqueItems"):
        errs.append(FieldError.forbidden(f"{path}.uniqueItems", "uniqueItems cannot be set to "
                                         "true since the runtime complexity becomes quadratic"))
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    if additional is not None:
        if properties and (additional is False or isinstance(additional, dict)):
            errs.append(FieldError.forbidden(f"{path}.additionalProperties",
                                             "additionalProperties and properties are mutual "
                                             "exclusive"))
        if isinstance(additional, dict):
            errs += _openapi_schema(
                additional, f"{path}.additionalProperties", is_root=False,
                defaults_forbidden="inside additionalProperties applying to object metadata"
                if inside_meta else defaults_forbidden, inside_meta=inside_meta)
    embedded = bool(schema.get("x-kubernetes-embedded-resource"))
    for name, prop in properties.items():
        if not isinstance(prop, dict):
            continue
        sub_forbidden, sub_meta = defaults_forbidden, inside_meta
        if (is_root or embedded) and name in _META_FIELDS:
            sub_meta = True
            if is_root:
                sub_forbidden = f"in top-level {name}"
        errs += _openapi_schema(prop, fieldpath.key(f"{path}.properties", name), is_root=False,
                                defaults_forbidden=sub_forbidden, inside_meta=sub_meta)
    if isinstance(schema.get("not"), dict):
        errs += _openapi_schema(schema["not"], f"{path}.not", is_root=False,
                                defaults_forbidden=defaults_forbidden, inside_meta=inside_meta)
    for junctor in ("allOf", "oneOf", "anyOf"):
        for i, nested in enumerate(schema.get(junctor) or []):
            if isinstance(nested, dict):
                errs += _openapi_schema(nested, f"{path}.{junctor}[{i}]", is_root=False,
                                        defaults_forbidden=defaults_forbidden,
                                        inside_meta=inside_meta)
    if isinstance(schema.get("items"), dict):
        errs += _openapi_schema(schema["items"], f"{path}.items", is_root=False,
                                defaults_forbidden=defaults_forbidden, inside_meta=inside_meta)
    errs += _extensions(schema, path, type_)
    return errs


def _extensions(schema: Obj, path: str, type_: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if schema.get("x-kubernetes-preserve-unknown-fields") is False:
        errs.append(FieldError.invalid(f"{path}.x-kubernetes-preserve-unknown-fields", False,
                                       "must be true or undefined"))
    map_type = schema.get("x-kubernetes-map-type")
    if map_type is not None:
        if type_ != "object":
            detail = "must be object if x-kubernetes-map-type is specified"
            errs.append(FieldError.invalid(f"{path}.type", type_, detail) if type_
                        else FieldError.required(f"{path}.type", detail))
        if map_type not in MAP_TYPES:
            errs.append(FieldError.not_supported(f"{path}.x-kubernetes-map-type", map_type,
                                                 list(MAP_TYPES)))
    list_type = schema.get("x-kubernetes-list-type")
    if list_type is not None:
        if type_ != "array":
            detail = "must be array if x-kubernetes-list-type is specified"
            errs.append(FieldError.invalid(f"{path}.type", type_, detail) if type_
                        else FieldError.required(f"{path}.type", detail))
        if list_type not in LIST_TYPES:
            errs.append(FieldError.not_supported(f"{path}.x-kubernetes-list-type", list_type,
                                                 list(LIST_TYPES)))
    map_keys = schema.get("x-kubernetes-list-map-keys") or []
    if map_keys and list_type != "map":
        detail = "must be map if x-kubernetes-list-map-keys is non-empty"
        errs.append(FieldError.invalid(f"{path}.x-kubernetes-list-type", list_type, detail)
                    if list_type else
                    FieldError.required(f"{path}.x-kubernetes-list-type", detail))
    if list_type == "map" and not map_keys:
        errs.append(FieldError.required(f"{path}.x-kubernetes-list-map-keys",
                                        "must not be empty if x-kubernetes-list-type is map"))
    for i, rule in enumerate(schema.get("x-kubernetes-validations") or []):
        if not str((rule or {}).get("rule") or "").strip():
            errs.append(FieldError.required(f"{path}.x-kubernetes-validations[{i}].rule",
                                            "rule is not specified"))
    return errs


def _validate_subresources(subresources: Obj, path: str) -> list[FieldError]:
    scale = subresources.get("scale")
    if not isinstance(scale, dict):
        return []
    errs: list[FieldError] = []
    for key, prefixes, where in (("specReplicasPath", (".spec.",), ".spec"),
                                 ("statusReplicasPath", (".status.",), ".status")):
        value = scale.get(key) or ""
        field_ = f"{path}.scale.{key}"
        if not value:
            errs.append(FieldError.required(field_))
        elif simple := _simple_json_path(value, field_):
            errs += simple
        elif not value.startswith(prefixes):
            errs.append(FieldError.invalid(field_, value, f"should be a json path under {where}"))
    selector = scale.get("labelSelectorPath") or ""
    if selector:
        field_ = f"{path}.scale.labelSelectorPath"
        if simple := _simple_json_path(selector, field_):
            errs += simple
        elif not selector.startswith((".spec.", ".status.")):
            errs.append(FieldError.invalid(field_, selector,
                                           "should be a json path under either .spec or .status"))
    return errs


def _simple_json_path(value: str, path: str) -> list[FieldError]:
    if not value:
        return [FieldError.invalid(path, value, "must not be empty")]
    if not value.startswith("."):
        return [FieldError.invalid(path, value, "must be a simple json path starting with .")]
    return []


def _validate_column(column: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not column.get("name"):
        errs.append(FieldError.required(f"{path}.name"))
    type_ = column.get("type") or ""
    types = ",".join(PRINTER_COLUMN_TYPES)
    if not type_:
        errs.append(FieldError.required(f"{path}.type", f"must be one of {types}"))
    elif type_ not in PRINTER_COLUMN_TYPES:
        errs.append(FieldError.invalid(f"{path}.type", type_, f"must be one of {types}"))
    fmt = column.get("format") or ""
    if fmt and fmt not in PRINTER_COLUMN_FORMATS:
        errs.append(FieldError.invalid(f"{path}.format", fmt,
                                       f"must be one of {','.join(PRINTER_COLUMN_FORMATS)}"))
    json_path = column.get("jsonPath") or ""
    if not json_path:
        errs.append(FieldError.required(f"{path}.JSONPath"))
    else:
        errs += _simple_json_path(json_path, f"{path}.JSONPath")
    return errs


def validate_names(names: Obj, path: str) -> list[FieldError]:
    """upstream ValidateCustomResourceDefinitionNames (for spec.names and
    status.acceptedNames)."""
    errs: list[FieldError] = []
    for key in ("plural", "singular"):
        value = names.get(key) or ""
        if value and (messages := api_validation.is_dns1035_label(value)):
            errs.append(FieldError.invalid(f"{path}.{key}", value, ",".join(messages)))
    for key in ("kind", "listKind"):
        value = names.get(key) or ""
        if value and (messages := api_validation.is_dns1035_label(value.lower())):
            errs.append(FieldError.invalid(f"{path}.{key}", value,
                                           MIXED_CASE + ",".join(messages)))
    for i, short_name in enumerate(names.get("shortNames") or []):
        if messages := api_validation.is_dns1035_label(short_name):
            errs.append(FieldError.invalid(f"{path}.shortNames[{i}]", short_name,
                                           ",".join(messages)))
    kind = names.get("kind") or ""
    if kind and kind == names.get("listKind"):
        errs.append(FieldError.invalid(f"{path}.listKind", kind,
                                       "kind and listKind may not be the same"))
    for i, category in enumerate(names.get("categories") or []):
        if messages := api_validation.is_dns1035_label(category):
            errs.append(FieldError.invalid(f"{path}.categories[{i}]", category,
                                           ",".join(messages)))
    return errs


def _validate_conversion(conversion: Obj | None) -> list[FieldError]:
    if not isinstance(conversion, dict):
        return []
    strategy = conversion.get("strategy") or ""
    errs = _enum("spec.conversion.strategy", strategy, CONVERSION_STRATEGIES)
    if strategy == "Webhook":
        webhook = conversion.get("webhook") or {}
        if not webhook.get("clientConfig"):
            errs.append(FieldError.required("spec.conversion.webhookClientConfig",
                                            "required when strategy is set to Webhook"))
        if not webhook.get("conversionReviewVersions"):
            errs.append(FieldError.required("spec.conversion.conversionReviewVersions"))
    elif conversion.get("webhook"):
        errs.append(FieldError.forbidden("spec.conversion.webhookClientConfig",
                                         "should not be set when strategy is not set to "
                                         "Webhook"))
    return errs


def _validate_spec_update(spec: Obj, old_spec: Obj, *, established: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    names, old_names = spec.get("names") or {}, old_spec.get("names") or {}
    if established:
        errs += objectmeta.immutable(spec.get("scope"), old_spec.get("scope"),
                                                    "spec.scope")
        errs += objectmeta.immutable(names.get("kind"), old_names.get("kind"),
                                                    "spec.names.kind")
    errs += objectmeta.immutable(spec.get("group"), old_spec.get("group"),
                                                "spec.group")
    errs += objectmeta.immutable(names.get("plural"), old_names.get("plural"),
                                                "spec.names.plural")
    return errs


def _validate_stored_versions(stored: list[str], versions: list[Obj]) -> list[FieldError]:
    if not stored:
        return [FieldError.invalid("status.storedVersions", gorepr.value(
            gorepr.strings(stored)), "must have at least one stored version")]
    errs: list[FieldError] = []
    remaining = {name: i for i, name in enumerate(stored)}
    for version in versions:
        name = version.get("name") or ""
        if version.get("storage") and name not in remaining:
            errs.append(FieldError.invalid(
                "status.storedVersions",
                gorepr.value(gorepr.strings(stored)),
                f"must have the storage version {name}"))
        remaining.pop(name, None)
    for name, i in remaining.items():
        errs.append(FieldError.invalid(
            f"status.storedVersions[{i}]", name,
            f"missing from spec.versions; {name} was previously a storage version, and must "
            f"remain in spec.versions until a storage migration ensures no data remains "
            f"persisted in {name} and removes {name} from status.storedVersions"))
    return errs


def is_protected_group(group: str) -> bool:
    return group in ("k8s.io", "kubernetes.io") or group.endswith((".k8s.io", ".kubernetes.io"))


def _validate_api_approval(crd: Obj, old: Obj | None) -> list[FieldError]:
    group = (crd.get("spec") or {}).get("group") or ""
    if not is_protected_group(group):
        return []
    path = f"metadata.annotations[{API_APPROVAL_ANNOTATION}]"
    value = ((crd.get("metadata") or {}).get("annotations") or {}).get(API_APPROVAL_ANNOTATION)
    if old is not None:
        old_value = ((old.get("metadata") or {}).get("annotations") or {}).get(
            API_APPROVAL_ANNOTATION)
        if old_value == value:
            return []  # never tighten what is stored
    if value is None:
        return [FieldError.required(path, API_APPROVAL_MISSING)]
    if value.startswith(("unapproved", "http://", "https://")):
        return []
    return [FieldError.invalid(path, value, API_APPROVAL_INVALID)]


def _validate_preserve_unknown_fields(spec: Obj, old: Obj | None) -> list[FieldError]:
    if not spec.get("preserveUnknownFields"):
        return []
    if old is not None and (old.get("spec") or {}).get("preserveUnknownFields"):
        return []
    return [FieldError.invalid("spec.preserveUnknownFields", True, PRESERVE_UNKNOWN_FIELDS_V1)]
