"""The daily kubectl workflow against a real server: apply (file, directory, -R, multi-document,
stdin), create, replace, describe, edit, label, annotate, the three patch types, delete, and
namespaces being created and deleted; each checked against what kubectl prints with a v1.33
cluster.

Every test works in its own namespace of the module's shared server; the manifests live in
`manifests/workflow/` and carry no namespace (the tests pass `-n`). Where a kubectl newer than
1.33 words a line differently (`delete` names the namespace since 1.35), the expected line
follows the kubectl under test.
"""

from __future__ import annotations

import base64
import functools
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.e2e

MANIFESTS = Path(__file__).parent / "manifests" / "workflow"
CONFLICT = ("Operation cannot be fulfilled on configmaps \"{name}\": the object has been modified; "
            "please apply your changes to the latest version and try again")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@functools.cache
def client_minor(binary: str) -> int:
    out = subprocess.run([binary, "version", "--client", "-o", "json"], capture_output=True,
                         text=True, check=True).stdout
    return int(json.loads(out)["clientVersion"]["minor"].rstrip("+"))


def deleted(kubectl, resource: str, name: str, namespace: str | None) -> str:
    """kubectl's line for a finished deletion: 1.35 and later add the namespace."""
    line = f'{resource} "{name}" deleted'
    if namespace and client_minor(kubectl.binary) >= 35:
        line += f" from {namespace} namespace"
    return line + "\n"


@pytest.fixture
def namespace(kubectl) -> str:
    name = unique("wf")
    assert kubectl("create", "namespace", name) == f"namespace/{name} created\n"
    return name


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    """A private copy of manifests/workflow, free to edit."""
    copy = tmp_path / "workflow"
    shutil.copytree(MANIFESTS, copy)
    return copy


def configmap(name: str, **data: str) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": name}, "data": data})


def get_json(kubectl, namespace: str, *what: str) -> dict:
    return json.loads(kubectl("-n", namespace, "get", *what, "-o", "json"))


# --- namespaces -----------------------------------------------------------------------------

def test_create_namespace_is_listed_active(kubectl) -> None:
    name = unique("wf-ns")
    assert kubectl("create", "namespace", name) == f"namespace/{name} created\n"
    ns = json.loads(kubectl("get", "namespace", name, "-o", "json"))
    assert ns["status"] == {"phase": "Active"}
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": name}
    result = kubectl.run("create", "namespace", name, check=False)
    assert result.returncode == 1
    assert result.stderr == (f'Error from server (AlreadyExists): namespaces "{name}" '
                             "already exists\n")


def test_new_namespace_has_default_serviceaccount_and_root_ca(kubectl, namespace) -> None:
    """A v1.33 cluster's serviceaccount and root-ca-cert-publisher controllers fill every new
    namespace within moments: `get sa` and `get cm` never come back empty there."""
    for made in ("serviceaccount/default", "configmap/kube-root-ca.crt"):
        waited = kubectl.run("-n", namespace, "wait", "--for=create", made, "--timeout=5s",
                             check=False)
        assert waited.returncode == 0, waited.stderr
    names = kubectl("-n", namespace, "get", "sa,cm", "-o", "name").split()
    assert names == ["serviceaccount/default", "configmap/kube-root-ca.crt"]


def test_delete_namespace_wait_false(kubectl) -> None:
    name = unique("wf-del")
    kubectl("create", "namespace", name)
    assert kubectl("delete", "namespace", name, "--wait=false") == \
        deleted(kubectl, "namespace", name, None)


def test_delete_namespace_answers_terminating(kubectl) -> None:
    """A namespace carries the `kubernetes` finalizer in spec.finalizers: DELETE only marks it
    (deletionTimestamp, phase Terminating) and answers 200 with the namespace; the namespace
    controller empties it and removes the finalizer later."""
    name = unique("wf-del")
    kubectl("create", "namespace", name)
    answer = json.loads(kubectl("delete", "--raw", f"/api/v1/namespaces/{name}"))
    assert answer["kind"] == "Namespace"
    assert answer["status"]["phase"] == "Terminating"
    assert answer["metadata"]["deletionTimestamp"]
    assert answer["spec"] == {"finalizers": ["kubernetes"]}


