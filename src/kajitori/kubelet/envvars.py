"""A container's environment, `$(VAR)` expansion, and the downward API values both use.

Mirrors upstream v1.33: `pkg/kubelet/kubelet_pods.go` (`makeEnvironmentVariables`,
`getServiceEnvVarMap`, `podFieldSelectorRuntimeValue`, `containerResourceRuntimeValue`),
`pkg/kubelet/envvars/envvars.go` (`FromServices`: the Docker-link style service variables),
`third_party/forked/golang/expansion/expand.go` (`$(VAR)` syntax), `pkg/fieldpath/fieldpath.go`
(`ExtractFieldPathAsString`, `FormatMap`), `pkg/api/v1/resource/helpers.go`
(`ExtractContainerResourceValue`, divisors) and `pkg/kubelet/container/helpers.go`
(`ExpandContainerCommandAndArgs`, `ExpandContainerVolumeMounts`). The downwardAPI and projected
volumes (`kajitori.kubelet.volumes`) reuse the field and resource functions.

Order: upstream builds the variables in a Go map, so their order in the container is random;
here it is fixed: the service variables first (sorted by service), then `envFrom` sources in
order, then `env` in order. A name defined twice keeps its first position and its last value.
`envFrom` keys that can be no variable name (empty, `=`, not printable ASCII: the relaxed rule
of v1.33) are skipped silently.
"""

from __future__ import annotations

import base64
import json
import math
import os
import shutil
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import aiohttp
from cri_api.v1 import api_pb2

from kajitori.api import errors as apierrors
from kajitori.api import meta, quantity
from kajitori.kubelet import errors, lookup

Obj = dict[str, Any]

MASTER_SERVICES = frozenset({"kubernetes"})
"""Services of the default namespace every pod sees, even with enableServiceLinks false."""
MASTER_NAMESPACE = "default"

ERR_CONFIGMAP_NOT_FOUND = 'configmap "{name}" not found'
ERR_SECRET_NOT_FOUND = 'secret "{name}" not found'
ERR_CONFIGMAP_KEY = "couldn't find key {key} in ConfigMap {namespace}/{name}"
ERR_SECRET_KEY = "couldn't find key {key} in Secret {namespace}/{name}"
ERR_UNSUPPORTED_VERSION = "unsupported pod version: {version}"
ERR_UNSUPPORTED_LABEL = "field label not supported: {label}"
ERR_UNSUPPORTED_FIELD_PATH = "unsupported fieldPath: {path}"
ERR_NO_SUBSCRIPT = 'fieldPath "{path}" does not support subscript'
ERR_UNSUPPORTED_RESOURCE = "unsupported container resource : {resource}"
ERR_CONTAINER_NOT_FOUND = "container {name} not found"
ERR_MISSING_VALUE = "missing value for {names}"

_DOWNWARD_API_LABELS = frozenset({
    "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
    "metadata.uid", "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName",
    "spec.schedulerName", "status.phase", "status.hostIP", "status.hostIPs", "status.podIP",
    "status.podIPs"})
_SUBSCRIPTED_LABELS = frozenset({"metadata.annotations", "metadata.labels"})
_DEFAULTED_LIMITS = ("cpu", "memory", "ephemeral-storage")
_HUGEPAGES_PREFIX = "hugepages-"

_OPERATOR = "$"
_OPENER = "("
_CLOSER = ")"


# ---- $(VAR) expansion (third_party/forked/golang/expansion) --------------------------------

def mapping_for(*contexts: dict[str, str]) -> Callable[[str], str]:
    """A lookup in `contexts`, first match wins; an unknown name maps to `$(name)` itself, so
    an unresolved reference stays in the text as written."""
    def mapping(name: str) -> str:
        for context in contexts:
            if name in context:
                return context[name]
        return f"{_OPERATOR}{_OPENER}{name}{_CLOSER}"
    return mapping


