"""FLOPs of a pass through a network: the one counter behind `vsr-bench model` (`gflop`) and
`vsr-report` (GFLOPs per frame), so the two agree by construction.

Convolutions and matrix products are counted by `torch.utils.flop_counter.FlopCounterMode`:
2 FLOPs per multiply-add, and a backward pass counts the forward's FLOPs once per gradient it
computes (input, weight). FlopCounterMode has no formula for resampling; this module adds
them, with the same conventions:

- **Interpolation** (`grid_sample`, bilinear and bicubic resizing): every output value is a
  weighted sum of its taps, 2·taps − 1 FLOPs: 7 for bilinear (4 taps: 4 multiplies,
  3 additions), 31 for bicubic (16 taps), 0 for nearest (a copy).
- **Deformable convolution** (torchvision's `deform_conv2d`): per image, the convolution of
  the sampled columns, 2·Cout·(Cin/groups)·k²·Ho·Wo (as for a plain convolution), plus one
  bilinear sample of every input channel at every tap and output position, 7·Cin·k²·Ho·Wo
  (the offset groups change where the samples are taken, not how many). The network's own
  formulation (`vsr.nn.deform`, "sample") is one `grid_sample` and one matrix product of
  exactly these sizes, so both formulations count the same without a special case.
- **Backward**: once per gradient computed: `grid_sample` for its input and its grid,
  the deformable convolution twice its forward (input and weight for the convolution, input
  and offsets for the sampling), resizing for its input.

Not counted: elementwise operations (activations, additions, the deformable convolution's
modulation by its mask, the sampling weights, which depend on the coordinates only), pooling,
pixel (un)shuffle and concatenation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torchvision  # noqa: F401  (registers torch.ops.torchvision)
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def interpolation_flops(taps: int) -> int:
    """FLOPs of one interpolated value, a weighted sum of `taps` values (0 for a copy)."""
    return 2 * taps - 1 if taps > 1 else 0


BILINEAR_FLOPS = interpolation_flops(4)  # 7
BICUBIC_FLOPS = interpolation_flops(16)  # 31
GRID_SAMPLE_FLOPS = {0: BILINEAR_FLOPS, 1: 0, 2: BICUBIC_FLOPS}  # by interpolation_mode


def deform_conv2d_flop(input_shape, weight_shape, *args, out_shape, **kwargs) -> int:
    """torchvision::deform_conv2d(input, weight, offset, mask, bias, stride_h, stride_w, pad_h,
    pad_w, dilation_h, dilation_w, groups, offset_groups, use_mask)."""
    n, c_in = input_shape[:2]
    c_out, c_in_per_group, kh, kw = weight_shape
    positions = n * kh * kw * out_shape[-2] * out_shape[-1]  # per input channel
    return 2 * c_out * c_in_per_group * positions + BILINEAR_FLOPS * c_in * positions


def deform_conv2d_backward_flop(grad_shape, input_shape, weight_shape, *args, out_shape, **kw):
    """torchvision::_deform_conv2d_backward(grad, input, weight, ...): every gradient at once."""
    return 2 * deform_conv2d_flop(input_shape, weight_shape, out_shape=grad_shape)


def grid_sampler_flop(input_shape, grid_shape, interpolation_mode, *args, out_shape, **kwargs):
    """aten::grid_sampler_2d(input, grid, interpolation_mode, padding_mode, align_corners)."""
    return GRID_SAMPLE_FLOPS[interpolation_mode] * math.prod(out_shape)


def grid_sampler_backward_flop(
    grad_shape, input_shape, grid_shape, interpolation_mode, padding_mode, align_corners,
    output_mask, *, out_shape, **kwargs,
) -> int:  # fmt: skip
    """aten::grid_sampler_2d_backward: the forward's FLOPs per gradient asked for."""
    return sum(output_mask) * GRID_SAMPLE_FLOPS[interpolation_mode] * math.prod(grad_shape)


def cudnn_grid_sampler_flop(input_shape, grid_shape, *, out_shape, **kwargs) -> int:
    """aten::cudnn_grid_sampler(input, grid): bilinear only."""
    return BILINEAR_FLOPS * math.prod(out_shape)


def cudnn_grid_sampler_backward_flop(input_shape, grid_shape, grad_shape, *, out_shape, **kw):
    """aten::cudnn_grid_sampler_backward(input, grid, grad_output): both gradients."""
    return 2 * BILINEAR_FLOPS * math.prod(grad_shape)


def _resize_flop(per_value: int) -> Callable[..., int]:
    def forward(*args, out_shape, **kwargs) -> int:
        return per_value * math.prod(out_shape)

    return forward


def _resize_backward_flop(per_value: int) -> Callable[..., int]:
    def backward(grad_shape, *args, out_shape, **kwargs) -> int:
        return per_value * math.prod(grad_shape)

    return backward


def formulas() -> dict:
    """The formulas FlopCounterMode lacks, keyed by operator (all overloads); on CUDA,
    `grid_sample` may run as cuDNN's sampler, counted alike."""
    aten = torch.ops.aten
    return {
        torch.ops.torchvision.deform_conv2d: deform_conv2d_flop,
        torch.ops.torchvision._deform_conv2d_backward: deform_conv2d_backward_flop,
        aten.grid_sampler_2d: grid_sampler_flop,
        aten.grid_sampler_2d_backward: grid_sampler_backward_flop,
        aten.cudnn_grid_sampler: cudnn_grid_sampler_flop,
        aten.cudnn_grid_sampler_backward: cudnn_grid_sampler_backward_flop,
        aten.upsample_bilinear2d: _resize_flop(BILINEAR_FLOPS),
        aten.upsample_bilinear2d_backward: _resize_backward_flop(BILINEAR_FLOPS),
        aten.upsample_bicubic2d: _resize_flop(BICUBIC_FLOPS),
        aten.upsample_bicubic2d_backward: _resize_backward_flop(BICUBIC_FLOPS),
    }


def flop_counter() -> FlopCounterMode:
    """A FlopCounterMode counting by these rules: `with flop_counter() as c: ...`, then
    `c.get_total_flops()`. Forward and backward passes alike."""
    return FlopCounterMode(display=False, custom_mapping=formulas())


def count_flops(model: nn.Module | Callable, *inputs: torch.Tensor) -> int:
    """FLOPs of one inference pass, `model(*inputs)` without autograd."""
    with torch.no_grad(), flop_counter() as counter:
        model(*inputs)
    return counter.get_total_flops()