def test_delete_namespace_removes_its_content(kubectl) -> None:
    """What the user relies on: after `kubectl delete namespace` returns, neither the namespace
    nor anything in it remains (--timeout keeps a missing namespace controller from hanging)."""
    name = unique("wf-del")
    kubectl("create", "namespace", name)
    kubectl("-n", name, "create", "configmap", "left")
    kubectl("-n", name, "label", "configmap", "left", f"owner={name}")
    result = kubectl.run("delete", "namespace", name, "--timeout=10s", check=False)
    assert result.stdout == deleted(kubectl, "namespace", name, None)
    assert result.returncode == 0, result.stderr
    gone = kubectl.run("get", "namespace", name, check=False)
    assert gone.stderr == f'Error from server (NotFound): namespaces "{name}" not found\n'
    leftovers = kubectl.run("get", "configmaps", "-A", "-l", f"owner={name}", "-o", "name")
    assert leftovers.stdout == ""


def test_create_in_terminating_namespace_is_forbidden(kubectl) -> None:
    name = unique("wf-del")
    kubectl("create", "namespace", name)
    kubectl("-n", name, "create", "configmap", "keep")  # something for the controller to do
    kubectl("delete", "namespace", name, "--wait=false")
    result = kubectl.run("-n", name, "apply", "-f", "-", input=configmap("late"), check=False)
    assert result.returncode == 1
    assert (f'configmaps "late" is forbidden: unable to create new content in namespace {name} '
            "because it is being terminated") in result.stderr


def test_delete_immortal_namespace_is_forbidden(kubectl) -> None:
    result = kubectl.run("delete", "namespace", "default", check=False)
    assert result.returncode == 1
    assert result.stderr == ('Error from server (Forbidden): namespaces "default" is forbidden: '
                             "this namespace may not be deleted\n")


# --- apply ----------------------------------------------------------------------------------

def test_apply_file_created_unchanged_configured(kubectl, namespace, manifests) -> None:
    path = manifests / "configmap.yaml"
    assert kubectl("-n", namespace, "apply", "-f", str(path)) == "configmap/single created\n"
    assert kubectl("-n", namespace, "apply", "-f", str(path)) == "configmap/single unchanged\n"
    path.write_text(path.read_text().replace("color: blue", "color: red"))
    assert kubectl("-n", namespace, "apply", "-f", str(path)) == "configmap/single configured\n"
    live = get_json(kubectl, namespace, "configmap", "single")
    assert live["data"] == {"color": "red"}
    last = json.loads(live["metadata"]["annotations"][
        "kubectl.kubernetes.io/last-applied-configuration"])
    assert last["data"] == {"color": "red"}


def test_apply_removes_what_the_manifest_dropped(kubectl, namespace, manifests) -> None:
    """Three-way merge: a key in the last applied manifest but not in the new one goes; a key
    someone else added stays."""
    path = manifests / "configmap.yaml"
    path.write_text(path.read_text() + "  size: large\n")
    kubectl("-n", namespace, "apply", "-f", str(path))
    kubectl("-n", namespace, "patch", "configmap", "single", "--type=merge",
            "-p", '{"data":{"added":"by-hand"}}')
    path.write_text(path.read_text().replace("  size: large\n", ""))
    assert kubectl("-n", namespace, "apply", "-f", str(path)) == "configmap/single configured\n"
    live = get_json(kubectl, namespace, "configmap", "single")
    assert live["data"] == {"color": "blue", "added": "by-hand"}


