"""The FLOP counter against hand counts: every expected value is written out from the shapes
and the rules (2 per multiply-add; 2·taps − 1 per interpolated value; backward once per
gradient), not taken from the code under test."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode
from torchvision.ops import deform_conv2d

from vsr.bench.flops import count_flops, flop_counter
from vsr.nn.deform import modulated_deform_conv2d
from vsr.nn.warp import flow_warp


def count_training(fn, *inputs) -> int:
    """FLOPs of fn(*inputs) and of the backward pass of its sum."""
    with flop_counter() as counter:
        fn(*inputs).sum().backward()
    return counter.get_total_flops()


def test_a_3x3_convolution_is_two_flops_per_multiply_add():
    conv = torch.nn.Conv2d(4, 8, 3, padding=1)
    x = torch.rand(1, 4, 5, 6)
    # 8 outputs at 5x6 positions, each 4 inputs x 9 taps multiply-adds; the bias is not counted
    assert count_flops(conv, x) == 2 * 8 * 4 * 9 * 5 * 6
    grouped = torch.nn.Conv2d(4, 8, 3, padding=1, groups=2)
    assert count_flops(grouped, x) == 2 * 8 * 2 * 9 * 5 * 6
    # backward: the input's gradient and the weight's, each as much as the forward
    assert count_training(conv, x.requires_grad_()) == 3 * 2 * 8 * 4 * 9 * 5 * 6


def test_a_bilinear_upsample_is_seven_flops_per_output_value():
    x = torch.rand(1, 4, 5, 6)
    # every one of the 4 x 10 x 12 outputs: 4 taps, 4 multiplies and 3 additions
    up = count_flops(lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"), x)
    assert up == 7 * 4 * 10 * 12
    aligned = torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
    assert count_flops(aligned, x) == 7 * 4 * 10 * 12
    bicubic = count_flops(lambda x: F.interpolate(x, size=(7, 9), mode="bicubic"), x)
    assert bicubic == (16 + 15) * 4 * 7 * 9  # 16 taps
    nearest = count_flops(lambda x: F.interpolate(x, scale_factor=2, mode="nearest"), x)
    assert nearest == 0
    # backward: the input's gradient
    upsample = lambda x: F.interpolate(x, scale_factor=2, mode="bilinear")  # noqa: E731
    train = count_training(upsample, x.requires_grad_())
    assert train == 2 * 7 * 4 * 10 * 12


def test_grid_sample_counts_its_output_values():
    x = torch.rand(2, 3, 5, 6)
    grid = torch.rand(2, 7, 8, 2) * 2 - 1
    assert count_flops(lambda x: F.grid_sample(x, grid, align_corners=True), x) == 7 * 2 * 3 * 56
    nearest = count_flops(lambda x: F.grid_sample(x, grid, mode="nearest", align_corners=True), x)
    assert nearest == 0
    # backward: once per gradient asked for (input, grid)
    grid.requires_grad_()
    both = count_training(lambda x: F.grid_sample(x, grid, align_corners=True), x.requires_grad_())
    assert both == 3 * 7 * 2 * 3 * 56
    only_grid = count_training(lambda x: F.grid_sample(x, grid, align_corners=True), x.detach())
    assert only_grid == 2 * 7 * 2 * 3 * 56


def test_the_networks_flow_warp_is_bilinear_sampling():
    x = torch.rand(1, 8, 6, 7)
    flow = torch.randn(1, 2, 6, 7)
    assert count_flops(lambda x: flow_warp(x, flow), x) == 7 * 8 * 6 * 7


def test_torchvisions_deformable_conv_with_groups():
    # 6 input channels in 2 weight groups (3 each), 3 offset groups, 4 outputs, 3x3, 2 images
    x = torch.rand(2, 6, 5, 7)
    weight = torch.rand(4, 3, 3, 3)
    offset = torch.randn(2, 2 * 3 * 9, 5, 7)
    mask = torch.rand(2, 3 * 9, 5, 7)

    def conv(x):
        return deform_conv2d(x, offset, weight, padding=1, mask=mask)

    with FlopCounterMode(display=False) as plain:
        conv(x)
    assert plain.get_total_flops() == 0  # FlopCounterMode alone does not see it
    positions = 2 * 5 * 7  # output positions of both images
    # every output value: its group's 3 channels x 9 taps multiply-adds; every input channel
    # sampled bilinearly (7) at each of the 9 taps of every position
    expected = 2 * 4 * 3 * 9 * positions + 7 * 6 * 9 * positions
    assert count_flops(conv, x) == expected
    # the mask modulates elementwise: not counted
    assert count_flops(lambda x: deform_conv2d(x, offset, weight, padding=1), x) == expected
    # backward: input and weight gradients of the convolution, input and offset gradients of
    # the sampling
    for t in (x, offset, weight, mask):
        t.requires_grad_()
    assert count_training(conv, x) == 3 * expected


@pytest.mark.parametrize("impl", ["torchvision", "sample"])
def test_both_formulations_count_the_same_hand_count(impl):
    # the network's shape of call: one weight group, several offset groups (4 here)
    x = torch.rand(1, 8, 5, 6)
    weight = torch.rand(3, 8, 3, 3)
    offset = torch.randn(1, 2 * 4 * 9, 5, 6)
    mask = torch.rand(1, 4 * 9, 5, 6)

    def conv(x):
        return modulated_deform_conv2d(x, offset, mask, weight, impl=impl)

    expected = 2 * 3 * 8 * 9 * 5 * 6 + 7 * 8 * 9 * 5 * 6
    assert count_flops(conv, x) == expected
    for t in (x, offset, weight, mask):
        t.requires_grad_()
    assert count_training(conv, x) == 3 * expected
