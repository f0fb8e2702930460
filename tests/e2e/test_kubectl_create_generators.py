"""Every `kubectl create <generator>`, `kubectl create token` and `kubectl auth` against a real
server: the line kubectl prints, the table `get` shows and the fields the server stored (its
defaults included), as with a v1.33 cluster.

Namespaced objects go to a namespace of their own per test; cluster-scoped ones get a unique
name, since the two kubectls share the module's server.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

pytestmark = pytest.mark.e2e

AGE = re.compile(r"\d+[smhd]")
CLUSTER_IP = re.compile(r"10\.(9[6-9]|10[0-9]|11[01])\.\d{1,3}\.\d{1,3}")  # 10.96.0.0/12


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def namespace(kubectl) -> str:
    name = unique("gen")
    kubectl("create", "namespace", name)
    return name


def get_json(kubectl, *args: str) -> dict:
    return json.loads(kubectl("get", *args, "-o", "json"))


def table(output: str) -> tuple[list[str], list[list[str]]]:
    """Header words and rows cut at the header's column starts."""
    lines = output.rstrip("\n").split("\n")
    starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", lines[0])]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    header = [lines[0][a:b].strip() for a, b in bounds]
    return header, [[line[a:b].strip() for a, b in bounds] for line in lines[1:]]


def test_create_deployment(kubectl, namespace) -> None:
    out = kubectl("-n", namespace, "create", "deployment", "web", "--image=nginx:1.25",
                  "--replicas=2", "--port=80")
    assert out == "deployment.apps/web created\n"
    deploy = get_json(kubectl, "-n", namespace, "deployment", "web")
    assert deploy["metadata"]["labels"] == {"app": "web"}
    assert deploy["metadata"]["generation"] == 1
    spec = deploy["spec"]
    assert spec["replicas"] == 2
    assert spec["selector"] == {"matchLabels": {"app": "web"}}
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    container = spec["template"]["spec"]["containers"][0]
    assert container["name"] == "nginx"
    assert container["image"] == "nginx:1.25"
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["terminationMessagePath"] == "/dev/termination-log"
    header, rows = table(kubectl("-n", namespace, "get", "deployment", "web"))
    assert header == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert rows[0][:4] == ["web", "0/2", "0", "0"]


def test_create_configmap(kubectl, namespace, tmp_path) -> None:
    source = tmp_path / "app.properties"
    source.write_text("mode=fast\n")
    out = kubectl("-n", namespace, "create", "configmap", "cfg", "--from-literal=a=1",
                  f"--from-file={source}")
    assert out == "configmap/cfg created\n"
    cm = get_json(kubectl, "-n", namespace, "configmap", "cfg")
    assert cm["data"] == {"a": "1", "app.properties": "mode=fast\n"}


def test_create_secret_generic(kubectl, namespace) -> None:
    out = kubectl("-n", namespace, "create", "secret", "generic", "s1",
                  "--from-literal=user=admin", "--from-literal=pass=s3cr3t")
    assert out == "secret/s1 created\n"
    secret = get_json(kubectl, "-n", namespace, "secret", "s1")
    assert secret["type"] == "Opaque"
    assert secret["data"] == {"user": base64.b64encode(b"admin").decode(),
                              "pass": base64.b64encode(b"s3cr3t").decode()}
    header, rows = table(kubectl("-n", namespace, "get", "secret", "s1"))
    assert header == ["NAME", "TYPE", "DATA", "AGE"]
    assert rows[0][:3] == ["s1", "Opaque", "2"]


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_create_secret_tls(kubectl, namespace, tmp_path) -> None:
    cert, key = _self_signed(tmp_path)
    out = kubectl("-n", namespace, "create", "secret", "tls", "s2", f"--cert={cert}",
                  f"--key={key}")
    assert out == "secret/s2 created\n"
    secret = get_json(kubectl, "-n", namespace, "secret", "s2")
    assert secret["type"] == "kubernetes.io/tls"
    assert base64.b64decode(secret["data"]["tls.crt"]) == cert.read_bytes()
    assert base64.b64decode(secret["data"]["tls.key"]) == key.read_bytes()


