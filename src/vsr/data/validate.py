"""Checks that a dataset is usable before training starts, with one error that lists it all.

`scan_layout` is fast on purpose: it lists folders and reads image headers (no pixel decode),
so a bad frame fails `setup` in seconds instead of crashing a worker hours into training.
`check_store` applies the checks that need no files to any `FrameStore`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from vsr.data.backends.base import ClipInfo, DataError, FrameStore
from vsr.frames import read_header

if TYPE_CHECKING:
    from vsr.data.layouts import ClipFiles, Layout

MAX_LISTED = 10  # problems listed in a DataError's message
# Modes Pillow converts to 8-bit RGB without losing meaning; 16-bit or float frames would be
# silently clipped by that conversion.
READABLE_MODES = frozenset({"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr"})


__all__ = ["MAX_LISTED", "DataError", "raise_problems", "scan_layout"]


def raise_problems(problems: Sequence[str], what: str) -> None:
    """Raise one `DataError` listing `problems`, if there are any."""
    if not problems:
        return
    lines = [f"{len(problems)} problem(s) with {what}:"]
    lines += [f"  - {p}" for p in problems[:MAX_LISTED]]
    if len(problems) > MAX_LISTED:
        lines.append(f"  ... and {len(problems) - MAX_LISTED} more")
    raise DataError("\n".join(lines))


def _headers(paths: Iterable[Path]) -> dict[Path, tuple[tuple[int, int], str] | str]:
    """Header of every path, or the error message; threads because this is I/O bound."""

    def one(path: Path) -> tuple[Path, tuple[tuple[int, int], str] | str]:
        try:
            return path, read_header(path)
        except OSError as err:
            return path, str(err) or type(err).__name__

    workers = min(16, 4 * (os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(pool.map(one, paths, chunksize=64))


def _frame_sizes(
    paths: Sequence[Path],
    headers: Mapping[Path, tuple[tuple[int, int], str] | str],
    what: str,
    problems: list[str],
) -> tuple[int, int] | None:
    """The common size of `paths`, reporting unreadable frames and size changes."""
    size = None
    for path in paths:
        header = headers[path]
        if isinstance(header, str):
            problems.append(f"unreadable or corrupt image {path}: {header}")
            continue
        frame_size, mode = header
        if mode not in READABLE_MODES:
            problems.append(f"{path}: unsupported image mode {mode} (expected 8-bit RGB or gray)")
        if size is None:
            size = frame_size
        elif frame_size != size:
            problems.append(
                f"{path} is {frame_size[1]}x{frame_size[0]} but the {what} frames before it "
                f"are {size[1]}x{size[0]}"
            )
    return size


def _empty_reason(directory: Path) -> str:
    if not directory.exists():
        return f"folder {directory} does not exist"
    if not directory.is_dir():
        return f"{directory} is not a folder"
    if any(entry.is_dir() for entry in os.scandir(directory)):
        return f"folder {directory} has no image files, only sub-folders (one level of clips)"
    return f"folder {directory} has no image files"


def _check_sizes(
    name: str,
    gt_size: tuple[int, int],
    lr_size: tuple[int, int] | None,
    scale: int,
    gt_patch_size: int | None,
    where: str,
    problems: list[str],
) -> None:
    if lr_size is not None and (lr_size[0] * scale, lr_size[1] * scale) != gt_size:
        problems.append(
            f"clip {name} ({where}): low-res frames are {lr_size[1]}x{lr_size[0]}, x{scale} "
            f"is {lr_size[1] * scale}x{lr_size[0] * scale} but GT frames are "
            f"{gt_size[1]}x{gt_size[0]}"
        )
    if gt_patch_size is not None:
        # Crops sit on the low-res grid, so only whole low-res pixels count.
        usable = min(gt_size) // scale * scale
        if usable < gt_patch_size:
            problems.append(
                f"clip {name} ({where}): GT frames are {gt_size[1]}x{gt_size[0]}, smaller than "
                f"gt_patch_size={gt_patch_size}"
            )


def _one_format(frames: Sequence[Path], folder: Path, problems: list[str]) -> None:
    """Report a clip whose frames mix image formats (`00001.jpg` beside `00002.png`): frames
    of two exports in one folder, whose order and pairing cannot be trusted."""
    formats = sorted({p.suffix.lower().replace(".jpeg", ".jpg") for p in frames})
    if len(formats) > 1:
        problems.append(
            f"{folder}: frames of several formats ({', '.join(formats)}) in one clip; keep one "
            "format per clip folder"
        )


def scan_clip(
    clip: ClipFiles,
    headers: Mapping[Path, tuple[tuple[int, int], str] | str],
    *,
    scale: int,
    num_frames: int,
    gt_patch_size: int | None,
    problems: list[str],
) -> ClipInfo | None:
    """Check one clip's files; returns its `ClipInfo`, or None when it is unusable."""
    before = len(problems)
    if not clip.gt:
        problems.append(f"clip {clip.name}: {_empty_reason(clip.gt_dir)}")
        return None
    if len(clip.gt) < num_frames:
        problems.append(
            f"clip {clip.name} has {len(clip.gt)} frames, fewer than num_frames={num_frames} "
            f"({clip.gt_dir})"
        )
    _one_format(clip.gt, clip.gt_dir, problems)
    gt_size = _frame_sizes(clip.gt, headers, "GT", problems)
    lr_size = None
    if clip.lr is not None:
        assert clip.lr_dir is not None
        if not clip.lr:
            problems.append(f"clip {clip.name}: low-res {_empty_reason(clip.lr_dir)}")
            return None
        gt_stems = {p.stem: p for p in clip.gt}
        lr_stems = {p.stem: p for p in clip.lr}
        for stem, path in gt_stems.items():
            if stem not in lr_stems:
                problems.append(f"missing low-res frame {clip.lr_dir / stem}.* for GT {path}")
        for stem, path in lr_stems.items():
            if stem not in gt_stems:
                problems.append(f"extra low-res frame {path} has no GT frame in {clip.gt_dir}")
        _one_format(clip.lr, clip.lr_dir, problems)
        lr_size = _frame_sizes(clip.lr, headers, "low-res", problems)
    if gt_size is not None:
        _check_sizes(clip.name, gt_size, lr_size, scale, gt_patch_size, str(clip.gt_dir), problems)
    if len(problems) > before or gt_size is None:
        return None
    return ClipInfo(clip.name, len(clip.gt), gt_size, lr_size)


