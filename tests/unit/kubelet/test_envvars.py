"""kajitori.kubelet.envvars: a container's environment as upstream's kubelet builds it."""

from __future__ import annotations

from typing import Any

import fakelookup
import pytest
from cri_api.v1 import api_pb2

from kajitori.api import errors as apierrors
from kajitori.kubelet import envvars, errors

Obj = dict[str, Any]

KUBERNETES = fakelookup.service("kubernetes", "10.96.0.1",
                                [{"name": "https", "port": 443, "protocol": "TCP",
                                  "targetPort": 6443}])
NODE_ALLOCATABLE = {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "100Gi"}


def make_pod(container: Obj, *, namespace: str = "default", **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web", "namespace": namespace, "uid": "uid-1",
                         "labels": {"app": "web", "tier": "front"},
                         "annotations": {"note": 'say "hi"'}},
            "spec": {"nodeName": "node-a", "serviceAccountName": "robot",
                     "containers": [container], **spec}}


async def env_of(container: Obj, *objects: Obj, pod_ips: list[str] | None = None,
                 **spec: Any) -> dict[str, str]:
    pod = make_pod(container, **spec)
    result = await envvars.container_env(
        pod, container, lookup=fakelookup.FakeObjectLookup(*objects), node_ip="192.168.1.5",
        pod_ips=pod_ips if pod_ips is not None else ["10.42.0.7"],
        node_allocatable=NODE_ALLOCATABLE)
    return {kv.key: kv.value for kv in result}


# ---- expansion ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("$(A)", "alpha"),
    ("x$(A)y$(B)z", "xalphaybetaz"),
    ("$$(A)", "$(A)"),
    ("$$$(A)", "$alpha"),
    ("$(MISSING)", "$(MISSING)"),
    ("$(A", "$(A"),
    ("$A", "$A"),
    ("cost: 5$", "cost: 5$"),
    ("$()", "$()"),
    ("$(A)$(A)", "alphaalpha"),
])
def test_expand_follows_upstream_syntax(text: str, expected: str) -> None:
    assert envvars.expand(text, envvars.mapping_for({"A": "alpha", "B": "beta"})) == expected


def test_expand_command_expands_command_and_args_with_the_environment() -> None:
    container = {"command": ["sh", "-c", "echo $(GREETING) $$(GREETING)"],
                 "args": ["$(NAME)", "$(UNSET)"]}
    env = [api_pb2.KeyValue(key="GREETING", value="hello"),
           api_pb2.KeyValue(key="NAME", value="first"),
           api_pb2.KeyValue(key="NAME", value="last")]
    assert envvars.expand_command(container, env) == (
        ["sh", "-c", "echo hello $(GREETING)"], ["last", "$(UNSET)"])


def test_expand_subpath_names_every_missing_or_empty_variable() -> None:
    env = [api_pb2.KeyValue(key="POD", value="web"), api_pb2.KeyValue(key="EMPTY", value="")]
    assert envvars.expand_subpath({"subPathExpr": "logs/$(POD)"}, env) == "logs/web"
    with pytest.raises(errors.ContainerConfigError, match=r"^missing value for EMPTY, ZED$"):
        envvars.expand_subpath({"subPathExpr": "$(ZED)/$(EMPTY)/$(POD)"}, env)


# ---- service links --------------------------------------------------------------------------

