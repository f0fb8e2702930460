"""ServiceAccount: every pod runs as a ServiceAccount that exists, with its API token mounted.

Mirrors plugin/pkg/admission/serviceaccount/admission.go (v1.33) for a pod's create: an unnamed
account is `default` (also written to the deprecated `serviceAccount`); the account must exist,
else 403 `error looking up service account <ns>/<name>: serviceaccount "<name>" not found`;
upstream looks `default` up several times over about a second and a half, since the
ServiceAccount controller creates it just after the namespace. Unless the pod, or else the
account, says `automountServiceAccountToken: false`, a projected `kube-api-access-<5 chars>`
volume (a bound token of 3607 seconds, the `kube-root-ca.crt` CA, the namespace) is added and
mounted read-only at `/var/run/secrets/kubernetes.io/serviceaccount` in every container and
init container that has nothing mounted there; a pod that already has a `kube-api-access-`
volume keeps it. The account's image pull secrets become the pod's if it names none. Mirror
pods (static pods the kubelet reports) are left as they are.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from kajitori.admission import refusal
from kajitori.admission.interface import Attributes

Obj = dict[str, Any]

PLUGIN_NAME = "ServiceAccount"
DEFAULT_SERVICE_ACCOUNT = "default"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
VOLUME_PREFIX = "kube-api-access-"
VOLUME_SUFFIX_LENGTH = 5
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # utilrand.String's: no vowels, no look-alikes
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
TOKEN_EXPIRATION_SECONDS = 3607  # an hour, plus the kubelet's refresh margin
ROOT_CA_CONFIG_MAP = "kube-root-ca.crt"
PROJECTED_DEFAULT_MODE = 0o644
LOOKUP_FAILED = "error looking up service account {namespace}/{name}: {reason}"
NOT_FOUND = 'serviceaccount "{name}" not found'
DEFAULT_LOOKUPS = 10
"""How often `default` is looked up before giving up (other accounts: once)."""


class ServiceAccount:
    name = PLUGIN_NAME

    def __init__(self, *, get_service_account: Callable[[str, str], Awaitable[Obj | None]],
                 retry_interval: Callable[[], float] = lambda: random.uniform(0.1, 0.2)) -> None:
        """`retry_interval`: seconds between lookups of `default` (upstream: 100-200ms)."""
        self._get_service_account = get_service_account
        self._retry_interval = retry_interval

    async def admit(self, attrs: Attributes) -> None:
        resource = attrs.resource
        if (resource.group, resource.plural) != ("", "pods") or attrs.operation != "CREATE" \
                or attrs.subresource or attrs.obj is None:
            return
        pod = attrs.obj
        if MIRROR_POD_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {}):
            return
        spec = pod.setdefault("spec", {})
        account_name = spec.get("serviceAccountName") or DEFAULT_SERVICE_ACCOUNT
        spec["serviceAccountName"] = account_name
        spec["serviceAccount"] = account_name
        account = await self._look_up(attrs.namespace, account_name)
        if account is None:
            raise refusal.forbidden(attrs, LOOKUP_FAILED.format(
                namespace=attrs.namespace, name=account_name,
                reason=NOT_FOUND.format(name=account_name)))
        if should_automount(account, pod):
            mount_token(pod)
        if not spec.get("imagePullSecrets") and account.get("imagePullSecrets"):
            spec["imagePullSecrets"] = [{"name": s.get("name", "")}
                                        for s in account["imagePullSecrets"]]

    async def _look_up(self, namespace: str, name: str) -> Obj | None:
        attempts = DEFAULT_LOOKUPS if name == DEFAULT_SERVICE_ACCOUNT else 1
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self._retry_interval())
            account = await self._get_service_account(namespace, name)
            if account is not None:
                return account
        return None


def should_automount(account: Obj, pod: Obj) -> bool:
    """The pod's `automountServiceAccountToken` if set, else the account's, else true."""
    own = (pod.get("spec") or {}).get("automountServiceAccountToken")
    if own is not None:
        return bool(own)
    return account.get("automountServiceAccountToken") is not False


def mount_token(pod: Obj) -> None:
    """Mount the token volume in every container lacking a mount at MOUNT_PATH; add the
    volume if one was mounted and the pod has no `kube-api-access-` volume yet."""
    spec = pod["spec"]
    volumes = spec.get("volumes") or []
    existing = next((v["name"] for v in volumes
                     if str(v.get("name", "")).startswith(VOLUME_PREFIX)), None)
    volume_name = existing or VOLUME_PREFIX + "".join(
        secrets.choice(NAME_ALPHABET) for _ in range(VOLUME_SUFFIX_LENGTH))
    mounted = False
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        mounts = container.setdefault("volumeMounts", [])
        if any(m.get("mountPath") == MOUNT_PATH for m in mounts):
            continue
        mounts.append({"name": volume_name, "readOnly": True, "mountPath": MOUNT_PATH})
        mounted = True
    if mounted and existing is None:
        spec["volumes"] = [*volumes, token_volume(volume_name)]


def token_volume(name: str) -> Obj:
    """The projected volume upstream's plugin builds: token, root CA, namespace."""
    return {"name": name, "projected": {
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS,
                                     "path": "token"}},
            {"configMap": {"name": ROOT_CA_CONFIG_MAP,
                           "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ],
        "defaultMode": PROJECTED_DEFAULT_MODE}}
