"""The two formulations of the modulated deformable conv agree, values and gradients."""

from __future__ import annotations

import pytest
import torch

from vsr.nn.alignment import FlowGuidedDeformableAlignment
from vsr.nn.deform import IMPLS, modulated_deform_conv2d


def _inputs(n, c_in, c_out, groups, h, w, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c_in, h, w, generator=g, dtype=dtype)
    # Offsets up to ~1.5 frames: many taps land across a border or entirely outside.
    offset = 1.5 * max(h, w) * torch.randn(n, 2 * groups * 9, h, w, generator=g, dtype=dtype)
    mask = torch.rand(n, groups * 9, h, w, generator=g, dtype=dtype)
    weight = torch.randn(c_out, c_in, 3, 3, generator=g, dtype=dtype)
    bias = torch.randn(c_out, generator=g, dtype=dtype)
    return [t.requires_grad_() for t in (x, offset, mask, weight, bias)]


def _output_and_grads(impl, tensors):
    out = modulated_deform_conv2d(*tensors[:4], tensors[4], padding=1, impl=impl)
    # A non-uniform upstream gradient, so every gradient path is exercised.
    grads = torch.autograd.grad((out * torch.cos(out)).sum(), tensors)
    return out, grads


@pytest.mark.parametrize("impl", ["sample", "sample_checkpoint"])
@pytest.mark.parametrize(
    ("n", "c_in", "c_out", "groups", "h", "w"),
    [
        (2, 8, 5, 2, 7, 5),  # odd sizes, several groups, batch
        (1, 16, 8, 16, 8, 8),  # one channel per group, as many groups as BasicVSR++ uses
        (1, 6, 4, 3, 2, 3),  # tiny
        (1, 4, 3, 1, 1, 1),  # a single pixel (size-1 axes)
        (1, 4, 3, 2, 1, 6),  # a single row
    ],
)
def test_sample_matches_torchvision(impl, n, c_in, c_out, groups, h, w):
    tensors = _inputs(n, c_in, c_out, groups, h, w)
    ref_out, ref_grads = _output_and_grads("torchvision", tensors)
    out, grads = _output_and_grads(impl, tensors)
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-5)
    for name, got, want in zip(
        ("x", "offset", "mask", "weight", "bias"), grads, ref_grads, strict=True
    ):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5, msg=f"grad {name}")


@pytest.mark.parametrize("impl", ["sample", "sample_checkpoint"])
def test_a_channels_last_input_gives_the_same_values_channels_last(impl):
    """A channels-last network (the bf16 CPU layout) gets its next layer's layout back."""
    tensors = _inputs(2, 8, 5, 2, 7, 5)
    ref_out, ref_grads = _output_and_grads("torchvision", tensors)
    x = tensors[0].detach().to(memory_format=torch.channels_last).requires_grad_()
    out, grads = _output_and_grads(impl, [x, *tensors[1:]])
    assert out.is_contiguous(memory_format=torch.channels_last) and not out.is_contiguous()
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-5)
    for got, want in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_float32_at_network_shape():
    """float32 at the network's shapes: 2C = 32 input channels, 16 groups, 16x16."""
    tensors = [t.detach().float().requires_grad_() for t in _inputs(1, 32, 16, 16, 16, 16)]
    ref_out, ref_grads = _output_and_grads("torchvision", tensors)
    out, grads = _output_and_grads("sample", tensors)
    # Summation order differs: float32 rounding relative to each tensor's scale.
    for got, want in zip((out, *grads), (ref_out, *ref_grads), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-5 * want.abs().max().item())


def test_without_mask_and_bias():
    x, offset, _, weight, _ = _inputs(1, 4, 2, 2, 5, 6)
    ref = modulated_deform_conv2d(x, offset, None, weight, None, impl="torchvision")
    out = modulated_deform_conv2d(x, offset, None, weight, None, impl="sample")
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_unknown_impl_and_weight_groups_are_rejected():
    x, offset, mask, weight, bias = _inputs(1, 4, 2, 2, 5, 5)
    with pytest.raises(ValueError, match="impl must be one of"):
        modulated_deform_conv2d(x, offset, mask, weight, bias, impl="cuda")
    with pytest.raises(ValueError, match="one weight group"):
        modulated_deform_conv2d(x, offset, mask, weight[:, :2], bias, impl="sample")


@pytest.mark.parametrize("impl", IMPLS)
def test_alignment_module_selects_impl(impl):
    """The alignment block gives the same output whichever formulation it is set to."""
    torch.manual_seed(0)
    align = FlowGuidedDeformableAlignment(mid_channels=8, order=2, deform_groups=4)
    # Non-zero offset head, so offsets are more than the flows.
    torch.nn.init.normal_(align.conv_offset[-1].weight, std=0.1)
    n, c, h, w = 1, 8, 9, 7
    neighbours = [torch.randn(n, c, h, w) for _ in range(2)]
    warped = [torch.randn(n, c, h, w) for _ in range(2)]
    flows = [3 * torch.randn(n, 2, h, w) for _ in range(2)]
    current = torch.randn(n, c, h, w)
    align.deform_impl = "torchvision"  # the reference formulation
    ref = align(neighbours, warped, current, flows)
    align.deform_impl = impl
    out = align(neighbours, warped, current, flows)
    out.mean().backward()
    assert FlowGuidedDeformableAlignment(c).deform_impl == "auto"  # the default stays
    assert all(p.grad is not None for p in align.parameters())
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_auto_picks_the_fastest_measured_formulation_per_device():
    from vsr.nn.deform import auto_impl, resolve_impl

    x = torch.rand(1, 4, 5, 5)
    weight = torch.rand(2, 4, 3, 3, requires_grad=True)
    assert resolve_impl("auto", x, weight) == "sample_checkpoint"  # CPU training
    with torch.no_grad():
        assert resolve_impl("auto", x, weight) == "sample"  # CPU inference
    assert resolve_impl("auto", x, weight.detach()) == "sample"
    assert resolve_impl("torchvision", x, weight) == "torchvision"
    assert auto_impl(torch.device("cuda"), True) == "torchvision"  # not measured faster there


@pytest.mark.parametrize("impl", ["sample", "sample_checkpoint"])
def test_bf16_samples_where_the_offsets_say_far_from_the_origin(impl):
    """Under bf16 autocast the sampling positions stay exact: bf16 holds 8 significant bits,
    so a position like 300.5 computed in bf16 would round to a whole (even) pixel."""
    width, groups = 320, 2
    # Columns alternate 0, 1, 0, 1, ...: half a pixel to the right is 0.5 everywhere.
    x = (torch.arange(width) % 2).float().expand(1, 4, 3, width).contiguous()
    offset = torch.zeros(1, 2 * groups * 9, 3, width)
    offset[:, 1::2] = 0.5  # dx of every tap of every group
    weight = torch.zeros(1, 4, 3, 3)
    weight[0, 0, 1, 1] = 1  # the centre tap of channel 0
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = modulated_deform_conv2d(
            x.bfloat16(), offset.bfloat16(), None, weight, None, padding=1, impl=impl
        )
    assert out.dtype == torch.bfloat16  # what autocast gives the next layer
    # The last column's right neighbour is outside (zero): 0.5 * its value.
    expected = torch.full((width,), 0.5)
    expected[-1] = 0.5 * float((width - 1) % 2)
    torch.testing.assert_close(out[0, 0, 1].float(), expected, atol=0, rtol=0)
