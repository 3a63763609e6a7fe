"""`vsr-test` through the real command line (`python -m vsr.cli.test`, as a subprocess)."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import benchdata
from vsr.metrics import calculate_psnr, calculate_ssim


def vsr_test(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "vsr.cli.test", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A c8n1 BasicVSR++ saved as a bare state dict (a valid checkpoint)."""
    path = tmp_path_factory.mktemp("ckpt") / "tiny_c8n1.pth"
    torch.save(benchdata.tiny_generator().state_dict(), path)
    return path


def test_help_lists_presets_and_options() -> None:
    result = vsr_test("--help")
    assert result.returncode == 0
    for text in ("--bench NAME=PATH", "--ensemble", "--save-frames", "--max-frames", "--device"):
        assert text in result.stdout
    for name in ("reds4", "vid4-bi", "vid4-bd", "udm10", "vimeo90k-t-bi", "vimeo90k-t-bd"):
        assert re.search(rf"^\s+{name}\s", result.stdout, re.M), name
    listed = vsr_test("--list-benchmarks")
    assert listed.returncode == 0
    assert "root/train_sharp_bicubic/X4/" in listed.stdout
    assert "sep_testlist.txt" in listed.stdout


def _summary_means(stdout: str) -> dict[str, tuple[float, float]]:
    """{benchmark: (PSNR, SSIM)} from the printed summary table."""
    summary = stdout.split("mean over clips", 1)[1]
    rows = re.findall(r"^\W*([\w.-]+)\W+(\d+)\W+(RGB|Y)\W+([\d.]+)\W+([\d.]+)\W*$", summary, re.M)
    return {name: (float(psnr), float(ssim)) for name, _, _, psnr, ssim in rows}


def test_several_benchmarks_in_one_run(tmp_path: Path, bench_roots, checkpoint: Path) -> None:
    out = tmp_path / "out"
    result = vsr_test(
        "--checkpoint", checkpoint,
        "--bench", f"reds4={bench_roots['reds']}",
        "--bench", f"vid4-bd={bench_roots['vid4']}",
        "--bench", f"vimeo90k-t-bi={bench_roots['vimeo']}",
        "--bench", f"udm10={bench_roots['udm10']}",
        # The same UDM10 files as a custom set with the same protocol: the same scores.
        "--bench", f"folder={bench_roots['udm10']}", "--y-channel", "--degradation", "bd",
        "--device", "cpu", "--save-frames", "--no-progress", "--output-dir", out,
        "--workers", "1",  # the next clip is read in another process
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    results = json.loads((out / "results.json").read_text())
    # The keys of results.json and their order (as before the results were dataclasses); the
    # command line comes last.
    assert list(results) == [
        "checkpoint", "architecture", "ema", "device", "ensemble", "metrics", "started",
        "torch", "vsr", "benchmarks", "seconds", "command",
    ]  # fmt: skip
    assert results["command"].startswith("vsr-test --checkpoint ")
    benches = results["benchmarks"]
    assert list(benches) == ["reds4", "vid4-bd", "vimeo90k-t-bi", "udm10", "UDM10"]
    assert results["checkpoint"] == str(checkpoint.resolve())
    assert results["architecture"]["mid_channels"] == 8
    assert results["architecture"]["num_blocks"] == 1
    assert results["device"].startswith("cpu") and results["ensemble"] is False

    # The protocol of each benchmark, as recorded.
    assert benches["reds4"]["protocol"]["channel"] == "RGB"
    assert list(benches["reds4"]["clips"]) == list(benchdata.REDS4)
    assert benches["vimeo90k-t-bi"]["protocol"]["mirror"] is True
    assert all(c["frames"] == [3] for c in benches["vimeo90k-t-bi"]["clips"].values())
    assert benches["vid4-bd"]["protocol"]["channel"] == "Y"
    assert benches["UDM10"]["protocol"]["channel"] == "Y"
    assert benches["UDM10"]["psnr"] == benches["udm10"]["psnr"]
    assert benches["UDM10"]["ssim"] == benches["udm10"]["ssim"]

    # Printed means = JSON means; CSV rows = JSON clips.
    printed = _summary_means(result.stdout)
    assert set(printed) == set(benches)
    for name, bench in benches.items():
        assert printed[name] == (round(bench["psnr"], 4), round(bench["ssim"], 4))
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == sum(b["num_clips"] for b in benches.values())
    for row in rows:
        record = benches[row["benchmark"]]["clips"][row["clip"]]
        assert float(row["psnr"]) == record["psnr"]
        assert float(row["ssim"]) == record["ssim"]
        assert int(row["frames"]) == len(record["frames"])

    # Saved frames re-scored with the numpy protocol functions give the reported scores.
    saved = out / "vid4-bd" / "city" / "00000003.png"
    frame = benchdata.read_png(saved)
    gt = benchdata.read_png(bench_roots["vid4"] / "GT" / "city" / "00000003.png")
    record = benches["vid4-bd"]["clips"]["city"]
    assert calculate_psnr(frame, gt, y_channel=True) == pytest.approx(record["frame_psnr"][3])
    assert calculate_ssim(frame, gt, y_channel=True) == pytest.approx(record["frame_ssim"][3])
    saved = out / "vimeo90k-t-bi" / "00002" / "0003" / "00000003.png"
    frame = benchdata.read_png(saved)
    gt = benchdata.read_png(bench_roots["vimeo"] / "sequences" / "00002" / "0003" / "im4.png")
    record = benches["vimeo90k-t-bi"]["clips"]["00002/0003"]
    assert calculate_psnr(frame, gt, y_channel=True) == pytest.approx(record["psnr"])
    # The protocol and the per-clip table of each benchmark.
    assert "RGB, all frames" in result.stdout
    assert "Y, mirrored input, GT frame 4 (mean of its 2 outputs)" in result.stdout
    assert re.search(r"^\W*020\W+3\W+[\d.]+\W+[\d.]+", result.stdout, re.M)


def test_default_output_dir_and_ensemble(tmp_path: Path, bench_roots, checkpoint: Path) -> None:
    result = vsr_test(
        "-c", checkpoint, "-b", f"vid4-bi={bench_roots['vid4']}", "--ensemble",
        "--max-frames", "2", "--max-clips", "1", "--device", "cpu",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "results" / checkpoint.stem / "results.json").read_text())
    bench = results["benchmarks"]["vid4-bi"]
    assert results["ensemble"] is True and bench["partial"] is True
    assert list(bench["clips"]) == ["calendar"] and bench["clips"]["calendar"]["frames"] == [0, 1]
    assert "not comparable to published numbers" in result.stdout


