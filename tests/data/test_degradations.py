"""BI/BD degradations against independent, loop-based implementations of their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vsr.data.degradations import (
    bd_kernel_size,
    bicubic_downsample,
    blur_downsample,
    degrade,
    gaussian_kernel,
    gt_margin,
    imresize,
)


def _cubic_scalar(x: float) -> float:
    a = -0.5
    t = abs(x)
    if t <= 1:
        return (a + 2) * t**3 - (a + 3) * t**2 + 1
    if t <= 2:
        return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
    return 0.0


def _mirror(i: int, n: int) -> int:
    """1-based index i mapped into 1..n by symmetric reflection (1..n, n..1, 1..n, ...)."""
    period = 2 * n
    r = (i - 1) % period
    return r + 1 if r < n else period - r


def _resize_axis_loop(img: np.ndarray, scale: float) -> np.ndarray:
    """Resize along axis 0, one output sample at a time, straight from MATLAB's definition."""
    n = img.shape[0]
    m = math.ceil(n * scale)
    support = 2.0 / scale if scale < 1 else 2.0
    out = np.zeros((m, *img.shape[1:]))
    for x in range(1, m + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        taps = []
        for j in range(math.floor(u - support) - 1, math.ceil(u + support) + 2):
            d = u - j
            w = scale * _cubic_scalar(scale * d) if scale < 1 else _cubic_scalar(d)
            if w != 0.0:
                taps.append((j, w))
        total = sum(w for _, w in taps)
        for j, w in taps:
            out[x - 1] += (w / total) * img[_mirror(j, n) - 1]
    return out


def _imresize_loop(img: np.ndarray, scale: float) -> np.ndarray:
    out = _resize_axis_loop(img.astype(np.float64), scale)
    return np.swapaxes(_resize_axis_loop(np.swapaxes(out, 0, 1), scale), 0, 1)


@pytest.mark.parametrize(
    ("shape", "scale"),
    [
        ((17, 23), 0.25),
        ((16, 24, 3), 0.25),
        ((13, 9, 3), 0.5),
        ((19, 14), 1 / 3),
        ((7, 5, 2), 2.0),
        ((6, 11), 3.0),
        ((10, 12, 3), 0.75),
    ],
)
def test_imresize_matches_loop_definition(shape: tuple[int, ...], scale: float) -> None:
    rng = np.random.default_rng(0)
    img = rng.random(shape)
    out = imresize(img, scale)
    ref = _imresize_loop(img, scale)
    assert out.shape == ref.shape
    assert out.shape[:2] == (math.ceil(shape[0] * scale), math.ceil(shape[1] * scale))
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-10)


def test_imresize_constant_and_identity() -> None:
    rng = np.random.default_rng(1)
    const = np.full((21, 30, 3), 0.37)
    for scale in (0.25, 1 / 3, 0.5, 2.0):
        np.testing.assert_allclose(imresize(const, scale), 0.37, atol=1e-12)
    img = rng.random((9, 11, 3))
    np.testing.assert_allclose(imresize(img, 1.0), img, atol=1e-12)


def test_imresize_reproduces_linear_ramps() -> None:
    # The cubic kernel (plain or widened) reproduces linear functions, so away from the borders
    # a ramp comes out sampled at MATLAB's output centres u = x / scale + (1 - 1 / scale) / 2.
    ramp = np.tile(np.arange(40, dtype=np.float64)[:, None], (1, 3))
    for scale, first, step in [(0.25, 1.5, 4.0), (0.5, 0.5, 2.0), (2.0, -0.25, 0.5)]:
        out = imresize(ramp, scale)[:, 0]
        i = np.arange(len(out))
        interior = (first + step * i > 8) & (first + step * i < 31)
        np.testing.assert_allclose(out[interior], (first + step * i)[interior], atol=1e-12)


def test_bicubic_downsample_rounding_and_size() -> None:
    rng = np.random.default_rng(2)
    gt = rng.integers(0, 256, (36, 52, 3), dtype=np.uint8)
    lr = bicubic_downsample(gt, 4)
    assert lr.dtype == np.uint8 and lr.shape == (9, 13, 3)
    exact = _imresize_loop(gt / 255.0, 0.25)
    expected = np.floor(np.clip(exact, 0, 1) * 255 + 0.5)
    # Values within 1e-9 of a .5 boundary could round either way; random data has none.
    assert np.abs((np.clip(exact, 0, 1) * 255) % 1 - 0.5).min() > 1e-9
    np.testing.assert_array_equal(lr, expected.astype(np.uint8))
    # Overshoot is clipped, not wrapped: a hard edge makes bicubic ring past 0 and 255.
    edge = np.zeros((32, 32, 3), np.uint8)
    edge[:, 16:] = 255
    out = bicubic_downsample(edge, 2)
    assert out.min() == 0 and out.max() == 255
    assert imresize(edge / 255.0, 0.5).min() < 0


def test_bicubic_downsample_constant() -> None:
    gt = np.full((40, 24, 3), 200, np.uint8)
    np.testing.assert_array_equal(bicubic_downsample(gt, 4), 200)


