"""Random windows, crops and flips for training samples, driven by explicit per-sample RNGs.

Every random choice of a sample comes from `sample_rng(seed, epoch, rank, index)`, never from
global RNG state, so a sample is the same whatever the number of dataloader workers, differs
between ranks and epochs, and a run replays exactly from its seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def sample_rng(seed: int, epoch: int, rank: int, index: int) -> np.random.Generator:
    """Independent generator for one training sample."""
    return np.random.default_rng(np.random.SeedSequence([seed, epoch, rank, index]))


def clip_order(seed: int, epoch: int, cycle: int, num_clips: int) -> np.ndarray:
    """Shuffled clip order for one pass (`cycle`) over the clips within an epoch."""
    # A trailing tag keeps these streams apart from the per-sample ones.
    rng = np.random.default_rng(np.random.SeedSequence([seed, epoch, cycle, num_clips, 0x0C11]))
    return rng.permutation(num_clips)


@dataclass(frozen=True)
class Flips:
    """Spatial augmentation applied identically to every frame, LR and GT."""

    hflip: bool = False
    vflip: bool = False
    transpose: bool = False

    @classmethod
    def sample(cls, rng: np.random.Generator, hflip: bool, vflip: bool, transpose: bool) -> Flips:
        """Each enabled flip with probability 0.5 (three draws always, so streams stay aligned)."""
        draws = rng.random(3) < 0.5
        return cls(hflip and bool(draws[0]), vflip and bool(draws[1]), transpose and bool(draws[2]))

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """Apply to frames of shape (t, h, w, c)."""
        if self.hflip:
            frames = frames[:, :, ::-1]
        if self.vflip:
            frames = frames[:, ::-1]
        if self.transpose:
            frames = frames.transpose(0, 2, 1, 3)
        return frames


def window(
    rng: np.random.Generator, clip_length: int, num_frames: int, temporal_reverse: bool
) -> list[int]:
    """Indices of a random window of `num_frames` consecutive frames, maybe reversed (p=0.5)."""
    start = int(rng.integers(0, clip_length - num_frames + 1))
    frames = list(range(start, start + num_frames))
    if rng.random() < 0.5 and temporal_reverse:
        frames.reverse()
    return frames


def mirror(frames: list[int]) -> list[int]:
    """`[0, 1, 2]` -> `[0, 1, 2, 2, 1, 0]`: the sequence followed by itself reversed."""
    return frames + frames[::-1]


def crop_origin(
    rng: np.random.Generator, gt_size: tuple[int, int], patch: int, scale: int
) -> tuple[int, int]:
    """Random (top, left) of a GT patch, on the low-res grid (multiples of `scale`).

    Args:
        rng: generator of the sample.
        gt_size: (height, width) of the GT frames.
        patch: GT patch side, a multiple of `scale`.
        scale: upscaling factor.
    """
    lr_patch = patch // scale
    # Whole low-res pixels only: a frame that is not a multiple of scale loses its last rows.
    top = int(rng.integers(0, gt_size[0] // scale - lr_patch + 1))
    left = int(rng.integers(0, gt_size[1] // scale - lr_patch + 1))
    return top * scale, left * scale


def degrade_crop(
    gt: np.ndarray,
    top: int,
    left: int,
    patch: int,
    scale: int,
    degrade: Callable[[np.ndarray], np.ndarray],
    margin: int | None,
) -> np.ndarray:
    """Low-res patch of frames `gt` (t, H, W, 3) at GT (top, left), made on the fly.

    The degradation runs on the GT patch plus `margin` pixels of context on every side, clipped
    to the frame, so the result equals degrading the whole frame and then cropping, provided
    `margin` covers the degradation's support (`degradations.gt_margin`) and is a multiple of
    `scale`. None degrades whole frames (exact for any degradation, slower).

    Returns:
        (t, patch / scale, patch / scale, 3) uint8.
    """
    height, width = gt.shape[1:3]
    if margin is None:
        r0, c0, r1, c1 = 0, 0, height, width
    else:
        r0, c0 = max(0, top - margin), max(0, left - margin)
        r1, c1 = min(height, top + patch + margin), min(width, left + patch + margin)
    lr_top, lr_left, lr_patch = (top - r0) // scale, (left - c0) // scale, patch // scale
    out = [
        degrade(frame[r0:r1, c0:c1])[lr_top : lr_top + lr_patch, lr_left : lr_left + lr_patch]
        for frame in gt
    ]
    return np.stack(out)
