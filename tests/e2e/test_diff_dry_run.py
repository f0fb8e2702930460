"""`kubectl diff` and `--dry-run=server`: what would change, shown without changing anything."""

from __future__ import annotations

import json
import uuid

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {{app: web}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: nginx
        image: nginx:{tag}
"""


def _namespace(kubectl) -> str:
    name = f"diff-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    return name


def _diff_lines(output: str) -> list[str]:
    """The changed lines of a unified diff, without the file headers."""
    return [line for line in output.splitlines()
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_diff_of_a_new_object_shows_it_all(kubectl) -> None:
    namespace = _namespace(kubectl)
    result = kubectl.run("-n", namespace, "diff", "-f", "-",
                         input=DEPLOYMENT.format(replicas=2, tag="1.27"), check=False)
    assert result.returncode == 1, result.stderr
    changed = _diff_lines(result.stdout)
    assert "+  replicas: 2" in changed
    assert "+  name: web" in changed
    assert kubectl.run("-n", namespace, "get", "deploy", "web", check=False).returncode == 1


def test_diff_before_and_after_a_change(kubectl) -> None:
    namespace = _namespace(kubectl)
    manifest = DEPLOYMENT.format(replicas=2, tag="1.27")
    kubectl("-n", namespace, "apply", "-f", "-", input=manifest)
    same = kubectl.run("-n", namespace, "diff", "-f", "-", input=manifest, check=False)
    assert (same.returncode, same.stdout) == (0, "")

    changed_manifest = DEPLOYMENT.format(replicas=3, tag="1.28")
    before = json.loads(kubectl("-n", namespace, "get", "deploy", "web", "-o", "json"))
    result = kubectl.run("-n", namespace, "diff", "-f", "-", input=changed_manifest,
                         check=False)
    assert result.returncode == 1, result.stderr
    changed = _diff_lines(result.stdout)
    assert "-  replicas: 2" in changed
    assert "+  replicas: 3" in changed
    assert "-      - image: nginx:1.27" in changed
    assert "+      - image: nginx:1.28" in changed
    assert "-  generation: 1" in changed
    assert "+  generation: 2" in changed
    after = json.loads(kubectl("-n", namespace, "get", "deploy", "web", "-o", "json"))
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_server_side_diff(kubectl) -> None:
    namespace = _namespace(kubectl)
    kubectl("-n", namespace, "apply", "--server-side", "-f", "-",
            input=DEPLOYMENT.format(replicas=2, tag="1.27"))
    result = kubectl.run("-n", namespace, "diff", "--server-side", "-f", "-",
                         input=DEPLOYMENT.format(replicas=5, tag="1.27"), check=False)
    assert result.returncode == 1, result.stderr
    changed = _diff_lines(result.stdout)
    assert "-  replicas: 2" in changed
    assert "+  replicas: 5" in changed


def test_server_dry_run_stores_nothing(kubectl) -> None:
    namespace = _namespace(kubectl)
    out = kubectl("-n", namespace, "create", "configmap", "dry", "--from-literal=a=b",
                  "--dry-run=server")
    assert out == "configmap/dry created (server dry run)\n"
    assert kubectl.run("-n", namespace, "get", "cm", "dry", check=False).returncode == 1
    kubectl("-n", namespace, "create", "configmap", "real", "--from-literal=a=b")
    out = kubectl("-n", namespace, "delete", "configmap", "real", "--dry-run=server")
    # kubectl 1.35 and later name the namespace in the message
    assert out in ('configmap "real" deleted (server dry run)\n',
                   f'configmap "real" deleted from {namespace} namespace (server dry run)\n')
    assert kubectl("-n", namespace, "get", "cm", "real", "-o", "name") == "configmap/real\n"
