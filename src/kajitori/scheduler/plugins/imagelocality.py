"""ImageLocality: prefer nodes that already hold the pod's images (upstream's
`plugins/imagelocality/image_locality.go`), from the nodes' `status.images`.

Per container (init and app) whose image the node lists (the pod's image name gets `:latest`
when it has no tag, as upstream's normalizedImageName; the node's names are taken as
reported), the image's size scaled by the share of nodes holding it is added; the sum is
clamped to [23 MiB, 1000 MiB × containers] and mapped onto 0..100. No normalisation; weight 1.

Departure: the image index over all nodes (which node holds which image, how many do) is
rebuilt when nodes are added, removed or relabelled, and otherwise at most every
IMAGE_INDEX_TTL seconds, rather than on every node status update, so that the heartbeats of
thousands of nodes do not cost a scan each.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from kajitori.scheduler import framework, types
from kajitori.scheduler.framework import ActionType, ClusterEvent, EventResource

NAME = "ImageLocality"
MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB
IMAGE_INDEX_TTL = 1.0
"""Seconds an image index may serve while nodes are only updated (not added or relabelled)."""
LATEST_TAG = ":latest"


def normalized_image_name(name: str) -> str:
    """upstream's normalizedImageName: a name without a tag gets `:latest`."""
    if name.rfind(":") <= name.rfind("/"):
        return name + LATEST_TAG
    return name


def calculate_priority(sums: np.ndarray, num_containers: int) -> np.ndarray:
    """upstream's calculatePriority, per node."""
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    clamped = np.clip(sums, MIN_THRESHOLD, max_threshold)
    return framework.MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


class ImageLocality:
    name = NAME

    def __init__(self, args: dict[str, Any] | None = None, handle: Any = None) -> None:
        del args, handle
        self._index: dict[str, np.ndarray] = {}
        """Image name → per slot, its size on the node there (0: absent)."""
        self._holders: dict[str, int] = {}
        self._built_at = float("-inf")
        self._generation = -1

    def events_to_register(self) -> list[ClusterEvent]:
        return [ClusterEvent(EventResource.NODE, ActionType.ADD)]

    def images(self, cache: Any) -> dict[str, np.ndarray]:
        """The image index, rebuilt when stale."""
        now = time.monotonic()
        if self._generation == cache.node_generation and now - self._built_at < IMAGE_INDEX_TTL:
            return self._index
        index: dict[str, np.ndarray] = {}
        holders: dict[str, int] = {}
        for slot in cache.live_slots().tolist():
            info = cache.infos[slot]
            if info is None or info.node is None:
                continue
            for image in (info.node.get("status") or {}).get("images") or []:
                size = int(image.get("sizeBytes") or 0)
                for image_name in image.get("names") or []:
                    sizes = index.get(image_name)
                    if sizes is None:
                        sizes = index[image_name] = np.zeros(cache.capacity, dtype=np.int64)
                    if not sizes[slot]:
                        holders[image_name] = holders.get(image_name, 0) + 1
                    sizes[slot] = size
        self._index, self._holders = index, holders
        self._built_at, self._generation = now, cache.node_generation
        return index

    def score(self, state: framework.CycleState, pod: types.PodInfo, cache: Any,
              slots: np.ndarray) -> np.ndarray:
        containers = (pod.spec.get("initContainers") or []) + (pod.spec.get("containers") or [])
        sums = np.zeros(len(slots), dtype=np.int64)
        index = self.images(cache)
        total = cache.node_count
        if index and total:
            for container in containers:
                image_name = normalized_image_name(container.get("image", ""))
                sizes = index.get(image_name)
                if sizes is None or sizes.shape[0] != cache.capacity:
                    continue
                spread = self._holders.get(image_name, 0) / total
                sums += (sizes[slots] * spread).astype(np.int64)
        return calculate_priority(sums, len(containers))
