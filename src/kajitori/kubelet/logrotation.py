"""Container log rotation: a running container's log is rotated at `containerLogMaxSize`.

Mirrors upstream v1.33's `pkg/kubelet/logs/container_log_manager.go`. Every
`containerLogMonitorInterval` (10 s) each running container's current log file (the CRI
`log_path`, `<pod log dir>/<name>/<restarts>.log`) is checked; one at least `max_size` bytes
long is rotated:
1. leftovers of an interrupted rotation go: `.tmp` files, and rotated files whose compressed
   copy already exists;
2. the oldest rotated files go until at most `max_files - 2` are left (the current file and
   the one rotated now make up the rest);
3. every rotated file not compressed yet is gzipped (`<file>.gz`, through a `.tmp` file);
4. the current file is renamed `<file>.<YYYYmmdd-HHMMSS>` (UTC) and the runtime is asked to
   reopen it (CRI ReopenContainerLog); if that fails the rename is undone.
So a container has at most `max_files` files: the current one, the last rotated one (still
plain, as a reader may be following it) and compressed older ones. A running container
whose current file is missing is asked to reopen it, as upstream does.

`kubectl logs` reads only the current file (`kajitori.kubelet.logs`); a follow goes on in the
new file after a rotation. `clean()` removes every file of a container, for the container
garbage collector (`kajitori.kubelet.containergc`), as upstream's `Clean`.

Departure: upstream rotates with `containerLogMaxWorkers` goroutines; one container at a time
here (upstream's default is 1 worker).
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from cri_api.v1 import api_pb2

from kajitori.api import quantity
from kajitori.kubelet import runtime

log = logging.getLogger(__name__)

COMPRESS_SUFFIX = ".gz"
TMP_SUFFIX = ".tmp"
TIMESTAMP_FORMAT = "%Y%m%d-%H%M%S"
"""Upstream's `20060102-150405`: rotated files sort oldest first by name."""
MIN_MAX_FILES = 2
ERR_MAX_FILES = "invalid MaxFiles {max_files}, must be > 1"
ERR_MAX_SIZE = "invalid MaxSize {max_size}, must be positive"


class LogRuntime(Protocol):
    """The CRI calls log rotation makes."""

    async def list_containers(self, *, sandbox_id: str = "",
                              labels: dict[str, str] | None = None
                              ) -> list[api_pb2.Container]: ...

    async def container_status(self, container_id: str) -> api_pb2.ContainerStatus: ...

    async def reopen_container_log(self, container_id: str) -> None: ...


def parse_max_size(text: str) -> int:
    """`containerLogMaxSize` (a quantity: `10Mi`) in bytes. Raises ValueError (the kubelet
    does not start) for a malformed or non-positive size."""
    size = int(quantity.parse(text).amount)
    if size <= 0:
        raise ValueError(ERR_MAX_SIZE.format(max_size=text))
    return size


def rotated_files(log_path: Path) -> list[str]:
    """The rotated files (and leftovers) of the log at `log_path`, by full path, sorted
    oldest first (the timestamps sort as text). Synchronous."""
    prefix = log_path.name + "."
    try:
        names = os.listdir(log_path.parent)
    except FileNotFoundError:
        return []
    return sorted(str(log_path.parent / n) for n in names if n.startswith(prefix))


def is_in_use(path: str, logs: list[str]) -> bool:
    """Whether a rotated file is kept (upstream isInUse): not a temporary file, and not a
    plain file whose compressed copy exists."""
    if path.endswith(TMP_SUFFIX):
        return False
    if path.endswith(COMPRESS_SUFFIX):
        return True
    return path + COMPRESS_SUFFIX not in logs


def compress_log(path: str) -> None:
    """Gzip `path` into `path.gz` through a temporary file, then remove `path`. An existing
    temporary file (an interrupted compression) is overwritten. Synchronous."""
    tmp = path + COMPRESS_SUFFIX + TMP_SUFFIX
    with open(path, "rb") as src, gzip.open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.replace(tmp, path + COMPRESS_SUFFIX)
    os.remove(path)


