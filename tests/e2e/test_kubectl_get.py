"""`kubectl get` against a real server: tables, every output format, selectors, label columns,
sorting and watching, compared with what kubectl prints against a v1.33 cluster.

Tables come from the server (meta.k8s.io/v1 Table, src/kajitori/api/printers/); `-L`,
`--show-labels`, `--sort-by`, `-o name|json|yaml|jsonpath|custom-columns` are kubectl's own work on
top of the server's answer, so a wrong column here is a wrong Table or a wrong object. Every test
works in its own namespace of the module's shared server, so the two kubectls never see each
other's objects. An AGE cell is matched as a duration (`<age>` in an expected line), every other
cell exactly.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import time
import uuid

import pytest
import yaml

pytestmark = pytest.mark.e2e

AGE = "<age>"
AGE_PATTERN = re.compile(r"\d+[smhdy](\d+[smh])?")
WATCH_LINE_TIMEOUT = 20.0  # seconds: generous; an event normally arrives at once


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def namespace(kubectl) -> str:
    name = unique("get")
    assert kubectl("create", "namespace", name) == f"namespace/{name} created\n"
    return name


def cells(header: str, line: str) -> list[str]:
    """A table line cut at the header's column starts (kubectl left-aligns every column under
    its header), so a value in the wrong column shows up as a wrong cell."""
    starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", header)]
    for start in starts[1:]:
        assert len(line) <= start or line[start - 1] == " ", f"{line!r} overflows {header!r}"
    bounds = zip(starts, [*starts[1:], None], strict=True)
    return [line[a:b].strip() for a, b in bounds]


def assert_row(header: str, line: str, expected: list[str]) -> None:
    got = cells(header, line.rstrip("\n"))
    assert len(got) == len(expected), f"{line!r} under {header!r}"
    for cell, want in zip(got, expected, strict=True):
        if want == AGE:
            assert AGE_PATTERN.fullmatch(cell), f"AGE {cell!r} in {line!r}"
        else:
            assert cell == want, f"{cell!r} != {want!r} in {line!r} under {header!r}"


def assert_words(line: str, expected: list[str]) -> None:
    """A watch line: kubectl flushes each event on its own, so its columns need not line up
    with the header; the cells (none empty here) must still be these, in this order."""
    words = line.split()
    assert len(words) == len(expected), f"{line!r} != {expected}"
    for word, want in zip(words, expected, strict=True):
        assert AGE_PATTERN.fullmatch(word) if want == AGE else word == want, f"{line!r}"


def assert_table(output: str, header: str, rows: list[list[str]]) -> None:
    lines = output.rstrip("\n").split("\n")
    assert lines[0].rstrip() == header, output
    assert len(lines) == len(rows) + 1, output
    for line, expected in zip(lines[1:], rows, strict=True):
        assert_row(lines[0], line, expected)


def make_configmaps(kubectl, namespace: str) -> None:
    """Three configmaps whose name order, data order and label sets all differ."""
    kubectl("-n", namespace, "create", "configmap", "alpha", "--from-literal=rank=3")
    kubectl("-n", namespace, "create", "configmap", "mid", "--from-literal=rank=2",
            "--from-literal=extra=x")
    kubectl("-n", namespace, "create", "configmap", "zeta", "--from-literal=rank=1")
    kubectl("-n", namespace, "label", "configmap", "alpha", "set=demo", "tier=front")
    kubectl("-n", namespace, "label", "configmap", "mid", "set=demo",
            "app.kubernetes.io/part-of=shop")
    kubectl("-n", namespace, "label", "configmap", "zeta", "set=demo")


def test_get_missing_object_is_not_found(kubectl, namespace) -> None:
    result = kubectl.run("-n", namespace, "get", "pod", "x", check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == 'Error from server (NotFound): pods "x" not found\n'


def test_get_empty_namespace_says_no_resources(kubectl, namespace) -> None:
    result = kubectl.run("-n", namespace, "get", "deployments")
    assert result.stdout == ""
    assert result.stderr == f"No resources found in {namespace} namespace.\n"


def test_get_table(kubectl, namespace) -> None:
    make_configmaps(kubectl, namespace)
    out = kubectl("-n", namespace, "get", "configmaps", "-l", "set=demo")
    assert_table(out, "NAME    DATA   AGE", [
        ["alpha", "1", AGE],
        ["mid", "2", AGE],
        ["zeta", "1", AGE],
    ])


def test_get_one_object_by_short_name(kubectl, namespace) -> None:
    make_configmaps(kubectl, namespace)
    assert_table(kubectl("-n", namespace, "get", "cm", "mid"), "NAME   DATA   AGE", [
        ["mid", "2", AGE],
    ])


def test_get_label_selector(kubectl, namespace) -> None:
    make_configmaps(kubectl, namespace)
    assert_table(kubectl("-n", namespace, "get", "cm", "-l", "tier=front"),
                 "NAME    DATA   AGE", [["alpha", "1", AGE]])
    assert_table(kubectl("-n", namespace, "get", "cm", "-l", "set=demo,tier!=front"),
                 "NAME   DATA   AGE", [["mid", "2", AGE], ["zeta", "1", AGE]])
    assert_table(kubectl("-n", namespace, "get", "cm", "-l", "set in (demo),!tier"),
                 "NAME   DATA   AGE", [["mid", "2", AGE], ["zeta", "1", AGE]])
    result = kubectl.run("-n", namespace, "get", "cm", "-l", "set=nothing")
    assert result.stdout == ""
    assert result.stderr == f"No resources found in {namespace} namespace.\n"


def test_get_label_columns(kubectl, namespace) -> None:
    """-L adds one column per key, headed by the key's last path segment in capitals."""
    make_configmaps(kubectl, namespace)
    out = kubectl("-n", namespace, "get", "cm", "-l", "set=demo",
                  "-L", "tier,app.kubernetes.io/part-of", "-L", "missing")
    assert_table(out, "NAME    DATA   AGE   TIER    PART-OF   MISSING", [
        ["alpha", "1", AGE, "front", "", ""],
        ["mid", "2", AGE, "", "shop", ""],
        ["zeta", "1", AGE, "", "", ""],
    ])