def test_apply_directory(kubectl, namespace, manifests) -> None:
    out = kubectl("-n", namespace, "apply", "-f", str(manifests / "dir"))
    assert out == "configmap/alpha created\nconfigmap/beta created\n"
    out = kubectl("-n", namespace, "apply", "-f", str(manifests / "dir"))
    assert out == "configmap/alpha unchanged\nconfigmap/beta unchanged\n"


def test_apply_recursive(kubectl, namespace, manifests) -> None:
    out = kubectl("-n", namespace, "apply", "-f", str(manifests / "nested"))
    assert out == "configmap/top created\n"
    out = kubectl("-n", namespace, "apply", "-R", "-f", str(manifests / "nested"))
    assert out == ("secret/bottom created\n"
                   "configmap/middle created\n"
                   "configmap/top unchanged\n")
    (manifests / "nested" / "sub" / "middle.yaml").write_text(
        configmap("middle", depth="one"))
    out = kubectl("-n", namespace, "apply", "-R", "-f", str(manifests / "nested"))
    assert out == ("secret/bottom unchanged\n"
                   "configmap/middle configured\n"
                   "configmap/top unchanged\n")


def test_apply_secret_string_data_is_stored_as_data(kubectl, namespace) -> None:
    """stringData is write-only: the server merges it into data (base64) and keeps no
    stringData. (A second apply prints `configured` upstream too: the live object never has
    the stringData that the manifest has.)"""
    doc = yaml.safe_dump({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "plain"},
                          "stringData": {"depth": "2"}, "data": {"kept": "eA=="}})
    assert kubectl("-n", namespace, "apply", "-f", "-", input=doc) == "secret/plain created\n"
    live = get_json(kubectl, namespace, "secret", "plain")
    assert "stringData" not in live
    assert live["data"] == {"depth": base64.b64encode(b"2").decode(), "kept": "eA=="}
    assert live["type"] == "Opaque"


def test_apply_multi_document(kubectl, namespace, manifests) -> None:
    path = manifests / "multi.yaml"
    out = kubectl("-n", namespace, "apply", "-f", str(path))
    assert out == ("deployment.apps/web created\n"
                   "service/web created\n"
                   "configmap/web-config created\n")
    out = kubectl("-n", namespace, "apply", "-f", str(path))
    assert out == ("deployment.apps/web unchanged\n"
                   "service/web unchanged\n"
                   "configmap/web-config unchanged\n")
    path.write_text(path.read_text().replace("replicas: 2", "replicas: 3"))
    out = kubectl("-n", namespace, "apply", "-f", str(path))
    assert out == ("deployment.apps/web configured\n"
                   "service/web unchanged\n"
                   "configmap/web-config unchanged\n")
    deploy = get_json(kubectl, namespace, "deployment", "web")
    assert deploy["spec"]["replicas"] == 3
    assert deploy["metadata"]["generation"] == 2


def test_apply_stdin(kubectl, namespace) -> None:
    doc = configmap("piped", mode="stdin")
    assert kubectl("-n", namespace, "apply", "-f", "-", input=doc) == "configmap/piped created\n"
    assert kubectl("-n", namespace, "apply", "-f", "-", input=doc) == \
        "configmap/piped unchanged\n"
    assert kubectl("-n", namespace, "apply", "-f", "-", input=configmap("piped", mode="edited")) \
        == "configmap/piped configured\n"


def test_apply_server_side(kubectl, namespace) -> None:
    doc = configmap("ssa", owner="me")
    assert kubectl("-n", namespace, "apply", "--server-side", "-f", "-", input=doc) == \
        "configmap/ssa serverside-applied\n"
    live = get_json(kubectl, namespace, "configmap", "ssa", "--show-managed-fields")
    assert live["data"] == {"owner": "me"}
    managers = [(m["manager"], m["operation"]) for m in live["metadata"]["managedFields"]]
    assert managers == [("kubectl", "Apply")]


# --- create and replace ---------------------------------------------------------------------

