"""`kajitori images list` prints what `crictl images` prints."""

from __future__ import annotations

import argparse

from cri_api.v1 import api_pb2

from kajitori.cli import images


def test_list_is_crictl_images() -> None:
    listed = [
        api_pb2.Image(id="sha256:61aa6ec485740de36ce1b742b1c2bd0187c6db5b735626c32fd1358d9557b618",
                      repo_tags=["docker.io/library/busybox:latest",
                                 "docker.io/library/busybox:1.35"], size=1044480),
        api_pb2.Image(id="sha256:e47a77314154fcaeee5f3042784507b0e7ea934a457e0fad4555d9373b808db8",
                      repo_tags=["registry.k8s.io/pause:3.10"], size=321),
        api_pb2.Image(id="sha256:0123456789abcdef0123", repo_digests=[
            "localhost:5000/app@sha256:ffff"], size=73_500_000),
    ]
    assert images.format_images(listed).splitlines() == [
        "IMAGE                       TAG                 IMAGE ID            SIZE",
        "docker.io/library/busybox   1.35                61aa6ec485740       1.04MB",
        "docker.io/library/busybox   latest              61aa6ec485740       1.04MB",
        "localhost:5000/app          <none>              0123456789abc       73.5MB",
        "registry.k8s.io/pause       3.10                e47a77314154f       321B",
    ]


def test_a_registry_port_is_not_a_tag() -> None:
    [_, row] = images.format_images([api_pb2.Image(
        id="sha256:aa", repo_tags=["localhost:5000/app"], size=1)]).splitlines()
    assert row.split() == ["localhost:5000/app", "<none>", "aa", "1B"]


def test_parser_has_import_list_and_build() -> None:
    parser = argparse.ArgumentParser(prog="kajitori")
    images.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["images", "-r", "/x.sock", "import", "a.tar", "b.tar"])
    assert (args.images_command, [str(f) for f in args.files]) == ("import", ["a.tar", "b.tar"])
    assert parser.parse_args(["images", "list"]).images_command == "list"
