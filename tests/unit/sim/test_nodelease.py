"""Node Leases: created owned by the Node, renewed every interval on a FakeClock, spread over
the interval, re-fetched after a conflict, and left to go stale once the controller stops."""

from __future__ import annotations

import datetime

import pytest
from background import running
from simfakes import EPOCH, FakeClient, wall_of

from kajitori.client import clock as clock_
from kajitori.client import nodelease

LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"


def micro(seconds: float) -> str:
    return nodelease.micro_time(EPOCH + datetime.timedelta(seconds=seconds))


def renew_time(client: FakeClient, name: str) -> str:
    return str(client.objects[f"{LEASES}/{name}"]["spec"]["renewTime"])


async def test_leases_are_created_then_renewed_every_interval_spread_over_it() -> None:
    clock = clock_.FakeClock()
    client = FakeClient()
    controller = nodelease.NodeLeaseController(client, clock=clock, wall=wall_of(clock))
    controller.add("n0", "uid-0", delay=controller.spread(0, 2))
    controller.add("n1", "uid-1", delay=controller.spread(1, 2))
    async with running(controller):
        await client.wait_for(lambda: f"{LEASES}/n0" in client.objects)
        lease = client.objects[f"{LEASES}/n0"]
        assert lease["metadata"]["ownerReferences"] == [
            {"apiVersion": "v1", "kind": "Node", "name": "n0", "uid": "uid-0"}]
        assert lease["spec"] == {"holderIdentity": "n0", "leaseDurationSeconds": 40,
                                 "renewTime": micro(0)}
        assert f"{LEASES}/n1" not in client.objects  # due half an interval later

        clock.step(5)
        await client.wait_for(lambda: f"{LEASES}/n1" in client.objects)
        assert renew_time(client, "n1") == micro(5)

        clock.step(5)
        await client.wait_for(lambda: renew_time(client, "n0") == micro(10))
        assert client.verbs("update", f"{LEASES}/n0")  # renewed by an update, as upstream
        clock.step(5)
        await client.wait_for(lambda: renew_time(client, "n1") == micro(15))
    assert controller.renewals == 4
    assert controller.failures == 0

    clock.step(60)  # stopped: no more renewals, the Leases go stale
    assert renew_time(client, "n0") == micro(10)


async def test_a_conflicting_update_refetches_the_lease() -> None:
    clock = clock_.FakeClock()
    client = FakeClient()
    controller = nodelease.NodeLeaseController(client, clock=clock, wall=wall_of(clock))
    controller.add("n0", "uid-0")
    await controller.renew("n0")
    client.objects[f"{LEASES}/n0"]["metadata"]["resourceVersion"] = "999"  # someone wrote
    clock.step(10)
    await controller.renew("n0")
    assert [c.verb for c in client.calls] == ["get", "create", "update", "get", "update"]
    assert renew_time(client, "n0") == micro(10)


def test_an_interval_not_under_the_duration_is_refused() -> None:
    settings = nodelease.NodeLeaseSettings(node_lease_duration_seconds=40, renew_interval=40)
    with pytest.raises(ValueError, match="less than nodeLeaseDurationSeconds"):
        settings.validate()
