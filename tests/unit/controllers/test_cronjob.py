"""The CronJob controller, as upstream's cronjob_controllerv2_test.go: seeded caches, fake Job
and CronJob writers, a fixed wall clock; each test asserts the Jobs made or deleted, the status
written, the events and when the CronJob is looked at again."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

import fakecluster
import pytest

from kajitori.api import errors, meta
from kajitori.controllers import cronjob, worker

Obj = dict[str, Any]
UTC = datetime.UTC
CREATED = datetime.datetime(2024, 1, 1, 10, 0, 30, tzinfo=UTC)
MINUTE = datetime.datetime(2024, 1, 1, 10, 1, tzinfo=UTC)


@dataclass
class FakeRecorder:
    events: list[str] = field(default_factory=list)

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        self.events.append(f"{type_} {reason} {message}")


@dataclass
class FakeJobControl:
    jobs: dict[str, Obj] = field(default_factory=dict)
    created: list[Obj] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    async def get_job(self, namespace: str, name: str) -> Obj:
        if name not in self.jobs:
            raise errors.not_found("jobs.batch", name)
        return self.jobs[name]

    async def create_job(self, namespace: str, job: Obj) -> Obj:
        if job["metadata"]["name"] in self.jobs:
            raise errors.already_exists("jobs.batch", job["metadata"]["name"])
        stored = {**job, "metadata": {**job["metadata"], "namespace": namespace,
                                      "uid": f"uid-{job['metadata']['name']}",
                                      "resourceVersion": "7"}}
        self.created.append(stored)
        self.jobs[job["metadata"]["name"]] = stored
        return stored

    async def delete_job(self, namespace: str, name: str) -> None:
        self.deleted.append(name)
        self.jobs.pop(name, None)


@dataclass
class FakeCronJobControl:
    updates: list[Obj] = field(default_factory=list)

    async def get_cron_job(self, namespace: str, name: str) -> Obj:
        raise AssertionError("not expected")

    async def update_status(self, cron_job: Obj) -> Obj:
        self.updates.append(cron_job)
        return cron_job


def make_cron_job(schedule: str = "* * * * *", **spec: Any) -> Obj:
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "hello", "namespace": "default", "uid": "cj-uid",
                         "resourceVersion": "1",
                         "creationTimestamp": meta.format_time(CREATED)},
            "spec": {"schedule": schedule, "concurrencyPolicy": "Allow", "suspend": False,
                     "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
                     "jobTemplate": {"metadata": {"labels": {"app": "hello"}}, "spec": {
                         "template": {"spec": {"restartPolicy": "OnFailure",
                                               "containers": [{"name": "c",
                                                               "image": "busybox"}]}}}},
                     **spec},
            "status": {}}


def child(name: str, *, finished: str | None = None, started: str = "2024-01-01T09:00:00Z",
          completed: str | None = None) -> Obj:
    status: Obj = {"startTime": started}
    if finished:
        status["conditions"] = [{"type": finished, "status": "True"}]
    if completed:
        status["completionTime"] = completed
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}",
                         "resourceVersion": "3",
                         "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob",
                                              "name": "hello", "uid": "cj-uid",
                                              "controller": True}]},
            "status": status}


def ref(job: Obj) -> Obj:
    return {"kind": "Job", "namespace": "default", "name": job["metadata"]["name"],
            "uid": job["metadata"]["uid"], "apiVersion": "batch/v1"}


@dataclass
class Rig:
    controller: cronjob.CronJobController
    jobs: FakeJobControl
    cron_jobs: FakeCronJobControl
    recorder: FakeRecorder

    async def sync(self) -> float | None:
        try:
            await self.controller.sync("default/hello")
        except worker.RequeueAfter as requeue:
            return requeue.seconds
        return None

    def status(self) -> Obj:
        return self.cron_jobs.updates[-1]["status"]


def rig(cron_job: Obj, *children: Obj, now: datetime.datetime = MINUTE) -> Rig:
    jobs, cron_jobs, recorder = FakeJobControl(), FakeCronJobControl(), FakeRecorder()
    for job in children:
        jobs.jobs[job["metadata"]["name"]] = job
    controller = cronjob.CronJobController(
        jobs=fakecluster.seeded(*children), cron_jobs=fakecluster.seeded(cron_job),
        job_control=jobs, cron_job_control=cron_jobs, recorder=recorder, now=lambda: now)
    return Rig(controller, jobs, cron_jobs, recorder)


async def test_due_schedule_creates_the_job_named_after_its_minute() -> None:
    r = rig(make_cron_job(), now=MINUTE + datetime.timedelta(seconds=5))
    requeue = await r.sync()
    [job] = r.jobs.created
    assert job["metadata"]["name"] == "hello-28401721"  # 2024-01-01T10:01Z in minutes
    assert job["metadata"]["labels"] == {"app": "hello"}
    assert job["metadata"]["annotations"] == {
        cronjob.SCHEDULED_TIMESTAMP_ANNOTATION: "2024-01-01T10:01:00Z"}
    assert job["metadata"]["ownerReferences"] == [
        {"apiVersion": "batch/v1", "kind": "CronJob", "name": "hello", "uid": "cj-uid",
         "controller": True, "blockOwnerDeletion": True}]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    assert r.status()["lastScheduleTime"] == "2024-01-01T10:01:00Z"
    assert [a["name"] for a in r.status()["active"]] == ["hello-28401721"]
    assert r.recorder.events == ["Normal SuccessfulCreate Created job hello-28401721"]
    assert requeue == pytest.approx(55.1)


async def test_nothing_due_waits_for_the_next_time() -> None:
    r = rig(make_cron_job(), now=CREATED + datetime.timedelta(seconds=10))
    assert await r.sync() == pytest.approx(20.1)
    assert r.jobs.created == []
    assert r.cron_jobs.updates == []


async def test_suspended_cron_job_starts_nothing() -> None:
    r = rig(make_cron_job(suspend=True))
    assert await r.sync() is None
    assert r.jobs.created == []


async def test_forbid_skips_while_a_job_is_active() -> None:
    running = child("hello-28401600")
    cj = make_cron_job(concurrencyPolicy="Forbid")
    cj["status"] = {"active": [ref(running)]}
    r = rig(cj, running)
    await r.sync()
    assert r.jobs.created == []
    assert r.recorder.events == [f"Normal JobAlreadyActive {cronjob.JOB_ALREADY_ACTIVE_MESSAGE}"]


async def test_replace_deletes_the_active_job_before_creating() -> None:
    running = child("hello-28401600")
    cj = make_cron_job(concurrencyPolicy="Replace")
    cj["status"] = {"active": [ref(running)]}
    r = rig(cj, running)
    await r.sync()
    assert r.jobs.deleted == ["hello-28401600"]
    assert [j["metadata"]["name"] for j in r.jobs.created] == ["hello-28401721"]
    assert [a["name"] for a in r.status()["active"]] == ["hello-28401721"]
    assert r.recorder.events == ["Normal SuccessfulDelete Deleted job hello-28401600",
                                 "Normal SuccessfulCreate Created job hello-28401721"]


async def test_finished_job_leaves_the_active_list_and_success_is_recorded() -> None:
    done = child("hello-28401660", finished="Complete", completed="2024-01-01T10:00:40Z")
    cj = make_cron_job()
    cj["status"] = {"active": [ref(done)], "lastScheduleTime": "2024-01-01T10:01:00Z"}
    r = rig(cj, done)
    await r.sync()
    assert r.status()["active"] == []
    assert r.recorder.events == [
        "Normal SawCompletedJob Saw completed job: hello-28401660, status: Complete"]
    # Next sync: the Job is no longer active, its success is counted.
    r2 = rig({**cj, "status": r.status()}, done)
    await r2.sync()
    assert r2.status()["lastSuccessfulTime"] == "2024-01-01T10:00:40Z"


async def test_history_limits_delete_the_oldest_finished_jobs() -> None:
    succeeded = [child(f"hello-{i}", finished="Complete", started=f"2024-01-01T0{i}:00:00Z")
                 for i in range(1, 6)]
    failed = [child(f"hello-f{i}", finished="Failed", started=f"2024-01-01T0{i}:00:00Z")
              for i in range(1, 3)]
    cj = make_cron_job()
    cj["status"] = {"lastScheduleTime": "2024-01-01T10:01:00Z"}
    r = rig(cj, *succeeded, *failed)
    await r.sync()
    assert r.jobs.deleted == ["hello-1", "hello-2", "hello-f1"]
    assert "Normal SuccessfulDelete Deleted job hello-1" in r.recorder.events


async def test_starting_deadline_missed_creates_nothing() -> None:
    r = rig(make_cron_job(startingDeadlineSeconds=10),
            now=MINUTE + datetime.timedelta(seconds=30))
    # Times older than the deadline are not even considered (as upstream): wait for 10:02.
    assert await r.sync() == pytest.approx(30.1)
    assert r.jobs.created == []
    assert r.recorder.events == []


async def test_too_many_missed_times_warns_and_runs_the_latest() -> None:
    r = rig(make_cron_job(), now=CREATED + datetime.timedelta(hours=3, seconds=5))
    await r.sync()
    assert r.recorder.events[0] == \
        f"Warning TooManyMissedTimes {cronjob.TOO_MANY_MISSED_MESSAGE}"
    assert [j["metadata"]["name"] for j in r.jobs.created] == ["hello-28401900"]


async def test_time_zone_sets_the_schedule_and_the_annotation() -> None:
    cj = make_cron_job("0 9 * * *", timeZone="Europe/Paris")
    r = rig(cj, now=datetime.datetime(2024, 1, 2, 8, 0, 5, tzinfo=UTC))
    await r.sync()
    [job] = r.jobs.created
    assert job["metadata"]["annotations"][cronjob.SCHEDULED_TIMESTAMP_ANNOTATION] == \
        "2024-01-02T09:00:00+01:00"


async def test_job_already_created_is_put_back_in_the_active_list() -> None:
    r = rig(make_cron_job(), now=MINUTE + datetime.timedelta(seconds=5))
    lost = child("hello-28401721")  # created by an earlier sync whose status write was lost
    r.jobs.jobs["hello-28401721"] = lost
    await r.sync()
    assert r.jobs.created == []
    assert r.status()["active"] == [{**ref(lost), "resourceVersion": "3"}]
    assert r.recorder.events == []
