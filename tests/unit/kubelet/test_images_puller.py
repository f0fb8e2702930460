"""ImagePuller: pull policies, pull secrets, back-off and upstream's events, against a stand-in
ImageService and a clock the test moves."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from cri_api.v1 import api_pb2

from kajitori.kubelet import images
from kajitori.kubelet.runtime import CRIError

Obj = dict[str, Any]

NOT_FOUND = ('failed to pull and unpack image "docker.io/library/nope:1": failed to resolve '
             'reference "docker.io/library/nope:1": not found')


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class StandInImages:
    """Images by name; a pull takes `pull_seconds` of the test clock and fails with
    `fail[name]` when set."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.present: dict[str, api_pb2.Image] = {}
        self.fail: dict[str, CRIError] = {}
        self.pulls: list[tuple[str, api_pb2.AuthConfig | None]] = []
        self.pull_seconds = 1.5

    async def image_status(self, image: str) -> api_pb2.Image | None:
        return self.present.get(image)

    async def pull_image(self, image: str, *, auth: api_pb2.AuthConfig | None = None,
                         sandbox_config: api_pb2.PodSandboxConfig | None = None) -> str:
        self.pulls.append((image, auth))
        await asyncio.sleep(0)
        self.clock.now += self.pull_seconds
        if image in self.fail:
            raise self.fail[image]
        digest = "sha256:" + format(len(self.pulls), "064x")
        self.present[image] = self.present[digest] = api_pb2.Image(
            id=digest, repo_tags=[image], size=1234)
        return digest


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []
        self.field_paths: dict[str, str] = {}
        """The field path of the last event of each reason."""

    def event(self, obj: Obj, type_: str, reason: str, message: str, *,
              field_path: str = "") -> None:
        self.events.append((type_, reason, message))
        self.field_paths[reason] = field_path


class Secrets:
    def __init__(self, *secrets: Obj) -> None:
        self.secrets = {s["metadata"]["name"]: s for s in secrets}

    async def secret(self, namespace: str, name: str) -> Obj | None:
        return self.secrets.get(name)


def _pod(*, pull_secrets: tuple[str, ...] = ()) -> Obj:
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
            "spec": {"imagePullSecrets": [{"name": n} for n in pull_secrets]}}


def _container(image: str, policy: str | None = None) -> Obj:
    container: Obj = {"name": "c", "image": image}
    if policy:
        container["imagePullPolicy"] = policy
    return container


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _docker_secret(name: str, auths: Obj, *, legacy: bool = False) -> Obj:
    if legacy:
        return {"metadata": {"name": name}, "type": "kubernetes.io/dockercfg",
                "data": {".dockercfg": _b64(json.dumps(auths).encode())}}
    return {"metadata": {"name": name}, "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": _b64(json.dumps({"auths": auths}).encode())}}


def _puller(*secrets: Obj) -> tuple[images.ImagePuller, StandInImages, Recorder, Clock]:
    clock = Clock()
    service, recorder = StandInImages(clock), Recorder()
    puller = images.ImagePuller(service, recorder=recorder, lookup=Secrets(*secrets),
                                clock=clock)
    return puller, service, recorder, clock


async def test_present_image_with_if_not_present_is_not_pulled() -> None:
    puller, service, recorder, _ = _puller()
    service.present["busybox:1.35"] = api_pb2.Image(id="sha256:abc", size=1)
    assert await puller.ensure_image(_pod(), _container("busybox:1.35")) == "sha256:abc"
    assert service.pulls == []
    assert recorder.events == [
        ("Normal", "Pulled", 'Container image "busybox:1.35" already present on machine')]


async def test_pull_events_name_the_container() -> None:
    puller, service, recorder, _ = _puller()
    service.present["busybox:1.35"] = api_pb2.Image(id="sha256:abc", size=1)
    pod, container = _pod(), _container("busybox:1.35")
    pod["spec"]["initContainers"] = [container]
    await puller.ensure_image(pod, container)
    assert recorder.field_paths == {"Pulled": "spec.initContainers{c}"}