def prepare_rotation(log_path: Path, *, max_files: int) -> None:
    """Steps 1-3 of a rotation (leftovers, excess files oldest first, compression) over the
    rotated files of `log_path`. Synchronous; raises OSError."""
    logs = rotated_files(log_path)
    for unused in [p for p in logs if not is_in_use(p, logs)]:
        os.remove(unused)
    logs = [p for p in logs if is_in_use(p, logs)]
    # The current file and the one about to be rotated take two of the max_files.
    keep = max(max_files - 2, 0)
    excess = len(logs) - keep
    for old in logs[:max(excess, 0)]:
        os.remove(old)
    for kept in logs[max(excess, 0):]:
        if not kept.endswith(COMPRESS_SUFFIX):
            compress_log(kept)


def remove_all_logs(log_path: Path) -> None:
    """The current file of a container and all its rotated ones. Synchronous."""
    for path in [str(log_path), *rotated_files(log_path)]:
        try:
            os.remove(path)
        except FileNotFoundError:
            continue


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class ContainerLogManager:
    """Rotates the logs of the runtime's running containers (`run()` until cancelled).

    `max_size` is bytes (`parse_max_size`), `max_files` at least 2 (ValueError otherwise, as
    upstream's NewContainerLogManager); `clock` names rotated files (tests fix it). One
    container's failure is logged and the others go on; `rotate_logs()` raises only the
    runtime's CRIError from listing containers."""

    def __init__(self, runtime_service: LogRuntime, *, max_size: int, max_files: int,
                 monitor_interval: float = 10.0,
                 clock: Callable[[], datetime.datetime] = _utc_now) -> None:
        if max_files < MIN_MAX_FILES:
            raise ValueError(ERR_MAX_FILES.format(max_files=max_files))
        if max_size <= 0:
            raise ValueError(ERR_MAX_SIZE.format(max_size=max_size))
        self._runtime = runtime_service
        self.max_size = max_size
        self.max_files = max_files
        self.monitor_interval = monitor_interval
        self._clock = clock

    async def run(self) -> None:
        while True:
            try:
                await self.rotate_logs()
            except runtime.CRIError as exc:
                log.warning("failed to rotate container logs: %s", exc)
            await asyncio.sleep(self.monitor_interval)

    async def rotate_logs(self) -> None:
        """One pass over the running containers."""
        for container in await self._runtime.list_containers():
            if container.state != api_pb2.CONTAINER_RUNNING:
                continue
            try:
                await self._check(container.id)
            except (runtime.CRIError, OSError) as exc:
                log.warning("failed to rotate the log of container %s: %s", container.id, exc)

    async def _check(self, container_id: str) -> None:
        status = await self._runtime.container_status(container_id)
        if not status.log_path:
            return
        path = Path(status.log_path)
        size = await asyncio.to_thread(_size, path)
        if size is None:
            # Gone (removed by hand, or an earlier rotation's reopen failed): have the
            # runtime create it again.
            await self._runtime.reopen_container_log(container_id)
            size = await asyncio.to_thread(_size, path)
            if size is None:
                return
        if size >= self.max_size:
            await self.rotate_log(container_id, path)

    async def rotate_log(self, container_id: str, path: Path) -> None:
        """Rotate the log at `path` of `container_id` now, whatever its size. Raises OSError
        or CRIError; a failed reopen renames the file back first."""
        await asyncio.to_thread(prepare_rotation, path, max_files=self.max_files)
        rotated = Path(f"{path}.{self._clock().strftime(TIMESTAMP_FORMAT)}")
        await asyncio.to_thread(os.rename, path, rotated)
        try:
            await self._runtime.reopen_container_log(container_id)
        except runtime.CRIError:
            # The runtime still writes to the renamed file: give it its name back.
            await asyncio.to_thread(os.rename, rotated, path)
            raise
        log.info("rotated the log of container %s to %s", container_id, rotated.name)

    async def clean(self, container_id: str) -> None:
        """Remove every log file of the container (upstream Clean), before it is removed.
        Raises CRIError (NOT_FOUND for a container the runtime does not have)."""
        status = await self._runtime.container_status(container_id)
        if status.log_path:
            await asyncio.to_thread(remove_all_logs, Path(status.log_path))


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None
