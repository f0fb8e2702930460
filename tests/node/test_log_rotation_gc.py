"""Node housekeeping on a real node, with kubectl: log rotation, container and image garbage
collection as the cluster-administration docs describe them.

- A pod writing about 50 MiB of logs keeps at most containerLogMaxFiles (5) files, the current
  one and the last rotated one plain, older ones gzipped, none much over containerLogMaxSize
  (10Mi), and `kubectl logs` still reads it.
- A crash-looping container's `kubectl logs --previous` shows its last run while the older
  runs (and their log files) are removed; deleting the pod removes its log directory.
- Image garbage collection: containerd's root is a small tmpfs mounted by the test (the agent
  is restarted over it); with a few unused images imported and a file filling the tmpfs above
  imageGCHighThresholdPercent (85), unused images are removed until usage is below
  imageGCLowThresholdPercent (80), while the images in use (and the sandbox image) stay.

The agent runs with short periods so that the test is quick (log checks every second,
container GC every 2 s, image GC every 12 s: more than the stats' 10 s housekeeping, so each
collection sees the disk as the previous one left it; no minimum image age, as the images
imported during the test are first seen by the collection that may have to remove them), and
with evictionHard on memory only, so that the full tmpfs puts no DiskPressure on the node.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentnode import AgentNode, skip_reason
from tutorialnode import apply, container_status, delete, get, tutorial_node

from kajitori.kubelet import containerd, imagebuild

pytestmark = pytest.mark.node

MiB = 2**20
TMPFS_SIZE = 256 * MiB
KAJITORI = str(Path(sys.executable).parent / "kajitori")
UNUSED_IMAGES = ("nginx", "redis", "stress")
"""Recipes (images/) imported and never used."""
SETTINGS = {"container_log_monitor_interval": 1.0, "container_gc_period": 2.0,
            "image_gc_period": 12.0, "image_minimum_gc_age": 0.0,
            "eviction_hard": {"memory.available": "100Mi"}}

CHATTY_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: chatty
spec:
  restartPolicy: Never
  containers:
  - name: chatty
    image: busybox
    imagePullPolicy: IfNotPresent
    # 50 times 1 MiB of 1023-character lines, 4 MiB a second; then the last line.
    command: ["sh", "-c", "i=0; while [ $i -lt 50 ]; do i=$((i+1));
      head -c 1048576 /dev/zero | tr '\\\\0' x | fold -w 1023; echo; sleep 0.25; done;
      echo chatty-done; sleep 3600"]
"""
CRASHER_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: crasher
spec:
  containers:
  - name: crasher
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "n=$(cat /data/n 2>/dev/null || echo 0); n=$((n+1));
      echo $n > /data/n; echo run $n; exit 1"]
    volumeMounts:
    - name: data
      mountPath: /data
  volumes:
  - name: data
    emptyDir: {}
"""
KEEPER_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: keeper
spec:
  containers:
  - name: keeper
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "3600"]
"""


def _containerd_root(node: AgentNode) -> Path:
    return containerd.ContainerdSettings(root=node.data_dir / "kubelet").directory / "root"


def _mounted(path: Path) -> bool:
    return any(line.split()[1] == str(path)
               for line in Path("/proc/mounts").read_text().splitlines())


def _restart_on_tmpfs(node: AgentNode) -> None:
    """Stop the agent and its containerd, mount a tmpfs on containerd's root, and start the
    agent again with SETTINGS (it starts containerd and imports the built-in images)."""
    node.stop()
    settings = containerd.ContainerdSettings(root=node.data_dir / "kubelet")
    pid = int(settings.pid_file.read_text())
    asyncio.run(containerd.Containerd(settings.socket, pid, adopted=False).stop())
    root = _containerd_root(node)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(root)],
                   check=True)
    node.settings = SETTINGS
    node.start()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentNode]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with tutorial_node(tmp_path_factory.mktemp("kjtgc")) as agent:
        root = _containerd_root(agent)
        _restart_on_tmpfs(agent)
        agent.wait("images not imported after the restart", lambda: "busybox" in _images(agent))
        agent.wait("node not Ready after the restart", agent.ready)
        yield agent
    # The node's cleanup stopped containerd and unmounted what is under its directory.
    if _mounted(root):
        subprocess.run(["umount", "-l", str(root)], check=False)
    assert not _mounted(root)


def _images(node: AgentNode) -> str:
    """`kajitori images list` of the node."""
    return subprocess.run([KAJITORI, "images", "--data-dir", str(node.data_dir), "list"],
                          capture_output=True, text=True, check=False, timeout=60).stdout