def test_create_secret_docker_registry(kubectl, namespace) -> None:
    out = kubectl("-n", namespace, "create", "secret", "docker-registry", "s3",
                  "--docker-server=registry.example", "--docker-username=u",
                  "--docker-password=p", "--docker-email=u@example.com")
    assert out == "secret/s3 created\n"
    secret = get_json(kubectl, "-n", namespace, "secret", "s3")
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    entry = config["auths"]["registry.example"]
    assert (entry["username"], entry["password"]) == ("u", "p")
    assert base64.b64decode(entry["auth"]) == b"u:p"


def test_create_namespace(kubectl) -> None:
    name = unique("gen-ns")
    assert kubectl("create", "namespace", name) == f"namespace/{name} created\n"
    header, rows = table(kubectl("get", "namespace", name))
    assert header == ["NAME", "STATUS", "AGE"]
    assert rows[0][:2] == [name, "Active"]


def test_create_service_clusterip(kubectl, namespace) -> None:
    out = kubectl("-n", namespace, "create", "service", "clusterip", "sv1", "--tcp=80:8080")
    assert out == "service/sv1 created\n"
    svc = get_json(kubectl, "-n", namespace, "service", "sv1")
    spec = svc["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["selector"] == {"app": "sv1"}
    assert spec["ports"] == [{"name": "80-8080", "port": 80, "protocol": "TCP",
                              "targetPort": 8080}]
    assert CLUSTER_IP.fullmatch(spec["clusterIP"])
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["ipFamilies"] == ["IPv4"]
    assert spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["sessionAffinity"] == "None"
    assert spec["internalTrafficPolicy"] == "Cluster"
    header, rows = table(kubectl("-n", namespace, "get", "service", "sv1"))
    assert header == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert rows[0][:5] == ["sv1", "ClusterIP", spec["clusterIP"], "<none>", "80/TCP"]


def test_create_service_clusterip_headless(kubectl, namespace) -> None:
    kubectl("-n", namespace, "create", "service", "clusterip", "headless", "--clusterip=None",
            "--tcp=80:80")
    _, rows = table(kubectl("-n", namespace, "get", "service", "headless"))
    assert rows[0][:5] == ["headless", "ClusterIP", "None", "<none>", "80/TCP"]


def test_create_service_nodeport(kubectl, namespace) -> None:
    out = kubectl("-n", namespace, "create", "service", "nodeport", "sv2", "--tcp=80:8080")
    assert out == "service/sv2 created\n"
    spec = get_json(kubectl, "-n", namespace, "service", "sv2")["spec"]
    assert spec["type"] == "NodePort"
    node_port = spec["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767
    assert spec["externalTrafficPolicy"] == "Cluster"
    _, rows = table(kubectl("-n", namespace, "get", "service", "sv2"))
    assert rows[0][:5] == ["sv2", "NodePort", spec["clusterIP"], "<none>", f"80:{node_port}/TCP"]


def test_create_service_externalname(kubectl, namespace) -> None:
    out = kubectl("-n", namespace, "create", "service", "externalname", "sv3",
                  "--external-name=example.com")
    assert out == "service/sv3 created\n"
    spec = get_json(kubectl, "-n", namespace, "service", "sv3")["spec"]
    assert spec["type"] == "ExternalName"
    assert spec["externalName"] == "example.com"
    assert "clusterIP" not in spec
    _, rows = table(kubectl("-n", namespace, "get", "service", "sv3"))
    assert rows[0][:5] == ["sv3", "ExternalName", "<none>", "example.com", "<none>"]


def test_create_job(kubectl, namespace) -> None:
    out = kubectl("-n", namespace, "create", "job", "j1", "--image=busybox:1.36", "--",
                  "echo", "hi")
    assert out == "job.batch/j1 created\n"
    job = get_json(kubectl, "-n", namespace, "job", "j1")
    spec = job["spec"]
    assert spec["completions"] == 1
    assert spec["parallelism"] == 1
    assert spec["backoffLimit"] == 6
    assert spec["completionMode"] == "NonIndexed"
    assert spec["suspend"] is False
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert spec["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    uid = job["metadata"]["uid"]
    # The server selects the job's pods by a generated label carrying the job's uid.
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    labels = spec["template"]["metadata"]["labels"]
    assert labels["batch.kubernetes.io/job-name"] == "j1"
    assert labels["batch.kubernetes.io/controller-uid"] == uid
    header, _ = table(kubectl("-n", namespace, "get", "job", "j1"))
    assert header == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]


def test_create_cronjob(kubectl, namespace) -> None:
    out = kubectl("-n", namespace, "create", "cronjob", "cj1", "--image=busybox:1.36",
                  "--schedule=*/5 * * * *", "--", "date")
    assert out == "cronjob.batch/cj1 created\n"
    spec = get_json(kubectl, "-n", namespace, "cronjob", "cj1")["spec"]
    assert spec["schedule"] == "*/5 * * * *"
    assert spec["concurrencyPolicy"] == "Allow"
    assert spec["successfulJobsHistoryLimit"] == 3
    assert spec["failedJobsHistoryLimit"] == 1
    assert spec["suspend"] is False
    header, rows = table(kubectl("-n", namespace, "get", "cronjob", "cj1"))
    assert header == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE",
                      "AGE"]
    assert rows[0][:6] == ["cj1", "*/5 * * * *", "<none>", "False", "0", "<none>"]


def test_create_serviceaccount(kubectl, namespace) -> None:
    out = kubectl("-n", namespace, "create", "serviceaccount", "robot")
    assert out == "serviceaccount/robot created\n"
    header, rows = table(kubectl("-n", namespace, "get", "serviceaccount", "robot"))
    assert header == ["NAME", "SECRETS", "AGE"]
    assert rows[0][:2] == ["robot", "0"]


def test_create_role_and_rolebinding(kubectl, namespace) -> None:
    out = kubectl("-n", namespace, "create", "role", "reader", "--verb=get,list,watch",
                  "--resource=pods,deployments.apps")
    assert out == "role.rbac.authorization.k8s.io/reader created\n"
    role = get_json(kubectl, "-n", namespace, "role", "reader")
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]}]
    out = kubectl("-n", namespace, "create", "rolebinding", "reader-alice", "--role=reader",
                  "--user=alice", f"--serviceaccount={namespace}:robot")
    assert out == "rolebinding.rbac.authorization.k8s.io/reader-alice created\n"
    binding = get_json(kubectl, "-n", namespace, "rolebinding", "reader-alice")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": "reader"}
    header, rows = table(kubectl("-n", namespace, "get", "rolebinding", "reader-alice",
                                 "-o", "wide"))
    assert header == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert rows[0][:2] == ["reader-alice", "Role/reader"]
    assert rows[0][3:] == ["alice", "", f"{namespace}/robot"]


