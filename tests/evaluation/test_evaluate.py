"""The evaluation loop against scores recomputed independently from the PNG files.

The networks here are exact oracles (`benchdata`): nearest-neighbour upsampling, so the output
for a stored low-res frame is known without running anything, and every expected score is
`calculate_psnr` / `calculate_ssim` (numpy) on the files.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import benchdata
import vsr
from vsr.data.degradations import degrade
from vsr.evaluation.benchmarks import BENCHMARKS, parse_bench
from vsr.evaluation.evaluate import (
    BenchmarkResult,
    evaluate,
    evaluate_checkpoint,
    run_clip,
    write_results,
)
from vsr.metrics import calculate_psnr, calculate_ssim

SCALE = benchdata.SCALE

# The layout of results.json as written before the results became dataclasses (copied from a
# file vsr-test wrote then): readers of the file rely on these keys, in this order.
RESULTS_KEYS = [
    "checkpoint", "architecture", "ema", "device", "ensemble", "metrics", "started", "torch",
    "vsr", "benchmarks", "seconds",
]  # fmt: skip
ARCHITECTURE_KEYS = [
    "class", "mid_channels", "num_blocks", "is_low_res_input", "grid_propagation", "alignment",
    "second_order", "scale", "parameters", "cpu_cache_length",
]  # fmt: skip
BENCHMARK_KEYS = [
    "name", "title", "root", "protocol", "low_res", "ensemble", "partial", "max_frames",
    "max_clips", "num_clips", "psnr", "ssim", "seconds", "clips",
]  # fmt: skip
PROTOCOL_KEYS = [
    "channel", "mirror", "gt_frames", "prediction", "crop_border", "degradation", "layout",
    "split", "gt_dir", "lr_dir", "list_file", "averaging", "rounding",
]  # fmt: skip
CLIP_KEYS = ["frames", "psnr", "ssim", "frame_psnr", "frame_ssim", "seconds"]


def oracle_scores(
    pairs: list[tuple[Path, np.ndarray]], y_channel: bool
) -> tuple[list[float], list[float]]:
    """PSNR and SSIM of nearest-upsampled low-res frames against GT files, per frame."""
    psnr, ssim = [], []
    for gt_path, lr in pairs:
        gt, up = benchdata.read_png(gt_path), benchdata.nearest_up(lr)
        psnr.append(calculate_psnr(up, gt, y_channel=y_channel))
        ssim.append(calculate_ssim(up, gt, y_channel=y_channel))
    return psnr, ssim


def folder_pairs(gt_dir: Path, lr_dir: Path) -> list[tuple[Path, np.ndarray]]:
    names = sorted(p.name for p in gt_dir.iterdir())
    return [(gt_dir / n, benchdata.read_png(lr_dir / n)) for n in names]


def check_scores(
    result: BenchmarkResult, expected: dict[str, list[tuple[Path, np.ndarray]]], y: bool
):
    """Per-frame, per-clip and mean scores of `result` equal the recomputed ones."""
    assert list(result.clips) == list(expected)
    clip_psnr, clip_ssim = [], []
    for clip, pairs in expected.items():
        psnr, ssim = oracle_scores(pairs, y)
        score = result.clips[clip]
        assert score.frame_psnr == pytest.approx(psnr, abs=1e-9)
        assert score.frame_ssim == pytest.approx(ssim, abs=1e-9)
        assert score.psnr == pytest.approx(np.mean(psnr), abs=1e-9)
        assert score.ssim == pytest.approx(np.mean(ssim), abs=1e-9)
        clip_psnr.append(np.mean(psnr))
        clip_ssim.append(np.mean(ssim))
    # Per frame -> per clip -> mean over clips (not a mean over all frames).
    assert result.psnr == pytest.approx(np.mean(clip_psnr), abs=1e-9)
    assert result.ssim == pytest.approx(np.mean(clip_ssim), abs=1e-9)
    assert result.num_clips == len(expected)


def test_reds4_rgb_whole_clips(bench_roots) -> None:
    root = bench_roots["reds"]
    result = evaluate(benchdata.NearestUpsampler(), parse_bench(f"reds4={root}"))
    expected = {
        c: folder_pairs(root / "train_sharp" / c, root / "train_sharp_bicubic" / "X4" / c)
        for c in benchdata.REDS4
    }
    check_scores(result, expected, y=False)
    assert all(r.frames == [0, 1, 2] for r in result.clips.values())
    assert result.protocol["channel"] == "RGB" and result.low_res == "stored"
    assert result.protocol["lr_dir"] == "train_sharp_bicubic/X4"
    # BasicSR's REDS4 folder holds the same frames: the same scores.
    again = evaluate(
        benchdata.NearestUpsampler(), parse_bench(f"reds4={bench_roots['reds4_basicsr']}")
    )
    assert again.psnr == result.psnr and again.ssim == result.ssim
    assert again.protocol["lr_dir"] == "sharp_bicubic"


@pytest.mark.parametrize(("name", "lr"), [("vid4-bi", "BIx4"), ("vid4-bd", "BDx4")])
def test_vid4_y_whole_clips(bench_roots, name: str, lr: str) -> None:
    root = bench_roots["vid4"]
    result = evaluate(benchdata.NearestUpsampler(), parse_bench(f"{name}={root}"))
    expected = {c: folder_pairs(root / "GT" / c, root / lr / c) for c in benchdata.VID4}
    check_scores(result, expected, y=True)
    assert result.protocol["lr_dir"] == lr and result.protocol["channel"] == "Y"


def test_y_and_rgb_differ_and_both_match(bench_roots) -> None:
    root = bench_roots["vid4"]
    expected = {c: folder_pairs(root / "GT" / c, root / "BIx4" / c) for c in benchdata.VID4}
    rgb_bench = BENCHMARKS["folder"].with_root(root)
    y_bench = rgb_bench.replace(y_channel=True)
    rgb = evaluate(benchdata.NearestUpsampler(), rgb_bench)
    y = evaluate(benchdata.NearestUpsampler(), y_bench)
    check_scores(rgb, expected, y=False)
    check_scores(y, expected, y=True)
    assert abs(rgb.psnr - y.psnr) > 0.1
    assert y.psnr == pytest.approx(
        evaluate(benchdata.NearestUpsampler(), parse_bench(f"vid4-bi={root}")).psnr, abs=0
    )


def test_udm10_bd_y(bench_roots) -> None:
    root = bench_roots["udm10"]
    result = evaluate(benchdata.NearestUpsampler(), parse_bench(f"udm10={root}"))
    expected = {c: folder_pairs(root / "GT" / c, root / "BDx4" / c) for c in benchdata.UDM10}
    check_scores(result, expected, y=True)


def test_missing_low_res_is_made_with_the_benchmark_degradation(bench_roots) -> None:
    root = bench_roots["udm10_gt_only"]
    result = evaluate(benchdata.NearestUpsampler(), parse_bench(f"udm10={root}"))
    assert result.low_res == "generated (bd)"
    expected = {}
    for clip in benchdata.UDM10:
        gt_dir = root / "GT" / clip
        paths = sorted(gt_dir.iterdir())
        expected[clip] = [(p, degrade(benchdata.read_png(p), "bd")) for p in paths]
    check_scores(result, expected, y=True)


@pytest.mark.parametrize(("name", "lr"), [("vimeo90k-t-bi", "BIx4"), ("vimeo90k-t-bd", "BDx4")])
def test_vimeo_t_mirrors_and_scores_frame_4_with_mean_of_two_outputs(
    bench_roots, name: str, lr: str
) -> None:
    root = bench_roots["vimeo"]
    model = benchdata.PositionOffset()
    result = evaluate(model, parse_bench(f"{name}={root}"))

    expected = {}
    for clip, seen in zip(benchdata.VIMEO_TEST, model.inputs, strict=True):
        lrs = [benchdata.read_png(root / lr / clip / f"im{i}.png") for i in range(1, 8)]
        # The input was the 7 low-res frames followed by themselves reversed.
        mirrored = np.stack(lrs + lrs[::-1]).astype(np.float32) / 255
        assert seen.shape == (1, 14, 3, 8, 12)
        np.testing.assert_array_equal(seen[0].permute(0, 2, 3, 1).numpy(), mirrored)
        expected[clip] = [(root / "sequences" / clip / "im4.png", lrs[3])]
        assert result.clips[clip].frames == [3]
    check_scores(result, expected, y=True)

    # Outputs 3 and 10 differ, and either alone scores far from their mean.
    offsets = benchdata.PositionOffset.offsets(14)
    assert offsets[3] == -offsets[10] != 0
    clip = benchdata.VIMEO_TEST[0]
    gt = benchdata.read_png(root / "sequences" / clip / "im4.png")
    up = benchdata.nearest_up(benchdata.read_png(root / lr / clip / "im4.png"))
    for position in (3, 10):
        alone = np.clip(np.round(up + 255 * float(offsets[position])), 0, 255).astype(np.uint8)
        assert abs(calculate_psnr(alone, gt, y_channel=True) - result.clips[clip].psnr) > 0.1


def test_max_frames_and_clips_are_flagged_partial(bench_roots) -> None:
    bench = parse_bench(f"vid4-bi={bench_roots['vid4']}")
    result = evaluate(benchdata.NearestUpsampler(), bench, max_frames=2, max_clips=1)
    assert list(result.clips) == ["calendar"]
    assert result.clips["calendar"].frames == [0, 1]
    assert result.partial is True
    assert evaluate(benchdata.NearestUpsampler(), bench).partial is False


# ------------------------------------------------------------------ self-ensemble


def dihedral(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    """Rotation by k quarter turns after an optional horizontal flip (the 8 symmetries)."""
    return torch.rot90(x.flip(-1) if flip else x, k, dims=(-2, -1))


def undo_dihedral(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    x = torch.rot90(x, -k, dims=(-2, -1))
    return x.flip(-1) if flip else x


def test_ensemble_is_the_mean_of_the_8_transformed_runs() -> None:
    model = benchdata.tiny_generator()
    torch.manual_seed(1)
    lqs = torch.rand(1, 3, 3, 8, 12)
    with torch.no_grad():
        runs = [
            undo_dihedral(model(dihedral(lqs, k, flip)), k, flip)
            for k in range(4)
            for flip in (False, True)
        ]
    expected = torch.stack(runs).mean(dim=0)
    ensembled = run_clip(model, lqs, ensemble=True)
    torch.testing.assert_close(ensembled, expected, atol=1e-5, rtol=1e-5)
    # The network is not equivariant, so the ensemble changes its output.
    assert not torch.allclose(ensembled, run_clip(model, lqs), atol=1e-4)


def test_ensemble_of_an_equivariant_model_is_the_plain_run(bench_roots) -> None:
    model = benchdata.PerPixel().eval()
    lqs = torch.rand(1, 2, 3, 8, 12)
    torch.testing.assert_close(
        run_clip(model, lqs, ensemble=True), run_clip(model, lqs), atol=1e-6, rtol=0
    )
    bench = parse_bench(f"vid4-bi={bench_roots['vid4']}")
    plain = evaluate(model, bench)
    ensembled = evaluate(model, bench, ensemble=True)
    assert ensembled.ensemble is True
    assert ensembled.psnr == pytest.approx(plain.psnr, abs=1e-3)
    assert ensembled.ssim == pytest.approx(plain.ssim, abs=1e-5)


# ------------------------------------------------------------------ saved frames and files


def test_saved_frames_score_like_the_results(tmp_path: Path, bench_roots) -> None:
    root = bench_roots["vid4"]
    result = evaluate(
        benchdata.tiny_generator(), parse_bench(f"vid4-bd={root}"), frames_dir=tmp_path
    )
    for clip, record in result.clips.items():
        saved = sorted((tmp_path / clip).iterdir())
        assert [p.name for p in saved] == [f"{f:08d}.png" for f in record.frames]
        for path, psnr, ssim in zip(saved, record.frame_psnr, record.frame_ssim, strict=True):
            out, gt = benchdata.read_png(path), benchdata.read_png(root / "GT" / clip / path.name)
            assert out.shape == gt.shape
            assert calculate_psnr(out, gt, y_channel=True) == pytest.approx(psnr, abs=1e-9)
            assert calculate_ssim(out, gt, y_channel=True) == pytest.approx(ssim, abs=1e-9)


def test_evaluate_checkpoint_writes_json_and_csv(tmp_path: Path, bench_roots) -> None:
    model = benchdata.tiny_generator()
    # mmagic layout: generator keys behind `generator.` in `state_dict`.
    checkpoint = tmp_path / "tiny_mmagic.pth"
    sd = {f"generator.{k}": v for k, v in model.state_dict().items()}
    torch.save({"meta": {}, "state_dict": sd}, checkpoint)
    benches = [
        parse_bench(f"udm10={bench_roots['udm10']}"),
        parse_bench(f"vimeo90k-t-bd={bench_roots['vimeo']}"),
    ]
    started = []
    results = evaluate_checkpoint(
        checkpoint,
        benches,
        device="cpu",
        on_start=lambda b, clips: started.append((b.name, len(clips))),
    )
    assert started == [("udm10", 2), ("vimeo90k-t-bd", 2)]
    arch = results.architecture
    assert (arch["mid_channels"], arch["num_blocks"], arch["scale"]) == (8, 1, 4)
    assert arch["parameters"] == sum(p.numel() for p in model.parameters())
    assert results.checkpoint == str(checkpoint.resolve())
    assert results.device.startswith("cpu")
    # The loaded network scores like the network that was saved.
    direct = evaluate(model, benches[0])
    assert results.benchmarks["udm10"].psnr == pytest.approx(direct.psnr, abs=1e-9)

    json_path, csv_path = write_results(results, tmp_path / "out")
    written = json.loads(json_path.read_text())
    assert list(written) == RESULTS_KEYS  # no `command`: only vsr-test sets one
    assert written["architecture"] == {**arch, "cpu_cache_length": 100}
    assert list(written["architecture"]) == ARCHITECTURE_KEYS
    assert written["checkpoint"] == str(checkpoint.resolve())
    assert (written["torch"], written["vsr"]) == (torch.__version__, vsr.__version__)
    assert written["ema"] is True and written["ensemble"] is False
    assert list(written["benchmarks"]) == ["udm10", "vimeo90k-t-bd"]
    for name, bench in written["benchmarks"].items():
        assert list(bench) == BENCHMARK_KEYS
        assert list(bench["protocol"]) == PROTOCOL_KEYS
        assert (bench["name"], bench["low_res"], bench["partial"]) == (name, "stored", False)
        assert bench["max_frames"] is None and bench["max_clips"] is None
        assert bench["num_clips"] == len(bench["clips"]) == 2
        for clip in bench["clips"].values():
            assert list(clip) == CLIP_KEYS
            assert len(clip["frames"]) == len(clip["frame_psnr"]) == len(clip["frame_ssim"])
            assert clip["psnr"] == pytest.approx(np.mean(clip["frame_psnr"]), abs=1e-12)
            assert clip["ssim"] == pytest.approx(np.mean(clip["frame_ssim"]), abs=1e-12)
        clip_means = [c["psnr"] for c in bench["clips"].values()]
        assert bench["psnr"] == pytest.approx(np.mean(clip_means), abs=1e-12)
    assert written["benchmarks"]["udm10"]["psnr"] == results.benchmarks["udm10"].psnr
    vimeo = written["benchmarks"]["vimeo90k-t-bd"]
    assert [c["frames"] for c in vimeo["clips"].values()] == [[3], [3]]
    assert vimeo["protocol"]["mirror"] is True and vimeo["protocol"]["channel"] == "Y"
    with csv_path.open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["benchmark"], r["clip"]) for r in rows] == [
        *(("udm10", c) for c in benchdata.UDM10),
        *(("vimeo90k-t-bd", c) for c in benchdata.VIMEO_TEST),
    ]
    for row in rows:
        record = results.benchmarks[row["benchmark"]].clips[row["clip"]]
        assert float(row["psnr"]) == record.psnr and float(row["ssim"]) == record.ssim
        assert row["channel"] == "Y"
