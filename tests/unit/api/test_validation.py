"""Validation of built-in objects: the exact messages a user reads in a 422."""

import copy

from kajitori.api import defaults, validation
from kajitori.api.errors import invalid

SUBDOMAIN_HELP = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")


def _messages(errs):
    return [str(e) for e in errs]


def _pod(**spec):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
           "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec}}
    defaults.apply_defaults("", "v1", "Pod", pod)
    return pod


def _deployment(selector, template_labels):
    obj = {"metadata": {"name": "d", "namespace": "default"},
           "spec": {"selector": selector, "template": {
               "metadata": {"labels": template_labels},
               "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    defaults.apply_defaults("apps", "v1", "Deployment", obj)
    return obj


def test_name_rules_messages():
    assert validation.is_dns1123_subdomain("Bad_Name") == [SUBDOMAIN_HELP]
    assert validation.is_dns1123_label("a.b") == ["must not contain dots"]
    assert validation.is_dns1035_label("1abc") == [
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
        "with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name', "
        " or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]
    assert validation.path_segment("a/b", False) == ["may not contain '/'"]


def test_name_rule_per_resource():
    assert validation.name_rule("", "services") is validation.dns1035_label
    assert validation.name_rule("", "namespaces") is validation.dns_label
    assert validation.name_rule("rbac.authorization.k8s.io", "clusterroles") \
        is validation.path_segment
    assert validation.name_rule("apps", "deployments") is validation.dns_subdomain


def test_missing_name_is_required():
    errs = validation.validate("", "configmaps", {"metadata": {"namespace": "default"}})
    assert _messages(errs) == ["metadata.name: Required value: name or generateName is required"]


def test_bad_name_reads_as_kubectl_shows_it():
    errs = validation.validate("", "configmaps",
                               {"metadata": {"name": "Bad_Name", "namespace": "default"}})
    assert str(invalid("ConfigMap", "Bad_Name", errs).status["message"]) == (
        f'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
        f"{SUBDOMAIN_HELP}")


def test_generate_name_prefix_may_end_with_dash():
    obj = {"metadata": {"generateName": "web-", "namespace": "default"}}
    assert _messages(validation.validate_object_meta(
        obj, namespaced=True, name_rule=validation.dns_subdomain)) == [
        "metadata.name: Required value: name or generateName is required"]


def test_annotations_total_size():
    obj = {"metadata": {"name": "x", "namespace": "d", "annotations": {"a": "x" * 262144}}}
    assert _messages(validation.validate("", "configmaps", obj)) == [
        "metadata.annotations: Too long: may not be more than 262144 bytes"]


def test_cluster_scoped_rejects_namespace():
    errs = validation.validate_object_meta({"metadata": {"name": "n", "namespace": "x"}},
                                           namespaced=False, name_rule=validation.dns_subdomain)
    assert _messages(errs) == ["metadata.namespace: Forbidden: not allowed on this type"]


def test_metadata_update_immutables():
    old = {"metadata": {"name": "a", "namespace": "d", "uid": "u1", "resourceVersion": "1"}}
    new = copy.deepcopy(old)
    new["metadata"]["uid"] = "u2"
    assert _messages(validation.validate_update_object_meta(new, old)) == [
        'metadata.uid: Invalid value: "u2": field is immutable']


def test_pod_without_image():
    pod = _pod()
    del pod["spec"]["containers"][0]["image"]
    assert _messages(validation.validate("", "pods", pod)) == [
        "spec.containers[0].image: Required value"]


def test_pod_without_containers_and_bad_restart_policy():
    pod = _pod(restartPolicy="Sometimes")
    pod["spec"]["containers"] = []
    assert _messages(validation.validate("", "pods", pod)) == [
        "spec.containers: Required value",
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", '
        '"OnFailure", "Never"']


def test_pod_duplicate_container_and_bad_port():
    pod = _pod()
    pod["spec"]["containers"].append({"name": "c", "image": "x",
                                      "ports": [{"containerPort": 70000}]})
    defaults.apply_defaults("", "v1", "Pod", pod)
    assert _messages(validation.validate("", "pods", pod)) == [
        'spec.containers[1].name: Duplicate value: "c"',
        "spec.containers[1].ports[0].containerPort: Invalid value: 70000: must be between 1 "
        "and 65535, inclusive"]


def test_pod_requests_above_limits():
    pod = _pod()
    pod["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"},
                                                 "requests": {"cpu": "1500m"}}
    assert _messages(validation.validate("", "pods", pod)) == [
        'spec.containers[0].resources.requests: Invalid value: "1500m": must be less than or '
        "equal to cpu limit of 1"]


def test_pod_update_may_change_image_only():
    old = _pod()
    old["metadata"]["resourceVersion"] = "5"
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:2"
    assert validation.validate("", "pods", new, old=old) == []
    new["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "protocol": "TCP"}]
    errs = validation.validate("", "pods", new, old=old)
    assert len(errs) == 1
    assert errs[0].field == "spec"
    assert errs[0].message.startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
        "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to "
        "be set to 1 if it was previously negative)\n")


def test_deployment_selector_must_match_template():
    obj = _deployment({"matchLabels": {"app": "a"}}, {"app": "b"})
    assert _messages(validation.validate("apps", "deployments", obj)) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"b"}: '
        "`selector` does not match template `labels`"]


def test_deployment_selector_required():
    obj = _deployment(None, {"app": "b"})
    assert _messages(validation.validate("apps", "deployments", obj)) == [
        "spec.selector: Required value"]


def test_deployment_selector_is_immutable():
    old = _deployment({"matchLabels": {"app": "a"}}, {"app": "a", "v": "2"})
    old["metadata"]["resourceVersion"] = "3"
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "a", "v": "2"}}
    assert _messages(validation.validate("apps", "deployments", new, old=old)) == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string'
        '{"app":"a", "v":"2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: '
        "field is immutable"]


