"""Frame stores: random access to the frames of a set of clips, whatever holds them.

Every storage back-end (`folder`, `lmdb`, `shards`, ...) implements `FrameStore`, so datasets
sample windows and crops without knowing where the bytes live, and a test can prove that all
back-ends give the same samples. `open_store` opens a converted store by its path.

A store may also offer `read_crop(clip, index, kind, top, left, height, width)`, equal to
`read(...)[top:top + height, left:left + width]` but reading only the crop's pixels
(`ArrayStore` does); training datasets use it when it is there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np

Kind = Literal["gt", "lr"]


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


# Folders a dataset of image files has at its top, for a hint when one is given as a store.
_DATASET_MARKERS = ("train_sharp", "val_sharp", "sequences", "GT")


def open_store(path: str | os.PathLike) -> FrameStore:
    """The converted frame store at `path`, whichever back-end wrote it.

    Recognised, in this order:

    * an object-store URL (`s3://...`, `gs://...`): a shard store (`ShardStore`);
    * a folder with a `store.json`, as `vsr-prepare arrays | lmdb | shards` write them
      (`ArrayStore`, `LmdbStore`, `ShardStore`, told apart by the manifest's format);
    * BasicSR LMDB databases without our manifest: a `*.lmdb` database folder (GT frames
      only), or a folder holding a GT + low-res pair named like BasicSR's REDS databases
      (`train_sharp_with_val.lmdb`, `train_sharp_bicubic_with_val.lmdb`) or `gt.lmdb` +
      `lr.lmdb`, or a single `*.lmdb` (GT only). Other pairs open with
      `LmdbStore(gt_db, lr_db)`.

    Args:
        path: folder or URL of the store.

    Raises:
        FileNotFoundError: nothing exists at `path`.
        OSError: `path` is not a complete store (an interrupted conversion leaves
            `PATH.partial`, which must be converted again), or its format is unknown.
    """
    text = os.fspath(path)
    if "://" in text and not text.startswith("file://"):
        from vsr.data.shard_store import ShardStore

        return ShardStore(text)
    root = Path(text.removeprefix("file://")).expanduser()
    partial = root.with_name(root.name + ".partial")
    if root.name.endswith(".partial"):
        raise OSError(
            f"{root} is an incomplete conversion (vsr-prepare writes into DST.partial and "
            "renames it to DST when done): run vsr-prepare again to re-convert"
        )
    if not root.exists():
        hint = (
            f"; {partial} is an interrupted conversion: run vsr-prepare again to re-convert"
            if partial.exists()
            else ""
        )
        raise FileNotFoundError(f"no frame store at {root}{hint}")
    manifest = root / "store.json"
    if manifest.is_file():
        return _open_manifest(root, manifest)
    if (root / "data.mdb").is_file():
        from vsr.data.lmdb_store import LmdbStore

        return LmdbStore(root)
    lmdb_store = _open_lmdb_pair(root)
    if lmdb_store is not None:
        return lmdb_store
    problem = f"{root} is not a converted frame store: it has no store.json"
    if partial.exists():
        problem += f", and {partial} is an interrupted conversion: run vsr-prepare again"
    elif any((root / name).is_dir() for name in _DATASET_MARKERS):
        problem += " (it looks like a dataset of image files: read it with backend=folder)"
    else:
        problem += " (an incomplete conversion has none: run vsr-prepare arrays|lmdb|shards again)"
    raise OSError(problem)


def _open_manifest(root: Path, manifest: Path) -> FrameStore:
    import json

    try:
        fmt = json.loads(manifest.read_text()).get("format")
    except (OSError, ValueError, AttributeError) as err:
        raise OSError(f"{manifest} is not a valid store manifest: {err}") from err
    if fmt == "vsr-arrays":
        from vsr.data.array_store import ArrayStore

        return ArrayStore(root)
    if fmt == "vsr-lmdb":
        from vsr.data.lmdb_store import LmdbStore

        return LmdbStore.open(root)
    if fmt == "vsr-shards":
        from vsr.data.shard_store import ShardStore

        return ShardStore(root)
    raise OSError(
        f"{manifest} describes a {fmt!r} store, expected vsr-arrays, vsr-lmdb or vsr-shards"
    )


def _open_lmdb_pair(root: Path) -> FrameStore | None:
    """A store over the BasicSR databases in `root`, None when it holds none."""
    from vsr.data.lmdb_store import DEFAULT_DB_NAMES, REDS_DB_NAMES, LmdbStore

    databases = sorted(p.name for p in root.glob("*.lmdb") if (p / "data.mdb").is_file())
    if not databases:
        return None
    for gt, lr in (REDS_DB_NAMES, DEFAULT_DB_NAMES):
        if gt in databases:
            return LmdbStore(root / gt, root / lr if lr in databases else None)
    if len(databases) == 1:
        return LmdbStore(root / databases[0])
    raise OSError(
        f"{root} holds several LMDB databases ({', '.join(databases)}) and none has a known "
        f"name ({REDS_DB_NAMES[0]}, {DEFAULT_DB_NAMES[0]}): give the database folder itself, "
        "or build the store with LmdbStore(gt_db, lr_db)"
    )
