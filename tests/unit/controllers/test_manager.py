"""The controller manager's settings: `--controllers` as upstream reads it, the root CA."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from kajitori.controllers import manager, registry

ALL = [d.name for d in registry.new_controller_descriptors().values()
       if not d.disabled_by_default]


def enabled(*controllers: str) -> list[str]:
    settings = manager.ControllerManagerSettings(controllers=controllers)
    return [d.name for d in settings.enabled_controllers()]


def test_star_enables_every_controller_on_by_default() -> None:
    assert enabled("*") == ALL
    assert {registry.NAMESPACE_CONTROLLER, registry.GARBAGE_COLLECTOR_CONTROLLER,
            registry.POD_GARBAGE_COLLECTOR_CONTROLLER} <= set(ALL)


def test_dash_disables_and_aliases_name_the_same_controller() -> None:
    assert enabled("*", "-podgc", "-garbage-collector-controller") == [
        name for name in ALL if name not in (registry.POD_GARBAGE_COLLECTOR_CONTROLLER,
                                             registry.GARBAGE_COLLECTOR_CONTROLLER)]


def test_without_star_only_named_controllers_run() -> None:
    assert enabled("namespace", "serviceaccount-controller") == [
        registry.NAMESPACE_CONTROLLER, registry.SERVICEACCOUNT_CONTROLLER]


def test_first_entry_naming_a_controller_decides() -> None:
    assert enabled("namespace", "-namespace") == [registry.NAMESPACE_CONTROLLER]
    assert enabled("-namespace", "*") == [n for n in ALL if n != registry.NAMESPACE_CONTROLLER]


def test_unknown_controller_is_refused_as_upstream_words_it() -> None:
    with pytest.raises(ValueError, match='"bogus" is not in the list of known controllers'):
        enabled("*", "-bogus")


def test_default_settings_elect_on_the_kube_controller_manager_lease() -> None:
    election = manager.ControllerManagerSettings().leader_election
    assert (election.leader_elect, election.resource_namespace, election.resource_name) == \
        (True, "kube-system", "kube-controller-manager")


def write_kubeconfig(path: Path, cluster: dict) -> Path:
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
           "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
           "clusters": [{"name": "k", "cluster": {"server": "https://x", **cluster}}],
           "users": [{"name": "u", "user": {"token": "t"}}]}
    kubeconfig = path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(doc))
    return kubeconfig


def test_root_ca_comes_from_the_kubeconfig_unless_a_file_is_given(tmp_path: Path) -> None:
    pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    inline = write_kubeconfig(tmp_path, {"certificate-authority-data":
                                         base64.b64encode(pem.encode()).decode()})
    assert manager.read_root_ca(inline, root_ca_file=None) == pem
    (tmp_path / "ca.crt").write_text("from file")
    assert manager.read_root_ca(inline, root_ca_file=tmp_path / "ca.crt") == "from file"
    by_path = write_kubeconfig(tmp_path, {"certificate-authority": "ca.crt"})
    assert manager.read_root_ca(by_path, root_ca_file=None) == "from file"
    assert manager.read_root_ca(write_kubeconfig(tmp_path, {}), root_ca_file=None) == ""
