"""Micro-benchmark of kajitori.api.schemas' decoding checks: prints microseconds per call.

Run: /work/venv/bin/python bench/bench_schemas.py. It prints, never asserts: timings depend on
the machine. The apiserver's budget is 1,500 ConfigMap creates a second on 2 cores, so a check
should cost tens of microseconds.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from typing import Any

import orjson

from kajitori.api import schemas

CONFIGMAP: dict[str, Any] = {
    "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "cfg", "namespace": "default", "labels": {"app": "web"}},
    "data": {f"key{i}": f"value {i}" for i in range(10)},
}

DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"},
                 "annotations": {"kubernetes.io/change-cause": "initial"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {"type": "RollingUpdate",
                     "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [{
                    "name": "nginx", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
                    "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}],
                    "env": [{"name": "MODE", "value": "prod"}],
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                  "limits": {"cpu": "500m", "memory": "256Mi"}},
                    "readinessProbe": {"httpGet": {"path": "/", "port": "http"},
                                       "periodSeconds": 5},
                }],
                "restartPolicy": "Always",
            },
        },
    },
}

POD: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "default", "labels": {"app": "web"},
                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                      "name": "web-1", "uid": "1234", "controller": True}]},
    "spec": {
        "containers": [{
            "name": f"c{i}", "image": "busybox", "command": ["sh", "-c", "sleep 3600"],
            "ports": [{"containerPort": 8080 + i}],
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
            "resources": {"requests": {"cpu": "10m"}},
        } for i in range(3)],
        "volumes": [{"name": "data", "emptyDir": {}}],
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                         "effect": "NoExecute", "tolerationSeconds": 300}],
        "nodeName": "node-1",
    },
    "status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z"}]},
}


def per_call_us(fn: Callable[[], object], *, number: int = 20000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def main() -> None:
    for group, version, kind, obj in (("", "v1", "ConfigMap", CONFIGMAP),
                                      ("apps", "v1", "Deployment", DEPLOYMENT),
                                      ("", "v1", "Pod", POD)):
        schemas.check(obj, group=group, version=version, kind=kind)  # compile once
        raw = orjson.dumps(obj)
        check_us = per_call_us(
            lambda o=obj, g=group, v=version, k=kind: schemas.check(o, group=g, version=v,
                                                                    kind=k))
        parse_us = per_call_us(lambda r=raw: schemas.duplicate_fields(r))
        print(f"{kind:<10} {len(raw):>5} bytes  check {check_us:6.1f} us  "
              f"duplicate_fields {parse_us:6.1f} us")


if __name__ == "__main__":
    main()
