"""Per-frame PSNR and SSIM on tensors, for validation during training on any device.

Network outputs are float tensors in [0, 1]. They are first rounded to the uint8 levels they would
have once saved as images (:func:`to_uint8_levels`), then scored exactly like
:func:`vsr.metrics.calculate_psnr` / :func:`vsr.metrics.calculate_ssim` in float64, so a
validation score equals the score of the saved frames.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from vsr.metrics.image import (
    SSIM_C1,
    SSIM_C2,
    SSIM_WINDOW_SIZE,
    Y_OFFSET,
    Y_WEIGHTS,
    gaussian_window_1d,
)

__all__ = ["frame_psnr", "frame_ssim", "rgb_to_y_levels", "to_uint8_levels"]

# Frames are scored a few at a time so that float64 copies of a long 720p clip never sit in
# memory at once: at most this many elements per chunk and per intermediate map.
_MAX_CHUNK_ELEMENTS = 1 << 22


def to_uint8_levels(x: Tensor) -> Tensor:
    """Rounds an image tensor to the uint8 levels 0..255 it would have once saved.

    Matches BasicSR's and mmagic's ``tensor2img``: cast to float32, clamp to [0, 1], multiply by
    255 in float32 and round half to even (``numpy.round`` and ``torch.round`` both do), so the
    levels equal those of the uint8 frames written to disk.

    Args:
        x: Float tensor in [0, 1] (values outside are clamped), or a uint8 tensor of levels.

    Returns:
        Float64 tensor of integer values in [0, 255], same shape as ``x``.

    Raises:
        ValueError: If ``x`` is neither floating point nor uint8.
    """
    if x.dtype == torch.uint8:
        return x.to(torch.float64)
    if not x.is_floating_point():
        raise ValueError(f"expected a float tensor in [0, 1] or a uint8 tensor, got {x.dtype}")
    return (x.float().clamp(0, 1) * 255).round().to(torch.float64)


def rgb_to_y_levels(x: Tensor) -> Tensor:
    """MATLAB BT.601 luma of RGB levels, unrounded (see :func:`vsr.metrics.rgb_to_y`).

    Args:
        x: ``(..., 3, h, w)`` float64 tensor of levels in [0, 255].

    Returns:
        ``(..., 1, h, w)`` float64 luma in [16, 235].
    """
    if x.shape[-3] != 3:
        raise ValueError(f"expected (..., 3, h, w) RGB levels, got shape {tuple(x.shape)}")
    weights = torch.tensor(Y_WEIGHTS, dtype=x.dtype, device=x.device)
    y = Y_OFFSET + torch.movedim(x, -3, -1) @ weights / 255.0
    return y.unsqueeze(-3)


def frame_psnr(
    preds: Tensor, target: Tensor, crop_border: int = 0, y_channel: bool = False
) -> Tensor:
    """PSNR of every frame, as :func:`vsr.metrics.calculate_psnr` on the uint8-rounded frames.

    Args:
        preds: ``(..., c, h, w)`` float tensor in [0, 1] (or uint8), c = 3 (RGB) or 1.
        target: Reference frames, same shape.
        crop_border: Pixels removed on every side before computing.
        y_channel: Score the BT.601 luma instead of the RGB channels (no effect when c = 1).

    Returns:
        Float64 tensor of shape ``preds.shape[:-3]``, in dB, ``inf`` for identical frames; on
        the device of ``preds`` (the CPU for Apple MPS, which lacks float64).
    """
    return _per_frame(_psnr, preds, target, crop_border, y_channel, min_size=1)


def frame_ssim(
    preds: Tensor, target: Tensor, crop_border: int = 0, y_channel: bool = False
) -> Tensor:
    """SSIM of every frame, as :func:`vsr.metrics.calculate_ssim` on the uint8-rounded frames.

    Args:
        preds: ``(..., c, h, w)`` float tensor in [0, 1] (or uint8), c = 3 (RGB) or 1.
        target: Reference frames, same shape.
        crop_border: Pixels removed on every side before computing.
        y_channel: Score the BT.601 luma instead of the RGB channels (no effect when c = 1).

    Returns:
        Float64 tensor of shape ``preds.shape[:-3]``, on the device of ``preds`` (the CPU for
        Apple MPS, which lacks float64).
    """
    return _per_frame(_ssim, preds, target, crop_border, y_channel, min_size=SSIM_WINDOW_SIZE)


def _psnr(x: Tensor, y: Tensor) -> Tensor:
    mse = (x - y).square().mean(dim=(-3, -2, -1))
    return 10.0 * torch.log10(255.0**2 / mse)  # mse == 0 gives inf, as intended


def _ssim(x: Tensor, y: Tensor) -> Tensor:
    n, c = x.shape[:2]
    g = torch.from_numpy(gaussian_window_1d()).to(device=x.device, dtype=x.dtype)
    # One grouped pass filters all five statistics; the 2-D window is separable.
    maps = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    groups = maps.shape[1]
    maps = F.conv2d(maps, g.view(1, 1, -1, 1).expand(groups, 1, -1, 1), groups=groups)
    maps = F.conv2d(maps, g.view(1, 1, 1, -1).expand(groups, 1, 1, -1), groups=groups)
    mu_x, mu_y, xx, yy, xy = maps.split(c, dim=1)
    var_x = xx - mu_x.square()
    var_y = yy - mu_y.square()
    cov = xy - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + SSIM_C1) * (2 * cov + SSIM_C2)) / (
        (mu_x.square() + mu_y.square() + SSIM_C1) * (var_x + var_y + SSIM_C2)
    )
    # Equal-sized channels: the mean over (c, h, w) is the mean of the per-channel SSIMs.
    return ssim_map.reshape(n, -1).mean(dim=1)


def _per_frame(
    score: Callable[[Tensor, Tensor], Tensor],
    preds: Tensor,
    target: Tensor,
    crop_border: int,
    y_channel: bool,
    min_size: int,
) -> Tensor:
    _check_frames(preds, target, crop_border, min_size)
    *lead, c, h, w = preds.shape
    preds = preds.reshape(-1, c, h, w)
    target = target.reshape(-1, c, h, w)
    # float64 is not available on every accelerator (e.g. Apple MPS); score there on the CPU.
    device = torch.device("cpu") if preds.device.type == "mps" else preds.device
    chunk = max(1, _MAX_CHUNK_ELEMENTS // (c * h * w))
    scores = [torch.empty(0, dtype=torch.float64, device=device)]
    # Validation often runs under autocast; float64 ops are not eligible anyway, this says so.
    with torch.autocast(device.type, enabled=False):
        for start in range(0, preds.shape[0], chunk):
            x, y = (to_uint8_levels(t[start : start + chunk].to(device)) for t in (preds, target))
            if crop_border:
                x = x[..., crop_border:-crop_border, crop_border:-crop_border]
                y = y[..., crop_border:-crop_border, crop_border:-crop_border]
            if y_channel and c == 3:
                x, y = rgb_to_y_levels(x), rgb_to_y_levels(y)
            scores.append(score(x, y))
    return torch.cat(scores).reshape(lead)


def _check_frames(preds: Tensor, target: Tensor, crop_border: int, min_size: int) -> None:
    if not isinstance(preds, Tensor) or not isinstance(target, Tensor):
        raise ValueError(
            f"preds and target must be tensors, got {type(preds).__name__} and "
            f"{type(target).__name__}"
        )
    if preds.shape != target.shape:
        raise ValueError(
            f"preds and target must have the same shape, got {tuple(preds.shape)} and "
            f"{tuple(target.shape)}"
        )
    if preds.ndim < 3 or preds.shape[-3] not in (1, 3):
        raise ValueError(
            f"expected (..., 3, h, w) or (..., 1, h, w) frames, got {tuple(preds.shape)}"
        )
    for name, t in (("preds", preds), ("target", target)):
        if not (t.is_floating_point() or t.dtype == torch.uint8):
            raise ValueError(f"{name} must be a float tensor in [0, 1] or uint8, got {t.dtype}")
    if isinstance(crop_border, bool) or not isinstance(crop_border, int) or crop_border < 0:
        raise ValueError(f"crop_border must be a non-negative int, got {crop_border!r}")
    h, w = preds.shape[-2] - 2 * crop_border, preds.shape[-1] - 2 * crop_border
    if h < min_size or w < min_size:
        raise ValueError(
            f"frames of shape {tuple(preds.shape)} with crop_border={crop_border} leave {h}x{w} "
            f"pixels; at least {min_size}x{min_size} are needed"
        )
