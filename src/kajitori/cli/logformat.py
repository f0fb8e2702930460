"""Component logs as upstream's components write them: klog's text format by default, the
JSON of component-base with `--logging-format=json`, verbosity with `-v`.

Mirrors `k8s.io/component-base/logs/api/v1` (the `-v` and `--logging-format` flags, the
validation and its message) and `logs/json` (the JSON encoder), plus klog's text header. The
components themselves log through `logging` with `kajitori.klog`'s V levels and key/value
pairs; `validate_and_apply` installs the formatter on the root logger once, before a command
runs, and `child_flags` hands the same settings to the children `kajitori server` supervises.

Text, one record per line on stderr, as klog writes it:

    I1125 22:40:44.123456   12345 scheduler.py:412] "Successfully bound pod to node" pod="ns/x"
    W1125 22:40:45.000001   12345 podworker.py:382] syncing pod 1f0c failed, will retry: ...

The header is `Lmmdd hh:mm:ss.uuuuuu <pid, width 7> file:line] ` in local time, L one of
I, W, E, F. A record with key/value pairs (or an exception) is a structured message: the
message quoted, then `key="value"`; strings quoted, numbers and booleans bare, a multi-line
string as klog's `key=<` block. A printf-style record is written as it reads, as klog.Infof.

JSON, one object per line on stderr, keys in zapr's order:

    {"ts":1764110444123.456,"caller":"scheduler/scheduler.py:412","msg":"...","v":2,"pod":{"name":"nginx","namespace":"default"},"node":"n1"}

`ts` is milliseconds since the epoch as a float, as upstream's encoder (epochMillisTimeEncoder)
writes it, though the logging docs call it a Unix timestamp; `caller` is zap's short caller
(directory/file:line); `v` is left out of errors, as zapr does; `err` carries the exception of
`log.exception(...)` or `exc_info=`. Departure: the Python traceback of such a record is kept,
as a `stacktrace` value (upstream logs one for panics only), since it is what finds the bug.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any, TextIO

from kajitori import klog
from kajitori.api import errors

FORMAT_TEXT = "text"
FORMAT_JSON = "json"
FORMATS = (FORMAT_JSON, FORMAT_TEXT)
"""What `--logging-format` accepts, in component-base's (sorted) order."""

FORMAT_FLAG_HELP = 'Sets the log format. Permitted formats: "json", "text".'
VERBOSITY_FLAG_HELP = "number for the log level verbosity"
UNSUPPORTED_FORMAT = "Unsupported log format"
"""component-base's detail for an unknown `--logging-format`:
`format: Invalid value: "x": Unsupported log format`."""

STACKTRACE_KEY = "stacktrace"
ERROR_KEY = "err"
PID_WIDTH = 7
"""klog right-aligns the thread id (Go: the pid) in seven columns."""

_MAX_VERBOSITY = 2**31 - 1
"""component-base parses -v with strconv.ParseUint(value, 10, 31)."""
_DIGITS = re.compile(r"[0-9]+")


def parse_verbosity(text: str) -> int:
    """argparse `type=` of `-v`: a non-negative 31-bit integer, refused in pflag's words
    (`invalid argument "x" for "-v, --v" flag: strconv.ParseUint: parsing "x": invalid
    syntax`). pflag also takes `-v=4`, which argparse passes on as `=4`."""
    value = text.removeprefix("=")
    if not _DIGITS.fullmatch(value):
        reason = f'strconv.ParseUint: parsing "{value}": invalid syntax'
    elif int(value) > _MAX_VERBOSITY:
        reason = f'strconv.ParseUint: parsing "{value}": value out of range'
    else:
        return int(value)
    raise argparse.ArgumentTypeError(f'invalid argument "{value}" for "-v, --v" flag: {reason}')


def add_flags(parser: argparse.ArgumentParser) -> None:
    """`-v`/`--v` and `--logging-format`, for every long-running command."""
    parser.add_argument("-v", "--v", dest="verbosity", type=parse_verbosity, default=0,
                        metavar="Level", help=VERBOSITY_FLAG_HELP)
    parser.add_argument("--logging-format", default=FORMAT_TEXT, metavar="string",
                        help=f'{FORMAT_FLAG_HELP} (default "{FORMAT_TEXT}")')


def child_flags(args: argparse.Namespace) -> list[str]:
    """The flags that give a child process (`kajitori components`, `kajitori agent`) this
    process's log settings, so that one stderr carries one format."""
    return [f"--v={args.verbosity}", f"--logging-format={args.logging_format}"]


