"""Speed, peak memory and FLOP utilisation of BasicVSR++, for inference and for training.

Every case (deformable-conv formulation x thread count x pass x activation checkpointing) runs
in a fresh Python process, so that its memory high-water mark is its own, and times:

* `forward`: `model(lqs)` under `torch.no_grad()` in eval mode (inference);
* `train`: `model(lqs).mean().backward()` in train mode (a training step without the optimizer);
* with `--op`, the modulated deformable convolution alone at the network's shapes (x of 2C
  channels, 16 deformable groups, C outputs, 3x3) instead of the whole network.

"auto" is timed as the formulation it picks for the device and pass (`resolved_impl`). The
first pass is a warm-up whose FLOPs are counted; where the backward pass recomputes part of the
forward (`sample_checkpoint`, activation checkpointing), the pass's own work is counted on a
plain pass afterwards. The next `--repeats` passes are timed, and the fastest is reported (the
others are listed: a shared machine only ever slows a pass down). Peak memory is the process's
resident-set high-water mark on the CPU (`ru_maxrss`; it includes the interpreter and the
libraries, see `rss_before_mib`), `torch.cuda.max_memory_allocated` on CUDA. FLOP utilisation
is the counted FLOPs per second relative to the FLOP rate of a large matrix product
(`--matmul-size`, fp32 unless `--precision` says otherwise) measured in the same process, with
the same device and thread count, before and after the passes (the faster).

FLOPs: `torch.utils.flop_counter.FlopCounterMode` counts the convolutions and matrix products
(2 per multiply-add; backward = grad input + grad weight). It does not see torchvision's
`deform_conv2d`, which is counted by hand, per call: 2·Cout·Cin·k²·H·W for the convolution
plus 8·Cin·k²·H·W for gathering its inputs (7 per bilinear sample: 4 multiplies, 3 additions;
1 for the mask); its backward counts twice that (columns and weight gradients; input, offset
and mask gradients). The "sample" formulation's matrix product is seen by FlopCounterMode and
equals the convolution term, so only its sampling term is added by hand: both formulations
count the same FLOPs (reported as `gflop`). Not counted: element-wise operations,
the flow warps' bilinear sampling, resizing, pooling.

    vsr-bench model                                     # c64n7, 1x5x64x64, 1 thread, both passes
    vsr-bench model --threads 1 2 --impls torchvision sample --out model.json
    vsr-bench model --op --impls torchvision sample     # the deformable conv alone
    vsr-bench model --passes train --profile            # where a training pass spends its time
    vsr-bench model --frames 30 --passes train --checkpointing off on
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from vsr.bench import emit, machine_info

BILINEAR_FLOPS = 7  # 4 multiplies + 3 additions per sampled value
PASSES = ("forward", "train")
PRECISIONS = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


# --------------------------------------------------------------------------- FLOPs


def deform_flops(n: int, c_in: int, c_out: int, k2: int, hw: int) -> tuple[int, int]:
    """(convolution, sampling) FLOPs of one modulated deformable conv forward pass."""
    return 2 * n * c_out * c_in * k2 * hw, (BILINEAR_FLOPS + 1) * n * c_in * k2 * hw


def _deform_forward_flop(input_shape, weight_shape, *args, out_shape, **kwargs) -> int:
    c_out, c_in, kh, kw = weight_shape
    conv, sampling = deform_flops(
        input_shape[0], c_in, c_out, kh * kw, out_shape[-2] * out_shape[-1]
    )
    return conv + sampling


def _deform_backward_flop(grad_shape, input_shape, weight_shape, *args, out_shape, **kwargs):
    c_out, c_in, kh, kw = weight_shape
    conv, sampling = deform_flops(
        input_shape[0], c_in, c_out, kh * kw, grad_shape[-2] * grad_shape[-1]
    )
    return 2 * (conv + sampling)


def _flop_counter():
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    ops = torch.ops.torchvision
    mapping = {
        ops.deform_conv2d: _deform_forward_flop,
        ops._deform_conv2d_backward: _deform_backward_flop,
    }
    return FlopCounterMode(display=False, custom_mapping=mapping)


def _count_sampling(modules, train: bool) -> tuple[list[int], list]:
    """Forward hooks correcting the FLOP count of "sample"-formulation deformable convs.

    FlopCounterMode sees their matrix products (the convolution term) but not the sampling,
    which is added here (backward: twice the forward).
    """
    total = [0]

    def hook(module, args, out):
        if module.deform_impl.startswith("sample"):
            n, c_out, h, w = out.shape
            k2 = module.weight[0, 0].numel()
            _, sampling = deform_flops(n, module.weight.shape[1], c_out, k2, h * w)
            total[0] += sampling * (3 if train else 1)

    handles = [m.register_forward_hook(hook) for m in modules]
    return total, handles


# --------------------------------------------------------------------------- one case


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)  # bytes on macOS, KiB else


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device, dtype, size: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of the fastest of `repeats` (size x size) @ (size x size) products."""
    import torch

    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    out = torch.empty(size, size, device=device, dtype=dtype)
    torch.matmul(a, b, out=out)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        torch.matmul(a, b, out=out)
        _sync(device)
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


