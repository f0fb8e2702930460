"""Field paths as upstream's `field.Path` prints them: `spec.versions[0].schema`,
`properties[spec]` for a map key, `[2]` for an index.

Mirrors staging/src/k8s.io/apimachinery/pkg/util/validation/field/path.go; schema walkers in
this package build their error paths with these three functions.
"""

from __future__ import annotations


def child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def key(path: str, name: str) -> str:
    return f"{path}[{name}]"


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"
