"""pods/ephemeralcontainers: upstream's ValidatePodEphemeralContainersUpdate and the
subresource's strategy, asserted as the 422 a user (kubectl debug) reads."""

import copy

from kajitori.api import defaults, strategy, validation
from kajitori.api.errors import invalid

SUBRESOURCE = "ephemeralcontainers"


def _pod(*ephemeral, annotations=None):
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "x", "namespace": "default", "uid": "u1",
                        "resourceVersion": "7", "annotations": annotations or {}},
           "spec": {"initContainers": [{"name": "init", "image": "busybox"}],
                    "containers": [{"name": "x", "image": "busybox"}],
                    "ephemeralContainers": list(ephemeral)}}
    defaults.apply_defaults("", "v1", "Pod", pod)
    return pod


def _debugger(name="debugger", **fields):
    return {"name": name, "image": "busybox", **fields}


def _update(new, old):
    return [str(e) for e in validation.validate("", "pods", new, old=old,
                                                subresource=SUBRESOURCE)]


def test_adding_an_ephemeral_container_is_valid():
    assert _update(_pod(_debugger(targetContainerName="x")), _pod()) == []


def test_names_are_unique_across_every_container_kind():
    new = _pod(_debugger("x"), _debugger("init"), _debugger("d"), _debugger("d"))
    assert _update(new, _pod()) == [
        'spec.ephemeralContainers[0].name: Duplicate value: "x"',
        'spec.ephemeralContainers[1].name: Duplicate value: "init"',
        'spec.ephemeralContainers[3].name: Duplicate value: "d"']


def test_target_must_name_an_init_or_app_container():
    new = _pod(_debugger("a", targetContainerName="nope"),
               _debugger("b", targetContainerName="a"),
               _debugger("c", targetContainerName="init"))
    assert _update(new, _pod()) == [
        'spec.ephemeralContainers[0].targetContainerName: Not found: "nope"',
        'spec.ephemeralContainers[1].targetContainerName: Not found: "a"']


def test_ports_probes_lifecycle_and_resources_are_forbidden():
    probe = {"exec": {"command": ["true"]}}
    new = _pod(_debugger(ports=[{"containerPort": 80}], resources={"limits": {"cpu": "1"}},
                         livenessProbe=probe, readinessProbe=probe, startupProbe=probe,
                         lifecycle={"preStop": probe}))
    forbidden = "Forbidden: cannot be set for an Ephemeral Container"
    assert _update(new, _pod()) == [
        f"spec.ephemeralContainers[0].{key}: {forbidden}"
        for key in ("ports", "resources", "livenessProbe", "readinessProbe", "startupProbe",
                    "lifecycle")]


def test_empty_resources_and_subpaths():
    """`resources: {}` (what kubectl debug sends) is no resources, but an empty list of ports
    is set (Go decodes it to a non-nil slice); a subPath is refused."""
    new = _pod({"name": "v", "image": "busybox", "resources": {}, "ports": [],
                "volumeMounts": [{"name": "data", "mountPath": "/d", "subPath": "s"}]})
    new["spec"]["volumes"] = [{"name": "data", "emptyDir": {}}]
    old = copy.deepcopy(new)
    old["spec"].pop("ephemeralContainers")
    assert _update(new, old) == [
        "spec.ephemeralContainers[0].ports: Forbidden: cannot be set for an Ephemeral Container",
        "spec.ephemeralContainers[0].volumeMounts[0].subPath: Forbidden: cannot be set for an "
        "Ephemeral Container"]


def test_existing_ephemeral_containers_may_not_be_removed_or_changed():
    old = _pod(_debugger("a"), _debugger("b"))
    changed = _pod(_debugger("b", image="nginx"))
    errs = validation.validate("", "pods", changed, old=old, subresource=SUBRESOURCE)
    assert [e.field for e in errs] == ["spec.ephemeralContainers"] * 2
    assert str(errs[0]) == ('spec.ephemeralContainers: Forbidden: existing ephemeral '
                            'containers "a" may not be removed\n')
    assert str(errs[1]).startswith('spec.ephemeralContainers: Forbidden: existing ephemeral '
                                   'containers "b" may not be changed\n')
    assert '+ \timage: "nginx",' in str(errs[1])


def test_order_of_existing_ephemeral_containers_may_change():
    old = _pod(_debugger("a"), _debugger("b"))
    assert _update(_pod(_debugger("b"), _debugger("a"), _debugger("c")), old) == []


def test_static_pods_do_not_support_ephemeral_containers():
    mirror = {"kubernetes.io/config.mirror": "abc"}
    errs = validation.validate("", "pods", _pod(_debugger(), annotations=mirror),
                               old=_pod(annotations=mirror), subresource=SUBRESOURCE)
    assert str(invalid("Pod", "x", errs)) == (
        'Pod "x" is invalid: []: Forbidden: static pods do not support ephemeral containers')


def test_ephemeral_containers_cannot_be_set_on_create():
    pod = _pod(_debugger())
    assert [str(e) for e in validation.validate("", "pods", pod)] == [
        "spec.ephemeralContainers: Forbidden: cannot be set on create"]


def test_the_main_resource_keeps_its_own_update_rules():
    """Without the subresource, a changed ephemeralContainers list is a forbidden spec change."""
    errs = validation.validate("", "pods", _pod(_debugger()), old=_pod())
    assert [e.field for e in errs] == ["spec"]


def test_a_write_through_the_subresource_changes_ephemeral_containers_only():
    old = _pod()
    new = _pod(_debugger())
    new["metadata"]["labels"] = {"sneaky": "yes"}
    new["spec"]["containers"][0]["image"] = "nginx"
    new["status"] = {"phase": "Failed"}
    new["metadata"]["resourceVersion"] = "7"
    old["status"] = {"phase": "Running"}
    strategy.prepare_for_ephemeral_containers_update(new, old)
    assert new["spec"]["ephemeralContainers"] == [_debugger() | {
        k: v for k, v in _pod(_debugger())["spec"]["ephemeralContainers"][0].items()}]
    assert "labels" not in new["metadata"]
    assert new["spec"]["containers"][0]["image"] == "busybox"
    assert new["status"] == {"phase": "Running"}
    assert new["metadata"]["resourceVersion"] == "7"


def test_pod_templates_may_not_have_ephemeral_containers():
    template = {"metadata": {"labels": {"app": "a"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}],
                         "ephemeralContainers": [_debugger()]}}
    deployment = {"metadata": {"name": "d", "namespace": "default"},
                  "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": template}}
    defaults.apply_defaults("apps", "v1", "Deployment", deployment)
    assert [str(e) for e in validation.validate("apps", "deployments", deployment)] == [
        "spec.template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed "
        "in pod template"]
