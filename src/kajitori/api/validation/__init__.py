"""Validation of built-in objects, worded as upstream: name rules, object metadata, and the
semantic rules of the kinds users write daily. See `resources.validate`, the entry point."""

from kajitori.api.validation.names import (
    is_config_map_key,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
)
from kajitori.api.validation.objectmeta import (
    FIELD_IMMUTABLE,
    NameRule,
    dns1035_label,
    dns_label,
    dns_subdomain,
    path_segment,
    validate_label_selector,
    validate_object_meta,
    validate_update_object_meta,
)
from kajitori.api.validation.resources import name_rule, validate

__all__ = [
    "FIELD_IMMUTABLE",
    "NameRule",
    "dns1035_label",
    "dns_label",
    "dns_subdomain",
    "is_config_map_key",
    "is_dns1035_label",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_qualified_name",
    "is_valid_label_value",
    "name_rule",
    "path_segment",
    "validate",
    "validate_label_selector",
    "validate_object_meta",
    "validate_update_object_meta",
]
