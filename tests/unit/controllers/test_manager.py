"""The controller manager's settings: `--controllers` as upstream reads it, the root CA, and
each controller built with its own part of the settings."""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path

import pytest
import yaml

from kajitori.client import informer, rest
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


SECTIONS = {
    registry.DEPLOYMENT_CONTROLLER: ("deployment_controller", "_settings"),
    registry.REPLICASET_CONTROLLER: ("replicaset_controller", "_settings"),
    registry.REPLICATION_CONTROLLER_CONTROLLER: ("replication_controller", "_settings"),
    registry.STATEFULSET_CONTROLLER: ("statefulset_controller", "_settings"),
    registry.DAEMONSET_CONTROLLER: ("daemonset_controller", "_settings"),
    registry.JOB_CONTROLLER: ("job_controller", "_settings"),
    registry.CRONJOB_CONTROLLER: ("cronjob_controller", "_settings"),
    registry.ENDPOINTS_CONTROLLER: ("endpoint_controller", "_settings"),
    registry.ENDPOINTSLICE_CONTROLLER: ("endpointslice_controller", "_settings"),
    registry.RESOURCE_QUOTA_CONTROLLER: ("resourcequota_controller", "settings"),
    registry.HORIZONTAL_POD_AUTOSCALER_CONTROLLER: ("hpa_controller", "_settings"),
    registry.NODE_LIFECYCLE_CONTROLLER: ("node_lifecycle_controller", "settings"),
}
"""Controller → (its ControllerManagerSettings section, the attribute it keeps it in)."""


def _changed(section: object) -> object:
    """`section` with every number changed, so that a default cannot pass for it."""
    values = {f.name: getattr(section, f.name) * 2 + 1 for f in dataclasses.fields(section)
              if type(getattr(section, f.name)) in (int, float)}
    return dataclasses.replace(section, **values)


def _build(settings: manager.ControllerManagerSettings, name: str) -> object:
    client = rest.RESTClient(rest.Config(server="http://127.0.0.1:1"))
    context = registry.ControllerContext(
        client=client, informers=informer.SharedInformerFactory(client), settings=settings,
        root_ca="")
    return registry.new_controller_descriptors()[name].constructor(context)


@pytest.mark.parametrize("name", sorted(SECTIONS))
async def test_each_controller_runs_with_its_settings_section(name: str) -> None:
    section, attribute = SECTIONS[name]
    defaults = manager.ControllerManagerSettings()
    wanted = _changed(getattr(defaults, section))
    assert wanted != getattr(defaults, section)
    controller = _build(dataclasses.replace(defaults, **{section: wanted}), name)
    assert getattr(controller, attribute) == wanted


async def test_flat_settings_reach_their_controllers() -> None:
    settings = manager.ControllerManagerSettings(
        concurrent_namespace_syncs=3, concurrent_gc_syncs=4,
        concurrent_ttl_after_finished_syncs=6)
    workers = {name: vars(_build(settings, name))["_workers"]
               for name in (registry.NAMESPACE_CONTROLLER, registry.GARBAGE_COLLECTOR_CONTROLLER,
                            registry.TTL_AFTER_FINISHED_CONTROLLER)}
    assert workers == {registry.NAMESPACE_CONTROLLER: 3,
                       registry.GARBAGE_COLLECTOR_CONTROLLER: 4,
                       registry.TTL_AFTER_FINISHED_CONTROLLER: 6}
