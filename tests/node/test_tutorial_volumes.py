"""The volume tutorials of seed-003a, run with kubectl against a real node: §6 a redis pod
whose emptyDir keeps a file across a restart of its container (redis, PID 1 as user redis, is
killed from a shell in the container), while the container's own filesystem starts afresh;
§7 a projected volume merging two Secrets made from files.

The manifests are the docs' (https://k8s.io/examples/pods/storage/...), transcribed; the
images are the project's stand-ins pulled from the tutorial registry mirror. The docs'
interactive `kubectl exec -it ... -- /bin/bash` sessions are run as `kubectl exec ... --
/bin/bash -c '...'`; `apt-get install procps` needs the internet, and the redis stand-in ships
procps instead.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from agentnode import KUBECTL, AgentNode, skip_reason
from tutorialnode import apply, container_status, delete, get, tutorial_node

pytestmark = pytest.mark.node

TIMEOUT = 120.0

REDIS = """\
apiVersion: v1
kind: Pod
metadata:
  name: redis
spec:
  containers:
  - name: redis
    image: redis
    volumeMounts:
    - name: redis-storage
      mountPath: /data/redis
  volumes:
  - name: redis-storage
    emptyDir: {}
"""
PROJECTED = """\
apiVersion: v1
kind: Pod
metadata:
  name: test-projected-volume
spec:
  containers:
  - name: test-projected-volume
    image: busybox
    args:
    - sleep
    - "86400"
    volumeMounts:
    - name: all-in-one
      mountPath: "/projected-volume"
      readOnly: true
  volumes:
  - name: all-in-one
    projected:
      sources:
      - secret:
          name: user
      - secret:
          name: pass
"""


@pytest.fixture(scope="module")
def node(tutorial_registry: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentNode]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with tutorial_node(tmp_path_factory.mktemp("kjttutvol"),
                       registries=tutorial_registry) as node:
        yield node


class Watch:
    """`kubectl get <args> --watch` running in the background; `rows` are its output lines."""

    def __init__(self, node: AgentNode, *args: str) -> None:
        env = {**os.environ, "KUBECONFIG": str(node.kubeconfig), "HOME": str(node.data_dir)}
        self._process = subprocess.Popen([str(KUBECTL), *args], stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True, env=env)
        self._lines: queue.Queue[str] = queue.Queue()
        self.rows: list[list[str]] = []
        self.header = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line.rstrip("\n"))

    def until(self, what: str, check: Callable[[list[list[str]]], bool], *,
              timeout: float = TIMEOUT) -> None:
        """Read rows until `check(rows)`; fails naming `what`."""
        deadline = time.monotonic() + timeout
        while not check(self.rows):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{what}: watch printed {self.header!r} {self.rows}")
            with contextlib.suppress(queue.Empty):
                line = self._lines.get(timeout=min(remaining, 1.0))
                if line.startswith("NAME"):
                    assert not self.header, "the watch printed its header twice"
                    self.header = line
                else:
                    self.rows.append(line.split())

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(10)


def _exec(node: AgentNode, pod: str, script: str) -> str:
    return node.kubectl("exec", pod, "--", "/bin/bash", "-c", script)


def test_redis_keeps_its_emptydir_file_across_a_container_restart(node: AgentNode) -> None:
    apply(node, REDIS)
    watch = Watch(node, "get", "pod", "redis", "--watch")
    try:
        watch.until("redis not Running", lambda rows: any(
            r[:4] == ["redis", "1/1", "Running", "0"] for r in rows))
        # The shell's prompt `root@redis:/data#`: the pod's hostname, the image's WORKDIR, root.
        assert _exec(node, "redis", "hostname; pwd; id -un") == "redis\n/data\nroot\n"
        _exec(node, "redis", "cd /data/redis/ && echo Hello > test-file && "
                             "echo gone > /data/outside-the-volume")
        processes = _exec(node, "redis", "ps aux").splitlines()
        assert processes[0].split()[:2] == ["USER", "PID"]
        first = processes[1].split()
        assert first[:2] == ["redis", "1"]
        assert " ".join(first[10:]) == "redis-server *:6379"
        _exec(node, "redis", "kill 1")
        # redis exits 0 on SIGTERM: Completed, then started again (restartPolicy Always).
        watch.until("redis not restarted", lambda rows: any(
            r[:4] == ["redis", "1/1", "Running", "1"] for r in rows))
        # The doc's `redis 0/1 Completed 0` row shows only if the API saw the container
        # stopped before it was started again (the first restart has no back-off).
        first_run = next(i for i, r in enumerate(watch.rows) if r[2] == "Running")
        stopped = [r for r in watch.rows[first_run:] if r[1] == "0/1"]
        assert all(r[2] == "Completed" for r in stopped), watch.rows
    finally:
        watch.stop()
    assert watch.header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    last = container_status(node, "redis")["lastState"]["terminated"]
    assert (last["reason"], last["exitCode"]) == ("Completed", 0)
    assert _exec(node, "redis", "cd /data/redis/ && ls") == "test-file\n"
    assert _exec(node, "redis", "cat /data/redis/test-file") == "Hello\n"
    # Outside the volume the restarted container has a fresh root filesystem.
    assert _exec(node, "redis", "ls /data") == "redis\n"
    delete(node, "redis")
    assert get(node, "pod", "redis") == {}


def test_a_projected_volume_merges_two_secrets(node: AgentNode) -> None:
    workdir = node.data_dir.parent / "projected"
    workdir.mkdir()
    (workdir / "username.txt").write_text("admin")
    (workdir / "password.txt").write_text("1f2d1e2e67df")
    node.kubectl("create", "secret", "generic", "user",
                 f"--from-file={workdir / 'username.txt'}")
    node.kubectl("create", "secret", "generic", "pass",
                 f"--from-file={workdir / 'password.txt'}")
    assert get(node, "secret", "user")["data"] == {"username.txt": "YWRtaW4="}
    assert get(node, "secret", "pass")["data"] == {"password.txt": "MWYyZDFlMmU2N2Rm"}
    apply(node, PROJECTED)
    watch = Watch(node, "get", "--watch", "pod", "test-projected-volume")
    try:
        watch.until("test-projected-volume not Running", lambda rows: any(
            r[:4] == ["test-projected-volume", "1/1", "Running", "0"] for r in rows))
    finally:
        watch.stop()
    assert watch.header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    listing = node.kubectl("exec", "test-projected-volume", "--", "/bin/sh", "-c",
                           "ls /projected-volume/")
    assert listing.split() == ["password.txt", "username.txt"]
    assert node.kubectl("exec", "test-projected-volume", "--", "cat",
                        "/projected-volume/username.txt",
                        "/projected-volume/password.txt") == "admin1f2d1e2e67df"
    write = subprocess.run(
        [str(KUBECTL), "exec", "test-projected-volume", "--", "touch", "/projected-volume/x"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "KUBECONFIG": str(node.kubeconfig), "HOME": str(node.data_dir)})
    assert write.returncode != 0
    assert "Read-only file system" in write.stderr
    # The container runs the args as its command: busybox has no ENTRYPOINT.
    assert node.kubectl("exec", "test-projected-volume", "--", "cat", "/proc/1/cmdline") == \
        "sleep\x0086400\x00"
    delete(node, "test-projected-volume")
    assert node.kubectl("delete", "secret", "user", "pass").splitlines() == [
        'secret "user" deleted from default namespace',
        'secret "pass" deleted from default namespace']
