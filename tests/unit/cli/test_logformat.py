"""kajitori.cli.logformat: klog's text header and component-base's JSON, byte for byte, on
records with a fixed clock and pid; -v filtering and the flags' refusals as a user sees them."""

from __future__ import annotations

import argparse
import datetime
import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from kajitori import klog
from kajitori.cli import logformat, main

MOMENT = datetime.datetime(2026, 11, 25, 22, 40, 44, 123456, tzinfo=datetime.UTC)
PID = 12345
SOURCE = "/src/kajitori/scheduler/scheduler.py"


def record(msg: str, *args: object, level: int = logging.INFO,
           pairs: dict[str, object] | None = None, error: BaseException | None = None,
           ) -> logging.LogRecord:
    exc_info = (type(error), error, error.__traceback__) if error is not None else None
    made = logging.LogRecord("kajitori.scheduler.scheduler", level, SOURCE, 120, msg, args,
                             exc_info)
    made.created = MOMENT.timestamp()
    made.process = PID
    if pairs is not None:
        made.kv = pairs
    return made


def text(made: logging.LogRecord) -> str:
    return logformat.TextFormatter(tz=datetime.UTC).format(made)


def test_text_header_is_klogs() -> None:
    assert text(record("bound %d pods", 3)) == \
        "I1125 22:40:44.123456   12345 scheduler.py:120] bound 3 pods"


@pytest.mark.parametrize(("level", "letter"), [
    (logging.DEBUG, "I"), (klog.level(2), "I"), (logging.WARNING, "W"), (logging.ERROR, "E"),
    (logging.CRITICAL, "F")])
def test_text_severity_letter(level: int, letter: str) -> None:
    assert text(record("x", level=level)).startswith(f"{letter}1125 ")


def test_text_structured_message_quotes_message_and_values() -> None:
    pairs = {"pod": klog.kref("default", "nginx"), "node": "n1", "score": 7, "ok": True,
             "pods": [klog.kref("default", "a")], "none": None}
    assert text(record("Successfully bound pod to node", pairs=pairs)) == (
        'I1125 22:40:44.123456   12345 scheduler.py:120] "Successfully bound pod to node" '
        'pod="default/nginx" node="n1" score=7 ok=true pods=["default/a"] none=<nil>')


def test_text_multi_line_value_is_klogs_block() -> None:
    assert text(record("Config", pairs={"config": "a: 1\nb: 2\n"})) == (
        'I1125 22:40:44.123456   12345 scheduler.py:120] "Config" config=<\n'
        "\ta: 1\n\tb: 2\n >")


def test_text_exception_is_an_err_value() -> None:
    try:
        raise ValueError("boom")
    except ValueError as exc:
        line = text(record("sync failed", level=logging.ERROR, error=exc,
                           pairs={"pod": klog.kref("ns", "p")}))
    first = line.splitlines()[0]
    assert first == ('E1125 22:40:44.123456   12345 scheduler.py:120] "sync failed" '
                     'pod="ns/p" err="boom" stacktrace=<')
    assert "\tValueError: boom" in line.splitlines()


def test_json_keys_in_zaprs_order() -> None:
    made = record("Successfully bound pod to node", level=klog.level(2),
                  pairs={"pod": klog.kref("default", "nginx"), "node": "n1"})
    line = logformat.JSONFormatter().format(made)
    entry = json.loads(line)
    assert list(entry) == ["ts", "caller", "msg", "v", "pod", "node"]
    assert entry == {"ts": MOMENT.timestamp() * 1000, "caller": "scheduler/scheduler.py:120",
                     "msg": "Successfully bound pod to node", "v": 2,
                     "pod": {"name": "nginx", "namespace": "default"}, "node": "n1"}
    assert "\n" not in line


def test_json_cluster_scoped_reference_has_no_namespace() -> None:
    made = record("Node ready", pairs={"node": klog.kobj({"metadata": {"name": "n1"}})})
    assert json.loads(logformat.JSONFormatter().format(made))["node"] == {"name": "n1"}


def test_json_error_has_err_and_no_v() -> None:
    try:
        raise TimeoutError
    except TimeoutError as exc:
        made = record("syncing pod %s failed", "p", level=logging.ERROR, error=exc)
    entry = json.loads(logformat.JSONFormatter().format(made))
    assert [key for key in entry if key != "stacktrace"] == ["ts", "caller", "msg", "err"]
    assert entry["msg"] == "syncing pod p failed"
    assert entry["err"] == "TimeoutError"
    assert entry["stacktrace"].endswith("TimeoutError")


def test_json_warning_is_v0() -> None:
    made = record("slow", level=logging.WARNING)
    assert json.loads(logformat.JSONFormatter().format(made))["v"] == 0


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, given back as it was: validate_and_apply reconfigures it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def logged(verbosity: int, logging_format: str = logformat.FORMAT_TEXT) -> list[str]:
    stream = io.StringIO()
    logformat.validate_and_apply(
        argparse.Namespace(verbosity=verbosity, logging_format=logging_format), stream=stream)
    log = logging.getLogger("kajitori.test")
    log.info("v0")
    for n in (1, 2, 3, 5):
        log.log(klog.level(n), "v%d", n)
    log.debug("debug")
    log.error("failed")
    return stream.getvalue().splitlines()


@pytest.mark.usefixtures("root_logger")
def test_verbosity_shows_v_n_up_to_the_flag() -> None:
    assert [line.split("] ")[1] for line in logged(0)] == ["v0", "failed"]
    assert [line.split("] ")[1] for line in logged(2)] == ["v0", "v1", "v2", "failed"]
    assert [line.split("] ")[1] for line in logged(4)] == \
        ["v0", "v1", "v2", "v3", "debug", "failed"]
    assert len(logged(5)) == 7


@pytest.mark.usefixtures("root_logger")
def test_json_lines_carry_their_verbosity() -> None:
    entries = [json.loads(line) for line in logged(4, logformat.FORMAT_JSON)]
    assert [(entry["msg"], entry.get("v")) for entry in entries] == [
        ("v0", 0), ("v1", 1), ("v2", 2), ("v3", 3), ("debug", 4), ("failed", None)]


def test_unsupported_format_is_refused_in_component_bases_words(
        capsys: pytest.CaptureFixture[str]) -> None:
    message = 'format: Invalid value: "yaml": Unsupported log format'
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        logformat.validate("yaml")
    assert main.main(["scheduler", "--kubeconfig", "none", "--logging-format=yaml"]) == 1
    assert capsys.readouterr().err == 'format: Invalid value: "yaml": Unsupported log format\n'


def test_bad_verbosity_is_refused_in_pflags_words() -> None:
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        logformat.parse_verbosity("-1")
    assert str(refused.value) == ('invalid argument "-1" for "-v, --v" flag: '
                                  'strconv.ParseUint: parsing "-1": invalid syntax')


@pytest.mark.parametrize("command", [
    ["server"], ["up"], ["agent", "--kubeconfig", "k"], ["scheduler", "--kubeconfig", "k"],
    ["controller-manager", "--kubeconfig", "k"], ["components", "--kubeconfig", "k"],
    ["sim", "--kubeconfig", "k"]])
def test_every_long_running_command_takes_the_flags(command: list[str]) -> None:
    args = main.build_parser().parse_args([*command, "-v=3", "--logging-format", "json"])
    assert logformat.child_flags(args) == ["--v=3", "--logging-format=json"]


def test_flags_default_to_text_at_v0() -> None:
    args = main.build_parser().parse_args(["scheduler", "--kubeconfig", "k"])
    assert (args.verbosity, args.logging_format) == (0, logformat.FORMAT_TEXT)