def test_create_clusterrole_and_clusterrolebinding(kubectl) -> None:
    role, binding = unique("gen-cr"), unique("gen-crb")
    out = kubectl("create", "clusterrole", role, "--verb=get,list", "--resource=nodes")
    assert out == f"clusterrole.rbac.authorization.k8s.io/{role} created\n"
    assert get_json(kubectl, "clusterrole", role)["rules"] == [
        {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}]
    out = kubectl("create", "clusterrolebinding", binding, f"--clusterrole={role}",
                  "--group=ops")
    assert out == f"clusterrolebinding.rbac.authorization.k8s.io/{binding} created\n"
    header, rows = table(kubectl("get", "clusterrolebinding", binding))
    assert header == ["NAME", "ROLE", "AGE"]
    assert rows[0][:2] == [binding, f"ClusterRole/{role}"]


def test_create_quota(kubectl, namespace) -> None:
    out = kubectl("-n", namespace, "create", "quota", "q1", "--hard=pods=10,cpu=4,memory=8Gi")
    assert out == "resourcequota/q1 created\n"
    spec = get_json(kubectl, "-n", namespace, "resourcequota", "q1")["spec"]
    assert spec == {"hard": {"pods": "10", "cpu": "4", "memory": "8Gi"}}


def test_create_pdb(kubectl, namespace) -> None:
    out = kubectl("-n", namespace, "create", "pdb", "pdb1", "--selector=app=web",
                  "--min-available=1")
    assert out == "poddisruptionbudget.policy/pdb1 created\n"
    header, rows = table(kubectl("-n", namespace, "get", "pdb", "pdb1"))
    assert header == ["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"]
    assert rows[0][:4] == ["pdb1", "1", "N/A", "0"]


