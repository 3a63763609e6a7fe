"""Cutting a video into pieces the network can take, and putting the outputs back without seams.

Time: BasicVSR++ propagates features over the whole clip in both directions, so a frame's
output depends on every other frame, most on its near neighbours. A long video is cut into
windows of `chunk` frames plus `overlap` frames of context on each side; only the middle
`chunk` outputs of a window are kept, the context frames' outputs are dropped. Every kept frame
thus sees at least `overlap` real neighbours on both sides (or the true start/end of the video),
which is where a cut would otherwise show. Dropping is preferred to cross-fading: each output
frame is exactly one network output (never the average of two slightly different
reconstructions, which ghosts fine detail), the error at a cut is bounded by the same context
length everywhere, and `chunk >= length` gives exactly the whole-clip result.

Space: large frames are cut into tiles of `tile` x `tile` low-res pixels overlapping by
`overlap` pixels. Across each overlap the outputs are blended: the outer quarter next to a
tile's border (pixels that lack context there) is dropped, the middle half cross-faded linearly
(the two tiles' weights sum to one), so no edge is visible where tiles meet, and a network whose
receptive field is within a quarter of the overlap gives exactly the untiled result. Sides on
the frame's border are kept whole.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import torch

T = TypeVar("T")


# ---------------------------------------------------------------------------------------- time


@dataclass(frozen=True)
class Window:
    """One model call over frames [start, stop), whose outputs for [keep_start, keep_stop) are kept.

    Indices are frame numbers in the video.
    """

    start: int
    stop: int
    keep_start: int
    keep_stop: int

    @property
    def keep(self) -> slice:
        """The kept outputs, as a slice of the window's frames."""
        return slice(self.keep_start - self.start, self.keep_stop - self.start)


def check_chunking(chunk: int, overlap: int, tile: int = 0, tile_overlap: int = 0) -> None:
    """Refuse settings the windows or tiles cannot be made with, whatever the frames' size.

    Args:
        chunk: frames kept from each window (at least 1).
        overlap: context frames on each side of a window (at least 0).
        tile: tile side in input pixels (0: whole frames).
        tile_overlap: input pixels shared by neighbouring tiles (0 up to `tile - 1`).

    Raises:
        ValueError: names the setting, its value and what it may be.
    """
    _check_temporal(chunk, overlap)
    _check_spatial(tile, tile_overlap)


def _check_temporal(chunk: int, overlap: int) -> None:
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1 frame, got {chunk} (CLI: --chunk)")
    if overlap < 0:
        raise ValueError(f"overlap must be at least 0 frames, got {overlap} (CLI: --overlap)")


def _check_spatial(tile: int, overlap: int) -> None:
    if tile < 0:
        raise ValueError(
            f"tile must be at least 0 pixels (0: whole frames), got {tile} (CLI: --tile)"
        )
    if overlap < 0:
        raise ValueError(
            f"tile overlap must be at least 0 pixels, got {overlap} (CLI: --tile-overlap)"
        )
    if tile and overlap >= tile:
        raise ValueError(
            f"tile overlap ({overlap} pixels) must be smaller than the tile ({tile} pixels); "
            "lower the tile overlap or raise the tile (CLI: --tile-overlap, --tile)"
        )


def plan_windows(num_frames: int, chunk: int, overlap: int) -> list[Window]:
    """The windows `chunk_stream` produces for a video of `num_frames` frames."""
    _check_temporal(chunk, overlap)
    return [
        Window(
            max(0, s - overlap), min(num_frames, s + chunk + overlap), s, min(num_frames, s + chunk)
        )
        for s in range(0, num_frames, chunk)
    ]


def chunk_stream(frames: Iterable[T], chunk: int, overlap: int) -> Iterator[tuple[Window, list[T]]]:
    """Cut a stream of frames into overlapping windows, reading ahead only as far as needed.

    At most `chunk + 2 * overlap` frames are held at any time, whatever the video's length.

    Args:
        frames: the frames, in order (any objects; read lazily).
        chunk: frames kept from each window.
        overlap: context frames on each side of the kept ones.

    Yields:
        (window, the window's frames); `window.keep` selects the frames whose outputs to keep.
    """
    _check_temporal(chunk, overlap)
    it = iter(frames)
    buffer: deque[T] = deque()  # frames [first, first + len(buffer))
    first = 0
    keep_start = 0
    exhausted = False
    while True:
        want = keep_start + chunk + overlap  # one past the last frame this window would use
        while not exhausted and first + len(buffer) < want:
            try:
                buffer.append(next(it))
            except StopIteration:
                exhausted = True
        end = first + len(buffer)
        if keep_start >= end:
            return
        window = Window(
            max(0, keep_start - overlap), min(end, want), keep_start, min(end, keep_start + chunk)
        )
        yield window, list(buffer)[window.start - first : window.stop - first]
        keep_start = window.keep_stop
        # The next window starts `overlap` frames before its first kept frame.
        while first < keep_start - overlap:
            buffer.popleft()
            first += 1


