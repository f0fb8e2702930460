"""The security context tutorial of seed-003a (§8), run with kubectl against a real node:
pod-level runAsUser/runAsGroup/fsGroup/supplementalGroups seen by `ps`, `id` and `ls -l` in
the volume; groups merged from the image's /etc/group (Merge) or not (Strict); a container's
runAsUser over the pod's; the default and added capabilities in /proc/1/status; seccomp
RuntimeDefault, readOnlyRootFilesystem, allowPrivilegeEscalation false (NoNewPrivs), the
masked and read-only /proc paths; fsGroupChangePolicy and procMount as the API takes them; and
the quirk of the docs applying three manifests with one pod name (§0.4): the second apply is
refused, so the pod is deleted in between.

The manifests are the docs' (https://k8s.io/examples/pods/security/...), transcribed; the
images are the project's stand-ins. Interactive `kubectl exec -it ... -- sh` sessions are run
as `kubectl exec ... -- sh -c '...'`. Out of scope here: AppArmor and SELinux (this machine
has neither: /sys/module/apparmor and /sys/fs/selinux are absent), CSI fsGroup delegation
(no CSI drivers).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentnode import KUBECTL, AgentNode, skip_reason
from tutorialnode import apply, container_status, delete, events, get, tutorial_node

pytestmark = pytest.mark.node

TIMEOUT = 120.0

SECURITY_CONTEXT = """\
apiVersion: v1
kind: Pod
metadata:
  name: security-context-demo
spec:
  securityContext:
    runAsUser: 1000
    runAsGroup: 3000
    fsGroup: 2000
    supplementalGroups: [4000]
  volumes:
  - name: sec-ctx-vol
    emptyDir: {}
  containers:
  - name: sec-ctx-demo
    image: busybox:1.28
    command: [ "sh", "-c", "sleep 1h" ]
    volumeMounts:
    - name: sec-ctx-vol
      mountPath: /data/demo
    securityContext:
      allowPrivilegeEscalation: false
"""
SECURITY_CONTEXT_5 = """\
apiVersion: v1
kind: Pod
metadata:
  name: security-context-demo
spec:
  securityContext:
    runAsUser: 1000
    runAsGroup: 3000
    supplementalGroups: [4000]
  containers:
  - name: sec-ctx-demo
    image: registry.k8s.io/e2e-test-images/agnhost:2.45
    command: [ "sh", "-c", "sleep 1h" ]
    securityContext:
      allowPrivilegeEscalation: false
"""
SECURITY_CONTEXT_6 = """\
apiVersion: v1
kind: Pod
metadata:
  name: security-context-demo
spec:
  securityContext:
    runAsUser: 1000
    runAsGroup: 3000
    supplementalGroups: [4000]
    supplementalGroupsPolicy: Strict
  containers:
  - name: sec-ctx-demo
    image: registry.k8s.io/e2e-test-images/agnhost:2.45
    command: [ "sh", "-c", "sleep 1h" ]
    securityContext:
      allowPrivilegeEscalation: false
"""
SECURITY_CONTEXT_2 = """\
apiVersion: v1
kind: Pod
metadata:
  name: security-context-demo-2
spec:
  securityContext:
    runAsUser: 1000
  containers:
  - name: sec-ctx-demo-2
    image: gcr.io/google-samples/node-hello:1.0
    securityContext:
      runAsUser: 2000
      allowPrivilegeEscalation: false
"""
SECURITY_CONTEXT_3 = """\
apiVersion: v1
kind: Pod
metadata:
  name: security-context-demo-3
spec:
  containers:
  - name: sec-ctx-3
    image: gcr.io/google-samples/node-hello:1.0
"""
SECURITY_CONTEXT_4 = """\
apiVersion: v1
kind: Pod
metadata:
  name: security-context-demo-4
spec:
  containers:
  - name: sec-ctx-4
    image: gcr.io/google-samples/node-hello:1.0
    securityContext:
      capabilities:
        add: ["NET_ADMIN", "SYS_TIME"]
"""
# §8.4, §8.8, §8.11 and the intro give fragments; these pods put them in busybox:1.28.
FRAGMENTS = """\
apiVersion: v1
kind: Pod
metadata:
  name: fragments-demo
spec:
  securityContext:
    runAsUser: 1000
    runAsGroup: 3000
    fsGroup: 2000
    fsGroupChangePolicy: "OnRootMismatch"
    seccompProfile:
      type: RuntimeDefault
  volumes:
  - name: vol
    emptyDir: {}
  containers:
  - name: ctr
    image: busybox:1.28
    command: [ "sh", "-c", "sleep 1h" ]
    volumeMounts:
    - name: vol
      mountPath: /data/demo
    securityContext:
      readOnlyRootFilesystem: true
"""
PROC_MOUNT = """\
apiVersion: v1
kind: Pod
metadata:
  name: procmount-demo
