"""Degradations that turn ground-truth frames into low-res inputs, as the benchmarks made them.

Two conventions matter for comparing with published numbers:

* **BI** (REDS, Vimeo-90K BI, Vid4 BI): MATLAB `imresize(gt, 1/scale, 'bicubic')` on uint8
  frames. `imresize` reimplements MATLAB's resampler exactly (Keys cubic kernel with a = -0.5,
  kernel widened by 1/scale when shrinking, mirrored borders) and `bicubic_downsample` adds
  MATLAB's uint8 conversions.
* **BD** (Vimeo-90K BD, UDM10, Vid4 BD): the `BD_degradation.m` script published with BasicVSR
  (and ported to Python by mmagic's `preprocess_vimeo90k_dataset.py`), see `blur_downsample`.

`gt_margin` says how much GT context a crop needs so that degrading the crop gives the same
pixels as degrading the whole frame and cropping, which lets datasets degrade crops on the fly.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

import numpy as np
import scipy.sparse

DegradationKind = Literal["bi", "bd"]

BD_SIGMA = 1.6


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys cubic convolution kernel with a = -0.5 (MATLAB's `cubic`)."""
    absx = np.abs(x)
    absx2 = absx**2
    absx3 = absx**3
    return (1.5 * absx3 - 2.5 * absx2 + 1) * (absx <= 1) + (
        -0.5 * absx3 + 2.5 * absx2 - 4 * absx + 2
    ) * ((absx > 1) & (absx <= 2))


