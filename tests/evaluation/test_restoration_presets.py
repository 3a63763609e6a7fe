"""The same-size presets (GoPro, DVD, Set8 / DAVIS at a sigma, LDV): their protocol, the
input's own scores as the baseline, and the refusal of a network of the other task."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import benchdata
import restoration_data as rd
from vsr.data.corruptions import GaussianNoise
from vsr.data.splits import DVD_TEST_CLIPS
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


def assert_blend_scores(score, lq: list[np.ndarray], gt: list[np.ndarray]) -> None:
    """`Blend`'s per-frame PSNRs (its output rounded to uint8, as scored) and the input's own
    mean PSNR, computed here from the frames."""
    out = [
        np.rint(np.clip(0.5 * b.astype(np.float64) / 255 + 0.25, 0, 1) * 255).astype(np.uint8)
        for b in lq
    ]
    assert score.frame_psnr == pytest.approx(
        [calculate_psnr(o, g) for o, g in zip(out, gt, strict=True)], abs=1e-6
    )
    assert score.input_psnr == pytest.approx(
        np.mean([calculate_psnr(b, g) for b, g in zip(lq, gt, strict=True)])
    )


def noisy_psnr(levels: np.ndarray, sigma: float) -> float:
    """The expected PSNR of clip(v + n, 0, 255) for the clean levels v, n ~ N(0, sigma^2):
    the error integrated numerically over the levels, plus rounding's 1/12."""
    n = np.linspace(-6 * sigma, 6 * sigma, 4001)
    weight = np.exp(-0.5 * (n / sigma) ** 2)
    weight /= weight.sum()
    values, counts = np.unique(levels, return_counts=True)
    mse = [((np.clip(v + n, 0, 255) - v) ** 2 * weight).sum() + 1 / 12 for v in values]
    return 10 * math.log10(255**2 / np.average(mse, weights=counts))


def read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def dvd_with_its_test_clips(root: Path) -> Path:
    """DVD's 10 test clips (the preset scores all of them) and a training clip, 3 frames each."""
    base = root / "quantitative_datasets"
    for clip in (*DVD_TEST_CLIPS, "IMG_0100"):
        rd.write_pair(base / "GT" / clip, base / "LQ" / clip, clip, 3, "{:05d}.jpg")
    return root


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("restore")
    set8 = base / "Set8"
    for clip in ("tractor", "park_joy"):
        for i in range(3):
            rd.write(set8 / clip / f"{i:05d}.png", rd.gt_frame(clip, i))
    return {
        "gopro": rd.make_gopro(base / "GoPro", frames=3),
        "dvd": dvd_with_its_test_clips(base / "DVD"),
        "davis": rd.make_davis(base / "DAVIS", frames=3),
        "ldv": rd.make_ldv(base / "LDV", frames=3),
        "set8": set8,
    }


def test_gopro_scores_rgb_whole_clips_with_the_blurred_input_as_baseline(roots) -> None:
    root = roots["gopro"]
    result = evaluate(Blend(), parse_bench(f"gopro={root}"))
    clip = rd.GOPRO["test"][0]
    gt = [rd.gt_frame(clip, i) for i in range(3)]
    blur = [rd.blurred(f) for f in gt]
    score = result.clips[f"test/{clip}"]
    assert_blend_scores(score, blur, gt)
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
    levels = np.concatenate(
        [rd.gt_frame(c, i).ravel() for c in ("tractor", "park_joy") for i in range(3)]
    )
    assert first.input_psnr == pytest.approx(noisy_psnr(levels, sigma), abs=0.1)
    assert first.psnr == first.input_psnr  # the identity scores as its input
    assert first.protocol["degradation"] == f"noise sigma {sigma:g}"


def test_dvd_scores_its_test_clips_on_the_stored_blurred_jpgs(roots) -> None:
    root = roots["dvd"]
    result = evaluate(Blend(), parse_bench(f"dvd={root}"))
    assert sorted(result.clips) == sorted(DVD_TEST_CLIPS)  # not the training clip IMG_0100
    frames = [f"{i:05d}.jpg" for i in range(3)]
    base = root / "quantitative_datasets"
    gt = [read(base / "GT" / "IMG_0003" / f) for f in frames]
    lq = [read(base / "LQ" / "IMG_0003" / f) for f in frames]
    assert_blend_scores(result.clips["IMG_0003"], lq, gt)
    assert result.protocol["channel"] == "RGB" and result.protocol["crop_border"] == 0


def test_davis_adds_the_asked_noise_to_every_clip_the_same_every_run(roots) -> None:
    bench = parse_bench(f"davis={roots['davis']}")
    first, again = evaluate(Identity(), bench), evaluate(Identity(), bench)
    assert list(first.clips) == list(rd.DAVIS)  # split "all": the train and val lists alike
    assert [c.frame_psnr for c in first.clips.values()] == [
        c.frame_psnr for c in again.clips.values()
    ]
    frames = roots["davis"] / "JPEGImages" / "480p"
    levels = np.concatenate([read(p).ravel() for p in sorted(frames.glob("*/*.jpg"))])
    assert first.input_psnr == pytest.approx(noisy_psnr(levels, 50), abs=0.1)
    assert first.psnr == first.input_psnr
    assert first.protocol["degradation"] == "noise sigma 50"


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
