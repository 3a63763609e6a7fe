"""`FolderStore`: frames read from image files (PNG, JPEG, ...) as they come, with Pillow."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from vsr.data.backends.base import ClipInfo, Kind
from vsr.data.layouts import ClipFiles, Layout
from vsr.frames import decode_image, read_header


class FolderStore:
    """A `FrameStore` over image files on disk, one folder per clip.

    Low-res frame `i` is the `i`-th low-res file in natural order, which `validate.scan_layout`
    has checked pairs with GT frame `i` by name. Sizes come from the scan when given, otherwise
    from the headers of each clip's first frames (read once, on first use).

    Args:
        files: frame files of each clip, by name (e.g. `Layout.clips`).
        infos: `ClipInfo` of each clip, if already known (e.g. from `scan_layout`).
    """

    def __init__(
        self, files: Mapping[str, ClipFiles], infos: Mapping[str, ClipInfo] | None = None
    ) -> None:
        self._files = dict(files)
        self._infos = dict(infos) if infos is not None else None

    @classmethod
    def from_layout(cls, layout: Layout, infos: Mapping[str, ClipInfo] | None = None):
        """Store over the clips of a `Layout`."""
        return cls(layout.clips, infos)

    def clips(self) -> dict[str, ClipInfo]:
        """All clips, by name, in the order they were given."""
        if self._infos is None:
            self._infos = {name: self._info(files) for name, files in self._files.items()}
        return dict(self._infos)

    @staticmethod
    def _info(files: ClipFiles) -> ClipInfo:
        if not files.gt:
            raise OSError(f"clip {files.name} has no frames in {files.gt_dir}")
        gt_size, _ = read_header(files.gt[0])
        lr_size = read_header(files.lr[0])[0] if files.lr else None
        return ClipInfo(files.name, len(files.gt), gt_size, lr_size)

    def path(self, clip: str, index: int, kind: Kind) -> Path:
        """File of frame `index` of `clip`.

        Raises:
            KeyError: unknown clip, frame index or kind, or no stored low-res frames.
        """
        files = self._files[clip]
        if kind == "gt":
            frames = files.gt
        elif kind == "lr" and files.lr is not None:
            frames = files.lr
        else:
            raise KeyError(f"clip {clip} has no {kind!r} frames")
        if not 0 <= index < len(frames):
            raise KeyError(f"clip {clip} has no frame {index} ({len(frames)} frames)")
        return frames[index]

    def read(self, clip: str, index: int, kind: Kind) -> np.ndarray:
        """Frame `index` of `clip` as a (writable) HxWx3 uint8 RGB array.

        Raises:
            KeyError: unknown clip, frame index or kind.
            OSError: the file cannot be read or decoded; the message names it.
        """
        path = self.path(clip, index, kind)
        return decode_image(path, str(path))

    def __repr__(self) -> str:
        return f"FolderStore({len(self._files)} clips)"