def test_get_show_labels(kubectl, namespace) -> None:
    make_configmaps(kubectl, namespace)
    kubectl("-n", namespace, "create", "configmap", "bare")
    out = kubectl("-n", namespace, "get", "cm", "--show-labels", "alpha", "mid", "bare")
    assert_table(out, "NAME    DATA   AGE   LABELS", [
        ["alpha", "1", AGE, "set=demo,tier=front"],
        ["mid", "2", AGE, "app.kubernetes.io/part-of=shop,set=demo"],
        ["bare", "0", AGE, "<none>"],
    ])


def test_get_sort_by(kubectl, namespace) -> None:
    make_configmaps(kubectl, namespace)
    out = kubectl("-n", namespace, "get", "cm", "-l", "set=demo", "--sort-by=.data.rank")
    assert_table(out, "NAME    DATA   AGE", [
        ["zeta", "1", AGE],
        ["mid", "2", AGE],
        ["alpha", "1", AGE],
    ])
    out = kubectl("-n", namespace, "get", "cm", "-l", "set=demo",
                  "--sort-by={.metadata.labels.set}", "-o", "name")
    assert out == "configmap/alpha\nconfigmap/mid\nconfigmap/zeta\n"


def test_get_all_namespaces(kubectl, namespace) -> None:
    other = unique("get-other")
    kubectl("create", "namespace", other)
    kubectl("-n", namespace, "create", "configmap", "here")
    kubectl("-n", other, "create", "configmap", "there")
    for ns, name in ((namespace, "here"), (other, "there")):
        kubectl("-n", ns, "label", "configmap", name, f"mark={namespace}")
    out = kubectl("get", "cm", "-A", "-l", f"mark={namespace}")
    width = len(other) + 3
    assert_table(out, "NAMESPACE".ljust(width) + "NAME    DATA   AGE", [
        [namespace, "here", "0", AGE],
        [other, "there", "0", AGE],
    ])


