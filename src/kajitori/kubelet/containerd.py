"""containerd for the kubelet: the config it needs on these machines, and the daemon's process.

`kajitori agent` runs containerd itself, as k3s does (`pkg/agent/containerd/`): `serve()`
writes `<root>/containerd/config.toml` and starts `containerd --config` in a session of its own,
so that it (and the pods' shims) outlive a kubelet that is killed or restarted; the next
kubelet finds its socket answering and adopts it instead of starting a second one.

Everything containerd keeps lives under `<root>` (root, state, socket, the `opt` plugin's
directory, runc's state), never in /var/lib/containerd, /run/containerd or /opt, so a node's
containerd and the host's own never meet. The config carries the fixes these machines need
(/work/shared/docs/node-runtime-facts.md §3): `restrict_oom_score_adj` (there is no
CAP_SYS_RESOURCE to lower a sandbox's oom_score_adj), cgroupfs cgroups with absolute paths (the
CRI plugin's default), and the CNI plugins of Debian's containernetworking-plugins.

Registry mirrors and credentials come in k3s's `registries.yaml` shape and become containerd's
own: a `hosts.toml` per registry under `<root>/containerd/certs.d` (mirrors, TLS), and the CRI
plugin's `registry.configs.<host>.auth` (credentials; containerd 1.6 has no place for them in
hosts.toml).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import signal
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from kajitori.kubelet import cri, imagebuild
from kajitori.kubelet.runtime import CRIError

log = logging.getLogger(__name__)

CONTAINERD_BINARY = "/usr/bin/containerd"
CNI_BIN_DIR = "/usr/lib/cni"
"""Where Debian's containernetworking-plugins puts the CNI plugins."""
K8S_NAMESPACE = "k8s.io"
"""The containerd namespace the CRI plugin keeps pods and images in."""

START_TIMEOUT = 30.0
"""Seconds containerd may take to answer CRI `Version` (about 0.1 s on these machines)."""
STOP_TIMEOUT = 10.0
"""Seconds between SIGTERM and SIGKILL when stopping containerd (SIGTERM takes ~1.5 s)."""
DISABLED_PLUGINS = ("io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs")
"""Snapshotters these machines cannot use: disabled, they cost nothing and log nothing."""
_POLL_INTERVAL = 0.05


@dataclasses.dataclass(frozen=True)
class ContainerdSettings:
    """Where containerd lives and what it is told; `root` is the kubelet's data directory."""

    root: Path
    """Everything goes under `root/containerd` (config, data, state, socket, log) and the CNI
    config under `root/cni`."""
    sandbox_image: str = imagebuild.PAUSE_IMAGE
    """The pause image of every pod sandbox; upstream's `--pod-infra-container-image`. Ours is
    built locally (`images/pause`) so an offline node can run pods."""
    registries: Mapping[str, Any] | None = None
    """Mirrors and credentials in k3s's `registries.yaml` shape (`mirrors`, `configs`); None for
    plain access to every registry (`load_registries` reads the file)."""
    stream_server_address: str = "127.0.0.1"
    """Where containerd's streaming server (exec, attach, port-forward URLs) listens."""
    stream_server_port: int = 0
    """0 picks a free port."""
    log_level: str = "info"

    @property
    def directory(self) -> Path:
        return self.root / "containerd"

    @property
    def config_file(self) -> Path:
        return self.directory / "config.toml"

    @property
    def socket(self) -> str:
        return str(self.directory / "containerd.sock")

    @property
    def log_file(self) -> Path:
        return self.directory / "containerd.log"

    @property
    def pid_file(self) -> Path:
        return self.directory / "containerd.pid"

    @property
    def hosts_dir(self) -> Path:
        """containerd's `config_path`: one `<host>/hosts.toml` per configured registry."""
        return self.directory / "certs.d"

    @property
    def cni_conf_dir(self) -> Path:
        return self.root / "cni" / "net.d"