def _log_dir(node: AgentNode, pod: str) -> Path:
    uid = get(node, "pod", pod)["metadata"]["uid"]
    return node.data_dir / "kubelet" / "logs" / "pods" / f"default_{pod}_{uid}"


def _usage_percent(path: Path) -> int:
    """As the image collector computes it."""
    st = os.statvfs(path)
    capacity, available = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
    return 100 - available * 100 // capacity


def test_a_pod_writing_50_mib_keeps_at_most_five_log_files(node: AgentNode) -> None:
    apply(node, CHATTY_POD)
    node.wait("chatty did not write its logs", lambda: node.kubectl(
        "logs", "chatty", "--tail=1", check=False).strip() == "chatty-done", timeout=180)
    directory = _log_dir(node, "chatty") / "chatty"
    files = sorted(p.name for p in directory.iterdir())
    assert len(files) <= 5, files
    assert files[0] == "0.log"
    compressed = [f for f in files if f.endswith(".gz")]
    plain = [f for f in files[1:] if not f.endswith(".gz")]
    assert compressed, files  # rotated more than once
    assert len(plain) == 1, files  # the last rotated file, not compressed yet
    for name in ("0.log", *plain):
        # Checked every second while 4 MiB a second are written: a little over 10Mi at most.
        assert (directory / name).stat().st_size <= 10 * MiB + 5 * MiB, name
    with gzip.open(directory / compressed[-1]) as f:
        first = f.readline().split(b" ", 3)
    assert first[1:3] == [b"stdout", b"F"]
    # kubectl logs reads the current file only: less than all that was written.
    out = node.kubectl("logs", "chatty")
    assert out.endswith("chatty-done\n")
    assert len(out) < 20 * MiB
    delete(node, "chatty")


def test_a_crashing_containers_previous_run_stays_older_ones_go(node: AgentNode) -> None:
    apply(node, CRASHER_POD)

    def crashed_three_times() -> bool:
        status = container_status(node, "crasher")
        return status.get("restartCount") == 2 and \
            "terminated" in (status.get("lastState") or {}) and \
            "waiting" in (status.get("state") or {})

    node.wait("crasher did not run three times", crashed_three_times, timeout=120)
    assert node.kubectl("logs", "crasher", "--previous") == "run 3\n"
    directory = _log_dir(node, "crasher")
    node.wait("the older runs' logs were not removed", lambda: sorted(
        p.name for p in (directory / "crasher").iterdir()) == ["2.log"], timeout=30)
    assert node.kubectl("logs", "crasher", "--previous") == "run 3\n"

    delete(node, "crasher")
    node.wait("the deleted pod's log directory is still there",
              lambda: not directory.exists(), timeout=30)


def test_image_gc_removes_unused_images_down_to_the_low_threshold(node: AgentNode) -> None:
    apply(node, KEEPER_POD)
    node.wait("keeper not running", lambda: "running" in (
        container_status(node, "keeper").get("state") or {}))
    archives = [str(imagebuild.build(imagebuild.load_recipe(name)).oci_archive)
                for name in UNUSED_IMAGES]
    subprocess.run([KAJITORI, "images", "--data-dir", str(node.data_dir), "import", *archives],
                   check=True, capture_output=True, timeout=300)
    before = _images(node)
    for name in UNUSED_IMAGES:
        assert f"/{name} " in before or f"library/{name}" in before, before
    root = _containerd_root(node)
    st = os.statvfs(root)
    capacity, available = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
    assert _usage_percent(root) < 80, "the images alone fill the tmpfs"
    filler = root / "filler"
    with filler.open("wb") as f:
        # Usage to 90 %: above the high threshold (85 %).
        os.posix_fallocate(f.fileno(), 0, available - capacity // 10)
    assert _usage_percent(root) >= 85
    try:
        node.wait("image GC did not bring usage below the low threshold",
                  lambda: _usage_percent(root) < 80, timeout=90)
        after = _images(node)
        removed = [name for name in UNUSED_IMAGES if name not in after]
        assert removed, after
        assert "library/busybox" in after  # in use by keeper
        assert "registry.k8s.io/pause" in after  # the sandbox image
        node_images = json.loads(node.kubectl(
            "get", "node", node.name, "-o", "jsonpath={.status.images}") or "[]")
        assert any("busybox" in n for image in node_images for n in image["names"])
        warnings = [(e["reason"], e["message"]) for e in json.loads(node.kubectl(
            "get", "events", "--field-selector", "involvedObject.kind=Node,type=Warning",
            "-o", "json"))["items"]]
        assert warnings == []
    finally:
        filler.unlink()
        delete(node, "keeper")
