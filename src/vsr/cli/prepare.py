"""Convert a dataset into a faster storage back-end, or build the demo dataset.

    vsr-prepare arrays SRC DST     memory-mapped uint8 frames, the fastest local back-end
    vsr-prepare lmdb   SRC DST     BasicSR-compatible LMDB databases of PNG frames
    vsr-prepare shards SRC DST     litdata chunks (PNG or raw), for local or object storage
    vsr-prepare demo   DST         a small REDS-layout dataset made from bundled photographs

SRC is a dataset root in REDS, Vimeo-90K or folder-of-clips layout (detected, or `--layout`).
Output is atomic: frames go to `DST.partial`, renamed to DST once complete, so an interrupted
conversion never leaves a DST that looks usable; running the command again starts over.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from vsr.data.backends.base import ClipInfo, partial_path
from vsr.data.splits import SAME_SIZE_KINDS, SPLITS


class PrepareError(Exception):
    """A problem to report in one message, without a traceback."""


def open_source(args: argparse.Namespace):
    """The store over SRC, the `ClipInfo` of its clips (every file checked) and its layout."""
    from vsr.data.source import DataSource

    root = Path(args.src).expanduser()
    if not root.is_dir():
        raise PrepareError(f"source {root} does not exist or is not a folder")
    source = DataSource(
        kind=args.layout,
        root=root,
        split=args.split,
        degradation=args.degradation,
        lr_source={"auto": "auto", "stored": "stored", "none": "generate"}[args.lr],
        gt_dir=args.gt_dir,
        lr_dir=args.lr_dir,
        list_file=args.list_file,
    )
    kind = source.dataset_kind()
    if args.scale is None:
        args.scale = 1 if kind in SAME_SIZE_KINDS else 4
    found = source.open(role="eval", scale=args.scale)
    return found.store, found.infos, kind


def _progress(description: str):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        f"[bold]{description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    )


def _frames(infos: dict[str, ClipInfo]) -> int:
    return sum(i.num_frames * (2 if i.lr_size is not None else 1) for i in infos.values())


def convert(args: argparse.Namespace) -> Path:
    """Run one conversion (`arrays`, `lmdb` or `shards`) atomically; returns DST."""
    from vsr.data.backends.lmdb import DEFAULT_DB_NAMES, REDS_DB_NAMES
    from vsr.data.backends.registry import needs_writing, write_store

    dst = Path(args.dst).expanduser()
    if not needs_writing(args.command, dst, args.force):  # before the source is scanned
        print(f"{dst} is already a complete {args.command} store; nothing to do")
        return dst
    if partial_path(dst).exists():
        print(f"removing {partial_path(dst)}, left by an interrupted conversion")

    src, infos, kind = open_source(args)
    total = _frames(infos)
    print(f"{args.src}: {kind} layout, {len(infos)} clips, {total} frames -> {dst}")
    if args.command == "shards":
        options = {
            "encoding": args.encoding,
            "chunk_bytes": args.chunk_bytes,
            "verbose": not args.quiet,
        }
        write_store("shards", src, dst, overwrite=True, **options)
    else:
        with _progress(args.command) as bar:
            task = bar.add_task(args.command, total=total)
            advance: Callable[[int], None] = lambda n: bar.advance(task, n)  # noqa: E731
            options = {"progress": advance}
            if args.command == "lmdb":
                options["db_names"] = REDS_DB_NAMES if kind == "reds" else DEFAULT_DB_NAMES
                options["compress_level"] = args.compress_level
            write_store(args.command, src, dst, overwrite=True, **options)
    print(f"wrote {dst}")
    return dst


def build_demo(args: argparse.Namespace) -> Path:
    """Build the demo dataset (atomic by itself)."""
    from vsr.data.demo import DemoConfig
    from vsr.data.demo import build_demo as build

    config = DemoConfig(
        num_clips=args.clips,
        num_frames=args.frames,
        height=args.height,
        width=args.width,
        scale=args.scale,
        seed=args.seed,
    )
    with _progress("demo") as bar:
        task = bar.add_task("demo", total=config.num_clips * config.num_frames)
        dst = build(args.dst, config, overwrite=args.force, on_frame=lambda: bar.advance(task))
    print(f"demo dataset ready at {dst} (REDS layout; REDS4 clips 000, 011, 015, 020 held out)")
    return dst


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vsr-prepare",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `vsr-prepare COMMAND --help` for the options of each command.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from vsr.data.backends.registry import BACKENDS

    for name, backend in BACKENDS.items():
        text = backend.help
        p = sub.add_parser(name, help=text, description=f"Convert SRC into {text}.")
        p.add_argument("src", metavar="SRC", help="dataset root")
        p.add_argument("dst", metavar="DST", help="output folder (written as DST.partial first)")
        p.add_argument(
            "--layout",
            choices=("auto", *SPLITS),  # `vsr.data.splits.detect_kind`
            default="auto",
            help="layout of SRC (default: detect from its folders)",
        )
        p.add_argument(
            "--split",
            default="all",
            help="split to convert (default: all; REDS: reds4_train, reds4_val, ...; "
            "Vimeo-90K: train, test)",
        )
        p.add_argument("--list-file", help="file naming the clips to convert, one per line")
        p.add_argument(
            "--scale",
            type=int,
            help="downscaling factor of the low-res frames (default: 4; 1 for the same-size "
            "GoPro, DVD and DAVIS layouts)",
        )
        p.add_argument(
            "--degradation",
            choices=("bi", "bd"),
            default="bi",
            help="which low-res folder (BIx4/BDx4) for Vimeo-90K and folder layouts",
        )
        p.add_argument(
            "--lr",
            choices=("auto", "stored", "none"),
            default="auto",
            help="low-res frames: convert them when present (auto), require them, or skip",
        )
        p.add_argument("--gt-dir", help="GT folder relative to SRC (Vimeo-90K/folder layouts)")
        p.add_argument("--lr-dir", help="low-res folder relative to SRC")
        p.add_argument("--force", action="store_true", help="replace an existing DST")
        if name == "lmdb":
            p.add_argument(
                "--compress-level", type=int, default=1, help="PNG compression level (default 1)"
            )
        if name == "shards":
            p.add_argument(
                "--encoding",
                choices=("png", "raw"),
                default="png",
                help="frame bytes: lossless PNG (default) or raw uint8 pixels",
            )
            p.add_argument("--chunk-bytes", default="64MB", help="chunk file size (default 64MB)")
            p.add_argument("--quiet", action="store_true", help="no litdata progress output")

    p = sub.add_parser(
        "demo",
        help="build the demo dataset from photographs bundled with scikit-image",
        description="Build a small REDS-layout dataset of synthetic camera motion over "
        "photographs bundled with scikit-image (no download). Deterministic for a seed.",
    )
    p.add_argument("dst", metavar="DST", help="output folder")
    p.add_argument("--clips", type=int, default=12, help="number of clips (default 12)")
    p.add_argument("--frames", type=int, default=30, help="frames per clip (default 30)")
    p.add_argument("--height", type=int, default=192, help="GT height (default 192)")
    p.add_argument("--width", type=int, default=256, help="GT width (default 256)")
    p.add_argument("--scale", type=int, default=4, help="downscaling factor (default 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the camera paths (default 0)")
    p.add_argument("--force", action="store_true", help="rebuild even if DST exists")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `vsr-prepare`; returns the exit status."""
    args = build_parser().parse_args(argv)
    from vsr.data.validate import DataError

    try:
        if args.command == "demo":
            build_demo(args)
        else:
            convert(args)
    except (PrepareError, DataError, FileExistsError, OSError, ValueError, KeyError) as err:
        print(f"vsr-prepare: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vsr-prepare: interrupted; nothing complete was left at DST", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