async def test_untagged_image_defaults_to_latest_and_always_pulls() -> None:
    puller, service, recorder, _ = _puller()
    service.present["busybox:latest"] = api_pb2.Image(id="sha256:old", size=1)
    ref = await puller.ensure_image(_pod(), _container("busybox"))
    assert ref != "sha256:old"
    assert service.pulls == [("busybox:latest", None)]
    assert recorder.events == [
        ("Normal", "Pulling", 'Pulling image "busybox"'),
        ("Normal", "Pulled", 'Successfully pulled image "busybox" in 1.5s (1.5s including '
                             "waiting). Image size: 1234 bytes.")]


async def test_never_policy_without_the_image_fails() -> None:
    puller, service, recorder, _ = _puller()
    with pytest.raises(images.ImagePullError) as raised:
        await puller.ensure_image(_pod(), _container("busybox:1.35", "Never"))
    message = 'Container image "busybox:1.35" is not present with pull policy of Never'
    assert (raised.value.reason, raised.value.message) == ("ErrImageNeverPull", message)
    assert recorder.events == [("Warning", "ErrImageNeverPull", message),
                               ("Warning", "Failed", "Error: ErrImageNeverPull")]
    assert service.pulls == []


async def test_failed_pull_backs_off_doubling() -> None:
    puller, service, recorder, clock = _puller()
    service.fail["nope:1"] = CRIError("NOT_FOUND", NOT_FOUND)
    with pytest.raises(images.ImagePullError) as raised:
        await puller.ensure_image(_pod(), _container("nope:1"))
    error = f"rpc error: code = NotFound desc = {NOT_FOUND}"
    assert (raised.value.reason, raised.value.message) == ("ErrImagePull", error)
    assert recorder.events == [("Normal", "Pulling", 'Pulling image "nope:1"'),
                               ("Warning", "Failed", f'Failed to pull image "nope:1": {error}'),
                               ("Warning", "Failed", "Error: ErrImagePull")]
    recorder.events.clear()

    clock.now += 9
    with pytest.raises(images.ImagePullError) as raised:
        await puller.ensure_image(_pod(), _container("nope:1"))
    assert (raised.value.reason, raised.value.message) == (
        "ImagePullBackOff", 'Back-off pulling image "nope:1"')
    assert recorder.events == [("Normal", "BackOff", 'Back-off pulling image "nope:1"'),
                               ("Warning", "Failed", "Error: ImagePullBackOff")]
    assert len(service.pulls) == 1

    clock.now += 1  # 10 s after the failure: tried again, fails, now 20 s of back-off
    with pytest.raises(images.ImagePullError, match="ErrImagePull"):
        await puller.ensure_image(_pod(), _container("nope:1"))
    clock.now += 19
    with pytest.raises(images.ImagePullError, match="ImagePullBackOff"):
        await puller.ensure_image(_pod(), _container("nope:1"))
    assert len(service.pulls) == 2
    clock.now += 1
    service.fail.clear()
    await puller.ensure_image(_pod(), _container("nope:1"))
    assert len(service.pulls) == 3


async def test_back_off_is_per_pod() -> None:
    puller, service, _, _ = _puller()
    service.fail["nope:1"] = CRIError("NOT_FOUND", NOT_FOUND)
    with pytest.raises(images.ImagePullError, match="ErrImagePull"):
        await puller.ensure_image(_pod(), _container("nope:1"))
    other = _pod()
    other["metadata"]["uid"] = "u2"
    with pytest.raises(images.ImagePullError, match="ErrImagePull"):
        await puller.ensure_image(other, _container("nope:1"))


async def test_dockerconfigjson_secret_authenticates_its_registry() -> None:
    secret = _docker_secret("regcred", {
        "127.0.0.1:5000": {"auth": _b64(b"user:pa:ss")},
        "other.example.com": {"username": "x", "password": "y"}})
    puller, service, _, _ = _puller(secret)
    await puller.ensure_image(_pod(pull_secrets=("regcred",)),
                              _container("127.0.0.1:5000/kjt/busybox:v1"))
    [(_, auth)] = service.pulls
    assert auth is not None
    assert (auth.username, auth.password, auth.server_address) == ("user", "pa:ss", "")


