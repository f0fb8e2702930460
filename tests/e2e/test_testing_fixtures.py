"""The pytest plugin's fixture yields a kubeconfig for a live cluster."""

from __future__ import annotations

from pathlib import Path

import yaml


def test_kajitori_kubeconfig_points_at_a_live_https_server(kajitori_kubeconfig: Path) -> None:
    config = yaml.safe_load(kajitori_kubeconfig.read_text())
    server = config["clusters"][0]["cluster"]["server"]
    assert server.startswith("https://127.0.0.1:")
    assert config["users"][0]["user"]["client-certificate-data"]
