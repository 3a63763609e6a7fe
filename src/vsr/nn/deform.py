"""Modulated deformable convolution (DCNv2), in two interchangeable formulations.

* `"torchvision"`: `torchvision.ops.deform_conv2d`, a fused op (im2col of bilinear samples,
  then a matrix product). Its backward keeps only the inputs and recomputes the columns, so
  training stores little, but its CPU kernel is far slower than a plain convolution.
* `"sample"`: the same arithmetic from stock operators: one `F.grid_sample` gathers the
  bilinear samples of every tap of every deformable group, the mask multiplies them, and one
  matrix product with the weight reshaped to (Cout, Cin·k²) finishes the convolution. Fast
  where grid_sample and matmul are (every device, every dtype, exportable), but autograd keeps
  the k²-times-larger column tensor (twice) for the backward pass.
* `"sample_checkpoint"`: "sample" under `torch.utils.checkpoint`: the backward pass recomputes
  the columns instead of storing them (as torchvision's op does), for training memory.

Both follow torchvision's (= mmcv's) layout: offset channels are [group][tap][dy, dx] with taps
in row-major order, mask channels [group][tap]. A sample at pixel coordinates (y, x) is the
bilinear blend of its four neighbours with every neighbour outside the input taken as zero,
which is exactly `grid_sample(..., padding_mode="zeros", align_corners=True)` once (y, x) are
mapped to [-1, 1] with the pixel centres at the ends.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint as _checkpoint
from torchvision.ops import deform_conv2d

IMPLS = ("torchvision", "sample", "sample_checkpoint")  # and "auto", resolved per call


def check_impl(impl: str, setting: str = "impl") -> str:
    """`impl` if it names a formulation ("auto" included); else a ValueError naming `setting`."""
    if impl != "auto" and impl not in IMPLS:
        raise ValueError(f"{setting} must be one of {('auto', *IMPLS)}, got {impl!r}")
    return impl


def auto_impl(device: torch.device, training: bool) -> str:
    """The fastest formulation measured for the device (docs/benchmarks.md): on CPU the
    sampling formulation — checkpointed when training, so memory stays that of torchvision's
    kernel; elsewhere torchvision's kernel until measured otherwise."""
    if device.type != "cpu":
        return "torchvision"
    return "sample_checkpoint" if training else "sample"


def resolve_impl(impl: str, x: torch.Tensor, weight: torch.Tensor) -> str:
    """`impl`, with "auto" resolved for this call: training when autograd will need the
    backward pass through x or the weight."""
    if impl != "auto":
        return impl
    training = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
    return auto_impl(x.device, training)