async def test_dockercfg_secret_for_docker_hub_matches_short_names() -> None:
    secret = _docker_secret("hub", {"https://index.docker.io/v1/": {
        "username": "me", "password": "pw"}}, legacy=True)
    puller, service, _, _ = _puller(secret)
    await puller.ensure_image(_pod(pull_secrets=("hub",)), _container("busybox"))
    [(_, auth)] = service.pulls
    assert auth is not None
    assert (auth.username, auth.password) == ("me", "pw")


def test_most_specific_credentials_come_first() -> None:
    secret = _docker_secret("s", {"*.example.com": {"username": "any"},
                                  "reg.example.com/team": {"username": "team"},
                                  "reg.example.com": {"username": "host"}})
    assert [a.username for a in images.credentials_for("reg.example.com/team/app:1",
                                                       [secret])] == ["team", "host", "any"]
    assert [a.username for a in images.credentials_for("reg.example.com/else/app:1",
                                                       [secret])] == ["host", "any"]
    assert images.credentials_for("example.com/app:1", [secret]) == []


async def test_missing_pull_secret_warns_and_pulls_anonymously() -> None:
    puller, service, recorder, _ = _puller()
    await puller.ensure_image(_pod(pull_secrets=("gone", "also-gone")), _container("busybox"))
    assert service.pulls == [("busybox:latest", None)]
    assert recorder.events[0] == (
        "Warning", "FailedToRetrieveImagePullSecret",
        "Unable to retrieve some image pull secrets (gone, also-gone); attempting to pull the "
        "image may not succeed.")


async def test_every_credential_refused_is_reported() -> None:
    secret = _docker_secret("s", {"reg.example.com": {"username": "a"},
                                  "*.example.com": {"username": "b"}})
    puller, service, _, _ = _puller(secret)
    service.fail["reg.example.com/app:1"] = CRIError("UNKNOWN", "401 Unauthorized")
    with pytest.raises(images.ImagePullError) as raised:
        await puller.ensure_image(_pod(pull_secrets=("s",)), _container("reg.example.com/app:1"))
    assert raised.value.message == ("[rpc error: code = Unknown desc = 401 Unauthorized, "
                                    "rpc error: code = Unknown desc = 401 Unauthorized]")
    assert [auth.username for _, auth in service.pulls if auth] == ["a", "b"]


async def test_invalid_image_name() -> None:
    puller, _, recorder, _ = _puller()
    with pytest.raises(images.ImagePullError) as raised:
        await puller.ensure_image(_pod(), _container("Busybox"))
    message = ('Failed to apply default image tag "Busybox": couldn\'t parse image name '
               '"Busybox": invalid reference format: repository name (library/Busybox) must '
               "be lowercase")
    assert (raised.value.reason, raised.value.message) == ("InvalidImageName", message)
    assert recorder.events == [("Warning", "InspectFailed", message),
                               ("Warning", "Failed", "Error: InvalidImageName")]


async def test_serialized_pulls_report_their_waiting() -> None:
    puller, _, recorder, _ = _puller()
    await asyncio.gather(puller.ensure_image(_pod(), _container("a:1")),
                         puller.ensure_image(_pod(), _container("b:1")))
    pulled = [message for _, reason, message in recorder.events if reason == "Pulled"]
    assert pulled == [
        'Successfully pulled image "a:1" in 1.5s (1.5s including waiting). Image size: 1234 '
        "bytes.",
        'Successfully pulled image "b:1" in 1.5s (3s including waiting). Image size: 1234 '
        "bytes."]


@pytest.mark.parametrize(("image", "policy"), [
    ("busybox", "Always"), ("busybox:latest", "Always"), ("busybox:1.35", "IfNotPresent"),
    ("localhost:5000/app", "Always"), ("app@sha256:" + "0" * 64, "IfNotPresent")])
def test_default_pull_policy_follows_the_tag(image: str, policy: str) -> None:
    assert images.default_pull_policy(image) == policy


@pytest.mark.parametrize(("seconds", "text"), [
    (0.0004, "0s"), (0.313, "313ms"), (1.6619, "1.661s"), (2.0, "2s"), (62.5, "1m2.5s")])
def test_durations_print_as_go_does(seconds: float, text: str) -> None:
    assert images.go_duration(seconds) == text