@dataclasses.dataclass
class Containerd:
    """A containerd that answers on `socket`; `pid` is None when it was adopted without a pid
    file (started by someone else)."""

    socket: str
    pid: int | None
    adopted: bool

    async def stop(self, *, grace: float = STOP_TIMEOUT) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds; returns once the process is gone. The pods'
        shims are not stopped: remove the pods first to be rid of them too."""
        if self.pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while _alive(self.pid):
            if loop.time() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
                deadline = float("inf")
            await asyncio.sleep(_POLL_INTERVAL)


def _alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (our exited child not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def load_registries(path: Path) -> dict[str, Any]:
    """A k3s `registries.yaml`; an empty file is no configuration."""
    return yaml.safe_load(path.read_text()) or {}


# config.toml

def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: JSON's escapes are TOML's
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _toml(tables: Mapping[str, Mapping[str, Any]]) -> str:
    """TOML text of `{table name: {key: value}}`; the table "" holds the top-level keys."""
    lines: list[str] = []
    for name, keys in tables.items():
        if name:
            lines.append(f"\n[{name}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in keys.items())
    return "\n".join(lines).lstrip("\n") + "\n"


def _quoted(host: str) -> str:
    return json.dumps(host)


CRI = 'plugins."io.containerd.grpc.v1.cri"'


def render_config(settings: ContainerdSettings) -> str:
    """containerd's `config.toml` (version 2) for `settings`."""
    d = settings.directory
    tables: dict[str, dict[str, Any]] = {
        "": {"version": 2, "root": str(d / "root"), "state": str(d / "state"),
             "oom_score": 0, "disabled_plugins": list(DISABLED_PLUGINS)},
        "grpc": {"address": settings.socket},
        "debug": {"level": settings.log_level},
        'plugins."io.containerd.internal.v1.opt"': {"path": str(d / "opt")},
        CRI: {
            "sandbox_image": settings.sandbox_image,
            # No CAP_SYS_RESOURCE here: a sandbox's oom_score_adj -998 cannot be set.
            "restrict_oom_score_adj": True,
            # Network namespaces under our state dir, not /var/run/netns.
            "netns_mounts_under_state_dir": True,
            "systemd_cgroup": False,
            "enable_unprivileged_ports": False,
            "stream_server_address": settings.stream_server_address,
            "stream_server_port": str(settings.stream_server_port),
            "tolerate_missing_hugetlb_controller": True,
            "disable_hugetlb_controller": True,
        },
        f"{CRI}.cni": {"bin_dir": CNI_BIN_DIR, "conf_dir": str(settings.cni_conf_dir),
                       "max_conf_num": 1},
        f"{CRI}.containerd": {"snapshotter": "overlayfs", "default_runtime_name": "runc"},
        f"{CRI}.containerd.runtimes.runc": {"runtime_type": "io.containerd.runc.v2"},
        f"{CRI}.containerd.runtimes.runc.options": {
            "SystemdCgroup": False, "Root": str(d / "runc")},
        f"{CRI}.registry": {"config_path": str(settings.hosts_dir)},
    }
    for host, auth in registry_auths(settings.registries or {}).items():
        tables[f"{CRI}.registry.configs.{_quoted(host)}.auth"] = auth
    return _toml(tables)


# registries.yaml -> hosts.toml

def _endpoint_url(endpoint: str) -> str:
    """k3s reads a mirror endpoint without a scheme as https."""
    return endpoint if "://" in endpoint else f"https://{endpoint}"


def _endpoint_host(endpoint: str) -> str:
    return _endpoint_url(endpoint).split("://", 1)[1].split("/", 1)[0]


def _default_server(registry: str) -> str:
    """Where a registry is reached without mirrors, as containerd resolves it."""
    if registry == "docker.io":
        return "https://registry-1.docker.io"
    return f"https://{registry}"


def _tls_keys(tls: Mapping[str, Any]) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    if tls.get("ca_file"):
        keys["ca"] = tls["ca_file"]
    if tls.get("cert_file") and tls.get("key_file"):
        keys["client"] = [[tls["cert_file"], tls["key_file"]]]
    if tls.get("insecure_skip_verify"):
        keys["skip_verify"] = True
    return keys


