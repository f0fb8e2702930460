"""Image garbage collection: unused images removed when the image filesystem fills up.

Mirrors upstream v1.33's `pkg/kubelet/images/image_gc_manager.go` and its caller in
`pkg/kubelet/kubelet.go` (`StartGarbageCollection`, every ImageGCPeriod, 5 min):
- The runtime's images are tracked by id: when first detected (images present when the
  kubelet starts count as detected long ago), when last used (seen in use by a container of
  any state), their size, whether pinned (the runtime's `pinned`, and the sandbox image).
- `garbage_collect()`: with `imageMaximumGCAge` set (and the kubelet up that long), unused
  images unused that long are removed first. Then, when the image filesystem's usage
  (100 - available * 100 / capacity, in whole percent) is at or above
  `imageGCHighThresholdPercent`, enough is freed to bring it to `imageGCLowThresholdPercent`:
  unused, unpinned images at least `imageMinimumGCAge` old, least recently used (then first
  detected) first, until their sizes add up to the amount. Too few eligible bytes is a
  `FreeDiskSpaceFailed` warning on the Node; a capacity of 0 is `InvalidDiskCapacity`.
- `run()` reports a failed collection as the `ImageGCFailed` warning only when the one
  before failed too (the first may just be stats not ready yet), as upstream.
- `free_space(n)` and `delete_unused_images()` are the eviction manager's reclaimers for
  disk pressure (upstream's DeleteUnusedImages frees all it can).

The image filesystem's capacity and available bytes come from `image_fs` (the kubelet passes
the stats Summary's `node.runtime.imageFs`, `kajitori.kubelet.stats`).

Departure: containerd 1.6 reports no image pinned, so the sandbox image is treated as pinned
by name (`pinned_images`): removing it would leave an offline node unable to start pods.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from cri_api.v1 import api_pb2

from kajitori.client import events
from kajitori.kubelet import nodestatus, runtime

Obj = dict[str, Any]

log = logging.getLogger(__name__)

IMAGE_GC_PERIOD = 300.0
"""Upstream's ImageGCPeriod, seconds."""

# Event reasons (upstream pkg/kubelet/events) and messages.
FREE_DISK_SPACE_FAILED = "FreeDiskSpaceFailed"
IMAGE_GC_FAILED = "ImageGCFailed"
INVALID_DISK_CAPACITY = "InvalidDiskCapacity"
MSG_FREE_FAILED = ("Failed to garbage collect required amount of images. Attempted to free "
                   "{wanted} bytes, but only found {found} bytes eligible to free.")
MSG_INVALID_CAPACITY = "invalid capacity 0 on image filesystem"
MSG_DELETION_ERRORS = ("wanted to free {wanted} bytes, but freed {freed} bytes space with "
                       "errors in image deletion: {errors}")
MSG_OLD_IMAGE_ERRORS = "failed to delete images: {errors}"


class ImageGCError(Exception):
    """A collection did not free what it had to; the message is upstream's."""


@dataclass(frozen=True)
class ImageGCPolicy:
    """Upstream's ImageGCPolicy; seconds for ages."""

    high_threshold_percent: int = 85
    low_threshold_percent: int = 80
    min_age: float = 120.0
    max_age: float = 0.0
    """0: images are never removed for age alone."""

    def __post_init__(self) -> None:
        # Upstream NewImageGCManager's checks: the kubelet does not start otherwise.
        if not 0 <= self.high_threshold_percent <= 100:
            raise ValueError(f"invalid HighThresholdPercent {self.high_threshold_percent}, "
                             "must be in range [0-100]")
        if not 0 <= self.low_threshold_percent <= 100:
            raise ValueError(f"invalid LowThresholdPercent {self.low_threshold_percent}, "
                             "must be in range [0-100]")
        if self.low_threshold_percent > self.high_threshold_percent:
            raise ValueError(f"LowThresholdPercent {self.low_threshold_percent} can not be "
                             f"higher than HighThresholdPercent {self.high_threshold_percent}")


