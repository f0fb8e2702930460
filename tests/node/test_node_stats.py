"""The kubelet's stats on a real node: `/stats/summary` and `/metrics/resource`, fetched from
the kubelet's HTTPS API with the apiserver's kubelet client certificate (what the apiserver's
metrics scraping does).

memory-demo of the resource tutorial (stress holding 150M under a 200Mi limit) shows a pod
and container working set near 150 MiB, what `kubectl top pod memory-demo` prints in the docs;
the node's cpu and memory are non-zero and cpu gets a rate once two samples exist; a busybox
pod writing 10 MiB into an emptyDir and a line to its log shows them in its `volume`, `logs`
and `ephemeral-storage`; a memory-backed emptyDir is listed but not counted as disk.
"""

from __future__ import annotations

import json
import re
import ssl
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agentnode import AgentNode, skip_reason
from tutorialnode import MEMORY_DEMO, apply, tutorial_node

pytestmark = pytest.mark.node

Obj = dict[str, Any]
MiB = 2**20
TIMEOUT = 120.0
SAMPLE_WAIT = 60.0
"""Seconds to wait for figures that need a sample or two (10 s apart)."""

WRITER = """\
apiVersion: v1
kind: Pod
metadata:
  name: writer
spec:
  containers:
  - name: writer
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "dd if=/dev/zero of=/cache/f bs=1048576 count=10 && \
dd if=/dev/zero of=/scratch/f bs=1048576 count=5 && echo written && sleep 3600"]
    volumeMounts:
    - {name: cache, mountPath: /cache}
    - {name: scratch, mountPath: /scratch}
  volumes:
  - {name: cache, emptyDir: {}}
  - {name: scratch, emptyDir: {medium: Memory}}
"""
SAMPLE_LINE = re.compile(
    r'^[a-z_]+(\{([a-z]+="[^"]*",)*[a-z]+="[^"]*"\})? [-+0-9.e]+( [0-9]+)?$')


@pytest.fixture(scope="module")
def node(tutorial_registry: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentNode]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with tutorial_node(tmp_path_factory.mktemp("kjtstats"),
                       registries=tutorial_registry) as node:
        yield node


def _kubelet_get(node: AgentNode, path: str) -> tuple[str, str]:
    """(Content-Type, body) of a GET to the kubelet as the apiserver calls it."""
    pki = node.kubeconfig.parent / "pki"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(pki / "apiserver-kubelet-client.crt",
                            pki / "apiserver-kubelet-client.key")
    with urllib.request.urlopen(f"https://127.0.0.1:{node.port}{path}", context=context,
                                timeout=30) as response:
        return response.headers["Content-Type"], response.read().decode()


def _summary(node: AgentNode, query: str = "") -> Obj:
    content_type, body = _kubelet_get(node, "/stats/summary" + query)
    assert content_type.startswith("application/json")
    return dict(json.loads(body))


def _running(node: AgentNode, name: str) -> None:
    def ready() -> bool:
        out = node.kubectl("get", "pod", name, "--ignore-not-found", "-o", "json")
        statuses = (json.loads(out).get("status") or {}).get("containerStatuses") or [] \
            if out.strip() else []
        return bool(statuses) and all(s.get("ready") for s in statuses)

    node.wait(f"pod {name} not Running", ready, timeout=TIMEOUT)


def _pod_stats(summary: Obj, name: str) -> Obj:
    found = [p for p in summary["pods"] if p["podRef"]["name"] == name]
    return found[0] if found else {}


def _wait_for(node: AgentNode, what: str, check: Any) -> Obj:
    """Fetches the Summary until `check(summary)` holds; returns that Summary. (stress frees
    and touches its memory again every second, so one sample may catch it low.)"""
    deadline = time.monotonic() + SAMPLE_WAIT
    while True:
        summary = _summary(node)
        if check(summary):
            return summary
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}; last summary: {json.dumps(summary)[:3000]}")
        time.sleep(2)


