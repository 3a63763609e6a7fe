"""FLOP counting: what FlopCounterMode misses (deformable convolution, bilinear sampling) is
counted by hand, by the documented formulas."""

from __future__ import annotations

import torch
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode
from torchvision.ops import deform_conv2d

from vsr.nn import BasicVSRPlusPlus
from vsr.report.cost import BILINEAR_FLOPS, Bench, count_flops, measure


def test_deform_conv2d_is_counted_by_hand():
    x = torch.rand(2, 4, 5, 6)
    weight = torch.rand(3, 4, 3, 3)
    offset = torch.rand(2, 2 * 2 * 9, 5, 6)  # 2 offset groups
    mask = torch.rand(2, 2 * 9, 5, 6)

    def conv(x):
        return deform_conv2d(x, offset, weight, padding=1, mask=mask)

    with FlopCounterMode(display=False) as plain:
        conv(x)
    assert plain.get_total_flops() == 0  # why it needs a formula
    positions = 2 * 5 * 6 * 9
    expected = 2 * 3 * 4 * positions + (BILINEAR_FLOPS + 1) * 4 * positions
    assert count_flops(conv, x) == expected
    # without a mask: no modulation
    no_mask = count_flops(lambda x: deform_conv2d(x, offset, weight, padding=1), x)
    assert no_mask == expected - 4 * positions


def test_bilinear_sampling_is_counted():
    x = torch.rand(1, 4, 5, 6)
    grid = torch.rand(1, 7, 8, 2)
    assert count_flops(lambda x: F.grid_sample(x, grid, align_corners=True), x) == 7 * 4 * 56
    resize = count_flops(lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"), x)
    assert resize == 7 * 4 * 10 * 12
    nearest = count_flops(lambda x: F.grid_sample(x, grid, mode="nearest", align_corners=True), x)
    assert nearest == 0


def test_convolutions_follow_flop_counter_mode():
    conv = torch.nn.Conv2d(4, 8, 3, padding=1, bias=False)
    x = torch.rand(1, 4, 5, 6)
    assert count_flops(conv, x) == 2 * 8 * 4 * 9 * 30


def test_measure_counts_per_frame():
    net = BasicVSRPlusPlus(8, 1)
    bench = Bench(16, 16, frames=3, repeats=1)
    cost = measure(net, bench, timing=False)
    assert cost.params == sum(p.numel() for p in net.parameters())
    assert cost.gflops_per_frame == count_flops(net, bench.input()) / 3 / 1e9
    assert cost.ms_per_frame is None
    timed = measure(net, bench)
    assert timed.ms_per_frame > 0
    assert timed.gflops_per_frame == cost.gflops_per_frame
