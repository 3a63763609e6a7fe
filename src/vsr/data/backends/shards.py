"""`ShardStore`: frames in litdata chunk files, readable from a local folder or an object store.

Written with `litdata.optimize` (one item per frame: its key and its lossless bytes, PNG or raw
uint8 pixels, never a lossy codec) and read with `litdata.StreamingDataset`, which downloads
chunks on demand when the store lives at an `s3://`, `gs://` or similar URL. Layout::

    DST/index.json, DST/chunk-0-0.bin, ...     the litdata dataset
    DST/store.json                              clips and where their items start; written last

Items are in conversion order (one worker, order kept): for each clip its GT frames, then its
low-res frames, so `store.json` maps (clip, frame, kind) to an item index with two numbers per
clip. Each item also carries its key, checked on every read.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from vsr.data.backends.base import (
    MANIFEST,
    ClipInfo,
    FrameStore,
    Kind,
    Progress,
    atomic_folder,
    check_frame,
    parse_manifest,
    read_manifest,
    source_clips,
    write_manifest,
)
from vsr.frames import decode_image, encode_png

Encoding = Literal["png", "raw"]


def _is_url(root: str) -> bool:
    return "://" in root and not root.startswith("file://")


def _item_key(clip: str, index: int, kind: Kind) -> str:
    return f"{clip}/{index:08d}/{kind}"


class ShardStore:
    """A `FrameStore` over a litdata dataset written by `write_shards`.

    The `StreamingDataset` is created lazily, once per process, and not pickled.

    Args:
        root: local folder or object-store URL of the store.
        cache_dir: where litdata keeps downloaded chunks (remote stores only; None for its
            default).

    Raises:
        OSError: root is not a complete shard store.
    """

    FORMAT = "vsr-shards"

    def __init__(self, root: str | os.PathLike, cache_dir: str | None = None) -> None:
        self.root = str(root).rstrip("/")
        self.cache_dir = cache_dir
        if _is_url(self.root):
            import fsspec

            where = f"{self.root}/{MANIFEST}"
            try:
                with fsspec.open(where, "r") as f:
                    self._infos, data = parse_manifest(f.read(), self.FORMAT, where)
            except FileNotFoundError as err:
                raise OSError(f"{self.root} is not a complete shard store: no {MANIFEST}") from err
        else:
            self._infos, data = read_manifest(Path(self.root), self.FORMAT)
        self.encoding: Encoding = data["encoding"]
        self._starts: dict[str, dict[str, int | None]] = data["starts"]
        self._dataset = None
        self._pid = os.getpid()

    def clips(self) -> dict[str, ClipInfo]:
        """All clips, by name, in the order they were converted."""
        return dict(self._infos)

    def _data(self):
        if self._dataset is None or self._pid != os.getpid():
            from litdata import StreamingDataset

            self._dataset = StreamingDataset(self.root, cache_dir=self.cache_dir)
            self._pid = os.getpid()
        return self._dataset

    def item_index(self, clip: str, index: int, kind: Kind) -> int:
        """Index of a frame's item in the litdata dataset.

        Raises:
            KeyError: unknown clip, frame or kind.
        """
        info = self._infos[clip]
        start = self._starts[clip].get(kind)
        if start is None:
            raise KeyError(f"clip {clip} has no {kind!r} frames")
        if not 0 <= index < info.num_frames:
            raise KeyError(f"clip {clip} has no frame {index} ({info.num_frames} frames)")
        return start + index

    def read(self, clip: str, index: int, kind: Kind) -> np.ndarray:
        """Frame `index` of `clip` as an HxWx3 uint8 RGB array."""
        item_index = self.item_index(clip, index, kind)
        key = _item_key(clip, index, kind)
        try:
            item = self._data()[item_index]
        except Exception as err:
            raise OSError(f"cannot read item {item_index} ({key}) of {self.root}: {err}") from err
        if item["key"] != key:
            raise OSError(
                f"{self.root}: item {item_index} holds {item['key']!r}, expected {key!r} "
                f"({MANIFEST} does not match the chunks)"
            )
        data = item["data"]
        info = self._infos[clip]
        h, w = info.gt_size if kind == "gt" else info.lr_size  # type: ignore[misc]
        if self.encoding == "raw":
            return np.frombuffer(data, dtype=np.uint8).reshape(h, w, 3).copy()
        return decode_image(data, f"item {item_index} ({key}) of {self.root}")

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_dataset"] = None
        return state

    def __repr__(self) -> str:
        return f"ShardStore({self.root!r}, {len(self._infos)} clips, {self.encoding})"


def _encode_item(
    spec: tuple[str, int, Kind], src: FrameStore, infos: dict[str, ClipInfo], encoding: Encoding
) -> dict:
    """litdata `fn`: one frame of the source as {"key", "data"}."""
    clip, index, kind = spec
    frame = check_frame(src.read(clip, index, kind), infos[clip], index, kind)
    data = encode_png(frame) if encoding == "png" else frame.tobytes()
    return {"key": _item_key(clip, index, kind), "data": data}


def write_shards(
    src: FrameStore,
    dst: str | os.PathLike,
    *,
    clips: Sequence[str] | None = None,
    encoding: Encoding = "png",
    chunk_bytes: str = "64MB",
    verbose: bool = False,
    progress: Progress | None = None,
) -> None:
    """Convert the clips of `src` into a litdata `ShardStore` at local folder `dst`.

    Atomic: the store is written into `DST.partial` and renamed to `dst` when complete (an
    existing `dst` is replaced then). Upload the finished folder to an object store to stream from there.

    Args:
        src: any picklable frame store (litdata encodes in a spawned worker process).
        dst: output folder.
        clips: clip names to convert, None for all.
        encoding: `png` (lossless, smaller) or `raw` (uint8 pixels, no decode on read).
        chunk_bytes: target size of a chunk file.
        verbose: let litdata print its progress bar.
        progress: called once with the number of frames when the conversion is done.
    """
    import litdata

    if encoding not in ("png", "raw"):
        raise ValueError(f"encoding must be png or raw, got {encoding!r}")
    infos = source_clips(src, clips)
    with atomic_folder(dst) as out:
        specs: list[tuple[str, int, Kind]] = []
        starts: dict[str, dict[str, int | None]] = {}
        for info in infos:
            starts[info.name] = {"gt": len(specs), "lr": None}
            specs += [(info.name, t, "gt") for t in range(info.num_frames)]
            if info.lr_size is not None:
                starts[info.name]["lr"] = len(specs)
                specs += [(info.name, t, "lr") for t in range(info.num_frames)]
        fn = functools.partial(
            _encode_item, src=src, infos={i.name: i for i in infos}, encoding=encoding
        )
        # litdata stages chunks in a cache folder; keep it inside out so nothing leaks elsewhere.
        cache = out / ".cache"
        previous = os.environ.get("DATA_OPTIMIZER_CACHE_FOLDER")
        os.environ["DATA_OPTIMIZER_CACHE_FOLDER"] = str(cache)
        # litdata switches the process-wide start method to "spawn", which would slow every
        # DataLoader started afterwards in this process: put it back when done.
        start_method = multiprocessing.get_start_method(allow_none=True)
        try:
            litdata.optimize(
                fn=fn,
                inputs=specs,
                output_dir=str(out),
                chunk_bytes=chunk_bytes,
                num_workers=1,
                reorder_files=False,
                keep_data_ordered=True,  # item i is specs[i]: the index above stays valid
                mode="overwrite",
                verbose=verbose,
            )
        except RuntimeError as err:
            # litdata reports a frame its worker could not read as a RuntimeError whose text
            # holds the worker's traceback: name the error it ends with.
            errors = re.findall(r"^\w*(?:Error|Exception): .*$", str(err), re.MULTILINE)
            cause = next((e for e in errors if "Failed processing" not in e), str(err))
            raise OSError(f"shard conversion into {dst} failed: {cause}") from err
        finally:
            multiprocessing.set_start_method(start_method, force=True)
            if previous is None:
                os.environ.pop("DATA_OPTIMIZER_CACHE_FOLDER", None)
            else:
                os.environ["DATA_OPTIMIZER_CACHE_FOLDER"] = previous
            shutil.rmtree(cache, ignore_errors=True)
        if progress is not None:
            progress(len(specs))
        write_manifest(out, ShardStore.FORMAT, infos, encoding=encoding, starts=starts)