def expand(text: str, mapping: Callable[[str], str]) -> str:
    """Replace each `$(NAME)` by `mapping(NAME)`; `$$` is a literal `$`; a `$` before anything
    else, or an unclosed `$(`, is kept as it is."""
    out: list[str] = []
    checkpoint = cursor = 0
    while cursor < len(text):
        if text[cursor] == _OPERATOR and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            following = text[cursor + 1]
            if following == _OPERATOR:
                out.append(_OPERATOR)
            elif following == _OPENER:
                closer = text.find(_CLOSER, cursor + 2)
                if closer < 0:
                    out.append(_OPERATOR + _OPENER)
                else:
                    out.append(mapping(text[cursor + 2:closer]))
                    cursor = closer - 1
            else:
                out.append(_OPERATOR + following)
            cursor += 1
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def env_map(env: Iterable[api_pb2.KeyValue]) -> dict[str, str]:
    """Name → value, the last definition winning (upstream EnvVarsToMap)."""
    return {kv.key: kv.value for kv in env}


def expand_command(container: Obj, env: list[api_pb2.KeyValue]) -> tuple[list[str], list[str]]:
    """The container's command and args with `$(VAR)` references to `env` expanded
    (upstream ExpandContainerCommandAndArgs)."""
    mapping = mapping_for(env_map(env))
    command = [expand(str(part), mapping) for part in container.get("command") or []]
    args = [expand(str(part), mapping) for part in container.get("args") or []]
    return command, args


def expand_subpath(volume_mount: Obj, env: Iterable[api_pb2.KeyValue]) -> str:
    """A volumeMount's subPathExpr expanded with the container's environment. Raises
    ContainerConfigError(`missing value for A, B`) naming each reference that is unset or
    empty (upstream ExpandContainerVolumeMounts)."""
    values = env_map(env)
    missing: set[str] = set()

    def mapping(name: str) -> str:
        if not values.get(name):
            missing.add(name)
        return values.get(name, "")

    expanded = expand(str(volume_mount.get("subPathExpr") or ""), mapping)
    if missing:
        raise errors.ContainerConfigError(ERR_MISSING_VALUE.format(
            names=", ".join(sorted(missing))))
    return expanded


# ---- service links (pkg/kubelet/envvars) -----------------------------------------------------

def _variable_name(name: str) -> str:
    return name.replace("-", "_").upper()


def _is_service_ip_set(service: Obj) -> bool:
    cluster_ip = (service.get("spec") or {}).get("clusterIP") or ""
    return cluster_ip not in ("", "None")


def _join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def service_env(services: Iterable[Obj]) -> dict[str, str]:
    """The variables of `services` as upstream's FromServices names them:
    `<SVC>_SERVICE_HOST`, `<SVC>_SERVICE_PORT`, `<SVC>_SERVICE_PORT_<PORTNAME>` and the Docker
    link ones (`<SVC>_PORT`, `<SVC>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]`). Services without
    a cluster IP (headless, ExternalName) have none."""
    result: dict[str, str] = {}
    for service in services:
        spec = service.get("spec") or {}
        ports = spec.get("ports") or []
        if not _is_service_ip_set(service) or not ports:
            continue
        prefix = _variable_name(meta.name(service))
        cluster_ip = str(spec["clusterIP"])
        result[f"{prefix}_SERVICE_HOST"] = cluster_ip
        result[f"{prefix}_SERVICE_PORT"] = str(ports[0].get("port"))
        for port in ports:
            if port.get("name"):
                result[f"{prefix}_SERVICE_PORT_{_variable_name(port['name'])}"] = str(
                    port.get("port"))
        for index, port in enumerate(ports):
            protocol = str(port.get("protocol") or "TCP")
            number = int(port.get("port") or 0)
            url = f"{protocol.lower()}://{_join_host_port(cluster_ip, number)}"
            if index == 0:
                result[f"{prefix}_PORT"] = url
            port_prefix = f"{prefix}_PORT_{number}_{protocol.upper()}"
            result[port_prefix] = url
            result[f"{port_prefix}_PROTO"] = protocol.lower()
            result[f"{port_prefix}_PORT"] = str(number)
            result[f"{port_prefix}_ADDR"] = cluster_ip
    return result