def registry_hosts(registries: Mapping[str, Any]) -> dict[str, str]:
    """`{directory name: hosts.toml text}` for a k3s `registries.yaml`.

    A mirror becomes a `[host."<endpoint>"]` table tried in the listed order before the
    registry itself (`server`), as k3s falls back to the default endpoint; the TLS settings of
    `configs.<host>.tls` go to the table of that host. The mirror `"*"` is containerd's
    `_default` directory, used for every registry without one of its own."""
    configs: Mapping[str, Any] = registries.get("configs") or {}
    files: dict[str, str] = {}

    def tls_for(host: str) -> dict[str, Any]:
        return _tls_keys((configs.get(host) or {}).get("tls") or {})

    for registry, mirror in (registries.get("mirrors") or {}).items():
        tables: dict[str, dict[str, Any]] = {}
        if registry != "*":
            tables[""] = {"server": _default_server(registry)}
        for endpoint in (mirror or {}).get("endpoint") or []:
            tables[f"host.{_quoted(_endpoint_url(endpoint))}"] = {
                "capabilities": ["pull", "resolve"], **tls_for(_endpoint_host(endpoint))}
        files["_default" if registry == "*" else registry] = _toml(tables)
    for host, config in configs.items():
        tls = _tls_keys((config or {}).get("tls") or {})
        if host in files or not tls:
            continue
        server = _default_server(host)
        files[host] = _toml({"": {"server": server},
                             f"host.{_quoted(server)}": {
                                 "capabilities": ["pull", "resolve", "push"], **tls}})
    return files