def test_gaussian_kernel_formula() -> None:
    assert bd_kernel_size(1.6) == 12
    k = gaussian_kernel(12, 1.6)
    assert k.shape == (12, 12)
    assert abs(k.sum() - 1) < 1e-12
    y, x = np.mgrid[0:12, 0:12] - 5.5
    g = np.exp(-(x**2 + y**2) / (2 * 1.6**2))
    np.testing.assert_allclose(k, g / g.sum(), atol=1e-15)
    k13 = gaussian_kernel(13, 1.6)
    assert abs(k13.sum() - 1) < 1e-12 and k13.argmax() == 6 * 13 + 6


def _blur_downsample_loop(gt: np.ndarray, scale: int, sigma: float, size: int) -> np.ndarray:
    """imfilter(gt, fspecial('gaussian', size, sigma), 'replicate') then MATLAB sampling."""
    kernel = gaussian_kernel(size, sigma)
    h, w = gt.shape[:2]
    anchor = (size - 1) // 2
    rows = list(range(scale // 2 - 1, h - scale // 2, scale))  # scale/2:scale:end-scale/2
    cols = list(range(scale // 2 - 1, w - scale // 2, scale))
    out = np.zeros((len(rows), len(cols), gt.shape[2]))
    for oi, i in enumerate(rows):
        for oj, j in enumerate(cols):
            acc = np.zeros(gt.shape[2])
            for a in range(size):
                for b in range(size):
                    y = min(max(i + a - anchor, 0), h - 1)
                    x = min(max(j + b - anchor, 0), w - 1)
                    acc += kernel[a, b] * gt[y, x]
            out[oi, oj] = acc
    return np.floor(out + 0.5).astype(np.uint8)


@pytest.mark.parametrize(("shape", "scale", "size"), [((24, 28), 4, None), ((15, 10), 2, 13)])
def test_blur_downsample_matches_loop_definition(
    shape: tuple[int, int], scale: int, size: int | None
) -> None:
    rng = np.random.default_rng(3)
    gt = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    out = blur_downsample(gt, scale, 1.6, size)
    assert out.dtype == np.uint8
    assert out.shape == (shape[0] // scale, shape[1] // scale, 3)
    ref = _blur_downsample_loop(gt, scale, 1.6, size or bd_kernel_size(1.6))
    np.testing.assert_array_equal(out, ref)


def test_blur_downsample_constant_and_size() -> None:
    gt = np.full((64, 112, 3), 77, np.uint8)
    out = blur_downsample(gt)
    assert out.shape == (16, 28, 3)
    np.testing.assert_array_equal(out, 77)
    assert degrade(gt, "bd").shape == (16, 28, 3)
    assert degrade(gt, "bi").shape == (16, 28, 3)
    with pytest.raises(ValueError, match="unknown degradation"):
        degrade(gt, "xx")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["bi", "bd"])
@pytest.mark.parametrize("scale", [4, 2])
def test_crop_with_margin_equals_whole_frame(kind: str, scale: int) -> None:
    rng = np.random.default_rng(4)
    h, w = 72, 96
    gt = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    whole = degrade(gt, kind, scale)  # type: ignore[arg-type]
    margin = gt_margin(kind, scale)  # type: ignore[arg-type]
    assert margin % scale == 0 and margin > 0
    ch, cw = 32, 40
    # Interior, every border and corner.
    for top, left in [(24, 32), (0, 0), (0, 48), (h - ch, w - cw), (40, 0), (h - ch, 24)]:
        rt, rl = max(top - margin, 0), max(left - margin, 0)
        rb, rr = min(top + ch + margin, h), min(left + cw + margin, w)
        lr = degrade(gt[rt:rb, rl:rr], kind, scale)  # type: ignore[arg-type]
        oy, ox = (top - rt) // scale, (left - rl) // scale
        crop = lr[oy : oy + ch // scale, ox : ox + cw // scale]
        expected = whole[top // scale : (top + ch) // scale, left // scale : (left + cw) // scale]
        np.testing.assert_array_equal(crop, expected, err_msg=f"{kind} crop at {(top, left)}")


@pytest.mark.parametrize("kind", ["bi", "bd"])
def test_smaller_margin_is_not_enough(kind: str) -> None:
    # The margin is tight: one LR pixel less of context changes an interior crop.
    rng = np.random.default_rng(5)
    gt = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)
    scale = 4
    margin = gt_margin(kind, scale) - scale  # type: ignore[arg-type]
    whole = degrade(gt, kind, scale)  # type: ignore[arg-type]
    top = left = 32
    region = gt[top - margin : top + 32 + margin, left - margin : left + 32 + margin]
    lr = degrade(region, kind, scale)  # type: ignore[arg-type]
    o = margin // scale
    assert not np.array_equal(lr[o : o + 8, o : o + 8], whole[8:16, 8:16])


def test_full_hd_frame_degrades_to_the_low_res_size() -> None:
    # Speed is measured by `vsr-bench data`, not asserted here.
    gt = np.random.default_rng(6).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    lr = bicubic_downsample(gt, 4)
    bd = blur_downsample(gt, 4)
    assert lr.shape == bd.shape == (180, 320, 3)
    assert lr.dtype == bd.dtype == np.uint8