def test_get_output_wide_for_pending_pod(kubectl, namespace) -> None:
    kubectl("-n", namespace, "run", "p1", "--image=nginx")
    out = kubectl("-n", namespace, "get", "pods", "-o", "wide")
    assert_table(out, "NAME   READY   STATUS    RESTARTS   AGE   IP       NODE     "
                      "NOMINATED NODE   READINESS GATES", [
        ["p1", "0/1", "Pending", "0", AGE, "<none>", "<none>", "<none>", "<none>"],
    ])


def test_get_output_wide_for_deployment(kubectl, namespace) -> None:
    kubectl("-n", namespace, "create", "deployment", "web", "--image=nginx:1.25")
    out = kubectl("-n", namespace, "get", "deploy", "web", "-o", "wide")
    assert_table(out, "NAME   READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   IMAGES       "
                      "SELECTOR", [
        ["web", "0/1", "0", "0", AGE, "nginx", "nginx:1.25", "app=web"],
    ])


def test_get_output_yaml(kubectl, namespace) -> None:
    kubectl("-n", namespace, "create", "configmap", "cfg", "--from-literal=key=value")
    doc = yaml.safe_load(kubectl("-n", namespace, "get", "cm", "cfg", "-o", "yaml"))
    assert doc["apiVersion"] == "v1"
    assert doc["kind"] == "ConfigMap"
    assert doc["data"] == {"key": "value"}
    assert doc["metadata"]["name"] == "cfg"
    assert doc["metadata"]["namespace"] == namespace
    assert set(doc["metadata"]) == {"creationTimestamp", "name", "namespace",
                                    "resourceVersion", "uid"}


def test_get_output_json_list(kubectl, namespace) -> None:
    make_configmaps(kubectl, namespace)
    doc = json.loads(kubectl("-n", namespace, "get", "cm", "-l", "set=demo", "-o", "json"))
    assert doc["apiVersion"] == "v1"
    assert doc["kind"] == "List"
    assert doc["metadata"] == {"resourceVersion": ""}
    assert [i["metadata"]["name"] for i in doc["items"]] == ["alpha", "mid", "zeta"]
    assert {i["kind"] for i in doc["items"]} == {"ConfigMap"}
    assert {i["apiVersion"] for i in doc["items"]} == {"v1"}


def test_get_output_name(kubectl, namespace) -> None:
    make_configmaps(kubectl, namespace)
    kubectl("-n", namespace, "create", "deployment", "web", "--image=nginx")
    out = kubectl("-n", namespace, "get", "cm,deploy", "-l", "set=demo", "-o", "name")
    assert out == "configmap/alpha\nconfigmap/mid\nconfigmap/zeta\n"
    assert kubectl("-n", namespace, "get", "deploy", "-o", "name") == "deployment.apps/web\n"


def test_get_output_jsonpath(kubectl, namespace) -> None:
    make_configmaps(kubectl, namespace)
    out = kubectl("-n", namespace, "get", "cm", "-l", "set=demo",
                  "-o", "jsonpath={.items[*].metadata.name}")
    assert out == "alpha mid zeta"
    out = kubectl("-n", namespace, "get", "cm", "mid", "-o", "jsonpath={.data.extra}")
    assert out == "x"
    out = kubectl("-n", namespace, "get", "cm", "-l", "set=demo", "-o",
                  'jsonpath={range .items[*]}{.metadata.name}={.data.rank}{"\\n"}{end}')
    assert out == "alpha=3\nmid=2\nzeta=1\n"


def test_get_output_custom_columns(kubectl, namespace) -> None:
    make_configmaps(kubectl, namespace)
    out = kubectl("-n", namespace, "get", "cm", "-l", "set=demo",
                  "-o", "custom-columns=NAME:.metadata.name,RANK:.data.rank,"
                  "TIER:.metadata.labels.tier")
    assert out == ("NAME    RANK   TIER\n"
                   "alpha   3      front\n"
                   "mid     2      <none>\n"
                   "zeta    1      <none>\n")


