"""The node IPAM controller: gives each Node a pod CIDR out of the cluster CIDR.

Mirrors upstream's range allocator (`pkg/controller/nodeipam/ipam/range_allocator.go` on
`cidrset/cidr_set.go`, run by `pkg/controller/nodeipam/node_ipam_controller.go` when
kube-controller-manager has `--allocate-node-cidrs`): the subnets Nodes already hold are
marked used as the informer sees them (a Node added with `spec.podCIDR` set, such as a
simulated node that picks its own, or one allocated by an earlier manager), so allocation starts
only once the cache has synced; a Node without one gets the next free `/node_cidr_mask_size`
subnet, written as `spec.podCIDR` and `spec.podCIDRs` (which the API allows to change only from
empty); a deleted Node's subnet is released. The kubelet waits for its podCIDR to configure
the pod network (`kajitori.kubelet.cni`).

Events are upstream's: `CIDRNotAvailable` on the Node when the range is full,
`CIDRAssignmentFailed` when the write fails (`Node <name> status is now: <reason>`).

Departure: single-stack IPv4 only (one cluster CIDR).
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from kajitori.api import cidrset, errors, meta
from kajitori.client import events, informer, rest, workqueue
from kajitori.controllers import worker

Obj = dict[str, Any]

log = logging.getLogger(__name__)

NODES = ("", "v1", "nodes")
COMPONENT = "cidrAllocator"
"""The event source upstream's range allocator records as."""
CIDR_NOT_AVAILABLE = "CIDRNotAvailable"
CIDR_ASSIGNMENT_FAILED = "CIDRAssignmentFailed"
RANGE_FULL_MESSAGE = ("failed to allocate cidr from cluster cidr at idx:0: CIDR allocation "
                      "failed; there are no remaining CIDRs left to allocate in the accepted "
                      "range")


def pod_cidrs(node: Obj) -> list[str]:
    """The Node's pod CIDRs: `spec.podCIDRs`, else `[spec.podCIDR]`, else none."""
    spec = node.get("spec") or {}
    return list(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []))


def validate(cluster_cidr: str, mask_size: int) -> None:
    """Raise ValueError, worded as kube-controller-manager's checks, for a cluster CIDR that
    cannot hold `mask_size` subnets."""
    try:
        network = ipaddress.ip_network(cluster_cidr)
    except ValueError as exc:
        raise ValueError(f"invalid --cluster-cidr {cluster_cidr!r}: {exc}") from exc
    if mask_size < network.prefixlen:
        raise ValueError("--node-cidr-mask-size must be bigger than the cluster CIDR's mask: "
                         f"{mask_size} < {network.prefixlen}")
    if mask_size > network.max_prefixlen:
        raise ValueError(f"--node-cidr-mask-size {mask_size} is too big for {cluster_cidr}")


class RangeAllocator:
    """Allocates node pod CIDRs from `cluster_cidr` until cancelled (`run`). A key is a Node
    name; one is never synced by two workers at once."""

    def __init__(self, *, client: rest.RESTClient, nodes: informer.Informer,
                 cluster_cidr: str, node_cidr_mask_size: int,
                 recorder: events.EventRecorder | None = None) -> None:
        """`recorder` None: one of our own, as `cidrAllocator` (tests pass theirs)."""
        validate(cluster_cidr, node_cidr_mask_size)
        self._client = client
        self._nodes = nodes
        self.cidrs = cidrset.Range(cluster_cidr, block_prefix=node_cidr_mask_size)
        self._recorder = recorder or events.EventRecorder(client, component=COMPONENT)
        self._pending: dict[str, str] = {}
        """Nodes patched by us whose new podCIDR the cache does not show yet."""
        self.queue: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue(
            name="nodeipam")
        nodes.add_handlers(on_add=self.add_node, on_update=lambda _old, new: self.add_node(new),
                           on_delete=self.delete_node)

    def add_node(self, node: Obj) -> None:
        """The Node informer's add and update handler: mark a held pod CIDR used, queue a
        Node without one."""
        held = pod_cidrs(node)
        if held:
            self.cidrs.occupy(held)
            self._pending.pop(meta.name(node), None)
        elif not meta.deletion_timestamp(node):
            self.queue.add(meta.name(node))

    def delete_node(self, obj: Obj | informer.DeletedFinalStateUnknown) -> None:
        """The Node informer's delete handler: release the Node's pod CIDR."""
        node = informer.deleted_object(obj)
        name = meta.name(node)
        for cidr in pod_cidrs(node) or [self._pending.pop(name, "")]:
            if cidr:
                log.info("releasing pod CIDR %s of deleted node %s", cidr, name)
                self.cidrs.release(cidr)

    async def run(self) -> None:
        await worker.run_workers(self.queue, self.sync, what="Node", workers=1,
                                 informers=(self._nodes,), alongside=(self._recorder.run,))

    async def sync(self, name: str) -> None:
        """Give the Node `name` a pod CIDR if it has none. A full range records
        CIDRNotAvailable and fails (retried with backoff, as a Node may be deleted); a failed
        write releases the subnet, records CIDRAssignmentFailed and fails."""
        node = self._nodes.cache.get(name)
        if node is None or pod_cidrs(node) or name in self._pending:
            return
        try:
            cidr = self.cidrs.allocate()
        except cidrset.RangeFull as exc:
            self._record(node, CIDR_NOT_AVAILABLE)
            raise worker.SyncFailed(RANGE_FULL_MESSAGE) from exc
        try:
            await self._client.patch(rest.resource_path(*NODES, name=name),
                                     {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}})
        except errors.StatusError as exc:
            self.cidrs.release(cidr)
            if exc.code == 404:
                return
            self._record(node, CIDR_ASSIGNMENT_FAILED)
            raise
        except BaseException:
            self.cidrs.release(cidr)
            raise
        self._pending[name] = cidr
        log.info("set node %s PodCIDR to [%s]", name, cidr)

    def _record(self, node: Obj, reason: str) -> None:
        ref = {"kind": "Node", "apiVersion": "v1",
               "metadata": {"name": meta.name(node), "uid": meta.uid(node)}}
        self._recorder.event(ref, events.NORMAL, reason,
                             f"Node {meta.name(node)} status is now: {reason}")


def new_node_ipam_controller(client: rest.RESTClient, *,
                             informers: informer.SharedInformerFactory, cluster_cidr: str,
                             node_cidr_mask_size: int) -> RangeAllocator:
    """The range allocator on `informers`' Node informer (upstream's
    `NewNodeIpamController` with the RangeAllocator type). Raises ValueError for a bad
    cluster CIDR or mask size."""
    return RangeAllocator(client=client, nodes=informers.informer_for(*NODES),
                          cluster_cidr=cluster_cidr, node_cidr_mask_size=node_cidr_mask_size)
