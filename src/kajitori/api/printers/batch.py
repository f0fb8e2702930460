"""Printers for the batch group: jobs and cronjobs.

Mirrors printJob and printCronJob of pkg/printers/internalversion/printers.go (v1.33), including
the Job STATUS column (`Complete`, `Failed`, `Terminating`, `Suspended`, `FailureTarget`,
`Running`, in that precedence).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kajitori.api import duration, meta
from kajitori.api.printers import cells
from kajitori.api.printers.core import CONTAINERS, IMAGES, TERMINATING
from kajitori.api.printers.printer import AGE, NAME, Column, Doc, Obj, Printer, created

BATCH = "io.k8s.api.batch.v1."

# (condition type, STATUS word) before deletion is considered; then after it.
_FINISHED = (("Complete", "Complete"), ("Failed", "Failed"))
_PENDING = (("Suspended", "Suspended"), ("FailureTarget", "FailureTarget"))
RUNNING = "Running"


def _first_condition_true(conditions: list[Obj], condition_type: str) -> bool:
    return cells.condition_status(conditions, condition_type) == "True"


def job_status(job: Obj) -> str:
    conditions = (job.get("status") or {}).get("conditions") or []
    for condition_type, word in _FINISHED:
        if _first_condition_true(conditions, condition_type):
            return word
    if meta.deletion_timestamp(job):
        return TERMINATING
    for condition_type, word in _PENDING:
        if _first_condition_true(conditions, condition_type):
            return word
    return RUNNING


def _completions(spec: Obj, status: Obj) -> str:
    succeeded = int(status.get("succeeded") or 0)
    if spec.get("completions") is not None:
        return f"{succeeded}/{spec['completions']}"
    parallelism = int(spec.get("parallelism") or 0)
    if parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def _job_duration(status: Obj, now: datetime) -> str:
    """Empty before the job starts; running time so far; start to completion once done."""
    start = status.get("startTime")
    if not start:
        return ""
    end = meta.parse_time(status["completionTime"]) if status.get("completionTime") else now
    return duration.human_duration((end - meta.parse_time(start)).total_seconds())


def _job_cells(job: Obj, now: datetime) -> list[Any]:
    spec = job.get("spec") or {}
    status = job.get("status") or {}
    names, images = cells.layout_containers(cells.template_containers(spec.get("template")))
    return [meta.name(job), job_status(job), _completions(spec, status),
            _job_duration(status, now), created(job, now), names, images,
            cells.format_label_selector(spec.get("selector"))]


JOBS = Printer(
    columns=(
        NAME,
        Column("Status", "Status of the job."),
        Column("Completions", Doc(BATCH + "JobStatus", "succeeded")),
        Column("Duration", "Time required to complete the job."),
        AGE, CONTAINERS, IMAGES,
        Column("Selector", Doc(BATCH + "JobSpec", "selector"), priority=1),
    ),
    cells=_job_cells,
)


def _cron_job_cells(cron_job: Obj, now: datetime) -> list[Any]:
    spec = cron_job.get("spec") or {}
    status = cron_job.get("status") or {}
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    names, images = cells.layout_containers(cells.template_containers(job_spec.get("template")))
    last_schedule = duration.since(status["lastScheduleTime"], now=now) \
        if status.get("lastScheduleTime") else cells.NONE
    return [meta.name(cron_job), spec.get("schedule", ""), spec.get("timeZone") or cells.NONE,
            cells.bool_pointer(spec.get("suspend")), len(status.get("active") or []),
            last_schedule, created(cron_job, now), names, images,
            cells.format_label_selector(job_spec.get("selector"))]


CRONJOBS = Printer(
    columns=(
        NAME,
        Column("Schedule", Doc(BATCH + "CronJobSpec", "schedule")),
        Column("Timezone", Doc(BATCH + "CronJobSpec", "timeZone")),
        Column("Suspend", Doc(BATCH + "CronJobSpec", "suspend"), type="boolean"),
        Column("Active", Doc(BATCH + "CronJobStatus", "active"), type="integer"),
        Column("Last Schedule", Doc(BATCH + "CronJobStatus", "lastScheduleTime")),
        AGE, CONTAINERS, IMAGES,
        Column("Selector", Doc(BATCH + "JobSpec", "selector"), priority=1),
    ),
    cells=_cron_job_cells,
)

PRINTERS: dict[str, Printer] = {"jobs": JOBS, "cronjobs": CRONJOBS}