def test_create_file_then_already_exists(kubectl, namespace, manifests) -> None:
    path = manifests / "configmap.yaml"
    assert kubectl("-n", namespace, "create", "-f", str(path)) == "configmap/single created\n"
    result = kubectl.run("-n", namespace, "create", "-f", str(path), check=False)
    assert result.returncode == 1
    assert result.stderr == (f'Error from server (AlreadyExists): error when creating "{path}": '
                             'configmaps "single" already exists\n')


def test_replace_file(kubectl, namespace, manifests) -> None:
    path = manifests / "configmap.yaml"
    kubectl("-n", namespace, "create", "-f", str(path))
    path.write_text(path.read_text().replace("color: blue", "color: green"))
    assert kubectl("-n", namespace, "replace", "-f", str(path)) == "configmap/single replaced\n"
    assert get_json(kubectl, namespace, "cm", "single")["data"] == {"color": "green"}


def test_replace_missing_object_is_not_found(kubectl, namespace, manifests) -> None:
    path = manifests / "configmap.yaml"
    result = kubectl.run("-n", namespace, "replace", "-f", str(path), check=False)
    assert result.returncode == 1
    assert result.stderr == (f'Error from server (NotFound): error when replacing "{path}": '
                             'configmaps "single" not found\n')


def test_replace_with_stale_resource_version_is_conflict(kubectl, namespace, tmp_path) -> None:
    kubectl("-n", namespace, "create", "configmap", "cfg", "--from-literal=k=1")
    stale = tmp_path / "stale.yaml"
    stale.write_text(kubectl("-n", namespace, "get", "configmap", "cfg", "-o", "yaml"))
    kubectl("-n", namespace, "patch", "configmap", "cfg", "-p", '{"data":{"k":"2"}}')
    result = kubectl.run("-n", namespace, "replace", "-f", str(stale), check=False)
    assert result.returncode == 1
    assert result.stderr == (f'Error from server (Conflict): error when replacing "{stale}": '
                             + CONFLICT.format(name="cfg") + "\n")
    assert get_json(kubectl, namespace, "cm", "cfg")["data"] == {"k": "2"}


# --- describe -------------------------------------------------------------------------------

def test_describe_configmap(kubectl, namespace) -> None:
    kubectl("-n", namespace, "create", "configmap", "cfg", "--from-literal=greeting=hello")
    assert kubectl("-n", namespace, "describe", "configmap", "cfg") == (
        "Name:         cfg\n"
        f"Namespace:    {namespace}\n"
        "Labels:       <none>\n"
        "Annotations:  <none>\n"
        "\n"
        "Data\n"
        "====\n"
        "greeting:\n"
        "----\n"
        "hello\n"
        "\n"
        "\n"
        "BinaryData\n"
        "====\n"
        "\n"
        "Events:  <none>\n")


def test_describe_namespace(kubectl, namespace) -> None:
    assert kubectl("describe", "namespace", namespace) == (
        f"Name:         {namespace}\n"
        f"Labels:       kubernetes.io/metadata.name={namespace}\n"
        "Annotations:  <none>\n"
        "Status:       Active\n"
        "\n"
        "No resource quota.\n"
        "\n"
        "No LimitRange resource.\n")


def squeezed(line: str) -> str:
    indent = len(line) - len(line.lstrip(" "))
    return " " * indent + " ".join(line.split())