def registry_auths(registries: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """`{registry host: CRI auth table}` from `configs.<host>.auth` of a `registries.yaml`."""
    auths: dict[str, dict[str, str]] = {}
    for host, config in (registries.get("configs") or {}).items():
        auth = (config or {}).get("auth") or {}
        keys = {key: str(auth[key]) for key in ("username", "password", "auth", "identitytoken")
                if auth.get(key)}
        if keys:
            auths[host] = keys
    return auths


def write_config(settings: ContainerdSettings) -> None:
    """Writes config.toml and the hosts.toml files (replacing those of an earlier config)."""
    d = settings.directory
    for sub in (d, d / "root", d / "state", d / "opt", d / "runc", settings.cni_conf_dir):
        sub.mkdir(parents=True, exist_ok=True)
    d.chmod(0o711)
    hosts = registry_hosts(settings.registries or {})
    if settings.hosts_dir.exists():
        for old in settings.hosts_dir.glob("*/hosts.toml"):
            if old.parent.name not in hosts:
                old.unlink()
    for name, text in hosts.items():
        (settings.hosts_dir / name).mkdir(parents=True, exist_ok=True)
        (settings.hosts_dir / name / "hosts.toml").write_text(text)
    settings.hosts_dir.mkdir(exist_ok=True)
    tmp = settings.config_file.with_suffix(".tmp")
    tmp.write_text(render_config(settings))
    tmp.replace(settings.config_file)


# the process

async def answers(socket: str, *, within: float = 2.0) -> bool:
    """True when a CRI runtime answers `Version` on `socket` within `within` seconds."""
    async with cri.CRIRuntime(socket, quick_timeout=within) as runtime:
        try:
            await runtime.version()
        except CRIError:
            return False
    return True


def _read_pid(settings: ContainerdSettings) -> int | None:
    try:
        pid = int(settings.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) else None


async def start(settings: ContainerdSettings, *, start_timeout: float = START_TIMEOUT
                ) -> Containerd:
    """containerd answering CRI on `settings.socket`: the one already there (adopted), or a new
    one started with a freshly written config.

    The new process runs in its own session with its output in `settings.log_file`: killing
    the kubelet (even its process group) leaves it and the pods running. Raises RuntimeError
    with the end of its log when it exits or does not answer within `start_timeout` seconds."""
    if await answers(settings.socket):
        log.info("adopting the containerd answering on %s", settings.socket)
        return Containerd(settings.socket, _read_pid(settings), adopted=True)
    await asyncio.to_thread(write_config, settings)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(settings.socket)  # a stale socket of a dead containerd
    with settings.log_file.open("ab") as log_out:
        process = await asyncio.create_subprocess_exec(
            CONTAINERD_BINARY, "--config", str(settings.config_file),
            stdin=asyncio.subprocess.DEVNULL, stdout=log_out, stderr=log_out,
            start_new_session=True)
    settings.pid_file.write_text(f"{process.pid}\n")
    daemon = Containerd(settings.socket, process.pid, adopted=False)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + start_timeout
    while not await answers(settings.socket, within=1.0):
        if process.returncode is not None or loop.time() > deadline:
            await daemon.stop()
            raise RuntimeError(f"containerd did not start (see {settings.log_file}): "
                               f"{_log_tail(settings.log_file)}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), _POLL_INTERVAL)
    log.info("containerd %d answers on %s", process.pid, settings.socket)
    return daemon


def _log_tail(path: Path, *, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


@contextlib.asynccontextmanager
async def serve(settings: ContainerdSettings, *, stop_on_exit: bool = False
                ) -> AsyncIterator[Containerd]:
    """`start()` on entry; on exit containerd keeps running (the agent's way: pods outlive the
    kubelet), or is stopped when `stop_on_exit` (tests)."""
    daemon = await start(settings)
    try:
        yield daemon
    finally:
        if stop_on_exit:
            await daemon.stop()


# images that come with the node

CTR_BINARY = "/usr/bin/ctr"
IMPORT_TIMEOUT = 300.0
"""Seconds one `ctr images import` may take (a few MB take ~0.1 s)."""


async def import_archive(socket: str, archive: Path) -> str:
    """Imports an OCI or docker archive into the CRI plugin's namespace with `ctr images
    import` (unpacked, so pods can use it at once) and returns ctr's report. Raises
    RuntimeError with ctr's words when it fails."""
    process = await asyncio.create_subprocess_exec(
        CTR_BINARY, "--address", socket, "--namespace", K8S_NAMESPACE, "images", "import",
        str(archive), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    try:
        async with asyncio.timeout(IMPORT_TIMEOUT):
            out, _ = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RuntimeError(f"importing {archive} took more than {IMPORT_TIMEOUT:g}s") from None
    text = out.decode(errors="replace").strip()
    if process.returncode:
        raise RuntimeError(f"importing {archive} failed: {text}")
    return text


BUILTIN_FALLBACKS = {"pause": "pause-sh"}
"""A built-in recipe's stand-in of the same image names, for a node that cannot build it:
the pause program needs gcc, busybox sh waiting does not."""


async def ensure_builtin_images(socket: str, *, cache_dir: Path | None = None) -> list[str]:
    """Imports the images of `imagebuild.BUILTIN_RECIPES` (pause, busybox) that the runtime on
    `socket` lacks, building them first if needed (or their `BUILTIN_FALLBACKS` where they
    cannot be built), and returns the names imported. The agent calls it at start so that an
    offline node runs pods; idempotent."""
    imported: list[str] = []
    async with cri.CRIRuntime(socket) as runtime:
        for name in imagebuild.BUILTIN_RECIPES:
            recipe = imagebuild.load_recipe(name)
            present = [await runtime.image_status(ref) for ref in recipe.names]
            if all(image is not None for image in present):
                continue
            try:
                built = await asyncio.to_thread(imagebuild.build, recipe, cache_dir=cache_dir)
            except imagebuild.ImageBuildError as exc:
                fallback = BUILTIN_FALLBACKS.get(name)
                if fallback is None:
                    raise
                log.warning("image %s cannot be built here (%s); importing %s under its name",
                            name, exc, fallback)
                built = await asyncio.to_thread(imagebuild.build,
                                                imagebuild.load_recipe(fallback),
                                                cache_dir=cache_dir)
            await import_archive(socket, built.oci_archive)
            imported.extend(recipe.names)
    return imported
