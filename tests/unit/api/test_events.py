"""The core/v1 and events.k8s.io/v1 views of an Event, as upstream converts them."""

from __future__ import annotations

from typing import Any

import pytest

from kajitori.api import errors, events, fields

Obj = dict[str, Any]

REF = {"kind": "Pod", "namespace": "ns", "name": "p", "uid": "u", "apiVersion": "v1"}


def core_event() -> Obj:
    return {"kind": "Event", "apiVersion": "v1",
            "metadata": {"name": "p.1", "namespace": "ns"},
            "involvedObject": REF, "reason": "Scaled", "message": "scaled up",
            "source": {"component": "ctl", "host": "h"},
            "firstTimestamp": "2025-01-01T00:00:00Z", "lastTimestamp": "2025-01-01T00:01:00Z",
            "count": 3, "type": "Normal", "eventTime": None,
            "reportingComponent": "ctl", "reportingInstance": "h"}


def test_core_event_as_events_v1() -> None:
    assert events.to_events_v1(core_event()) == {
        "kind": "Event", "apiVersion": "events.k8s.io/v1",
        "metadata": {"name": "p.1", "namespace": "ns"},
        "regarding": REF, "reason": "Scaled", "note": "scaled up",
        "deprecatedSource": {"component": "ctl", "host": "h"},
        "deprecatedFirstTimestamp": "2025-01-01T00:00:00Z",
        "deprecatedLastTimestamp": "2025-01-01T00:01:00Z", "deprecatedCount": 3,
        "type": "Normal", "eventTime": None, "reportingController": "ctl",
        "reportingInstance": "h"}


def test_events_v1_event_is_stored_as_core_event() -> None:
    v1 = {"kind": "Event", "apiVersion": "events.k8s.io/v1",
          "metadata": {"name": "e", "namespace": "ns"}, "eventTime": "2025-01-01T00:00:00.000000Z",
          "regarding": REF, "related": {"kind": "Node", "name": "n"}, "note": "n",
          "reason": "R", "action": "A", "type": "Warning", "reportingController": "c/x",
          "reportingInstance": "i", "series": {"count": 2,
                                               "lastObservedTime": "2025-01-01T00:00:01Z"}}
    assert events.to_core(v1) == {
        "kind": "Event", "apiVersion": "v1", "metadata": {"name": "e", "namespace": "ns"},
        "eventTime": "2025-01-01T00:00:00.000000Z", "involvedObject": REF,
        "related": {"kind": "Node", "name": "n"}, "message": "n", "reason": "R",
        "action": "A", "type": "Warning", "reportingComponent": "c/x",
        "reportingInstance": "i",
        "series": {"count": 2, "lastObservedTime": "2025-01-01T00:00:01Z"},
        "source": {}, "firstTimestamp": None, "lastTimestamp": None}


def test_round_trip_keeps_every_shared_field() -> None:
    core = core_event()
    assert events.to_core(events.to_events_v1(core)) == core


def test_empty_fields_are_written_as_go_encodes_them() -> None:
    v1 = events.to_events_v1({"kind": "Event", "apiVersion": "v1", "metadata": {},
                              "involvedObject": {}, "source": {}, "count": 0, "message": "",
                              "reportingComponent": "", "reportingInstance": ""})
    assert v1 == {"kind": "Event", "apiVersion": "events.k8s.io/v1", "metadata": {},
                  "regarding": {}, "deprecatedSource": {}, "deprecatedFirstTimestamp": None,
                  "deprecatedLastTimestamp": None, "eventTime": None}


def test_events_v1_field_selectors_use_regarding_names() -> None:
    selector = fields.check_supported("events.k8s.io", "events", fields.parse(
        "regarding.name=p,reportingController=ctl"))
    v1 = events.to_events_v1(core_event())
    assert selector.matches(fields.object_fields("events.k8s.io", "events", v1))
    assert str(selector) == "involvedObject.name=p,reportingComponent=ctl"


def test_core_field_names_are_not_events_v1_selectors() -> None:
    with pytest.raises(errors.StatusError) as caught:
        fields.check_supported("events.k8s.io", "events",
                               fields.parse("involvedObject.name=p"))
    assert caught.value.code == 400
    assert caught.value.status["message"] == "field label not supported: involvedObject.name"