async def test_service_variables_of_the_namespace_and_the_master_service() -> None:
    redis = fakelookup.service("redis-primary", "10.96.5.5",
                               [{"port": 6379, "protocol": "TCP"},
                                {"name": "metrics", "port": 9121, "protocol": "UDP"}])
    env = await env_of({"name": "app"}, KUBERNETES, redis)
    assert env == {
        "KUBERNETES_SERVICE_HOST": "10.96.0.1",
        "KUBERNETES_SERVICE_PORT": "443",
        "KUBERNETES_SERVICE_PORT_HTTPS": "443",
        "KUBERNETES_PORT": "tcp://10.96.0.1:443",
        "KUBERNETES_PORT_443_TCP": "tcp://10.96.0.1:443",
        "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
        "KUBERNETES_PORT_443_TCP_PORT": "443",
        "KUBERNETES_PORT_443_TCP_ADDR": "10.96.0.1",
        "REDIS_PRIMARY_SERVICE_HOST": "10.96.5.5",
        "REDIS_PRIMARY_SERVICE_PORT": "6379",
        "REDIS_PRIMARY_SERVICE_PORT_METRICS": "9121",
        "REDIS_PRIMARY_PORT": "tcp://10.96.5.5:6379",
        "REDIS_PRIMARY_PORT_6379_TCP": "tcp://10.96.5.5:6379",
        "REDIS_PRIMARY_PORT_6379_TCP_PROTO": "tcp",
        "REDIS_PRIMARY_PORT_6379_TCP_PORT": "6379",
        "REDIS_PRIMARY_PORT_6379_TCP_ADDR": "10.96.5.5",
        "REDIS_PRIMARY_PORT_9121_UDP": "udp://10.96.5.5:9121",
        "REDIS_PRIMARY_PORT_9121_UDP_PROTO": "udp",
        "REDIS_PRIMARY_PORT_9121_UDP_PORT": "9121",
        "REDIS_PRIMARY_PORT_9121_UDP_ADDR": "10.96.5.5",
    }


async def test_other_namespaces_headless_and_external_services_give_no_variables() -> None:
    headless = fakelookup.service("peers", "None", [{"port": 80}], namespace="shop")
    external = {**fakelookup.service("ext", "", [], namespace="shop")}
    elsewhere = fakelookup.service("db", "10.96.9.9", [{"port": 5432}], namespace="other")
    default_svc = fakelookup.service("frontend", "10.96.3.3", [{"port": 80}])
    own = fakelookup.service("api", "10.96.4.4", [{"port": 8080}], namespace="shop")
    pod = make_pod({"name": "app"}, namespace="shop")
    result = await envvars.container_env(
        pod, pod["spec"]["containers"][0],
        lookup=fakelookup.FakeObjectLookup(KUBERNETES, headless, external, elsewhere,
                                           default_svc, own),
        node_ip="192.168.1.5", pod_ips=[])
    names = [kv.key for kv in result]
    assert "API_SERVICE_HOST" in names
    assert "KUBERNETES_SERVICE_HOST" in names
    assert not [n for n in names if n.startswith(("PEERS", "EXT", "DB_", "FRONTEND"))]
    assert names[0] == "API_SERVICE_HOST"  # services are sorted by name


async def test_enable_service_links_false_keeps_only_the_master_service() -> None:
    own = fakelookup.service("api", "10.96.4.4", [{"port": 8080}])
    env = await env_of({"name": "app"}, KUBERNETES, own, enableServiceLinks=False)
    assert sorted(env) == sorted(k for k in env if k.startswith("KUBERNETES_"))
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"


async def test_an_ipv6_cluster_ip_is_bracketed_in_urls() -> None:
    svc = fakelookup.service("v6", "fd00::10", [{"port": 80}])
    env = await env_of({"name": "app"}, svc)
    assert env["V6_PORT"] == "tcp://[fd00::10]:80"
    assert env["V6_PORT_80_TCP_ADDR"] == "fd00::10"


# ---- envFrom and env ------------------------------------------------------------------------

async def test_env_from_in_order_with_prefix_and_invalid_keys_skipped() -> None:
    first = fakelookup.config_map("first", {"COLOR": "red", "SIZE": "L", "bad=key": "x",
                                            "dotted.key": "ok"})
    second = fakelookup.secret("second", {"COLOR": "blue", "TOKEN": "s3cret"})
    container = {"name": "app", "envFrom": [
        {"configMapRef": {"name": "first"}},
        {"secretRef": {"name": "second"}, "prefix": "S_"},
        {"configMapRef": {"name": "absent", "optional": True}},
        {"secretRef": {"name": "absent", "optional": True}}]}
    env = await env_of(container, first, second)
    assert env == {"COLOR": "red", "SIZE": "L", "dotted.key": "ok", "S_COLOR": "blue",
                   "S_TOKEN": "s3cret"}