async def service_env_for_pod(pod: Obj, *, lookup_: lookup.ObjectLookup) -> dict[str, str]:
    """The service variables a pod sees (upstream getServiceEnvVarMap): the master services of
    the default namespace always, its own namespace's services unless enableServiceLinks is
    false. A service of the pod's namespace shadows a master service of the same name."""
    namespace = meta.namespace(pod)
    links = (pod.get("spec") or {}).get("enableServiceLinks") is not False
    chosen: dict[str, Obj] = {}
    if links:
        for service in await lookup_.services(namespace):
            if _is_service_ip_set(service):
                chosen[meta.name(service)] = service
    masters = await lookup_.services(MASTER_NAMESPACE) if namespace != MASTER_NAMESPACE or \
        not links else []
    for service in masters:
        if meta.name(service) in MASTER_SERVICES and _is_service_ip_set(service):
            chosen.setdefault(meta.name(service), service)
    return service_env(chosen[name] for name in sorted(chosen))


# ---- downward API: fields (pkg/fieldpath) ----------------------------------------------------

def _split_subscript(path: str) -> tuple[str, str] | None:
    if not path.endswith("']"):
        return None
    head, sep, subscript = path[:-2].partition("['")
    if not sep or not head:
        return None
    return head, subscript


def _format_map(values: dict[str, str]) -> str:
    """`key="value"` lines, keys sorted, values quoted as Go's %q."""
    return "".join(f"{key}={json.dumps(values[key], ensure_ascii=False)}\n"
                   for key in sorted(values))


def convert_field_label(api_version: str, label: str) -> str:
    """Check a pod fieldRef (upstream ConvertDownwardAPIFieldLabel); raises ValueError."""
    if api_version not in ("", "v1"):
        raise ValueError(ERR_UNSUPPORTED_VERSION.format(version=api_version))
    split = _split_subscript(label)
    if split is not None and split[0] in _SUBSCRIPTED_LABELS:
        return label
    if label not in _DOWNWARD_API_LABELS:
        raise ValueError(ERR_UNSUPPORTED_LABEL.format(label=label))
    return label


def extract_field_path(pod: Obj, path: str) -> str:
    """A metadata field of `pod` as text (upstream ExtractFieldPathAsString): name, namespace,
    uid, `labels['k']`/`annotations['k']` (empty when absent), or all labels or annotations as
    sorted `k="v"` lines. Raises ValueError for any other path."""
    split = _split_subscript(path)
    if split is not None:
        head, key = split
        if head == "metadata.annotations":
            return meta.annotations(pod).get(key, "")
        if head == "metadata.labels":
            return meta.labels(pod).get(key, "")
        raise ValueError(ERR_NO_SUBSCRIPT.format(path=path))
    simple: dict[str, Callable[[Obj], str]] = {
        "metadata.name": meta.name, "metadata.namespace": meta.namespace,
        "metadata.uid": meta.uid,
        "metadata.labels": lambda obj: _format_map(meta.labels(obj)),
        "metadata.annotations": lambda obj: _format_map(meta.annotations(obj))}
    if path in simple:
        return simple[path](pod)
    raise ValueError(ERR_UNSUPPORTED_FIELD_PATH.format(path=path))


def pod_field_value(field_ref: Obj, pod: Obj, *, node_ip: str, pod_ips: Sequence[str]) -> str:
    """A fieldRef's value in a container's environment (upstream
    podFieldSelectorRuntimeValue): the pod's metadata, spec.nodeName,
    spec.serviceAccountName, status.hostIP(s) (the node's IP) and status.podIP(s). Raises
    ValueError with upstream's message for anything else."""
    path = convert_field_label(str(field_ref.get("apiVersion") or "v1"),
                               str(field_ref.get("fieldPath") or ""))
    spec = pod.get("spec") or {}
    runtime_values = {
        "spec.nodeName": str(spec.get("nodeName") or ""),
        "spec.serviceAccountName": str(spec.get("serviceAccountName") or ""),
        "status.hostIP": node_ip, "status.hostIPs": node_ip,
        "status.podIP": pod_ips[0] if pod_ips else "", "status.podIPs": ",".join(pod_ips)}
    if path in runtime_values:
        return runtime_values[path]
    return extract_field_path(pod, path)


# ---- downward API: resources (pkg/api/v1/resource) -------------------------------------------

