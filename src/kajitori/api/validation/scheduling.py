"""The scheduling fields of a pod spec: nodeSelector, affinity, tolerations and topology spread
constraints, worded as upstream.

Mirrors the scheduling part of pkg/apis/core/validation/validation.go (v1.33, default feature
gates): ValidateTolerations, validateAffinity with ValidateNodeSelector / ValidateNodeSelectorTerm
/ ValidateNodeSelectorRequirement / ValidateNodeFieldSelectorRequirement,
ValidatePreferredSchedulingTerms, validatePodAffinity / validatePodAntiAffinity /
validatePodAffinityTerm, and validateTopologySpreadConstraints. `core.validate_pod_spec` calls
`validate_pod_scheduling` where upstream's ValidatePodSpec checks nodeSelector, affinity and
spread constraints, and `validate_tolerations` where it checks tolerations, so pods and every pod
template (Deployments, Jobs, ...) get these rules. The scheduler that reads these fields lives in
`kajitori.scheduler.plugins`.

Functions take the fields as stored (wire-format dicts), return FieldErrors in upstream's order
and never raise. Upstream's field paths are kept where they look odd: a bad name in a pod
affinity term's `namespaces` is reported at `...namespace`, and a key in both `matchLabelKeys`
and the selector at the term's path indexed by the key's position.

Departures from upstream:
- Only a create's options: upstream relaxes label-value checks on update when the old object
  already held such values (AllowInvalidLabelValueInSelector and friends); here they always apply.
- Upstream's pod strategy first merges a pod's `matchLabelKeys` / `mismatchLabelKeys` into the
  affinity term's selector, so a key named in both `matchLabelKeys` and the selector is caught on
  the merged selector; Kajitori stores no such merge, so that check sees only what the user wrote.
- The `scheduler.alpha.kubernetes.io/...` annotations are not read.
"""

from __future__ import annotations

from typing import Any

from kajitori.api.errors import FieldError
from kajitori.api.validation import names, objectmeta

Obj = dict[str, Any]

TOLERATION_OPERATORS = ["Equal", "Exists"]
TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
WHEN_UNSATISFIABLE = ["DoNotSchedule", "ScheduleAnyway"]
NODE_INCLUSION_POLICIES = ["Honor", "Ignore"]
NODE_FIELD_SELECTOR_KEYS = frozenset({"metadata.name"})

EMPTY_KEY_NEEDS_EXISTS = ("operator must be Exists when `key` is empty, which means "
                          '"match all values and all keys"')
TOLERATION_SECONDS_NEEDS_NO_EXECUTE = "effect must be 'NoExecute' when `tolerationSeconds` is set"
EXISTS_WITH_VALUE = "value must be empty when `operator` is 'Exists'"
VALUES_FOR_IN = "must be specified when `operator` is 'In' or 'NotIn'"
NO_VALUES_FOR_EXISTS = "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
ONE_VALUE_FOR_GT_LT = "must be specified single value when `operator` is 'Lt' or 'Gt'"
ONE_VALUE_FOR_FIELD = ("must be only one value when `operator` is 'In' or 'NotIn' for node field "
                       "selector")
NOT_A_SELECTOR_OPERATOR = "not a valid selector operator"
NOT_A_FIELD_SELECTOR_KEY = "not a valid field selector key"
NO_NODE_SELECTOR_TERMS = "must have at least one node selector term"
WEIGHT_RANGE = "must be in the range 1-100"
CAN_NOT_BE_EMPTY = "can not be empty"
NOT_POSITIVE = "must be greater than zero"
KEYS_WITHOUT_SELECTOR = "must not be specified when labelSelector is not set"
IN_MATCH_LABEL_KEYS_AND_SELECTOR = "exists in both matchLabelKeys and labelSelector"
IN_MATCH_AND_MISMATCH_LABEL_KEYS = "exists in both matchLabelKeys and mismatchLabelKeys"


def _label_name(key: str, path: str) -> list[FieldError]:
    """Upstream metav1 ValidateLabelName: a qualified name."""
    return objectmeta.invalid_each(path, key, names.is_qualified_name(key))


# --- tolerations --------------------------------------------------------------------------------