class ImageGCRuntime(Protocol):
    """The CRI calls image garbage collection makes."""

    async def list_images(self) -> list[api_pb2.Image]: ...

    async def remove_image(self, image: str) -> None: ...

    async def list_containers(self, *, sandbox_id: str = "",
                              labels: dict[str, str] | None = None
                              ) -> list[api_pb2.Container]: ...


ImageFs = Callable[[], Awaitable[Obj]]
"""The image filesystem's stats in the Summary's form (`capacityBytes`, `availableBytes`)."""


@dataclass
class _Record:
    """Upstream's imageRecord; times are epoch seconds (0: never)."""

    first_detected: float
    last_used: float = 0.0
    size: int = 0
    pinned: bool = False


@dataclass(frozen=True)
class _Candidate:
    id: str
    record: _Record


def _aggregate(errors: list[str]) -> str:
    """Upstream's errors.NewAggregate text."""
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


class ImageGCManager:
    """Tracks the runtime's images and removes unused ones (`run()` until cancelled).

    `pinned_images` names images never removed (the sandbox image); `clock` gives epoch
    seconds. Concurrency: one collection or `free_space` at a time (a lock). Errors:
    `garbage_collect` raises ImageGCError (upstream's words) and CRIError from listing;
    `free_space` raises CRIError from listing, and ImageGCError when removals failed."""

    def __init__(self, runtime_service: ImageGCRuntime, *, image_fs: ImageFs,
                 recorder: events.EventRecorder, node_name: str,
                 policy: ImageGCPolicy | None = None, period: float = IMAGE_GC_PERIOD,
                 pinned_images: Iterable[str] = (),
                 clock: Callable[[], float] = time.time) -> None:
        self._runtime = runtime_service
        self._image_fs = image_fs
        self._recorder = recorder
        self._node_name = node_name
        self.policy = policy or ImageGCPolicy()
        self.period = period
        self._pinned_names = frozenset(pinned_images)
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self._began = clock()
        self._failed_before = False
        self._lock = asyncio.Lock()

    async def run(self) -> None:
        """Detect the images present now (as detected long ago), then `collect()` every
        `period` seconds."""
        try:
            await self.detect_images(detect_time=0.0)
        except runtime.CRIError as exc:
            log.info("failed to detect images at start: %s", exc)
        while True:
            await asyncio.sleep(self.period)
            await self.collect()

    async def collect(self) -> None:
        """One `garbage_collect()`, its failure logged, and reported as `ImageGCFailed` on
        the Node when the collection before failed too."""
        try:
            await self.garbage_collect()
        except (ImageGCError, runtime.CRIError) as exc:
            if self._failed_before:
                log.error("image garbage collection failed multiple times in a row: %s", exc)
                self._recorder.event(nodestatus.node_reference(self._node_name),
                                     events.WARNING, IMAGE_GC_FAILED, str(exc))
            else:
                log.error("image garbage collection failed once (stats may not be ready "
                          "yet): %s", exc)
            self._failed_before = True
        else:
            self._failed_before = False

    async def detect_images(self, *, detect_time: float) -> set[str]:
        """Refresh the records from the runtime; new images count as detected at
        `detect_time`. Returns the ids of the images in use."""
        images = await self._runtime.list_images()
        used_refs: set[str] = set()
        for container in await self._runtime.list_containers():
            used_refs.update(r for r in (container.image_ref, container.image.image) if r)
        now = self._clock()
        in_use: set[str] = set()
        current: set[str] = set()
        for image in images:
            current.add(image.id)
            record = self._records.setdefault(image.id, _Record(first_detected=detect_time))
            names = {image.id, *image.repo_tags, *image.repo_digests}
            if names & used_refs:
                in_use.add(image.id)
                record.last_used = now
            record.size = image.size
            record.pinned = image.pinned or bool(names & self._pinned_names)
        for gone in set(self._records) - current:
            del self._records[gone]
        return in_use

    async def _eviction_order(self, now: float) -> list[_Candidate]:
        """The unused, unpinned images, least recently used (then first detected) first."""
        in_use = await self.detect_images(detect_time=now)
        candidates = [_Candidate(image_id, record) for image_id, record in self._records.items()
                      if image_id not in in_use and not record.pinned]
        candidates.sort(key=lambda c: (c.record.last_used, c.record.first_detected))
        return candidates

    async def garbage_collect(self) -> None:
        """One collection as the module describes."""
        async with self._lock:
            now = self._clock()
            candidates = await self._eviction_order(now)
            if self.policy.max_age > 0:
                candidates = await self._free_old_images(candidates, now)
            fs = await self._image_fs()
            capacity = int(fs.get("capacityBytes") or 0)
            available = min(int(fs.get("availableBytes") or 0), capacity)
            if capacity == 0:
                self._recorder.event(nodestatus.node_reference(self._node_name),
                                     events.WARNING, INVALID_DISK_CAPACITY,
                                     MSG_INVALID_CAPACITY)
                raise ImageGCError(MSG_INVALID_CAPACITY)
            usage_percent = 100 - available * 100 // capacity
            if usage_percent < self.policy.high_threshold_percent:
                return
            to_free = capacity * (100 - self.policy.low_threshold_percent) // 100 - available
            log.info("disk usage on image filesystem is %d%%, over the high threshold (%d%%): "
                     "trying to free %d bytes down to the low threshold (%d%%)", usage_percent,
                     self.policy.high_threshold_percent, to_free,
                     self.policy.low_threshold_percent)
            freed = await self._free_space(to_free, now, candidates)
            if freed < to_free:
                message = MSG_FREE_FAILED.format(wanted=to_free, found=freed)
                self._recorder.event(nodestatus.node_reference(self._node_name),
                                     events.WARNING, FREE_DISK_SPACE_FAILED, message)
                raise ImageGCError(message)

    async def free_space(self, bytes_to_free: int) -> int:
        """Remove unused images (as a collection chooses them) until their sizes add up to
        `bytes_to_free`; returns the bytes freed, which may be less."""
        async with self._lock:
            now = self._clock()
            return await self._free_space(bytes_to_free, now, await self._eviction_order(now))

    async def delete_unused_images(self) -> None:
        """Remove every unused image old enough (upstream DeleteUnusedImages)."""
        async with self._lock:
            now = self._clock()
            await self._free_space(2**63 - 1, now, await self._eviction_order(now))

    async def _free_space(self, bytes_to_free: int, now: float,
                          candidates: list[_Candidate]) -> int:
        freed = 0
        errors: list[str] = []
        for candidate in candidates:
            record = candidate.record
            if record.last_used >= now:
                continue  # used since the order was made
            if now - record.first_detected < self.policy.min_age:
                continue  # just pulled, maybe for a container about to start
            try:
                await self._remove(candidate.id)
            except runtime.CRIError as exc:
                errors.append(str(exc))
                continue
            freed += record.size
            if freed >= bytes_to_free:
                break
        if errors:
            raise ImageGCError(MSG_DELETION_ERRORS.format(wanted=bytes_to_free, freed=freed,
                                                          errors=_aggregate(errors)))
        return freed

    async def _free_old_images(self, candidates: list[_Candidate],
                               now: float) -> list[_Candidate]:
        """Remove the images unused for longer than the maximum age, once the kubelet has
        run that long (else every image would look unused since ever); the rest remain."""
        if now - self._began <= self.policy.max_age:
            return candidates
        remaining = []
        errors: list[str] = []
        for candidate in candidates:
            if now - candidate.record.last_used <= self.policy.max_age:
                remaining.append(candidate)
                continue
            try:
                await self._remove(candidate.id)
            except runtime.CRIError as exc:
                errors.append(str(exc))
                remaining.append(candidate)
        if errors:
            raise ImageGCError(MSG_OLD_IMAGE_ERRORS.format(errors=_aggregate(errors)))
        return remaining

    async def _remove(self, image_id: str) -> None:
        log.info("removing image %s to free %d bytes", image_id, self._records[image_id].size)
        await self._runtime.remove_image(image_id)
        self._records.pop(image_id, None)
