"""Scheduling fields of a pod spec (tolerations, affinity, topology spread, nodeSelector): the
exact `field: message` lines a user reads in a 422, as upstream v1.33 words them."""

from __future__ import annotations

from typing import Any

import pytest

from kajitori.api import defaults, validation
from kajitori.api.errors import invalid
from kajitori.api.validation import scheduling

QNAME_REGEX = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
ANTI = "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]"
NODE_REQ = ("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
            ".nodeSelectorTerms[0]")


def _messages(errs: list[Any]) -> list[str]:
    return [str(e) for e in errs]


def _pod_errors(**spec: Any) -> list[str]:
    """Every error of creating a defaulted pod with these spec fields."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec}}
    defaults.apply_defaults("", "v1", "Pod", pod)
    return _messages(validation.validate("", "pods", pod))


def _tolerations(*tolerations: dict[str, Any]) -> list[str]:
    return _messages(scheduling.validate_tolerations(list(tolerations), "spec.tolerations"))


def _node_term(*expressions: dict[str, Any], fields: list[dict[str, Any]] | None = None) -> Any:
    term: dict[str, Any] = {"matchExpressions": list(expressions)}
    if fields is not None:
        term["matchFields"] = fields
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [term]}}}


def _affinity(affinity: dict[str, Any]) -> list[str]:
    return _messages(scheduling.validate_affinity(affinity, "spec.affinity"))


def _anti(term: dict[str, Any]) -> list[str]:
    return _affinity({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        term]}})


def _spread(*constraints: dict[str, Any]) -> list[str]:
    return _messages(scheduling.validate_topology_spread_constraints(
        list(constraints), "spec.topologySpreadConstraints"))


def _tsc(**fields: Any) -> dict[str, Any]:
    return {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule", **fields}


# ---- tolerations ------------------------------------------------------------------------------

def test_valid_tolerations_pass() -> None:
    assert _tolerations(
        {"key": "example.com/gpu", "operator": "Equal", "value": "yes", "effect": "NoSchedule"},
        {"key": "dedicated", "value": "db"},
        {"operator": "Exists"},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
        {"key": "soft", "operator": "Exists", "effect": "PreferNoSchedule"}) == []


def test_unknown_operator_is_unsupported() -> None:
    assert _tolerations({"key": "k", "operator": "Bogus"}) == [
        'spec.tolerations[0].operator: Unsupported value: "Bogus": supported values: "Equal", '
        '"Exists"']


def test_exists_with_a_value_is_invalid_at_the_operator() -> None:
    assert _tolerations({"key": "k", "operator": "Exists", "value": "a"}) == [
        "spec.tolerations[0].operator: Invalid value: \"a\": value must be empty when "
        "`operator` is 'Exists'"]


@pytest.mark.parametrize("operator", ["Equal", ""])
def test_empty_key_needs_exists(operator: str) -> None:
    assert _tolerations({"operator": operator, "effect": "NoSchedule"}) == [
        f'spec.tolerations[0].operator: Invalid value: "{operator}": operator must be Exists '
        'when `key` is empty, which means "match all values and all keys"']


def test_bad_value_for_equal_is_reported_at_the_operator() -> None:
    assert _tolerations({"key": "k", "operator": "Equal", "value": "a b"}) == [
        f'spec.tolerations[0].operator: Invalid value: "a b": {LABEL_VALUE}']


def test_key_must_be_a_qualified_name() -> None:
    assert _tolerations({"key": "bad key", "operator": "Exists"}) == [
        f'spec.tolerations[0].key: Invalid value: "bad key": {QNAME_REGEX}']


def test_unknown_effect_is_unsupported() -> None:
    assert _tolerations({"key": "k", "operator": "Exists", "effect": "NoRun"}) == [
        'spec.tolerations[0].effect: Unsupported value: "NoRun": supported values: '
        '"NoSchedule", "PreferNoSchedule", "NoExecute"']


@pytest.mark.parametrize("effect", ["NoSchedule", ""])
def test_toleration_seconds_need_no_execute(effect: str) -> None:
    tol = {"key": "k", "operator": "Exists", "tolerationSeconds": 60}
    if effect:
        tol["effect"] = effect
    assert _tolerations(tol) == [
        f"spec.tolerations[0].effect: Invalid value: \"{effect}\": effect must be 'NoExecute' "
        "when `tolerationSeconds` is set"]


def test_toleration_errors_come_in_upstream_order() -> None:
    assert _tolerations({"operator": "Bogus", "effect": "Never", "tolerationSeconds": 5}) == [
        'spec.tolerations[0].operator: Invalid value: "Bogus": operator must be Exists when '
        '`key` is empty, which means "match all values and all keys"',
        "spec.tolerations[0].effect: Invalid value: \"Never\": effect must be 'NoExecute' when "
        "`tolerationSeconds` is set",
        'spec.tolerations[0].operator: Unsupported value: "Bogus": supported values: "Equal", '
        '"Exists"',
        'spec.tolerations[0].effect: Unsupported value: "Never": supported values: '
        '"NoSchedule", "PreferNoSchedule", "NoExecute"']


# ---- node affinity ----------------------------------------------------------------------------

def test_valid_node_affinity_passes() -> None:
    affinity = _node_term(
        {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["a", "b"]},
        {"key": "gpu", "operator": "DoesNotExist"},
        {"key": "cores", "operator": "Gt", "values": ["4"]},
        fields=[{"key": "metadata.name", "operator": "NotIn", "values": ["node-1"]}])
    affinity["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] = [
        {"weight": 100, "preference": {"matchExpressions": [
            {"key": "disk", "operator": "In", "values": ["ssd"]}]}}]
    assert _affinity(affinity) == []


def test_node_affinity_unknown_operator_is_invalid() -> None:
    assert _affinity(_node_term({"key": "zone", "operator": "Bogus", "values": ["a"]})) == [
        f'{NODE_REQ}.matchExpressions[0].operator: Invalid value: "Bogus": not a valid selector '
        'operator']


def test_node_affinity_operator_values_rules() -> None:
    assert _affinity(_node_term(
        {"key": "a", "operator": "In"},
        {"key": "b", "operator": "Exists", "values": ["x"]},
        {"key": "c", "operator": "Lt", "values": ["1", "2"]})) == [
        f"{NODE_REQ}.matchExpressions[0].values: Required value: must be specified when "
        "`operator` is 'In' or 'NotIn'",
        f"{NODE_REQ}.matchExpressions[1].values: Forbidden: may not be specified when "
        "`operator` is 'Exists' or 'DoesNotExist'",
        f"{NODE_REQ}.matchExpressions[2].values: Required value: must be specified single value "
        "when `operator` is 'Lt' or 'Gt'"]


def test_required_node_affinity_checks_key_and_values() -> None:
    assert _affinity(_node_term({"key": "bad key", "operator": "In", "values": ["a b"]})) == [
        f'{NODE_REQ}.matchExpressions[0].key: Invalid value: "bad key": {QNAME_REGEX}',
        f'{NODE_REQ}.matchExpressions[0].values[0]: Invalid value: "a b": {LABEL_VALUE}']


def test_required_node_affinity_needs_a_term() -> None:
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": []}}}
    assert _affinity(affinity) == [
        "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
        ".nodeSelectorTerms: Required value: must have at least one node selector term"]


def test_node_field_selector_rules() -> None:
    assert _affinity(_node_term(fields=[
        {"key": "metadata.name", "operator": "In", "values": ["a", "b"]},
        {"key": "metadata.labels", "operator": "Exists"},
        {"key": "metadata.name", "operator": "In", "values": ["Bad_Node"]}])) == [
        f"{NODE_REQ}.matchFields[0].values: Required value: must be only one value when "
        "`operator` is 'In' or 'NotIn' for node field selector",
        f'{NODE_REQ}.matchFields[1].operator: Invalid value: "Exists": not a valid selector '
        'operator',
        f'{NODE_REQ}.matchFields[1].key: Invalid value: "metadata.labels": not a valid field '
        'selector key',
        f'{NODE_REQ}.matchFields[2].values[0]: Invalid value: "Bad_Node": a lowercase RFC 1123 '
        "subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
        "start and end with an alphanumeric character (e.g. 'example.com', regex used for "
        "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]


def test_preferred_node_affinity_checks_weight_but_not_values() -> None:
    affinity = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 0, "preference": {"matchExpressions": [
            {"key": "disk", "operator": "In", "values": ["not a label value"]}]}},
        {"weight": 101, "preference": {"matchExpressions": [
            {"key": "disk", "operator": "Bogus"}]}}]}}
    path = "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution"
    assert _affinity(affinity) == [
        f"{path}[0].weight: Invalid value: 0: must be in the range 1-100",
        f"{path}[1].weight: Invalid value: 101: must be in the range 1-100",
        f'{path}[1].preference.matchExpressions[0].operator: Invalid value: "Bogus": not a valid '
        'selector operator']


# ---- pod affinity and anti-affinity -----------------------------------------------------------

def test_valid_pod_affinity_passes() -> None:
    term = {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/host",
            "namespaces": ["default"], "namespaceSelector": {}, "matchLabelKeys": ["version"],
            "mismatchLabelKeys": ["tenant"]}
    assert _affinity({
        "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]},
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 50, "podAffinityTerm": term}]}}) == []


def test_empty_topology_key_is_required_and_not_a_name() -> None:
    assert _anti({"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": ""}) == [
        f"{ANTI}.topologyKey: Required value: can not be empty",
        f'{ANTI}.topologyKey: Invalid value: "": name part must be non-empty',
        f'{ANTI}.topologyKey: Invalid value: "": {QNAME_REGEX}']


def test_pod_affinity_selectors_are_validated() -> None:
    assert _anti({"labelSelector": {"matchExpressions": [{"key": "app", "operator": "Bogus"}]},
                  "namespaceSelector": {"matchLabels": {"team": "a b"}},
                  "topologyKey": "zone"}) == [
        f'{ANTI}.labelSelector.matchExpressions[0].operator: Invalid value: "Bogus": not a valid '
        'selector operator',
        f'{ANTI}.namespaceSelector.matchLabels: Invalid value: "a b": {LABEL_VALUE}']


def test_bad_namespace_is_reported_at_upstreams_singular_path() -> None:
    errs = _anti({"topologyKey": "zone", "namespaces": ["Bad_NS"]})
    assert errs == [
        f'{ANTI}.namespace: Invalid value: "Bad_NS": a lowercase RFC 1123 label must consist of '
        "lower case alphanumeric characters or '-', and must start and end with an alphanumeric "
        "character (e.g. 'my-name',  or '123-abc', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]


def test_label_keys_need_a_selector() -> None:
    assert _anti({"topologyKey": "zone", "matchLabelKeys": ["a"],
                  "mismatchLabelKeys": ["b"]}) == [
        f"{ANTI}.matchLabelKeys: Forbidden: must not be specified when labelSelector is not set",
        f"{ANTI}.mismatchLabelKeys: Forbidden: must not be specified when labelSelector is not "
        "set"]


def test_label_keys_rules() -> None:
    selector = {"matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "app", "operator": "Exists"}]}
    assert _anti({"topologyKey": "zone", "labelSelector": selector,
                  "matchLabelKeys": ["bad key", "app", "tier"],
                  "mismatchLabelKeys": ["tier"]}) == [
        f'{ANTI}.matchLabelKeys[0]: Invalid value: "bad key": {QNAME_REGEX}',
        f'{ANTI}[1]: Invalid value: "app": exists in both matchLabelKeys and labelSelector',
        f'{ANTI}.matchLabelKeys[2]: Invalid value: "tier": exists in both matchLabelKeys and '
        'mismatchLabelKeys']


def test_weighted_pod_affinity_term_weight_and_path() -> None:
    path = "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]"
    assert _affinity({"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 200, "podAffinityTerm": {"topologyKey": "bad key"}}]}}) == [
        f"{path}.weight: Invalid value: 200: must be in the range 1-100",
        f'{path}.podAffinityTerm.topologyKey: Invalid value: "bad key": {QNAME_REGEX}']


# ---- topology spread --------------------------------------------------------------------------

def test_valid_spread_constraints_pass() -> None:
    assert _spread(
        _tsc(labelSelector={"matchLabels": {"app": "web"}}, matchLabelKeys=["version"],
             minDomains=3, nodeAffinityPolicy="Honor", nodeTaintsPolicy="Ignore"),
        _tsc(whenUnsatisfiable="ScheduleAnyway")) == []


def test_spread_constraint_field_rules() -> None:
    p = "spec.topologySpreadConstraints[0]"
    assert _spread({"maxSkew": 0, "topologyKey": "", "whenUnsatisfiable": "Maybe",
                    "nodeAffinityPolicy": "Always", "nodeTaintsPolicy": "Never"}) == [
        f"{p}.maxSkew: Invalid value: 0: must be greater than zero",
        f"{p}.topologyKey: Required value: can not be empty",
        f'{p}.whenUnsatisfiable: Unsupported value: "Maybe": supported values: "DoNotSchedule", '
        '"ScheduleAnyway"',
        f'{p}.nodeAffinityPolicy: Unsupported value: "Always": supported values: "Honor", '
        '"Ignore"',
        f'{p}.nodeTaintsPolicy: Unsupported value: "Never": supported values: "Honor", "Ignore"']


def test_min_domains_positive_and_only_with_do_not_schedule() -> None:
    p = "spec.topologySpreadConstraints[0]"
    assert _spread(_tsc(whenUnsatisfiable="ScheduleAnyway", minDomains=0)) == [
        f"{p}.minDomains: Invalid value: 0: must be greater than zero",
        f"{p}.minDomains: Invalid value: 0: can only use minDomains if "
        "whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway"]


def test_repeated_key_and_action_is_a_duplicate_at_the_first() -> None:
    assert _spread(_tsc(), _tsc(whenUnsatisfiable="ScheduleAnyway"), _tsc(maxSkew=2)) == [
        "spec.topologySpreadConstraints[0].{topologyKey, whenUnsatisfiable}: Duplicate value: "
        '"{zone, DoNotSchedule}"']


def test_spread_match_label_keys_rules() -> None:
    p = "spec.topologySpreadConstraints"
    assert _spread(_tsc(matchLabelKeys=["app"]),
                   _tsc(topologyKey="host", labelSelector={"matchLabels": {"app": "web"}},
                        matchLabelKeys=["app", "bad key"])) == [
        f"{p}[0].matchLabelKeys: Forbidden: must not be specified when labelSelector is not set",
        f'{p}[1].matchLabelKeys[0]: Invalid value: "app": exists in both matchLabelKeys and '
        'labelSelector',
        f'{p}[1].matchLabelKeys[1]: Invalid value: "bad key": {QNAME_REGEX}']


def test_spread_label_selector_is_validated() -> None:
    assert _spread(_tsc(labelSelector={"matchExpressions": [
        {"key": "app", "operator": "In"}]})) == [
        "spec.topologySpreadConstraints[0].labelSelector.matchExpressions[0].values: Required "
        "value: must be specified when `operator` is 'In' or 'NotIn'"]


# ---- through the pod spec ---------------------------------------------------------------------

def test_node_selector_labels_are_validated() -> None:
    assert _pod_errors(nodeSelector={"disk": "a b"}) == [
        f'spec.nodeSelector: Invalid value: "a b": {LABEL_VALUE}']


def test_pod_with_bad_toleration_reads_as_kubectl_shows_it() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "nginx"}],
                    "tolerations": [{"key": "k", "operator": "Bogus"}]}}
    defaults.apply_defaults("", "v1", "Pod", pod)
    err = invalid("Pod", "x", validation.validate("", "pods", pod))
    assert err.status["message"] == (
        'Pod "x" is invalid: spec.tolerations[0].operator: Unsupported value: "Bogus": '
        'supported values: "Equal", "Exists"')
    assert err.status["details"]["causes"] == [
        {"reason": "FieldValueNotSupported", "field": "spec.tolerations[0].operator",
         "message": 'Unsupported value: "Bogus": supported values: "Equal", "Exists"'}]


def test_scheduling_errors_follow_pod_spec_order() -> None:
    assert _pod_errors(
        tolerations=[{"key": "k", "operator": "Exists", "value": "v"}],
        topologySpreadConstraints=[_tsc(maxSkew=-1)],
        affinity=_node_term({"key": "zone", "operator": "Bogus"})) == [
        f'{NODE_REQ}.matchExpressions[0].operator: Invalid value: "Bogus": not a valid selector '
        'operator',
        "spec.topologySpreadConstraints[0].maxSkew: Invalid value: -1: must be greater than zero",
        "spec.tolerations[0].operator: Invalid value: \"v\": value must be empty when "
        "`operator` is 'Exists'"]


def test_deployment_template_gets_the_same_rules() -> None:
    labels = {"app": "d"}
    obj = {"metadata": {"name": "d", "namespace": "default"},
           "spec": {"selector": {"matchLabels": labels}, "template": {
               "metadata": {"labels": labels},
               "spec": {"containers": [{"name": "c", "image": "nginx"}],
                        "tolerations": [{"key": "k", "operator": "Bogus"}]}}}}
    defaults.apply_defaults("apps", "v1", "Deployment", obj)
    assert _messages(validation.validate("apps", "deployments", obj)) == [
        'spec.template.spec.tolerations[0].operator: Unsupported value: "Bogus": supported '
        'values: "Equal", "Exists"']