def validate_tolerations(tolerations: list[Obj], path: str) -> list[FieldError]:
    """Upstream ValidateTolerations. An empty key matches every taint, so it needs `Exists`;
    `tolerationSeconds` only means something for `NoExecute`; an empty operator means `Equal`
    and an empty effect every effect."""
    out: list[FieldError] = []
    for i, tol in enumerate(tolerations):
        tol = tol or {}  # a null item decodes to an empty toleration, as in Go
        p = f"{path}[{i}]"
        key = tol.get("key") or ""
        operator = tol.get("operator") or ""
        value = tol.get("value") or ""
        effect = tol.get("effect") or ""
        if key:
            out += _label_name(key, f"{p}.key")
        if not key and operator != "Exists":
            out.append(FieldError.invalid(f"{p}.operator", operator, EMPTY_KEY_NEEDS_EXISTS))
        if tol.get("tolerationSeconds") is not None and effect != "NoExecute":
            out.append(FieldError.invalid(f"{p}.effect", effect,
                                          TOLERATION_SECONDS_NEEDS_NO_EXECUTE))
        if operator in ("Equal", ""):
            msgs = names.is_valid_label_value(value)
            if msgs:
                out.append(FieldError.invalid(f"{p}.operator", value, ";".join(msgs)))
        elif operator == "Exists":
            if value:
                out.append(FieldError.invalid(f"{p}.operator", value, EXISTS_WITH_VALUE))
        else:
            out.append(FieldError.not_supported(f"{p}.operator", operator, TOLERATION_OPERATORS))
        if effect and effect not in TAINT_EFFECTS:
            out.append(FieldError.not_supported(f"{p}.effect", effect, TAINT_EFFECTS))
    return out


# --- node affinity ------------------------------------------------------------------------------

def validate_node_selector_requirement(req: Obj, path: str, *,
                                       check_values: bool) -> list[FieldError]:
    """Upstream ValidateNodeSelectorRequirement. `check_values` is False for preferred terms,
    whose values upstream lets be any string (they may still match on a one-node cluster)."""
    out: list[FieldError] = []
    operator = req.get("operator") or ""
    values = req.get("values") or []
    if operator in ("In", "NotIn"):
        if not values:
            out.append(FieldError.required(f"{path}.values", VALUES_FOR_IN))
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            out.append(FieldError.forbidden(f"{path}.values", NO_VALUES_FOR_EXISTS))
    elif operator in ("Gt", "Lt"):
        if len(values) != 1:
            out.append(FieldError.required(f"{path}.values", ONE_VALUE_FOR_GT_LT))
    else:
        out.append(FieldError.invalid(f"{path}.operator", operator, NOT_A_SELECTOR_OPERATOR))
    out += _label_name(req.get("key") or "", f"{path}.key")
    if check_values:
        for j, v in enumerate(values):
            out += objectmeta.invalid_each(f"{path}.values[{j}]", v,
                                           names.is_valid_label_value(v))
    return out


def validate_node_field_selector_requirement(req: Obj, path: str) -> list[FieldError]:
    """Upstream ValidateNodeFieldSelectorRequirement: `metadata.name` In/NotIn one node name."""
    out: list[FieldError] = []
    operator = req.get("operator") or ""
    values = req.get("values") or []
    if operator in ("In", "NotIn"):
        if len(values) != 1:
            out.append(FieldError.required(f"{path}.values", ONE_VALUE_FOR_FIELD))
    else:
        out.append(FieldError.invalid(f"{path}.operator", operator, NOT_A_SELECTOR_OPERATOR))
    key = req.get("key") or ""
    if key not in NODE_FIELD_SELECTOR_KEYS:
        out.append(FieldError.invalid(f"{path}.key", key, NOT_A_FIELD_SELECTOR_KEY))
    else:
        for j, v in enumerate(values):
            out += objectmeta.invalid_each(f"{path}.values[{j}]", v,
                                           objectmeta.dns_subdomain(v, False))
    return out


def validate_node_selector_term(term: Obj, path: str, *, check_values: bool) -> list[FieldError]:
    """Upstream ValidateNodeSelectorTerm: its matchExpressions, then its matchFields."""
    out: list[FieldError] = []
    for j, req in enumerate(term.get("matchExpressions") or []):
        out += validate_node_selector_requirement(req or {}, f"{path}.matchExpressions[{j}]",
                                                  check_values=check_values)
    for j, req in enumerate(term.get("matchFields") or []):
        out += validate_node_field_selector_requirement(req or {}, f"{path}.matchFields[{j}]")
    return out


def validate_node_selector(selector: Obj, path: str) -> list[FieldError]:
    """Upstream ValidateNodeSelector, for a required node affinity: at least one term."""
    terms = selector.get("nodeSelectorTerms") or []
    if not terms:
        return [FieldError.required(f"{path}.nodeSelectorTerms", NO_NODE_SELECTOR_TERMS)]
    out: list[FieldError] = []
    for i, term in enumerate(terms):
        out += validate_node_selector_term(term or {}, f"{path}.nodeSelectorTerms[{i}]",
                                           check_values=True)
    return out


