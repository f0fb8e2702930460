"""kube-controller-manager's flags on `kajitori controller-manager` and `kajitori components`:
upstream's names, defaults and value syntax, parsed into ControllerManagerSettings."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kajitori.cli import components, controllermanager, main
from kajitori.controllers import manager


def settings(*flags: str, command: str = "controller-manager") -> manager.ControllerManagerSettings:
    args = main.build_parser().parse_args([command, "--kubeconfig", "k", *flags])
    return components.controller_manager_settings(args)


def refused(capsys: pytest.CaptureFixture[str], *flags: str) -> str:
    with pytest.raises(SystemExit) as exited:
        settings(*flags)
    assert exited.value.code == 2
    return capsys.readouterr().err


def section_of(parsed: manager.ControllerManagerSettings, flag: controllermanager.Flag) -> object:
    if flag.section == controllermanager.TOP_LEVEL:
        return parsed
    return getattr(parsed, flag.section)


@pytest.mark.parametrize("command", ["controller-manager", "components"])
def test_no_flags_give_the_settings_defaults(command: str) -> None:
    assert settings(command=command) == manager.ControllerManagerSettings()


def test_upstream_values_parse_into_their_sections() -> None:
    parsed = settings(
        "--concurrent-deployment-syncs=3", "--concurrent-rc-syncs", "7",
        "--node-monitor-grace-period=1m30s", "--horizontal-pod-autoscaler-tolerance", "0.25",
        "--horizontal-pod-autoscaler-cpu-initialization-period=2m",
        "--max-endpoints-per-slice=500", "--resource-quota-sync-period=30s",
        "--enable-garbage-collector=false", "--leader-elect=false",
        "--leader-elect-lease-duration=30s", "--root-ca-file=/etc/ca.crt",
        "--controllers=*,-podgc")
    assert parsed.deployment_controller.concurrent_deployment_syncs == 3
    assert parsed.replication_controller.concurrent_replicaset_syncs == 7
    assert parsed.replicaset_controller.concurrent_replicaset_syncs == 5
    assert parsed.node_lifecycle_controller.node_monitor_grace_period == 90.0
    assert parsed.hpa_controller.tolerance == 0.25
    assert parsed.hpa_controller.cpu_initialization_period == 120.0
    assert parsed.endpointslice_controller.max_endpoints_per_slice == 500
    assert parsed.resourcequota_controller.resource_quota_sync_period == 30.0
    assert parsed.enable_garbage_collector is False
    assert parsed.leader_election.leader_elect is False
    assert parsed.leader_election.lease_duration == 30.0
    assert parsed.leader_election.resource_name == manager.LEASE_NAME
    assert parsed.root_ca_file == Path("/etc/ca.crt")
    assert parsed.controllers == ("*", "-podgc")


VALID_TOGETHER = {
    "cluster-cidr": ("10.0.0.0/8", "10.0.0.0/8"),
    "node-cidr-mask-size": ("26", 26),
    "leader-elect-renew-deadline": ("12s", 12.0),
    "leader-elect-retry-period": ("1.5s", 1.5),
}
"""Values other than the generic ones, for flags the settings check against their
neighbours' defaults."""


def _other_value(flag: controllermanager.Flag) -> tuple[str, object]:
    """A value for `flag` unlike its default, as typed and as parsed."""
    if flag.name in VALID_TOGETHER:
        return VALID_TOGETHER[flag.name]
    return {
        controllermanager.Kind.INT32: ("3", 3),
        controllermanager.Kind.FLOAT: ("0.75", 0.75),
        controllermanager.Kind.DURATION: ("1h2m3s", 3723.0),
        controllermanager.Kind.BOOL: ("false", False),
        controllermanager.Kind.STRING: ("elsewhere", "elsewhere"),
        controllermanager.Kind.PATH: ("/x/y", Path("/x/y")),
    }[flag.kind]


@pytest.mark.parametrize("flag", controllermanager.FLAGS, ids=lambda f: f.name)
def test_each_flag_changes_its_own_field_and_nothing_else(
        flag: controllermanager.Flag) -> None:
    typed, value = _other_value(flag)
    parsed = settings(f"--{flag.name}={typed}")
    defaults = manager.ControllerManagerSettings()
    assert getattr(section_of(parsed, flag), flag.field) == value
    if flag.section == controllermanager.TOP_LEVEL:
        expected = dataclasses.replace(defaults, **{flag.field: value})
    else:
        section = dataclasses.replace(getattr(defaults, flag.section), **{flag.field: value})
        expected = dataclasses.replace(defaults, **{flag.section: section})
    assert parsed == expected