spec:
  containers:
  - name: ctr
    image: busybox:1.28
    command: [ "sh", "-c", "sleep 1h" ]
    securityContext:
      procMount: Unmasked
"""
DEFAULT_CAPS = "00000000a80425fb"
ADDED_CAPS = "00000000aa0435fb"


@pytest.fixture(scope="module")
def node(tutorial_registry: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentNode]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with tutorial_node(tmp_path_factory.mktemp("kjttutsec"),
                       registries=tutorial_registry) as node:
        yield node


def _sh(node: AgentNode, pod: str, script: str) -> str:
    return node.kubectl("exec", pod, "--", "sh", "-c", script)


def _running(node: AgentNode, pod: str) -> None:
    node.wait(f"pod {pod} not ready", lambda: container_status(node, pod).get("ready"),
              timeout=TIMEOUT)


def _kubectl(node: AgentNode, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(node.kubeconfig), "HOME": str(node.data_dir)}
    return subprocess.run([str(KUBECTL), *args], capture_output=True, text=True, env=env,
                          check=False, timeout=120)


def _numeric_id(text: str) -> str:
    """`id`'s line without the names busybox adds: `uid=1000(user) gid=3000` ->
    `uid=1000 gid=3000`."""
    return re.sub(r"\([^)]*\)", "", text).strip()


def _status_field(status: str, name: str) -> str:
    [line] = [x for x in status.splitlines() if x.startswith(f"{name}:")]
    return line.split(":", 1)[1].strip()


def test_pod_security_context_sets_users_groups_and_volume_ownership(
        node: AgentNode) -> None:
    apply(node, SECURITY_CONTEXT)
    _running(node, "security-context-demo")
    assert node.kubectl("get", "pod", "security-context-demo").splitlines()[1].split()[
        1:3] == ["1/1", "Running"]
    processes = [line.split() for line in _sh(node, "security-context-demo", "ps").splitlines()]
    assert processes[0][:2] == ["PID", "USER"]
    assert processes[1][:2] == ["1", "1000"]
    # Debian's busybox prints no TIME column (the doc's 1.28 does): the command ends the row.
    assert processes[1][-2:] == ["sleep", "1h"]
    assert all(p[1] == "1000" for p in processes[1:])
    [demo] = [line for line in _sh(node, "security-context-demo", "cd /data && ls -l")
              .splitlines() if line.endswith(" demo")]
    assert demo.split()[:4] == ["drwxrwsrwx", "2", "root", "2000"]
    listing = _sh(node, "security-context-demo",
                  "cd /data/demo && echo hello > testfile && ls -l")
    assert listing.splitlines()[-1].split()[:5] == ["-rw-r--r--", "1", "1000", "2000", "6"]
    assert _numeric_id(_sh(node, "security-context-demo", "id")) == \
        "uid=1000 gid=3000 groups=2000,3000,4000"
    status = _sh(node, "security-context-demo", "cat /proc/1/status")
    assert _status_field(status, "NoNewPrivs") == "1"
    # A file outside the volume belongs to runAsUser and runAsGroup.
    assert _sh(node, "security-context-demo", "touch /tmp/x && stat -c '%u %g' /tmp/x") == \
        "1000 3000\n"


def test_a_second_manifest_with_the_same_pod_name_is_refused(node: AgentNode) -> None:
    if not get(node, "pod", "security-context-demo"):
        apply(node, SECURITY_CONTEXT)
    path = node.data_dir.parent / "security-context-5.yaml"
    path.write_text(SECURITY_CONTEXT_5)
    refused = _kubectl(node, "apply", "-f", str(path))
    assert refused.returncode == 1
    assert 'The Pod "security-context-demo" is invalid: spec: Forbidden: pod updates may ' \
           "not change fields other than" in refused.stderr
    delete(node, "security-context-demo")


def test_groups_of_the_image_are_merged_by_default(node: AgentNode) -> None:
    delete(node, "security-context-demo")
    apply(node, SECURITY_CONTEXT_5)
    _running(node, "security-context-demo")
    assert _numeric_id(_sh(node, "security-context-demo", "id")) == \
        "uid=1000 gid=3000 groups=3000,4000,50000"
    group = _sh(node, "security-context-demo", "cat /etc/group").splitlines()
    assert "user-defined-in-image:x:1000:" in group
    assert "group-defined-in-image:x:50000:user-defined-in-image" in group
    assert container_status(node, "security-context-demo")["user"] == {"linux": {
        "uid": 1000, "gid": 3000, "supplementalGroups": [3000, 4000, 50000]}}
    delete(node, "security-context-demo")


def test_strict_supplemental_groups_policy_is_refused_by_this_runtime(node: AgentNode) -> None:
    """containerd 1.6 cannot leave out the image's groups (Strict needs containerd 2.0), so the
    node does not advertise the feature and the kubelet rejects the pod, as upstream v1.33's
    does on such a node, instead of the doc's `groups=3000,4000`."""
    delete(node, "security-context-demo")
    features = (get(node, "node", node.name)["status"].get("features") or {})
    assert not features.get("supplementalGroupsPolicy")
    apply(node, SECURITY_CONTEXT_6)
    node.wait("security-context-demo not rejected", lambda: (get(
        node, "pod", "security-context-demo").get("status") or {}).get("phase") == "Failed",
        timeout=TIMEOUT)
    status = get(node, "pod", "security-context-demo")["status"]
    assert status["reason"] == "SupplementalGroupsPolicyNotSupported"
    assert status["message"] == \
        "Pod was rejected: SupplementalGroupsPolicy=Strict is not supported in this node"
    assert ("Warning", "SupplementalGroupsPolicyNotSupported",
            "SupplementalGroupsPolicy=Strict is not supported in this node") in [
        (e["type"], e["reason"], e["message"]) for e in events(node, "security-context-demo")]
    delete(node, "security-context-demo")


