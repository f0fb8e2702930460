"""`kajitori images`: the images of this node's containerd, for nodes without a registry.

`kajitori images import FILE...` loads OCI or docker archives (`docker save`, `skopeo copy
... oci-archive:`, or what `kajitori images build` writes) into the namespace the kubelet's
pods use; `kajitori images list` prints what the node has, as `crictl images` does (the same
columns and size units), so the familiar tool's habits carry over; `kajitori images build
NAME...` builds a recipe of `images/` (pause, busybox) and prints the archive paths.

The runtime is the node agent's containerd (`<data-dir>/kubelet/containerd/containerd.sock`)
unless `--runtime-endpoint` names another CRI socket.

The CRI client (gRPC) is imported only when an images command runs: `cli.main` builds this
parser for every command, and `kajitori server` should not start slower for it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from kajitori.kubelet import imagebuild

if TYPE_CHECKING:
    from cri_api.v1 import api_pb2

LIST_HEADER = ("IMAGE", "TAG", "IMAGE ID", "SIZE")
"""`crictl images` columns."""
NONE = "<none>"
IMAGE_ID_LENGTH = 13
"""`crictl images` shows this many hex digits of the image ID."""
_MIN_WIDTH, _PADDING = 20, 3
"""crictl's tabwriter: cells at least 20 wide, 3 spaces of padding."""
_SIZE_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `images` with its `import`, `list` and `build` subcommands."""
    parser = subparsers.add_parser("images", help="import and list this node's images")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="the node's data directory (default: /var/lib/kajitori as root, "
                             "else ~/.local/share/kajitori)")
    parser.add_argument("-r", "--runtime-endpoint", default="",
                        help="CRI socket (default DIR/kubelet/containerd/containerd.sock)")
    parser.add_argument("-v", "--v", dest="verbosity", type=int, default=0,
                        help="log verbosity")
    actions = parser.add_subparsers(dest="images_command", required=True)
    load = actions.add_parser("import", help="import OCI or docker archives")
    load.add_argument("files", nargs="+", type=Path, metavar="FILE")
    actions.add_parser("list", help="list images (as crictl images)")
    build = actions.add_parser("build", help="build image archives from images/ recipes")
    build.add_argument("names", nargs="*", metavar="NAME",
                       help=f"recipes (default: {' '.join(imagebuild.BUILTIN_RECIPES)})")


def _socket(args: argparse.Namespace) -> str:
    if args.runtime_endpoint:
        return str(args.runtime_endpoint).removeprefix("unix://")
    data_dir: Path | None = args.data_dir
    if data_dir is None:
        from kajitori.cli.main import default_data_dir  # main imports this module

        data_dir = default_data_dir()
    from kajitori.kubelet import containerd

    return containerd.ContainerdSettings(root=data_dir / "kubelet").socket


def human_size(size: int) -> str:
    """Decimal units with three significant digits, as crictl (go-units `HumanSize`)."""
    value, unit = float(size), 0
    while value >= 1000 and unit < len(_SIZE_UNITS) - 1:
        value /= 1000
        unit += 1
    return f"{value:.3g}{_SIZE_UNITS[unit]}"


def _split_tag(repo_tag: str) -> tuple[str, str]:
    name, sep, tag = repo_tag.rpartition(":")
    if not sep or "/" in tag:
        return repo_tag, NONE
    return name, tag


def format_images(images: list[api_pb2.Image]) -> str:
    """The `crictl images` table: one row per tag (a `<none>` row for an untagged image),
    sorted by name as crictl does."""
    rows: list[tuple[str, ...]] = []
    for image in images:
        image_id = image.id.removeprefix("sha256:")[:IMAGE_ID_LENGTH]
        size = human_size(image.size)
        tags = [_split_tag(t) for t in image.repo_tags] or [
            (d.partition("@")[0], NONE) for d in image.repo_digests[:1]] or [(NONE, NONE)]
        rows.extend((repo, tag, image_id, size) for repo, tag in tags)
    rows.sort()
    table = [LIST_HEADER, *rows]
    widths = [max(max(len(row[i]) for row in table) + _PADDING, _MIN_WIDTH)
              for i in range(len(LIST_HEADER) - 1)]
    lines = ["".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
             + row[-1] for row in table]
    return "\n".join(lines) + "\n"


async def _list(socket: str) -> str:
    from kajitori.kubelet import cri

    async with cri.CRIRuntime(socket) as runtime:
        return format_images(await runtime.list_images())


async def _import(socket: str, files: list[Path]) -> None:
    from kajitori.kubelet import containerd

    for path in files:
        print(await containerd.import_archive(socket, path))


def run(args: argparse.Namespace) -> int:
    """Runs `kajitori images ...`; returns the exit status (1 with a message on failure)."""
    if args.images_command == "build":
        for name in args.names or imagebuild.BUILTIN_RECIPES:
            built = imagebuild.build_builtin(name)
            print(f"{' '.join(built.names)}\n  {built.oci_archive}\n  {built.docker_archive}")
        return 0
    from kajitori.kubelet.runtime import CRIError

    socket = _socket(args)
    if not os.path.exists(socket):
        print(f"error: no container runtime at {socket}: start `kajitori agent` "
              "or pass --runtime-endpoint", file=sys.stderr)
        return 1
    try:
        if args.images_command == "import":
            asyncio.run(_import(socket, args.files))
        else:
            print(asyncio.run(_list(socket)), end="")
    except (RuntimeError, CRIError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