@pytest.mark.parametrize("flag", controllermanager.FLAGS, ids=lambda f: f.name)
def test_help_default_is_the_settings_default(flag: controllermanager.Flag) -> None:
    """The default `--help` prints is the one the settings carry without the flag."""
    default = getattr(section_of(manager.ControllerManagerSettings(), flag), flag.field)
    if flag.default is None:
        assert default is None
    else:
        assert controllermanager.value_reader(flag)(flag.default) == default


def test_a_bare_boolean_flag_is_true() -> None:
    assert settings("--leader-elect").leader_election.leader_elect is True
    assert settings("--allocate-node-cidrs=0").allocate_node_cidrs is False
    assert settings("--enable-garbage-collector=F", "--enable-garbage-collector").\
        enable_garbage_collector is True


def test_bad_duration_names_the_flag_in_go_words(capsys: pytest.CaptureFixture[str]) -> None:
    err = refused(capsys, "--node-monitor-grace-period=fast")
    assert 'invalid argument "fast" for "--node-monitor-grace-period" flag: ' \
        'time: invalid duration "fast"' in err
    err = refused(capsys, "--horizontal-pod-autoscaler-sync-period=15")
    assert 'time: missing unit in duration "15"' in err


def test_bad_numbers_and_booleans_are_refused_as_strconv_words_them(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert 'for "--concurrent-job-syncs" flag: strconv.ParseInt: parsing "2.5": invalid syntax' \
        in refused(capsys, "--concurrent-job-syncs=2.5")
    assert 'strconv.ParseInt: parsing "3000000000": value out of range' in \
        refused(capsys, "--terminated-pod-gc-threshold=3000000000")
    assert 'strconv.ParseFloat: parsing "1_0": invalid syntax' in \
        refused(capsys, "--node-eviction-rate=1_0")
    assert 'for "--leader-elect" flag: strconv.ParseBool: parsing "yes": invalid syntax' in \
        refused(capsys, "--leader-elect=yes")


def test_endpointslice_bounds_are_upstreams(capsys: pytest.CaptureFixture[str]) -> None:
    assert "max-endpoints-per-slice must not be more than 1000, but got 1001" in \
        refused(capsys, "--max-endpoints-per-slice=1001")
    assert "max-endpoints-per-slice must not be less than 1, but got 0" in \
        refused(capsys, "--max-endpoints-per-slice=0")
    assert "concurrent-service-endpoint-syncs must not be more than 50, but got 51" in \
        refused(capsys, "--concurrent-service-endpoint-syncs=51")
    assert settings("--max-endpoints-per-slice=1000").endpointslice_controller.\
        max_endpoints_per_slice == 1000


def test_server_and_up_take_only_controllers(capsys: pytest.CaptureFixture[str]) -> None:
    parser = main.build_parser()
    assert parser.parse_args(["server", "--controllers", "*,-podgc"]).controllers == \
        ("*", "-podgc")
    with pytest.raises(SystemExit):
        parser.parse_args(["up", "--concurrent-deployment-syncs", "3"])
    assert "unrecognized arguments: --concurrent-deployment-syncs" in capsys.readouterr().err


def test_help_lists_every_flag_with_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main.build_parser().parse_args(["controller-manager", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag in controllermanager.FLAGS:
        assert f"--{flag.name}" in text
    assert "--node-monitor-grace-period duration" in text
    assert "unresponsive before marking it unhealthy. (default 1m0s)" in text
    assert "(default 12h0m0s)" in text


@pytest.mark.parametrize(("flags", "message"), [
    (["--leader-elect-lease-duration=5s"], "leaseDuration must be greater than renewDeadline"),
    (["--controllers=*,-bogus"], '"bogus" is not in the list of known controllers'),
    (["--node-cidr-mask-size=8"],
     "--node-cidr-mask-size must be bigger than the cluster CIDR's mask: 8 < 16"),
])
async def test_settings_the_manager_refuses_end_the_command_before_it_starts(
        flags: list[str], message: str) -> None:
    args = main.build_parser().parse_args(["controller-manager", "--kubeconfig", "k", *flags])
    with pytest.raises(SystemExit) as exited:
        await components.run(args)
    assert exited.value.code == f"kajitori controller-manager: error: {message}"


def test_an_unusable_cluster_cidr_is_refused_only_if_node_ipam_would_run() -> None:
    with pytest.raises(ValueError, match="invalid --cluster-cidr"):
        settings("--cluster-cidr=10.0.0.0/33")
    assert settings("--cluster-cidr=10.0.0.0/33", "--allocate-node-cidrs=false").\
        cluster_cidr == "10.0.0.0/33"
    assert settings("--cluster-cidr=10.0.0.0/33", "--controllers=*,-nodeipam").\
        cluster_cidr == "10.0.0.0/33"
