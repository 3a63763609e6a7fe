"""`ArrayStore`: frames as uncompressed uint8 arrays, memory-mapped, the fastest local back-end.

Frames of the same size are packed into a few large `.npy` files of shape (N, H, W, 3), each
clip a contiguous run of N, so reading a frame is a memory copy (no decode) and reading a crop
copies only the crop's rows. Few large files keep the number of open maps small even for the
64k clips of Vimeo-90K. Layout::

    DST/store.json            format, clips, where each clip's frames start; written last
    DST/gt/pack-0000.npy      (N, H, W, 3) uint8
    DST/lr/pack-0000.npy

Raw frames take the space of their pixels (REDS GT: 2.7 MB a frame, about 75 GB in all).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vsr.data.backends.base import (
    KINDS,
    ClipInfo,
    FrameStore,
    Kind,
    Progress,
    atomic_folder,
    check_frame,
    read_manifest,
    source_clips,
    write_manifest,
)


class ArrayStore:
    """A `FrameStore` over memory-mapped uint8 frame packs written by `write_arrays`.

    Maps are opened lazily, per process (a forked DataLoader worker opens its own), and not
    pickled.

    Args:
        root: folder written by `write_arrays` (or `vsr-prepare arrays`).

    Raises:
        OSError: root is not a complete array store.
    """

    FORMAT = "vsr-arrays"

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self._infos, data = read_manifest(self.root, self.FORMAT)
        self._packs: list[str] = data["packs"]
        self._where: dict[str, dict[str, list[int] | None]] = data["where"]
        self._maps: dict[int, np.ndarray] = {}
        self._pid = os.getpid()

    def clips(self) -> dict[str, ClipInfo]:
        """All clips, by name, in the order they were converted."""
        return dict(self._infos)

    def _locate(self, clip: str, index: int, kind: Kind) -> tuple[np.ndarray, int]:
        info = self._infos[clip]  # KeyError for an unknown clip
        if kind not in KINDS:
            raise KeyError(f"unknown kind {kind!r}")
        where = self._where[clip][kind]
        if where is None:
            raise KeyError(f"clip {clip} has no {kind!r} frames")
        if not 0 <= index < info.num_frames:
            raise KeyError(f"clip {clip} has no frame {index} ({info.num_frames} frames)")
        pack, start = where
        return self._map(pack), start + index

    def _map(self, pack: int) -> np.ndarray:
        if self._pid != os.getpid():  # forked: maps of the parent are not ours to share
            self._maps, self._pid = {}, os.getpid()
        array = self._maps.get(pack)
        if array is None:
            path = self.root / self._packs[pack]
            try:
                array = np.load(path, mmap_mode="r")
            except (OSError, ValueError) as err:
                raise OSError(f"cannot map frame pack {path}: {err}") from err
            self._maps[pack] = array
        return array

    def read(self, clip: str, index: int, kind: Kind) -> np.ndarray:
        """Frame `index` of `clip` as an HxWx3 uint8 array (a copy)."""
        array, row = self._locate(clip, index, kind)
        return np.array(array[row])

    def read_crop(
        self, clip: str, index: int, kind: Kind, top: int, left: int, height: int, width: int
    ) -> np.ndarray:
        """The `height` x `width` crop at (`top`, `left`) of a frame, reading only its pixels.

        Equals `read(clip, index, kind)[top:top + height, left:left + width]`.
        """
        array, row = self._locate(clip, index, kind)
        h, w = array.shape[1:3]
        if top < 0 or left < 0 or top + height > h or left + width > w:
            raise ValueError(f"crop {(top, left, height, width)} is outside the {h}x{w} frame")
        return np.array(array[row, top : top + height, left : left + width])

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_maps"] = {}
        return state

    def __repr__(self) -> str:
        return f"ArrayStore({str(self.root)!r}, {len(self._infos)} clips)"


def write_arrays(
    src: FrameStore,
    dst: str | os.PathLike,
    *,
    clips: Sequence[str] | None = None,
    pack_bytes: int = 4 << 30,
    progress: Progress | None = None,
) -> None:
    """Convert the clips of `src` into an `ArrayStore` at `dst` (an empty or new folder).

    Atomic: the store is written into `DST.partial` and renamed to `dst` when complete (an
    existing `dst` is replaced then).

    Args:
        src: any frame store.
        dst: output folder.
        clips: clip names to convert, None for all.
        pack_bytes: largest pack file; a clip longer than that gets a pack of its own.
        progress: called with the number of frames written since the last call.
    """
    infos = source_clips(src, clips)
    with atomic_folder(dst) as out:
        packs: list[str] = []
        where: dict[str, dict[str, list[int] | None]] = {i.name: {} for i in infos}
        for kind in KINDS:
            # Plan: consecutive clips with the same frame size share a pack up to pack_bytes.
            plan: list[tuple[tuple[int, int], list[ClipInfo]]] = []
            used = 0
            for info in infos:
                size = info.gt_size if kind == "gt" else info.lr_size
                if size is None:
                    where[info.name][kind] = None
                    continue
                nbytes = info.num_frames * size[0] * size[1] * 3
                if not plan or plan[-1][0] != size or used + nbytes > pack_bytes:
                    plan.append((size, []))
                    used = 0
                plan[-1][1].append(info)
                used += nbytes
            (out / kind).mkdir(parents=True, exist_ok=True)
            for size, members in plan:
                name = f"{kind}/pack-{len(packs):04d}.npy"
                total = sum(i.num_frames for i in members)
                array = np.lib.format.open_memmap(
                    out / name, mode="w+", dtype=np.uint8, shape=(total, *size, 3)
                )
                start = 0
                for info in members:
                    where[info.name][kind] = [len(packs), start]
                    for t in range(info.num_frames):
                        array[start + t] = check_frame(src.read(info.name, t, kind), info, t, kind)
                        if progress is not None:
                            progress(1)
                    start += info.num_frames
                array.flush()
                del array
                packs.append(name)
        write_manifest(out, ArrayStore.FORMAT, infos, packs=packs, where=where)