def scan_layout(
    layout: Layout,
    *,
    scale: int,
    num_frames: int = 1,
    gt_patch_size: int | None = None,
) -> dict[str, ClipInfo]:
    """Check every clip of a layout from folder listings and image headers.

    Checks: missing, empty or wrong folders; clips shorter than `num_frames`; missing or
    extra low-res frames (paired with GT frames by file name without suffix); unreadable or
    corrupt images (the header must parse); frame sizes that change within a clip; low-res
    size x `scale` != GT size; frames smaller than `gt_patch_size`; plus the problems the
    layout itself found (split files naming clips that do not exist, ...).

    Args:
        layout: the clips to check.
        scale: upscaling factor.
        num_frames: frames each clip needs at least (the training window).
        gt_patch_size: GT crop size for training, None for whole-clip evaluation.

    Returns:
        `ClipInfo` of every clip, by name, in the layout's order.

    Raises:
        DataError: listing every problem found (the first `MAX_LISTED` in full).
    """
    problems = list(layout.problems)
    if not layout.clips and not problems:
        problems.append(f"no clips found under {layout.root}")
    paths = [p for clip in layout.clips.values() for p in (*clip.gt, *(clip.lr or ()))]
    headers = _headers(paths)
    infos = {}
    for clip in layout.clips.values():
        info = scan_clip(
            clip,
            headers,
            scale=scale,
            num_frames=num_frames,
            gt_patch_size=gt_patch_size,
            problems=problems,
        )
        if info is not None:
            infos[clip.name] = info
    raise_problems(problems, f"the dataset at {layout.root}")
    return infos


def check_store(
    store: FrameStore,
    clips: Sequence[str],
    *,
    scale: int,
    num_frames: int = 1,
    gt_patch_size: int | None = None,
    need_lr: bool = False,
    what: str = "the frame store",
) -> dict[str, ClipInfo]:
    """The checks of `scan_layout` that a `FrameStore`'s `ClipInfo` allows, for any back-end.

    Returns:
        `ClipInfo` of the requested clips, in the order given.

    Raises:
        DataError: listing every problem found.
    """
    available = store.clips()
    problems: list[str] = []
    infos = {}
    for name in clips:
        info = available.get(name)
        if info is None:
            problems.append(f"clip {name!r} is not in {what}")
            continue
        before = len(problems)
        if info.num_frames < num_frames:
            problems.append(
                f"clip {name} has {info.num_frames} frames, fewer than num_frames={num_frames}"
            )
        if need_lr and info.lr_size is None:
            problems.append(f"clip {name} has no stored low-res frames")
        _check_sizes(name, info.gt_size, info.lr_size, scale, gt_patch_size, what, problems)
        if len(problems) == before:
            infos[name] = info
    if not clips:
        problems.append(f"no clips selected from {what}")
    raise_problems(problems, what)
    return infos
