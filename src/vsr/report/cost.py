"""What a network costs: parameters, FLOPs per frame and inference time per frame.

FLOPs follow `torch.utils.flop_counter.FlopCounterMode`'s convention: 2 per multiply-add of
the convolutions and matrix products. FlopCounterMode has no formula for torchvision's
`deform_conv2d` or for bilinear sampling, so those are counted here by hand:

- deformable convolution: 2·Cout·(Cin/groups)·k²·H·W for the convolution (as for a plain
  conv) plus 8·Cin·k²·H·W for gathering its inputs: 7 FLOPs per bilinearly sampled value (4
  weighted taps) and 1 for the modulation mask;
- bilinear `grid_sample` (flow warping, in SPyNet and the propagation) and bilinear resizing:
  7 FLOPs per output value.

Not counted, as usual: elementwise operations (activations, additions, the offsets' tanh and
the mask's sigmoid), pooling and the computation of the sampling weights themselves.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

BILINEAR_FLOPS = 7  # 4 multiplies + 3 additions per sampled value


@dataclass(frozen=True)
class Bench:
    """The fixed input every network is measured on: (1, frames, 3, height, width)."""

    height: int = 64
    width: int = 64
    frames: int = 5
    threads: int = 1
    repeats: int = 3
    device: str = "cpu"

    def input(self) -> torch.Tensor:
        generator = torch.Generator().manual_seed(0)
        lqs = torch.rand(1, self.frames, 3, self.height, self.width, generator=generator)
        return lqs.to(self.device)


@dataclass
class Cost:
    params: int
    gflops_per_frame: float
    ms_per_frame: float | None = None


# --------------------------------------------------------------------------- FLOP formulas


def deform_conv2d_flop(input_shape, weight_shape, *args, out_shape, **kwargs) -> int:
    """torchvision::deform_conv2d(input, weight, offset, mask, bias, stride_h, stride_w, pad_h,
    pad_w, dilation_h, dilation_w, groups, offset_groups, use_mask)."""
    n, c_in = input_shape[:2]
    c_out, c_in_per_group, kh, kw = weight_shape
    use_mask = args[-1] if args and isinstance(args[-1], bool) else True
    positions = n * out_shape[-2] * out_shape[-1] * kh * kw  # sampling positions per channel
    conv = 2 * c_out * c_in_per_group * positions
    sampling = (BILINEAR_FLOPS + int(use_mask)) * c_in * positions
    return conv + sampling


def bilinear_flop(*args, out_shape, **kwargs) -> int:
    """grid_sample / bilinear resizing: one bilinear interpolation per output value."""
    numel = 1
    for size in out_shape:
        numel *= size
    return BILINEAR_FLOPS * numel


def grid_sampler_flop(input_shape, grid_shape, interpolation_mode=0, *args, out_shape, **kwargs):
    # interpolation_mode 0 is bilinear; nearest (1) does no arithmetic; bicubic (2) is
    # not used by vsr's networks and is left out.
    return bilinear_flop(out_shape=out_shape) if interpolation_mode == 0 else 0


def _flop_formulas() -> dict:
    import torchvision  # noqa: F401  (registers torch.ops.torchvision)

    # keyed by operator (all overloads), as FlopCounterMode looks them up
    aten = torch.ops.aten
    formulas = {
        torch.ops.torchvision.deform_conv2d: deform_conv2d_flop,
        aten.grid_sampler_2d: grid_sampler_flop,
        aten.upsample_bilinear2d: bilinear_flop,
    }
    if hasattr(aten, "cudnn_grid_sampler"):
        formulas[aten.cudnn_grid_sampler] = bilinear_flop
    return formulas


def count_flops(model: nn.Module, *inputs: torch.Tensor) -> int:
    """FLOPs of one forward pass (see the module docstring for what is counted)."""
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=_flop_formulas()) as c:
        model(*inputs)
    return c.get_total_flops()


# --------------------------------------------------------------------------- timing


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def time_forward(
    model: nn.Module, inputs: torch.Tensor, repeats: int = 3, warmup: int = 1
) -> float:
    """Median wall time in ms of one forward pass, after `warmup` untimed passes."""

    def sync() -> None:
        if inputs.device.type == "cuda":
            torch.cuda.synchronize(inputs.device)

    times = []
    with torch.inference_mode():
        for _ in range(warmup):
            model(inputs)
        for _ in range(repeats):
            sync()
            start = time.perf_counter()
            model(inputs)
            sync()
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


# --------------------------------------------------------------------------- networks


def build_generator(generator: DictConfig) -> nn.Module:
    """The network a job's `model.generator` config describes, with fresh weights (pretrained
    flow weights are not loaded: they change no count and need not exist here)."""
    from hydra.utils import instantiate

    generator = OmegaConf.create(OmegaConf.to_container(generator, resolve=True))
    if "spynet_pretrained" in generator:
        generator.spynet_pretrained = None
    return instantiate(generator)


def measure(model: nn.Module, bench: Bench, timing: bool = True) -> Cost:
    """Parameters, GFLOPs per frame and (if `timing`) ms per frame on `bench`'s input."""
    model = model.eval().to(bench.device)
    lqs = bench.input()
    params = sum(p.numel() for p in model.parameters())
    with torch_threads(bench.threads):
        flops = count_flops(model, lqs)  # also the warm-up pass for the timing
        ms = time_forward(model, lqs, bench.repeats, warmup=0) if timing else None
    return Cost(
        params=params,
        gflops_per_frame=flops / bench.frames / 1e9,
        ms_per_frame=ms / bench.frames if ms is not None else None,
    )
