"""Field selectors: grammar, escaping, supported fields and each kind's selectable fields."""

import pytest

from kajitori.api import errors, fields


def _error(fn, *args) -> str:
    with pytest.raises(errors.StatusError) as info:
        fn(*args)
    assert info.value.code == 400
    return info.value.status["message"]


def test_parse_and_match_with_escapes():
    sel = fields.parse(r"metadata.name=a\,b,status.phase!=Running")
    assert sel.matches({"metadata.name": "a,b", "status.phase": "Pending"})
    assert not sel.matches({"metadata.name": "a,b", "status.phase": "Running"})
    assert str(sel) == r"metadata.name=a\,b,status.phase!=Running"


def test_double_equals_is_equals_and_missing_field_reads_empty():
    assert fields.parse("spec.nodeName==").matches({})
    assert fields.parse("spec.nodeName!=").matches({"spec.nodeName": "n1"})


def test_unparseable_term():
    assert _error(fields.parse, "foo") == "invalid selector: 'foo'; can't understand 'foo'"


def test_bad_escape_and_unescaped_rune():
    assert _error(fields.parse, r"a=b\c") == (
        "invalid field selector: invalid escape sequence: \\c")
    assert _error(fields.parse, "a=b=c") == (
        "invalid field selector: unescaped character in value: 61")


def test_pod_field_not_supported_is_worded_by_core_conversion():
    sel = fields.parse("foo=bar")
    assert _error(fields.check_supported, "", "pods", sel) == "field label not supported: foo"


def test_kind_without_own_conversion_uses_default_message():
    sel = fields.parse("status.replicas=1")
    assert _error(fields.check_supported, "apps", "deployments", sel) == (
        '"status.replicas" is not a known field selector: only "metadata.name", '
        '"metadata.namespace"')


def test_job_message_names_batchv1_job():
    sel = fields.parse("status.active=1")
    assert _error(fields.check_supported, "batch", "jobs", sel) == (
        'field label "status.active" not supported for batchv1.Job')


def test_spec_host_is_rewritten_to_node_name():
    sel = fields.check_supported("", "pods", fields.parse("spec.host=n1"))
    assert str(sel) == "spec.nodeName=n1"


def test_pod_fields():
    pod = {"metadata": {"name": "p", "namespace": "ns"},
           "spec": {"nodeName": "n1", "restartPolicy": "Always", "hostNetwork": True},
           "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.1"}]}}
    got = fields.object_fields("", "pods", pod)
    assert got["metadata.namespace"] == "ns"
    assert got["spec.hostNetwork"] == "true"
    assert got["status.podIP"] == "10.0.0.1"
    assert got["spec.schedulerName"] == ""


def test_cluster_scoped_has_no_namespace_field():
    got = fields.object_fields("", "nodes", {"metadata": {"name": "n"}, "spec": {}})
    assert got == {"metadata.name": "n", "spec.unschedulable": "false"}


def test_event_source_falls_back_to_reporting_component():
    ev = {"metadata": {"name": "e", "namespace": "d"}, "involvedObject": {"kind": "Pod"},
          "reportingComponent": "kubelet", "type": "Normal"}
    got = fields.object_fields("", "events", ev)
    assert got["source"] == "kubelet"
    assert got["involvedObject.kind"] == "Pod"


def test_job_successful_counts_succeeded():
    got = fields.object_fields("batch", "jobs", {"metadata": {"name": "j"},
                                                 "status": {"succeeded": 2}})
    assert got["status.successful"] == "2"
