"""Sandbox and container configurations from pod specs, as upstream's kubelet builds them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cri_api.v1 import api_pb2

from kajitori.kubelet import containerconfig, errors, runtime

Obj = dict[str, Any]
NODE = containerconfig.NodeInfo(root_dir=Path("/k"), cluster_dns=("10.96.0.10",),
                                memory_capacity=4 * 1024**3,
                                host_dns=containerconfig.HostDNS(servers=("1.1.1.1",),
                                                                 searches=("corp",)))


def pod(**spec: Any) -> Obj:
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "u1", "labels": {"app": "w"},
                         "annotations": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec}}


def resources(requests: Obj | None = None, limits: Obj | None = None) -> Obj:
    out: Obj = {}
    if requests:
        out["requests"] = requests
    if limits:
        out["limits"] = limits
    return out


def test_sandbox_metadata_labels_and_log_directory() -> None:
    config = containerconfig.pod_sandbox_config(pod(), NODE, attempt=2)
    assert (config.metadata.name, config.metadata.namespace, config.metadata.uid,
            config.metadata.attempt) == ("web", "ns", "u1", 2)
    assert config.hostname == "web"
    assert config.log_directory == "/k/logs/pods/ns_web_u1"
    assert dict(config.labels) == {"app": "w", runtime.POD_NAME_LABEL: "web",
                                   runtime.POD_NAMESPACE_LABEL: "ns",
                                   runtime.POD_UID_LABEL: "u1"}
    assert dict(config.annotations) == {"a": "b"}


def test_hostname_rules() -> None:
    assert containerconfig.pod_hostname(pod(hostname="h", subdomain="s"),
                                        cluster_domain="cluster.local") == "h"
    assert containerconfig.pod_hostname(
        pod(hostname="h", subdomain="s", setHostnameAsFQDN=True),
        cluster_domain="cluster.local") == "h.s.ns.svc.cluster.local"
    assert containerconfig.pod_hostname(pod(hostname="a" * 62 + "-x"),
                                        cluster_domain="c") == "a" * 62
    assert containerconfig.pod_hostname(pod(hostNetwork=True), cluster_domain="c") == ""


def test_cluster_first_dns() -> None:
    dns = containerconfig.dns_config(pod(), NODE)
    assert list(dns.servers) == ["10.96.0.10"]
    assert list(dns.searches) == ["ns.svc.cluster.local", "svc.cluster.local", "cluster.local",
                                  "corp"]
    assert list(dns.options) == ["ndots:5"]


def test_default_none_and_host_network_dns() -> None:
    default = containerconfig.dns_config(pod(dnsPolicy="Default"), NODE)
    assert (list(default.servers), list(default.searches)) == (["1.1.1.1"], ["corp"])
    host = containerconfig.dns_config(pod(hostNetwork=True), NODE)
    assert list(host.servers) == ["1.1.1.1"]
    with_host_net = containerconfig.dns_config(
        pod(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet"), NODE)
    assert list(with_host_net.servers) == ["10.96.0.10"]
    none = containerconfig.dns_config(pod(dnsPolicy="None", dnsConfig={
        "nameservers": ["8.8.8.8"], "searches": ["x.local"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}), NODE)
    assert (list(none.servers), list(none.searches), list(none.options)) == (
        ["8.8.8.8"], ["x.local"], ["ndots:2", "edns0"])


def test_dns_config_options_replace_cluster_ones() -> None:
    dns = containerconfig.dns_config(pod(dnsConfig={"options": [{"name": "ndots", "value": "1"}]}),
                                     NODE)
    assert list(dns.options) == ["ndots:1"]


def test_cgroup_parent_by_qos_class() -> None:
    assert containerconfig.cgroup_parent(pod()) == "/kubepods/besteffort/podu1"
    burstable = pod(containers=[{"name": "c", "resources": resources({"cpu": "100m"})}])
    assert containerconfig.cgroup_parent(burstable) == "/kubepods/burstable/podu1"
    guaranteed = pod(containers=[{"name": "c", "resources": resources(
        limits={"cpu": "1", "memory": "1Gi"})}])
    assert containerconfig.cgroup_parent(guaranteed) == "/kubepods/podu1"


def test_namespace_options_and_port_mappings() -> None:
    opts = containerconfig.namespace_options(pod())
    assert (opts.network, opts.pid, opts.ipc) == (api_pb2.POD, api_pb2.CONTAINER, api_pb2.POD)
    opts = containerconfig.namespace_options(pod(hostNetwork=True, hostPID=True, hostIPC=True))
    assert (opts.network, opts.pid, opts.ipc) == (api_pb2.NODE, api_pb2.NODE, api_pb2.NODE)
    assert containerconfig.namespace_options(pod(shareProcessNamespace=True)).pid == api_pb2.POD
    mapped = pod(containers=[{"name": "c", "ports": [
        {"containerPort": 80}, {"containerPort": 53, "hostPort": 5353, "protocol": "UDP"}]}])
    (mapping,) = containerconfig.port_mappings(mapped)
    assert (mapping.protocol, mapping.container_port, mapping.host_port) == (
        api_pb2.UDP, 53, 5353)


def test_sandbox_sysctls_and_security() -> None:
    config = containerconfig.pod_sandbox_config(pod(securityContext={
        "runAsUser": 1000, "fsGroup": 2000, "supplementalGroups": [3000],
        "sysctls": [{"name": "net.core.somaxconn", "value": "1024"}]}), NODE)
    assert dict(config.linux.sysctls) == {"net.core.somaxconn": "1024"}
    assert config.linux.security_context.run_as_user.value == 1000
    assert list(config.linux.security_context.supplemental_groups) == [2000, 3000]


def test_cpu_shares_quota_and_memory() -> None:
    assert containerconfig.milli_cpu_to_shares(0) == 2
    assert containerconfig.milli_cpu_to_shares(1) == 2
    assert containerconfig.milli_cpu_to_shares(250) == 256
    assert containerconfig.milli_cpu_to_quota(0) == 0
    assert containerconfig.milli_cpu_to_quota(5) == 1000
    assert containerconfig.milli_cpu_to_quota(1500) == 150000
    container = {"name": "c", "resources": resources({"cpu": "500m", "memory": "100Mi"},
                                                     {"cpu": "1", "memory": "200Mi"})}
    res = containerconfig.container_resources(pod(containers=[container]), container,
                                              memory_capacity=NODE.memory_capacity)
    assert (res.cpu_shares, res.cpu_period, res.cpu_quota, res.memory_limit_in_bytes) == (
        512, 100000, 100000, 200 * 1024**2)


def test_limit_only_cpu_gives_shares_from_the_limit() -> None:
    container = {"name": "c", "resources": resources(limits={"cpu": "2"})}
    res = containerconfig.container_resources(pod(containers=[container]), container,
                                              memory_capacity=0)
    assert res.cpu_shares == 2048


def test_oom_score_adj_per_qos_class() -> None:
    guaranteed = {"name": "c", "resources": resources(limits={"cpu": "1", "memory": "1Gi"})}
    assert containerconfig.oom_score_adj(pod(containers=[guaranteed]), guaranteed,
                                         memory_capacity=NODE.memory_capacity) == -997
    best = {"name": "c"}
    assert containerconfig.oom_score_adj(pod(), best, memory_capacity=1) == 1000
    burst = {"name": "c", "resources": resources({"memory": "1Gi"})}
    assert containerconfig.oom_score_adj(pod(containers=[burst]), burst,
                                         memory_capacity=4 * 1024**3) == 750
    huge = {"name": "c", "resources": resources({"memory": "4Gi"})}
    assert containerconfig.oom_score_adj(pod(containers=[huge]), huge,
                                         memory_capacity=4 * 1024**3) == 3
    tiny = {"name": "c", "resources": resources({"memory": "1"})}
    assert containerconfig.oom_score_adj(pod(containers=[tiny]), tiny,
                                         memory_capacity=4 * 1024**3) == 999


def config_for(p: Obj, *, image: api_pb2.Image | None = None,
               restart_count: int = 0) -> api_pb2.ContainerConfig:
    container = p["spec"]["containers"][0]
    return containerconfig.container_config(
        p, container, node=NODE, image_ref="sha256:abc", restart_count=restart_count,
        command=["sh"], args=["-c", "x"], envs=[api_pb2.KeyValue(key="A", value="1")],
        mounts=[], image=image)


def test_container_config() -> None:
    p = pod(terminationGracePeriodSeconds=30, containers=[{
        "name": "c", "image": "nginx", "tty": True, "stdin": True, "workingDir": "/w",
        "ports": [{"containerPort": 80}],
        "lifecycle": {"preStop": {"exec": {"command": ["stop"]}}}}])
    config = config_for(p, restart_count=3)
    assert (config.metadata.name, config.metadata.attempt) == ("c", 3)
    assert (config.image.image, config.image.user_specified_image) == ("sha256:abc", "nginx")
    assert (list(config.command), list(config.args), config.working_dir) == (
        ["sh"], ["-c", "x"], "/w")
    assert config.log_path == "c/3.log"
    assert (config.tty, config.stdin) == (True, True)
    assert dict(config.labels) == {runtime.POD_NAME_LABEL: "web",
                                   runtime.POD_NAMESPACE_LABEL: "ns",
                                   runtime.POD_UID_LABEL: "u1",
                                   runtime.CONTAINER_NAME_LABEL: "c"}
    annotations = dict(config.annotations)
    assert annotations[runtime.CONTAINER_HASH_ANNOTATION] == containerconfig.container_hash(
        p["spec"]["containers"][0])
    assert annotations[runtime.CONTAINER_RESTART_COUNT_ANNOTATION] == "3"
    assert annotations[runtime.POD_TERMINATION_GRACE_PERIOD_ANNOTATION] == "30"
    assert annotations[runtime.CONTAINER_PRESTOP_HANDLER_ANNOTATION] == \
        '{"exec":{"command":["stop"]}}'
    assert annotations[runtime.CONTAINER_TERMINATION_MESSAGE_PATH_ANNOTATION] == \
        "/dev/termination-log"
    (mount,) = config.mounts
    assert (mount.container_path, mount.host_path) == ("/dev/termination-log",
                                                       "/k/pods/u1/containers/c/3")


def test_spec_hash_changes_with_the_spec_but_not_resources() -> None:
    a = {"name": "c", "image": "nginx:1"}
    assert containerconfig.container_hash(a) != containerconfig.container_hash(
        {"name": "c", "image": "nginx:2"})
    assert containerconfig.container_hash(a) == containerconfig.container_hash(
        {**a, "resources": {"limits": {"cpu": "1"}}})


def test_security_context_merges_pod_and_container() -> None:
    p = pod(securityContext={"runAsUser": 1000, "runAsGroup": 3000,
                             "seccompProfile": {"type": "RuntimeDefault"}},
            containers=[{"name": "c", "securityContext": {
                "runAsUser": 2000, "allowPrivilegeEscalation": False, "privileged": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}}}])
    sc = config_for(p).linux.security_context
    assert (sc.run_as_user.value, sc.run_as_group.value) == (2000, 3000)
    assert (sc.no_new_privs, sc.readonly_rootfs, sc.privileged) == (True, True, False)
    assert (list(sc.capabilities.add_capabilities), list(sc.capabilities.drop_capabilities)) \
        == (["NET_ADMIN"], ["ALL"])
    assert sc.seccomp.profile_type == api_pb2.SecurityProfile.RuntimeDefault
    unconfined = config_for(pod()).linux.security_context
    assert unconfined.seccomp.profile_type == api_pb2.SecurityProfile.Unconfined
    assert not unconfined.no_new_privs
    assert not unconfined.HasField("run_as_user")


def test_proc_paths_are_masked_and_read_only_unless_unmasked() -> None:
    sc = config_for(pod()).linux.security_context
    assert "/proc/kcore" in sc.masked_paths
    assert "/sys/devices/virtual/powercap" in sc.masked_paths
    assert list(sc.readonly_paths) == ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                       "/proc/sysrq-trigger"]
    unmasked = config_for(pod(containers=[{"name": "c", "securityContext": {
        "procMount": "Unmasked"}}])).linux.security_context
    assert (list(unmasked.masked_paths), list(unmasked.readonly_paths)) == ([], [])


def test_run_as_non_root_refuses_root_images() -> None:
    p = pod(securityContext={"runAsNonRoot": True})
    with pytest.raises(errors.ContainerConfigError) as caught:
        config_for(p, image=api_pb2.Image(id="x"))
    assert str(caught.value) == ("container has runAsNonRoot and image will run as root "
                                 "(pod: \"web_ns(u1)\", container: c)")
    with pytest.raises(errors.ContainerConfigError, match="non-numeric user \\(nginx\\)"):
        config_for(p, image=api_pb2.Image(id="x", username="nginx"))
    assert config_for(p, image=api_pb2.Image(id="x", uid=api_pb2.Int64Value(value=101)))
    root = pod(securityContext={"runAsNonRoot": True, "runAsUser": 0})
    with pytest.raises(errors.ContainerConfigError, match="runAsUser breaks non-root policy"):
        config_for(root)
    assert config_for(pod(securityContext={"runAsNonRoot": True, "runAsUser": 5}))
