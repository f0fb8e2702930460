"""Bad scheduling input end to end: `kubectl apply` of a pod or Deployment whose tolerations,
affinity or topology spread constraints upstream v1.33 rejects fails with exit code 1 and
kubectl's `The Pod "x" is invalid: <field path>: <message>`, and nothing is stored.

The rules themselves are unit-tested in tests/unit/api/test_validation_scheduling.py; this
checks that the apiserver applies them to pods and pod templates and that kubectl shows them
as upstream's apiserver makes it show them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubectlrunner import Kubectl, new_namespace

pytestmark = pytest.mark.e2e

SUPPORTED_OPERATORS = 'supported values: "Equal", "Exists"'
QNAME_REGEX = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
ANTI = "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]"
NODE_REQ = ("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
            ".nodeSelectorTerms[0]")


@pytest.fixture
def ns(kubectl: Kubectl) -> str:
    return new_namespace(kubectl, "schedval")


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec}}


def deployment(name: str, **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": labels}, "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec}}}}


def refused_apply(kubectl: Kubectl, ns: str, manifest: dict[str, Any]) -> str:
    """`kubectl apply` expected to fail: its stderr without the version-skew warning."""
    result = kubectl.run("apply", "-n", ns, "-f", "-", input=json.dumps(manifest), check=False)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    return "\n".join(line for line in result.stderr.splitlines()
                     if not line.startswith("Warning: version difference"))


def stored_names(kubectl: Kubectl, ns: str) -> str:
    return kubectl("get", "pods,deployments", "-n", ns, "-o", "name")


BAD_PODS = [
    pytest.param(
        {"tolerations": [{"key": "k", "operator": "Bogus"}]},
        f'spec.tolerations[0].operator: Unsupported value: "Bogus": {SUPPORTED_OPERATORS}',
        id="toleration-operator"),
    pytest.param(
        {"tolerations": [{"key": "k", "operator": "Exists", "value": "a"}]},
        "spec.tolerations[0].operator: Invalid value: \"a\": value must be empty when "
        "`operator` is 'Exists'",
        id="exists-with-value"),
    pytest.param(
        {"tolerations": [{"operator": "Equal", "value": "a"}]},
        'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when '
        '`key` is empty, which means "match all values and all keys"',
        id="equal-without-key"),
    pytest.param(
        {"tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule",
                          "tolerationSeconds": 30}]},
        "spec.tolerations[0].effect: Invalid value: \"NoSchedule\": effect must be 'NoExecute' "
        "when `tolerationSeconds` is set",
        id="toleration-seconds"),
    pytest.param(
        {"tolerations": [{"key": "k", "operator": "Exists", "effect": "Never"}]},
        'spec.tolerations[0].effect: Unsupported value: "Never": supported values: '
        '"NoSchedule", "PreferNoSchedule", "NoExecute"',
        id="toleration-effect"),
    pytest.param(
        {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "zone", "operator": "Bogus", "values": ["a"]}]}]}}}},
        f'{NODE_REQ}.matchExpressions[0].operator: Invalid value: "Bogus": not a valid selector '
        'operator',
        id="node-affinity-operator"),
    pytest.param(
        {"topologySpreadConstraints": [{"maxSkew": 0, "topologyKey": "zone",
                                        "whenUnsatisfiable": "DoNotSchedule"}]},
        "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero",
        id="spread-max-skew"),
    pytest.param(
        {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone",
                                        "whenUnsatisfiable": "ScheduleAnyway",
                                        "minDomains": 2}]},
        "spec.topologySpreadConstraints[0].minDomains: Invalid value: 2: can only use minDomains "
        "if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway",
        id="spread-min-domains"),
]


@pytest.mark.parametrize(("spec", "cause"), BAD_PODS)
def test_bad_pod_is_invalid_with_the_field_path(kubectl: Kubectl, ns: str, spec: dict[str, Any],
                                                cause: str) -> None:
    stderr = refused_apply(kubectl, ns, pod("x", **spec))
    assert stderr == f'The Pod "x" is invalid: {cause}'
    assert stored_names(kubectl, ns) == ""


def test_empty_anti_affinity_topology_key_lists_every_cause(kubectl: Kubectl, ns: str) -> None:
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": ""}]}}
    stderr = refused_apply(kubectl, ns, pod("x", affinity=anti))
    assert stderr == "\n".join([
        'The Pod "x" is invalid: ',
        f"* {ANTI}.topologyKey: Required value: can not be empty",
        f'* {ANTI}.topologyKey: Invalid value: "": name part must be non-empty',
        f'* {ANTI}.topologyKey: Invalid value: "": {QNAME_REGEX}'])
    assert stored_names(kubectl, ns) == ""


def test_bad_deployment_template_is_invalid(kubectl: Kubectl, ns: str) -> None:
    stderr = refused_apply(kubectl, ns, deployment(
        "web", tolerations=[{"key": "k", "operator": "Bogus"}]))
    assert stderr == ('The Deployment "web" is invalid: spec.template.spec.tolerations[0]'
                      f'.operator: Unsupported value: "Bogus": {SUPPORTED_OPERATORS}')
    assert stored_names(kubectl, ns) == ""


def test_valid_scheduling_fields_are_accepted(kubectl: Kubectl, ns: str) -> None:
    spec = {
        "tolerations": [{"key": "example.com/gpu", "operator": "Exists", "effect": "NoExecute",
                         "tolerationSeconds": 60}, {"operator": "Exists"}],
        "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "web"}},
             "topologyKey": "kubernetes.io/hostname"}]}},
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone",
                                       "whenUnsatisfiable": "DoNotSchedule", "minDomains": 2,
                                       "labelSelector": {"matchLabels": {"app": "web"}}}]}
    result = kubectl.run("apply", "-n", ns, "-f", "-", input=json.dumps(pod("ok", **spec)))
    assert result.stdout == "pod/ok created\n"
