"""What `/version` reports: a v1.33 server, so that kubectl's dispatcher picks kubectl 1.33
(the version itself is `kajitori.api.version`'s, shared with the kubelets)."""

from __future__ import annotations

import platform
from typing import Any

from kajitori.api import version

BUILD_DATE = "2026-11-25T00:00:00Z"


def info() -> dict[str, Any]:
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return {
        "major": version.MAJOR,
        "minor": version.MINOR,
        "emulationMajor": version.MAJOR,
        "emulationMinor": version.MINOR,
        "minCompatibilityMajor": version.MAJOR,
        "minCompatibilityMinor": str(int(version.MINOR) - 1),
        "gitVersion": version.GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": BUILD_DATE,
        "goVersion": f"python{platform.python_version()}",
        "compiler": "cpython",
        "platform": f"linux/{machine}",
    }
