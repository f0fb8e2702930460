"""Container logs: which container a log request means, and reading CRI log files.

Mirrors upstream's `pkg/kubelet/kuberuntime/logs/logs.go` (`ReadLogs`: the CRI log format
`<RFC3339Nano> <stream> <P|F> <text>`, partial `P` lines joined to the next full one, since /
tail / limitBytes / timestamps, follow until the container exits) and the container choice of
`pkg/kubelet/kubelet_pods.go` (`validateContainerLogStatus`: the running container, the last
terminated one, or upstream's worded refusal). The kubelet's HTTP endpoint that serves it is
`kajitori.kubelet.server`; the apiserver side (pods/log) is `apiserver/handlers/nodeproxy.py`.

As upstream, only the container's current log file is read: rotated files (`0.log.<time>`)
are not, except that a follow which sees the file rotated goes on in the new one.
"""

from __future__ import annotations

import asyncio
import datetime
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

Obj = dict[str, Any]
Write = Callable[[bytes], Awaitable[None]]
IsRunning = Callable[[], Awaitable[bool]]

STDOUT = b"stdout"
STDERR = b"stderr"
PARTIAL_TAG = b"P"
FULL_TAG = b"F"
READ_BLOCK = 64 * 1024
"""Bytes read from a log file at a time, in a worker thread."""
FOLLOW_POLL_SECONDS = 0.2
"""How often a follow looks for new lines, rotation and the container's exit (upstream waits
on fsnotify with a 1 s recheck; polling keeps this dependency-free)."""

# Upstream's reasons (`pkg/kubelet/images/types.go`) the waiting message spells out.
ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACK_OFF = "ImagePullBackOff"


class LogError(Exception):
    """The request cannot be served; the message is upstream's and the kubelet answers it as a
    400 text body, which the apiserver returns as a BadRequest Status."""


@dataclass(frozen=True)
class LogOptions:
    """upstream's `LogOptions` (kuberuntime/logs): what to read and how to print it.

    `since_ns` is a time in nanoseconds since the epoch (None: from the start); `tail_lines`
    counts lines from the end of the file (None: all); `limit_bytes` caps the output (None: no
    cap)."""

    follow: bool = False
    timestamps: bool = False
    since_ns: int | None = None
    tail_lines: int | None = None
    limit_bytes: int | None = None


@dataclass(frozen=True)
class LogMessage:
    timestamp_ns: int
    timestamp: bytes
    """As the file wrote it (RFC3339Nano, any offset)."""
    stream: bytes
    text: bytes
    """The line's text, ending in `\\n` for a full line, without for a partial one."""


def options_from_query(query: Mapping[str, str], *, now_ns: int) -> tuple[LogOptions, bool]:
    """The kubelet's `/containerLogs` query (`follow`, `previous`, `timestamps`,
    `sinceSeconds`, `sinceTime`, `tailLines`, `limitBytes`, as the apiserver's LogLocation
    writes them) as options and the `previous` flag. Raises LogError for a value that does
    not parse or is out of range (upstream's ValidatePodLogOptions)."""
    since_ns = None
    if query.get("sinceSeconds"):
        seconds = _int_param(query, "sinceSeconds", minimum=1)
        since_ns = now_ns - seconds * 1_000_000_000
    elif query.get("sinceTime"):
        since_ns = parse_timestamp_ns(query["sinceTime"].encode())
        if since_ns is None:
            raise LogError(f"invalid sinceTime {query['sinceTime']!r}")
    tail = _int_param(query, "tailLines", minimum=0) if query.get("tailLines") else None
    limit = _int_param(query, "limitBytes", minimum=1) if query.get("limitBytes") else None
    options = LogOptions(follow=_bool_param(query, "follow"),
                         timestamps=_bool_param(query, "timestamps"),
                         since_ns=since_ns, tail_lines=tail, limit_bytes=limit)
    return options, _bool_param(query, "previous")


def _bool_param(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "").lower() in ("true", "1")


def _int_param(query: Mapping[str, str], name: str, *, minimum: int) -> int:
    try:
        value = int(query[name])
    except ValueError as exc:
        raise LogError(f"invalid {name} {query[name]!r}") from exc
    if value < minimum:
        raise LogError(f"{name}: must be greater than or equal to {minimum}")
    return value