def test_negative_replicas():
    obj = _deployment({"matchLabels": {"app": "a"}}, {"app": "a"})
    obj["spec"]["replicas"] = -1
    assert _messages(validation.validate("apps", "deployments", obj)) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0"]


def _service(**spec):
    svc = {"metadata": {"name": "s", "namespace": "default"}, "spec": spec}
    defaults.apply_defaults("", "v1", "Service", svc)
    return svc


def test_service_rules():
    assert _messages(validation.validate("", "services", _service())) == [
        "spec.ports: Required value"]
    assert validation.validate("", "services", _service(clusterIP="None")) == []
    bad = _service(type="Weird", ports=[{"port": 0, "protocol": "HTTP"}])
    assert _messages(validation.validate("", "services", bad)) == [
        "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        'spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", '
        '"UDP"',
        "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
        'spec.type: Unsupported value: "Weird": supported values: "ClusterIP", "ExternalName",'
        ' "LoadBalancer", "NodePort"']


def test_service_cluster_ip_may_not_change():
    old = _service(ports=[{"port": 80}], clusterIP="10.0.0.1", clusterIPs=["10.0.0.1"])
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    new["spec"]["clusterIP"], new["spec"]["clusterIPs"] = "10.0.0.2", ["10.0.0.2"]
    assert _messages(validation.validate("", "services", new, old=old)) == [
        'spec.clusterIPs[0]: Invalid value: []string{"10.0.0.2"}: may not change once set']


