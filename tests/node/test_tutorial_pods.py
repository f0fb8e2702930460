"""Tutorials of seed-003b on where and how pods run, with the real kubectl against a real node:
"Assign Pods to Nodes" (section 10: node labels, nodeSelector, nodeName), "Assign Pods to Nodes
using Node Affinity" (11: required and preferred), "Configure Pod Initialization" (12: an init
container filling nginx's docroot), "Attach Handlers to Container Lifecycle Events" (13:
postStart and preStop) and "Share Process Namespace between Containers in a Pod" (15).

The docs' manifests and images, with these departures, the node being offline:
- section 12's init container runs `wget -O /work-dir/index.html http://kubernetes.io`; here it
  fetches the same way from a local HTTP server on the node (its bridge address, which is the
  pods' gateway) serving a copy of the page the docs show; the verbatim manifest is run too,
  and stays in Init:Error as it does with no internet;
- `apt-get install curl; curl localhost` (12) becomes a request from the host to the pod IP;
- `kubectl exec -it ... -- /bin/bash` then a command becomes `kubectl exec ... -- <command>`;
- `kubectl attach -it nginx -c shell` (15) is run in a terminal made by `script`; the later
  commands (`kill -HUP`, `head`) are `kubectl exec` into the shell container.
The one node stands for the docs' worker0..2: it gets the `disktype=ssd` label.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentnode import KUBECTL, AgentNode, skip_reason
from tutorialnode import (
    apply,
    container_status,
    delete,
    describe_events,
    events,
    get,
    phase,
    pod_row,
    tutorial_node,
)

pytestmark = pytest.mark.node

POD_NGINX = """\
apiVersion: v1
kind: Pod
metadata:
  name: nginx
  labels:
    env: test
spec:
  containers:
  - name: nginx
    image: nginx
    imagePullPolicy: IfNotPresent
  nodeSelector:
    disktype: ssd
"""
POD_NGINX_SPECIFIC_NODE = """\
apiVersion: v1
kind: Pod
metadata:
  name: nginx
spec:
  nodeName: foo-node # 特定のノードにPodをスケジューリングする
  containers:
  - name: nginx
    image: nginx
    imagePullPolicy: IfNotPresent
"""
POD_NGINX_REQUIRED_AFFINITY = """\
apiVersion: v1
kind: Pod
metadata:
  name: nginx
spec:
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions:
          - key: disktype
            operator: In
            values:
            - ssd
  containers:
  - name: nginx
    image: nginx
    imagePullPolicy: IfNotPresent
"""
POD_NGINX_PREFERRED_AFFINITY = """\
apiVersion: v1
kind: Pod
metadata:
  name: nginx
spec:
  affinity:
    nodeAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 1
        preference:
          matchExpressions:
          - key: disktype
            operator: In
            values:
            - ssd
  containers:
  - name: nginx
    image: nginx
    imagePullPolicy: IfNotPresent
"""
INIT_CONTAINERS = """\
apiVersion: v1
kind: Pod
metadata:
  name: init-demo
spec:
  containers:
  - name: nginx
    image: nginx
    ports:
    - containerPort: 80
    volumeMounts:
    - name: workdir
      mountPath: /usr/share/nginx/html
  # These containers are run during pod initialization
  initContainers:
  - name: install
    image: busybox
    command:
    - wget
    - "-O"
    - "/work-dir/index.html"
    - http://kubernetes.io
    volumeMounts:
    - name: workdir
      mountPath: "/work-dir"
  dnsPolicy: Default
  volumes:
  - name: workdir
    emptyDir: {}
"""
INFO_CERN_CH = """\
<html><head></head><body><header>
<title>http://info.cern.ch</title>
</header>

<h1>http://info.cern.ch - home of the first website</h1>
<p>From here you can:</p>
<ul>
<li><a href="http://info.cern.ch/hypertext/WWW/TheProject.html">Browse the first website</a></li>
</ul>
</body></html>
"""
"""The start of the page the docs show (`curl localhost`), served locally in its place."""
LIFECYCLE_EVENTS = """\
apiVersion: v1
kind: Pod
metadata:
  name: lifecycle-demo
