"""Tiny benchmarks written as real PNG files in each benchmark's layout, and exact "oracle"
networks whose scores can be recomputed from the files with `vsr.metrics.calculate_psnr`.

Every GT frame is noise seeded by (clip, frame). Stored low-res frames differ per folder so a
test can tell which one was read: `BIx4` (and REDS `X4`, BasicSR `sharp_bicubic`) hold 4x4 block
averages, `BDx4` holds every 4th pixel (phase 1).

Used by `tests/evaluation/conftest.py` and, loaded by path, by `tests/cli/test_test_cli.py`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

SCALE = 4
HEIGHT, WIDTH = 32, 48  # GT frame size; low-res 8x12

REDS4 = ("000", "011", "015", "020")
REDS_OTHER = ("001",)  # a training clip: never part of REDS4
REDS_FRAMES = 3
VID4 = {"calendar": 3, "city": 4}
UDM10 = {"archpeople": 3, "auditorium": 2}
VIMEO_TEST = ("00001/0001", "00002/0003")
VIMEO_TRAIN = ("00001/0002",)


def gt_frame(clip: str, index: int) -> np.ndarray:
    rng = np.random.default_rng([zlib.crc32(clip.encode()), index])
    return rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def bi_lr(gt: np.ndarray) -> np.ndarray:
    """Floor of the mean of each 4x4 block."""
    h, w = gt.shape[0] // SCALE, gt.shape[1] // SCALE
    blocks = gt.astype(np.int64).reshape(h, SCALE, w, SCALE, 3)
    return (blocks.sum(axis=(1, 3)) // SCALE**2).astype(np.uint8)


def bd_lr(gt: np.ndarray) -> np.ndarray:
    """Every 4th pixel, from row/column 1."""
    return np.ascontiguousarray(gt[1::SCALE, 1::SCALE])


def write_png(path: Path, frame: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(path)


def read_png(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.array(im.convert("RGB"))


def write_clip(
    clip: str,
    num_frames: int,
    gt_dir: Path,
    lr_dirs: dict[Path, Callable[[np.ndarray], np.ndarray]],
    name: Callable[[int], str] = "{:08d}.png".format,
) -> None:
    for i in range(num_frames):
        gt = gt_frame(clip, i)
        write_png(gt_dir / name(i), gt)
        for lr_dir, degrade in lr_dirs.items():
            write_png(lr_dir / name(i), degrade(gt))


def make_reds(root: Path) -> Path:
    """REDS layout: train_sharp/<clip> + train_sharp_bicubic/X4/<clip>, REDS4 and clip 001."""
    for clip in (*REDS4, *REDS_OTHER):
        lr = {root / "train_sharp_bicubic" / "X4" / clip: bi_lr}
        write_clip(clip, REDS_FRAMES, root / "train_sharp" / clip, lr)
    return root


def make_reds4_basicsr(root: Path) -> Path:
    """BasicSR's REDS4 folder: GT/<clip> + sharp_bicubic/<clip>."""
    for clip in REDS4:
        write_clip(clip, REDS_FRAMES, root / "GT" / clip, {root / "sharp_bicubic" / clip: bi_lr})
    return root


def make_vid4(root: Path) -> Path:
    """Vid4 layout: GT/<clip>, BIx4/<clip>, BDx4/<clip>."""
    for clip, n in VID4.items():
        lr = {root / "BIx4" / clip: bi_lr, root / "BDx4" / clip: bd_lr}
        write_clip(clip, n, root / "GT" / clip, lr)
    return root


def make_udm10(root: Path, lr: bool = True) -> Path:
    """UDM10 layout: GT/<clip> + BDx4/<clip> (no low-res at all if not `lr`)."""
    for clip, n in UDM10.items():
        write_clip(clip, n, root / "GT" / clip, {root / "BDx4" / clip: bd_lr} if lr else {})
    return root


def make_vimeo(root: Path) -> Path:
    """Vimeo-90K layout: sequences/<clip>/im1..7.png, BIx4/, BDx4/, sep_{train,test}list.txt."""
    for clip in (*VIMEO_TEST, *VIMEO_TRAIN):
        lr = {root / "BIx4" / clip: bi_lr, root / "BDx4" / clip: bd_lr}
        write_clip(clip, 7, root / "sequences" / clip, lr, name=lambda i: f"im{i + 1}.png")
    (root / "sep_testlist.txt").write_text("\n".join(VIMEO_TEST) + "\n")
    (root / "sep_trainlist.txt").write_text("\n".join(VIMEO_TRAIN) + "\n")
    return root


def nearest_up(lr: np.ndarray) -> np.ndarray:
    """What `NearestUpsampler` outputs for a uint8 low-res frame, as uint8."""
    return np.repeat(np.repeat(lr, SCALE, axis=0), SCALE, axis=1)


class NearestUpsampler(nn.Module):
    """Exact oracle: nearest-neighbour x4 upsampling of every frame (per pixel, equivariant)."""

    scale = SCALE

    def forward(self, lqs: torch.Tensor) -> torch.Tensor:
        return lqs.repeat_interleave(SCALE, dim=-2).repeat_interleave(SCALE, dim=-1)


class PerPixel(nn.Module):
    """A 1x1 convolution then nearest upsampling: commutes with flips and transposes."""

    scale = SCALE

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, lqs: torch.Tensor) -> torch.Tensor:
        out = self.conv(lqs.flatten(0, 1)).unflatten(0, lqs.shape[:2])
        return NearestUpsampler()(out)


class PositionOffset(nn.Module):
    """Nearest upsampling plus a brightness offset that depends on the output's position t.

    The offsets of positions t and T-1-t are opposite, so the mean of a mirrored pair is exactly
    the nearest upsampling, while each output alone is far from it. Records its inputs.
    """

    scale = SCALE

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[torch.Tensor] = []

    @staticmethod
    def offsets(t: int) -> torch.Tensor:
        return 0.05 * (torch.arange(t, dtype=torch.float32) - (t - 1) / 2)

    def forward(self, lqs: torch.Tensor) -> torch.Tensor:
        self.inputs.append(lqs.detach().clone())
        offsets = self.offsets(lqs.shape[1]).view(1, -1, 1, 1, 1)
        return NearestUpsampler()(lqs) + offsets


def tiny_generator() -> nn.Module:
    """A c8n1 BasicVSR++ with fixed random weights: not equivariant to flips."""
    from vsr.nn import BasicVSRPlusPlus

    torch.manual_seed(0)
    model = BasicVSRPlusPlus(mid_channels=8, num_blocks=1)
    # Trained-from-scratch SPyNet starts at zero flow; perturb it so flows are not all zero.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return model.eval()