def log_container_id(pod: Obj, container_name: str, *, previous: bool) -> str:
    """The CRI id (without `containerd://`) of the container whose log a request for
    `container_name` of `pod` reads, chosen from the pod's status as upstream's
    validateContainerLogStatus does: `previous` names the last terminated container; otherwise
    the running one, else the terminated one (or the one before it when no new one started),
    so a crash-looping container shows its last run.
    Raises LogError with upstream's message otherwise."""
    pod_name = (pod.get("metadata") or {}).get("name", "")
    status = pod.get("status") or {}
    found = next((s for key in ("containerStatuses", "initContainerStatuses",
                                "ephemeralContainerStatuses")
                  for s in status.get(key) or () if s.get("name") == container_name), None)
    where = f'container "{container_name}" in pod "{pod_name}"'
    if found is None:
        raise LogError(f"{where} is not available")
    state = found.get("state") or {}
    last_terminated = (found.get("lastState") or {}).get("terminated") or {}
    if previous:
        if not last_terminated.get("containerID"):
            raise LogError(f'previous terminated container "{container_name}" in pod '
                           f'"{pod_name}" not found')
        return _runtime_id(last_terminated["containerID"])
    if state.get("running") is not None and found.get("containerID"):
        return _runtime_id(found["containerID"])
    terminated = state.get("terminated")
    if terminated is not None or last_terminated:
        container_id = (terminated or {}).get("containerID") or \
            last_terminated.get("containerID")
        if not container_id:
            raise LogError(f"{where} is terminated")
        return _runtime_id(container_id)
    waiting = state.get("waiting")
    if waiting is not None:
        reason = waiting.get("reason", "")
        if reason == ERR_IMAGE_PULL:
            raise LogError(f"{where} is waiting to start: image can't be pulled")
        if reason == IMAGE_PULL_BACK_OFF:
            raise LogError(f"{where} is waiting to start: trying and failing to pull image")
        raise LogError(f"{where} is waiting to start: {reason}")
    raise LogError(f"{where} is waiting to start - no logs yet")


def _runtime_id(container_id: str) -> str:
    """`containerd://abc` → `abc`."""
    return container_id.partition("://")[2] or container_id