# --------------------------------------------------------------------------------------- space


def tile_spans(size: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """[start, stop) of tiles covering `size` pixels, neighbours overlapping by >= `overlap`.

    Tiles are `tile` long (the last one is moved back to end at the border, overlapping its
    neighbour more); `tile == 0` or `tile >= size` gives one span over everything. Settings
    `check_chunking` refuses are refused whatever `size` is.
    """
    _check_spatial(tile, overlap)
    if tile == 0 or tile >= size:
        return [(0, size)]
    step = tile - overlap
    starts = [*range(0, size - tile, step), size - tile]
    return [(s, s + tile) for s in starts]


def _tile_weights(spans: list[tuple[int, int]], overlap: int, scale: int) -> list[torch.Tensor]:
    """Per-tile 1-D blending weights in output pixels, by distance to the tile's inner borders.

    Within `overlap` of an inner border (one shared with a neighbour), the outer quarter gets 0
    (those pixels lack context), the middle half rises linearly to 1; two tiles overlapping by
    exactly `overlap` thus get weights summing to one. Borders on the frame's edge get none.
    """
    n = overlap * scale
    margin = n // 4
    width = max(n - 2 * margin, 1)
    weights = []
    for i, (start, stop) in enumerate(spans):
        d = torch.arange((stop - start) * scale) + 0.5  # distance to the left border
        w = torch.ones_like(d)
        if i > 0:
            w = torch.minimum(w, ((d - margin) / width).clamp(0, 1))
        if i + 1 < len(spans):
            w = torch.minimum(w, ((d.flip(0) - margin) / width).clamp(0, 1))
        weights.append(w)
    return weights


def run_tiled(
    fn: Callable[[torch.Tensor], torch.Tensor],
    lqs: torch.Tensor,
    tile: int,
    overlap: int,
    keep: slice = slice(None),
) -> torch.Tensor:
    """Apply a video network tile by tile and blend the tiles' outputs.

    Args:
        fn: maps (1, t, 3, h, w) to (1, t, 3, s·h, s·w) for some integer scale s.
        lqs: (1, t, 3, H, W) input frames.
        tile: tile side in input pixels; 0 (or larger than the frame) for no tiling.
        overlap: input pixels shared by neighbouring tiles.
        keep: the frames (of the t) whose outputs are wanted; only these are stored.

    Returns:
        (1, k, 3, s·H, s·W) float32 outputs of the kept frames, in CPU memory when tiled
        (on fn's device otherwise).
    """
    h, w = lqs.shape[-2:]
    rows, cols = tile_spans(h, tile, overlap), tile_spans(w, tile, overlap)
    if len(rows) == 1 and len(cols) == 1:
        return fn(lqs)[:, keep].float()

    canvas = total = None
    row_w = col_w = []
    for i, (y0, y1) in enumerate(rows):
        for j, (x0, x1) in enumerate(cols):
            out = fn(lqs[..., y0:y1, x0:x1])[:, keep].float().cpu()
            scale = out.shape[-1] // (x1 - x0)
            if canvas is None:
                canvas = torch.zeros(*out.shape[:3], h * scale, w * scale)
                total = torch.zeros(h * scale, w * scale)
                row_w, col_w = (
                    _tile_weights(rows, overlap, scale),
                    _tile_weights(cols, overlap, scale),
                )
            weight = row_w[i][:, None] * col_w[j][None, :]
            ys, xs = slice(y0 * scale, y1 * scale), slice(x0 * scale, x1 * scale)
            canvas[..., ys, xs] += out * weight
            total[ys, xs] += weight
    # Weights of two tiles overlapping by `overlap` sum to one; dividing by the total covers the
    # wider overlaps of the last tile and tiles so small that three overlap.
    return canvas / total