def validate_preferred_scheduling_terms(terms: list[Obj], path: str) -> list[FieldError]:
    """Upstream ValidatePreferredSchedulingTerms: weight 1-100 and a well-formed preference."""
    out: list[FieldError] = []
    for i, term in enumerate(terms):
        term = term or {}
        weight = int(term.get("weight") or 0)
        if not 0 < weight <= 100:
            out.append(FieldError.invalid(f"{path}[{i}].weight", weight, WEIGHT_RANGE))
        out += validate_node_selector_term(term.get("preference") or {},
                                           f"{path}[{i}].preference", check_values=False)
    return out


def _validate_node_affinity(affinity: Obj, path: str) -> list[FieldError]:
    out: list[FieldError] = []
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is not None:
        out += validate_node_selector(required,
                                      f"{path}.requiredDuringSchedulingIgnoredDuringExecution")
    preferred = affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []
    out += validate_preferred_scheduling_terms(
        preferred, f"{path}.preferredDuringSchedulingIgnoredDuringExecution")
    return out


# --- pod affinity and anti-affinity -------------------------------------------------------------

def _selector_keys(selector: Obj) -> list[str]:
    """The keys a label selector names, matchLabels first, as upstream walks them."""
    keys = list(selector.get("matchLabels") or {})
    return keys + [e.get("key") or "" for e in selector.get("matchExpressions") or []]


def _validate_label_keys(keys: list[str], selector: Obj | None,
                         path: str) -> list[FieldError]:
    """Upstream validateLabelKeys: label names, and only beside a selector."""
    if not keys:
        return []
    if selector is None:
        return [FieldError.forbidden(path, KEYS_WITHOUT_SELECTOR)]
    out: list[FieldError] = []
    for i, key in enumerate(keys):
        out += _label_name(key, f"{path}[{i}]")
    return out


def _validate_match_label_keys(term: Obj, path: str) -> list[FieldError]:
    """Upstream validateMatchLabelKeysAndMismatchLabelKeys for a pod affinity term."""
    match = list(term.get("matchLabelKeys") or [])
    mismatch = list(term.get("mismatchLabelKeys") or [])
    selector = term.get("labelSelector")
    out = _validate_label_keys(match, selector, f"{path}.matchLabelKeys")
    out += _validate_label_keys(mismatch, selector, f"{path}.mismatchLabelKeys")
    if selector is not None:
        position = {key: i for i, key in enumerate(match)}
        seen = set(selector.get("matchLabels") or {})
        for expr in selector.get("matchExpressions") or []:
            key = expr.get("key") or ""
            if key in position and key in seen:
                out.append(FieldError.invalid(f"{path}[{position[key]}]", key,
                                              IN_MATCH_LABEL_KEYS_AND_SELECTOR))
            seen.add(key)
    mismatched = set(mismatch)
    for i, key in enumerate(match):
        if key in mismatched:
            out.append(FieldError.invalid(f"{path}.matchLabelKeys[{i}]", key,
                                          IN_MATCH_AND_MISMATCH_LABEL_KEYS))
    return out


def validate_pod_affinity_term(term: Obj, path: str) -> list[FieldError]:
    """Upstream validatePodAffinityTerm: selectors, namespaces, label keys, then a topologyKey
    that is both present and a qualified name (an empty one fails both ways, as upstream)."""
    out = objectmeta.validate_label_selector(term.get("labelSelector"), f"{path}.labelSelector")
    out += objectmeta.validate_label_selector(term.get("namespaceSelector"),
                                              f"{path}.namespaceSelector")
    for name in term.get("namespaces") or []:
        out += objectmeta.invalid_each(f"{path}.namespace", name,
                                       objectmeta.dns_label(name, False))
    out += _validate_match_label_keys(term, path)
    topology_key = term.get("topologyKey") or ""
    if not topology_key:
        out.append(FieldError.required(f"{path}.topologyKey", CAN_NOT_BE_EMPTY))
    return out + _label_name(topology_key, f"{path}.topologyKey")


def _validate_pod_affinity(affinity: Obj, path: str) -> list[FieldError]:
    """Upstream validatePodAffinity and validatePodAntiAffinity, which check alike."""
    out: list[FieldError] = []
    required_path = f"{path}.requiredDuringSchedulingIgnoredDuringExecution"
    for i, term in enumerate(affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
                             or []):
        out += validate_pod_affinity_term(term or {}, f"{required_path}[{i}]")
    preferred_path = f"{path}.preferredDuringSchedulingIgnoredDuringExecution"
    for i, weighted in enumerate(affinity.get("preferredDuringSchedulingIgnoredDuringExecution")
                                 or []):
        weighted = weighted or {}
        weight = int(weighted.get("weight") or 0)
        if not 0 < weight <= 100:
            out.append(FieldError.invalid(f"{preferred_path}[{i}].weight", weight, WEIGHT_RANGE))
        out += validate_pod_affinity_term(weighted.get("podAffinityTerm") or {},
                                          f"{preferred_path}[{i}].podAffinityTerm")
    return out


