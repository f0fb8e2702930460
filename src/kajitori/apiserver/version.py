"""What `/version` reports: a v1.33 server, so that kubectl's dispatcher picks kubectl 1.33."""

from __future__ import annotations

import platform
from typing import Any

MAJOR = "1"
MINOR = "33"
GIT_VERSION = "v1.33.5+kajitori"
BUILD_DATE = "2026-11-25T00:00:00Z"


def info() -> dict[str, Any]:
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return {
        "major": MAJOR,
        "minor": MINOR,
        "emulationMajor": MAJOR,
        "emulationMinor": MINOR,
        "minCompatibilityMajor": MAJOR,
        "minCompatibilityMinor": str(int(MINOR) - 1),
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": BUILD_DATE,
        "goVersion": f"python{platform.python_version()}",
        "compiler": "cpython",
        "platform": f"linux/{machine}",
    }