def test_memory_demo_uses_about_150_mib(node: AgentNode) -> None:
    apply(node, MEMORY_DEMO)
    _running(node, "memory-demo")

    def holding(summary: Obj) -> bool:
        pod = _pod_stats(summary, "memory-demo")
        containers = pod.get("containers") or [{}]
        return 135 * MiB <= (containers[0].get("memory") or {}).get(
            "workingSetBytes", 0) <= 200 * MiB

    summary = _wait_for(node, "memory-demo does not hold about 150 MiB", holding)
    pod = _pod_stats(summary, "memory-demo")
    [container] = pod["containers"]
    assert container["name"] == "memory-demo-ctr"
    # The pod's cgroup holds the container's (and pause's) memory.
    assert 135 * MiB <= pod["memory"]["workingSetBytes"] <= 200 * MiB
    assert pod["memory"]["availableBytes"] == 200 * MiB - pod["memory"]["workingSetBytes"]
    assert container["cpu"]["usageCoreNanoSeconds"] > 0
    assert container["rootfs"]["capacityBytes"] > 0
    uid = json.loads(node.kubectl("get", "pod", "memory-demo", "-o", "json"))["metadata"][
        "uid"]
    assert pod["podRef"] == {"name": "memory-demo", "namespace": "default", "uid": uid}

    node_stats = summary["node"]
    assert node_stats["nodeName"] == node.name
    assert node_stats["memory"]["workingSetBytes"] >= pod["memory"]["workingSetBytes"]
    assert node_stats["memory"]["availableBytes"] > 0
    assert node_stats["fs"]["capacityBytes"] > node_stats["fs"]["availableBytes"] > 0
    assert node_stats["runtime"]["imageFs"]["usedBytes"] > 0
    assert node_stats["rlimit"]["maxpid"] > node_stats["rlimit"]["curproc"] > 0
    # stress keeps a CPU busy re-touching its memory: rates appear from the second sample.
    rated = _wait_for(node, "no cpu rates", lambda s: "usageNanoCores" in s["node"]["cpu"] and
                      "usageNanoCores" in _pod_stats(s, "memory-demo").get("cpu", {}))
    assert rated["node"]["cpu"]["usageNanoCores"] > 0

    cut = _summary(node, "?only_cpu_and_memory=true")
    assert set(cut["node"]) <= {"nodeName", "startTime", "cpu", "memory"}
    assert set(_pod_stats(cut, "memory-demo")) == {"podRef", "startTime", "containers", "cpu",
                                                   "memory"}


def test_resource_metrics_parse(node: AgentNode) -> None:
    apply(node, MEMORY_DEMO, verb="apply")
    _running(node, "memory-demo")
    content_type, text = _kubelet_get(node, "/metrics/resource")
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP [a-z_]+ \[(STABLE|ALPHA)\] .+|TYPE [a-z_]+ "
                            r"(counter|gauge))$", line), line
            continue
        assert SAMPLE_LINE.match(line), line
        name_and_labels, value = line.split(" ")[:2]
        samples[name_and_labels] = float(value)
    labels = 'container="memory-demo-ctr",namespace="default",pod="memory-demo"'
    assert samples["resource_scrape_error"] == 0
    assert samples["node_cpu_usage_seconds_total"] > 0
    assert samples["node_memory_working_set_bytes"] > 0
    assert samples[f"container_cpu_usage_seconds_total{{{labels}}}"] > 0
    assert samples[f"container_memory_working_set_bytes{{{labels}}}"] > 0
    assert samples[f"container_start_time_seconds{{{labels}}}"] > 1.7e9
    assert samples['pod_memory_working_set_bytes{namespace="default",pod="memory-demo"}'] > 0


def test_emptydir_and_logs_count_in_ephemeral_storage(node: AgentNode) -> None:
    apply(node, WRITER)
    _running(node, "writer")
    node.wait("writer has not written", lambda: "written" in node.kubectl("logs", "writer"))

    def written(summary: Obj) -> bool:
        volumes = {v["name"]: v for v in _pod_stats(summary, "writer").get("volume") or []}
        return volumes.get("cache", {}).get("usedBytes", 0) >= 10 * MiB

    pod = _pod_stats(_wait_for(node, "the emptyDir's 10 MiB not seen", written), "writer")
    volumes = {v["name"]: v for v in pod["volume"]}
    assert 10 * MiB <= volumes["cache"]["usedBytes"] < 11 * MiB
    assert 5 * MiB <= volumes["scratch"]["usedBytes"] < 6 * MiB
    [container] = pod["containers"]
    assert container["logs"]["usedBytes"] > 0
    ephemeral = pod["ephemeral-storage"]["usedBytes"]
    # The disk emptyDir and the logs count, the memory-backed one does not.
    assert volumes["cache"]["usedBytes"] + container["logs"]["usedBytes"] <= ephemeral
    assert ephemeral < volumes["cache"]["usedBytes"] + volumes["scratch"]["usedBytes"]
