"""Backward warping of images or features by a dense optical flow, through kornia."""

from __future__ import annotations

import torch
from kornia.geometry.transform import remap


def flow_warp(x: torch.Tensor, flow: torch.Tensor, padding_mode: str = "zeros") -> torch.Tensor:
    """Sample `x` at `p + flow(p)` for every pixel `p`, bilinearly.

    Args:
        x: (n, c, h, w) image or features.
        flow: (n, 2, h, w) flow in pixels, channel 0 = dx (along width), 1 = dy.
        padding_mode: what lies outside `x`: "zeros" (propagation) or "border" (SPyNet).

    Returns:
        (n, c, h, w) warped tensor.
    """
    if x.shape[-2:] != flow.shape[-2:] or flow.shape[1] != 2:
        raise ValueError(
            f"flow_warp: flow must be (n, 2, h, w) matching x's (h, w); "
            f"got x {tuple(x.shape)} and flow {tuple(flow.shape)}"
        )
    h, w = x.shape[-2:]
    ys = torch.arange(h, device=flow.device, dtype=flow.dtype).view(1, h, 1)
    xs = torch.arange(w, device=flow.device, dtype=flow.dtype).view(1, 1, w)
    # Pixel coordinates with align_corners=True: pixel centres at integers, the
    # convention both references use (kornia's default would resample an identity map).
    return remap(
        x,
        xs + flow[:, 0],
        ys + flow[:, 1],
        mode="bilinear",
        padding_mode=padding_mode,
        align_corners=True,
    )
