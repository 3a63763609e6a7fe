"""PSNR and SSIM of one uint8 image against its reference, following the BasicVSR++ protocol.

The conventions are those of BasicSR (``basicsr/metrics/psnr_ssim.py``) and mmagic
(``mmagic/evaluation/metrics/{psnr,ssim}.py``), which produced the published numbers:

* all maths in float64 on the 0..255 scale;
* Y is the MATLAB BT.601 luma of the uint8 levels, *not* rounded (see :func:`rgb_to_y`);
* SSIM is Wang et al.'s: an 11x11 Gaussian window with sigma 1.5, "valid" filtering (no padding,
  so an ``h x w`` image gives an ``(h - 10) x (w - 10)`` SSIM map), ``C1 = (0.01 * 255)^2``,
  ``C2 = (0.03 * 255)^2``, computed per channel and averaged over channels;
* PSNR is ``10 log10(255^2 / MSE)`` over all pixels and channels, ``inf`` for identical images;
* ``crop_border`` removes that many pixels on every side before anything else.
"""

import math

import numpy as np
from scipy.ndimage import correlate1d

__all__ = ["calculate_psnr", "calculate_ssim", "gaussian_window_1d", "rgb_to_y"]

# MATLAB rgb2ycbcr (ITU-R BT.601, studio swing) Y row, for R, G, B in [0, 1].
Y_WEIGHTS = (65.481, 128.553, 24.966)
Y_OFFSET = 16.0

SSIM_WINDOW_SIZE = 11
SSIM_SIGMA = 1.5
SSIM_C1 = (0.01 * 255) ** 2
SSIM_C2 = (0.03 * 255) ** 2


def gaussian_window_1d(size: int = SSIM_WINDOW_SIZE, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """Normalised 1-D Gaussian, the same numbers as ``cv2.getGaussianKernel(size, sigma)``.

    The 2-D SSIM window is its outer product with itself.

    Args:
        size: Number of taps (odd).
        sigma: Standard deviation in pixels.

    Returns:
        A float64 array of ``size`` weights summing to 1.
    """
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """MATLAB BT.601 luma of a uint8 RGB image, unrounded, on the 0..255 scale.

    ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255`` with R, G, B the uint8 levels, i.e.
    ``16 + 65.481 r + 128.553 g + 24.966 b`` with r, g, b = level / 255 in [0, 1]. The result lies
    in [16, 235] (black -> 16, white -> 235) and is kept in float64.

    This is the convention of BasicSR's ``to_y_channel`` and mmagic's ``img_transform``: both
    compute ``rgb2ycbcr(img / 255., y_only=True) * 255.`` and do not round, unlike MATLAB's
    ``rgb2ycbcr`` on uint8 input. They do it in float32; we use float64, which moves Y by at
    most about 2e-5 and PSNR by about 1e-7 dB.

    Args:
        img: ``(h, w, 3)`` uint8 RGB image.

    Returns:
        ``(h, w)`` float64 luma.

    Raises:
        ValueError: If ``img`` is not an ``(h, w, 3)`` uint8 array.
    """
    _check_dtype(img, "img")
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"rgb_to_y expects an (h, w, 3) RGB image, got shape {img.shape}")
    return Y_OFFSET + img.astype(np.float64) @ np.asarray(Y_WEIGHTS) / 255.0


def calculate_psnr(
    img: np.ndarray, ref: np.ndarray, crop_border: int = 0, y_channel: bool = False
) -> float:
    """Peak signal-to-noise ratio of ``img`` against ``ref``, in dB.

    Args:
        img: ``(h, w, 3)`` uint8 RGB or ``(h, w)`` uint8 grayscale image.
        ref: Reference image, same shape and dtype as ``img``.
        crop_border: Pixels removed on every side before computing.
        y_channel: Compare the luma of :func:`rgb_to_y` instead of the RGB channels (no effect on
            grayscale images).

    Returns:
        ``10 log10(255^2 / MSE)``; ``inf`` when the images are identical.

    Raises:
        ValueError: On mismatched shapes, a dtype other than uint8, a wrong number of dimensions or
            channels, or a ``crop_border`` that leaves nothing.
    """
    x, y = _prepare(img, ref, crop_border, y_channel, min_size=1)
    mse = np.mean((x - y) ** 2)
    if mse == 0:
        return math.inf
    return float(10.0 * np.log10(255.0**2 / mse))


