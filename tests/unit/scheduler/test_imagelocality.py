"""ImageLocality: nodes holding the pod's images score by size and spread, upstream's way."""

from __future__ import annotations

from typing import Any

from builders import node, pod, scores_by_node, seeded_cache

from kajitori.scheduler.plugins import imagelocality

MB = 1024 * 1024


def with_images(name: str, *images: tuple[list[str], int]) -> dict[str, Any]:
    found = node(name)
    found["status"]["images"] = [{"names": names, "sizeBytes": size} for names, size in images]
    return found


def test_normalized_image_name_adds_latest_only_without_a_tag() -> None:
    assert imagelocality.normalized_image_name("nginx") == "nginx:latest"
    assert imagelocality.normalized_image_name("registry:5000/app") == "registry:5000/app:latest"
    assert imagelocality.normalized_image_name("nginx:1.27") == "nginx:1.27"


def test_nodes_with_the_image_score_by_size_times_spread() -> None:
    cache = seeded_cache([
        with_images("n1", (["nginx:latest", "docker.io/library/nginx:latest"], 500 * MB)),
        with_images("n2", (["nginx:latest"], 500 * MB), (["busybox:latest"], 5 * MB)),
        node("n3")])
    scores = scores_by_node(imagelocality.ImageLocality(), pod("p"), cache)
    # 500 MiB × 2/3 of the nodes, clamped to [23 MiB, 1000 MiB] and mapped onto 0..100
    assert scores == {"n1": 31, "n2": 31, "n3": 0}


def test_small_images_and_absent_ones_score_zero() -> None:
    cache = seeded_cache([with_images("n1", (["nginx:latest"], 10 * MB)), node("n2")])
    assert scores_by_node(imagelocality.ImageLocality(), pod("p"), cache) == {"n1": 0, "n2": 0}
