"""What every storage back-end shares: the store protocol, clip info, `DataError`, and the
`store.json` manifest and atomic writing of converted stores.

Frame stores give random access to the frames of a set of clips, whatever holds them.

Every storage back-end (`folder`, `lmdb`, `shards`, ...) implements `FrameStore`, so datasets
sample windows and crops without knowing where the bytes live, and a test can prove that all
back-ends give the same samples. `vsr.data.backends.registry.open_store` opens a converted store by
its path.

A store may also offer `read_crop(clip, index, kind, top, left, height, width)`, equal to
`read(...)[top:top + height, left:left + width]` but reading only the crop's pixels
(`ArrayStore` does); training datasets use it when it is there.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

Kind = Literal["gt", "lr"]


class DataError(ValueError):
    """The data on disk does not match what the configuration asks for.

    The message lists the problems found (the first few, with paths) and how many there are
    in all (`vsr.data.validate.raise_problems`).
    """


@dataclass(frozen=True)
class ClipInfo:
    """What a store knows about one clip.

    Attributes:
        name: clip name, unique in the store (`"000"` for REDS, `"00001/0001"` for Vimeo-90K).
        num_frames: number of frames.
        gt_size: (height, width) of the ground-truth frames.
        lr_size: (height, width) of the stored low-res frames, or None when none are stored
            (they are then made on the fly by a degradation).
    """

    name: str
    num_frames: int
    gt_size: tuple[int, int]
    lr_size: tuple[int, int] | None


@runtime_checkable
class FrameStore(Protocol):
    """Random access to frames, as HxWx3 uint8 RGB arrays."""

    def clips(self) -> dict[str, ClipInfo]:
        """All clips in the store, by name, in a stable order."""
        ...

    def read(self, clip: str, index: int, kind: Kind) -> np.ndarray:
        """Frame `index` (0-based) of `clip`, ground truth or low-res, as HxWx3 uint8 RGB.

        Raises:
            KeyError: the clip, frame or kind is not in the store.
            OSError: the frame exists but cannot be read or decoded (the message names it).
        """
        ...


MANIFEST = "store.json"
KINDS: tuple[Kind, ...] = ("gt", "lr")

Progress = Callable[[int], None]


def write_manifest(root: Path, fmt: str, infos: Sequence[ClipInfo], **extra: Any) -> None:
    """Write `root/store.json`: the format name, the clips and format-specific fields.

    Converters call it last, so a store with a manifest has all its frames.
    """
    clips = [
        {
            "name": info.name,
            "num_frames": info.num_frames,
            "gt_size": list(info.gt_size),
            "lr_size": list(info.lr_size) if info.lr_size is not None else None,
        }
        for info in infos
    ]
    data = {"format": fmt, "version": 1, "clips": clips, **extra}
    tmp = root / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, root / MANIFEST)


def parse_manifest(text: str, fmt: str, where: str) -> tuple[dict[str, ClipInfo], dict]:
    """Clips and raw content of a `store.json`.

    Raises:
        OSError: not a manifest of format `fmt`.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise OSError(f"{where} is not a valid store manifest: {err}") from err
    if data.get("format") != fmt:
        raise OSError(f"{where} describes a {data.get('format')!r} store, expected {fmt!r}")
    clips = {}
    for c in data["clips"]:
        lr = tuple(c["lr_size"]) if c["lr_size"] is not None else None
        clips[c["name"]] = ClipInfo(c["name"], c["num_frames"], tuple(c["gt_size"]), lr)
    return clips, data


def read_manifest(root: Path, fmt: str) -> tuple[dict[str, ClipInfo], dict]:
    """Read `root/store.json` (see `parse_manifest`).

    Raises:
        OSError: no manifest (an incomplete conversion or not a store), or another format.
    """
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise OSError(
            f"{root} is not a complete {fmt} store: {MANIFEST} is missing "
            "(an interrupted conversion leaves a .partial folder; run vsr-prepare again)"
        )
    return parse_manifest(path.read_text(), fmt, str(path))


def source_clips(src: FrameStore, clips: Sequence[str] | None) -> list[ClipInfo]:
    """`ClipInfo` of the clips to convert, in the source's order (or the order given)."""
    available = src.clips()
    names = list(available) if clips is None else list(clips)
    missing = [n for n in names if n not in available]
    if missing:
        raise KeyError(f"clips not in the source store: {', '.join(missing[:10])}")
    return [available[n] for n in names]


def check_frame(frame: np.ndarray, info: ClipInfo, index: int, kind: Kind) -> np.ndarray:
    """The frame if it has the clip's size and is HxWx3 uint8, else a ValueError naming it."""
    size = info.gt_size if kind == "gt" else info.lr_size
    if frame.dtype != np.uint8 or frame.shape != (*size, 3):  # type: ignore[misc]
        raise ValueError(
            f"{kind} frame {index} of clip {info.name} is {frame.dtype} {frame.shape}, "
            f"expected uint8 {(*size, 3)}"  # type: ignore[misc]
        )
    return frame


def partial_path(dst: Path) -> Path:
    """Where a store is written before it is complete: `DST.partial`."""
    return dst.with_name(dst.name + ".partial")


@contextmanager
def atomic_folder(dst: str | os.PathLike) -> Iterator[Path]:
    """Write a store into `DST.partial`, renamed to `dst` once the block completes.

    A failure removes `DST.partial`; a killed process leaves it, and `open_store` names it as
    an interrupted conversion, so a `dst` that exists is always complete. A `DST.partial` left
    by an earlier kill is removed first; an existing `dst` is replaced only once the new store
    is complete.
    """
    dst = Path(dst)
    partial = partial_path(dst)
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    try:
        yield partial
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if dst.exists():
        shutil.rmtree(dst)
    partial.rename(dst)
