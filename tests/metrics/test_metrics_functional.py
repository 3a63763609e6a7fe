"""The torch per-frame path equals the numpy path on the frames as they would be saved."""

import numpy as np
import pytest
import torch

from vsr.metrics import (
    calculate_psnr,
    calculate_ssim,
    frame_psnr,
    frame_ssim,
    rgb_to_y,
    rgb_to_y_levels,
    to_uint8_levels,
)

H, W = 32, 40


def saved_uint8(x: torch.Tensor) -> np.ndarray:
    """(c, h, w) float frame -> (h, w, c) uint8, the way BasicSR's/mmagic's tensor2img saves it."""
    img = x.float().clamp(0, 1).numpy().transpose(1, 2, 0)
    img = (img * 255.0).round()  # numpy rounds half to even
    return img.astype(np.uint8).squeeze(-1) if img.shape[-1] == 1 else img.astype(np.uint8)


def noisy_frames(shape: tuple[int, ...], seed: int, noise: float) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=g)
    # Blur the target a little so SSIM sees structure, then overshoot [0, 1] to exercise clamping.
    target = torch.nn.functional.avg_pool2d(target.reshape(-1, *shape[-3:]), 3, 1, 1).reshape(shape)
    preds = target + noise * torch.randn(shape, generator=g)
    return preds, target


@pytest.mark.parametrize(("crop", "y"), [(0, False), (0, True), (2, False), (3, True)])
def test_frames_equal_numpy_on_saved_images(crop: int, y: bool) -> None:
    preds, target = noisy_frames((2, 3, 3, H, W), seed=0, noise=0.08)  # (n, t, c, h, w)
    psnr = frame_psnr(preds, target, crop_border=crop, y_channel=y)
    ssim = frame_ssim(preds, target, crop_border=crop, y_channel=y)
    assert psnr.shape == ssim.shape == (2, 3)
    assert psnr.dtype == ssim.dtype == torch.float64
    for i in range(2):
        for t in range(3):
            img, ref = saved_uint8(preds[i, t]), saved_uint8(target[i, t])
            assert psnr[i, t].item() == pytest.approx(
                calculate_psnr(img, ref, crop_border=crop, y_channel=y), rel=1e-12
            )
            assert ssim[i, t].item() == pytest.approx(
                calculate_ssim(img, ref, crop_border=crop, y_channel=y), rel=1e-10, abs=1e-12
            )


def test_single_frame_grayscale_and_uint8_inputs() -> None:
    preds, target = noisy_frames((1, H, W), seed=1, noise=0.05)
    img, ref = saved_uint8(preds), saved_uint8(target)
    assert frame_psnr(preds, target).shape == ()
    assert frame_psnr(preds, target).item() == pytest.approx(calculate_psnr(img, ref), rel=1e-12)
    assert frame_ssim(preds, target).item() == pytest.approx(calculate_ssim(img, ref), rel=1e-10)
    as_uint8 = torch.from_numpy(img)[None], torch.from_numpy(ref)[None]
    assert frame_psnr(*as_uint8).item() == frame_psnr(preds, target).item()


def test_identical_frames() -> None:
    _, target = noisy_frames((2, 3, H, W), seed=2, noise=0.0)
    target = (target * 255).round() / 255
    # Values within less than half a level of the same uint8 image score as identical.
    offset = (torch.rand(target.shape, generator=torch.Generator().manual_seed(2)) - 0.5) * 0.8
    preds = target + offset / 255
    assert torch.isinf(frame_psnr(preds, target)).all()
    torch.testing.assert_close(frame_ssim(preds, target), torch.ones(2, dtype=torch.float64))