def modulated_deform_conv2d(
    x: torch.Tensor,
    offset: torch.Tensor,
    mask: torch.Tensor | None,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    padding: int = 1,
    impl: str = "torchvision",
) -> torch.Tensor:
    """Modulated deformable 2-D convolution, stride 1, dilation 1, one weight group.

    Args:
        x: (n, Cin, H, W) input.
        offset: (n, 2·G·kh·kw, Ho, Wo) sampling offsets in pixels, [group][tap][dy, dx].
        mask: (n, G·kh·kw, Ho, Wo) modulation, [group][tap]; None for all ones.
        weight: (Cout, Cin, kh, kw).
        bias: (Cout,) or None.
        padding: zero padding of the base grid (both sides, both axes).
        impl: "torchvision", "sample", "sample_checkpoint" (see the module docstring) or
            "auto" (`auto_impl`: the fastest measured for the device).

    Returns:
        (n, Cout, Ho, Wo) with Ho = H + 2·padding - kh + 1 (likewise Wo).
    """
    impl = resolve_impl(check_impl(impl), x, weight)
    if impl == "torchvision":
        if x.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            # torchvision's CPU kernel has no bf16/fp16 version: run it in fp32 inside a
            # reduced-precision network, and hand back the dtype autocast would have given.
            dtype = torch.get_autocast_dtype("cpu")
            with torch.autocast("cpu", enabled=False):
                out = deform_conv2d(
                    x.float(),
                    offset.float(),
                    weight.float(),
                    bias.float() if bias is not None else None,
                    padding=padding,
                    mask=mask.float() if mask is not None else None,
                )
            return out.to(dtype)
        return deform_conv2d(x, offset, weight, bias, padding=padding, mask=mask)
    if weight.shape[1] != x.shape[1]:
        raise ValueError(
            f"impl='sample' supports one weight group: weight {tuple(weight.shape)} "
            f"for x {tuple(x.shape)}"
        )
    if mask is None:
        mask = offset.new_ones(offset.shape[0], offset.shape[1] // 2, *offset.shape[-2:])
    if impl == "sample_checkpoint" and torch.is_grad_enabled():
        return _checkpoint(
            _sample_conv, x, offset, mask, weight, bias, padding, use_reentrant=False
        )
    return _sample_conv(x, offset, mask, weight, bias, padding)


def sample_columns(
    x: torch.Tensor, offset: torch.Tensor, kernel_size: tuple[int, int], padding: int = 1
) -> torch.Tensor:
    """Bilinear samples of x at every tap of every deformable group, in one grid_sample.

    Args:
        x: (n, Cin, H, W) input, Cin divisible by the group count G.
        offset: (n, 2·G·kh·kw, Ho, Wo), [group][tap][dy, dx].
        kernel_size: (kh, kw).
        padding: zero padding of the base grid.

    Returns:
        (n, G, Cin/G, kh·kw, Ho, Wo) samples, zero outside the input; in fp32 for
        half-precision inputs.
    """
    n, cin, h, w = x.shape
    kh, kw = kernel_size
    taps = kh * kw
    ho, wo = offset.shape[-2:]
    groups = offset.shape[1] // (2 * taps)
    if offset.shape[1] != 2 * taps * groups or cin % groups:
        raise ValueError(
            f"offset {tuple(offset.shape)} does not fit {groups} groups of {taps} taps "
            f"over x {tuple(x.shape)}"
        )
    if h == 1 or w == 1:
        # align_corners=True maps every coordinate to pixel 0 on a size-1 axis; one more
        # (zero) row/column keeps pixel coordinates meaningful and changes no sample.
        x = F.pad(x, (0, int(w == 1), 0, int(h == 1)))
        h, w = x.shape[-2:]
    # Positions and samples in fp32 whatever the network's precision: bf16 rounds a position
    # like 300.5 to a whole pixel (8 significant bits), and CPU half-precision grid_sample
    # returns wrong values on frames of ~128 px and more (as in `flow_warp`).
    dtype = torch.promote_types(torch.promote_types(x.dtype, offset.dtype), torch.float32)
    device = offset.device
    # Contiguous first: a channels-last offset would make every operation below strided.
    off = offset.to(dtype).contiguous().view(n, groups, taps, 2, ho, wo)
    # Base grid: output pixel + tap position - padding, tap index t = i·kw + j.
    ty = torch.arange(kh, device=device, dtype=dtype).repeat_interleave(kw)
    tx = torch.arange(kw, device=device, dtype=dtype).repeat(kh)
    ys = torch.arange(ho, device=device, dtype=dtype) - padding
    xs = torch.arange(wo, device=device, dtype=dtype) - padding
    py = (ty.view(taps, 1, 1) + ys.view(1, ho, 1)) + off[:, :, :, 0]  # (n, G, taps, Ho, Wo)
    px = (tx.view(taps, 1, 1) + xs.view(1, 1, wo)) + off[:, :, :, 1]
    # Pixel coordinates → [-1, 1] (align_corners=True: -1 and 1 are the end pixels' centres).
    grid = torch.stack((px * (2 / (w - 1)) - 1, py * (2 / (h - 1)) - 1), dim=-1)
    grid = grid.view(n * groups, taps * ho, wo, 2)
    # Each group's channels in planes (a channels-last x is copied: its gathers are ~40% slower).
    x = x.reshape(n * groups, cin // groups, h, w).to(dtype, memory_format=torch.contiguous_format)
    samples = F.grid_sample(
        x,
        grid,
        mode="bilinear",
        padding_mode="zeros",
        align_corners=True,
    )  # (n·G, Cin/G, taps·Ho, Wo)
    return samples.view(n, groups, cin // groups, taps, ho, wo)


def _sample_conv(
    x: torch.Tensor,
    offset: torch.Tensor,
    mask: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    padding: int,
) -> torch.Tensor:
    n, cin = x.shape[:2]
    cout, _, kh, kw = weight.shape
    taps = kh * kw
    samples = sample_columns(x, offset, (kh, kw), padding)  # (n, G, Cin/G, taps, Ho, Wo)
    groups, ho, wo = samples.shape[1], samples.shape[-2], samples.shape[-1]
    # The columns at x's precision (under autocast: the conv outputs', bf16 or fp16), cast
    # before the mask product: the reduced-precision product moves half the bytes.
    samples = samples.to(x.dtype)
    mask = mask.to(x.dtype).contiguous()  # channels-last: a strided, slow product
    cols = samples * mask.view(n, groups, 1, taps, ho, wo)
    # Channel index g·(Cin/G) + c is the weight's input channel: (n, Cin·taps, Ho·Wo).
    cols = cols.view(n, cin * taps, ho * wo)
    weight = weight.reshape(cout, cin * taps).to(cols.dtype)
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        # A channels-last network gets a channels-last output: (n, Ho·Wo, Cout) is NHWC.
        out = torch.matmul(cols.transpose(1, 2), weight.t())
        out = out.view(n, ho, wo, cout).permute(0, 3, 1, 2)
    else:
        out = torch.matmul(weight, cols).view(n, cout, ho, wo)
    if bias is not None:
        out = out + bias.to(out.dtype).view(1, cout, 1, 1)
    return out
