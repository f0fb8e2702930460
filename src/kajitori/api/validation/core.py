"""Semantic rules for the core kinds users write by hand: Pod (and pod templates), Service,
ConfigMap, Secret, Namespace, ServiceAccount.

Mirrors the matching parts of pkg/apis/core/validation/validation.go (v1.33 with its default
feature gates). Functions take objects after defaulting, as upstream validates them, and return
FieldErrors in upstream's order. Only the rules whose absence would let bad input through are
here; schema-level type checks happen before (kajitori.api.schemas).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from kajitori.api import quantity
from kajitori.api.errors import FieldError, _go_value
from kajitori.api.validation import gorepr, names, objectmeta, scheduling

Obj = dict[str, Any]

SUPPORTED_PORT_PROTOCOLS = ["SCTP", "TCP", "UDP"]
RESTART_POLICIES = ["Always", "OnFailure", "Never"]
DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
TERMINATION_MESSAGE_POLICIES = ["File", "FallbackToLogsOnError"]
SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
SESSION_AFFINITIES = ["ClientIP", "None"]
STANDARD_CONTAINER_RESOURCES = frozenset({"cpu", "memory", "ephemeral-storage"})
MAX_SECRET_SIZE = 1024 * 1024
IMMUTABLE_WHEN_SET = "field is immutable when `immutable` is set"
POD_UPDATABLE_FIELDS = ",".join([
    "`spec.containers[*].image`", "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
    "negative)"])
POD_UPDATE_FORBIDDEN = f"pod updates may not change fields other than {POD_UPDATABLE_FIELDS}"
POD_ADD_REMOVE_CONTAINERS = "pod updates may not add or remove containers"
MAX_INT32 = 2**31 - 1


def not_found(path: str, value: Any) -> FieldError:
    return FieldError(path, "FieldValueNotFound", f"Not found: {_go_value(value)}")


# --- pods ---------------------------------------------------------------------------------------

def _validate_resources(resources: Obj, path: str) -> list[FieldError]:
    out: list[FieldError] = []
    parsed: dict[str, dict[str, quantity.Quantity]] = {"limits": {}, "requests": {}}
    for bag in ("limits", "requests"):
        for name in sorted(resources.get(bag) or {}):
            p = f"{path}.{bag}[{name}]"
            if "/" not in name and name not in STANDARD_CONTAINER_RESOURCES \
                    and not name.startswith("hugepages-"):
                out.append(FieldError.invalid(p, name,
                                              "must be a standard resource for containers"))
                continue
            try:
                q = quantity.from_json(resources[bag][name])
            except quantity.QuantityError as exc:
                out.append(FieldError.invalid(p, str(resources[bag][name]), str(exc)))
                continue
            parsed[bag][name] = q
            if q.sign() < 0:
                out.append(FieldError.invalid(p, str(q), objectmeta.IS_NEGATIVE))
    for name, req in sorted(parsed["requests"].items()):
        lim = parsed["limits"].get(name)
        if lim is None:
            continue
        overcommit = "/" not in name or name.startswith("kubernetes.io/")
        overcommit = overcommit and not name.startswith("hugepages-")
        if req != lim and not overcommit:
            out.append(FieldError.invalid(f"{path}.requests", str(req),
                                          f"must be equal to {name} limit of {lim}"))
        elif req > lim:
            out.append(FieldError.invalid(f"{path}.requests", str(req),
                                          f"must be less than or equal to {name} limit of {lim}"))
    return out


def _validate_ports(ports: list[Obj], path: str) -> list[FieldError]:
    out: list[FieldError] = []
    seen: set[str] = set()
    for i, port in enumerate(ports):
        p = f"{path}[{i}]"
        name = port.get("name") or ""
        if name:
            msgs = names.is_valid_port_name(name)
            if msgs:
                out += objectmeta.invalid_each(f"{p}.name", name, msgs)
            elif name in seen:
                out.append(FieldError.duplicate(f"{p}.name", name))
            else:
                seen.add(name)
        number = int(port.get("containerPort") or 0)
        if number == 0:
            out.append(FieldError.required(f"{p}.containerPort"))
        else:
            out += objectmeta.invalid_each(f"{p}.containerPort", number,
                                           names.is_valid_port_num(number))
        host = int(port.get("hostPort") or 0)
        if host:
            out += objectmeta.invalid_each(f"{p}.hostPort", host, names.is_valid_port_num(host))
        out += _one_of(port.get("protocol") or "", SUPPORTED_PORT_PROTOCOLS, f"{p}.protocol")
    return out


def _one_of(value: str, allowed: list[str], path: str) -> list[FieldError]:
    if not value:
        return [FieldError.required(path)]
    if value not in allowed:
        return [FieldError.not_supported(path, value, allowed)]
    return []


def _validate_env(env: list[Obj], path: str) -> list[FieldError]:
    out: list[FieldError] = []
    for i, var in enumerate(env):
        name = var.get("name") or ""
        if not name:
            out.append(FieldError.required(f"{path}[{i}].name"))
        else:
            out += objectmeta.invalid_each(f"{path}[{i}].name", name,
                                           names.is_relaxed_env_var_name(name))
    return out


PROC_MOUNT_TYPES = ["Default", "Unmasked"]
UNMASKED_NEEDS_USER_NAMESPACE = "`hostUsers` must be false to use `Unmasked`"


def _validate_proc_mount(security_context: Obj, path: str, *, host_users: bool
                         ) -> list[FieldError]:
    """Upstream's procMount rules: a known type, and `Unmasked` only in a pod of its own user
    namespace (an unmasked /proc is host root's otherwise)."""
    proc_mount = security_context.get("procMount")
    if proc_mount is None:
        return []
    if proc_mount not in PROC_MOUNT_TYPES:
        return [FieldError.not_supported(f"{path}.procMount", proc_mount, PROC_MOUNT_TYPES)]
    if host_users and proc_mount == "Unmasked":
        return [FieldError.invalid(f"{path}.procMount", proc_mount,
                                   UNMASKED_NEEDS_USER_NAMESPACE)]
    return []


def _validate_containers(containers: list[Obj], path: str, *, volumes: set[str],
                         seen: set[str], host_users: bool = True) -> list[FieldError]:
    out: list[FieldError] = []
    for i, ctr in enumerate(containers):
        p = f"{path}[{i}]"
        name = ctr.get("name") or ""
        if not name:
            out.append(FieldError.required(f"{p}.name"))
        else:
            out += objectmeta.invalid_each(f"{p}.name", name, names.is_dns1123_label(name))
            if name in seen:
                out.append(FieldError.duplicate(f"{p}.name", name))
            seen.add(name)
        if not ctr.get("image"):
            out.append(FieldError.required(f"{p}.image"))
        out += _validate_ports(ctr.get("ports") or [], f"{p}.ports")
        out += _validate_env(ctr.get("env") or [], f"{p}.env")
        for j, mount in enumerate(ctr.get("volumeMounts") or []):
            mp = f"{p}.volumeMounts[{j}]"
            if not mount.get("name"):
                out.append(FieldError.required(f"{mp}.name"))
            elif mount["name"] not in volumes:
                out.append(not_found(f"{mp}.name", mount["name"]))
            if not mount.get("mountPath"):
                out.append(FieldError.required(f"{mp}.mountPath"))
        out += _validate_resources(ctr.get("resources") or {}, f"{p}.resources")
        out += _one_of(ctr.get("terminationMessagePolicy") or "", TERMINATION_MESSAGE_POLICIES,
                       f"{p}.terminationMessagePolicy")
        out += _one_of(ctr.get("imagePullPolicy") or "", PULL_POLICIES, f"{p}.imagePullPolicy")
        out += _validate_proc_mount(ctr.get("securityContext") or {}, f"{p}.securityContext",
                                    host_users=host_users)
    return out


def validate_pod_spec(spec: Obj, path: str) -> list[FieldError]:
    """Upstream ValidatePodSpec (the commonly hit rules) for a defaulted spec."""
    out: list[FieldError] = []
    volumes: set[str] = set()
    for i, vol in enumerate(spec.get("volumes") or []):
        vp = f"{path}.volumes[{i}].name"
        name = vol.get("name") or ""
        if not name:
            out.append(FieldError.required(vp))
        else:
            out += objectmeta.invalid_each(vp, name, names.is_dns1123_label(name))
            if name in volumes:
                out.append(FieldError.duplicate(vp, name))
            volumes.add(name)
    containers = spec.get("containers") or []
    seen: set[str] = set()
    host_users = spec.get("hostUsers") is not False
    out += _validate_containers(spec.get("initContainers") or [], f"{path}.initContainers",
                                volumes=volumes, seen=seen, host_users=host_users)
    if not containers:
        out.append(FieldError.required(f"{path}.containers"))
    out += _validate_containers(containers, f"{path}.containers", volumes=volumes, seen=seen,
                                host_users=host_users)
    out += _one_of(spec.get("restartPolicy") or "", RESTART_POLICIES, f"{path}.restartPolicy")
    out += _one_of(spec.get("dnsPolicy") or "", DNS_POLICIES, f"{path}.dnsPolicy")
    out += scheduling.validate_pod_scheduling(spec, path)
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not 1 <= int(deadline) <= MAX_INT32:
        out.append(FieldError.invalid(f"{path}.activeDeadlineSeconds", int(deadline),
                                      names.inclusive_range_error(1, MAX_INT32)))
    for key, rule in (("nodeName", objectmeta.dns_subdomain),
                      ("serviceAccountName", objectmeta.dns_subdomain)):
        value = spec.get(key) or ""
        if value:
            out += objectmeta.invalid_each(f"{path}.{key}", value, rule(value, False))
    for key in ("hostname", "subdomain"):
        value = spec.get(key) or ""
        if value:
            out += objectmeta.invalid_each(f"{path}.{key}", value, names.is_dns1123_label(value))
    out += scheduling.validate_tolerations(spec.get("tolerations") or [], f"{path}.tolerations")
    out += validate_ephemeral_containers(spec, f"{path}.ephemeralContainers", volumes=volumes,
                                         host_users=host_users)
    return out


# The EphemeralContainerCommon fields upstream's allow-list refuses (ports, resources, restart
# rules, probes and lifecycle: a debugging container must not become part of the workload), in
# the struct's declaration order, which is the order of their errors.
EPHEMERAL_FORBIDDEN_FIELDS = ("ports", "resources", "resizePolicy", "restartPolicy",
                              "livenessProbe", "readinessProbe", "startupProbe", "lifecycle")
EPHEMERAL_FIELD_FORBIDDEN = "cannot be set for an Ephemeral Container"
EPHEMERAL_ON_CREATE = "cannot be set on create"
EPHEMERAL_IN_TEMPLATE = "ephemeral containers not allowed in pod template"
STATIC_POD_EPHEMERAL = "static pods do not support ephemeral containers"
EPHEMERAL_REMOVED = "existing ephemeral containers {name} may not be removed\n"
EPHEMERAL_CHANGED = "existing ephemeral containers {name} may not be changed\n{diff}"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
ROOT_PATH = "[]"


def _is_set(key: str, value: Any) -> bool:
    """Whether a decoded field differs from its Go zero value, as upstream's allow-list
    compares them: any present pointer, slice or string (`ports: []` is set), but `resources`
    is a struct, set only when one of its members is (`resources: {}` is not)."""
    if value is None:
        return False
    if key == "resources":
        return any(v is not None for v in value.values())
    return True


def validate_ephemeral_containers(spec: Obj, path: str, *, volumes: set[str],
                                  host_users: bool = True) -> list[FieldError]:
    """Upstream validateEphemeralContainers: each is a valid container whose name is unique
    across every container of the pod, whose `targetContainerName` names an init or app
    container, and which sets none of EPHEMERAL_FORBIDDEN_FIELDS nor a subPath."""
    ephemeral = spec.get("ephemeralContainers") or []
    if not ephemeral:
        return []
    others = {str(c.get("name")) for key in ("containers", "initContainers")
              for c in spec.get(key) or []}
    out = _validate_containers(ephemeral, path, volumes=volumes, seen=set(others),
                               host_users=host_users)
    for i, ctr in enumerate(ephemeral):
        p = f"{path}[{i}]"
        target = ctr.get("targetContainerName") or ""
        if target and target not in others:
            out.append(not_found(f"{p}.targetContainerName", target))
        out += [FieldError.forbidden(f"{p}.{key}", EPHEMERAL_FIELD_FORBIDDEN)
                for key in EPHEMERAL_FORBIDDEN_FIELDS if _is_set(key, ctr.get(key))]
        for j, mount in enumerate(ctr.get("volumeMounts") or []):
            out += [FieldError.forbidden(f"{p}.volumeMounts[{j}].{key}",
                                         EPHEMERAL_FIELD_FORBIDDEN)
                    for key in ("subPath", "subPathExpr") if mount.get(key)]
    return out


def validate_pod_ephemeral_containers_update(new: Obj, old: Obj) -> list[FieldError]:
    """Upstream ValidatePodEphemeralContainersUpdate (a write to pods/ephemeralcontainers):
    the new pod is valid, it is not a static pod's mirror, and every existing ephemeral
    container is still there, unchanged (order may differ: a patch does not keep it)."""
    out = validate_pod_spec(new.get("spec") or {}, "spec")
    if MIRROR_POD_ANNOTATION in ((old.get("metadata") or {}).get("annotations") or {}):
        # Upstream's field.NewPath(""), which prints as an empty subscript.
        return [FieldError.forbidden(ROOT_PATH, STATIC_POD_EPHEMERAL)]
    path = "spec.ephemeralContainers"
    by_name = {c.get("name"): c for c in (new.get("spec") or {}).get("ephemeralContainers") or []}
    for container in (old.get("spec") or {}).get("ephemeralContainers") or []:
        name = container.get("name")
        current = by_name.get(name)
        if current is None:
            out.append(FieldError.forbidden(path, EPHEMERAL_REMOVED.format(
                name=_go_value(name))))
        elif current != container:
            out.append(FieldError.forbidden(path, EPHEMERAL_CHANGED.format(
                name=_go_value(name), diff=_struct_diff("core.EphemeralContainer", container,
                                                        current))))
    return out


def validate_pod_template(template: Obj | None, path: str) -> list[FieldError]:
    """Upstream ValidatePodTemplateSpec: template labels/annotations, then the spec."""
    if template is None:
        return [FieldError.required(path)]
    md = template.get("metadata") or {}
    out = objectmeta.validate_labels(md.get("labels"), f"{path}.metadata.labels")
    out += objectmeta.validate_annotations(md.get("annotations"), f"{path}.metadata.annotations")
    spec = template.get("spec") or {}
    out += validate_pod_spec(spec, f"{path}.spec")
    if spec.get("ephemeralContainers"):
        out.append(FieldError.forbidden(f"{path}.spec.ephemeralContainers",
                                        EPHEMERAL_IN_TEMPLATE))
    return out


def validate_pod(pod: Obj) -> list[FieldError]:
    """Upstream ValidatePodCreate: a valid spec without ephemeral containers (they are added
    through pods/ephemeralcontainers only)."""
    spec = pod.get("spec") or {}
    out = validate_pod_spec(spec, "spec")
    if spec.get("ephemeralContainers"):
        out.append(FieldError.forbidden("spec.ephemeralContainers", EPHEMERAL_ON_CREATE))
    return out


def validate_pod_update(new: Obj, old: Obj) -> list[FieldError]:
    """Upstream ValidatePodUpdate: only images, activeDeadlineSeconds, added tolerations and a
    negative terminationGracePeriodSeconds becoming 1 may change."""
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    out = validate_pod_spec(ns, "spec")
    if len(ns.get("containers") or []) != len(os_.get("containers") or []):
        return [*out, FieldError.forbidden("spec.containers", POD_ADD_REMOVE_CONTAINERS)]
    old_deadline, new_deadline = os_.get("activeDeadlineSeconds"), ns.get("activeDeadlineSeconds")
    if old_deadline is not None:
        if new_deadline is None:
            out.append(FieldError.invalid("spec.activeDeadlineSeconds", "null",
                                          "must not update from a positive integer to nil value"))
        elif int(new_deadline) > int(old_deadline):
            out.append(FieldError.invalid("spec.activeDeadlineSeconds", int(new_deadline),
                                          "must be less than or equal to previous value"))
    for i, tol in enumerate(os_.get("tolerations") or []):
        new_tols = ns.get("tolerations") or []
        kept = {k: v for k, v in tol.items() if k != "tolerationSeconds"}
        if not any({k: v for k, v in t.items() if k != "tolerationSeconds"} == kept
                   for t in new_tols):
            out.append(FieldError.forbidden(
                f"spec.tolerations[{i}]",
                "existing toleration can not be modified except its tolerationSeconds"))
    mutable = _with_updatable_from(ns, os_)
    if mutable != os_:
        out.append(FieldError.forbidden("spec", POD_UPDATE_FORBIDDEN + "\n"
                                        + _spec_diff(os_, mutable)))
    return out


def _with_updatable_from(new: Obj, old: Obj) -> Obj:
    """The new spec with every updatable field taken from the old one."""
    out = dict(new)
    for key in ("containers", "initContainers"):
        if key in new:
            olds = old.get(key) or []
            out[key] = [dict(c, image=olds[i].get("image")) if i < len(olds) else c
                        for i, c in enumerate(new[key])]
    for key in ("activeDeadlineSeconds", "tolerations"):
        if key in old:
            out[key] = old[key]
        else:
            out.pop(key, None)
    grace_old = old.get("terminationGracePeriodSeconds")
    if grace_old is not None and int(grace_old) < 0 and new.get(
            "terminationGracePeriodSeconds") == 1:
        out["terminationGracePeriodSeconds"] = grace_old
    return out


def _spec_diff(old: Obj, new: Obj) -> str:
    """A short `-`/`+` listing of the spec fields that differ. Upstream prints go-cmp's
    diff of the internal PodSpec, which this does not try to reproduce."""
    return _struct_diff("core.PodSpec", old, new)


def _struct_diff(type_name: str, old: Obj, new: Obj) -> str:
    """`_spec_diff` for any internal struct named `type_name`."""
    lines = [f"  {type_name}{{"]
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            if key in old:
                lines.append(f"- \t{key}: {json.dumps(old[key], sort_keys=True)},")
            if key in new:
                lines.append(f"+ \t{key}: {json.dumps(new[key], sort_keys=True)},")
    lines.append("  }")
    return "\n".join(lines) + "\n"


# --- services -----------------------------------------------------------------------------------

def _validate_port_num_or_name(value: Any, path: str) -> list[FieldError]:
    if isinstance(value, int):
        return objectmeta.invalid_each(path, value, names.is_valid_port_num(value))
    return objectmeta.invalid_each(path, str(value), names.is_valid_port_name(str(value)))


def validate_service(svc: Obj) -> list[FieldError]:
    spec = svc.get("spec") or {}
    out: list[FieldError] = []
    svc_type = spec.get("type") or ""
    headless = spec.get("clusterIP") == "None"
    ports = spec.get("ports") or []
    if not ports and not headless and svc_type != "ExternalName":
        out.append(FieldError.required("spec.ports"))
    if svc_type == "ExternalName":
        external = spec.get("externalName") or ""
        if not external:
            out.append(FieldError.required("spec.externalName"))
        else:
            out += objectmeta.invalid_each("spec.externalName", external,
                                           names.is_dns1123_subdomain(external.rstrip(".")))
    seen: set[str] = set()
    for i, port in enumerate(ports):
        p = f"spec.ports[{i}]"
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            out.append(FieldError.required(f"{p}.name"))
        elif name:
            out += objectmeta.invalid_each(f"{p}.name", name, names.is_dns1123_label(name))
            if name in seen:
                out.append(FieldError.duplicate(f"{p}.name", name))
            seen.add(name)
        number = int(port.get("port") or 0)
        out += objectmeta.invalid_each(f"{p}.port", number, names.is_valid_port_num(number))
        out += _one_of(port.get("protocol") or "", SUPPORTED_PORT_PROTOCOLS, f"{p}.protocol")
        if "targetPort" in port:
            out += _validate_port_num_or_name(port["targetPort"], f"{p}.targetPort")
        if port.get("nodePort") and svc_type == "ClusterIP":
            out.append(FieldError.forbidden(f"{p}.nodePort",
                                            "may not be used when `type` is 'ClusterIP'"))
    if svc_type not in SERVICE_TYPES:
        out.append(FieldError.not_supported("spec.type", svc_type, SERVICE_TYPES))
    affinity = spec.get("sessionAffinity")
    if affinity and affinity not in SESSION_AFFINITIES:
        out.append(FieldError.not_supported("spec.sessionAffinity", affinity,
                                            SESSION_AFFINITIES))
    return out


def _cluster_ips(spec: Obj) -> list[str]:
    ips = spec.get("clusterIPs")
    if ips:
        return list(ips)
    return [spec["clusterIP"]] if spec.get("clusterIP") else []


def validate_service_update(new: Obj, old: Obj) -> list[FieldError]:
    """Upstream validateUpgradeDowngradeClusterIPs: an allocated primary IP stays."""
    out = validate_service(new)
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    if "ExternalName" in (ns.get("type"), os_.get("type")):
        return out
    if ns.get("clusterIP") == "None" and os_.get("clusterIP") == "None":
        return out
    new_ips, old_ips = _cluster_ips(ns), _cluster_ips(os_)
    shown = gorepr.value(gorepr.strings(new_ips if new_ips else None))
    if len(old_ips) == len(new_ips):
        for i, ip in enumerate(old_ips):
            if ip != new_ips[i]:
                out.append(FieldError.invalid(f"spec.clusterIPs[{i}]", shown,
                                              "may not change once set"))
    elif len(old_ips) > len(new_ips):
        if not new_ips:
            out.append(FieldError.invalid("spec.clusterIPs[0]", shown,
                                          "primary clusterIP can not be unset"))
        elif new_ips[0] != old_ips[0]:
            out.append(FieldError.invalid("spec.clusterIPs[0]", shown,
                                          "may not change once set"))
    elif old_ips and new_ips[0] != old_ips[0]:
        out.append(FieldError.invalid("spec.clusterIPs[0]", shown, "may not change once set"))
    return out


# --- configmaps, secrets ------------------------------------------------------------------------

def _decoded_size(value: str) -> int:
    try:
        return len(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return len(value)


def validate_config_map(cm: Obj) -> list[FieldError]:
    out: list[FieldError] = []
    data, binary = cm.get("data") or {}, cm.get("binaryData") or {}
    total = 0
    for key in sorted(data):
        out += objectmeta.invalid_each(f"data[{key}]", key, names.is_config_map_key(key))
        if key in binary:
            out.append(FieldError.invalid(f"data[{key}]", key,
                                          "duplicate of key present in binaryData"))
        total += len(str(data[key]).encode())
    for key in sorted(binary):
        out += objectmeta.invalid_each(f"binaryData[{key}]", key, names.is_config_map_key(key))
        total += _decoded_size(binary[key])
    if total > MAX_SECRET_SIZE:
        # Upstream's field.NewPath("") prints as "[]": the error is about the whole object.
        out.append(FieldError.too_long("[]", "", MAX_SECRET_SIZE))
    return out


def _immutable_bags(new: Obj, old: Obj, bags: tuple[str, ...]) -> list[FieldError]:
    if not old.get("immutable"):
        return []
    out: list[FieldError] = []
    if not new.get("immutable"):
        out.append(FieldError.forbidden("immutable", IMMUTABLE_WHEN_SET))
    for bag in bags:
        if (new.get(bag) or {}) != (old.get(bag) or {}):
            out.append(FieldError.forbidden(bag, IMMUTABLE_WHEN_SET))
    return out


def validate_config_map_update(new: Obj, old: Obj) -> list[FieldError]:
    return _immutable_bags(new, old, ("data", "binaryData")) + validate_config_map(new)


_SECRET_REQUIRED_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}


def validate_secret(secret: Obj) -> list[FieldError]:
    out: list[FieldError] = []
    data = dict(secret.get("data") or {})
    sizes = {k: _decoded_size(v) for k, v in data.items()}
    for key, value in (secret.get("stringData") or {}).items():
        data[key], sizes[key] = value, len(str(value).encode())
    for key in sorted(data):
        out += objectmeta.invalid_each(f"data[{key}]", key, names.is_config_map_key(key))
    if sum(sizes.values()) > MAX_SECRET_SIZE:
        out.append(FieldError.too_long("data", "", MAX_SECRET_SIZE))
    kind = secret.get("type") or ""
    if kind == "kubernetes.io/service-account-token":
        annotations = (secret.get("metadata") or {}).get("annotations") or {}
        if not annotations.get("kubernetes.io/service-account.name"):
            out.append(FieldError.required(
                "metadata.annotations[kubernetes.io/service-account.name]"))
    elif kind == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            out += [FieldError.required("data[username]"), FieldError.required("data[password]")]
    elif kind in _SECRET_REQUIRED_KEYS:
        for key in _SECRET_REQUIRED_KEYS[kind]:
            if key not in data:
                out.append(FieldError.required(f"data[{key}]"))
                if kind != "kubernetes.io/tls":
                    break
    return out


def validate_secret_update(new: Obj, old: Obj) -> list[FieldError]:
    out = objectmeta.immutable(new.get("type") or "", old.get("type") or "", "type")
    return out + _immutable_bags(new, old, ("data",)) + validate_secret(new)


# --- namespaces, service accounts ---------------------------------------------------------------

def validate_namespace(ns: Obj) -> list[FieldError]:
    out: list[FieldError] = []
    for i, f in enumerate((ns.get("spec") or {}).get("finalizers") or []):
        p = f"spec.finalizers[{i}]"
        out += objectmeta.invalid_each(p, f, names.is_qualified_name(f))
        if "/" not in f and f not in objectmeta.STANDARD_FINALIZERS:
            out.append(FieldError.invalid(p, f, objectmeta.NOT_STANDARD_FINALIZER))
    return out


def validate_service_account(_sa: Obj) -> list[FieldError]:
    return []