def machine_allocatable(root: str = "/") -> dict[str, str]:
    """This machine's cpu, memory and the disk of `root`: what a limit defaults to when the
    caller knows no node allocatable (a container can use no more than the machine)."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cpu": str(os.cpu_count() or 1), "memory": str(memory),
            "ephemeral-storage": str(shutil.disk_usage(root).total)}


def _quantity(value: Any) -> quantity.Quantity:
    return quantity.from_json(value) if value is not None else quantity.from_int(0)


def _find_container(pod: Obj, name: str) -> Obj:
    spec = pod.get("spec") or {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        if container.get("name") == name:
            return dict(container)
    raise ValueError(ERR_CONTAINER_NOT_FOUND.format(name=name))


def container_resource_value(field_ref: Obj, container: Obj, *,
                             node_allocatable: dict[str, str] | None = None) -> str:
    """A resourceFieldRef's value for `container` (upstream ExtractContainerResourceValue
    after defaultPodLimitsForDownwardAPI): limits.* and requests.* of cpu (in units of the
    divisor, cpu rounded up from millicores), memory, ephemeral-storage and hugepages-*; an
    absent limit of cpu, memory or ephemeral-storage is the node's allocatable amount (None:
    the machine's). Raises ValueError for other resources."""
    resources = container.get("resources") or {}
    limits = dict(resources.get("limits") or {})
    requests = dict(resources.get("requests") or {})
    resource = str(field_ref.get("resource") or "")
    kind, _, name = resource.partition(".")
    if kind == "limits" and name in _DEFAULTED_LIMITS and name not in limits:
        limits[name] = (node_allocatable or machine_allocatable()).get(name, "0")
    values = {"limits": limits, "requests": requests}.get(kind)
    if values is None or not (name in _DEFAULTED_LIMITS or name.startswith(_HUGEPAGES_PREFIX)):
        raise ValueError(ERR_UNSUPPORTED_RESOURCE.format(resource=resource))
    divisor = _quantity(field_ref.get("divisor"))
    if divisor.is_zero():
        divisor = quantity.from_int(1)
    amount = _quantity(values.get(name))
    if name == "cpu":
        return str(math.ceil(amount.milli_value() / divisor.milli_value()))
    return str(math.ceil(amount.value() / divisor.value()))


def pod_resource_value(field_ref: Obj, pod: Obj, container: Obj | None, *,
                       node_allocatable: dict[str, str] | None = None) -> str:
    """A resourceFieldRef naming its container (`containerName`), or else `container`."""
    name = field_ref.get("containerName")
    target = _find_container(pod, str(name)) if name or container is None else container
    return container_resource_value(field_ref, target, node_allocatable=node_allocatable)


# ---- the container environment (makeEnvironmentVariables) ------------------------------------

def _is_env_var_name(name: str) -> bool:
    """The relaxed rule (RelaxedEnvironmentVariableValidation, on in v1.33): printable ASCII
    without `=`."""
    return bool(name) and "=" not in name and all(32 <= ord(c) <= 126 for c in name)


def _secret_values(secret: Obj) -> dict[str, str]:
    return {key: base64.b64decode(value).decode("utf-8", "replace")
            for key, value in (secret.get("data") or {}).items()}


class _Sources:
    """The ConfigMaps and Secrets of one container's environment, each read once."""

    def __init__(self, namespace: str, source: lookup.ObjectLookup) -> None:
        self._namespace = namespace
        self._lookup = source
        self._config_maps: dict[str, dict[str, str] | None] = {}
        self._secrets: dict[str, dict[str, str] | None] = {}

    async def config_map(self, name: str, *, optional: bool) -> dict[str, str] | None:
        """Its data; None when it is missing and optional; ContainerConfigError when it is
        missing and required."""
        if name not in self._config_maps:
            found = await self._lookup.config_map(self._namespace, name)
            self._config_maps[name] = None if found is None else {
                k: str(v) for k, v in (found.get("data") or {}).items()}
        data = self._config_maps[name]
        if data is None and not optional:
            raise errors.ContainerConfigError(ERR_CONFIGMAP_NOT_FOUND.format(name=name))
        return data

    async def secret(self, name: str, *, optional: bool) -> dict[str, str] | None:
        if name not in self._secrets:
            found = await self._lookup.secret(self._namespace, name)
            self._secrets[name] = None if found is None else _secret_values(found)
        data = self._secrets[name]
        if data is None and not optional:
            raise errors.ContainerConfigError(ERR_SECRET_NOT_FOUND.format(name=name))
        return data


