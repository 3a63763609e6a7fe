"""Scene cuts: where a video's shots begin, so that propagation never crosses a cut.

BasicVSR++ carries features from frame to frame in both directions; across a cut they carry
the previous shot into the next one (ghosting). Each shot is therefore processed as a clip of
its own (`split_shots`), with the temporal chunks and overlaps inside it.

`CutDetector` is PySceneDetect's `ContentDetector` rule, in numpy and streaming: the content
change between consecutive frames is the mean absolute difference of their hue, saturation and
value (0-255 each), averaged over the three; a frame whose change reaches `threshold` (27, the
library's default) starts a new shot, unless the current shot is shorter than `min_shot`
frames (15, its default). Frames are compared on a grid of every `stride`-th pixel, which
changes the score by well under a unit on natural frames and keeps detection cheap next to the
network.

A list of cuts from an editor (`read_cuts`) replaces detection: the 0-based index of each
shot's first frame, one per line or separated by commas or spaces.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np

T = TypeVar("T")
__all__ = ["CutDetector", "content_change", "read_cuts", "split_shots"]


def _hsv(frame: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 RGB -> float32 HSV with every channel in 0-255 (OpenCV's scale, hue
    x 255/180 as PySceneDetect compares it)."""
    rgb = frame.astype(np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    value = rgb.max(axis=-1)
    delta = value - rgb.min(axis=-1)
    saturation = np.where(value > 0, 255 * delta / np.maximum(value, 1e-6), 0)
    safe = np.maximum(delta, 1e-6)
    hue = np.where(
        value == r,
        (g - b) / safe,
        np.where(value == g, 2 + (b - r) / safe, 4 + (r - g) / safe),
    )
    hue = np.where(delta > 0, (hue * 60) % 360, 0)  # degrees
    return np.stack([hue * 255 / 360, saturation, value], axis=-1)


def content_change(previous: np.ndarray, current: np.ndarray, stride: int = 2) -> float:
    """The content change between two frames: the mean of the mean absolute HSV differences."""
    a = _hsv(previous[::stride, ::stride])
    b = _hsv(current[::stride, ::stride])
    return float(np.abs(a - b).mean(axis=(0, 1)).mean())


class CutDetector:
    """Streaming cut detection; call it with each frame's index and frame, in order.

    Args:
        threshold: content change at which a new shot starts.
        min_shot: frames a shot has at least (a change sooner is not a cut).
        stride: compare every `stride`-th pixel.

    Attributes:
        cuts: indices of the frames found to start a new shot.
    """

    def __init__(self, threshold: float = 27.0, min_shot: int = 15, stride: int = 2) -> None:
        if threshold <= 0 or min_shot < 1 or stride < 1:
            raise ValueError(
                f"scene-cut settings: threshold {threshold} must be > 0, min_shot {min_shot} "
                f"and stride {stride} at least 1"
            )
        self.threshold, self.min_shot, self.stride = threshold, min_shot, stride
        self.cuts: list[int] = []
        self._previous: np.ndarray | None = None
        self._shot_start = 0

    def __call__(self, index: int, frame: np.ndarray) -> bool:
        previous, self._previous = self._previous, frame
        if previous is None or previous.shape != frame.shape:
            return False
        long_enough = index - self._shot_start >= self.min_shot
        if long_enough and content_change(previous, frame, self.stride) >= self.threshold:
            self.cuts.append(index)
            self._shot_start = index
            return True
        return False


def read_cuts(path: str | Path) -> list[int]:
    """The cuts of an editor's list: 0-based first frames of the shots after the first.

    Raises:
        ValueError: the file holds something else than non-negative integers (named).
    """
    text = Path(path).read_text()
    cuts = []
    for token in text.replace(",", " ").split():
        if not token.isdigit():
            raise ValueError(
                f"{path}: {token!r} is not a frame number (a cut list holds the 0-based first "
                "frame of each new shot, one per line or separated by commas)"
            )
        cuts.append(int(token))
    return sorted(set(cuts) - {0})


def split_shots(
    frames: Iterable[T], starts_shot: Callable[[int, T], bool]
) -> Iterator[Iterator[T]]:
    """The frames as one lazy iterator per shot.

    `starts_shot(index, frame)` is asked once for every frame but the first, in order; True
    ends the current shot before that frame. Each shot's iterator must be read before the next
    one is used (an unread remainder is skipped).
    """
    it = iter(frames)
    end = object()
    state = {"next": next(it, end), "index": 0}

    def shot() -> Iterator[T]:
        first = True
        while state["next"] is not end:
            frame = state["next"]
            if not first and starts_shot(state["index"], frame):
                return
            first = False
            yield frame  # type: ignore[misc]
            state["index"] += 1
            state["next"] = next(it, end)

    while state["next"] is not end:
        current = shot()
        yield current
        for _ in current:  # skip what the consumer left unread
            pass
