"""Node IPAM: Nodes without a podCIDR get the next free /24 of the cluster CIDR, CIDRs held
already are skipped, a deleted Node's CIDR is reused, a full range says CIDRNotAvailable."""

from __future__ import annotations

import fakecluster
import pytest
from background import running

from kajitori.client import events, rest
from kajitori.controllers import nodeipam, worker

NODES = fakecluster.path("", "v1", "nodes")


async def node(client: rest.RESTClient, name: str, *, pod_cidr: str = "") -> dict:
    spec = {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]} if pod_cidr else {}
    return await client.create(NODES, {"apiVersion": "v1", "kind": "Node",
                                       "metadata": {"name": name}, "spec": spec})


def allocator(client: rest.RESTClient, nodes: list[dict], *, cluster_cidr: str = "10.42.0.0/16"
              ) -> nodeipam.RangeAllocator:
    made = nodeipam.RangeAllocator(
        client=client, nodes=fakecluster.seeded(*nodes), cluster_cidr=cluster_cidr,
        node_cidr_mask_size=24, recorder=events.EventRecorder(client, component="test"))
    for each in nodes:
        made.add_node(each)
    return made


async def test_a_node_without_pod_cidr_gets_the_first_free_one(client: rest.RESTClient) -> None:
    held = await node(client, "sim-0", pod_cidr="10.42.0.0/24")
    outside = await node(client, "sim-1", pod_cidr="10.244.0.0/24")
    fresh = await node(client, "agent")
    ipam = allocator(client, [held, outside, fresh])
    await ipam.sync("agent")
    spec = (await client.get(f"{NODES}/agent"))["spec"]
    assert (spec["podCIDR"], spec["podCIDRs"]) == ("10.42.1.0/24", ["10.42.1.0/24"])
    await ipam.sync("sim-0")  # has one: left alone
    assert (await client.get(f"{NODES}/sim-0"))["spec"]["podCIDR"] == "10.42.0.0/24"


async def test_a_deleted_nodes_cidr_is_released(client: rest.RESTClient) -> None:
    first = await node(client, "a", pod_cidr="10.42.0.0/24")
    second = await node(client, "b")
    third = await node(client, "c")
    ipam = allocator(client, [first, second, third], cluster_cidr="10.42.0.0/23")
    await ipam.sync("b")
    assert (await client.get(f"{NODES}/b"))["spec"]["podCIDR"] == "10.42.1.0/24"
    with pytest.raises(worker.SyncFailed):
        await ipam.sync("c")  # both /24s are taken
    ipam.delete_node(first)
    await ipam.sync("c")
    assert (await client.get(f"{NODES}/c"))["spec"]["podCIDR"] == "10.42.0.0/24"


async def test_a_full_range_records_cidr_not_available(client: rest.RESTClient) -> None:
    held = await node(client, "a", pod_cidr="10.42.0.0/24")
    fresh = await node(client, "b")
    recorder = events.EventRecorder(client, component="cidrAllocator")
    ipam = nodeipam.RangeAllocator(client=client, nodes=fakecluster.seeded(held, fresh),
                                   cluster_cidr="10.42.0.0/24", node_cidr_mask_size=24,
                                   recorder=recorder)
    ipam.add_node(held)
    with pytest.raises(worker.SyncFailed, match="no remaining CIDRs left to allocate"):
        await ipam.sync("b")
    assert "podCIDR" not in (await client.get(f"{NODES}/b")).get("spec", {})
    async with running(recorder):
        await recorder.flush()
    listed = await client.get(fakecluster.path("", "v1", "events", namespace="default"))
    assert [(e["reason"], e["message"], e["involvedObject"]["name"])
            for e in listed["items"]] == [
        ("CIDRNotAvailable", "Node b status is now: CIDRNotAvailable", "b")]


def test_a_mask_smaller_than_the_cluster_cidr_is_refused() -> None:
    with pytest.raises(ValueError, match="must be bigger than the cluster CIDR's mask"):
        nodeipam.validate("10.42.0.0/16", 8)