def validate_affinity(affinity: Obj | None, path: str) -> list[FieldError]:
    """Upstream validateAffinity: node affinity, pod affinity, pod anti-affinity."""
    if not affinity:
        return []
    out: list[FieldError] = []
    if affinity.get("nodeAffinity") is not None:
        out += _validate_node_affinity(affinity["nodeAffinity"], f"{path}.nodeAffinity")
    if affinity.get("podAffinity") is not None:
        out += _validate_pod_affinity(affinity["podAffinity"], f"{path}.podAffinity")
    if affinity.get("podAntiAffinity") is not None:
        out += _validate_pod_affinity(affinity["podAntiAffinity"], f"{path}.podAntiAffinity")
    return out


# --- topology spread ----------------------------------------------------------------------------

def _validate_spread_match_label_keys(keys: list[str], selector: Obj | None,
                                      path: str) -> list[FieldError]:
    """Upstream validateMatchLabelKeysInTopologySpread."""
    if not keys:
        return []
    out: list[FieldError] = []
    if selector is None:
        out.append(FieldError.forbidden(path, KEYS_WITHOUT_SELECTOR))
    in_selector = set(_selector_keys(selector or {}))
    for i, key in enumerate(keys):
        out += _label_name(key, f"{path}[{i}]")
        if key in in_selector:
            out.append(FieldError.invalid(f"{path}[{i}]", key, IN_MATCH_LABEL_KEYS_AND_SELECTOR))
    return out


def validate_topology_spread_constraints(constraints: list[Obj],
                                         path: str) -> list[FieldError]:
    """Upstream validateTopologySpreadConstraints. A {topologyKey, whenUnsatisfiable} pair may
    appear once: the first of two is reported. Unlike an affinity term's, the topologyKey is
    only required, not checked as a name."""
    out: list[FieldError] = []
    for i, tsc in enumerate(constraints):
        tsc = tsc or {}
        p = f"{path}[{i}]"
        max_skew = int(tsc.get("maxSkew") or 0)
        if max_skew <= 0:
            out.append(FieldError.invalid(f"{p}.maxSkew", max_skew, NOT_POSITIVE))
        topology_key = tsc.get("topologyKey") or ""
        if not topology_key:
            out.append(FieldError.required(f"{p}.topologyKey", CAN_NOT_BE_EMPTY))
        action = tsc.get("whenUnsatisfiable") or ""
        if action not in WHEN_UNSATISFIABLE:
            out.append(FieldError.not_supported(f"{p}.whenUnsatisfiable", action,
                                                WHEN_UNSATISFIABLE))
        if any(((later or {}).get("topologyKey") or "") == topology_key
               and ((later or {}).get("whenUnsatisfiable") or "") == action
               for later in constraints[i + 1:]):
            out.append(FieldError.duplicate(f"{p}.{{topologyKey, whenUnsatisfiable}}",
                                            f"{{{topology_key}, {action}}}"))
        min_domains = tsc.get("minDomains")
        if min_domains is not None:
            if int(min_domains) <= 0:
                out.append(FieldError.invalid(f"{p}.minDomains", int(min_domains),
                                              NOT_POSITIVE))
            if action != "DoNotSchedule":
                out.append(FieldError.invalid(
                    f"{p}.minDomains", int(min_domains),
                    f"can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {action}"))
        for policy in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
            value = tsc.get(policy)
            if value is not None and value not in NODE_INCLUSION_POLICIES:
                out.append(FieldError.not_supported(f"{p}.{policy}", value,
                                                    NODE_INCLUSION_POLICIES))
        out += _validate_spread_match_label_keys(list(tsc.get("matchLabelKeys") or []),
                                                 tsc.get("labelSelector"), f"{p}.matchLabelKeys")
        out += objectmeta.validate_label_selector(tsc.get("labelSelector"), f"{p}.labelSelector")
    return out


# --- the pod spec -------------------------------------------------------------------------------

def validate_pod_scheduling(spec: Obj, path: str) -> list[FieldError]:
    """The nodeSelector, affinity and topologySpreadConstraints of a pod spec at `path`, in
    upstream ValidatePodSpec's order. Tolerations come later there: `validate_tolerations`."""
    out = objectmeta.validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    out += validate_affinity(spec.get("affinity"), f"{path}.affinity")
    out += validate_topology_spread_constraints(spec.get("topologySpreadConstraints") or [],
                                                f"{path}.topologySpreadConstraints")
    return out
