"""vsr-report's cost of a network: parameters and GFLOPs per frame against a hand count, and
the same FLOPs as `vsr-bench model` for the same network and input."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vsr.bench.model import CaseSpec, ModelConfig, run_case
from vsr.nn import BasicVSRPlusPlus
from vsr.report.cost import Bench, measure


class ConvUp(nn.Module):
    """Per frame: a 3x3 convolution 3 -> 4 channels, then a x2 bilinear upsample."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, lqs: torch.Tensor) -> torch.Tensor:  # (1, t, 3, h, w)
        x = self.conv(lqs.flatten(0, 1))
        return F.interpolate(x, scale_factor=2, mode="bilinear")


def test_measure_counts_per_frame_by_hand():
    bench = Bench(16, 20, frames=3, repeats=1)
    cost = measure(ConvUp(), bench, timing=False)
    assert cost.params == 4 * 3 * 9 + 4  # weight + bias
    # per frame: 4 x 16 x 20 outputs of 3 x 9 multiply-adds, then 4 x 32 x 40 bilinear
    # values of 7 FLOPs each (4 taps: 4 multiplies, 3 additions)
    per_frame = 2 * 4 * 3 * 9 * 16 * 20 + 7 * 4 * 32 * 40
    assert round(cost.gflops_per_frame * 1e9) == per_frame
    assert cost.ms_per_frame is None
    timed = measure(ConvUp(), bench)
    assert timed.ms_per_frame is not None and timed.ms_per_frame > 0
    assert timed.gflops_per_frame == cost.gflops_per_frame


def test_vsr_report_and_vsr_bench_model_count_the_same_flops():
    frames, size = 2, 64
    threads = torch.get_num_threads()  # run_case sets it; keep this process's setting
    config = ModelConfig(
        mid_channels=8, num_blocks=1, frames=frames, height=size, width=size, repeats=1,
        matmul_size=64,
    )  # fmt: skip
    torch.manual_seed(0)
    cost = measure(BasicVSRPlusPlus(8, 1), Bench(size, size, frames=frames), timing=False)
    report_gflop = round(cost.gflops_per_frame * frames, 3)
    for impl in ("auto", "torchvision"):  # "auto" is the "sample" formulation on the CPU
        case = run_case(CaseSpec(config, impl, threads, "forward"))
        assert case.gflop == report_gflop, impl
        assert case.gflop > 1