async def container_env(pod: Obj, container: Obj, *, lookup: lookup.ObjectLookup,
                        node_ip: str, pod_ips: list[str],
                        node_allocatable: dict[str, str] | None = None
                        ) -> list[api_pb2.KeyValue]:
    """The environment of `container` in `pod`, as upstream's makeEnvironmentVariables builds
    it. `node_allocatable`: the node's allocatable resources, which unset limits of
    resourceFieldRefs default to (None, as in tests: the machine's). Raises
    ContainerConfigError with upstream's message (`configmap "x" not found`, `couldn't find
    key k in ConfigMap ns/x`); a failed API read is one too, with its message."""
    namespace = meta.namespace(pod)
    try:
        services = await service_env_for_pod(pod, lookup_=lookup)
        sources = _Sources(namespace, lookup)
        declared = await _declared_env(pod, container, sources=sources, services=services,
                                       node_ip=node_ip, pod_ips=pod_ips,
                                       node_allocatable=node_allocatable)
    except errors.ContainerConfigError:
        raise
    except ValueError as exc:
        raise errors.ContainerConfigError(str(exc)) from exc
    except (apierrors.StatusError, aiohttp.ClientError, OSError, TimeoutError) as exc:
        # an API or transport failure: the container waits, the next sync tries again
        raise errors.ContainerConfigError(str(exc) or type(exc).__name__) from exc
    merged = {**services, **declared}
    return [api_pb2.KeyValue(key=key, value=value) for key, value in merged.items()]


async def _declared_env(pod: Obj, container: Obj, *, sources: _Sources,
                        services: dict[str, str], node_ip: str, pod_ips: list[str],
                        node_allocatable: dict[str, str] | None) -> dict[str, str]:
    """envFrom then env, each value expanded against what came before and the services."""
    namespace = meta.namespace(pod)
    values: dict[str, str] = {}
    for env_from in container.get("envFrom") or []:
        prefix = str(env_from.get("prefix") or "")
        data: dict[str, str] | None = None
        if env_from.get("configMapRef") is not None:
            ref = env_from["configMapRef"]
            data = await sources.config_map(str(ref.get("name") or ""),
                                            optional=bool(ref.get("optional")))
        elif env_from.get("secretRef") is not None:
            ref = env_from["secretRef"]
            data = await sources.secret(str(ref.get("name") or ""),
                                        optional=bool(ref.get("optional")))
        for key, value in (data or {}).items():
            if _is_env_var_name(prefix + key):
                values[prefix + key] = value
    mapping = mapping_for(values, services)
    for var in container.get("env") or []:
        name = str(var.get("name") or "")
        value = str(var.get("value") or "")
        source = var.get("valueFrom")
        if value:
            value = expand(value, mapping)
        elif source:
            resolved = await _value_from(source, pod, container, sources=sources,
                                         namespace=namespace, node_ip=node_ip, pod_ips=pod_ips,
                                         node_allocatable=node_allocatable)
            if resolved is None:
                continue
            value = resolved
        values[name] = value
    return values


async def _value_from(source: Obj, pod: Obj, container: Obj, *, sources: _Sources,
                      namespace: str, node_ip: str, pod_ips: list[str],
                      node_allocatable: dict[str, str] | None) -> str | None:
    """One valueFrom; None when an optional source or key is missing (no variable)."""
    if source.get("fieldRef") is not None:
        return pod_field_value(source["fieldRef"], pod, node_ip=node_ip, pod_ips=pod_ips)
    if source.get("resourceFieldRef") is not None:
        return pod_resource_value(source["resourceFieldRef"], pod, container,
                                  node_allocatable=node_allocatable)
    for field, read, message in (("configMapKeyRef", sources.config_map, ERR_CONFIGMAP_KEY),
                                 ("secretKeyRef", sources.secret, ERR_SECRET_KEY)):
        ref = source.get(field)
        if ref is None:
            continue
        name, key = str(ref.get("name") or ""), str(ref.get("key") or "")
        optional = bool(ref.get("optional"))
        data = await read(name, optional=optional)
        if data is None:
            return None
        if key not in data:
            if optional:
                return None
            raise errors.ContainerConfigError(message.format(key=key, namespace=namespace,
                                                             name=name))
        return data[key]
    return ""