def test_get_several_kinds_prints_one_table_each(kubectl, namespace) -> None:
    kubectl("-n", namespace, "create", "configmap", "cfg")
    kubectl("-n", namespace, "create", "serviceaccount", "robot")
    cm_table, sa_table = kubectl("-n", namespace, "get", "cm/cfg", "sa/robot").split("\n\n")
    assert_table(cm_table, "NAME            DATA   AGE", [["configmap/cfg", "0", AGE]])
    assert_table(sa_table, "NAME                   SECRETS   AGE",
                 [["serviceaccount/robot", "0", AGE]])


class Watch:
    """A `kubectl get -w` running in the background; lines are read with a deadline, so a
    missing event fails the test instead of hanging it. kubectl lists, prints, then watches from
    the list's resourceVersion: once the listed rows are read, no later change can be missed."""

    def __init__(self, kubectl, *args: str) -> None:
        env = {**os.environ, "KUBECONFIG": str(kubectl.kubeconfig), "HOME": str(kubectl.home)}
        self.process = subprocess.Popen([kubectl.binary, *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, env=env)
        self._buffer = b""

    def lines(self, count: int) -> list[str]:
        deadline = time.monotonic() + WATCH_LINE_TIMEOUT
        stdout = self.process.stdout
        assert stdout is not None
        while self._buffer.count(b"\n") < count:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([stdout], [], [], max(remaining, 0))
            chunk = os.read(stdout.fileno(), 65536) if ready else b""
            if not chunk:
                raise AssertionError(f"watch printed only {self._buffer.decode()!r} "
                                     f"(exit code {self.process.poll()})")
            self._buffer += chunk
        *taken, self._buffer = self._buffer.split(b"\n", count)
        return [line.decode() for line in taken]

    def stop(self) -> None:
        self.process.terminate()
        self.process.communicate(timeout=10)


def test_get_watch_streams_changes(kubectl, namespace) -> None:
    labelled = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  labels:\n" \
               "    watch: me\ndata:\n  a: '1'\n"
    kubectl("-n", namespace, "apply", "-f", "-", input=labelled.format(name="before"))
    watch = Watch(kubectl, "-n", namespace, "get", "cm", "-w", "-l", "watch=me")
    try:
        header, listed = watch.lines(2)
        kubectl("-n", namespace, "apply", "-f", "-", input=labelled.format(name="w1"))
        (added,) = watch.lines(1)
        kubectl("-n", namespace, "patch", "configmap", "w1", "-p", '{"data":{"b":"2"}}')
        (modified,) = watch.lines(1)
        kubectl("-n", namespace, "delete", "configmap", "w1")
        (deleted,) = watch.lines(1)
    finally:
        watch.stop()
    assert header.split() == ["NAME", "DATA", "AGE"]
    assert_words(listed, ["before", "1", AGE])
    assert_words(added, ["w1", "1", AGE])
    assert_words(modified, ["w1", "2", AGE])
    assert_words(deleted, ["w1", "2", AGE])  # the object as it last was


def test_get_watch_output_watch_events(kubectl, namespace) -> None:
    kubectl("-n", namespace, "create", "secret", "generic", "s0", "--from-literal=a=1")
    watch = Watch(kubectl, "-n", namespace, "get", "secrets", "-w", "--output-watch-events")
    try:
        header, listed = watch.lines(2)
        kubectl("-n", namespace, "create", "secret", "generic", "s1", "--from-literal=a=1")
        (added,) = watch.lines(1)
        kubectl("-n", namespace, "patch", "secret", "s1", "--type=merge",
                "-p", '{"stringData":{"b":"2"}}')
        (modified,) = watch.lines(1)
        kubectl("-n", namespace, "delete", "secret", "s1")
        (deleted,) = watch.lines(1)
    finally:
        watch.stop()
    assert header.split() == ["EVENT", "NAME", "TYPE", "DATA", "AGE"]
    assert_words(listed, ["ADDED", "s0", "Opaque", "1", AGE])
    assert_words(added, ["ADDED", "s1", "Opaque", "1", AGE])
    assert_words(modified, ["MODIFIED", "s1", "Opaque", "2", AGE])
    assert_words(deleted, ["DELETED", "s1", "Opaque", "2", AGE])