def test_container_run_as_user_overrides_the_pods(node: AgentNode) -> None:
    apply(node, SECURITY_CONTEXT_2)
    _running(node, "security-context-demo-2")
    processes = [line.split() for line in
                 _sh(node, "security-context-demo-2", "ps aux").splitlines()]
    assert processes[0][:2] == ["USER", "PID"]
    assert processes[1][:2] == ["2000", "1"]
    assert " ".join(processes[1][10:]) == "/bin/sh -c node server.js"
    assert ["node", "server.js"] in [p[10:] for p in processes]
    assert all(p[0] == "2000" for p in processes[1:])
    delete(node, "security-context-demo-2")


def test_default_and_added_capabilities(node: AgentNode) -> None:
    apply(node, SECURITY_CONTEXT_3)
    apply(node, SECURITY_CONTEXT_4)
    _running(node, "security-context-demo-3")
    processes = [line.split() for line in
                 _sh(node, "security-context-demo-3", "ps aux").splitlines()]
    assert processes[1][:2] == ["root", "1"]
    status = _sh(node, "security-context-demo-3", "cd /proc/1 && cat status")
    assert (_status_field(status, "CapPrm"), _status_field(status, "CapEff")) == (
        DEFAULT_CAPS, DEFAULT_CAPS)
    _running(node, "security-context-demo-4")
    status = _sh(node, "security-context-demo-4", "cd /proc/1 && cat status")
    assert (_status_field(status, "CapPrm"), _status_field(status, "CapEff")) == (
        ADDED_CAPS, ADDED_CAPS)
    # Bits 12 (NET_ADMIN) and 25 (SYS_TIME) are what differ.
    assert int(ADDED_CAPS, 16) ^ int(DEFAULT_CAPS, 16) == (1 << 12) | (1 << 25)
    delete(node, "security-context-demo-3", "security-context-demo-4")


def test_seccomp_read_only_root_and_fs_group_change_policy(node: AgentNode) -> None:
    apply(node, FRAGMENTS)
    _running(node, "fragments-demo")
    pod = get(node, "pod", "fragments-demo")
    assert pod["spec"]["securityContext"]["fsGroupChangePolicy"] == "OnRootMismatch"
    status = _sh(node, "fragments-demo", "cat /proc/1/status")
    assert _status_field(status, "Seccomp") == "2"  # a filter: the runtime's default profile
    refused = _kubectl(node, "exec", "fragments-demo", "--", "touch", "/x")
    assert refused.returncode != 0
    assert "Read-only file system" in refused.stderr
    [demo] = [line for line in _sh(node, "fragments-demo", "ls -l /data").splitlines()
              if line.endswith(" demo")]
    assert demo.split()[:4] == ["drwxrwsrwx", "2", "root", "2000"]
    assert _sh(node, "fragments-demo", "echo hi > /data/demo/f && stat -c '%u %g' "
                                       "/data/demo/f") == "1000 2000\n"
    # The runtime's masked and read-only /proc paths.
    assert _sh(node, "fragments-demo", "ls -A /proc/acpi; cat /proc/timer_list") == ""
    sysrq = _kubectl(node, "exec", "fragments-demo", "--", "sh", "-c",
                     "echo h > /proc/sysrq-trigger")
    assert sysrq.returncode != 0
    mounts = _sh(node, "fragments-demo", "cat /proc/mounts").splitlines()
    assert any(m.split()[1] == "/proc/sys" and m.split()[3].startswith("ro") for m in mounts)
    delete(node, "fragments-demo")


def test_unmasked_proc_mount_needs_a_user_namespace(node: AgentNode) -> None:
    path = node.data_dir.parent / f"procmount-{time.monotonic_ns()}.yaml"
    path.write_text(PROC_MOUNT)
    refused = _kubectl(node, "apply", "-f", str(path))
    assert refused.returncode == 1
    assert "spec.containers[0].securityContext.procMount" in refused.stderr
    assert "`hostUsers` must be false to use `Unmasked`" in refused.stderr

