"""What a network costs: parameters, FLOPs per frame and inference time per frame.

FLOPs are counted by `vsr.bench.flops`, the counter `vsr-bench model` uses too: convolutions
and matrix products (2 per multiply-add), deformable convolutions and bilinear sampling by
hand; elementwise operations are not counted.
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

from vsr.bench.flops import count_flops
from vsr.machine import synchronize


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
    times = []
    with torch.inference_mode():
        for _ in range(warmup):
            model(inputs)
        for _ in range(repeats):
            synchronize(inputs.device)
            start = time.perf_counter()
            model(inputs)
            synchronize(inputs.device)
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