def calculate_ssim(
    img: np.ndarray, ref: np.ndarray, crop_border: int = 0, y_channel: bool = False
) -> float:
    """Structural similarity of ``img`` against ``ref`` (Wang et al., 2004).

    Gaussian 11x11 window (sigma 1.5) applied without padding; for RGB the SSIM of each channel is
    computed separately and the three are averaged.

    Args:
        img: ``(h, w, 3)`` uint8 RGB or ``(h, w)`` uint8 grayscale image.
        ref: Reference image, same shape and dtype as ``img``.
        crop_border: Pixels removed on every side before computing.
        y_channel: Compare the luma of :func:`rgb_to_y` instead of the RGB channels (no effect on
            grayscale images).

    Returns:
        The mean SSIM, 1.0 for identical images.

    Raises:
        ValueError: On mismatched shapes, a dtype other than uint8, a wrong number of dimensions or
            channels, or an image smaller than 11x11 after cropping.
    """
    x, y = _prepare(img, ref, crop_border, y_channel, min_size=SSIM_WINDOW_SIZE)
    if x.ndim == 2:
        return _ssim_single_channel(x, y)
    return float(np.mean([_ssim_single_channel(x[..., c], y[..., c]) for c in range(x.shape[2])]))


def _ssim_single_channel(x: np.ndarray, y: np.ndarray) -> float:
    g = gaussian_window_1d()
    half = SSIM_WINDOW_SIZE // 2

    def blur(a: np.ndarray) -> np.ndarray:
        # The window is separable and symmetric; any border mode works because the
        # border-dependent half-window on each side is cropped away ("valid" filtering).
        a = correlate1d(a, g, axis=0, mode="constant")
        a = correlate1d(a, g, axis=1, mode="constant")
        return a[half:-half, half:-half]

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + SSIM_C1) * (2 * cov + SSIM_C2)) / (
        (mu_x**2 + mu_y**2 + SSIM_C1) * (var_x + var_y + SSIM_C2)
    )
    return float(ssim_map.mean())


def _check_dtype(img: np.ndarray, name: str) -> None:
    if not isinstance(img, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(img).__name__}")
    if img.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 (levels 0..255), got dtype {img.dtype}")


def _check_crop_border(crop_border: int) -> None:
    if isinstance(crop_border, bool) or not isinstance(crop_border, (int, np.integer)):
        raise ValueError(f"crop_border must be an int, got {crop_border!r}")
    if crop_border < 0:
        raise ValueError(f"crop_border must be non-negative, got {crop_border}")


def _prepare(
    img: np.ndarray, ref: np.ndarray, crop_border: int, y_channel: bool, min_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Validates, crops, optionally converts to Y, and returns both images as float64."""
    _check_dtype(img, "img")
    _check_dtype(ref, "ref")
    if img.shape != ref.shape:
        raise ValueError(f"img and ref must have the same shape, got {img.shape} and {ref.shape}")
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise ValueError(f"expected (h, w, 3) RGB or (h, w) grayscale images, got {img.shape}")
    _check_crop_border(crop_border)
    h, w = img.shape[0] - 2 * crop_border, img.shape[1] - 2 * crop_border
    if h < min_size or w < min_size:
        raise ValueError(
            f"images of shape {img.shape} with crop_border={crop_border} leave {h}x{w} pixels; "
            f"at least {min_size}x{min_size} are needed"
        )
    if crop_border:
        img = img[crop_border:-crop_border, crop_border:-crop_border]
        ref = ref[crop_border:-crop_border, crop_border:-crop_border]
    if y_channel and img.ndim == 3:
        return rgb_to_y(img), rgb_to_y(ref)
    return img.astype(np.float64), ref.astype(np.float64)
