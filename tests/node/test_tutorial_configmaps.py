"""Tutorial "Configure a Pod to Use a ConfigMap" (seed-003b section 14), the steps that need a
node, with the real kubectl against a real node: environment variables from one or several
ConfigMaps (`valueFrom.configMapKeyRef`, `envFrom`), `$(VAR)` in the command, ConfigMap
volumes (all keys, `items` with a path), a mounted ConfigMap following its updates, and a pod
waiting in CreateContainerConfigError for a ConfigMap that does not exist yet. What the pods
print is read with `kubectl logs`, as in the docs. (Creating ConfigMaps from directories,
files, env-files, literals and kustomize generators is API-side and tested with the API.)

The tutorial reuses the names `special-config` and `dapi-test-pod` from step to step; each
test deletes them first, as a reader going through the page has to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from agentnode import AgentNode, skip_reason
from tutorialnode import apply, container_status, delete, events, get, phase, pod_row, tutorial_node

pytestmark = pytest.mark.node

POD_SINGLE_CONFIGMAP_ENV_VARIABLE = """\
apiVersion: v1
kind: Pod
metadata:
  name: dapi-test-pod
spec:
  containers:
    - name: test-container
      image: registry.k8s.io/busybox
      command: [ "/bin/sh", "-c", "env" ]
      env:
        # 環境変数を定義します
        - name: SPECIAL_LEVEL_KEY
          valueFrom:
            configMapKeyRef:
              # SPECIAL_LEVEL_KEYに割り当てる値をConfigMapが保持します
              name: special-config
              # 値に紐付けるキーを指定します
              key: special.how
  restartPolicy: Never
"""
CONFIGMAPS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: special-config
  namespace: default
data:
  special.how: very
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: env-config
  namespace: default
data:
  log_level: INFO
"""
POD_MULTIPLE_CONFIGMAP_ENV_VARIABLE = """\
apiVersion: v1
kind: Pod
metadata:
  name: dapi-test-pod
spec:
  containers:
    - name: test-container
      image: registry.k8s.io/busybox
      command: [ "/bin/sh", "-c", "env" ]
      env:
        - name: SPECIAL_LEVEL_KEY
          valueFrom:
            configMapKeyRef:
              name: special-config
              key: special.how
        - name: LOG_LEVEL
          valueFrom:
            configMapKeyRef:
              name: env-config
              key: log_level
  restartPolicy: Never
"""
CONFIGMAP_MULTIKEYS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: special-config
  namespace: default
data:
  SPECIAL_LEVEL: very
  SPECIAL_TYPE: charm
"""
POD_CONFIGMAP_ENVFROM = """\
apiVersion: v1
kind: Pod
metadata:
  name: dapi-test-pod
spec:
  containers:
    - name: test-container
      image: registry.k8s.io/busybox
      command: [ "/bin/sh", "-c", "env" ]
      envFrom:
      - configMapRef:
          name: special-config
  restartPolicy: Never
"""
POD_CONFIGMAP_ENV_VAR_VALUEFROM = """\
apiVersion: v1
kind: Pod
metadata:
  name: dapi-test-pod
spec:
  containers:
    - name: test-container
      image: registry.k8s.io/busybox
      command: [ "/bin/echo", "$(SPECIAL_LEVEL_KEY) $(SPECIAL_TYPE_KEY)" ]
      env:
        - name: SPECIAL_LEVEL_KEY
          valueFrom:
            configMapKeyRef:
              name: special-config
              key: SPECIAL_LEVEL
        - name: SPECIAL_TYPE_KEY
          valueFrom:
            configMapKeyRef:
              name: special-config
              key: SPECIAL_TYPE
  restartPolicy: Never
"""
POD_CONFIGMAP_VOLUME = """\
apiVersion: v1
kind: Pod
metadata:
  name: dapi-test-pod
