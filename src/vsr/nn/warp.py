"""Backward warping of images or features by a dense optical flow (`grid_sample`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
    # convention both references use.
    # Coordinates beyond a pixel outside the frame sample the same (zeros or the border) as
    # any farther ones; clamping them keeps a diverged flow (inf, nan) from crashing
    # grid_sample's kernels.
    # The upper bounds are tensors made from the coordinates (w + 1 = xs[-1] + 2), so that an
    # exported graph keeps them for every frame size instead of the example's.
    map_x = _bounded(xs + flow[:, 0], xs[..., -1:] + 2)
    map_y = _bounded(ys + flow[:, 1], ys[..., -1:, :] + 2)
    grid = torch.stack((_normalised(map_x, xs[..., -1:]), _normalised(map_y, ys[..., -1:, :])), -1)
    dtype = x.dtype
    if x.device.type == "cpu" and dtype in (torch.float16, torch.bfloat16):
        # CPU half-precision grid_sample returns wrong values on frames of ~128 px and more.
        x, grid = x.float(), grid.float()
    return F.grid_sample(
        x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=True
    ).to(dtype)


def _normalised(coords: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """Pixel coordinates along an axis whose last pixel is `last` → grid_sample's [-1, 1]
    (align_corners=True); a one-pixel axis keeps its coordinates (0 is its pixel's centre).
    `last` is a tensor, so that an exported graph keeps it for every frame size."""
    return torch.where(last > 0, coords * 2 / last.clamp(min=1) - 1, coords)


def _bounded(coords: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """`coords` with NaN set to 0 and values clamped to [-2, upper]:
    `nan_to_num(0, upper, -2).clamp(-2, upper)` with a tensor bound."""
    coords = torch.where(torch.isnan(coords), torch.zeros_like(coords), coords)
    return torch.minimum(coords.clamp(min=-2.0), upper)