def test_create_priorityclass(kubectl) -> None:
    name = unique("gen-pc")
    out = kubectl("create", "priorityclass", name, "--value=1000", "--description=batch")
    assert out == f"priorityclass.scheduling.k8s.io/{name} created\n"
    pc = get_json(kubectl, "priorityclass", name)
    assert (pc["value"], pc["description"]) == (1000, "batch")
    assert "globalDefault" not in pc  # false is omitted (omitempty)
    assert pc["preemptionPolicy"] == "PreemptLowerPriority"
    header, rows = table(kubectl("get", "priorityclass", name))
    assert header == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    assert rows[0][:3] == [name, "1000", "false"]
    assert rows[0][4] == "PreemptLowerPriority"


def test_builtin_priorityclasses_exist(kubectl) -> None:
    """The apiserver itself creates the two system priority classes at start."""
    out = kubectl("get", "priorityclass", "system-cluster-critical", "system-node-critical",
                  "-o", "jsonpath={range .items[*]}{.metadata.name}={.value} {end}")
    assert out == "system-cluster-critical=2000000000 system-node-critical=2000001000 "


def test_create_ingress(kubectl, namespace) -> None:
    out = kubectl("-n", namespace, "create", "ingress", "ing1", "--class=default",
                  "--rule=foo.com/bar=svc1:8080")
    assert out == "ingress.networking.k8s.io/ing1 created\n"
    spec = get_json(kubectl, "-n", namespace, "ingress", "ing1")["spec"]
    assert spec["ingressClassName"] == "default"
    assert spec["rules"] == [{"host": "foo.com", "http": {"paths": [{
        "path": "/bar", "pathType": "Exact",
        "backend": {"service": {"name": "svc1", "port": {"number": 8080}}}}]}}]
    header, rows = table(kubectl("-n", namespace, "get", "ingress", "ing1"))
    assert header == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert rows[0][:5] == ["ing1", "default", "foo.com", "", "80"]


def test_create_token(kubectl, namespace) -> None:
    kubectl("-n", namespace, "create", "serviceaccount", "sa1")
    token = kubectl("-n", namespace, "create", "token", "sa1").strip()
    parts = token.split(".")
    assert len(parts) == 3, token
    payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    assert payload["sub"] == f"system:serviceaccount:{namespace}:sa1"
    assert payload["exp"] - payload["iat"] == 3600
    assert payload["kubernetes.io"]["namespace"] == namespace
    assert payload["kubernetes.io"]["serviceaccount"]["name"] == "sa1"


def test_create_token_for_missing_serviceaccount(kubectl, namespace) -> None:
    result = kubectl.run("-n", namespace, "create", "token", "ghost", check=False)
    assert result.returncode == 1
    assert result.stderr == ('error: failed to create token: serviceaccounts "ghost" not '
                             "found\n")


def test_auth_can_i(kubectl) -> None:
    assert kubectl("auth", "can-i", "list", "pods") == "yes\n"
    assert kubectl("auth", "can-i", "create", "deployments.apps", "-n", "kube-system") == "yes\n"


def test_auth_whoami(kubectl) -> None:
    assert kubectl("auth", "whoami") == (
        "ATTRIBUTE   VALUE\n"
        "Username    kubernetes-admin\n"
        "Groups      [system:masters system:authenticated]\n")


def test_create_dry_run_client_and_server(kubectl, namespace) -> None:
    out = kubectl("-n", namespace, "create", "configmap", "dry", "--dry-run=server")
    assert out == "configmap/dry created (server dry run)\n"
    out = kubectl("-n", namespace, "create", "deployment", "dry", "--image=nginx",
                  "--dry-run=client", "-o", "name")
    assert out == "deployment.apps/dry\n"
    assert "dry" not in kubectl("-n", namespace, "get", "cm,deploy", "-o", "name")
