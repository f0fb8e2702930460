"""CustomResourceDefinitions end to end with the real kubectl: a CRD with two served versions,
a status and a scale subresource, printer columns and a default; its objects through `get`
(columns), `create` (defaults, pruning, 422s naming the field), `scale`, `explain`; deleting
the CRD deletes its objects; a non-structural schema is refused with upstream's message."""

from __future__ import annotations

import json
import uuid

import pytest
import yaml

pytestmark = pytest.mark.e2e

NON_STRUCTURAL = ("spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required "
                  "value: must not be empty for specified object fields")


def short_name(group: str) -> str:
    """Unique per CRD: kubectl would resolve a short name shared by two groups to either."""
    return group.split(".")[0]


def crd_manifest(group: str) -> dict:
    schema_v1 = {"type": "object", "properties": {
        "spec": {"type": "object", "required": ["cronSpec"], "properties": {
            "cronSpec": {"type": "string", "description": "The schedule, in cron format."},
            "image": {"type": "string"},
            "color": {"type": "string", "enum": ["red", "blue"]},
            "size": {"type": "integer", "maximum": 10},
            "replicas": {"type": "integer", "default": 1, "minimum": 0}}},
        "status": {"type": "object", "properties": {"replicas": {"type": "integer"},
                                                     "phase": {"type": "string"}}}}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"crontabs.{group}"},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab",
                           "shortNames": [short_name(group)]},
                 "versions": [
                     {"name": "v1", "served": True, "storage": True,
                      "schema": {"openAPIV3Schema": schema_v1},
                      "subresources": {"status": {}, "scale": {
                          "specReplicasPath": ".spec.replicas",
                          "statusReplicasPath": ".status.replicas"}},
                      "additionalPrinterColumns": [
                          {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
                          {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                          {"name": "Age", "type": "date",
                           "jsonPath": ".metadata.creationTimestamp"}]},
                     {"name": "v1beta1", "served": True, "storage": False,
                      "schema": {"openAPIV3Schema": schema_v1},
                      "subresources": {"status": {}}}]}}


def cron_tab(group: str, name: str, namespace: str, *, version: str = "v1",
             **spec: object) -> str:
    return yaml.safe_dump({"apiVersion": f"{group}/{version}", "kind": "CronTab",
                           "metadata": {"name": name, "namespace": namespace},
                           "spec": {"cronSpec": "*/5 * * * *", **spec}})


@pytest.fixture
def group(kubectl) -> str:
    """A fresh, established CRD in its own group (the cluster is shared by the module)."""
    name = f"c{uuid.uuid4().hex[:6]}.example.com"
    kubectl("apply", "-f", "-", input=yaml.safe_dump(crd_manifest(name)))
    kubectl("wait", "--for=condition=Established", f"crd/crontabs.{name}", "--timeout=20s")
    return name


@pytest.fixture
def namespace(kubectl) -> str:
    name = f"crd-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    return name


def test_crd_status_carries_accepted_names_and_conditions(kubectl, group: str) -> None:
    crd = json.loads(kubectl("get", "crd", f"crontabs.{group}", "-o", "json"))
    status = crd["status"]
    assert status["acceptedNames"] == {"plural": "crontabs", "singular": "crontab",
                                       "kind": "CronTab", "listKind": "CronTabList",
                                       "shortNames": [short_name(group)]}
    assert status["storedVersions"] == ["v1"]
    conditions = {c["type"]: (c["status"], c["reason"], c["message"])
                  for c in status["conditions"]}
    assert conditions == {
        "NamesAccepted": ("True", "NoConflicts", "no conflicts found"),
        "Established": ("True", "InitialNamesAccepted", "the initial names have been accepted")}
    assert crd["spec"]["conversion"] == {"strategy": "None"}


