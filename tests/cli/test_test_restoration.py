"""`vsr-test` on the same-size presets, through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import restoration_data as rd
from vsr.nn import BasicVSRPlusPlus


def vsr_test(*args: str | Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "vsr.cli.test", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
    )


@pytest.fixture(scope="module")
def same_size(tmp_path_factory) -> Path:
    """A same-size c8n1 network (the denoising / deblurring variant), random weights."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "restore_c8n1.pth"
    torch.save(BasicVSRPlusPlus(8, 1, is_low_res_input=False).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def set8(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("set8") / "Set8"
    for i in range(3):
        rd.write(root / "tractor" / f"{i:05d}.png", rd.gt_frame("tractor", i, 64, 64))
    return root


def test_denoising_preset_prints_the_noisy_input_score(same_size, set8, tmp_path) -> None:
    out = tmp_path / "out"
    result = vsr_test(
        "--checkpoint", same_size, "--bench", f"set8={set8}", "--sigma", "25",
        "--device", "cpu", "--no-progress", "--output-dir", out,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "input made on the fly (noise sigma 25)" in result.stdout
    assert "input PSNR" in result.stdout
    bench = json.loads((out / "results.json").read_text())["benchmarks"]["set8"]
    assert bench["protocol"]["degradation"] == "noise sigma 25"
    assert 19 < bench["input_psnr"] < 22  # sigma 25: 20 log10(255 / 25) = 20.2 dB
    assert bench["clips"]["tractor"]["input_psnr"] == bench["input_psnr"]


def test_sigma_outside_0_255_and_without_a_denoising_preset(same_size, set8) -> None:
    bad = vsr_test("--checkpoint", same_size, "--bench", f"set8={set8}", "--sigma", "300")
    assert bad.returncode == 2 and "expected a noise sigma in [0, 255], got '300'" in bad.stderr
    alone = vsr_test("--checkpoint", same_size, "--bench", f"gopro={set8}", "--sigma", "10")
    assert (
        alone.returncode == 2 and "--sigma sets the noise of the denoising presets" in alone.stderr
    )


def test_a_x4_checkpoint_on_a_same_size_preset_is_refused(set8, tmp_path) -> None:
    x4 = tmp_path / "x4.pth"
    torch.save(BasicVSRPlusPlus(8, 1).state_dict(), x4)
    result = vsr_test("--checkpoint", x4, "--bench", f"set8={set8}", "--device", "cpu")
    assert result.returncode != 0
    assert (
        f"set8 is a same-size restoration benchmark, but the checkpoint {x4} holds a x4"
        in result.stderr
    )
