"""The node's CNI conflist, built from its podCIDR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kajitori.kubelet import cni


def test_conflist_bridges_the_pod_cidr(tmp_path: Path) -> None:
    path = cni.write_conflist(tmp_path / "net.d", "10.42.3.0/24", ipam_dir=tmp_path / "ipam")
    assert path.name == "10-kajitori.conflist"
    assert json.loads(path.read_text()) == {
        "cniVersion": "1.0.0", "name": "kajitori",
        "plugins": [
            {"type": "bridge", "bridge": "kjt0", "isGateway": True, "ipMasq": True,
             "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.42.3.0/24"}]],
                      "routes": [], "dataDir": str(tmp_path / "ipam")}},
            {"type": "portmap", "capabilities": {"portMappings": True}}]}
    assert [p.name for p in (tmp_path / "net.d").iterdir()] == ["10-kajitori.conflist"]


def test_routes_are_only_those_asked_for(tmp_path: Path) -> None:
    conf = cni.conflist("10.42.3.0/24", ipam_dir=tmp_path, routes=["10.96.0.0/12"])
    assert conf["plugins"][0]["ipam"]["routes"] == [{"dst": "10.96.0.0/12"}]


def test_gateway_is_the_first_address() -> None:
    assert cni.gateway("10.42.3.0/24") == "10.42.3.1"


def test_bad_cidr_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        cni.conflist("10.42.3/x", ipam_dir=tmp_path)