spec:
  containers:
    - name: test-container
      image: registry.k8s.io/busybox
      command: [ "/bin/sh", "-c", "ls /etc/config/" ]
      volumeMounts:
      - name: config-volume
        mountPath: /etc/config
  volumes:
    - name: config-volume
      configMap:
        # コンテナに追加するファイルを含むConfigMapの名前を提供する
        name: special-config
  restartPolicy: Never
"""
POD_CONFIGMAP_VOLUME_SPECIFIC_KEY = """\
apiVersion: v1
kind: Pod
metadata:
  name: dapi-test-pod
spec:
  containers:
    - name: test-container
      image: registry.k8s.io/busybox
      command: [ "/bin/sh","-c","cat /etc/config/keys" ]
      volumeMounts:
      - name: config-volume
        mountPath: /etc/config
  volumes:
    - name: config-volume
      configMap:
        name: special-config
        items:
        - key: SPECIAL_LEVEL
          path: keys
  restartPolicy: Never
"""

UPDATE_WAIT = 60.0
"""Seconds a mounted ConfigMap may take to follow an update: the kubelet's sync period (10 s
in Kajitori) plus its read of the ConfigMap, with room to spare."""


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, tutorial_registry: Path
         ) -> Iterator[AgentNode]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with tutorial_node(tmp_path_factory.mktemp("kjtconfigmaps"),
                       registries=tutorial_registry) as node:
        yield node


@pytest.fixture
def fresh(node: AgentNode) -> Iterator[AgentNode]:
    """The node, without the tutorial's reused pod and ConfigMaps, before and after the test."""
    delete(node, "dapi-test-pod")
    delete(node, "special-config", "env-config", kind="configmap")
    yield node
    delete(node, "dapi-test-pod")
    delete(node, "special-config", "env-config", kind="configmap")


def _logs_when_done(node: AgentNode) -> str:
    """`kubectl logs dapi-test-pod` once the pod has run to completion."""
    node.wait("dapi-test-pod not Succeeded", lambda: phase(node, "dapi-test-pod") in (
        "Succeeded", "Failed"), timeout=60)
    assert phase(node, "dapi-test-pod") == "Succeeded"
    assert pod_row(node, "dapi-test-pod")[1:4] == ["0/1", "Completed", "0"]
    return node.kubectl("logs", "dapi-test-pod")


def test_env_from_a_single_configmap(fresh: AgentNode) -> None:
    assert fresh.kubectl("create", "configmap", "special-config",
                         "--from-literal=special.how=very") == "configmap/special-config created\n"
    assert apply(fresh, POD_SINGLE_CONFIGMAP_ENV_VARIABLE, verb="create") == \
        "pod/dapi-test-pod created\n"
    assert "SPECIAL_LEVEL_KEY=very" in _logs_when_done(fresh).splitlines()


def test_env_from_multiple_configmaps(fresh: AgentNode) -> None:
    assert apply(fresh, CONFIGMAPS, verb="create") == \
        "configmap/special-config created\nconfigmap/env-config created\n"
    apply(fresh, POD_MULTIPLE_CONFIGMAP_ENV_VARIABLE, verb="create")
    lines = _logs_when_done(fresh).splitlines()
    assert "SPECIAL_LEVEL_KEY=very" in lines
    assert "LOG_LEVEL=INFO" in lines


def test_env_from_all_keys_of_a_configmap(fresh: AgentNode) -> None:
    apply(fresh, CONFIGMAP_MULTIKEYS, verb="create")
    apply(fresh, POD_CONFIGMAP_ENVFROM, verb="create")
    lines = _logs_when_done(fresh).splitlines()
    assert "SPECIAL_LEVEL=very" in lines
    assert "SPECIAL_TYPE=charm" in lines


def test_configmap_env_vars_in_the_command(fresh: AgentNode) -> None:
    apply(fresh, CONFIGMAP_MULTIKEYS, verb="create")
    apply(fresh, POD_CONFIGMAP_ENV_VAR_VALUEFROM, verb="create")
    assert _logs_when_done(fresh) == "very charm\n"