def test_describe_pending_pod(kubectl, namespace) -> None:
    """No scheduler and no node yet: the pod stays Pending, unbound, without an IP."""
    assert kubectl("-n", namespace, "run", "web", "--image=nginx:1.25", "--port=80") == \
        "pod/web created\n"
    text = kubectl("-n", namespace, "describe", "pod", "web")
    # Column widths depend on the longest label of a section (those of the next test), so
    # compare with runs of blanks squeezed: indentation and order still count.
    lines = [squeezed(line) for line in text.splitlines()]
    for expected in ("Name: web", f"Namespace: {namespace}", "Node: <none>", "Labels: run=web",
                     "Annotations: <none>", "Status: Pending", "IP:", "IPs: <none>",
                     "Containers:", "  web:", "    Image: nginx:1.25", "    Port: 80/TCP",
                     "    Host Port: 0/TCP", "    Environment: <none>", "QoS Class: BestEffort",
                     "Node-Selectors: <none>"):
        assert expected in lines, f"{expected!r} not in:\n{text}"
    assert lines.index("Status: Pending") < lines.index("Containers:")


def test_describe_pending_pod_shows_admission_defaults(kubectl, namespace) -> None:
    """What v1.33's default admission chain adds to every pod: Priority 0 (Priority), the
    namespace's default ServiceAccount and its token volume (ServiceAccount), and five minutes'
    tolerance of not-ready and unreachable nodes (DefaultTolerationSeconds)."""
    kubectl("-n", namespace, "run", "web", "--image=nginx:1.25")
    text = kubectl("-n", namespace, "describe", "pod", "web")
    lines = text.splitlines()
    for expected in ("Priority:         0", "Service Account:  default",
                     "    Mounts:", "Volumes:",
                     "    Type:                    Projected (a volume that contains injected "
                     "data from multiple sources)",
                     "    TokenExpirationSeconds:  3607",
                     "    ConfigMapName:           kube-root-ca.crt",
                     "Tolerations:                 node.kubernetes.io/not-ready:NoExecute "
                     "op=Exists for 300s",
                     "                             node.kubernetes.io/unreachable:NoExecute "
                     "op=Exists for 300s"):
        assert expected in lines, f"{expected!r} not in:\n{text}"
    assert any(line.startswith("      /var/run/secrets/kubernetes.io/serviceaccount from "
                               "kube-api-access-") and line.endswith(" (ro)") for line in lines)


def test_describe_missing_object(kubectl, namespace) -> None:
    result = kubectl.run("-n", namespace, "describe", "pod", "nope", check=False)
    assert result.returncode == 1
    assert result.stderr == 'Error from server (NotFound): pods "nope" not found\n'


# --- edit, label, annotate, patch -----------------------------------------------------------

def editor(tmp_path: Path, sed: str) -> str:
    script = tmp_path / "editor.sh"
    script.write_text(f"#!/bin/sh\nsed -i '{sed}' \"$1\"\n")
    script.chmod(0o755)
    return str(script)


def test_edit_with_editor_script(kubectl, namespace, tmp_path, monkeypatch) -> None:
    kubectl("-n", namespace, "create", "configmap", "cfg", "--from-literal=color=blue")
    monkeypatch.setenv("KUBE_EDITOR", editor(tmp_path, "s/^  color: blue$/  color: green/"))
    result = kubectl.run("-n", namespace, "edit", "configmap", "cfg")
    assert result.stdout == "configmap/cfg edited\n"
    assert get_json(kubectl, namespace, "cm", "cfg")["data"] == {"color": "green"}


def test_edit_without_change_is_cancelled(kubectl, namespace, tmp_path, monkeypatch) -> None:
    kubectl("-n", namespace, "create", "configmap", "cfg", "--from-literal=color=blue")
    monkeypatch.setenv("KUBE_EDITOR", editor(tmp_path, "s/nothing/matches/"))
    result = kubectl.run("-n", namespace, "edit", "configmap", "cfg")
    assert result.stdout == ""
    assert result.stderr == "Edit cancelled, no changes made.\n"