def test_config_map_keys_and_immutability():
    cm = {"metadata": {"name": "c", "namespace": "d"}, "data": {"bad key": "v"}}
    assert _messages(validation.validate("", "configmaps", cm)) == [
        'data[bad key]: Invalid value: "bad key": a valid config key must consist of '
        "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or "
        "'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]
    old = {"metadata": {"name": "c", "namespace": "d", "resourceVersion": "1"},
           "data": {"k": "1"}, "immutable": True}
    new = copy.deepcopy(old)
    new["data"]["k"] = "2"
    assert _messages(validation.validate("", "configmaps", new, old=old)) == [
        "data: Forbidden: field is immutable when `immutable` is set"]


def test_secret_type_is_immutable_and_tls_needs_keys():
    secret = {"metadata": {"name": "s", "namespace": "d"}, "type": "kubernetes.io/tls",
              "data": {}}
    assert _messages(validation.validate("", "secrets", secret)) == [
        "data[tls.crt]: Required value", "data[tls.key]: Required value"]
    old = {"metadata": {"name": "s", "namespace": "d", "resourceVersion": "1"},
           "type": "Opaque"}
    new = copy.deepcopy(old)
    new["type"] = "foo"
    assert _messages(validation.validate("", "secrets", new, old=old)) == [
        'type: Invalid value: "foo": field is immutable']


def test_job_restart_policy_and_cron_schedule():
    job = {"metadata": {"name": "j", "namespace": "d"}, "spec": {"template": {
        "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    defaults.apply_defaults("batch", "v1", "Job", job)
    assert _messages(validation.validate("batch", "jobs", job)) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: '
        '"OnFailure", "Never"']
    cron = {"metadata": {"name": "c", "namespace": "d"}, "spec": {
        "schedule": "* * * * 9", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}}}}}}
    defaults.apply_defaults("batch", "v1", "CronJob", cron)
    assert _messages(validation.validate("batch", "cronjobs", cron)) == [
        'spec.schedule: Invalid value: "* * * * 9": end of range (9) above maximum (6): 9']
    cron["spec"]["schedule"] = "every minute"
    assert _messages(validation.validate("batch", "cronjobs", cron)) == [
        'spec.schedule: Invalid value: "every minute": expected exactly 5 fields, found 2: '
        "[every minute]"]


def test_role_binding_rules():
    rb = {"metadata": {"name": "system:x", "namespace": "d"},
          "roleRef": {"kind": "Foo"}, "subjects": [{"kind": "User", "name": "alice"}]}
    defaults.apply_defaults("rbac.authorization.k8s.io", "v1", "RoleBinding", rb)
    assert _messages(validation.validate("rbac.authorization.k8s.io", "rolebindings", rb)) == [
        'roleRef.kind: Unsupported value: "Foo": supported values: "Role", "ClusterRole"',
        "roleRef.name: Required value"]


def test_role_binding_role_ref_cannot_change():
    old = {"metadata": {"name": "b", "namespace": "d", "resourceVersion": "1"},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "a"}}
    new = copy.deepcopy(old)
    new["roleRef"]["name"] = "b"
    assert _messages(validation.validate("rbac.authorization.k8s.io", "rolebindings", new,
                                         old=old)) == [
        'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", '
        'Kind:"Role", Name:"b"}: cannot change roleRef']


def test_namespace_name_is_a_dns_label():
    errs = validation.validate("", "namespaces", {"metadata": {"name": "a.b"}})
    assert _messages(errs) == ['metadata.name: Invalid value: "a.b": must not contain dots']


def test_unmasked_proc_mount_needs_its_own_user_namespace():
    container = {"name": "c", "image": "nginx", "securityContext": {"procMount": "Unmasked"}}
    refused = _pod(containers=[container])
    assert _messages(validation.validate("", "pods", refused)) == [
        'spec.containers[0].securityContext.procMount: Invalid value: "Unmasked": '
        "`hostUsers` must be false to use `Unmasked`"]
    assert validation.validate("", "pods", _pod(containers=[container], hostUsers=False)) == []
    odd = _pod(containers=[{**container, "securityContext": {"procMount": "Partly"}}])
    assert _messages(validation.validate("", "pods", odd)) == [
        'spec.containers[0].securityContext.procMount: Unsupported value: "Partly": '
        'supported values: "Default", "Unmasked"']