spec:
  containers:
  - name: lifecycle-demo-container
    image: nginx
    lifecycle:
      postStart:
        exec:
          command: ["/bin/sh", "-c", "echo Hello from the postStart handler > /usr/share/message"]
      preStop:
        exec:
          command: ["/usr/sbin/nginx","-s","quit"]
"""
SHARE_PROCESS_NAMESPACE = """\
apiVersion: v1
kind: Pod
metadata:
  name: nginx
spec:
  shareProcessNamespace: true
  containers:
  - name: nginx
    image: nginx
  - name: shell
    image: busybox:1.28
    securityContext:
      capabilities:
        add:
        - SYS_PTRACE
    stdin: true
    tty: true
"""


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, tutorial_registry: Path
         ) -> Iterator[AgentNode]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with tutorial_node(tmp_path_factory.mktemp("kjtpods"),
                       registries=tutorial_registry) as node:
        yield node


def _labels_column(node: AgentNode) -> str:
    header, *rows = node.kubectl("get", "nodes", "--show-labels").splitlines()
    assert header.split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION", "LABELS"]
    [row] = [r for r in rows if r.split()[0] == node.name]
    assert row.split()[1:3] == ["Ready", "<none>"]
    return row.split()[-1]


def _label_ssd(node: AgentNode) -> None:
    node.kubectl("label", "nodes", node.name, "disktype-", "--overwrite")
    assert node.kubectl("label", "nodes", node.name, "disktype=ssd") == \
        f"node/{node.name} labeled\n"


def _wide(node: AgentNode, pod: str) -> dict[str, str]:
    header, row = node.kubectl("get", "pods", pod, "--output=wide").splitlines()
    starts = [m.start() for m in re.finditer(r"\S+( \S+)*", header)]
    names = [m.group() for m in re.finditer(r"\S+( \S+)*", header)]
    cells = [row[s:e].strip() for s, e in zip(starts, [*starts[1:], None], strict=True)]
    return dict(zip(names, cells, strict=True))


def _in_pod_cidr(node: AgentNode, ip: str) -> bool:
    cidr = get(node, "node", node.name)["spec"]["podCIDR"]
    prefix = cidr.rsplit(".", 1)[0] + "."
    return ip.startswith(prefix)


def _running_on_the_node(node: AgentNode, pod: str) -> None:
    node.wait(f"{pod} not Running", lambda: phase(node, pod) == "Running", timeout=60)
    wide = _wide(node, pod)
    assert list(wide) == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
                          "NOMINATED NODE", "READINESS GATES"]
    assert (wide["NAME"], wide["READY"], wide["STATUS"], wide["RESTARTS"], wide["NODE"]) == (
        pod, "1/1", "Running", "0", node.name)
    assert _in_pod_cidr(node, wide["IP"])


def test_node_selector_runs_nginx_on_the_labelled_node(node: AgentNode) -> None:
    labels = _labels_column(node).split(",")
    assert f"kubernetes.io/hostname={node.name}" in labels
    node.kubectl("label", "nodes", node.name, "disktype-")
    assert "disktype=ssd" not in _labels_column(node).split(",")

    _label_ssd(node)
    labels = _labels_column(node).split(",")
    assert "disktype=ssd" in labels
    assert labels == sorted(labels)

    assert apply(node, POD_NGINX) == "pod/nginx created\n"
    _running_on_the_node(node, "nginx")
    delete(node, "nginx")


def test_node_selector_without_a_matching_node_leaves_the_pod_pending(node: AgentNode) -> None:
    node.kubectl("label", "nodes", node.name, "disktype-")
    apply(node, POD_NGINX)
    node.wait("no FailedScheduling event", lambda: any(
        e["reason"] == "FailedScheduling" for e in events(node, "nginx")), timeout=30)
    [failed, *_] = [e for e in events(node, "nginx") if e["reason"] == "FailedScheduling"]
    assert failed["message"].startswith(
        "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.")
    assert pod_row(node, "nginx")[1:3] == ["0/1", "Pending"]
    delete(node, "nginx")


def test_node_name_bypasses_the_scheduler(node: AgentNode) -> None:
    apply(node, POD_NGINX_SPECIFIC_NODE)
    pod = get(node, "pod", "nginx")
    assert pod["spec"]["nodeName"] == "foo-node"
    # No kubelet has foo-node's name: the pod is never run.
    assert pod_row(node, "nginx")[1:3] == ["0/1", "Pending"]
    assert _wide(node, "nginx")["NODE"] == "foo-node"
    # Nothing would carry out a graceful deletion (the pod garbage collector deletes pods of
    # nodes that do not exist, after 40 s): force it.
    node.kubectl("delete", "pod", "nginx", "--grace-period=0", "--force")

    apply(node, POD_NGINX_SPECIFIC_NODE.replace("foo-node", node.name))
    _running_on_the_node(node, "nginx")
    assert "Scheduled" not in [e["reason"] for e in events(node, "nginx")]
    delete(node, "nginx")


def test_required_node_affinity(node: AgentNode) -> None:
    node.kubectl("label", "nodes", node.name, "disktype-")
    apply(node, POD_NGINX_REQUIRED_AFFINITY)
    node.wait("no FailedScheduling event", lambda: any(
        e["reason"] == "FailedScheduling" for e in events(node, "nginx")), timeout=30)
    assert phase(node, "nginx") == "Pending"

    _label_ssd(node)
    # The scheduler retries the pod once the node's labels change.
    _running_on_the_node(node, "nginx")
    delete(node, "nginx")


def test_preferred_node_affinity(node: AgentNode) -> None:
    _label_ssd(node)
    assert apply(node, POD_NGINX_PREFERRED_AFFINITY) == "pod/nginx created\n"
    _running_on_the_node(node, "nginx")
    delete(node, "nginx")

    # Only a preference: with no matching node the pod is still scheduled.
    node.kubectl("label", "nodes", node.name, "disktype-")
    apply(node, POD_NGINX_PREFERRED_AFFINITY)
    _running_on_the_node(node, "nginx")
    delete(node, "nginx")


@contextlib.contextmanager
def _serving(page: str, *, host: str) -> Iterator[str]:
    """An HTTP server on `host` answering every GET with `page`; yields its URL."""
    body = page.encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _gateway(node: AgentNode) -> str:
    """The node's bridge address: the pods' default gateway, reachable from them."""
    cidr = get(node, "node", node.name)["spec"]["podCIDR"]
    return cidr.rsplit(".", 1)[0] + ".1"


def test_init_container_fills_the_nginx_docroot(node: AgentNode) -> None:
    with _serving(INFO_CERN_CH, host=_gateway(node)) as url:
        manifest = INIT_CONTAINERS.replace("http://kubernetes.io", url)
        assert apply(node, manifest) == "pod/init-demo created\n"
        node.wait("init-demo not Running", lambda: phase(node, "init-demo") == "Running",
                  timeout=60)
    name, ready, status, restarts, _ = pod_row(node, "init-demo")
    assert (name, ready, status, restarts) == ("init-demo", "1/1", "Running", "0")
    [install] = get(node, "pod", "init-demo")["status"]["initContainerStatuses"]
    assert install["state"]["terminated"]["reason"] == "Completed"
    assert install["state"]["terminated"]["exitCode"] == 0
    nginx = container_status(node, "init-demo")
    assert nginx["state"]["running"]["startedAt"] >= install["state"]["terminated"]["finishedAt"]

    assert node.kubectl("exec", "init-demo", "--", "cat", "/usr/share/nginx/html/index.html") \
        == INFO_CERN_CH
    assert node.kubectl("exec", "init-demo", "--", "/bin/bash", "-c", "hostname") == \
        "init-demo\n"
    # dnsPolicy: Default: the node's resolv.conf (its nameservers a pod can reach), no
    # cluster search domains.
    resolv = node.kubectl("exec", "init-demo", "--", "cat", "/etc/resolv.conf")
    assert "cluster.local" not in resolv
    for line in Path("/etc/resolv.conf").read_text().splitlines():
        if line.startswith("nameserver") and not line.split()[1].startswith("127."):
            assert line in resolv.splitlines()
    # `curl localhost` in the pod: the same request from the node to the pod's address.
    ip = get(node, "pod", "init-demo")["status"]["podIP"]
    with urllib.request.urlopen(f"http://{ip}/", timeout=10) as answer:
        assert answer.read().decode() == INFO_CERN_CH
    delete(node, "init-demo")


def test_init_container_of_the_verbatim_manifest_fails_offline(node: AgentNode) -> None:
    apply(node, INIT_CONTAINERS)
    node.wait("init container never failed", lambda: pod_row(node, "init-demo")[2] in (
        "Init:Error", "Init:CrashLoopBackOff"), timeout=60)
    assert pod_row(node, "init-demo")[1] == "0/1"
    nginx = container_status(node, "init-demo")
    assert nginx["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert not [row for row in describe_events(node, "init-demo")
                if row[1] == "Started" and "spec.containers{nginx}" in row[3]]
    delete(node, "init-demo")


def test_post_start_writes_the_message_and_pre_stop_quits_nginx(
        node: AgentNode, tmp_path: Path) -> None:
    assert apply(node, LIFECYCLE_EVENTS) == "pod/lifecycle-demo created\n"
    node.wait("lifecycle-demo not Running", lambda: phase(node, "lifecycle-demo") == "Running",
              timeout=60)
    assert pod_row(node, "lifecycle-demo")[1:3] == ["1/1", "Running"]
    assert node.kubectl("exec", "lifecycle-demo", "--", "cat", "/usr/share/message") == \
        "Hello from the postStart handler\n"
    assert node.kubectl("exec", "lifecycle-demo", "--", "/bin/bash", "-c", "hostname") == \
        "lifecycle-demo\n"
    assert node.kubectl("delete", "pod", "lifecycle-demo", "--timeout=60s") == \
        'pod "lifecycle-demo" deleted from default namespace\n'


def test_pre_stop_runs_before_the_container_is_stopped(node: AgentNode) -> None:
    """The docs' preStop hook, shown to run: it also leaves a mark in a hostPath volume."""
    marks = node.data_dir.parent / "prestop-marks"
    marks.mkdir(exist_ok=True)
    manifest = LIFECYCLE_EVENTS.replace(
        'command: ["/usr/sbin/nginx","-s","quit"]',
        'command: ["/bin/sh", "-c", "ps ax > /marks/prestop; /usr/sbin/nginx -s quit"]',
    ).replace("    lifecycle:\n", "    volumeMounts:\n    - {name: marks, mountPath: /marks}\n"
              "    lifecycle:\n")
    manifest += f"  volumes:\n  - name: marks\n    hostPath: {{path: {marks}}}\n"
    apply(node, manifest)
    node.wait("lifecycle-demo not Running", lambda: phase(node, "lifecycle-demo") == "Running",
              timeout=60)
    node.kubectl("delete", "pod", "lifecycle-demo", "--timeout=60s")
    # The hook ran while nginx was still up: its master shows in the hook's `ps ax`.
    assert "nginx: master process" in (marks / "prestop").read_text()