def test_label_add_overwrite_remove(kubectl, namespace) -> None:
    kubectl("-n", namespace, "create", "configmap", "cfg")
    assert kubectl("-n", namespace, "label", "configmap", "cfg", "tier=front") == \
        "configmap/cfg labeled\n"
    result = kubectl.run("-n", namespace, "label", "configmap", "cfg", "tier=back", check=False)
    assert result.returncode == 1
    assert result.stderr == "error: 'tier' already has a value (front), and --overwrite is false\n"
    assert kubectl("-n", namespace, "label", "configmap", "cfg", "tier=back", "--overwrite") == \
        "configmap/cfg labeled\n"
    assert get_json(kubectl, namespace, "cm", "cfg")["metadata"]["labels"] == {"tier": "back"}
    assert kubectl("-n", namespace, "label", "configmap", "cfg", "tier-") == \
        "configmap/cfg unlabeled\n"
    assert "labels" not in get_json(kubectl, namespace, "cm", "cfg")["metadata"]


def test_invalid_label_value_is_rejected_by_server(kubectl, namespace) -> None:
    """`kubectl label` checks values itself; a manifest reaches the server's validation."""
    doc = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "cfg", "labels": {"tier": "-bad"}}}
    result = kubectl.run("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(doc),
                         check=False)
    assert result.returncode == 1
    assert result.stderr == (
        'The ConfigMap "cfg" is invalid: metadata.labels: Invalid value: "-bad": a valid label '
        "must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
        "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
        "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')\n")


def test_annotate(kubectl, namespace) -> None:
    kubectl("-n", namespace, "create", "configmap", "cfg")
    assert kubectl("-n", namespace, "annotate", "configmap", "cfg", "note=v1") == \
        "configmap/cfg annotated\n"
    result = kubectl.run("-n", namespace, "annotate", "configmap", "cfg", "note=v2", check=False)
    assert result.returncode == 1
    assert result.stderr == ("error: --overwrite is false but found the following declared "
                             "annotation(s): 'note' already has a value (v1)\n")
    assert kubectl("-n", namespace, "annotate", "configmap", "cfg", "note=v2", "--overwrite") == \
        "configmap/cfg annotated\n"
    assert get_json(kubectl, namespace, "cm", "cfg")["metadata"]["annotations"] == {"note": "v2"}
    assert kubectl("-n", namespace, "annotate", "configmap", "cfg", "note-") == \
        "configmap/cfg annotated\n"


