"""Peak memory and speed of `vsr-upscale` against the video's length.

For each length, a test video (an image panning over noise, 32x32 by default) is encoded, then
upscaled to mp4 by `vsr.inference.upscale_video` with a small random BasicVSR++ in a fresh
Python process, so every case has its own memory high-water mark (`ru_maxrss`). The streamed
run's peak should not depend on the length; for contrast, `--whole` also runs the short videos
in one model call, as the reference demos do.

    vsr-bench upscale                         # 50, 500, 5000 frames, chunk 50 + 10
    vsr-bench upscale --frames 50 500 --whole --out results.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vsr.machine import machine_info, peak_rss_mib, rss_mib


@dataclass(frozen=True)
class UpscaleCase:
    """One upscaled video: its length, how it was cut, time and memory (one of `results`).

    Attributes:
        frames: the video's length.
        mode: "chunk C + O" (streamed: C frames a window, O of context each side) or
            "whole clip" (one model call).
        seconds, frames_per_s: the upscaling's wall time and rate.
        rss_before_mib: resident memory before upscaling (interpreter, libraries, model).
        peak_rss_mib: the process's resident-set high-water mark after it.
        growth_mib: peak_rss_mib - rss_before_mib.
    """

    frames: int
    mode: str
    seconds: float
    frames_per_s: float
    rss_before_mib: float
    peak_rss_mib: float
    growth_mib: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class UpscaleResults:
    """A run of `vsr-bench upscale`: the setup in words and one case per length and mode."""

    setup: str
    results: tuple[UpscaleCase, ...] = field(default_factory=tuple)
    command: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "setup": self.setup,
            "results": [case.to_json() for case in self.results],
        }


def make_video(path: Path, num_frames: int, size: int, seed: int = 0) -> None:
    """A losslessly encoded test video: a noise texture panning one pixel per frame."""
    from vsr.inference.video_io import VideoWriter

    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 256, (size, 4 * size, 3), dtype=np.uint8)
    with VideoWriter(path, 25, lossless=True) as writer:
        for i in range(num_frames):
            writer.write(np.roll(texture, -i, axis=1)[:, :size])


def run_case(args: argparse.Namespace) -> UpscaleCase:
    """One measurement, in this process: upscale `args.video` and report time and memory."""
    import torch

    from vsr.inference.upscale import upscale_video
    from vsr.nn import BasicVSRPlusPlus

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = BasicVSRPlusPlus(mid_channels=args.mid_channels, num_blocks=args.num_blocks)
    chunk = args.frames if args.whole else args.chunk
    overlap = 0 if args.whole else args.overlap
    before = rss_mib()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = upscale_video(
            args.video, Path(tmp) / "out.mp4", model, chunk=chunk, overlap=overlap
        )
        seconds = time.perf_counter() - start
    peak = peak_rss_mib()
    return UpscaleCase(
        frames=result.frames,
        mode="whole clip" if args.whole else f"chunk {chunk} + {overlap}",
        seconds=round(seconds, 2),
        frames_per_s=round(result.frames / seconds, 2),
        rss_before_mib=round(before, 1),
        peak_rss_mib=round(peak, 1),
        growth_mib=round(peak - before, 1),
    )


def measure(frames: int, video: Path, args: argparse.Namespace, whole: bool = False) -> UpscaleCase:
    """Run one case in a fresh interpreter, so its memory peak is its own."""
    command = [
        sys.executable,
        "-m",
        "vsr.cli.bench",
        "upscale",
        "--case",
        str(video),
        "--frames",
        str(frames),
        "--threads",
        str(args.threads),
        "--chunk",
        str(args.chunk),
        "--overlap",
        str(args.overlap),
        "--mid-channels",
        str(args.mid_channels),
        "--num-blocks",
        str(args.num_blocks),
    ]
    if whole:
        command.append("--whole")
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark case failed:\n{done.stderr}")
    return UpscaleCase(**json.loads(done.stdout.strip().splitlines()[-1]))


def markdown(rows: Sequence[UpscaleCase]) -> str:
    head = (
        "| frames | mode | time (s) | frames/s | RSS before (MiB) | peak RSS (MiB) | growth (MiB) |"
    )
    lines = [head, "|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r.frames} | {r.mode} | {r.seconds} | {r.frames_per_s} | "
            f"{r.rss_before_mib} | {r.peak_rss_mib} | {r.growth_mib} |"
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `vsr-bench upscale`."""
    parser.add_argument("--frames", type=int, nargs="+", default=[50, 500, 5000])
    parser.add_argument("--size", type=int, default=32, help="low-res side (default 32)")
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--overlap", type=int, default=10)
    parser.add_argument("--mid-channels", type=int, default=8)
    parser.add_argument("--num-blocks", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--whole",
        action="store_true",
        help="also run videos of at most --whole-max frames in one model call, for contrast",
    )
    parser.add_argument("--whole-max", type=int, default=500)
    parser.add_argument("--out", type=Path, help="also write the results here (JSON)")
    parser.add_argument("--case", type=Path, help=argparse.SUPPRESS)  # internal: one measurement


def run_from_args(
    args: argparse.Namespace, command: str = "vsr-bench upscale"
) -> UpscaleResults | UpscaleCase:
    """Run with parsed `vsr-bench upscale` options: each length in a fresh process (or, with
    the internal `--case`, one measurement in this one); print and return the results."""
    if args.case is not None:
        args.video, args.frames = args.case, args.frames[0]
        result = run_case(args)
        print(json.dumps(result.to_json()))
        return result

    import torch

    machine = machine_info()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for frames in args.frames:
            video = Path(tmp) / f"in_{frames}.mkv"
            make_video(video, frames, args.size)
            runs = [False] + ([True] if args.whole and frames <= args.whole_max else [])
            for whole in runs:
                row = measure(frames, video, args, whole=whole)
                print(json.dumps(row.to_json()), flush=True)
                rows.append(row)
    setup = (
        f"{machine['processor']}, {machine['cpu_count']} cores, "
        f"torch {torch.__version__}, {args.threads} thread(s); BasicVSR++ c{args.mid_channels}"
        f"n{args.num_blocks} x4, {args.size}x{args.size} -> {4 * args.size}x{4 * args.size}, "
        "lossless mkv in, libx264 mp4 out"
    )
    print(f"\n{setup}\n\n{markdown(rows)}")
    results = UpscaleResults(setup, tuple(rows), command)
    if args.out:
        args.out.write_text(json.dumps(results.to_json(), indent=2))
    return results
