"""Speed, peak memory and FLOP utilisation of BasicVSR++, for inference and for training.

Every case (deformable-conv formulation x thread count x pass x activation checkpointing) runs
in a fresh Python process, so that its memory high-water mark is its own, and times:

* `forward`: `model(lqs)` under `torch.no_grad()` in eval mode (inference);
* `train`: `model(lqs).mean().backward()` in train mode (a training step without the optimizer);
* with `--op`, the modulated deformable convolution alone at the network's shapes (x of 2C
  channels, 16 deformable groups, C outputs, 3x3) instead of the whole network;
* `--impls onnxruntime`: the network exported by `vsr.export.export_onnx` (clips of `--frames`,
  any frame size; exported once, in a process of its own) run by ONNX Runtime's CPU execution
  provider, forward only, batch 1, fp32 whatever `--precision` the PyTorch cases run at (so a
  bf16 run times both side by side); its FLOPs are those of the same PyTorch network.

An `--impls` entry may carry its own precision and memory format, `IMPL[:PRECISION][:cl]`
(`sample:bf16:cl`: the sampling formulation under bf16 autocast, channels-last), so that
settings of different precision are timed side by side in one run; a bare `IMPL` runs at
`--precision` (and `--channels-last`).

"auto" is timed as the formulation it picks for the device and pass (`resolved_impl`). The
first pass is a warm-up whose FLOPs are counted; where the backward pass recomputes part of the
forward (`sample_checkpoint`, activation checkpointing), the pass's own work is counted on a
plain pass afterwards. The next `--repeats` passes are timed, and the fastest is reported (the
others are listed: a shared machine only ever slows a pass down). Peak memory is the process's
resident-set high-water mark on the CPU (`ru_maxrss`; it includes the interpreter and the
libraries, see `rss_before_mib`), `torch.cuda.max_memory_allocated` on CUDA. FLOP utilisation
is the counted FLOPs per second relative to the FLOP rate of a large matrix product
(`--matmul-size`, at the case's precision) measured in the same process, with
the same device and thread count, before and after the passes (the faster).

FLOPs (`gflop`) are counted by `vsr.bench.flops`, the counter `vsr-report` uses too: the
convolutions and matrix products (2 per multiply-add; backward: once per gradient), the
deformable convolutions and the bilinear sampling (flow warps, resizing, the deformable taps).
Both formulations of the deformable convolution count the same FLOPs.

    vsr-bench model                                     # c64n7, 1x5x64x64, 1 thread, both passes
    vsr-bench model --threads 1 2 --impls torchvision sample --out model.json
    vsr-bench model --op --impls torchvision sample     # the deformable conv alone
    vsr-bench model --passes train --profile            # where a training pass spends its time
    vsr-bench model --frames 30 --passes train --checkpointing off on
    vsr-bench model --passes forward --impls auto onnxruntime --threads 1 2
    vsr-bench model --passes forward --impls torchvision auto sample:bf16:cl --threads 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from vsr.bench import emit
from vsr.machine import machine_info, peak_rss_mib, synchronize

PASSES = ("forward", "train")
PRECISIONS = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
MEASURED = (
    "time_s: fastest timed pass (forward: no_grad inference; train: forward + backward of the "
    "mean); gflop: FLOPs per pass (vsr.bench.flops: FlopCounterMode, plus the deformable "
    "convolutions and bilinear sampling by hand); peak_fraction: gflop_per_s / "
    "matmul_peak_gflop_per_s, both measured in the case's process; peak_memory_mib: CPU "
    "resident-set high-water mark of the process, CUDA max allocated"
)


# --------------------------------------------------------------------------- specs and results


@dataclass(frozen=True)
class ModelConfig:
    """The settings every case of a run shares (`config` in the results).

    Attributes:
        mid_channels, num_blocks: the network (C and residual blocks per branch).
        batch, frames, height, width: the low-res input, (batch, frames, 3, height, width).
        device: torch device.
        precision: "fp32", or autocast to "bf16" / "fp16" (a case's own, if its `--impls`
            entry names one).
        repeats: timed passes per case.
        matmul_size: side of the matrix product whose FLOP rate is the peak.
        op: time the deformable convolution alone at the network's shapes.
        profile: profile one more pass per case.
        channels_last: the network in channels-last memory format (or the case's own).
    """

    mid_channels: int = 64
    num_blocks: int = 7
    batch: int = 1
    frames: int = 5
    height: int = 64
    width: int = 64
    device: str = "cpu"
    precision: str = "fp32"
    repeats: int = 2
    matmul_size: int = 2048
    op: bool = False
    profile: bool = False
    channels_last: bool = False


@dataclass(frozen=True)
class CaseSpec:
    """One case: the shared settings, a formulation, a thread count, a pass ("forward" or
    "train") and activation checkpointing."""

    config: ModelConfig
    impl: str
    threads: int
    pass_name: str
    checkpointing: bool = False
    graph: str = ""  # the exported graph of an onnxruntime case

    def to_json(self) -> dict[str, Any]:
        """Flat, as handed to the case's process."""
        return {
            **asdict(self.config),
            "impl": self.impl,
            "threads": self.threads,
            "pass": self.pass_name,
            "checkpointing": self.checkpointing,
            "graph": self.graph,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseSpec:
        own = ("impl", "threads", "pass", "checkpointing", "graph")
        config = ModelConfig(**{k: v for k, v in data.items() if k not in own})
        return cls(
            config,
            data["impl"],
            data["threads"],
            data["pass"],
            data["checkpointing"],
            data.get("graph", ""),
        )


@dataclass(frozen=True)
class ProfileEntry:
    """One operator of a profiled pass: self time (device time on CUDA), share, calls."""

    op: str
    self_s: float
    share: float
    calls: int


@dataclass(frozen=True)
class CaseResult:
    """What one case measured (one entry of `cases`; see `MEASURED`). `rss_before_mib` is
    the CPU's high-water mark before the first pass; `profile` is there with `--profile`."""

    torch: str
    impl: str
    resolved_impl: str
    checkpointing: bool
    channels_last: bool
    precision: str
    threads: int
    pass_name: str
    gflop: float
    time_s: float
    times_s: tuple[float, ...]
    median_time_s: float
    frames_per_s: float
    gflop_per_s: float
    matmul_peak_gflop_per_s: float
    peak_fraction: float
    peak_memory_mib: float
    rss_before_mib: float | None = None
    profile: tuple[ProfileEntry, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        out = {("pass" if k == "pass_name" else k): v for k, v in asdict(self).items()}
        out["times_s"] = list(self.times_s)
        for key in ("rss_before_mib", "profile"):  # absent where not measured
            if out[key] is None:
                del out[key]
        if "profile" in out:
            out["profile"] = list(out["profile"])  # of dicts, by asdict
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseResult:
        data = {("pass_name" if k == "pass" else k): v for k, v in data.items()}
        data["times_s"] = tuple(data["times_s"])
        if data.get("profile") is not None:
            data["profile"] = tuple(ProfileEntry(**e) for e in data["profile"])
        return cls(**data)


@dataclass(frozen=True)
class ModelResults:
    """A run of `vsr-bench model`: the machine, the shared settings and every case."""

    machine: dict[str, Any]
    config: ModelConfig
    measured: str
    cases: tuple[CaseResult, ...] = field(default_factory=tuple)
    command: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON results (`command` once `emit` has set it)."""
        out = {
            "machine": self.machine,
            "config": asdict(self.config),
            "measured": self.measured,
            "cases": [case.to_json() for case in self.cases],
        }
        if self.command is not None:
            out["command"] = self.command
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelResults:
        return cls(
            machine=data["machine"],
            config=ModelConfig(**data["config"]),
            measured=data["measured"],
            cases=tuple(CaseResult.from_json(c) for c in data["cases"]),
            command=data.get("command"),
        )


# --------------------------------------------------------------------------- one case


def matmul_peak(device, dtype, size: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of the fastest of `repeats` (size x size) @ (size x size) products."""
    import torch

    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    out = torch.empty(size, size, device=device, dtype=dtype)
    torch.matmul(a, b, out=out)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        torch.matmul(a, b, out=out)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def _deform_op(c: int, n: int, h: int, w: int, generator):
    """The network's deformable conv alone: x (n, 2C, h, w), 16 groups, C outputs, 3x3."""
    import torch
    from torch import nn

    from vsr.nn.deform import modulated_deform_conv2d

    groups, k2 = 16, 9

    class DeformOp(nn.Module):
        deform_impl = "torchvision"

        def __init__(self) -> None:
            super().__init__()
            randn = lambda *s: nn.Parameter(torch.randn(*s, generator=generator))  # noqa: E731
            self.weight = nn.Parameter(0.05 * randn(c, 2 * c, 3, 3))
            self.bias = nn.Parameter(torch.zeros(c))
            self.x = randn(n, 2 * c, h, w)
            self.offset = nn.Parameter(3 * randn(n, 2 * groups * k2, h, w))
            self.mask = nn.Parameter(torch.rand(n, groups * k2, h, w, generator=generator))

        def forward(self) -> torch.Tensor:
            return modulated_deform_conv2d(
                self.x, self.offset, self.mask, self.weight, self.bias, 1, self.deform_impl
            )

    return DeformOp()


def run_case(spec: CaseSpec) -> CaseResult:
    """One measurement, in this process (see the module docstring)."""
    import torch

    from vsr.bench.flops import flop_counter  # late, like torch: `vsr-bench --help` speed
    from vsr.nn.alignment import FlowGuidedDeformableAlignment
    from vsr.nn.deform import auto_impl

    config = spec.config
    if spec.impl == ONNX_RUNTIME:
        return _run_onnx_case(spec)
    torch.set_num_threads(spec.threads)
    device = torch.device(config.device)
    dtype = getattr(torch, PRECISIONS[config.precision])
    train = spec.pass_name == "train"
    n, t, h, w = config.batch, config.frames, config.height, config.width
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)

    peak_before = matmul_peak(device, dtype, config.matmul_size)
    # "auto" is timed as what it picks for this device and pass.
    impl = auto_impl(device, train) if spec.impl == "auto" else spec.impl
    if config.op:
        model = _deform_op(config.mid_channels, n, h, w, generator).to(device)
        inputs = ()
        deform_modules = [model]
        frames = n  # one (n, 2C, h, w) call per pass
    else:
        model = _network(config).to(device)
        if config.channels_last:
            model = model.to(memory_format=torch.channels_last)
        inputs = (torch.rand(n, t, 3, h, w, generator=generator).to(device),)
        deform_modules = [
            m for m in model.modules() if isinstance(m, FlowGuidedDeformableAlignment)
        ]
        frames = n * t
    model.train(train)

    def configure(impl: str, checkpointing: bool) -> None:
        for m in deform_modules:
            m.deform_impl = impl
        if not config.op:
            model.gradient_checkpointing = checkpointing

    configure(impl, spec.checkpointing)

    def one_pass():
        with torch.autocast(device.type, dtype=dtype, enabled=config.precision != "fp32"):
            with torch.set_grad_enabled(train):
                out = model(*inputs)
            if train:
                out.float().mean().backward()
        if train:
            for p in model.parameters():
                p.grad = None
        synchronize(device)

    rss_before = peak_rss_mib()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def counted_pass() -> int:
        # The work of the pass, not of the recomputations that checkpointing adds: counted on
        # the same pass without checkpointing ("sample" for "sample_checkpoint").
        configure(counted_impl, False)
        with flop_counter() as counter:
            one_pass()
        configure(impl, spec.checkpointing)
        return counter.get_total_flops()

    # The warm-up pass is the counted one, unless checkpointing makes it recompute: then the
    # counted pass runs after the memory high-water mark is read.
    counted_impl = "sample" if impl == "sample_checkpoint" else impl
    plain = counted_impl == impl and not (spec.checkpointing and train)
    flops = counted_pass() if plain else None
    if flops is None:
        one_pass()

    times = []
    for _ in range(config.repeats):
        synchronize(device)
        start = time.perf_counter()
        one_pass()
        times.append(time.perf_counter() - start)
    if device.type == "cuda":
        peak_memory = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak_memory = peak_rss_mib()
    if flops is None:
        flops = counted_pass()
    profile = _profile(one_pass, device) if config.profile else None
    # Measured again after the passes: other jobs on a shared machine can slow one measurement.
    peak = max(peak_before, matmul_peak(device, dtype, config.matmul_size))
    return _result(
        spec,
        impl,
        flops,
        times,
        frames,
        peak,
        peak_memory,
        rss_before if device.type != "cuda" else None,
        profile,
    )


def _result(
    spec: CaseSpec,
    resolved_impl: str,
    flops: int,
    times: list[float],
    frames: int,
    peak: float,
    peak_memory: float,
    rss_before: float | None,
    profile: tuple[ProfileEntry, ...] | None = None,
) -> CaseResult:
    """A case's measurements, rounded as the JSON holds them (see `MEASURED`)."""
    import torch

    best = min(times)
    graph = spec.impl == ONNX_RUNTIME
    return CaseResult(
        torch=torch.__version__,
        impl=spec.impl,
        resolved_impl=resolved_impl,
        checkpointing=spec.checkpointing,
        channels_last=spec.config.channels_last and not graph,
        precision="fp32" if graph else spec.config.precision,  # a graph runs as exported
        threads=spec.threads,
        pass_name=spec.pass_name,
        gflop=round(flops / 1e9, 3),
        time_s=round(best, 4),
        times_s=tuple(round(s, 4) for s in times),
        median_time_s=round(statistics.median(times), 4),
        frames_per_s=round(frames / best, 4),
        gflop_per_s=round(flops / best / 1e9, 2),
        matmul_peak_gflop_per_s=round(peak / 1e9, 2),
        peak_fraction=round(flops / best / peak, 4),
        peak_memory_mib=round(peak_memory, 1),
        rss_before_mib=None if rss_before is None else round(rss_before, 1),
        profile=profile,
    )


ONNX_RUNTIME = "onnxruntime"


def _network(config: ModelConfig):
    """The benchmarked network: BasicVSR++ of the config's size, seeded."""
    import torch

    from vsr.nn import BasicVSRPlusPlus

    torch.manual_seed(0)
    return BasicVSRPlusPlus(config.mid_channels, config.num_blocks)


def export_graph(config: ModelConfig, path: str) -> None:
    """Export the benchmarked network as the onnxruntime cases run it (clips of `frames`)."""
    from vsr.export import export_onnx

    export_onnx(_network(config).eval(), path, frames=config.frames, overwrite=True)


def _run_onnx_case(spec: CaseSpec) -> CaseResult:
    """An onnxruntime case: the exported graph's forward pass (see the module docstring)."""
    import torch

    from vsr.bench.flops import flop_counter
    from vsr.export import graph_model
    from vsr.inference.runtime import OnnxNetwork

    config = spec.config
    torch.set_num_threads(spec.threads)
    cpu = torch.device("cpu")
    peak_before = matmul_peak(cpu, torch.float32, config.matmul_size)
    rss_before = peak_rss_mib()
    graph = OnnxNetwork(spec.graph, threads=spec.threads)
    lqs = torch.rand(1, config.frames, 3, config.height, config.width)
    graph(lqs)  # warm-up
    times = []
    for _ in range(config.repeats):
        start = time.perf_counter()
        graph(lqs)
        times.append(time.perf_counter() - start)
    peak_memory = peak_rss_mib()  # before the PyTorch pass that counts the FLOPs
    model = graph_model(_network(config))  # the network as it went into the graph
    with torch.no_grad(), flop_counter() as counter:
        model(lqs)
    flops = counter.get_total_flops()
    peak = max(peak_before, matmul_peak(cpu, torch.float32, config.matmul_size))
    return _result(spec, spec.impl, flops, times, config.frames, peak, peak_memory, rss_before)


def _profile(one_pass: Callable[[], None], device, top: int = 15) -> tuple[ProfileEntry, ...]:
    """The operators of one more pass, by self time (device time on CUDA), largest first."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        one_pass()
    attr = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    ops = [e for e in prof.key_averages() if getattr(e, attr) > 0]
    total = sum(getattr(e, attr) for e in ops)
    ops.sort(key=lambda e: getattr(e, attr), reverse=True)
    return tuple(
        ProfileEntry(
            op=e.key,
            self_s=round(getattr(e, attr) / 1e6, 4),
            share=round(getattr(e, attr) / total, 4),
            calls=e.count,
        )
        for e in ops[:top]
    )


# --------------------------------------------------------------------------- all cases


def parse_impl(entry: str, config: ModelConfig) -> tuple[str, ModelConfig]:
    """An `--impls` entry, `IMPL[:PRECISION][:cl]`: the formulation and the settings its cases
    run with (`config`, with the entry's precision and memory format where it names them).

    Raises:
        ValueError: an unknown precision or option, or settings for the exported graph (it
            runs as exported: fp32, its own memory format).
    """
    impl, *options = entry.split(":")
    changes: dict[str, Any] = {}
    for option in options:
        if option in PRECISIONS:
            changes["precision"] = option
        elif option == "cl":
            changes["channels_last"] = True
        else:
            raise ValueError(
                f"--impls {entry!r}: {option!r} is neither a precision "
                f"({', '.join(PRECISIONS)}) nor cl (channels-last)"
            )
    if impl == ONNX_RUNTIME and changes:
        raise ValueError(f"--impls {entry!r}: the exported graph runs as exported (fp32)")
    return impl, replace(config, **changes)


def run(
    config: ModelConfig,
    impls: Sequence[str] = ("torchvision",),
    threads: Sequence[int] = (1,),
    passes: Sequence[str] = PASSES,
    checkpointing: Sequence[bool] = (False,),
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> ModelResults:
    """Run every (impl, threads, pass, checkpointing) case in its own process.

    Args:
        config: the settings shared by all cases.
        impls: deformable-conv formulations (`vsr.nn.deform.IMPLS`, "auto" or "onnxruntime"),
            each optionally with its own precision and memory format (`parse_impl`).
        threads: torch thread counts.
        passes: "forward" and/or "train".
        checkpointing: activation checkpointing (`BasicVSRPlusPlus.gradient_checkpointing`)
            off and/or on; it changes only training passes.
        log: progress messages.
    """
    import tempfile

    from vsr.nn.deform import IMPLS

    settings = [parse_impl(entry, config) for entry in impls]
    unknown = sorted({impl for impl, _ in settings} - {"auto", ONNX_RUNTIME, *IMPLS})
    if unknown:
        raise ValueError(
            f"unknown --impls {unknown}: choose from auto, {', '.join(IMPLS)}, {ONNX_RUNTIME}"
        )
    onnx = any(impl == ONNX_RUNTIME for impl, _ in settings)
    if onnx and (config.op or config.batch != 1 or config.device != "cpu"):
        raise ValueError(
            "--impls onnxruntime times the exported graph: batch 1, on the CPU, the whole "
            "network (no --op)"
        )
    machine = machine_info()
    # The exported graph lives as long as the run, failed or not.
    with tempfile.TemporaryDirectory(prefix="vsr-bench-") as workdir:
        graph = os.path.join(workdir, "network.onnx") if onnx else ""
        # Checkpointing only changes training passes of the network: other cases run once,
        # off. The exported graph runs forward passes only.
        specs = [
            CaseSpec(own, impl, n, name, ckpt, graph if impl == ONNX_RUNTIME else "")
            for impl, own in settings
            for n in threads
            for name in passes
            if impl != ONNX_RUNTIME or name == "forward"
            for ckpt in dict.fromkeys(
                c and name == "train" and not config.op for c in checkpointing
            )
        ]
        if onnx:
            _export_in_process(config, graph, log)
        cases = [_run_in_process(spec, log) for spec in specs]
    return ModelResults(machine, config, MEASURED, tuple(cases))


def _export_in_process(config: ModelConfig, graph: str, log: Callable[[str], None]) -> None:
    """Export the benchmarked network to `graph` in a process of its own (`export_graph`)."""
    log(f"exporting the network ({config.frames}-frame clips) for the onnxruntime cases")
    proc = subprocess.run(
        [sys.executable, "-m", "vsr.bench.model", "--export", json.dumps(asdict(config)), graph],
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise RuntimeError(f"exporting the network failed:\n{proc.stderr}")


def _run_in_process(spec: CaseSpec, log: Callable[[str], None]) -> CaseResult:
    """Run one case in a fresh process (`run_case`) and log what it measured."""
    label = f"[{case_label(spec)}, {spec.pass_name}]"
    log(f"{label} running")
    env = {**os.environ, "OMP_NUM_THREADS": str(spec.threads), "MKL_NUM_THREADS": str(spec.threads)}
    proc = subprocess.run(
        [sys.executable, "-m", "vsr.bench.model", "--case", json.dumps(spec.to_json())],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode:
        raise RuntimeError(f"case {spec.to_json()} failed:\n{proc.stderr}")
    case = CaseResult.from_json(json.loads(proc.stdout.strip().splitlines()[-1]))
    log(
        f"{label} {case.time_s} s, {case.gflop} GFLOP, "
        f"{100 * case.peak_fraction:.1f}% of matmul peak, {case.peak_memory_mib} MiB"
    )
    for op in (case.profile or ())[:8]:
        log(f"    {100 * op.share:5.1f}%  {op.self_s:8.3f} s  {op.calls:5d}x  {op.op}")
    return case


def case_label(case: CaseSpec | CaseResult) -> str:
    """Short name of a case within its pass: formulation (as run), precision and memory
    format where not fp32 and contiguous, threads, checkpointing."""
    impl = case.impl
    resolved = getattr(case, "resolved_impl", impl)
    if resolved != impl:
        impl += f" ({resolved})"
    settings = case.config if isinstance(case, CaseSpec) else case
    if settings.precision != "fp32":
        impl += f" {settings.precision}"
    if settings.channels_last:
        impl += " channels-last"
    label = f"{impl}, {case.threads} thread{'s' if case.threads > 1 else ''}"
    return label + (", checkpointing" if case.checkpointing else "")


def plot(results: ModelResults | dict, path: str) -> None:
    """Horizontal bars: seconds per pass of every case, labelled with the share of the matmul
    peak and the peak memory; forward and training passes side by side, the reference
    (torchvision's kernel) in grey. `results` may be the JSON read back."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    if isinstance(results, dict):
        results = ModelResults.from_json(results)
    cases = results.cases
    passes = [p for p in PASSES if any(c.pass_name == p for c in cases)]
    fig, axes = plt.subplots(
        1, len(passes), figsize=(7.5 * len(passes), 0.5 * len(cases) + 1.6), dpi=110, squeeze=False
    )
    for ax, name in zip(axes[0], passes, strict=True):
        rows = [c for c in cases if c.pass_name == name]
        times = [c.time_s for c in rows]
        colors = ["tab:gray" if c.impl == "torchvision" else "tab:blue" for c in rows]
        bars = ax.barh(range(len(rows)), times, color=colors, alpha=0.85)
        ax.set_yticks(range(len(rows)), [case_label(c) for c in rows], fontsize=8)
        ax.invert_yaxis()
        for bar, c in zip(bars, rows, strict=True):
            ax.annotate(
                f" {c.time_s:.3g} s, {100 * c.peak_fraction:.0f}% of peak, "
                f"{c.peak_memory_mib:.0f} MiB",
                (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                va="center",
                fontsize=7,
            )
        ax.set_xlim(0, 2.2 * max(times))
        ax.set_xlabel("seconds per pass (fastest)")
        ax.set_title(name, fontsize=10)
        ax.grid(True, axis="x", alpha=0.3)
    config = results.config
    shape = f"{config.batch}x{config.frames}x{config.height}x{config.width}"
    what = "deformable conv alone" if config.op else f"c{config.mid_channels}n{config.num_blocks}"
    fig.suptitle(f"vsr-bench model: {what}, {shape}, {config.device}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `vsr-bench model`."""
    parser.add_argument("--mid-channels", type=int, default=64, help="C (default 64)")
    parser.add_argument("--num-blocks", type=int, default=7, help="residual blocks per branch (7)")
    parser.add_argument("--batch", type=int, default=1, help="clips per pass (default 1)")
    parser.add_argument("--frames", type=int, default=5, help="frames per clip (default 5)")
    parser.add_argument("--height", type=int, default=64, help="low-res height (default 64)")
    parser.add_argument("--width", type=int, default=64, help="low-res width (default 64)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument(
        "--precision", choices=sorted(PRECISIONS), default="fp32",
        help="fp32, or autocast to bf16/fp16, for the --impls entries without their own "
        "(default fp32)",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[1], help="torch thread counts (default 1)"
    )
    parser.add_argument(
        "--impls", nargs="+", default=["torchvision", "auto"],
        help="deformable-conv formulations: auto (what the network picks for the device "
        "and pass), torchvision, sample, sample_checkpoint (vsr.nn.deform); or onnxruntime "
        "(the exported graph in ONNX Runtime, forward only; default: torchvision auto). "
        "IMPL:PRECISION[:cl] gives an entry its own precision and channels-last, to time "
        "settings side by side (sample:bf16:cl)",
    )  # fmt: skip
    parser.add_argument(
        "--checkpointing", nargs="+", choices=("off", "on"), default=["off"],
        help="activation checkpointing of the training pass, off and/or on (default off)",
    )  # fmt: skip
    parser.add_argument(
        "--passes", nargs="+", choices=PASSES, default=list(PASSES),
        help="forward (inference) and/or train (forward + backward); default both",
    )  # fmt: skip
    parser.add_argument("--repeats", type=int, default=2, help="timed passes per case (2)")
    parser.add_argument(
        "--matmul-size", type=int, default=2048, help="side of the peak-rate matmul (2048)"
    )
    parser.add_argument(
        "--op", action="store_true", help="time the deformable conv alone at the network's shapes"
    )
    parser.add_argument(
        "--channels-last", action="store_true",
        help="the network's weights (hence its convolutions) in channels-last memory format",
    )  # fmt: skip
    parser.add_argument(
        "--profile", action="store_true",
        help="profile one more pass per case: its operators by self time, in the JSON",
    )  # fmt: skip
    parser.add_argument("--out", help="also write the JSON results to this file")
    parser.add_argument("--plot", help="also draw the results as bars to this PNG file")


def run_from_args(args: argparse.Namespace, command: str = "vsr-bench model") -> ModelResults:
    """Run with parsed `vsr-bench model` options, print the JSON (and write `--out`)."""
    config = ModelConfig(
        mid_channels=args.mid_channels,
        num_blocks=args.num_blocks,
        batch=args.batch,
        frames=args.frames,
        height=args.height,
        width=args.width,
        device=args.device,
        precision=args.precision,
        repeats=args.repeats,
        matmul_size=args.matmul_size,
        op=args.op,
        profile=args.profile,
        channels_last=args.channels_last,
    )
    checkpointing = [c == "on" for c in args.checkpointing]  # repeats are dropped by run()
    results = run(config, args.impls, args.threads, args.passes, checkpointing)
    results = emit(results, command, args.out)
    if args.plot:
        plot(results, args.plot)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m vsr.bench.model`: `vsr-bench model`, or one case (`--case JSON`, internal)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--case"]:
        print(json.dumps(run_case(CaseSpec.from_json(json.loads(argv[1]))).to_json()))
        return 0
    if argv[:1] == ["--export"]:
        export_graph(ModelConfig(**json.loads(argv[1])), argv[2])
        return 0
    parser = argparse.ArgumentParser(prog="vsr-bench model", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    run_from_args(parser.parse_args(argv), " ".join(["vsr-bench model", *argv]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
