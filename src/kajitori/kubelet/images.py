"""`ImagePuller`: makes sure a container's image is on the node before the container is created.

Mirrors upstream's `pkg/kubelet/images/image_manager.go` (`EnsureImageExists`), its pullers
(`puller.go`: serialized by default, `serializeImagePulls`) and the kubelet's pull credentials
(`pkg/credentialprovider`: `imagePullSecrets` of types `kubernetes.io/dockerconfigjson` and
`kubernetes.io/dockercfg`, matched to the image's registry). The pod worker
(`kubelet/podworker.py`) calls `ensure_image` before creating a container and, on
`ImagePullError`, leaves the container waiting with the error's reason and message
(`ErrImagePull`, `ImagePullBackOff`, `ErrImageNeverPull`, `InvalidImageName`).

Events are upstream's words (reason, type, message): `Pulling`, `Pulled` ("Successfully pulled
image ... in 1.2s (1.2s including waiting). Image size: N bytes." or "Container image ...
already present on machine"), `Failed` ("Failed to pull image ...: <runtime's error>"), `BackOff`
("Back-off pulling image ..."), `ErrImageNeverPull`, `InspectFailed`; and, as upstream's
`startContainer` does right after, a `Failed` event "Error: <reason>" — so the pod worker does
not record that one again.

A failed pull puts the image of that pod (`<pod uid>_<image>`) in back-off: 10 s, doubling up to
300 s; while it lasts `ensure_image` fails at once with `ImagePullBackOff`. A success forgets
old back-offs (upstream's `backOff.GC`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import fnmatch
import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any, Protocol

from cri_api.v1 import api_pb2

from kajitori.api import meta
from kajitori.client import events
from kajitori.kubelet import containerref
from kajitori.kubelet.runtime import CRIError, ImageService

log = logging.getLogger(__name__)

Obj = dict[str, Any]

# Reasons: the container's waiting reason, and the `Error: <reason>` event.
ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
INVALID_IMAGE_NAME = "InvalidImageName"
ERR_IMAGE_INSPECT = "ImageInspectError"

# Event reasons (upstream's pkg/kubelet/events).
PULLING_IMAGE = "Pulling"
PULLED_IMAGE = "Pulled"
FAILED_TO_PULL_IMAGE = "Failed"
BACK_OFF_PULL_IMAGE = "BackOff"
ERR_IMAGE_NEVER_PULL_POLICY = "ErrImageNeverPull"
FAILED_TO_INSPECT_IMAGE = "InspectFailed"
FAILED_TO_CREATE_CONTAINER = "Failed"
FAILED_TO_RETRIEVE_IMAGE_PULL_SECRET = "FailedToRetrieveImagePullSecret"

MSG_PULLING = 'Pulling image "{image}"'
MSG_PULLED = ('Successfully pulled image "{image}" in {pull} ({total} including waiting). '
              "Image size: {size} bytes.")
MSG_PRESENT = 'Container image "{image}" already present on machine'
MSG_NEVER_PULL = 'Container image "{image}" is not present with pull policy of Never'
MSG_FAILED_PULL = 'Failed to pull image "{image}": {error}'
MSG_BACK_OFF = 'Back-off pulling image "{image}"'
MSG_INVALID_NAME = 'Failed to apply default image tag "{image}": {error}'
MSG_INSPECT_FAILED = 'Failed to inspect image "{image}": {error}'
MSG_ERROR = "Error: {reason}"
MSG_MISSING_SECRETS = ("Unable to retrieve some image pull secrets ({names}); attempting to "
                       "pull the image may not succeed.")

PULL_ALWAYS = "Always"
PULL_IF_NOT_PRESENT = "IfNotPresent"
PULL_NEVER = "Never"

BACKOFF_INITIAL = 10.0
"""Seconds of the first pull back-off (upstream's `backOffPeriod`)."""
BACKOFF_MAX = 300.0
"""Seconds the back-off stops doubling at (upstream's `MaxContainerBackOff`)."""

DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
DOCKER_CONFIG_JSON_KEY = ".dockerconfigjson"
DOCKERCFG = "kubernetes.io/dockercfg"
DOCKERCFG_KEY = ".dockercfg"
DEFAULT_REGISTRY = "docker.io"
_DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

# The reference grammar of github.com/distribution/reference, enough to refuse what a
# registry would: lowercase path components, an optional host[:port], tag, digest.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"^(?:(?P<host>{_HOST})/)?(?P<path>{_COMPONENT}(?:/{_COMPONENT})*)"
                        rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$")


class ImagePullError(Exception):
    """The image is not there and will not be for now: `reason` is the container's waiting
    reason, `message` its waiting message (upstream's words)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class Recorder(Protocol):
    """What the puller needs of `kajitori.client.events.EventRecorder`."""

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None: ...


class SecretLookup(Protocol):
    """What the puller needs of `kajitori.kubelet.lookup.ObjectLookup`."""

    async def secret(self, namespace: str, name: str) -> Obj | None: ...


# image references

@dataclasses.dataclass(frozen=True)
class ImageReference:
    host: str
    """The registry, `docker.io` when the name has none."""
    path: str
    """The repository inside it (`library/busybox` for `busybox`)."""
    tag: str
    digest: str

    @property
    def repository(self) -> str:
        return f"{self.host}/{self.path}"


def parse_reference(image: str) -> ImageReference:
    """The parts of an image name as containerd normalises it. Raises ValueError in the words
    of upstream's parser (`couldn't parse image name "X": invalid reference format`)."""
    match = _REFERENCE.match(image)
    if not match:
        problem = "invalid reference format"
        lowered = _REFERENCE.match(image.lower())
        if lowered:
            remote = _normalize(lowered["host"], image[lowered.start("path"):lowered.end("path")])
            problem += f": repository name ({remote[1]}) must be lowercase"
        raise ValueError(f'couldn\'t parse image name "{image}": {problem}')
    host, path = _normalize(match["host"], match["path"])
    return ImageReference(host=host, path=path, tag=match["tag"] or "",
                          digest=match["digest"] or "")


def _normalize(host: str | None, path: str) -> tuple[str, str]:
    """(registry, repository) as containerd's `docker.io/library/` normalisation makes them."""
    if host is None or ("." not in host and ":" not in host and host != "localhost"
                        and not host.startswith("[")):
        path = f"{host}/{path}" if host else path
        host = DEFAULT_REGISTRY
    if host in _DOCKER_HUB_HOSTS:
        host = DEFAULT_REGISTRY
        if "/" not in path:
            path = f"library/{path}"
    return host, path


def apply_default_tag(image: str) -> str:
    """`image` with `:latest` when it has neither tag nor digest (upstream's
    applyDefaultImageTag; the name itself stays as written). Raises ValueError."""
    ref = parse_reference(image)
    return image if ref.tag or ref.digest else f"{image}:latest"


def default_pull_policy(image: str) -> str:
    """The policy the API server gives a container without one: `Always` for `:latest` or no
    tag (and no digest), else `IfNotPresent`."""
    try:
        ref = parse_reference(image)
    except ValueError:
        return PULL_IF_NOT_PRESENT
    if ref.digest or (ref.tag and ref.tag != "latest"):
        return PULL_IF_NOT_PRESENT
    return PULL_ALWAYS


# pull secrets -> AuthConfig

def _docker_entries(secret: Obj) -> dict[str, Any]:
    """`{registry key: {username, password, auth, ...}}` of a docker config Secret; other
    Secret types, and undecodable data, give nothing (upstream ignores them too)."""
    data = secret.get("data") or {}
    kind = secret.get("type")
    key = {DOCKER_CONFIG_JSON: DOCKER_CONFIG_JSON_KEY, DOCKERCFG: DOCKERCFG_KEY}.get(kind or "")
    if key is None or key not in data:
        return {}
    try:
        parsed = json.loads(base64.b64decode(data[key]))
    except (binascii.Error, ValueError):
        log.warning("unable to parse the docker config of secret %s/%s",
                    meta.namespace(secret), meta.name(secret))
        return {}
    entries = parsed.get("auths") if kind == DOCKER_CONFIG_JSON else parsed
    return entries if isinstance(entries, dict) else {}


def _registry_key(key: str) -> tuple[str, str]:
    """A docker config key as (host glob, path prefix): scheme and a `/v1/`-style API suffix
    dropped, Docker Hub's many names made one."""
    key = key.split("://", 1)[-1].rstrip("/")
    host, _, path = key.partition("/")
    if path in ("v1", "v2"):
        path = ""
    if host in _DOCKER_HUB_HOSTS:
        host = DEFAULT_REGISTRY
    return host, path


def _matches(key_host: str, key_path: str, ref: ImageReference) -> bool:
    host_parts, image_parts = key_host.split("."), ref.host.split(".")
    if len(host_parts) != len(image_parts) or not all(
            fnmatch.fnmatchcase(part, pattern) for part, pattern in zip(image_parts, host_parts,
                                                                        strict=True)):
        return False
    return not key_path or ref.path == key_path or ref.path.startswith(key_path + "/")


def _auth_config(server: str, entry: dict[str, Any]) -> api_pb2.AuthConfig:
    """The CRI credentials of one pull-secret entry. No `server_address`, as upstream's keyring
    leaves it out: the entry was matched to the image already, and containerd 1.6 parses a
    server address as a URL, refusing a bare `host:port` ("first path segment in URL cannot
    contain colon")."""
    username, password = str(entry.get("username") or ""), str(entry.get("password") or "")
    auth = str(entry.get("auth") or "")
    if auth and not username:
        try:
            username, _, password = base64.b64decode(auth).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            log.warning("undecodable auth for registry %s in a pull secret", server)
    return api_pb2.AuthConfig(username=username, password=password, auth=auth,
                              identity_token=str(entry.get("identitytoken") or ""),
                              registry_token=str(entry.get("registrytoken") or ""))


def credentials_for(image: str, secrets: list[Obj]) -> list[api_pb2.AuthConfig]:
    """The credentials of `secrets` that apply to `image`, most specific first (longest
    matching key), as upstream's keyring `Lookup`; empty when none applies."""
    ref = parse_reference(image)
    found: list[tuple[int, int, api_pb2.AuthConfig]] = []
    for secret in secrets:
        for key, entry in _docker_entries(secret).items():
            host, path = _registry_key(key)
            if isinstance(entry, dict) and _matches(host, path, ref):
                found.append((-len(host) - len(path), len(found), _auth_config(host, entry)))
    return [auth for _, _, auth in sorted(found, key=lambda f: (f[0], f[1]))]


# durations as Go prints them

def go_duration(seconds: float) -> str:
    """`time.Duration.String()` of `seconds` truncated to milliseconds: `313ms`, `1.661s`,
    `1m2.5s`."""
    ms = int(seconds * 1000)
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest // 1000}.{rest % 1000:03d}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    if minutes:
        return f"{minutes}m{secs}"
    return secs


# back-off

@dataclasses.dataclass
class _Entry:
    delay: float
    updated: float


class PullBackOff:
    """Upstream's `flowcontrol.Backoff` as the image manager uses it: per key, the delay
    doubles from `initial` to `cap` with each failure, and starts again from `initial` once a
    key has been quiet for twice `cap`."""

    def __init__(self, *, initial: float = BACKOFF_INITIAL, cap: float = BACKOFF_MAX,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._initial, self._cap, self._clock = initial, cap, clock
        self._entries: dict[str, _Entry] = {}

    def _expired(self, entry: _Entry, now: float) -> bool:
        return now - entry.updated > 2 * self._cap

    def in_back_off(self, key: str) -> bool:
        entry = self._entries.get(key)
        return entry is not None and self._clock() - entry.updated < entry.delay

    def next(self, key: str) -> None:
        now = self._clock()
        entry = self._entries.get(key)
        if entry is None or self._expired(entry, now):
            self._entries[key] = _Entry(self._initial, now)
        else:
            entry.delay, entry.updated = min(entry.delay * 2, self._cap), now

    def gc(self) -> None:
        now = self._clock()
        for key in [k for k, e in self._entries.items() if self._expired(e, now)]:
            del self._entries[key]


# the puller

def pull_policy(container: Obj) -> str:
    return str(container.get("imagePullPolicy") or default_pull_policy(container["image"]))


def _crierror_text(exc: CRIError) -> str:
    """A CRI error as upstream prints a gRPC error (`rpc error: code = NotFound desc = ...`)."""
    code = "".join(part.capitalize() for part in exc.code.split("_"))
    return f"rpc error: code = {code} desc = {exc.message}"


class ImagePuller:
    """Ensures images for containers; one per kubelet. Safe to call concurrently: with
    `serialize` (upstream's default) one pull runs at a time, the others wait their turn (the
    "including waiting" of the Pulled event)."""

    def __init__(self, image_service: ImageService, *, recorder: Recorder,
                 lookup: SecretLookup, serialize: bool = True,
                 backoff_initial: float = BACKOFF_INITIAL, backoff_max: float = BACKOFF_MAX,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """`clock`: monotonic seconds for back-off and pull durations (tests pass a fake)."""
        self._images = image_service
        self._recorder = recorder
        self._lookup = lookup
        self._clock = clock
        self._backoff = PullBackOff(initial=backoff_initial, cap=backoff_max, clock=clock)
        self._serial = asyncio.Lock() if serialize else None

    def _fail(self, pod: Obj, reason: str, message: str, *, event_type: str,
              event_reason: str, event_message: str, field_path: str) -> ImagePullError:
        self._recorder.event(pod, event_type, event_reason, event_message,
                             field_path=field_path)
        self._recorder.event(pod, events.WARNING, FAILED_TO_CREATE_CONTAINER,
                             MSG_ERROR.format(reason=reason), field_path=field_path)
        return ImagePullError(reason, message)

    async def ensure_image(self, pod: Obj, container: Obj, *,
                           sandbox_config: api_pb2.PodSandboxConfig | None = None) -> str:
        """The image reference (`sha256:` id) of `container`'s image, pulling it if its pull
        policy says so. Raises ImagePullError; records events about `pod`."""
        image = container["image"]
        field_path = containerref.field_path(pod, str(container.get("name")))
        try:
            spec_image = apply_default_tag(image)
        except ValueError as exc:
            message = MSG_INVALID_NAME.format(image=image, error=exc)
            raise self._fail(pod, INVALID_IMAGE_NAME, message, event_type=events.WARNING,
                             event_reason=FAILED_TO_INSPECT_IMAGE,
                             event_message=message, field_path=field_path) from exc
        try:
            present = await self._images.image_status(spec_image)
        except CRIError as exc:
            message = MSG_INSPECT_FAILED.format(image=image, error=_crierror_text(exc))
            raise self._fail(pod, ERR_IMAGE_INSPECT, message, event_type=events.WARNING,
                             event_reason=FAILED_TO_INSPECT_IMAGE,
                             event_message=message, field_path=field_path) from exc
        policy = pull_policy(container)
        if policy == PULL_NEVER or (policy == PULL_IF_NOT_PRESENT and present is not None):
            if present is not None:
                self._recorder.event(pod, events.NORMAL, PULLED_IMAGE,
                                     MSG_PRESENT.format(image=image), field_path=field_path)
                return str(present.id)
            message = MSG_NEVER_PULL.format(image=image)
            raise self._fail(pod, ERR_IMAGE_NEVER_PULL, message, event_type=events.WARNING,
                             event_reason=ERR_IMAGE_NEVER_PULL_POLICY, event_message=message,
                             field_path=field_path)

        key = f"{meta.uid(pod)}_{image}"
        if self._backoff.in_back_off(key):
            message = MSG_BACK_OFF.format(image=image)
            raise self._fail(pod, IMAGE_PULL_BACK_OFF, message, event_type=events.NORMAL,
                             event_reason=BACK_OFF_PULL_IMAGE, event_message=message,
                             field_path=field_path)
        auths = credentials_for(spec_image, await self._pull_secrets(pod))
        self._recorder.event(pod, events.NORMAL, PULLING_IMAGE, MSG_PULLING.format(image=image),
                             field_path=field_path)
        started = self._clock()
        try:
            image_ref, size, pulled_in = await self._pull(spec_image, auths, sandbox_config)
        except CRIError as exc:
            self._backoff.next(key)
            error = _error_text(exc)
            raise self._fail(pod, ERR_IMAGE_PULL, error, event_type=events.WARNING,
                             event_reason=FAILED_TO_PULL_IMAGE,
                             event_message=MSG_FAILED_PULL.format(image=image, error=error),
                             field_path=field_path) from exc
        self._recorder.event(pod, events.NORMAL, PULLED_IMAGE, MSG_PULLED.format(
            image=image, pull=go_duration(pulled_in),
            total=go_duration(self._clock() - started), size=size), field_path=field_path)
        self._backoff.gc()
        return image_ref

    async def _pull_secrets(self, pod: Obj) -> list[Obj]:
        """The pod's pull secrets that exist; a `FailedToRetrieveImagePullSecret` warning names
        those that do not (the pull is tried anyway, as upstream)."""
        found: list[Obj] = []
        missing: list[str] = []
        for ref in (pod.get("spec") or {}).get("imagePullSecrets") or []:
            name = (ref or {}).get("name") or ""
            if not name:
                continue
            secret = await self._lookup.secret(meta.namespace(pod), name)
            if secret is None:
                missing.append(name)
            else:
                found.append(secret)
        if missing:
            self._recorder.event(pod, events.WARNING, FAILED_TO_RETRIEVE_IMAGE_PULL_SECRET,
                                 MSG_MISSING_SECRETS.format(names=", ".join(missing)))
        return found

    async def _pull(self, image: str, auths: list[api_pb2.AuthConfig],
                    sandbox_config: api_pb2.PodSandboxConfig | None
                    ) -> tuple[str, int, float]:
        """(image ref, size in bytes, seconds the pull itself took), trying each credential in
        turn (none when there is none). Raises CRIError: the only error, or all of them as
        upstream aggregates (`[e1, e2]`)."""
        if self._serial is None:
            return await self._pull_now(image, auths, sandbox_config)
        async with self._serial:
            return await self._pull_now(image, auths, sandbox_config)

    async def _pull_now(self, image: str, auths: list[api_pb2.AuthConfig],
                        sandbox_config: api_pb2.PodSandboxConfig | None
                        ) -> tuple[str, int, float]:
        started = self._clock()
        failures: list[CRIError] = []
        tries: list[api_pb2.AuthConfig | None] = [*auths] or [None]
        for auth in tries:
            try:
                image_ref = await self._images.pull_image(image, auth=auth,
                                                          sandbox_config=sandbox_config)
            except CRIError as exc:
                failures.append(exc)
                continue
            pulled_in = self._clock() - started
            status = await self._images.image_status(image_ref)
            return image_ref, int(status.size) if status is not None else 0, pulled_in
        if len(failures) == 1:
            raise failures[0]
        raise _AggregateCRIError(failures)


class _AggregateCRIError(CRIError):
    """Several credentials, each refused: printed as upstream's `utilerrors.NewAggregate`."""

    def __init__(self, failures: list[CRIError]) -> None:
        super().__init__(failures[-1].code, failures[-1].message)
        self.failures = failures


def _error_text(exc: CRIError) -> str:
    if isinstance(exc, _AggregateCRIError):
        return "[" + ", ".join(_crierror_text(f) for f in exc.failures) + "]"
    return _crierror_text(exc)