def test_get_shows_printer_columns_and_defaults_apply(kubectl, group: str,
                                                      namespace: str) -> None:
    kubectl("create", "-f", "-", input=cron_tab(group, "nightly", namespace))
    out = kubectl("get", f"crontabs.{group}", "-n", namespace)
    header, row = out.splitlines()
    assert header.split() == ["NAME", "SPEC", "REPLICAS", "AGE"]
    assert row.split()[:5] == ["nightly", "*/5", "*", "*", "*"]
    assert row.split()[6] == "1"  # spec.replicas defaulted
    obj = json.loads(kubectl("get", f"crontab.{group}", "nightly", "-n", namespace, "-o",
                             "json"))
    assert obj["spec"]["replicas"] == 1
    assert obj["metadata"]["generation"] == 1
    assert "status" not in obj


def test_short_name_and_other_version_serve_the_same_object(kubectl, group: str,
                                                            namespace: str) -> None:
    kubectl("create", "-f", "-", input=cron_tab(group, "a", namespace))
    assert kubectl("get", short_name(group), "-n", namespace, "-o", "name") == \
        f"crontab.{group}/a\n"
    beta = json.loads(kubectl("get", f"crontabs.v1beta1.{group}", "a", "-n", namespace,
                              "-o", "json"))
    assert beta["apiVersion"] == f"{group}/v1beta1"
    assert beta["spec"]["cronSpec"] == "*/5 * * * *"


def test_unknown_fields_are_pruned_with_a_warning(kubectl, group: str, namespace: str) -> None:
    result = kubectl.run("create", "--validate=warn", "-f", "-",
                         input=cron_tab(group, "p", namespace, foo="bar"))
    assert result.returncode == 0, result.stderr
    assert 'unknown field "spec.foo"' in result.stderr
    obj = json.loads(kubectl("get", f"crontab.{group}", "p", "-n", namespace, "-o", "json"))
    assert "foo" not in obj["spec"]


def test_unknown_fields_are_refused_by_strict_validation(kubectl, group: str,
                                                          namespace: str) -> None:
    result = kubectl.run("create", "-f", "-", input=cron_tab(group, "s", namespace, foo="bar"),
                         check=False)
    assert result.returncode == 1
    assert 'unknown field "spec.foo"' in result.stderr
    assert kubectl.run("get", f"crontab.{group}", "s", "-n", namespace,
                       check=False).returncode == 1


def test_invalid_objects_are_422_naming_the_field(kubectl, group: str, namespace: str) -> None:
    result = kubectl.run("create", "-f", "-",
                         input=cron_tab(group, "bad", namespace, size="big", color="pink"),
                         check=False)
    assert result.returncode == 1
    assert 'The CronTab "bad" is invalid: \n' in result.stderr
    # Upstream lists them in no fixed order (Go maps); each names its field.
    assert ('* spec.size: Invalid value: "string": spec.size in body must be of type integer: '
            '"string"\n') in result.stderr
    assert '* spec.color: Unsupported value: "pink": supported values: "red", "blue"\n' \
        in result.stderr
    missing = kubectl.run("create", "-f", "-", check=False, input=yaml.safe_dump(
        {"apiVersion": f"{group}/v1", "kind": "CronTab",
         "metadata": {"name": "m", "namespace": namespace}, "spec": {"image": "x"}}))
    assert 'The CronTab "m" is invalid: spec.cronSpec: Required value' in missing.stderr


def test_status_subresource_separates_spec_and_status(kubectl, group: str,
                                                       namespace: str) -> None:
    kubectl("create", "-f", "-", input=cron_tab(group, "st", namespace))
    kubectl("patch", f"crontab.{group}", "st", "-n", namespace, "--type=merge",
            "--subresource=status", "-p", '{"status":{"phase":"Running"},"spec":{"image":"x"}}')
    kubectl("patch", f"crontab.{group}", "st", "-n", namespace, "--type=merge",
            "-p", '{"spec":{"image":"y"},"status":{"phase":"Lost"}}')
    obj = json.loads(kubectl("get", f"crontab.{group}", "st", "-n", namespace, "-o", "json"))
    assert obj["status"] == {"phase": "Running"}
    assert obj["spec"]["image"] == "y"
    assert obj["metadata"]["generation"] == 2  # only the spec change counted


