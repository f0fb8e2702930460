"""The HorizontalPodAutoscaler on a real node: a Deployment whose pod burns more CPU than its
request is scaled out from the usage the kubelet measures (`/stats/summary`, scraped by the API
server into `metrics.k8s.io`), as the HPA walkthrough of the docs shows with `kubectl
autoscale` and `kubectl get hpa`.

The walkthrough's php-apache image and load generator need the internet; here the pod is the
`vish/stress` stand-in (images/vish-stress) busy on one thread, held to 200m by its limit, with
a 100m request: about 200% of its request against a 50% target, so the HPA scales to its
maximum of 3.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentnode import AgentNode, skip_reason
from tutorialnode import CONTROLLERS, apply, tutorial_node

pytestmark = pytest.mark.node

SCALE_WAIT = 180.0
"""Seconds for two kubelet samples (10 s apart), a scrape (15 s), an HPA sync (15 s) and the
new pods."""
BURNER = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: burner
spec:
  replicas: 1
  selector:
    matchLabels: {app: burner}
  template:
    metadata:
      labels: {app: burner}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: burner
        image: vish/stress
        args: ["-cpus", "1"]
        resources:
          requests: {cpu: 100m}
          limits: {cpu: 200m}
"""


@pytest.fixture(scope="module")
def node(tutorial_registry: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentNode]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    controllers = (*CONTROLLERS, "deployment", "replicaset", "horizontalpodautoscaling",
                   "garbagecollector")
    with tutorial_node(tmp_path_factory.mktemp("kjthpa"), controllers=controllers,
                       registries=tutorial_registry) as node:
        yield node


def _hpa(node: AgentNode) -> dict:
    return json.loads(node.kubectl("get", "hpa", "burner", "-o", "json"))


def test_the_hpa_scales_out_on_the_cpu_the_kubelet_measures(node: AgentNode) -> None:
    apply(node, BURNER)
    node.kubectl("autoscale", "deployment", "burner", "--cpu-percent=50", "--min=1",
                 "--max=3")
    deadline = time.monotonic() + SCALE_WAIT
    hpa: dict = {}
    while time.monotonic() < deadline:
        hpa = _hpa(node)
        if (hpa.get("status") or {}).get("desiredReplicas") == 3:
            break
        time.sleep(3)
    for pod in json.loads(node.kubectl("get", "pods", "-l", "app=burner", "-o", "json"))[
            "items"]:
        node.pod_uids.append(pod["metadata"]["uid"])
    status = hpa.get("status") or {}
    assert status.get("desiredReplicas") == 3, (hpa, node.log_tail())
    [current] = status["currentMetrics"]
    assert current["resource"]["name"] == "cpu"
    assert current["resource"]["current"]["averageUtilization"] > 50
    row = node.kubectl("get", "hpa", "burner").splitlines()[1]
    assert re.match(r"burner +Deployment/burner +cpu: [0-9]+%/50% +1 +3 +[0-9]", row), row
    node.wait("the deployment did not scale to 3", lambda: node.kubectl(
        "get", "deployment", "burner", "-o", "jsonpath={.spec.replicas}") == "3")
    node.kubectl("delete", "hpa", "burner")
    node.kubectl("delete", "deployment", "burner", "--timeout=60s")