def run_case(spec: dict) -> dict:
    """One measurement, in this process (see the module docstring); returns its results."""
    import torch

    from vsr.nn import BasicVSRPlusPlus
    from vsr.nn.alignment import FlowGuidedDeformableAlignment
    from vsr.nn.deform import auto_impl

    torch.set_num_threads(spec["threads"])
    device = torch.device(spec["device"])
    dtype = getattr(torch, PRECISIONS[spec["precision"]])
    train = spec["pass"] == "train"
    n, t, h, w = spec["batch"], spec["frames"], spec["height"], spec["width"]
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)

    peak_before = matmul_peak(device, dtype, spec["matmul_size"])
    # "auto" is timed as what it picks for this device and pass.
    impl = auto_impl(device, train) if spec["impl"] == "auto" else spec["impl"]
    if spec["op"]:
        model = _deform_op(spec["mid_channels"], n, h, w, generator).to(device)
        inputs = ()
        deform_modules = [model]
        frames = n  # one (n, 2C, h, w) call per pass
    else:
        model = BasicVSRPlusPlus(spec["mid_channels"], spec["num_blocks"]).to(device)
        if spec.get("channels_last"):
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
        if not spec["op"]:
            model.gradient_checkpointing = checkpointing

    configure(impl, spec["checkpointing"])

    def one_pass():
        with torch.autocast(device.type, dtype=dtype, enabled=spec["precision"] != "fp32"):
            with torch.set_grad_enabled(train):
                out = model(*inputs)
            if train:
                out.float().mean().backward()
        if train:
            for p in model.parameters():
                p.grad = None
        _sync(device)

    rss_before = _peak_rss_mib()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def counted_pass() -> int:
        # The work of the pass, not of the recomputations that checkpointing adds: counted on
        # the same pass without checkpointing ("sample" for "sample_checkpoint").
        configure(counted_impl, False)
        sampling, handles = _count_sampling(deform_modules, train)
        with _flop_counter() as counter:
            one_pass()
        for handle in handles:
            handle.remove()
        configure(impl, spec["checkpointing"])
        return counter.get_total_flops() + sampling[0]

    # The warm-up pass is the counted one, unless checkpointing makes it recompute: then the
    # counted pass runs after the memory high-water mark is read.
    counted_impl = "sample" if impl == "sample_checkpoint" else impl
    plain = counted_impl == impl and not (spec["checkpointing"] and train)
    flops = counted_pass() if plain else None
    if flops is None:
        one_pass()

    times = []
    for _ in range(spec["repeats"]):
        _sync(device)
        start = time.perf_counter()
        one_pass()
        times.append(time.perf_counter() - start)
    best = min(times)
    if device.type == "cuda":
        peak_memory = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak_memory = _peak_rss_mib()
    if flops is None:
        flops = counted_pass()
    profile = _profile(one_pass, device) if spec.get("profile") else None
    # Measured again after the passes: other jobs on a shared machine can slow one measurement.
    peak = max(peak_before, matmul_peak(device, dtype, spec["matmul_size"]))
    result = {
        "torch": torch.__version__,
        "impl": spec["impl"],
        "resolved_impl": impl,
        "checkpointing": spec["checkpointing"],
        "channels_last": bool(spec.get("channels_last")),
        "threads": spec["threads"],
        "pass": spec["pass"],
        "gflop": round(flops / 1e9, 3),
        "time_s": round(best, 4),
        "times_s": [round(s, 4) for s in times],
        "median_time_s": round(statistics.median(times), 4),
        "frames_per_s": round(frames / best, 4),
        "gflop_per_s": round(flops / best / 1e9, 2),
        "matmul_peak_gflop_per_s": round(peak / 1e9, 2),
        "peak_fraction": round(flops / best / peak, 4),
    }
    result["peak_memory_mib"] = round(peak_memory, 1)
    if device.type != "cuda":
        result["rss_before_mib"] = round(rss_before, 1)
    if profile is not None:
        result["profile"] = profile
    return result


