"""Writing a volume's files so that a reader never sees half an update.

Mirrors upstream's `pkg/volume/util/atomic_writer.go`. The files live in a timestamped
directory (`..2026_01_31_12_00_00.123456789`); the symlink `..data` points at it, and each
top-level name the user sees is a symlink through `..data` (`key -> ..data/key`). An update
writes a new timestamped directory, swaps `..data` with one rename (atomic), then removes the
old directory and the names no longer in the payload. A payload equal to what is there (same
paths, same bytes) writes nothing, so calling `write` on every sync is cheap.

Blocking: call it in a thread. Not safe for two writers of one directory at once (the volume
manager serialises a pod's volumes).
"""

from __future__ import annotations

import datetime
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DATA_DIR_NAME = "..data"
DATA_DIR_TMP_NAME = "..data_tmp"
TIMESTAMP_FORMAT = "..%Y_%m_%d_%H_%M_%S."
MAX_PATH_LENGTH = 4096
MAX_FILE_NAME_LENGTH = 255
DIR_MODE = 0o755


class PayloadError(ValueError):
    """A payload path that would escape or confuse the volume (upstream's validatePath)."""


@dataclass(frozen=True)
class FileProjection:
    """One file of a payload: its bytes and mode (upstream volumeutil.FileProjection)."""

    data: bytes
    mode: int


Payload = dict[str, FileProjection]


def validate_path(target: str) -> None:
    """Raise PayloadError with upstream's message when `target` is no safe relative path."""
    if not target:
        raise PayloadError(f'invalid path: must not be empty: "{target}"')
    if target.startswith("/"):
        raise PayloadError(f"invalid path: must be relative path: {target}")
    if len(target) > MAX_PATH_LENGTH:
        raise PayloadError("invalid path: must be less than or equal to "
                           f"{MAX_PATH_LENGTH} characters")
    items = target.split("/")
    for item in items:
        if item == "..":
            raise PayloadError(f"invalid path: must not contain '..': {target}")
        if len(item) > MAX_FILE_NAME_LENGTH:
            raise PayloadError("invalid path: filenames must be less than or equal to "
                               f"{MAX_FILE_NAME_LENGTH} characters")
    if items[0].startswith("..") and len(items[0]) > 2:
        raise PayloadError(f"invalid path: must not start with '..': {target}")


def _clean(payload: Payload) -> Payload:
    cleaned = {}
    for target, projection in payload.items():
        validate_path(target)
        cleaned[os.path.normpath(target)] = projection
    return cleaned


def _current_files(ts_dir: Path) -> dict[str, Path]:
    found = {}
    for directory, _, filenames in os.walk(ts_dir):
        for name in filenames:
            full = Path(directory) / name
            found[str(full.relative_to(ts_dir))] = full
    return found


def _unchanged(ts_dir: Path | None, payload: Payload) -> bool:
    if ts_dir is None or not ts_dir.is_dir():
        return False
    current = _current_files(ts_dir)
    if current.keys() != payload.keys():
        return False
    return all(current[name].read_bytes() == projection.data
               for name, projection in payload.items())


def _top_level(names: list[str] | dict[str, FileProjection]) -> set[str]:
    return {name.split("/", 1)[0] for name in names}


def write(target_dir: Path, payload: Payload, *,
          set_perms: Callable[[], None] | None = None) -> bool:
    """Make `target_dir` show exactly `payload`; True when anything was written. `set_perms`
    runs after the new files are written and before they become visible (the fsGroup
    ownership change). Raises PayloadError for an invalid path, OSError for IO failures
    (the previous contents then stay visible)."""
    payload = _clean(payload)
    data_link = target_dir / DATA_DIR_NAME
    old_ts_name = os.readlink(data_link) if data_link.is_symlink() else None
    old_ts_dir = target_dir / old_ts_name if old_ts_name else None
    if _unchanged(old_ts_dir, payload):
        return False
    old_names = list(_current_files(old_ts_dir)) if old_ts_dir and old_ts_dir.is_dir() else []
    stamp = datetime.datetime.now(datetime.UTC).strftime(TIMESTAMP_FORMAT)
    ts_dir = Path(tempfile.mkdtemp(prefix=stamp, dir=target_dir))
    try:
        os.chmod(ts_dir, DIR_MODE)
        for name, projection in payload.items():
            path = ts_dir / name
            path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            path.write_bytes(projection.data)
            os.chmod(path, projection.mode)
        if set_perms is not None:
            set_perms()
        for top in sorted(_top_level(payload)):
            visible = target_dir / top
            if not visible.is_symlink():
                os.symlink(os.path.join(DATA_DIR_NAME, top), visible)
        tmp_link = target_dir / DATA_DIR_TMP_NAME
        if tmp_link.is_symlink():
            tmp_link.unlink()
        os.symlink(ts_dir.name, tmp_link)
        os.rename(tmp_link, data_link)
    except BaseException:
        shutil.rmtree(ts_dir, ignore_errors=True)
        raise
    if old_ts_dir is not None and old_ts_dir.is_dir():
        shutil.rmtree(old_ts_dir)
    for top in _top_level(old_names) - _top_level(payload):
        stale = target_dir / top
        if stale.is_symlink():
            stale.unlink()
    return True
