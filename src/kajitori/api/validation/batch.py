"""Semantic rules for batch/v1 Jobs and CronJobs.

Mirrors pkg/apis/batch/validation/validation.go. The CronJob schedule is checked the way
upstream's parser (robfig/cron's ParseStandard) rejects it, with its messages.
"""

from __future__ import annotations

from typing import Any

from kajitori.api.errors import FieldError
from kajitori.api.validation import core, gorepr, objectmeta

Obj = dict[str, Any]

JOB_RESTART_POLICIES = ["OnFailure", "Never"]
COMPLETION_MODES = ["NonIndexed", "Indexed"]
CONCURRENCY_POLICIES = ["Allow", "Forbid", "Replace"]
CRONJOB_NAME_MAX_LENGTH = 52  # DNS-1035 max minus the 11 characters of the job suffix
TZ_IN_SCHEDULE = "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"

# (minimum, maximum, names) of the five standard cron fields.
_CRON_FIELDS = (
    (0, 59, {}), (0, 23, {}), (1, 31, {}),
    (1, 12, {m: i + 1 for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])}),
    (0, 6, {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}),
)
_DESCRIPTORS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily",
                          "@midnight", "@hourly"})


class _CronError(ValueError):
    pass


def _cron_int(text: str) -> int:
    if not text.isascii() or not text.lstrip("+-").isdigit():
        raise _CronError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": '
                         "invalid syntax")
    return int(text)


def _cron_value(text: str, named: dict[str, int]) -> int:
    return named[text.lower()] if text.lower() in named else _cron_int(text)


def _cron_range(expr: str, lo: int, hi: int, named: dict[str, int]) -> None:
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    if low_and_high[0] in ("*", "?"):
        start, end = lo, hi
    else:
        start = _cron_value(low_and_high[0], named)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _cron_value(low_and_high[1], named)
        else:
            raise _CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 2:
        step = _cron_int(range_and_step[1])
        if single and low_and_high[0] not in ("*", "?"):
            end = hi
        if step <= 0:
            raise _CronError(f"step of range should be a positive number: {expr}")
    elif len(range_and_step) > 2:
        raise _CronError(f"too many slashes: {expr}")
    if start < lo:
        raise _CronError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise _CronError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise _CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")


def cron_schedule_errors(schedule: str) -> str | None:
    """The parser's complaint about a standard 5-field schedule, or None when it parses."""
    if not schedule:
        return "empty spec string"
    if schedule.startswith("@"):
        if schedule in _DESCRIPTORS:
            return None
        if schedule.startswith("@every "):
            return None
        return f"unrecognized descriptor: {schedule}"
    fields = schedule.split()
    if len(fields) != 5:
        shown = "[" + " ".join(fields) + "]"
        return f"expected exactly 5 fields, found {len(fields)}: {shown}"
    try:
        for text, (lo, hi, named) in zip(fields, _CRON_FIELDS, strict=True):
            for part in text.split(","):
                _cron_range(part, lo, hi, named)
    except _CronError as exc:
        return str(exc)
    return None


def validate_job_spec(spec: Obj, path: str) -> list[FieldError]:
    out: list[FieldError] = []
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit",
                "ttlSecondsAfterFinished"):
        if spec.get(key) is not None:
            out += objectmeta.nonnegative(int(spec[key]), f"{path}.{key}")
    mode = spec.get("completionMode")
    if mode is not None and mode not in COMPLETION_MODES:
        out.append(FieldError.not_supported(f"{path}.completionMode", mode, COMPLETION_MODES))
    if mode == "Indexed" and spec.get("completions") is None:
        out.append(FieldError.required(f"{path}.completions",
                                       "when completion mode is Indexed"))
    if spec.get("selector") is not None:
        out += objectmeta.validate_label_selector(spec["selector"], f"{path}.selector")
    template = spec.get("template")
    out += core.validate_pod_template(template, f"{path}.template")
    policy = ((template or {}).get("spec") or {}).get("restartPolicy") or ""
    if policy not in JOB_RESTART_POLICIES:
        out.append(FieldError.not_supported(f"{path}.template.spec.restartPolicy", policy,
                                            JOB_RESTART_POLICIES))
    return out


def validate_job(obj: Obj) -> list[FieldError]:
    return validate_job_spec(obj.get("spec") or {}, "spec")


def validate_job_update(new: Obj, old: Obj) -> list[FieldError]:
    """The selector a Job was created with stays (upstream ValidateJobSpecUpdate)."""
    out = validate_job(new)
    selector = (new.get("spec") or {}).get("selector")
    if selector != (old.get("spec") or {}).get("selector"):
        out.append(FieldError.invalid("spec.selector",
                                      gorepr.value(gorepr.label_selector(selector or {})),
                                      objectmeta.FIELD_IMMUTABLE))
    return out


def validate_cron_job(obj: Obj) -> list[FieldError]:
    out: list[FieldError] = []
    name = (obj.get("metadata") or {}).get("name") or ""
    if len(name) > CRONJOB_NAME_MAX_LENGTH:
        out.append(FieldError.invalid("metadata.name", name,
                                      f"must be no more than {CRONJOB_NAME_MAX_LENGTH} "
                                      "characters"))
    spec = obj.get("spec") or {}
    schedule = spec.get("schedule") or ""
    if not schedule:
        out.append(FieldError.required("spec.schedule"))
    elif "TZ" in schedule:
        out.append(FieldError.invalid("spec.schedule", schedule, TZ_IN_SCHEDULE))
    else:
        problem = cron_schedule_errors(schedule)
        if problem:
            out.append(FieldError.invalid("spec.schedule", schedule, problem))
    policy = spec.get("concurrencyPolicy") or ""
    if policy not in CONCURRENCY_POLICIES:
        out.append(FieldError.not_supported("spec.concurrencyPolicy", policy,
                                            CONCURRENCY_POLICIES))
    for key in ("startingDeadlineSeconds", "successfulJobsHistoryLimit",
                "failedJobsHistoryLimit"):
        if spec.get(key) is not None:
            out += objectmeta.nonnegative(int(spec[key]), f"spec.{key}")
    job_template = spec.get("jobTemplate") or {}
    md = job_template.get("metadata") or {}
    out += objectmeta.validate_labels(md.get("labels"), "spec.jobTemplate.metadata.labels")
    out += validate_job_spec(job_template.get("spec") or {}, "spec.jobTemplate.spec")
    return out


def validate_cron_job_update(new: Obj, _old: Obj) -> list[FieldError]:
    return validate_cron_job(new)