def _profile(one_pass: Callable[[], None], device, top: int = 15) -> list[dict]:
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
    return [
        {
            "op": e.key,
            "self_s": round(getattr(e, attr) / 1e6, 4),
            "share": round(getattr(e, attr) / total, 4),
            "calls": e.count,
        }
        for e in ops[:top]
    ]


# --------------------------------------------------------------------------- all cases


def run(
    config: dict,
    impls: Sequence[str] = ("torchvision",),
    threads: Sequence[int] = (1,),
    passes: Sequence[str] = PASSES,
    checkpointing: Sequence[bool] = (False,),
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> dict:
    """Run every (impl, threads, pass) case in its own process; returns JSON-ready results.

    Args:
        config: the case settings shared by all cases: mid_channels, num_blocks, batch,
            frames, height, width, device, precision, repeats, matmul_size, op, profile,
            channels_last.
        impls: deformable-conv formulations (`vsr.nn.deform.IMPLS`).
        threads: torch thread counts.
        passes: "forward" and/or "train".
        checkpointing: activation checkpointing (`BasicVSRPlusPlus.gradient_checkpointing`)
            off and/or on; it changes only training passes.
        log: progress messages.
    """
    results: dict = {
        "machine": machine_info(),
        "config": dict(config),
        "measured": "time_s: fastest timed pass (forward: no_grad inference; train: forward + "
        "backward of the mean); gflop: FLOPs per pass (FlopCounterMode + deformable conv by hand); "
        "peak_fraction: gflop_per_s / matmul_peak_gflop_per_s, both measured in the case's process; "
        "peak_memory_mib: CPU resident-set high-water mark of the process, CUDA max allocated",
        "cases": [],
    }
    from vsr.nn.deform import IMPLS

    unknown = sorted(set(impls) - {"auto", *IMPLS})
    if unknown:
        raise ValueError(f"unknown --impls {unknown}: choose from auto, {', '.join(IMPLS)}")
    # Checkpointing only changes training passes of the network: other cases run once, off.
    cases: list[dict] = []
    for impl in impls:
        for n in threads:
            for name in passes:
                for ckpt in dict.fromkeys(
                    c and name == "train" and not config.get("op") for c in checkpointing
                ):
                    cases.append(
                        {**config, "impl": impl, "threads": n, "pass": name, "checkpointing": ckpt}
                    )
    for spec in cases:
        label = f"[{case_label(spec)}, {spec['pass']}]"
        log(f"{label} running")
        env = {
            **os.environ,
            "OMP_NUM_THREADS": str(spec["threads"]),
            "MKL_NUM_THREADS": str(spec["threads"]),
        }
        proc = subprocess.run(
            [sys.executable, "-m", "vsr.bench.model", "--case", json.dumps(spec)],
            capture_output=True,
            text=True,
            env=env,
        )
        if proc.returncode:
            raise RuntimeError(f"case {spec} failed:\n{proc.stderr}")
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        log(
            f"{label} {row['time_s']} s, {row['gflop']} GFLOP, "
            f"{100 * row['peak_fraction']:.1f}% of matmul peak, {row['peak_memory_mib']} MiB"
        )
        for op in row.get("profile", [])[:8]:
            log(
                f"    {100 * op['share']:5.1f}%  {op['self_s']:8.3f} s  {op['calls']:5d}x  {op['op']}"
            )
        results["cases"].append(row)
    return results


def case_label(case: dict) -> str:
    """Short name of a case within its pass: formulation (as run), threads, checkpointing."""
    impl = case["impl"]
    if case.get("resolved_impl", impl) != impl:
        impl += f" ({case['resolved_impl']})"
    label = f"{impl}, {case['threads']} thread{'s' if case['threads'] > 1 else ''}"
    return label + (", checkpointing" if case.get("checkpointing") else "")


def plot(results: dict, path: str) -> None:
    """Horizontal bars: seconds per pass of every case, labelled with the share of the matmul
    peak and the peak memory; forward and training passes side by side, the reference
    (torchvision's kernel) in grey."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    cases = results["cases"]
    passes = [p for p in PASSES if any(c["pass"] == p for c in cases)]
    fig, axes = plt.subplots(
        1, len(passes), figsize=(7.5 * len(passes), 0.5 * len(cases) + 1.6), dpi=110, squeeze=False
    )
    for ax, name in zip(axes[0], passes, strict=True):
        rows = [c for c in cases if c["pass"] == name]
        times = [c["time_s"] for c in rows]
        colors = ["tab:gray" if c["impl"] == "torchvision" else "tab:blue" for c in rows]
        bars = ax.barh(range(len(rows)), times, color=colors, alpha=0.85)
        ax.set_yticks(range(len(rows)), [case_label(c) for c in rows], fontsize=8)
        ax.invert_yaxis()
        for bar, c in zip(bars, rows, strict=True):
            ax.annotate(
                f" {c['time_s']:.3g} s, {100 * c['peak_fraction']:.0f}% of peak, "
                f"{c['peak_memory_mib']:.0f} MiB",
                (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                va="center",
                fontsize=7,
            )
        ax.set_xlim(0, 2.2 * max(times))
        ax.set_xlabel("seconds per pass (fastest)")
        ax.set_title(name, fontsize=10)
        ax.grid(True, axis="x", alpha=0.3)
    config = results["config"]
    shape = f"{config['batch']}x{config['frames']}x{config['height']}x{config['width']}"
    what = (
        "deformable conv alone"
        if config.get("op")
        else f"c{config['mid_channels']}n{config['num_blocks']}"
    )
    fig.suptitle(
        f"vsr-bench model: {what}, {shape}, {config['device']}, {config['precision']}", fontsize=10
    )
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
        help="fp32, or autocast to bf16/fp16 (default fp32)",
    )  # fmt: skip
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[1], help="torch thread counts (default 1)"
    )
    parser.add_argument(
        "--impls", nargs="+", default=["torchvision", "auto"],
        help="deformable-conv formulations: auto (what the network picks for the device "
        "and pass), torchvision, sample, sample_checkpoint (vsr.nn.deform; default: "
        "torchvision auto)",
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


def run_from_args(args: argparse.Namespace, command: str = "vsr-bench model") -> dict:
    """Run with parsed `vsr-bench model` options, print the JSON (and write `--out`)."""
    keys = ("mid_channels", "num_blocks", "batch", "frames", "height", "width", "device")
    config = {k: getattr(args, k) for k in keys}
    config.update(precision=args.precision, repeats=args.repeats, matmul_size=args.matmul_size)
    config.update(op=args.op, profile=args.profile, channels_last=args.channels_last)
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
        print(json.dumps(run_case(json.loads(argv[1]))))
        return 0
    parser = argparse.ArgumentParser(prog="vsr-bench model", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    run_from_args(parser.parse_args(argv), " ".join(["vsr-bench model", *argv]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