def validate(logging_format: str) -> None:
    """Raise ValueError, worded as component-base's field error, for an unknown format."""
    if logging_format not in FORMATS:
        raise ValueError(str(errors.FieldError.invalid("format", logging_format,
                                                       UNSUPPORTED_FORMAT)))


def validate_and_apply(args: argparse.Namespace, *, stream: TextIO | None = None) -> None:
    """Log every record of this process to `stream` (None: stderr) in the format and at the
    verbosity the parsed flags ask for; a command without the flags (`kajitori images`) gets
    text. Replaces the root logger's handlers, so calling it again reconfigures. Raises
    ValueError (nothing changed) for an unsupported `--logging-format`."""
    logging_format = getattr(args, "logging_format", FORMAT_TEXT)
    validate(logging_format)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JSONFormatter() if logging_format == FORMAT_JSON else TextFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(klog.level(getattr(args, "verbosity", 0)))


def _severity(levelno: int) -> str:
    if levelno >= logging.CRITICAL:
        return "F"
    if levelno >= logging.ERROR:
        return "E"
    if levelno >= logging.WARNING:
        return "W"
    return "I"


def _pairs(record: logging.LogRecord) -> dict[str, Any]:
    pairs = getattr(record, klog.KV_ATTRIBUTE, None)
    return pairs if isinstance(pairs, dict) else {}


def _exception(record: logging.LogRecord) -> tuple[BaseException, str] | None:
    """The exception of `log.exception(...)` or `exc_info=`, with its traceback."""
    if not record.exc_info or record.exc_info[1] is None:
        return None
    return record.exc_info[1], logging.Formatter().formatException(record.exc_info)


def _error_text(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class TextFormatter(logging.Formatter):
    """klog's text format (see the module docstring). `tz` None is local time, as klog's."""

    def __init__(self, *, tz: datetime.tzinfo | None = None) -> None:
        super().__init__()
        self._tz = tz

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.datetime.fromtimestamp(record.created, self._tz)
        header = (f"{_severity(record.levelno)}{moment:%m%d %H:%M:%S}.{moment.microsecond:06d} "
                  f"{record.process or 0:{PID_WIDTH}d} {record.filename}:{record.lineno}] ")
        message = record.getMessage().removesuffix("\n")
        pairs = _pairs(record)
        exception = _exception(record)
        if not pairs and exception is None:
            return header + message
        parts = [_quote(message)]
        parts += [f"{key}={_text_value(value)}" for key, value in pairs.items()]
        if exception is not None:
            exc, trace = exception
            parts.append(f"{ERROR_KEY}={_text_value(exc)}")
            parts.append(f"{STACKTRACE_KEY}={_text_value(trace)}")
        return header + " ".join(parts)


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _text_value(value: Any) -> str:
    """klog's rendering of one value: strings (and what prints as one) quoted, a multi-line
    string as a `<` block of tab-indented lines, numbers and booleans bare, lists and maps as
    compact JSON with object references as `namespace/name`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if value is None:
        return "<nil>"
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    text = _error_text(value) if isinstance(value, BaseException) else str(value)
    if "\n" not in text:
        return _quote(text)
    lines = "".join(f"\t{line}\n" for line in text.removesuffix("\n").split("\n"))
    return f"<\n{lines} >"


class JSONFormatter(logging.Formatter):
    """component-base's JSON format (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": record.created * 1000,
            "caller": f"{_short_path(record)}:{record.lineno}",
            "msg": record.getMessage(),
        }
        if record.levelno < logging.ERROR:
            entry["v"] = klog.verbosity(record.levelno)
        entry.update(_pairs(record))
        exception = _exception(record)
        if exception is not None:
            exc, trace = exception
            entry[ERROR_KEY] = _error_text(exc)
            entry[STACKTRACE_KEY] = trace
        return json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=_json_value)


def _short_path(record: logging.LogRecord) -> str:
    """zap's short caller: the file with its directory (`scheduler/scheduler.py`)."""
    directory = Path(record.pathname).parent.name
    return f"{directory}/{record.filename}" if directory else record.filename


def _json_value(value: Any) -> Any:
    if isinstance(value, klog.ObjectRef):
        return value.to_json()
    if isinstance(value, BaseException):
        return _error_text(value)
    return str(value)
