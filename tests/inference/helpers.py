"""Tiny networks, clips and measures shared by the inference tests."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import nn

from vsr.nn import BasicVSRPlusPlus


def context_model(seed: int = 0) -> BasicVSRPlusPlus:
    """A c8n1 BasicVSR++ with random weights whose outputs depend strongly on other frames.

    At initialisation the offset heads' and SPyNet's last layers are zero and the residual
    branch is small, so outputs hardly depend on the neighbours and any chunking would pass.
    Here the flows and offsets are random (tenths of a pixel), the propagation weights are
    doubled (features carry over many frames) and the reconstruction output is 2x larger:
    processing each frame alone changes outputs by up to ~15 grey levels (39 dB vs whole clip).
    """
    torch.manual_seed(seed)
    model = BasicVSRPlusPlus(mid_channels=8, num_blocks=1)
    with torch.no_grad():
        for align in model.deform_align.values():
            nn.init.normal_(align.conv_offset[-1].weight, std=0.1)
            align.weight.mul_(2)
        for level in model.spynet.basic_module:
            nn.init.normal_(level.basic_module[-1].conv.weight, std=0.1)
        for backbone in model.backbone.values():
            for p in backbone.parameters():
                p.mul_(2)
        model.conv_last.weight.mul_(2)
    return model.eval()


def photo_clip(num_frames: int, size: int, scale: int = 4) -> tuple[list, list]:
    """(GT, LR) uint8 frames of a camera panning over a photograph; LR is bicubic / scale."""
    import skimage.data

    photo = skimage.data.astronaut()
    gt, lr = [], []
    for i in range(num_frames):
        y, x = 100 + 2 * i, 150 + 3 * i
        frame = np.ascontiguousarray(photo[y : y + size, x : x + size])
        gt.append(frame)
        small = Image.fromarray(frame).resize((size // scale,) * 2, Image.Resampling.BICUBIC)
        lr.append(np.asarray(small))
    return gt, lr


def psnr(a: list[np.ndarray] | np.ndarray, b: list[np.ndarray] | np.ndarray) -> float:
    """PSNR in dB over all frames (uint8 range)."""
    diff = np.stack(a).astype(np.float64) - np.stack(b).astype(np.float64)
    mse = np.mean(diff**2)
    return float("inf") if mse == 0 else float(10 * np.log10(255**2 / mse))


def random_frames(n: int, h: int, w: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]
