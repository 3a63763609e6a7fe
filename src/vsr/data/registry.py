"""Opening a converted frame store by its path, whichever back-end wrote it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from vsr.data.array_store import ArrayStore
from vsr.data.lmdb_store import DEFAULT_DB_NAMES, REDS_DB_NAMES, LmdbStore
from vsr.data.shard_store import ShardStore
from vsr.data.stores import FrameStore

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

    try:
        fmt = json.loads(manifest.read_text()).get("format")
    except (OSError, ValueError, AttributeError) as err:
        raise OSError(f"{manifest} is not a valid store manifest: {err}") from err
    if fmt == "vsr-arrays":
        return ArrayStore(root)
    if fmt == "vsr-lmdb":
        return LmdbStore.open(root)
    if fmt == "vsr-shards":
        return ShardStore(root)
    raise OSError(
        f"{manifest} describes a {fmt!r} store, expected vsr-arrays, vsr-lmdb or vsr-shards"
    )


def _open_lmdb_pair(root: Path) -> FrameStore | None:
    """A store over the BasicSR databases in `root`, None when it holds none."""

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
