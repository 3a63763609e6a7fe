"""VideoPSNR / VideoSSIM: per frame -> mean per clip -> mean over clips."""

import math

import numpy as np
import pytest
import torch

from vsr.metrics import VideoPSNR, VideoSSIM, calculate_psnr, calculate_ssim

H, W = 32, 40
NUMPY_METRIC = {VideoPSNR: calculate_psnr, VideoSSIM: calculate_ssim}


def clip(t: int, seed: int, noise: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A (t, 3, h, w) ground-truth clip and a noisy output of it."""
    g = torch.Generator().manual_seed(seed)
    gt = torch.nn.functional.avg_pool2d(torch.rand(t, 3, H, W, generator=g), 3, 1, 1)
    return (gt + noise * torch.randn(gt.shape, generator=g)).clamp(0, 1), gt


def to_uint8(frame: torch.Tensor) -> np.ndarray:
    return (frame.numpy().transpose(1, 2, 0) * 255.0).round().astype(np.uint8)


def clip_mean(metric_cls: type, preds: torch.Tensor, gt: torch.Tensor, **kwargs) -> float:
    fn = NUMPY_METRIC[metric_cls]
    scores = [fn(to_uint8(p), to_uint8(g), **kwargs) for p, g in zip(preds, gt, strict=True)]
    return float(np.mean(scores))


@pytest.mark.parametrize("metric_cls", [VideoPSNR, VideoSSIM])
def test_mean_of_clip_means_not_of_frames(metric_cls: type) -> None:
    short = clip(2, seed=0, noise=0.02)  # good clip, 2 frames
    long = clip(5, seed=1, noise=0.15)  # bad clip, 5 frames
    metric = metric_cls()
    metric.update(*short)  # (t, c, h, w): one clip
    metric.update(long[0][None], long[1][None])  # (1, t, c, h, w)
    means = [clip_mean(metric_cls, *short), clip_mean(metric_cls, *long)]
    expected = (means[0] + means[1]) / 2
    frames = zip(torch.cat([short[0], long[0]]), torch.cat([short[1], long[1]]), strict=True)
    all_frames = [NUMPY_METRIC[metric_cls](to_uint8(p), to_uint8(g)) for p, g in frames]
    assert abs(expected - np.mean(all_frames)) > 0.01  # the two averages really differ here
    assert metric.compute().item() == pytest.approx(expected, rel=1e-12)
    torch.testing.assert_close(metric.per_clip(), torch.tensor(means, dtype=torch.float64))


@pytest.mark.parametrize("metric_cls", [VideoPSNR, VideoSSIM])
def test_batches_of_clips_with_crop_and_y(metric_cls: type) -> None:
    clips = [clip(3, seed=s, noise=0.03 * (s + 1)) for s in range(5)]
    preds = torch.stack([c[0] for c in clips])  # (5, 3, 3, h, w)
    gts = torch.stack([c[1] for c in clips])
    metric = metric_cls(crop_border=2, y_channel=True)
    metric.update(preds[:3], gts[:3])
    metric.update(preds[3:], gts[3:])
    means = [clip_mean(metric_cls, p, g, crop_border=2, y_channel=True) for p, g in clips]
    assert metric.compute().item() == pytest.approx(np.mean(means), rel=1e-12)
    assert metric.num_clips.item() == 5
    torch.testing.assert_close(metric.per_clip(), torch.tensor(means, dtype=torch.float64))


def test_forward_returns_the_batch_and_accumulates() -> None:
    a, b = clip(2, seed=2, noise=0.05), clip(2, seed=3, noise=0.2)
    metric = VideoPSNR()
    batch_a = metric(*a)
    batch_b = metric(*b)
    assert batch_a.item() == pytest.approx(clip_mean(VideoPSNR, *a), rel=1e-12)
    assert batch_b.item() == pytest.approx(clip_mean(VideoPSNR, *b), rel=1e-12)
    assert metric.compute().item() == pytest.approx((batch_a + batch_b).item() / 2, rel=1e-12)


def test_reset() -> None:
    first, second = clip(2, seed=4, noise=0.3), clip(3, seed=5, noise=0.01)
    metric = VideoSSIM()
    metric.update(*first)
    metric.compute()
    metric.reset()
    assert metric.num_clips.item() == 0
    assert metric.per_clip().numel() == 0
    metric.update(*second)
    assert metric.compute().item() == pytest.approx(clip_mean(VideoSSIM, *second), rel=1e-12)


def test_identical_clip_gives_inf_psnr_and_unit_ssim() -> None:
    _, gt = clip(2, seed=6, noise=0.0)
    psnr, ssim = VideoPSNR(), VideoSSIM()
    psnr.update(gt, gt)
    ssim.update(gt, gt)
    assert psnr.compute().item() == math.inf
    assert ssim.compute().item() == pytest.approx(1.0, abs=1e-12)


def test_states_are_float64_sums() -> None:
    metric = VideoPSNR()
    assert metric.clip_sum.dtype == torch.float64
    assert metric._reductions["clip_sum"].__name__ == "dim_zero_sum"
    assert metric._reductions["num_clips"].__name__ == "dim_zero_sum"


@pytest.mark.parametrize(
    ("preds", "target", "match"),
    [
        (torch.rand(3, H, W), torch.rand(3, H, W), r"\(3, 32, 40\)"),
        (torch.rand(1, 1, 2, 3, H, W), torch.rand(1, 1, 2, 3, H, W), r"\(1, 1, 2, 3, 32, 40\)"),
        (torch.rand(1, 2, 3, H, W), torch.rand(1, 2, 3, H, W - 1), r"\(1, 2, 3, 32, 39\)"),
        (torch.rand(1, 0, 3, H, W), torch.rand(1, 0, 3, H, W), "at least one frame"),
    ],
)
def test_bad_inputs(preds: torch.Tensor, target: torch.Tensor, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        VideoPSNR().update(preds, target)


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ValueError, match="crop_border"):
        VideoPSNR(crop_border=-1)
    with pytest.raises(ValueError, match="crop_border"):
        VideoSSIM(crop_border=2.0)