def test_rounding_is_half_to_even_like_saving() -> None:
    # Float32 values whose float32 product with 255 lands exactly on k + 0.5.
    k = np.arange(255, dtype=np.float32)
    candidates = (k + np.float32(0.5)) / np.float32(255)
    candidates = np.concatenate(
        [candidates, np.nextafter(candidates, 0), np.nextafter(candidates, 1)]
    )
    halves = candidates[(candidates * np.float32(255)) % 1 == 0.5]
    assert halves.size > 20
    levels = to_uint8_levels(torch.from_numpy(halves))
    assert torch.all(levels % 2 == 0)  # half to even, not + 0.5 then floor
    x = torch.rand(1000, generator=torch.Generator().manual_seed(3)) * 1.4 - 0.2
    expected = np.round(np.clip(x.numpy(), 0, 1) * np.float32(255)).astype(np.uint8)
    np.testing.assert_array_equal(to_uint8_levels(x).numpy(), expected)
    assert to_uint8_levels(torch.tensor([-0.3, 1.7])).tolist() == [0.0, 255.0]


def test_half_precision_inputs_round_like_their_float32_value() -> None:
    preds, target = noisy_frames((2, 3, H, W), seed=4, noise=0.05)
    half = preds.half()
    torch.testing.assert_close(frame_psnr(half, target), frame_psnr(half.float(), target))


def test_y_levels_match_numpy_y() -> None:
    img = np.random.default_rng(5).integers(0, 256, (H, W, 3), dtype=np.uint8)
    levels = torch.from_numpy(img).permute(2, 0, 1).to(torch.float64)
    y = rgb_to_y_levels(levels)
    assert y.shape == (1, H, W)
    np.testing.assert_allclose(y[0].numpy(), rgb_to_y(img), rtol=1e-14)


def test_long_clips_are_scored_in_chunks() -> None:
    # More frames than fit in one chunk of the float64 working set.
    import vsr.metrics.functional as functional

    preds, target = noisy_frames((7, 3, H, W), seed=6, noise=0.05)
    whole = frame_ssim(preds, target), frame_psnr(preds, target)
    old = functional._MAX_CHUNK_ELEMENTS
    functional._MAX_CHUNK_ELEMENTS = 2 * 3 * H * W
    try:
        chunked = frame_ssim(preds, target), frame_psnr(preds, target)
    finally:
        functional._MAX_CHUNK_ELEMENTS = old
    for a, b in zip(whole, chunked, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    ("preds", "target", "match"),
    [
        (torch.rand(2, 3, H, W), torch.rand(2, 3, H, W - 2), r"\(2, 3, 32, 40\).*\(2, 3, 32, 38\)"),
        (torch.rand(2, 4, H, W), torch.rand(2, 4, H, W), r"\(2, 4, 32, 40\)"),
        (torch.rand(H, W), torch.rand(H, W), r"\(32, 40\)"),
        (torch.ones(3, H, W, dtype=torch.int32), torch.ones(3, H, W, dtype=torch.int32), "int32"),
        (torch.rand(3, 10, W), torch.rand(3, 10, W), "11x11"),
    ],
)
def test_bad_inputs(preds: torch.Tensor, target: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        frame_ssim(preds, target)
    if "11x11" not in match:
        with pytest.raises(ValueError, match=match):
            frame_psnr(preds, target)


def test_bad_crop_border() -> None:
    x = torch.rand(3, H, W)
    with pytest.raises(ValueError, match="crop_border"):
        frame_psnr(x, x, crop_border=-2)
    with pytest.raises(ValueError, match="leave 0x8"):
        frame_psnr(x, x, crop_border=16)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_equals_cpu() -> None:
    preds, target = noisy_frames((2, 3, 3, H, W), seed=7, noise=0.05)
    for fn in (frame_psnr, frame_ssim):
        on_gpu = fn(preds.cuda(), target.cuda(), crop_border=1, y_channel=True)
        assert on_gpu.device.type == "cuda"
        torch.testing.assert_close(on_gpu.cpu(), fn(preds, target, 1, True), rtol=1e-12, atol=0)


def test_scores_stay_float64_under_autocast() -> None:
    preds, target = noisy_frames((2, 3, H, W), seed=8, noise=0.05)
    expected = frame_ssim(preds, target), frame_psnr(preds, target)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = frame_ssim(preds, target), frame_psnr(preds, target)
    for a, b in zip(got, expected, strict=True):
        assert a.dtype == torch.float64
        torch.testing.assert_close(a, b, rtol=1e-12, atol=0)