def test_strategic_merge_patch_is_refused_and_kubectl_edit_style_merge_works(
        kubectl, group: str, namespace: str) -> None:
    kubectl("create", "-f", "-", input=cron_tab(group, "smp", namespace))
    result = kubectl.run("patch", f"crontab.{group}", "smp", "-n", namespace,
                         "--type=strategic", "-p", '{"spec":{"image":"z"}}', check=False)
    assert result.returncode == 1
    assert "UnsupportedMediaType" in result.stderr or "not supported" in result.stderr
    kubectl("label", f"crontab.{group}", "smp", "-n", namespace, "tier=web")
    kubectl("apply", "-f", "-", input=cron_tab(group, "smp", namespace, image="applied"))
    obj = json.loads(kubectl("get", f"crontab.{group}", "smp", "-n", namespace, "-o", "json"))
    assert obj["spec"]["image"] == "applied"
    assert obj["metadata"]["labels"] == {"tier": "web"}


def test_kubectl_scale_writes_spec_replicas(kubectl, group: str, namespace: str) -> None:
    kubectl("create", "-f", "-", input=cron_tab(group, "sc", namespace))
    out = kubectl("scale", f"crontab.{group}/sc", "--replicas=3", "-n", namespace)
    assert out == f"crontab.{group}/sc scaled\n"
    out = kubectl("scale", f"crontab.{group}/sc", "--current-replicas=3", "--replicas=5",
                  "-n", namespace)
    assert out == f"crontab.{group}/sc scaled\n"
    scale = json.loads(kubectl("get", f"crontab.{group}", "sc", "--subresource=scale",
                               "-n", namespace, "-o", "json"))
    assert scale["spec"] == {"replicas": 5}
    obj = json.loads(kubectl("get", f"crontab.{group}", "sc", "-n", namespace, "-o", "json"))
    assert obj["spec"]["replicas"] == 5
    assert obj["metadata"]["generation"] == 3


def test_explain_reads_the_schema(kubectl, group: str) -> None:
    out = kubectl("explain", "crontabs.spec", f"--api-version={group}/v1")
    assert "KIND:       CronTab" in out
    assert f"GROUP:      {group}" in out
    assert "cronSpec\t<string> -required-" in out
    assert "The schedule, in cron format." in out


def test_api_resources_lists_short_names(kubectl, group: str) -> None:
    out = kubectl("api-resources", f"--api-group={group}")
    _header, row = out.splitlines()
    assert row.split() == ["crontabs", short_name(group), f"{group}/v1", "true", "CronTab"]


def test_deleting_the_crd_deletes_its_objects(kubectl, group: str, namespace: str) -> None:
    kubectl("create", "-f", "-", input=cron_tab(group, "gone", namespace))
    out = kubectl("delete", "crd", f"crontabs.{group}", "--timeout=30s")
    assert out == f'customresourcedefinition.apiextensions.k8s.io "crontabs.{group}" deleted\n'
    result = kubectl.run("get", "crd", f"crontabs.{group}", check=False)
    assert "NotFound" in result.stderr
    # Recreated, the resource starts empty: the objects went with the CRD.
    kubectl("apply", "-f", "-", input=yaml.safe_dump(crd_manifest(group)))
    kubectl("wait", "--for=condition=Established", f"crd/crontabs.{group}", "--timeout=20s")
    result = kubectl.run("get", f"crontabs.{group}", "-n", namespace)
    assert result.stdout == ""
    assert "No resources found" in result.stderr


def test_non_structural_schema_is_refused_and_nothing_is_stored(kubectl) -> None:
    group = f"n{uuid.uuid4().hex[:6]}.example.com"
    manifest = crd_manifest(group)
    del manifest["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["type"]
    manifest["spec"]["versions"] = manifest["spec"]["versions"][:1]
    result = kubectl.run("apply", "-f", "-", input=yaml.safe_dump(manifest), check=False)
    assert result.returncode == 1
    assert (f'The CustomResourceDefinition "crontabs.{group}" is invalid: {NON_STRUCTURAL}'
            in result.stderr)
    assert kubectl.run("get", "crd", f"crontabs.{group}", check=False).returncode == 1
