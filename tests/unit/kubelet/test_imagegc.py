"""Image garbage collection over the in-memory runtime: above the high threshold unused
images go, least recently used first, down to the low threshold; images in use, pinned ones
and young ones stay; upstream's events (FreeDiskSpaceFailed, InvalidDiskCapacity, and
ImageGCFailed only for a second failure in a row); imageMaximumGCAge; free_space for eviction."""

from __future__ import annotations

from typing import Any

import pytest
from cri_api.v1 import api_pb2
from fakeruntime import FakeRuntime

from kajitori.kubelet import imagegc

Obj = dict[str, Any]
MB = 1_000_000
CAPACITY = 100 * MB


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []

    def event(self, obj: Obj, type_: str, reason: str, message: str, *,
              field_path: str = "") -> None:
        self.events.append((obj["kind"], type_, reason, message))


class Node:
    """A fake runtime whose image filesystem frees each removed image's size."""

    def __init__(self) -> None:
        self.rt = FakeRuntime()
        self.recorder = Recorder()
        self.available = CAPACITY
        self.now = 10_000.0
        self.ids: dict[str, str] = {}
        self.gc = imagegc.ImageGCManager(
            self.rt, image_fs=self.image_fs, recorder=self.recorder,  # type: ignore[arg-type]
            node_name="n1", pinned_images=["registry.k8s.io/pause:3.10"],
            clock=lambda: self.now)

    async def image_fs(self) -> Obj:
        used = sum(i.size for i in self.rt.images.values())
        return {"capacityBytes": CAPACITY, "availableBytes": self.available - used}

    def fill(self, used_percent: int) -> None:
        """Other files take the disk up to `used_percent` with the images counted."""
        images = sum(i.size for i in self.rt.images.values())
        self.available = CAPACITY - (CAPACITY * used_percent // 100 - images)

    async def use(self, image: str) -> str:
        sandbox = await self.rt.run_pod_sandbox(api_pb2.PodSandboxConfig())
        return await self.rt.create_container(sandbox, api_pb2.ContainerConfig(
            metadata=api_pb2.ContainerMetadata(name="c"), image=api_pb2.ImageSpec(image=image)),
            api_pb2.PodSandboxConfig())

    def usage_percent(self) -> int:
        used = sum(i.size for i in self.rt.images.values())
        return 100 - (self.available - used) * 100 // CAPACITY


@pytest.fixture
def node() -> Node:
    n = Node()
    n.rt.add_image("registry.k8s.io/pause:3.10", size=1 * MB)
    for name in ("old", "older", "newer", "used"):
        n.ids[name] = n.rt.add_image(name, size=4 * MB)
    return n


async def test_over_the_high_threshold_unused_images_go_lru_first_to_the_low_one(
        node: Node) -> None:
    await node.use("used")
    await node.gc.detect_images(detect_time=0.0)
    # "older" was last used before "old"; "newer" was used most recently.
    for name, at in (("older", 100.0), ("old", 200.0), ("newer", 300.0)):
        node.now = at
        container = await node.use(name)
        await node.gc.detect_images(detect_time=0.0)
        await node.rt.remove_container(container)
    node.now = 10_000.0
    node.fill(87)
    await node.gc.garbage_collect()
    assert sorted(node.rt.images) == ["newer", "registry.k8s.io/pause:3.10", "used"]
    assert node.rt.verbs("remove_image") == [node.ids["older"], node.ids["old"]]
    assert node.usage_percent() < 80
    assert node.recorder.events == []


async def test_under_the_high_threshold_nothing_goes(node: Node) -> None:
    await node.gc.detect_images(detect_time=0.0)
    node.fill(84)
    await node.gc.garbage_collect()
    assert len(node.rt.images) == 5


async def test_too_little_to_free_is_free_disk_space_failed(node: Node) -> None:
    await node.use("used")
    await node.gc.detect_images(detect_time=0.0)
    node.fill(99)
    with pytest.raises(imagegc.ImageGCError) as failure:
        await node.gc.garbage_collect()
    # To free: 20% of 100 MB less the 1% available; found: old, older, newer.
    message = ("Failed to garbage collect required amount of images. Attempted to free "
               "19000000 bytes, but only found 12000000 bytes eligible to free.")
    assert str(failure.value) == message
    assert node.recorder.events == [("Node", "Warning", "FreeDiskSpaceFailed", message)]
    assert sorted(node.rt.images) == ["registry.k8s.io/pause:3.10", "used"]


async def test_images_younger_than_the_minimum_age_stay(node: Node) -> None:
    await node.gc.detect_images(detect_time=node.now)
    node.now += 119
    node.fill(90)
    with pytest.raises(imagegc.ImageGCError, match="only found 0 bytes eligible"):
        await node.gc.garbage_collect()
    assert len(node.rt.images) == 5


async def test_zero_capacity_is_invalid_disk_capacity(node: Node) -> None:
    async def empty() -> Obj:
        return {}

    gc = imagegc.ImageGCManager(node.rt, image_fs=empty, recorder=node.recorder,  # type: ignore[arg-type]
                                node_name="n1")
    with pytest.raises(imagegc.ImageGCError, match="invalid capacity 0 on image filesystem"):
        await gc.garbage_collect()
    assert node.recorder.events == [("Node", "Warning", "InvalidDiskCapacity",
                                     "invalid capacity 0 on image filesystem")]


async def test_image_gc_failed_is_reported_for_the_second_failure_in_a_row(
        node: Node) -> None:
    for name in ("old", "older", "newer", "used"):
        await node.use(name)
    node.fill(99)
    await node.gc.collect()
    assert [r for _, _, r, _ in node.recorder.events] == ["FreeDiskSpaceFailed"]
    await node.gc.collect()
    message = ("Failed to garbage collect required amount of images. Attempted to free "
               "19000000 bytes, but only found 0 bytes eligible to free.")
    assert node.recorder.events[1:] == [
        ("Node", "Warning", "FreeDiskSpaceFailed", message),
        ("Node", "Warning", "ImageGCFailed", message)]
    node.fill(50)
    await node.gc.collect()
    node.fill(99)
    await node.gc.collect()
    assert [r for _, _, r, _ in node.recorder.events][3:] == ["FreeDiskSpaceFailed"]


async def test_maximum_age_removes_images_unused_that_long(node: Node) -> None:
    node.gc.policy = imagegc.ImageGCPolicy(max_age=3600.0)
    await node.use("used")
    node.now += 3601  # the kubelet has run longer than the maximum age
    await node.gc.garbage_collect()
    assert sorted(node.rt.images) == ["registry.k8s.io/pause:3.10", "used"]


async def test_free_space_stops_once_enough_is_freed(node: Node) -> None:
    await node.gc.detect_images(detect_time=0.0)
    assert await node.gc.free_space(5 * MB) == 8 * MB
    assert len(node.rt.images) == 3
    await node.gc.delete_unused_images()
    assert sorted(node.rt.images) == ["registry.k8s.io/pause:3.10"]


def test_thresholds_are_checked_as_upstream() -> None:
    with pytest.raises(ValueError, match="LowThresholdPercent 90 can not be higher than "
                                         "HighThresholdPercent 85"):
        imagegc.ImageGCPolicy(low_threshold_percent=90)
