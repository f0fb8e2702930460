"""kajitori.klog: V levels map onto logging levels one to one and in order."""

from __future__ import annotations

import logging

from kajitori import klog


def test_v0_is_info_and_v4_is_debug() -> None:
    assert klog.level(0) == logging.INFO
    assert klog.level(klog.DEBUG_VERBOSITY) == logging.DEBUG
    assert klog.verbosity(logging.WARNING) == 0
    assert klog.verbosity(logging.DEBUG) == klog.DEBUG_VERBOSITY


def test_levels_round_trip_and_keep_their_order() -> None:
    levels = [klog.level(v) for v in range(14)]
    assert [klog.verbosity(level) for level in levels] == list(range(14))
    assert levels == sorted(levels, reverse=True)
    assert len(set(levels)) == len(levels)
    assert min(levels) > logging.NOTSET


def test_object_reference_reads_namespace_slash_name() -> None:
    pod = {"metadata": {"name": "nginx", "namespace": "default"}}
    assert str(klog.kobj(pod)) == "default/nginx"
    assert str(klog.kobj({"metadata": {"name": "n1"}})) == "n1"
    assert klog.kv(pod=klog.kobj(pod)) == {"kv": {"pod": klog.kref("default", "nginx")}}
