"""calculate_psnr / calculate_ssim / rgb_to_y against independent, formula-level references."""

import math

import numpy as np
import pytest

from vsr.metrics import calculate_psnr, calculate_ssim, rgb_to_y

H, W = 32, 40


# --- Independent references, written from the formulas (slow, loop-based on purpose) ----------


def ref_y(img: np.ndarray) -> np.ndarray:
    """MATLAB BT.601 luma, pixel by pixel: 16 + 65.481 r + 128.553 g + 24.966 b, r,g,b in [0,1]."""
    out = np.empty(img.shape[:2])
    for i in range(img.shape[0]):
        for j in range(img.shape[1]):
            r, g, b = (int(v) / 255 for v in img[i, j])
            out[i, j] = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    return out


def ref_planes(img: np.ndarray, crop: int, y: bool) -> list[np.ndarray]:
    if crop:
        img = img[crop:-crop, crop:-crop]
    if y and img.ndim == 3:
        return [ref_y(img)]
    if img.ndim == 2:
        return [img.astype(float)]
    return [img[..., c].astype(float) for c in range(img.shape[2])]


def ref_psnr(img: np.ndarray, ref: np.ndarray, crop: int = 0, y: bool = False) -> float:
    a, b = ref_planes(img, crop, y), ref_planes(ref, crop, y)
    diffs = [float(v) for pa, pb in zip(a, b, strict=True) for v in (pa - pb).ravel()]
    mse = math.fsum(d * d for d in diffs) / len(diffs)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def ref_window() -> np.ndarray:
    g = np.array([math.exp(-((k - 5) ** 2) / (2 * 1.5**2)) for k in range(11)])
    g /= g.sum()
    return np.outer(g, g)