def parse_timestamp_ns(text: bytes) -> int | None:
    """Nanoseconds since the epoch of an RFC3339(Nano) time (`Z` or `±hh:mm`), or None."""
    try:
        value = text.decode()
        if value.endswith(("Z", "z")):
            base, offset = value[:-1], "+00:00"
        else:
            base, offset = value[:-6], value[-6:]
        seconds_part, _, fraction = base.partition(".")
        if fraction and (not fraction.isdigit() or len(fraction) > 9):
            return None
        moment = datetime.datetime.fromisoformat(seconds_part + offset)
    except (UnicodeDecodeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    nanos = int(fraction.ljust(9, "0")) if fraction else 0
    return int(moment.timestamp()) * 1_000_000_000 + nanos


def format_timestamp(timestamp: bytes) -> bytes:
    """upstream's RFC3339NanoFixed (`2006-01-02T15:04:05.000000000Z07:00`): nine fraction
    digits, `Z` for UTC, as `kubectl logs --timestamps` prints them."""
    text = timestamp.decode()
    if text.endswith(("Z", "z")):
        base, offset = text[:-1], "Z"
    else:
        base, offset = text[:-6], text[-6:]
        if offset in ("+00:00", "-00:00"):
            offset = "Z"
    seconds_part, _, fraction = base.partition(".")
    return f"{seconds_part}.{fraction.ljust(9, '0')}{offset}".encode()


def parse_cri_line(line: bytes) -> LogMessage | None:
    """One line of a CRI log file (without its trailing newline), or None if malformed (upstream
    skips such lines)."""
    parts = line.split(b" ", 3)
    if len(parts) < 3:
        return None
    timestamp, stream, tag = parts[0], parts[1], parts[2]
    text = parts[3] if len(parts) == 4 else b""
    if stream not in (STDOUT, STDERR):
        return None
    timestamp_ns = parse_timestamp_ns(timestamp)
    if timestamp_ns is None:
        return None
    tags = tag.split(b":")
    if tags[0] == FULL_TAG:
        text += b"\n"
    elif tags[0] != PARTIAL_TAG:
        return None
    return LogMessage(timestamp_ns=timestamp_ns, timestamp=timestamp, stream=stream, text=text)


def tail_offset(f: BinaryIO, lines: int) -> int:
    """Where the last `lines` lines of the file start (upstream's FindTailLineStartIndex:
    physical lines, partial ones counted). Synchronous: call in a thread."""
    end = f.seek(0, os.SEEK_END)
    if lines == 0:
        return end
    position = end
    newlines = 0
    # A final newline ends the last line rather than starting an empty one.
    skip_last = True
    while position > 0:
        size = min(READ_BLOCK, position)
        position -= size
        f.seek(position)
        block = f.read(size)
        for index in range(len(block) - 1, -1, -1):
            if block[index] != 0x0A:
                continue
            if skip_last and position + index == end - 1:
                continue
            newlines += 1
            if newlines == lines:
                return position + index + 1
        skip_last = False
    return 0


class _LogFile:
    """One open log file read forward in whole lines; keeps the bytes of an unfinished line
    until its newline arrives."""

    def __init__(self, path: Path, *, start_at_tail: int | None) -> None:
        self.path = path
        self.file: BinaryIO = path.open("rb")
        self.inode = os.fstat(self.file.fileno()).st_ino
        if start_at_tail is not None:
            self.file.seek(tail_offset(self.file, start_at_tail))
        self.pending = b""

    def read_lines(self) -> list[bytes]:
        """Complete lines available now, none only at the end of the file (synchronous)."""
        while data := self.file.read(READ_BLOCK):
            lines = (self.pending + data).split(b"\n")
            self.pending = lines.pop()
            if lines:
                return lines
        return []

    def rotated(self) -> bool:
        """The path now names another file (the runtime rotated this one away)."""
        try:
            return os.stat(self.path).st_ino != self.inode
        except FileNotFoundError:
            return False

    def close(self) -> None:
        self.file.close()


class _Writer:
    """Applies since, timestamps and limitBytes to messages in order, as upstream's logWriter;
    `full` once the byte limit is reached."""

    def __init__(self, write: Write, options: LogOptions) -> None:
        self._write = write
        self._options = options
        self._remaining = options.limit_bytes
        self._at_line_start = True
        self.full = False

    async def message(self, msg: LogMessage) -> None:
        if self._options.since_ns is not None and msg.timestamp_ns < self._options.since_ns:
            return
        out = msg.text
        if self._options.timestamps and self._at_line_start:
            out = format_timestamp(msg.timestamp) + b" " + out
        self._at_line_start = out.endswith(b"\n")
        if self._remaining is not None:
            out = out[:self._remaining]
            self._remaining -= len(out)
            self.full = self._remaining <= 0
        if out:
            await self._write(out)


async def read_logs(path: Path, options: LogOptions, write: Write, *,
                    is_running: IsRunning) -> None:
    """Write the container's log at `path` to `write`, as upstream's ReadLogs.

    Without `follow` it returns at the end of the file. With `follow` it keeps reading new
    lines (and goes on in the new file when the runtime rotates the log) until the container
    has exited and the file is read to its end; `is_running` is asked at each end of file.
    Returns early once `limit_bytes` are written. Raises FileNotFoundError when there is no log
    file. File reads run in a worker thread; cancellation stops it between reads.
    """
    out = _Writer(write, options)
    log_file = await asyncio.to_thread(_LogFile, path, start_at_tail=options.tail_lines)
    try:
        while True:
            lines = await asyncio.to_thread(log_file.read_lines)
            for line in lines:
                msg = parse_cri_line(line)
                if msg is not None:
                    await out.message(msg)
                if out.full:
                    return
            if lines:
                continue
            if not options.follow:
                return
            if log_file.rotated():
                log_file.close()
                log_file = await asyncio.to_thread(_LogFile, path, start_at_tail=None)
                continue
            if not await is_running():
                # The container is gone: whatever it wrote is in the file already.
                for line in await asyncio.to_thread(_drain, log_file):
                    msg = parse_cri_line(line)
                    if msg is not None:
                        await out.message(msg)
                    if out.full:
                        return
                return
            await asyncio.sleep(FOLLOW_POLL_SECONDS)
    finally:
        log_file.close()


def _drain(log_file: _LogFile) -> list[bytes]:
    lines: list[bytes] = []
    while chunk := log_file.read_lines():
        lines.extend(chunk)
    return lines
