"""Frame stores: random access to the frames of a set of clips, whatever holds them.

Every storage back-end (`folder`, `lmdb`, `shards`, ...) implements `FrameStore`, so datasets
sample windows and crops without knowing where the bytes live, and a test can prove that all
back-ends give the same samples. `vsr.data.registry.open_store` opens a converted store by
its path.

A store may also offer `read_crop(clip, index, kind, top, left, height, width)`, equal to
`read(...)[top:top + height, left:left + width]` but reading only the crop's pixels
(`ArrayStore` does); training datasets use it when it is there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

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