def ref_ssim_plane(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al. SSIM, one 11x11 window at a time, only windows fully inside the image."""
    w = ref_window()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for i in range(a.shape[0] - 10):
        for j in range(a.shape[1] - 10):
            pa, pb = a[i : i + 11, j : j + 11], b[i : i + 11, j : j + 11]
            mu_a, mu_b = np.sum(w * pa), np.sum(w * pb)
            var_a = np.sum(w * (pa - mu_a) ** 2)
            var_b = np.sum(w * (pb - mu_b) ** 2)
            cov = np.sum(w * (pa - mu_a) * (pb - mu_b))
            values.append(
                (2 * mu_a * mu_b + c1)
                * (2 * cov + c2)
                / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
            )
    return float(np.mean(values))


def ref_ssim(img: np.ndarray, ref: np.ndarray, crop: int = 0, y: bool = False) -> float:
    a, b = ref_planes(img, crop, y), ref_planes(ref, crop, y)
    return float(np.mean([ref_ssim_plane(pa, pb) for pa, pb in zip(a, b, strict=True)]))


# --- Test images -------------------------------------------------------------------------------


def to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def random_pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, (H, W, 3), dtype=np.uint8),
        rng.integers(0, 256, (H, W, 3), dtype=np.uint8),
    )


def astronaut_pair(seed: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    from skimage import data

    gt = data.astronaut()[100 : 100 + H, 180 : 180 + W]  # face and helmet edge: real structure
    rng = np.random.default_rng(seed)
    return to_uint8(gt + rng.normal(0, noise, gt.shape)), gt


def gradient_pair() -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:H, 0:W].astype(float)
    gt = np.stack([xx * 255 / (W - 1), yy * 255 / (H - 1), (xx + yy) * 255 / (H + W - 2)], -1)
    out = np.stack([gt[..., 0] * 0.9 + 10, np.roll(gt[..., 1], 1, axis=0), gt[..., 2] ** 0.95], -1)
    return to_uint8(out), to_uint8(gt)


PAIRS = {
    "random": lambda: random_pair(0),
    "astronaut_noise5": lambda: astronaut_pair(1, 5.0),
    "astronaut_noise20": lambda: astronaut_pair(2, 20.0),
    "gradients": gradient_pair,
}
SETTINGS = [(0, False), (0, True), (3, False), (4, True)]


@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize(("crop", "y"), SETTINGS)
def test_psnr_matches_reference(pair: str, crop: int, y: bool) -> None:
    img, ref = PAIRS[pair]()
    expected = ref_psnr(img, ref, crop, y)
    assert calculate_psnr(img, ref, crop_border=crop, y_channel=y) == pytest.approx(
        expected, rel=1e-10
    )


@pytest.mark.parametrize("pair", PAIRS)
@pytest.mark.parametrize(("crop", "y"), SETTINGS)
def test_ssim_matches_reference(pair: str, crop: int, y: bool) -> None:
    img, ref = PAIRS[pair]()
    expected = ref_ssim(img, ref, crop, y)
    assert calculate_ssim(img, ref, crop_border=crop, y_channel=y) == pytest.approx(
        expected, rel=1e-8, abs=1e-12
    )


def test_ssim_matches_skimage_gaussian_ssim() -> None:
    # skimage's Gaussian SSIM (sigma 1.5, truncate 3.5 -> 11 taps, border of 5 cropped,
    # population covariance) is the same definition, implemented separately.
    from skimage.metrics import structural_similarity

    img, ref = astronaut_pair(3, 10.0)
    expected = structural_similarity(
        img,
        ref,
        channel_axis=2,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
    )
    assert calculate_ssim(img, ref) == pytest.approx(expected, rel=1e-10)


def test_grayscale_images() -> None:
    img, ref = astronaut_pair(4, 8.0)
    img, ref = img[..., 1], ref[..., 1]
    assert calculate_psnr(img, ref, crop_border=2) == pytest.approx(
        ref_psnr(img, ref, 2), rel=1e-10
    )
    assert calculate_ssim(img, ref, crop_border=2) == pytest.approx(ref_ssim(img, ref, 2), rel=1e-8)
    # Y of a single plane is the plane itself.
    assert calculate_psnr(img, ref, y_channel=True) == calculate_psnr(img, ref)


def test_crop_border_ignores_the_border() -> None:
    img, ref = astronaut_pair(5, 6.0)
    damaged = img.copy()
    damaged[:3] = 0
    damaged[:, -3:] = 255
    assert calculate_psnr(damaged, ref, crop_border=3) == calculate_psnr(img, ref, crop_border=3)
    assert calculate_ssim(damaged, ref, crop_border=3) == calculate_ssim(img, ref, crop_border=3)
    assert calculate_psnr(damaged, ref) < calculate_psnr(img, ref)


def test_identical_images() -> None:
    img, _ = astronaut_pair(6, 1.0)
    assert calculate_psnr(img, img) == math.inf
    assert calculate_psnr(img, img, y_channel=True) == math.inf
    assert calculate_ssim(img, img) == pytest.approx(1.0, abs=1e-12)
    assert calculate_ssim(img, img, y_channel=True) == pytest.approx(1.0, abs=1e-12)


def test_one_level_offset_gives_20_log10_255() -> None:
    rng = np.random.default_rng(7)
    ref = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    img = ref + np.uint8(1)  # every value off by exactly one level: MSE = 1
    assert calculate_psnr(img, ref) == pytest.approx(20 * math.log10(255), rel=1e-12)
    assert calculate_psnr(ref, img, crop_border=5) == pytest.approx(20 * math.log10(255), rel=1e-12)


def test_y_of_white_black_and_primaries() -> None:
    img = np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)
    y = rgb_to_y(img)
    assert y.dtype == np.float64
    assert y.shape == (1, 5)
    np.testing.assert_allclose(
        y[0], [235.0, 16.0, 16 + 65.481, 16 + 128.553, 16 + 24.966], rtol=0, atol=1e-12
    )


def test_y_is_not_rounded() -> None:
    img, _ = random_pair(8)
    y = rgb_to_y(img)
    np.testing.assert_allclose(y, ref_y(img), rtol=1e-13)
    assert np.any(np.abs(y - np.round(y)) > 0.1)
    assert y.min() >= 16 and y.max() <= 235


def test_y_changes_the_score() -> None:
    # Guards against y_channel being silently ignored.
    img, ref = astronaut_pair(9, 12.0)
    assert calculate_psnr(img, ref, y_channel=True) != pytest.approx(calculate_psnr(img, ref))
    assert calculate_ssim(img, ref, y_channel=True) != pytest.approx(calculate_ssim(img, ref))


@pytest.mark.parametrize(
    ("img", "ref", "match"),
    [
        (np.zeros((H, W, 3), np.uint8), np.zeros((H, W - 1, 3), np.uint8), r"\(32, 40, 3\).*39"),
        (np.zeros((H, W, 3), np.float32), np.zeros((H, W, 3), np.float32), "uint8"),
        (np.zeros((H, W, 3), np.uint8), np.zeros((H, W, 3), np.uint16), "uint8"),
        (np.zeros((2, H, W, 3), np.uint8), np.zeros((2, H, W, 3), np.uint8), r"\(2, 32, 40, 3\)"),
        (np.zeros((H, W, 4), np.uint8), np.zeros((H, W, 4), np.uint8), r"\(32, 40, 4\)"),
        (np.zeros((H, W, 3), np.uint8), [[0]], "numpy array"),
    ],
)
def test_bad_inputs(img: np.ndarray, ref: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        calculate_psnr(img, ref)
    with pytest.raises(ValueError, match=match):
        calculate_ssim(img, ref)


def test_bad_crop_border_and_too_small_images() -> None:
    img = np.zeros((H, W, 3), np.uint8)
    with pytest.raises(ValueError, match="non-negative"):
        calculate_psnr(img, img, crop_border=-1)
    with pytest.raises(ValueError, match="int"):
        calculate_psnr(img, img, crop_border=1.5)
    with pytest.raises(ValueError, match="leave 0x8 pixels"):
        calculate_psnr(img, img, crop_border=16)
    with pytest.raises(ValueError, match="11x11"):
        calculate_ssim(img, img, crop_border=11)
    with pytest.raises(ValueError, match="11x11"):
        calculate_ssim(img[:10], img[:10])
    with pytest.raises(ValueError, match=r"\(32, 40\)"):
        rgb_to_y(img[..., 0])
    with pytest.raises(ValueError, match="uint8"):
        rgb_to_y(img.astype(np.float64))
