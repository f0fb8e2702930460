"""kajitori.kubelet.volumes.atomicwriter: the `..data` symlink swap of upstream's writer."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kajitori.kubelet.volumes import atomicwriter
from kajitori.kubelet.volumes.atomicwriter import FileProjection


def listing(target: Path) -> dict[str, str]:
    """Every entry of `target` → `link -> dest`, `dir` or the file's text."""
    found = {}
    for entry in sorted(target.iterdir()):
        if entry.is_symlink():
            found[entry.name] = "-> " + os.readlink(entry)
        elif entry.is_dir():
            found[entry.name] = "dir"
        else:
            found[entry.name] = entry.read_text()
    return found


def test_first_write_shows_files_through_data_symlink(tmp_path: Path) -> None:
    payload = {"game.properties": FileProjection(b"lives=3", 0o644),
               "ui/colors": FileProjection(b"red", 0o400)}
    assert atomicwriter.write(tmp_path, payload) is True
    entries = listing(tmp_path)
    ts_name = os.readlink(tmp_path / "..data")
    assert ts_name.startswith("..")
    assert (tmp_path / ts_name).is_dir()
    assert entries == {ts_name: "dir", "..data": "-> " + ts_name,
                       "game.properties": "-> ..data/game.properties", "ui": "-> ..data/ui"}
    assert (tmp_path / "game.properties").read_text() == "lives=3"
    assert (tmp_path / "ui" / "colors").read_text() == "red"
    assert stat.S_IMODE(os.stat(tmp_path / "ui" / "colors").st_mode) == 0o400
    assert stat.S_IMODE(os.stat(tmp_path / "game.properties").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tmp_path / ts_name).st_mode) == 0o755


def test_the_same_payload_writes_nothing(tmp_path: Path) -> None:
    payload = {"a": FileProjection(b"1", 0o644)}
    atomicwriter.write(tmp_path, payload)
    before = os.readlink(tmp_path / "..data")
    assert atomicwriter.write(tmp_path, dict(payload)) is False
    assert os.readlink(tmp_path / "..data") == before


def test_an_update_swaps_data_and_removes_what_is_gone(tmp_path: Path) -> None:
    atomicwriter.write(tmp_path, {"a": FileProjection(b"1", 0o644),
                                  "old": FileProjection(b"x", 0o644)})
    first = os.readlink(tmp_path / "..data")
    opened = (tmp_path / "a").open()  # a reader of the old version keeps it
    assert atomicwriter.write(tmp_path, {"a": FileProjection(b"2", 0o644),
                                         "new": FileProjection(b"y", 0o644)}) is True
    second = os.readlink(tmp_path / "..data")
    assert second != first
    assert not (tmp_path / first).exists()
    assert (tmp_path / "a").read_text() == "2"
    assert opened.read() == "1"
    opened.close()
    assert not os.path.lexists(tmp_path / "old")
    assert (tmp_path / "new").read_text() == "y"


def test_set_perms_runs_before_the_new_files_are_visible(tmp_path: Path) -> None:
    atomicwriter.write(tmp_path, {"a": FileProjection(b"1", 0o644)})
    seen = []

    def set_perms() -> None:
        seen.append((tmp_path / "a").read_text())

    atomicwriter.write(tmp_path, {"a": FileProjection(b"2", 0o644)}, set_perms=set_perms)
    assert seen == ["1"]


def test_an_empty_payload_leaves_only_data(tmp_path: Path) -> None:
    atomicwriter.write(tmp_path, {"a": FileProjection(b"1", 0o644)})
    atomicwriter.write(tmp_path, {})
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("..2")) == [
        "..data"]


@pytest.mark.parametrize(("path", "message"), [
    ("", 'invalid path: must not be empty: ""'),
    ("/etc/passwd", "invalid path: must be relative path: /etc/passwd"),
    ("a/../../b", "invalid path: must not contain '..': a/../../b"),
    ("..data", "invalid path: must not start with '..': ..data"),
    ("x" * 256, "invalid path: filenames must be less than or equal to 255 characters"),
])
def test_invalid_paths_are_refused_with_upstream_messages(tmp_path: Path, path: str,
                                                          message: str) -> None:
    with pytest.raises(atomicwriter.PayloadError) as caught:
        atomicwriter.write(tmp_path, {path: FileProjection(b"", 0o644)})
    assert str(caught.value) == message
    assert list(tmp_path.iterdir()) == []