async def test_env_overrides_env_from_and_may_refer_to_earlier_values() -> None:
    config = fakelookup.config_map("cfg", {"HOST": "db", "PORT": "5432"})
    container = {"name": "app", "envFrom": [{"configMapRef": {"name": "cfg"}}], "env": [
        {"name": "PORT", "value": "6543"},
        {"name": "URL", "value": "pg://$(HOST):$(PORT)/$(LATER)?k=$(KUBERNETES_SERVICE_HOST)"},
        {"name": "LATER", "value": "x"},
        {"name": "ESCAPED", "value": "$$(HOST)"},
        {"name": "EMPTY", "value": ""}]}
    env = await env_of(container, config, KUBERNETES)
    assert env["PORT"] == "6543"
    assert env["URL"] == "pg://db:6543/$(LATER)?k=10.96.0.1"
    assert env["ESCAPED"] == "$(HOST)"
    assert env["EMPTY"] == ""


async def test_order_is_services_then_env_from_then_env() -> None:
    config = fakelookup.config_map("cfg", {"FROM_CM": "1"})
    container = {"name": "app", "envFrom": [{"configMapRef": {"name": "cfg"}}],
                 "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]}
    env = await env_of(container, config, KUBERNETES)
    assert list(env)[-3:] == ["FROM_CM", "B", "A"]
    assert next(iter(env)) == "KUBERNETES_SERVICE_HOST"


async def test_key_refs_read_config_maps_and_decoded_secrets() -> None:
    container = {"name": "app", "env": [
        {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "level"}}},
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "pw"}}},
        {"name": "OPT_KEY", "valueFrom": {"configMapKeyRef": {
            "name": "cfg", "key": "nope", "optional": True}}},
        {"name": "OPT_OBJ", "valueFrom": {"secretKeyRef": {
            "name": "gone", "key": "pw", "optional": True}}}]}
    env = await env_of(container, fakelookup.config_map("cfg", {"level": "debug"}),
                       fakelookup.secret("creds", {"pw": "hunter2"}))
    assert env == {"LEVEL": "debug", "PASSWORD": "hunter2"}


@pytest.mark.parametrize(("value_from", "objects", "message"), [
    ({"configMapKeyRef": {"name": "special-config", "key": "k"}}, [],
     'configmap "special-config" not found'),
    ({"configMapKeyRef": {"name": "cfg", "key": "special.how"}},
     [fakelookup.config_map("cfg", {})], "couldn't find key special.how in ConfigMap default/cfg"),
    ({"secretKeyRef": {"name": "creds", "key": "pw"}}, [], 'secret "creds" not found'),
    ({"secretKeyRef": {"name": "creds", "key": "user"}},
     [fakelookup.secret("creds", {"pw": "x"})], "couldn't find key user in Secret default/creds"),
    ({"fieldRef": {"fieldPath": "spec.restartPolicy"}}, [],
     "unsupported fieldPath: spec.restartPolicy"),
    ({"fieldRef": {"fieldPath": "spec.nope"}}, [], "field label not supported: spec.nope"),
    ({"fieldRef": {"apiVersion": "v2", "fieldPath": "metadata.name"}}, [],
     "unsupported pod version: v2"),
    ({"resourceFieldRef": {"resource": "limits.gpu"}}, [],
     "unsupported container resource : limits.gpu"),
    ({"resourceFieldRef": {"resource": "limits.cpu", "containerName": "ghost"}}, [],
     "container ghost not found"),
])
async def test_missing_sources_are_container_config_errors(value_from: Obj, objects: list[Obj],
                                                           message: str) -> None:
    container = {"name": "app", "env": [{"name": "X", "valueFrom": value_from}]}
    with pytest.raises(errors.ContainerConfigError) as caught:
        await env_of(container, *objects)
    assert str(caught.value) == message


async def test_a_missing_env_from_config_map_is_an_error_unless_optional() -> None:
    container = {"name": "app", "envFrom": [{"configMapRef": {"name": "special-config"}}]}
    with pytest.raises(errors.ContainerConfigError,
                       match=r'^configmap "special-config" not found$'):
        await env_of(container)
    container["envFrom"][0]["configMapRef"]["optional"] = True
    assert await env_of(container) == {}


# ---- downward API ---------------------------------------------------------------------------