def _ps_ax(node: AgentNode) -> list[tuple[int, str, str]]:
    """`ps ax` in the shell container: (PID, USER, COMMAND) rows. (busybox:1.28 of Docker Hub
    prints a TIME column too; the project's stand-in, Debian's busybox, has none.)"""
    out = node.kubectl("exec", "nginx", "-c", "shell", "--", "ps", "ax")
    header, *rows = out.splitlines()
    assert header.split() in (["PID", "USER", "TIME", "COMMAND"], ["PID", "USER", "COMMAND"])
    command_at = header.index("COMMAND")
    return [(int(r.split()[0]), r.split()[1], r[command_at:].strip()) for r in rows]


def _attach_and_type(node: AgentNode, line: str, *, until: str) -> str:
    """`kubectl attach -it nginx -c shell`, then `line` typed at the prompt; what the terminal
    showed once `until` appeared. kubectl gets a terminal from `script`; it is stopped rather
    than the shell exited, which would restart the container."""
    argv = " ".join([str(KUBECTL), f"--kubeconfig={node.kubeconfig}", "attach", "-it",
                     "nginx", "-c", "shell"])
    process = subprocess.Popen(["script", "-qfc", argv, "/dev/null"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdin is not None
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    shown, typed = "", False
    deadline = time.monotonic() + 30
    try:
        while until not in shown and time.monotonic() < deadline:
            time.sleep(0.2)
            shown += (process.stdout.read() or b"").decode(errors="replace")
            if not typed and "If you don't see a command prompt" in shown:
                process.stdin.write(f"{line}\r".encode())
                process.stdin.flush()
                typed = True
    finally:
        process.terminate()
        process.wait(10)
    return shown.replace("\r", "")


def test_shared_process_namespace(node: AgentNode) -> None:
    assert apply(node, SHARE_PROCESS_NAMESPACE) == "pod/nginx created\n"
    node.wait("nginx not Running", lambda: pod_row(node, "nginx")[1:3] == ["2/2", "Running"],
              timeout=60)
    shown = _attach_and_type(node, "ps ax",
                             until="nginx: master process nginx -g daemon off;")
    assert "If you don't see a command prompt, try pressing enter." in shown
    assert "nginx: master process nginx -g daemon off;" in shown

    processes = _ps_ax(node)
    assert processes[0] == (1, "root", "/pause")
    [(master, master_user, _)] = [p for p in processes
                                  if p[2] == "nginx: master process nginx -g daemon off;"]
    workers = [(pid, user) for pid, user, command in processes
               if command == "nginx: worker process"]
    assert master_user == "root"
    assert workers
    assert {user for _, user in workers} == {"101"}
    assert "sh" in [command for _, _, command in processes]

    node.kubectl("exec", "nginx", "-c", "shell", "--", "kill", "-HUP", str(master))
    node.wait("no new nginx worker", lambda: not {
        pid for pid, _, command in _ps_ax(node) if command == "nginx: worker process"
    } & {pid for pid, _ in workers}, timeout=30)
    after = _ps_ax(node)
    assert master in [pid for pid, _, command in after if command.startswith("nginx: master")]
    assert [pid for pid, _, command in after if command == "nginx: worker process"]

    head = node.kubectl("exec", "nginx", "-c", "shell", "--", "head",
                        f"/proc/{master}/root/etc/nginx/nginx.conf")
    assert re.search(r"^user\s+nginx;$", head, re.MULTILINE)
    assert re.search(r"^\s+worker_connections\s+\d+;$", head, re.MULTILINE)

    # `kill -HUP 1` signals the sandbox's /pause, which ignores it; nginx is not reloaded.
    workers_now = {pid for pid, _, command in _ps_ax(node) if command == "nginx: worker process"}
    node.kubectl("exec", "nginx", "-c", "shell", "--", "kill", "-HUP", "1")
    processes = _ps_ax(node)
    assert processes[0] == (1, "root", "/pause")
    assert {pid for pid, _, command in processes if command == "nginx: worker process"} == \
        workers_now
    assert pod_row(node, "nginx")[3] == "0"
    delete(node, "nginx")


def test_without_a_shared_namespace_each_container_is_pid_1(node: AgentNode) -> None:
    manifest = SHARE_PROCESS_NAMESPACE.replace("  shareProcessNamespace: true\n", "")
    apply(node, manifest)
    node.wait("nginx not Running", lambda: pod_row(node, "nginx")[1:3] == ["2/2", "Running"],
              timeout=60)
    processes = _ps_ax(node)
    assert processes[0][:1] == (1,)
    assert processes[0][2] == "sh"
    assert not [p for p in processes if p[2].startswith("nginx")]
    assert json.loads(node.kubectl("get", "pod", "nginx", "-o", "json"))["spec"].get(
        "shareProcessNamespace") is None
    delete(node, "nginx")
