"""Storage errors: keys and revisions, never HTTP.

Mirrors staging/src/k8s.io/apiserver/pkg/storage/errors.go. The apiserver's registry is the one
place that turns these into `kajitori.api.errors.StatusError`s.
"""

from __future__ import annotations


class StorageError(Exception):
    def __init__(self, key: str, message: str = "") -> None:
        super().__init__(message or key)
        self.key = key


class KeyNotFound(StorageError):
    """No object at the key."""


class KeyExists(StorageError):
    """create() found an object at the key already."""


class Conflict(StorageError):
    """The object's current revision is not the expected one (compare-and-swap failed)."""

    def __init__(self, key: str, *, expected: int, actual: int) -> None:
        super().__init__(key, f"{key}: expected revision {expected}, found {actual}")
        self.expected = expected
        self.actual = actual


class Compacted(StorageError):
    """A watch or list asked for a revision older than the store still holds."""

    def __init__(self, key: str, *, requested: int, oldest: int) -> None:
        super().__init__(key, f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


class InvalidContinue(StorageError):
    """A continue token that this store did not issue, or that does not fit the prefix."""


class Unavailable(StorageError):
    """The backend cannot serve now (closed, disk error)."""
