"""The tutorials' images in a local registry, for nodes to pull by their real names.

`running_tutorial_registry(directory)` builds every recipe of `imagebuild.TUTORIAL_RECIPES`
(once per machine: builds are cached), starts Debian's docker-registry on a free loopback
port with its storage under `directory`, pushes each image under its name without the
registry's host (`docker.io/library/nginx:latest` as `library/nginx:latest`,
`registry.k8s.io/goproxy:0.1` as `goproxy:0.1`), and writes a k3s `registries.yaml` that
mirrors docker.io, registry.k8s.io and gcr.io to it. An agent given that file
(`agentnode.running_agent_node(root, registries=...)`) pulls `nginx` as a real node pulls it
from Docker Hub: containerd resolves `docker.io/library/nginx:latest` through the mirror. The
three registries share the one mirror: none of their tutorial repositories collide.

Images are pushed with a small registry v2 client (urllib): each blob of the OCI archive
once per repository, then the manifest under each tag, so the registry serves exactly the
built digests (`BuiltImage.manifest_digest`).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import shutil
import subprocess
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import agentnode
import yaml

from kajitori.kubelet import imagebuild

REGISTRY_BINARY = "/usr/bin/docker-registry"
MIRRORED_REGISTRIES = ("docker.io", "registry.k8s.io", "gcr.io")
"""The registries the tutorials' images come from."""
START_TIMEOUT = 10.0
BUILD_WORKERS = 4


@dataclass(frozen=True)
class TutorialRegistry:
    host: str
    """`127.0.0.1:<port>`, plain HTTP."""
    registries_file: Path
    """The k3s `registries.yaml` mirroring `MIRRORED_REGISTRIES` to `host`."""
    images: dict[str, imagebuild.BuiltImage]
    """Every pushed image by its full name (`docker.io/library/nginx:latest`)."""


def skip_reason() -> str | None:
    """Why the registry cannot run here, or None."""
    if not Path(REGISTRY_BINARY).exists():
        return f"needs {REGISTRY_BINARY} (apt-get install docker-registry)"
    if not Path("/bin/busybox").exists():
        return "needs busybox-static (apt-get install busybox-static)"
    for tool in ("gcc", "dpkg-deb", "apt-get"):
        if shutil.which(tool) is None:
            return f"building the tutorial images needs {tool}"
    return None


def split_name(name: str) -> tuple[str, str, str]:
    """`registry.k8s.io/e2e-test-images/agnhost:2.45` -> (registry, repository, tag)."""
    registry, _, rest = name.partition("/")
    repository, _, tag = rest.rpartition(":")
    return registry, repository, tag


def registries_yaml(host: str) -> str:
    """k3s's registries.yaml: every registry of `MIRRORED_REGISTRIES` mirrored to `host`."""
    return yaml.safe_dump({"mirrors": {registry: {"endpoint": [f"http://{host}"]}
                                       for registry in MIRRORED_REGISTRIES}})


def _request(method: str, url: str, *, data: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        if method == "HEAD" and error.code == 404:
            return 404, dict(error.headers)
        raise AssertionError(f"{method} {url}: {error.code} {error.read()[:300]!r}") from None


def push(host: str, built: imagebuild.BuiltImage) -> None:
    """Every name of `built` into the registry at `host`, by the v2 API."""
    with tarfile.open(built.oci_archive) as tar:
        blobs = {member.name.removeprefix("blobs/sha256/"): tar.extractfile(member).read()  # type: ignore[union-attr]
                 for member in tar.getmembers() if member.name.startswith("blobs/sha256/")}
    manifest_hex = built.manifest_digest.removeprefix("sha256:")
    manifest = json.loads(blobs[manifest_hex])
    digests = [manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])]
    base = f"http://{host}/v2"
    for name in built.names:
        _, repository, tag = split_name(name)
        for digest in digests:
            status, _ = _request("HEAD", f"{base}/{repository}/blobs/{digest}")
            if status == 200:
                continue
            _, headers = _request("POST", f"{base}/{repository}/blobs/uploads/", data=b"")
            location = urllib.parse.urljoin(f"http://{host}/", headers["Location"])
            separator = "&" if "?" in location else "?"
            _request("PUT", f"{location}{separator}digest={digest}",
                     data=blobs[digest.removeprefix("sha256:")],
                     headers={"Content-Type": "application/octet-stream"})
        _request("PUT", f"{base}/{repository}/manifests/{tag}", data=blobs[manifest_hex],
                 headers={"Content-Type": manifest["mediaType"]})


def build_all() -> dict[str, imagebuild.BuiltImage]:
    """Every tutorial image by name (cached builds come back at once)."""
    with concurrent.futures.ThreadPoolExecutor(BUILD_WORKERS) as pool:
        builds = list(pool.map(imagebuild.build_builtin, imagebuild.TUTORIAL_RECIPES))
    return {name: built for built in builds for name in built.names}


@contextlib.contextmanager
def serving_registry(directory: Path, host: str, *,
                     htpasswd: Path | None = None) -> Iterator[None]:
    """Debian's docker-registry on `host` with its storage under `directory` (kept between
    runs on the same directory), answering once `/v2/` does; with `htpasswd`, it asks for
    basic authentication against that file. Stopped at the end."""
    settings: dict[str, object] = {
        "version": 0.1, "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(directory / "data")}},
        "http": {"addr": host}}
    if htpasswd is not None:
        settings["auth"] = {"htpasswd": {"realm": "kajitori", "path": str(htpasswd)}}
    config = directory / "config.yml"
    config.write_text(yaml.safe_dump(settings))
    with (directory / "registry.log").open("ab") as out:
        process = subprocess.Popen([REGISTRY_BINARY, "serve", str(config)], stdout=out,
                                   stderr=out)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"http://{host}/v2/", timeout=1):
                    break
            except urllib.error.HTTPError:
                break  # 401: up, and asking for credentials
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextlib.contextmanager
def running_tutorial_registry(directory: Path) -> Iterator[TutorialRegistry]:
    """The registry with every tutorial image (see the module doc); stopped at the end."""
    images = build_all()
    host = f"127.0.0.1:{agentnode.free_port()}"
    with serving_registry(directory, host):
        for built in {id(b): b for b in images.values()}.values():
            push(host, built)
        registries_file = directory / "registries.yaml"
        registries_file.write_text(registries_yaml(host))
        yield TutorialRegistry(host=host, registries_file=registries_file, images=images)