def _contributions(in_length: int, out_length: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights and 0-based source indices of each output sample, as MATLAB's `contributions`.

    Returns:
        (weights, indices), both of shape (out_length, taps); weight rows sum to 1 and indices
        are already mirrored into [0, in_length).
    """
    kernel_width = 4.0
    if scale < 1:
        # Antialiasing: widen the kernel by 1/scale so it low-passes before decimation.
        kernel_width /= scale

        def kernel(x: np.ndarray) -> np.ndarray:
            return scale * _cubic(scale * x)
    else:
        kernel = _cubic

    x = np.arange(1, out_length + 1, dtype=np.float64)[:, None]  # 1-based, like MATLAB
    u = x / scale + 0.5 * (1 - 1 / scale)  # output pixel centre in input coordinates
    left = np.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    indices = left + np.arange(taps, dtype=np.float64)[None, :]
    weights = kernel(u - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # Mirror out-of-range indices: aux = [1..n, n..1] repeated, i.e. symmetric padding.
    aux = np.concatenate([np.arange(in_length), np.arange(in_length)[::-1]])
    indices = aux[np.mod(indices.astype(np.int64) - 1, 2 * in_length)]
    return weights, indices


@lru_cache(maxsize=64)
def _resize_matrix(in_length: int, out_length: int, scale: float) -> scipy.sparse.csr_matrix:
    """(out_length, in_length) sparse matrix applying MATLAB's bicubic resampling on one axis."""
    weights, indices = _contributions(in_length, out_length, scale)
    rows = np.repeat(np.arange(out_length), weights.shape[1])
    # Duplicate (row, col) pairs (mirrored taps at the borders) are summed by the conversion.
    return scipy.sparse.csr_matrix(
        (weights.ravel(), (rows, indices.ravel())), shape=(out_length, in_length)
    )


def _resize_axis(img: np.ndarray, axis: int, scale: float) -> np.ndarray:
    in_length = img.shape[axis]
    out_length = math.ceil(in_length * scale)
    matrix = _resize_matrix(in_length, out_length, float(scale))
    moved = np.moveaxis(img, axis, 0)
    flat = moved.reshape(in_length, -1)
    out = np.asarray(matrix @ flat).reshape((out_length, *moved.shape[1:]))
    return np.moveaxis(out, 0, axis)


def imresize(img: np.ndarray, scale: float) -> np.ndarray:
    """Resize like MATLAB's `imresize(img, scale, 'bicubic')` on a double image.

    Args:
        img: HxW or HxWxC array; converted to float64, values are not clipped.
        scale: resize factor (< 1 shrinks with antialiasing, > 1 enlarges).

    Returns:
        float64 array of size ceil(H * scale) x ceil(W * scale) (x C).
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if img.ndim not in (2, 3):
        raise ValueError(f"expected an HxW or HxWxC image, got shape {img.shape}")
    out = np.asarray(img, dtype=np.float64)
    # MATLAB resizes the dimension with the smaller scale first; with equal scales that is
    # rows, then columns.
    out = _resize_axis(out, 0, scale)
    return _resize_axis(out, 1, scale)


def _to_uint8(img: np.ndarray) -> np.ndarray:
    """MATLAB's uint8 conversion of [0, 255] values: saturate, round half away from zero."""
    return np.floor(np.clip(img, 0.0, 255.0) + 0.5).astype(np.uint8)


def bicubic_downsample(gt: np.ndarray, scale: int) -> np.ndarray:
    """BI degradation: `im2uint8(imresize(im2double(gt), 1/scale, 'bicubic'))` in MATLAB.

    `im2double` divides by 255; `im2uint8` clips to [0, 1], multiplies by 255 and rounds half
    away from zero (its C kernel computes `(uint8)(v * 255 + 0.5)`), which is what is done here.

    Args:
        gt: HxWx3 (or HxW) uint8 frame.
        scale: integer downscaling factor (4 for the benchmarks).

    Returns:
        uint8 frame of size ceil(H / scale) x ceil(W / scale).
    """
    _check_uint8(gt)
    lr = imresize(gt.astype(np.float64) / 255.0, 1.0 / scale)
    return _to_uint8(np.clip(lr, 0.0, 1.0) * 255.0)


def bd_kernel_size(sigma: float = BD_SIGMA) -> int:
    """Kernel size used by `BD_degradation.m`: `ceil(3 * sigma) * 2 + 2` (12 for sigma 1.6)."""
    return math.ceil(sigma * 3) * 2 + 2


def gaussian_kernel(kernel_size: int, sigma: float) -> np.ndarray:
    """MATLAB's `fspecial('gaussian', kernel_size, sigma)`: a normalised 2-D Gaussian.

    Taps sit at offsets -(k-1)/2 ... (k-1)/2 from the centre, half-integers for even sizes.
    """
    return np.outer(_gaussian_1d(kernel_size, sigma), _gaussian_1d(kernel_size, sigma))


def _gaussian_1d(kernel_size: int, sigma: float) -> np.ndarray:
    x = np.arange(kernel_size, dtype=np.float64) - (kernel_size - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()  # the 2-D kernel is the outer product of this with itself


def _bd_phase(scale: int) -> int:
    """0-based index of the first sample: MATLAB's `scale/2` (1-based) for even scales."""
    return (scale - 1) // 2


def _blur_sample_axis(img: np.ndarray, axis: int, taps: np.ndarray, scale: int) -> np.ndarray:
    """Correlate with `taps` along `axis` (replicated borders), keeping every `scale`-th sample."""
    length = img.shape[axis]
    size = len(taps)
    anchor = (size - 1) // 2  # imfilter's centre, floor((size + 1) / 2) in 1-based indexing
    count = length // scale
    start = _bd_phase(scale)
    pad = [(0, 0)] * img.ndim
    pad[axis] = (anchor, size - 1 - anchor)
    padded = np.pad(img, pad, mode="edge")
    out = np.zeros_like(np.take(img, np.arange(count) * scale + start, axis=axis))
    for k, w in enumerate(taps):
        # Output sample i reads padded[start + i * scale + k] = img[start + i * scale + k - anchor].
        idx = start + np.arange(count) * scale + k
        out += w * np.take(padded, idx, axis=axis)
    return out


def blur_downsample(
    gt: np.ndarray, scale: int = 4, sigma: float = BD_SIGMA, kernel_size: int | None = None
) -> np.ndarray:
    """BD degradation: Gaussian blur, then one sample every `scale` pixels.

    Follows `BD_degradation.m` published with BasicVSR, which made the Vimeo-90K BD data the
    BasicVSR++ BD checkpoint was trained on (mmagic's `preprocess_vimeo90k_dataset.py` is a
    Python port of it)::

        kernelsize = ceil(sigma * 3) * 2 + 2;          % 12 for sigma = 1.6
        kernel = fspecial('gaussian', kernelsize, sigma);
        lq = imfilter(gt, kernel, 'replicate');         % uint8 in, rounded uint8 out
        lq = lq(scale/2:scale:end-scale/2, scale/2:scale:end-scale/2, :);

    So: a 12x12 kernel by default (not 13x13, and not BasicSR's `duf_downsample`, which uses
    reflect padding, a 13x13 kernel and a different phase), replicated borders, imfilter's
    anchor `(k-1)//2` (0-based), and samples at 0-based rows/cols `scale//2 - 1 + scale * i`
    (1, 5, 9, ... for x4). With the even kernel the blur centre sits half a pixel after the
    anchor, so each sample is centred on its `scale` x `scale` block, like the BI samples.

    Args:
        gt: HxWx3 (or HxW) uint8 frame.
        scale: integer downscaling factor.
        sigma: standard deviation of the Gaussian, in GT pixels.
        kernel_size: kernel side; None uses the script's `ceil(3 * sigma) * 2 + 2`.

    Returns:
        uint8 frame of size floor(H / scale) x floor(W / scale).
    """
    _check_uint8(gt)
    if kernel_size is None:
        kernel_size = bd_kernel_size(sigma)
    taps = _gaussian_1d(kernel_size, sigma)
    # fspecial's Gaussian is separable, so two 1-D passes equal the 2-D imfilter.
    out = _blur_sample_axis(gt.astype(np.float64), 0, taps, scale)
    out = _blur_sample_axis(out, 1, taps, scale)
    return _to_uint8(out)


def degrade(gt: np.ndarray, kind: DegradationKind, scale: int = 4) -> np.ndarray:
    """Apply the BI or BD degradation to a uint8 frame."""
    if kind == "bi":
        return bicubic_downsample(gt, scale)
    if kind == "bd":
        return blur_downsample(gt, scale)
    raise ValueError(f"unknown degradation {kind!r}, expected 'bi' or 'bd'")


def gt_margin(
    kind: DegradationKind, scale: int, sigma: float = BD_SIGMA, kernel_size: int | None = None
) -> int:
    """GT context, in pixels, to keep around a crop so it degrades exactly like the whole frame.

    For a crop at (top, left) with both multiples of `scale`: take the GT region extended by
    this margin on every side and clipped to the frame, degrade it, and cut the LR crop at
    ((top - region_top) / scale, (left - region_left) / scale). The result equals degrading the
    whole frame and cropping at (top / scale, left / scale). At frame borders the clipped region
    shares the frame's border, so mirrored (BI) and replicated (BD) borders match too. The margin
    is a multiple of `scale`, so region offsets stay on the LR grid.

    Args:
        kind: "bi" or "bd".
        scale: integer downscaling factor.
        sigma: BD only, Gaussian standard deviation.
        kernel_size: BD only, kernel side (None: the `BD_degradation.m` rule).
    """
    if kind == "bi":
        # Output sample i is centred at GT coordinate scale*i + (scale-1)/2 and reads every
        # pixel strictly closer than 2*scale (the widened cubic support).
        centre = (scale - 1) / 2
        need = math.ceil(2 * scale - centre) - 1
    elif kind == "bd":
        size = bd_kernel_size(sigma) if kernel_size is None else kernel_size
        anchor = (size - 1) // 2
        start = _bd_phase(scale)
        # Reads from scale*i + start - anchor to scale*i + start + (size - 1 - anchor).
        need = max(anchor - start, (size - 1 - anchor) - (scale - 1 - start), 0)
    else:
        raise ValueError(f"unknown degradation {kind!r}, expected 'bi' or 'bd'")
    return -(-need // scale) * scale


def _check_uint8(img: np.ndarray) -> None:
    if img.dtype != np.uint8:
        raise TypeError(f"expected a uint8 frame, got {img.dtype}")
    if img.ndim not in (2, 3):
        raise ValueError(f"expected an HxW or HxWxC frame, got shape {img.shape}")
