"""`kajitori server` and `up` flags of this module: `--metric-resolution`."""

from __future__ import annotations

import pytest

from kajitori.cli import main


@pytest.mark.parametrize("command", ["server", "up"])
def test_metric_resolution_is_a_duration_defaulting_to_15s(command: str) -> None:
    assert main.build_parser().parse_args([command]).metric_resolution == 15.0
    args = main.build_parser().parse_args([command, "--metric-resolution", "1m30s"])
    assert args.metric_resolution == 90.0


@pytest.mark.parametrize(("value", "message"), [
    ("15", 'time: missing unit in duration "15"'),
    ("0s", "metric-resolution must be greater than 0, but value 0s provided")])
def test_a_bad_metric_resolution_is_refused_with_why(
        value: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main.build_parser().parse_args(["server", "--metric-resolution", value])
    assert capsys.readouterr().err.strip().endswith(
        f"argument --metric-resolution: {message}")