def test_patch_strategic_merges_containers_by_name(kubectl, namespace, manifests) -> None:
    kubectl("-n", namespace, "apply", "-f", str(manifests / "multi.yaml"))
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "nginx", "image": "nginx:1.26"},
        {"name": "sidecar", "image": "busybox:1.36"}]}}}}
    assert kubectl("-n", namespace, "patch", "deployment", "web", "-p", json.dumps(patch)) == \
        "deployment.apps/web patched\n"
    containers = get_json(kubectl, namespace, "deploy", "web")["spec"]["template"]["spec"][
        "containers"]
    assert [(c["name"], c["image"]) for c in containers] == [("nginx", "nginx:1.26"),
                                                             ("sidecar", "busybox:1.36")]
    assert containers[0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert kubectl("-n", namespace, "patch", "deployment", "web", "-p", json.dumps(patch)) == \
        "deployment.apps/web patched (no change)\n"


def test_patch_merge(kubectl, namespace) -> None:
    kubectl("-n", namespace, "create", "configmap", "cfg", "--from-literal=a=1",
            "--from-literal=b=2")
    assert kubectl("-n", namespace, "patch", "configmap", "cfg", "--type=merge",
                   "-p", '{"data":{"a":null,"c":"3"}}') == "configmap/cfg patched\n"
    assert get_json(kubectl, namespace, "cm", "cfg")["data"] == {"b": "2", "c": "3"}


def test_patch_json(kubectl, namespace) -> None:
    kubectl("-n", namespace, "create", "configmap", "cfg", "--from-literal=a=1")
    ops = [{"op": "add", "path": "/data/b", "value": "2"},
           {"op": "replace", "path": "/data/a", "value": "one"}]
    assert kubectl("-n", namespace, "patch", "configmap", "cfg", "--type=json",
                   "-p", json.dumps(ops)) == "configmap/cfg patched\n"
    assert get_json(kubectl, namespace, "cm", "cfg")["data"] == {"a": "one", "b": "2"}
    result = kubectl.run("-n", namespace, "patch", "configmap", "cfg", "--type=json",
                         "-p", '[{"op":"test","path":"/data/a","value":"1"}]', check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("The request is invalid: the server rejected our request "
                                    "due to an error in our request")


def test_patch_missing_object_is_not_found(kubectl, namespace) -> None:
    result = kubectl.run("-n", namespace, "patch", "configmap", "nope", "-p", '{"data":{}}',
                         check=False)
    assert result.returncode == 1
    assert result.stderr == 'Error from server (NotFound): configmaps "nope" not found\n'


# --- delete ---------------------------------------------------------------------------------

def test_delete_file(kubectl, namespace, manifests) -> None:
    path = manifests / "multi.yaml"
    kubectl("-n", namespace, "apply", "-f", str(path))
    assert kubectl("-n", namespace, "delete", "-f", str(path)) == (
        deleted(kubectl, "deployment.apps", "web", namespace)
        + deleted(kubectl, "service", "web", namespace)
        + deleted(kubectl, "configmap", "web-config", namespace))
    result = kubectl.run("-n", namespace, "get", "deploy,svc,cm", "-o", "name",
                         "--ignore-not-found")
    assert "web" not in result.stdout


def test_delete_missing_object_is_not_found(kubectl, namespace) -> None:
    result = kubectl.run("-n", namespace, "delete", "configmap", "nope", check=False)
    assert result.returncode == 1
    assert result.stderr == 'Error from server (NotFound): configmaps "nope" not found\n'
    result = kubectl.run("-n", namespace, "delete", "configmap", "nope", "--ignore-not-found")
    assert result.stdout == ""


def test_delete_by_label(kubectl, namespace) -> None:
    for name in ("one", "two", "three"):
        kubectl("-n", namespace, "create", "configmap", name)
    kubectl("-n", namespace, "label", "configmap", "one", "two", "doomed=yes")
    assert kubectl("-n", namespace, "delete", "configmap", "-l", "doomed=yes") == (
        deleted(kubectl, "configmap", "one", namespace)
        + deleted(kubectl, "configmap", "two", namespace))
    names = kubectl("-n", namespace, "get", "configmap", "-o", "name").split()
    assert "configmap/three" in names
    assert "configmap/one" not in names


def test_delete_all(kubectl, namespace) -> None:
    kubectl("-n", namespace, "create", "secret", "generic", "s1")
    kubectl("-n", namespace, "create", "secret", "generic", "s2")
    assert kubectl("-n", namespace, "delete", "secrets", "--all") == (
        deleted(kubectl, "secret", "s1", namespace) + deleted(kubectl, "secret", "s2", namespace))
    result = kubectl.run("-n", namespace, "get", "secrets")
    assert result.stderr == f"No resources found in {namespace} namespace.\n"


def test_delete_pending_pod_waits_until_gone(kubectl, namespace) -> None:
    """An unscheduled pod has no kubelet to wait for: it goes at once, and `delete` (which
    waits by default) returns with the pod gone."""
    kubectl("-n", namespace, "run", "p1", "--image=nginx")
    assert kubectl("-n", namespace, "delete", "pod", "p1", "--timeout=20s") == \
        deleted(kubectl, "pod", "p1", namespace)
    result = kubectl.run("-n", namespace, "get", "pod", "p1", check=False)
    assert result.stderr == 'Error from server (NotFound): pods "p1" not found\n'


def test_delete_wait_false(kubectl, namespace) -> None:
    kubectl("-n", namespace, "create", "configmap", "cfg")
    assert kubectl("-n", namespace, "delete", "configmap", "cfg", "--wait=false") == \
        deleted(kubectl, "configmap", "cfg", namespace)
