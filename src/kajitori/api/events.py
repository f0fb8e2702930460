"""The two views of one Event: core/v1 `Event` and events.k8s.io/v1 `Event`.

Mirrors pkg/apis/events/v1/conversion.go (Convert_v1_Event_To_core_Event and back, and
AddFieldLabelConversionsForEvent). Upstream stores both views as core Events under one prefix
(`/registry/events/`, the cohabitating resources of pkg/kubeapiserver/
default_storage_factory_builder.go); the apiserver serves events.k8s.io through
`kajitori.storage.codec.CodecStore` with `to_core` and `to_events_v1` as its codec, so an Event
written through either API is read, listed and watched through both.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

GROUP = "events.k8s.io"
CORE_API_VERSION = "v1"
EVENTS_V1_API_VERSION = f"{GROUP}/v1"
KIND = "Event"

# Same field in both views, same name.
_SHARED = ("metadata", "reason", "type", "eventTime", "series", "action", "related",
           "reportingInstance")
# core/v1 name -> events.k8s.io/v1 name. core calls the controller `reportingComponent`
# on the wire though its Go field is ReportingController.
_RENAMED = {
    "involvedObject": "regarding",
    "message": "note",
    "count": "deprecatedCount",
    "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp",
    "source": "deprecatedSource",
    "reportingComponent": "reportingController",
}

# events.k8s.io/v1 field selector label -> the core label it selects (upstream's
# AddFieldLabelConversionsForEvent); any other label is `field label not supported: <label>`.
FIELD_LABELS = {
    "reason": "reason",
    "regarding.kind": "involvedObject.kind",
    "regarding.namespace": "involvedObject.namespace",
    "regarding.name": "involvedObject.name",
    "regarding.uid": "involvedObject.uid",
    "regarding.apiVersion": "involvedObject.apiVersion",
    "regarding.resourceVersion": "involvedObject.resourceVersion",
    "regarding.fieldPath": "involvedObject.fieldPath",
    "reportingController": "reportingComponent",
    "source": "source",
    "type": "type",
    "metadata.namespace": "metadata.namespace",
    "metadata.name": "metadata.name",
}


# Fields Go's encoder always writes (structs, and times without `omitempty`), with the
# value a zero one is written as; every other field is left out when zero.
_CORE_ALWAYS: Obj = {"involvedObject": {}, "source": {}, "firstTimestamp": None,
                     "lastTimestamp": None, "eventTime": None, "reportingComponent": "",
                     "reportingInstance": ""}
_EVENTS_V1_ALWAYS: Obj = {"regarding": {}, "deprecatedSource": {},
                          "deprecatedFirstTimestamp": None, "deprecatedLastTimestamp": None,
                          "eventTime": None}


def _convert(event: Obj, names: dict[str, str], always: Obj, api_version: str) -> Obj:
    out: Obj = {"kind": KIND, "apiVersion": api_version}
    for source, target in names.items():
        value = event.get(source)
        if value is not None and value != "" and value != 0:
            out[target] = value
    for field, zero in always.items():
        out.setdefault(field, zero)
    return out


_TO_EVENTS_V1 = {**{f: f for f in _SHARED}, **_RENAMED}
_TO_CORE = {**{f: f for f in _SHARED}, **{v: k for k, v in _RENAMED.items()}}


def to_events_v1(core: Obj) -> Obj:
    """A core/v1 Event as events.k8s.io/v1 sees it, shaped as upstream encodes it. Core
    fields without a v1 counterpart do not exist. Does not change `core`; values are shared,
    not copied (callers copy to change)."""
    return _convert(core, _TO_EVENTS_V1, _EVENTS_V1_ALWAYS, EVENTS_V1_API_VERSION)


def to_core(event: Obj) -> Obj:
    """An events.k8s.io/v1 Event as it is stored: a core/v1 Event, the inverse of
    `to_events_v1`. Does not change `event`; values are shared, not copied."""
    return _convert(event, _TO_CORE, _CORE_ALWAYS, CORE_API_VERSION)
