"""When did the change that an Endpoints or EndpointSlice write reflects happen?

Mirrors pkg/controller/util/endpoint/trigger_time_tracker.go: the value of the
`endpoints.kubernetes.io/last-change-trigger-time` annotation is the earliest trigger time
among what changed since the Service's previous sync: a pod's trigger time is its `Ready`
condition's lastTransitionTime, the Service's its creationTimestamp. Nothing changed gives
None (the writer then drops the annotation). The Endpoints and EndpointSlice controllers each
keep one tracker; a key is never synced by two workers at once, so no locking is needed.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from kajitori.api import meta
from kajitori.controllers import podstate

Obj = dict[str, Any]

LAST_CHANGE_TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"


@dataclass
class _ServiceState:
    pod_trigger_times: dict[str, datetime.datetime] = field(default_factory=dict)
    service_trigger_time: datetime.datetime | None = None


def _parse(text: str | None) -> datetime.datetime | None:
    return meta.parse_time(text) if text else None


def format_trigger_time(moment: datetime.datetime) -> str:
    """RFC 3339 in UTC as Go's RFC3339Nano prints it: fractions only when there are any."""
    text = moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0")
    return text.rstrip(".") + "Z"


class TriggerTimeTracker:
    """Remembers, per Service key, the trigger times it last saw."""

    def __init__(self) -> None:
        self._states: dict[str, _ServiceState] = {}

    def compute(self, key: str, service: Obj, pods: list[Obj]) -> datetime.datetime | None:
        """The earliest trigger time newer than at the last call for `key`, and remember the
        current ones. Call once per sync, with the pods the Service selects."""
        previous = self._states.get(key, _ServiceState())
        state = _ServiceState()
        earliest: datetime.datetime | None = None
        for pod in pods:
            condition = podstate.ready_condition(pod)
            moment = _parse(condition.get("lastTransitionTime")) if condition else None
            if moment is None:
                continue
            state.pod_trigger_times[meta.name(pod)] = moment
            before = previous.pod_trigger_times.get(meta.name(pod))
            if (before is None or moment > before) and (earliest is None or moment < earliest):
                earliest = moment
        created = _parse(meta.metadata(service).get("creationTimestamp"))
        state.service_trigger_time = created
        if created is not None and (previous.service_trigger_time is None
                                    or created > previous.service_trigger_time) \
                and (earliest is None or created < earliest):
            earliest = created
        self._states[key] = state
        return earliest

    def delete(self, key: str) -> None:
        """Forget a deleted Service."""
        self._states.pop(key, None)
