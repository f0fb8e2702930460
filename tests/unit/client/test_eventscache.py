"""The event correlator's decisions: repeats count up as patches, similar events aggregate,
a source's burst about one object is capped; time only moves when the test steps it."""

from __future__ import annotations

from typing import Any

from kajitori.client import clock, eventscache

Obj = dict[str, Any]

STAMP = "2025-01-01T00:00:00Z"


def event(message: str = "scaled up", *, name: str = "web.1", at: str = STAMP) -> Obj:
    return {"kind": "Event", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": "ns"},
            "involvedObject": {"kind": "Deployment", "namespace": "ns", "name": "web",
                               "uid": "u", "apiVersion": "apps/v1"},
            "reason": "Scaled", "message": message, "source": {"component": "ctl"},
            "firstTimestamp": at, "lastTimestamp": at, "count": 1, "type": "Normal",
            "reportingComponent": "ctl", "reportingInstance": ""}


def correlate(correlator: eventscache.EventCorrelator, ev: Obj
              ) -> eventscache.CorrelateResult:
    return correlator.correlate(ev, now_timestamp=STAMP, now_nanos=0x10)


def test_first_event_is_created_as_is() -> None:
    correlator = eventscache.EventCorrelator(clock=clock.FakeClock())
    result = correlate(correlator, event())
    assert result == eventscache.CorrelateResult(event(), None)


def test_repeat_keeps_first_name_and_time_and_patches_count() -> None:
    correlator = eventscache.EventCorrelator(clock=clock.FakeClock())
    first = correlate(correlator, event(name="web.1")).event
    assert first is not None
    correlator.update_state({**first, "metadata": {**first["metadata"],
                                                   "resourceVersion": "7"}})
    later = "2025-01-01T00:02:00Z"
    result = correlate(correlator, event(name="web.2", at=later))
    assert result.event is not None
    assert (result.event["metadata"]["name"], result.event["metadata"]["resourceVersion"],
            result.event["firstTimestamp"], result.event["count"]) == ("web.1", "7", STAMP, 2)
    assert result.patch == {"count": 2, "lastTimestamp": later, "message": "scaled up"}


def test_events_differing_in_message_aggregate_from_the_tenth() -> None:
    correlator = eventscache.EventCorrelator(clock=clock.FakeClock())
    results = [correlate(correlator, event(f"message {i}", name=f"web.{i}"))
               for i in range(11)]
    messages = [r.event["message"] for r in results if r.event is not None]
    assert messages[:9] == [f"message {i}" for i in range(9)]
    assert messages[9] == "(combined from similar events): message 9"
    assert results[9].event is not None
    assert results[9].event["metadata"]["name"] == "web.10"
    # The aggregate is one event: the next similar one counts it up.
    assert results[10].patch is not None
    assert results[10].patch["count"] == 2


def test_similar_events_after_the_interval_start_afresh() -> None:
    fake = clock.FakeClock()
    correlator = eventscache.EventCorrelator(clock=fake)
    for i in range(9):
        correlate(correlator, event(f"m{i}"))
    fake.step(eventscache.AGGREGATE_INTERVAL_SECONDS + 1)
    result = correlate(correlator, event("m9"))
    assert result.event is not None
    assert result.event["message"] == "m9"


def test_a_source_may_burst_25_events_about_an_object_then_one_per_5_minutes() -> None:
    fake = clock.FakeClock()
    correlator = eventscache.EventCorrelator(clock=fake)
    results = [correlate(correlator, event()) for _ in range(26)]
    assert [r.skip for r in results] == [False] * 25 + [True]
    fake.step(299)
    assert correlate(correlator, event()).skip
    fake.step(301)
    assert not correlate(correlator, event()).skip