def _fails(result: subprocess.CompletedProcess, code: int, *needles: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)


def test_errors_are_one_clear_message(tmp_path: Path, bench_roots, checkpoint: Path) -> None:
    missing = tmp_path / "no_such_dir"
    _fails(
        vsr_test("-c", checkpoint, "-b", f"vid4-bi={missing}"),
        1,
        f"vsr-test: error: Vid4 (BI) (vid4-bi) at {missing}",
        "does not exist",
        "Expected layout for vid4-bi",
    )
    _fails(
        vsr_test("-c", checkpoint, "-b", f"reds4={bench_roots['vid4']}"),
        1,
        f"at {bench_roots['vid4']}",
        "not a REDS root",
        "root/train_sharp/{000,011,015,020}",
    )
    not_a_model = tmp_path / "not_a_model.pth"
    torch.save({"optimizer": torch.zeros(3)}, not_a_model)
    _fails(
        vsr_test("-c", not_a_model, "-b", f"vid4-bi={bench_roots['vid4']}", "--device", "cpu"),
        1,
        "no BasicVSR++ generator weights found",
    )
    _fails(
        vsr_test("-c", tmp_path / "nope.pth", "-b", f"vid4-bi={bench_roots['vid4']}"),
        1,
        "checkpoint not found",
    )
    _fails(
        vsr_test("-c", checkpoint, "-b", f"vid5={bench_roots['vid4']}"),
        2,
        "unknown benchmark 'vid5'",
    )
    _fails(
        vsr_test("-c", checkpoint, "-b", f"vid4-bi={bench_roots['vid4']}", "--y-channel"),
        2,
        "presets carry their own protocol",
    )
    debug = vsr_test("-c", checkpoint, "-b", f"vid4-bi={missing}", "--debug")
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "DataError" in debug.stderr