async def test_field_refs() -> None:
    fields = {
        "NAME": "metadata.name", "NS": "metadata.namespace", "UID": "metadata.uid",
        "APP": "metadata.labels['app']", "NONE": "metadata.labels['none']",
        "NOTE": "metadata.annotations['note']", "ALL_LABELS": "metadata.labels",
        "ALL_ANNOTATIONS": "metadata.annotations", "NODE": "spec.nodeName",
        "SA": "spec.serviceAccountName", "HOST_IP": "status.hostIP",
        "HOST_IPS": "status.hostIPs", "POD_IP": "status.podIP", "POD_IPS": "status.podIPs"}
    container = {"name": "app", "env": [
        {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}
        for name, path in fields.items()]}
    env = await env_of(container, pod_ips=["10.42.0.7", "fd00::7"])
    assert env == {
        "NAME": "web", "NS": "default", "UID": "uid-1", "APP": "web", "NONE": "",
        "NOTE": 'say "hi"', "ALL_LABELS": 'app="web"\ntier="front"\n',
        "ALL_ANNOTATIONS": 'note="say \\"hi\\""\n', "NODE": "node-a", "SA": "robot",
        "HOST_IP": "192.168.1.5", "HOST_IPS": "192.168.1.5", "POD_IP": "10.42.0.7",
        "POD_IPS": "10.42.0.7,fd00::7"}


async def test_resource_field_refs_with_divisors_and_allocatable_defaults() -> None:
    refs = {
        "CPU_LIMIT": {"resource": "limits.cpu"},
        "CPU_LIMIT_M": {"resource": "limits.cpu", "divisor": "1m"},
        "CPU_REQUEST": {"resource": "requests.cpu"},
        "MEM_LIMIT_MI": {"resource": "limits.memory", "divisor": "1Mi"},
        "MEM_REQUEST": {"resource": "requests.memory"},
        "EPHEMERAL_LIMIT_GI": {"resource": "limits.ephemeral-storage", "divisor": "1Gi"},
        "EPHEMERAL_REQUEST": {"resource": "requests.ephemeral-storage"},
        "ZERO_DIVISOR": {"resource": "limits.memory", "divisor": "0"},
        "OTHER_CPU": {"resource": "limits.cpu", "containerName": "sidecar", "divisor": "1m"},
    }
    container = {"name": "app",
                 "resources": {"limits": {"cpu": "1250m", "memory": "64Mi"},
                               "requests": {"cpu": "250m", "memory": "32Mi"}},
                 "env": [{"name": name, "valueFrom": {"resourceFieldRef": ref}}
                         for name, ref in refs.items()]}
    sidecar = {"name": "sidecar", "resources": {"limits": {"cpu": "100m"}}}
    pod = make_pod(container)
    pod["spec"]["containers"].append(sidecar)
    result = await envvars.container_env(pod, container, lookup=fakelookup.FakeObjectLookup(),
                                         node_ip="", pod_ips=[],
                                         node_allocatable=NODE_ALLOCATABLE)
    env = {kv.key: kv.value for kv in result}
    assert env == {"CPU_LIMIT": "2", "CPU_LIMIT_M": "1250", "CPU_REQUEST": "1",
                   "MEM_LIMIT_MI": "64", "MEM_REQUEST": str(32 * 1024 * 1024),
                   "EPHEMERAL_LIMIT_GI": "100", "EPHEMERAL_REQUEST": "0",
                   "ZERO_DIVISOR": str(64 * 1024 * 1024), "OTHER_CPU": "100"}


async def test_unset_limits_default_to_node_allocatable() -> None:
    container = {"name": "app", "env": [
        {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
        {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory",
                                                           "divisor": "1Gi"}}}]}
    env = await env_of(container)
    assert env == {"CPU": "4", "MEM": "8"}


def test_machine_allocatable_is_the_fallback_without_node_allocatable() -> None:
    container = {"name": "app"}
    value = envvars.container_resource_value({"resource": "limits.cpu"}, container)
    assert int(value) >= 1



async def test_a_failed_api_read_is_a_container_config_error() -> None:
    class Forbidden(fakelookup.FakeObjectLookup):
        async def config_map(self, namespace: str, name: str) -> Obj | None:
            raise apierrors.StatusError(apierrors.status(
                403, "Forbidden", 'configmaps "cfg" is forbidden: no relationship found'))

    container = {"name": "app", "envFrom": [{"configMapRef": {"name": "cfg"}}]}
    pod = make_pod(container)
    with pytest.raises(errors.ContainerConfigError) as caught:
        await envvars.container_env(pod, container, lookup=Forbidden(), node_ip="",
                                    pod_ips=[])
    assert str(caught.value) == 'configmaps "cfg" is forbidden: no relationship found'