def test_configmap_volume_has_a_file_per_key(fresh: AgentNode) -> None:
    apply(fresh, CONFIGMAP_MULTIKEYS, verb="create")
    apply(fresh, POD_CONFIGMAP_VOLUME, verb="create")
    assert _logs_when_done(fresh) == "SPECIAL_LEVEL\nSPECIAL_TYPE\n"


def test_configmap_volume_item_at_a_path(fresh: AgentNode) -> None:
    apply(fresh, CONFIGMAP_MULTIKEYS, verb="create")
    apply(fresh, POD_CONFIGMAP_VOLUME_SPECIFIC_KEY, verb="create")
    assert _logs_when_done(fresh) == "very"  # the file has no newline, as upstream's


def test_a_mounted_configmap_follows_its_updates(fresh: AgentNode) -> None:
    """The volume pod of the docs, kept running to read its files again (a subPath mount of
    the same key, which is not updated, beside it)."""
    apply(fresh, CONFIGMAP_MULTIKEYS, verb="create")
    manifest = POD_CONFIGMAP_VOLUME.replace(
        '[ "/bin/sh", "-c", "ls /etc/config/" ]', '[ "/bin/sh", "-c", "sleep 3600" ]').replace(
        "        mountPath: /etc/config\n",
        "        mountPath: /etc/config\n"
        "      - name: config-volume\n        mountPath: /etc/level\n"
        "        subPath: SPECIAL_LEVEL\n").replace(
        "  restartPolicy: Never\n", "  restartPolicy: Never\n  terminationGracePeriodSeconds: 1\n")
    apply(fresh, manifest, verb="create")
    fresh.wait("dapi-test-pod not Running", lambda: phase(fresh, "dapi-test-pod") == "Running",
               timeout=60)

    def read(path: str) -> str:
        return fresh.kubectl("exec", "dapi-test-pod", "--", "cat", path)

    assert read("/etc/config/SPECIAL_LEVEL") == "very"
    fresh.kubectl("patch", "configmap", "special-config", "-p",
                  json.dumps({"data": {"SPECIAL_LEVEL": "extremely"}}))
    fresh.wait("the mounted ConfigMap not updated",
               lambda: read("/etc/config/SPECIAL_LEVEL") == "extremely", timeout=UPDATE_WAIT)
    assert read("/etc/config/SPECIAL_TYPE") == "charm"
    assert read("/etc/level") == "very"


def test_a_missing_configmap_holds_the_pod_until_it_exists(fresh: AgentNode) -> None:
    apply(fresh, POD_CONFIGMAP_ENV_VAR_VALUEFROM, verb="create")
    fresh.wait("pod not in CreateContainerConfigError", lambda: pod_row(
        fresh, "dapi-test-pod")[2] == "CreateContainerConfigError", timeout=60)
    waiting = container_status(fresh, "dapi-test-pod")["state"]["waiting"]
    assert waiting == {"reason": "CreateContainerConfigError",
                       "message": 'configmap "special-config" not found'}
    failed = [e for e in events(fresh, "dapi-test-pod") if e["reason"] == "Failed"]
    assert failed[0]["message"] == 'Error: configmap "special-config" not found'
    assert failed[0]["type"] == "Warning"
    assert failed[0]["involvedObject"]["fieldPath"] == "spec.containers{test-container}"

    # A ConfigMap without one of the keys: still held, now for the key.
    fresh.kubectl("create", "configmap", "special-config", "--from-literal=SPECIAL_LEVEL=very")
    fresh.wait("pod not waiting for the key", lambda: container_status(
        fresh, "dapi-test-pod")["state"].get("waiting", {}).get("message") ==
        "couldn't find key SPECIAL_TYPE in ConfigMap default/special-config", timeout=60)
    assert get(fresh, "pod", "dapi-test-pod")["status"]["phase"] == "Pending"

    fresh.kubectl("delete", "configmap", "special-config")
    apply(fresh, CONFIGMAP_MULTIKEYS, verb="create")
    assert _logs_when_done(fresh) == "very charm\n"
