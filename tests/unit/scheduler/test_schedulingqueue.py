"""The scheduling queue on a FakeClock: order, backoff, moves on cluster events, timeouts."""

from __future__ import annotations

from builders import pod

from kajitori.client.clock import FakeClock
from kajitori.scheduler import framework, queue, types
from kajitori.scheduler.framework import ActionType, ClusterEvent, EventResource
from kajitori.scheduler.plugins import noderesourcesfit, prioritysort, tainttoleration

NODE_ADDED = ClusterEvent(EventResource.NODE, ActionType.ADD)
POD_DELETED = ClusterEvent(EventResource.ASSIGNED_POD, ActionType.DELETE)
LABELLED = ClusterEvent(EventResource.NODE, ActionType.UPDATE_NODE_LABEL)


def make_queue(clock: FakeClock) -> queue.SchedulingQueue:
    events = {noderesourcesfit.NAME: noderesourcesfit.NodeResourcesFit().events_to_register(),
              tainttoleration.NAME: tainttoleration.TaintToleration().events_to_register()}
    return queue.SchedulingQueue(less=prioritysort.PrioritySort().less, clock=clock,
                                 events_by_plugin=events)


async def fail(q: queue.SchedulingQueue, *plugins: str) -> queue.QueuedPodInfo:
    info = await q.pop()
    info.unschedulable_plugins = set(plugins)
    q.add_unschedulable_if_not_present(info, q.scheduling_cycle)
    return info


async def test_active_queue_pops_higher_priority_then_older_first() -> None:
    clock = FakeClock()
    q = make_queue(clock)
    q.add(types.pod_info(pod("low-old", priority=1)))
    clock.step(1)
    q.add(types.pod_info(pod("high", priority=10)))
    clock.step(1)
    q.add(types.pod_info(pod("low-new", priority=1)))
    assert [(await q.pop()).pod.name for _ in range(3)] == ["high", "low-old", "low-new"]


async def test_failed_with_an_error_backs_off_one_then_two_seconds() -> None:
    clock = FakeClock()
    q = make_queue(clock)
    q.add(types.pod_info(pod("x")))
    await fail(q)
    assert q.backoff_keys() == ["default/x"]
    clock.step(0.9)
    q.flush_backoff_completed()
    assert q.active_keys() == []
    clock.step(0.1)
    q.flush_backoff_completed()
    assert q.active_keys() == ["default/x"]
    info = await fail(q)
    assert q.backoff_duration(info) == 2.0


async def test_backoff_doubles_up_to_ten_seconds() -> None:
    q = make_queue(FakeClock())
    info = queue.QueuedPodInfo(types.pod_info(pod("x")), 0.0)
    durations = []
    for attempts in range(1, 7):
        info.attempts = attempts
        durations.append(q.backoff_duration(info))
    assert durations == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


async def test_unschedulable_pod_waits_for_an_event_its_plugin_registered() -> None:
    clock = FakeClock()
    q = make_queue(clock)
    q.add(types.pod_info(pod("x")))
    await fail(q, noderesourcesfit.NAME)
    assert list(q.unschedulable) == ["default/x"]
    q.move_all_to_active_or_backoff(LABELLED)  # NodeResourcesFit does not care
    assert list(q.unschedulable) == ["default/x"]
    clock.step(5)
    q.move_all_to_active_or_backoff(POD_DELETED)
    assert q.unschedulable == {}
    assert q.active_keys() == ["default/x"]  # its 1 s backoff is long over


async def test_moved_while_backing_off_goes_to_backoff_queue() -> None:
    clock = FakeClock()
    q = make_queue(clock)
    q.add(types.pod_info(pod("x")))
    await fail(q, tainttoleration.NAME)
    q.move_all_to_active_or_backoff(NODE_ADDED)
    assert q.backoff_keys() == ["default/x"]


async def test_event_during_the_cycle_sends_the_failed_pod_to_backoff() -> None:
    clock = FakeClock()
    q = make_queue(clock)
    q.add(types.pod_info(pod("x")))
    info = await q.pop()
    q.move_all_to_active_or_backoff(NODE_ADDED)
    info.unschedulable_plugins = {noderesourcesfit.NAME}
    q.add_unschedulable_if_not_present(info, q.scheduling_cycle)
    assert (q.backoff_keys(), list(q.unschedulable)) == (["default/x"], [])


async def test_unschedulable_pods_retry_after_five_minutes() -> None:
    clock = FakeClock()
    q = make_queue(clock)
    q.add(types.pod_info(pod("x")))
    await fail(q, noderesourcesfit.NAME)
    clock.step(300)
    q.flush_unschedulable_leftover()
    assert list(q.unschedulable) == ["default/x"]
    clock.step(1)
    q.flush_unschedulable_leftover()
    assert q.active_keys() == ["default/x"]


async def test_gated_pod_waits_until_its_gates_are_removed() -> None:
    q = make_queue(FakeClock())
    gated = pod("x", schedulingGates=[{"name": "example.com/wait"}])
    q.add(types.pod_info(gated))
    q.move_all_to_active_or_backoff(framework.UNSCHEDULABLE_TIMEOUT)
    assert q.active_keys() == []
    q.update(types.pod_info(pod("x")))
    assert q.active_keys() == ["default/x"]


async def test_deleted_pod_leaves_every_queue() -> None:
    q = make_queue(FakeClock())
    q.add(types.pod_info(pod("x")))
    q.delete("default/x")
    assert (q.active_keys(), len(q)) == ([], 0)
