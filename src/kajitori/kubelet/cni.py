"""The node's pod network: a CNI conflist for containerd, built from the node's `spec.podCIDR`.

Upstream leaves this to a network add-on (kubenet once did the same in the kubelet:
`pkg/kubelet/network/kubenet`, removed in 1.24): every pod gets a veth on the bridge `kjt0`,
an address of the node's podCIDR (host-local IPAM), its gateway on the bridge, masquerading
for traffic leaving the pod network, hairpin so a pod reaches itself through a Service, and
hostPort through `portmap`. containerd's CRI plugin runs the plugins (and adds `lo` itself) and
picks the file up without a restart, so the node becomes NetworkReady once its podCIDR is known.

No default route is given to pods unless asked (`routes`): these machines must never send a
made-up address (an unconfigured ClusterIP) out of eth0 (/work/shared/docs/node-runtime-facts.md
§5); `ensure_service_route` gives the host a local route for the service CIDR for that reason.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

NETWORK_NAME = "kajitori"
BRIDGE = "kjt0"
CONFLIST_NAME = "10-kajitori.conflist"
CNI_VERSION = "1.0.0"
IP_BINARY = "/usr/sbin/ip"
_IP_TIMEOUT = 10.0


def gateway(pod_cidr: str) -> str:
    """The bridge's address: the first of the podCIDR, as host-local gives a gateway."""
    return str(ipaddress.ip_network(pod_cidr, strict=False).network_address + 1)


def conflist(pod_cidr: str, *, ipam_dir: Path, routes: Sequence[str] = (),
             bridge: str = BRIDGE) -> dict[str, Any]:
    """The conflist for a node with `pod_cidr`. `routes` are destinations (CIDRs) the pods reach
    through the gateway (`0.0.0.0/0` for a default route); IPAM state lives in `ipam_dir`."""
    network = ipaddress.ip_network(pod_cidr, strict=False)  # ValueError on a bad CIDR
    return {
        "cniVersion": CNI_VERSION,
        "name": NETWORK_NAME,
        "plugins": [
            {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": True,
             "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": str(network)}]],
                      "routes": [{"dst": dst} for dst in routes],
                      "dataDir": str(ipam_dir)}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def write_conflist(conf_dir: Path, pod_cidr: str, *, ipam_dir: Path,
                   routes: Sequence[str] = (), bridge: str = BRIDGE) -> Path:
    """Writes (atomically, so containerd never reads half a file) `conf_dir/10-kajitori.conflist`
    and returns its path. Idempotent; a changed podCIDR replaces the file, but running pods keep
    their addresses."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    ipam_dir.mkdir(parents=True, exist_ok=True)
    path = conf_dir / CONFLIST_NAME
    tmp = conf_dir / f".{CONFLIST_NAME}.tmp"  # not *.conflist: containerd must not load it
    tmp.write_text(json.dumps(conflist(pod_cidr, ipam_dir=ipam_dir, routes=routes,
                                       bridge=bridge), indent=2) + "\n")
    tmp.replace(path)
    return path


async def _ip(*args: str, check: bool = True) -> str:
    process = await asyncio.create_subprocess_exec(
        IP_BINARY, *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(_IP_TIMEOUT):
        out, err = await process.communicate()
    if check and process.returncode:
        raise RuntimeError(f"ip {' '.join(args)}: {err.decode(errors='replace').strip()}")
    return out.decode()


async def ensure_bridge(pod_cidr: str, *, bridge: str = BRIDGE) -> None:
    """The bridge up, with the gateway address, before any pod: the bridge plugin adopts it as
    it is. Idempotent."""
    if not await _ip("link", "show", bridge, check=False):
        await _ip("link", "add", bridge, "type", "bridge")
    prefix = ipaddress.ip_network(pod_cidr, strict=False).prefixlen
    await _ip("addr", "replace", f"{gateway(pod_cidr)}/{prefix}", "dev", bridge)
    await _ip("link", "set", bridge, "up")


async def ensure_service_route(service_cidr: str, pod_cidr: str, *,
                               bridge: str = BRIDGE) -> None:
    """A host route sending `service_cidr` to the pod bridge, so a ClusterIP that kube-proxy has
    not (yet) translated fails here (`No route to host`) instead of leaving by the default
    route. Creates the bridge if needed; idempotent."""
    await ensure_bridge(pod_cidr, bridge=bridge)
    await _ip("route", "replace", service_cidr, "dev", bridge, "src", gateway(pod_cidr))


async def remove_bridge(*, bridge: str = BRIDGE) -> None:
    """Deletes the bridge (and with it its routes); nothing happens when it is not there. For
    node teardown once every pod is gone."""
    if await _ip("link", "show", bridge, check=False):
        await _ip("link", "del", bridge)
