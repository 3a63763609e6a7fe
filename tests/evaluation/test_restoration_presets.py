"""The same-size presets (GoPro, DVD, Set8 / DAVIS at a sigma, LDV): their protocol, the
input's own scores as the baseline, and the refusal of a network of the other task."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import benchdata
import restoration_data as rd
from vsr.data.corruptions import GaussianNoise
from vsr.evaluation.benchmarks import parse_bench
from vsr.evaluation.evaluate import evaluate
from vsr.metrics import calculate_psnr, calculate_ssim


class Identity(nn.Module):
    """A same-size "restorer" that returns its input: its scores are the input's."""

    scale = 1

    def forward(self, lqs: torch.Tensor) -> torch.Tensor:
        return lqs.clone()


class Blend(nn.Module):
    """Halfway from the input to mid-grey: a same-size output that differs from the input."""

    scale = 1

    def forward(self, lqs: torch.Tensor) -> torch.Tensor:
        return 0.5 * lqs + 0.25


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("restore")
    set8 = base / "Set8"
    for clip in ("tractor", "park_joy"):
        for i in range(3):
            rd.write(set8 / clip / f"{i:05d}.png", rd.gt_frame(clip, i))
    return {
        "gopro": rd.make_gopro(base / "GoPro", frames=3),
        "ldv": rd.make_ldv(base / "LDV", frames=3),
        "set8": set8,
    }


def test_gopro_scores_rgb_whole_clips_with_the_blurred_input_as_baseline(roots) -> None:
    root = roots["gopro"]
    result = evaluate(Blend(), parse_bench(f"gopro={root}"))
    clip = rd.GOPRO["test"][0]
    gt = [rd.gt_frame(clip, i) for i in range(3)]
    blur = [rd.blurred(f) for f in gt]
    out = [
        np.rint(np.clip(0.5 * b.astype(np.float64) / 255 + 0.25, 0, 1) * 255).astype(np.uint8)
        for b in blur
    ]
    score = result.clips[f"test/{clip}"]
    assert score.frame_psnr == pytest.approx(
        [calculate_psnr(o, g) for o, g in zip(out, gt, strict=True)], abs=1e-6
    )
    assert score.input_psnr == pytest.approx(
        np.mean([calculate_psnr(b, g) for b, g in zip(blur, gt, strict=True)])
    )
    assert score.input_ssim == pytest.approx(
        np.mean([calculate_ssim(b, g) for b, g in zip(blur, gt, strict=True)])
    )
    assert result.protocol["channel"] == "RGB" and result.protocol["crop_border"] == 0
    assert result.to_json()["input_psnr"] == pytest.approx(score.input_psnr)


@pytest.mark.parametrize("sigma", [10.0, 50.0])
def test_set8_noise_has_the_asked_sigma_and_is_the_same_every_run(roots, sigma) -> None:
    bench = parse_bench(f"set8={roots['set8']}").replace(degradation=GaussianNoise(sigma=sigma))
    first, again = evaluate(Identity(), bench), evaluate(Identity(), bench)
    assert first.psnr == again.psnr  # seeded per clip
    # The expected error of clip(v + n, 0, 255) for each GT level v, n ~ N(0, sigma^2), plus
    # rounding's 1/12: integrated numerically over the levels of the clean frames.
    levels = np.concatenate(
        [rd.gt_frame(c, i).ravel() for c in ("tractor", "park_joy") for i in range(3)]
    )
    n = np.linspace(-6 * sigma, 6 * sigma, 4001)
    weight = np.exp(-0.5 * (n / sigma) ** 2)
    weight /= weight.sum()
    values, counts = np.unique(levels, return_counts=True)
    mse = [((np.clip(v + n, 0, 255) - v) ** 2 * weight).sum() + 1 / 12 for v in values]
    expected = 10 * math.log10(255**2 / np.average(mse, weights=counts))
    assert first.input_psnr == pytest.approx(expected, abs=0.1)
    assert first.psnr == first.input_psnr  # the identity scores as its input
    assert first.protocol["degradation"] == f"noise sigma {sigma:g}"


def test_ldv_uses_the_spatial_ensemble(roots) -> None:
    result = evaluate(Identity(), parse_bench(f"ldv={roots['ldv']}"))
    assert result.ensemble is True and list(result.clips) == ["001", "002"]
    assert result.psnr == pytest.approx(result.input_psnr)


def test_a_network_of_the_other_task_is_refused(roots, bench_roots) -> None:
    with pytest.raises(
        ValueError,
        match=r"gopro is a same-size restoration benchmark, but the "
        r"checkpoint holds a x4 super-resolver: score it on reds4",
    ):
        evaluate(benchdata.NearestUpsampler(), parse_bench(f"gopro={roots['gopro']}"))
    with pytest.raises(
        ValueError,
        match=r"reds4 is a x4 super-resolution benchmark.*same-size"
        r".*gopro, dvd, set8, davis, ldv",
    ):
        evaluate(Identity(), parse_bench(f"reds4={bench_roots['reds']}"))


def test_x4_results_keep_their_keys(bench_roots) -> None:
    result = evaluate(benchdata.NearestUpsampler(), parse_bench(f"reds4={bench_roots['reds']}"))
    assert result.input_psnr is None
    assert "input_psnr" not in result.to_json()
    assert all("input_psnr" not in c.to_json() for c in result.clips.values())
