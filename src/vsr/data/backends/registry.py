"""The converted back-ends in one table: `open_store` opens a store by its path, whichever
back-end wrote it, and `write_store` converts into one (what `vsr-prepare` runs)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vsr.data.backends.arrays import ArrayStore, write_arrays
from vsr.data.backends.base import FrameStore, read_manifest
from vsr.data.backends.lmdb import DEFAULT_DB_NAMES, REDS_DB_NAMES, LmdbStore, write_lmdb
from vsr.data.backends.shards import ShardStore, write_shards


@dataclass(frozen=True)
class Backend:
    """A converted back-end: its `vsr-prepare` command, manifest format, reader and writer.

    Attributes:
        name: the `vsr-prepare` command (`arrays`, `lmdb`, `shards`).
        format: the `format` field of its `store.json`.
        help: one line for `--help`.
        open: opens a complete store from its folder.
        write: `write(src, dst, **options)`, atomic.
    """

    name: str
    format: str
    help: str
    open: Callable[[Path], FrameStore]
    write: Callable[..., None]


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend(
            "arrays",
            ArrayStore.FORMAT,
            "memory-mapped uint8 frame packs (fastest local reads, largest on disk)",
            ArrayStore,
            write_arrays,
        ),
        Backend(
            "lmdb",
            LmdbStore.FORMAT,
            "BasicSR-compatible LMDB databases of PNG frames",
            LmdbStore.open,
            write_lmdb,
        ),
        Backend(
            "shards",
            ShardStore.FORMAT,
            "litdata chunks, streamable from object storage",
            ShardStore,
            write_shards,
        ),
    )
}


def is_complete(path: str | os.PathLike, backend: str) -> bool:
    """Whether `path` is a complete store of `backend` (its manifest is there and says so)."""
    try:
        read_manifest(Path(path), BACKENDS[backend].format)
    except OSError:
        return False
    return True


def needs_writing(backend: str, dst: str | os.PathLike, overwrite: bool = False) -> bool:
    """Whether a `backend` store must be written at `dst`: False when a complete one is there
    and not to be overwritten.

    Raises:
        KeyError: unknown back-end.
        FileExistsError: `dst` exists and is not a complete `backend` store (use overwrite).
    """
    if backend not in BACKENDS:
        raise KeyError(f"unknown back-end {backend!r}, expected one of {', '.join(BACKENDS)}")
    dst = Path(dst).expanduser()
    if not dst.exists() or overwrite:
        return True
    if is_complete(dst, backend):
        return False
    raise FileExistsError(
        f"{dst} exists and is not a complete {backend} store: remove it or overwrite it "
        "(vsr-prepare: --force)"
    )


def write_store(
    backend: str,
    src: FrameStore,
    dst: str | os.PathLike,
    *,
    overwrite: bool = False,
    **options: Any,
) -> bool:
    """Convert `src` into a `backend` store at `dst`, atomically; False when already done.

    A complete store of that back-end at `dst` is kept unless `overwrite` (then it is replaced
    once the new one is complete); anything else at `dst` is an error unless `overwrite`
    (`needs_writing`).
    """
    if not needs_writing(backend, dst, overwrite):
        return False
    BACKENDS[backend].write(src, Path(dst).expanduser(), **options)
    return True


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
    for backend in BACKENDS.values():
        if fmt == backend.format:
            return backend.open(root)
    formats = ", ".join(b.format for b in BACKENDS.values())
    raise OSError(f"{manifest} describes a {fmt!r} store, expected one of {formats}")


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
