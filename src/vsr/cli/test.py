"""vsr-test: score a checkpoint on video super-resolution benchmarks, each with its protocol.

    vsr-test --checkpoint basicvsr_plusplus_c64n7_8x1_600k_reds4_20210217-db622b2f.pth \\
        --bench reds4=/data/REDS --bench vid4-bi=/data/Vid4 --bench vimeo90k-t-bd=/data/vimeo90k
    vsr-test -c model.ckpt --bench folder=/my/clips --y-channel --degradation bd
    vsr-test --list-benchmarks

A plain command line with named presets rather than a Hydra config: evaluation is one shot with
a handful of knobs, each benchmark's protocol is fixed by its name (so it cannot slip), and
`NAME=PATH` pairs for several benchmarks read naturally here but not as Hydra overrides.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsr.evaluation.benchmarks import BENCHMARKS, Benchmark, describe_presets, parse_bench

if TYPE_CHECKING:  # evaluate imports torch, which --help and the path checks do without
    from vsr.evaluation.evaluate import BenchmarkResult, ClipScore, EvaluationResult

PER_CLIP_TABLE_LIMIT = 50  # longer benchmarks (Vimeo-90K-T: 7,824 clips) go to the CSV only

# Options that describe a custom `folder=` benchmark; presets carry their own protocol.
CUSTOM_OPTIONS = (
    "y_channel",
    "degradation",
    "gt_dir",
    "lr_dir",
    "list_file",
    "mirror",
    "gt_frames",
    "crop_border",
)


class UsageError(Exception):
    """A command-line problem found after parsing (exit status 2)."""


def _presets_text() -> str:
    rows = describe_presets()
    keys = ("name", "layout", "split", "low-res", "channel", "input", "scored")
    widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in keys}
    lines = ["  ".join(k.ljust(widths[k]) for k in keys).rstrip()]
    lines += ["  ".join(r[k].ljust(widths[k]) for k in keys).rstrip() for r in rows]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vsr-test",
        description="Score a BasicVSR++ checkpoint (vsr, mmagic or BasicSR) on benchmarks, each\n"
        "with its published protocol: PSNR/SSIM on uint8-rounded outputs, border 0, per frame\n"
        "-> per clip -> mean over clips. Prints per-clip tables and the means, and writes\n"
        "results.json and results.csv.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="benchmarks (--bench NAME=PATH; --list-benchmarks shows the expected layouts):\n"
        + "\n".join(f"  {line}" for line in _presets_text().splitlines())
        + "\n\nexamples:\n"
        "  vsr-test -c basicvsr_plusplus_c64n7_8x1_600k_reds4_20210217-db622b2f.pth \\\n"
        "      --bench reds4=/data/REDS --bench vid4-bi=/data/Vid4\n"
        "  vsr-test -c last.ckpt --bench folder=/my/clips --y-channel --max-frames 10",
    )
    parser.add_argument(
        "-c",
        "--checkpoint",
        help="checkpoint file: vsr (.ckpt), mmagic/MMEditing, BasicSR, or "
        "a bare BasicVSR++ state dict; the architecture is read off the tensors",
    )
    parser.add_argument(
        "-b",
        "--bench",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="benchmark preset and its data root; repeat for several benchmarks. folder=PATH "
        "is a custom set, named after its folder, scored as the custom options below say",
    )
    parser.add_argument(
        "--list-benchmarks",
        action="store_true",
        help="list the presets, their protocols and expected layouts, and exit",
    )
    parser.add_argument(
        "-o",
        "--output-dir",
        help="where results.json, results.csv and frames go (default: results/<checkpoint stem>)",
    )
    parser.add_argument(
        "--device",
        help="cpu, cuda, cuda:1, mps, ... (default: cuda if available, then mps, else cpu)",
    )
    parser.add_argument(
        "--ensemble",
        action="store_true",
        help="x8 self-ensemble: average the outputs for the flips and transpose of each clip",
    )
    parser.add_argument(
        "--save-frames",
        action="store_true",
        help="save the scored output frames as <output-dir>/<bench>/<clip>/%%08d.png",
    )
    parser.add_argument(
        "--max-frames",
        type=_positive,
        help="score only the first N frames of each clip (quick checks, not the protocol)",
    )
    parser.add_argument(
        "--max-clips",
        type=_positive,
        help="score only the first N clips of each benchmark (quick checks, not the protocol)",
    )
    parser.add_argument(
        "--lr",
        choices=("auto", "stored", "generate"),
        default="auto",
        help="low-res frames: stored ones when their folder exists, else made with the "
        "benchmark's degradation (auto, default); require stored ones; or always make them",
    )
    parser.add_argument(
        "--cpu-cache-length",
        type=_positive,
        help="clips longer than this keep per-frame features in CPU memory (default: the "
        "network's, 100); lower it if a clip runs out of accelerator memory",
    )
    parser.add_argument(
        "--no-ema", action="store_true", help="use the plain weights even if EMA ones are stored"
    )
    parser.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow checkpoints that pickle Python objects (only files you trust)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="processes reading the next clip while one runs (default 0: none); each clip "
        "passes through shared memory (a REDS4 clip's GT is 1.1 GB as float32)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")

    parser.add_argument(
        "--sigma",
        type=_sigma,
        help="noise level of the denoising presets (set8, davis), 0-255 scale (default 50); "
        "the noise is seeded per clip, so a test set is the same every run",
    )
    custom = parser.add_argument_group(
        "custom benchmarks (folder=PATH only; presets carry their protocol)"
    )
    custom.add_argument(
        "--y-channel", action="store_true", default=None, help="score the Y (BT.601) channel"
    )
    custom.add_argument(
        "--degradation",
        choices=("bi", "bd"),
        help="low-res folder BIx4 or BDx4 (default bi), and how missing low-res frames are made",
    )
    custom.add_argument("--gt-dir", help="GT folder under the root (default: GT/ if present)")
    custom.add_argument("--lr-dir", help="low-res folder under the root (default: BIx4/BDx4)")
    custom.add_argument("--list-file", help="file naming the clips to score, one per line")
    custom.add_argument(
        "--mirror",
        action="store_true",
        default=None,
        help="feed each clip followed by itself reversed and average the two outputs per frame",
    )
    custom.add_argument(
        "--gt-frames",
        type=_frame_list,
        help="0-based frames to score, comma-separated, as the data configs' gt_frames "
        "(default: all)",
    )
    custom.add_argument(
        "--crop-border", type=int, help="pixels removed on every side before scoring (default 0)"
    )
    return parser


def _sigma(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 255:
        raise argparse.ArgumentTypeError(f"expected a noise sigma in [0, 255], got {text!r}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _frame_list(text: str) -> tuple[int, ...]:
    try:
        frames = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("expected 0-based frame numbers like 3 or 0,3,6") from None
    if not frames or min(frames) < 0:
        raise argparse.ArgumentTypeError(f"expected non-negative frame numbers, got {text!r}")
    return frames


def resolve_benchmarks(args: argparse.Namespace) -> list[Benchmark]:
    """The benchmarks of `--bench`, custom options applied, with distinct names.

    Raises:
        UsageError: an unknown preset, a malformed NAME=PATH, or custom options without any
            `folder=` benchmark.
    """
    if not args.bench:
        raise UsageError("give at least one --bench NAME=PATH (see --list-benchmarks)")
    benchmarks = []
    for text in args.bench:
        try:
            benchmarks.append(parse_bench(text))
        except ValueError as err:
            raise UsageError(str(err)) from None
    custom = {k: getattr(args, k) for k in CUSTOM_OPTIONS if getattr(args, k) is not None}
    if custom and not any(b.name == "folder" for b in benchmarks):
        flags = ", ".join("--" + k.replace("_", "-") for k in custom)
        raise UsageError(
            f"{flags} describe custom folder=PATH benchmarks; the presets carry their own "
            "protocol (use folder=PATH to score a preset's data differently)"
        )
    if args.sigma is not None:
        from vsr.data.corruptions import GaussianNoise

        noisy = [b for b in benchmarks if isinstance(b.degradation, GaussianNoise)]
        if not noisy:
            raise UsageError("--sigma sets the noise of the denoising presets (set8, davis)")
        benchmarks = [
            b.replace(degradation=GaussianNoise(sigma=args.sigma)) if b in noisy else b
            for b in benchmarks
        ]
    out: list[Benchmark] = []
    taken: set[str] = set()
    for bench in benchmarks:
        if bench.name == "folder":
            assert bench.root is not None
            label = re.sub(r"[^A-Za-z0-9_.-]+", "_", bench.root.resolve().name) or "folder"
            bench = bench.replace(name=label, title=label, **custom)
        name, n = bench.name, 2
        while name in taken:
            name, n = f"{bench.name}-{n}", n + 1
        taken.add(name)
        out.append(bench.replace(name=name) if name != bench.name else bench)
    return out


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def clip_table(result: BenchmarkResult):
    """Rich table of one benchmark's clips, with the mean as the last row."""
    from rich.table import Table

    table = Table(title=f"{result.title}, {result.protocol['channel']}", title_justify="left")
    baseline = result.input_psnr is not None  # same size: the input's own scores beside
    columns = ["clip", "frames", "PSNR", "SSIM"]
    columns += ["input PSNR", "input SSIM"] if baseline else []
    for column in [*columns, "seconds"]:
        table.add_column(column, justify="left" if column == "clip" else "right")
    for clip, score in result.clips.items():
        table.add_row(
            clip,
            str(len(score.frames)),
            f"{score.psnr:.4f}",
            f"{score.ssim:.4f}",
            *([f"{score.input_psnr:.4f}", f"{score.input_ssim:.4f}"] if baseline else []),
            f"{score.seconds:.2f}",
        )
    table.add_section()
    means = [f"{result.psnr:.4f}", f"{result.ssim:.4f}"]
    means += [f"{result.input_psnr:.4f}", f"{result.input_ssim:.4f}"] if baseline else []
    table.add_row("mean", "", *means, "", style="bold")
    return table


def _scored(protocol: dict[str, Any]) -> str:
    """`all frames`, `mirrored input, GT frame 4 (mean of its 2 outputs)`, ... (1-based)."""
    frames = protocol["gt_frames"]
    if frames is None:
        text = "all frames"
    else:
        text = f"GT frame{'s' if len(frames) > 1 else ''} " + ",".join(str(f + 1) for f in frames)
    return f"mirrored input, {text} (mean of its 2 outputs)" if protocol["mirror"] else text


def summary_table(results: EvaluationResult):
    """Rich table with one row per benchmark: clips, channel, mean PSNR and SSIM."""
    from rich.table import Table

    table = Table(title="mean over clips", title_justify="left")
    for column in ("benchmark", "clips", "channel", "PSNR", "SSIM", "input PSNR"):
        table.add_column(column, justify="left" if column == "benchmark" else "right")
    for name, result in results.benchmarks.items():
        table.add_row(
            name,
            str(result.num_clips),
            result.protocol["channel"],
            f"{result.psnr:.4f}",
            f"{result.ssim:.4f}",
            f"{result.input_psnr:.4f}" if result.input_psnr is not None else "-",
        )
    return table


def run(args: argparse.Namespace, benchmarks: list[Benchmark]) -> Path:
    """Evaluate, print the tables, write the results; returns the output folder."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from vsr.evaluation.evaluate import evaluate_checkpoint, write_results

    checkpoint = Path(args.checkpoint).expanduser()
    out = Path(args.output_dir or Path("results") / checkpoint.stem).expanduser()
    console, err_console = _console(), _console(stderr=True)
    progress = Progress(
        "[bold]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=args.no_progress,
    )
    tasks: dict[str, Any] = {}

    def on_start(bench: Benchmark, clips: Any) -> None:
        made = "input" if bench.scale == 1 else "low-res"
        low_res = (
            f"; {made} made on the fly ({bench.degradation_name()})"
            if clips.generate_lr or clips.corrupt is not None
            else ""
        )
        console.print(
            f"{bench.title} ({bench.name}): {len(clips)} clip{'s' if len(clips) != 1 else ''} "
            f"from {bench.root}; "
            f"{bench.channel}, {_scored(bench.protocol())}{low_res}",
            soft_wrap=True,
        )
        tasks[bench.name] = progress.add_task(bench.name, total=len(clips))

    def on_clip(bench: Benchmark, clip: str, score: ClipScore) -> None:
        progress.advance(tasks[bench.name])

    def on_done(bench: Benchmark, result: BenchmarkResult) -> None:
        progress.remove_task(tasks[bench.name])
        if result.num_clips <= PER_CLIP_TABLE_LIMIT:
            console.print(clip_table(result))
        else:
            console.print(
                f"{result.title}: {result.num_clips} clips, per-clip scores in the CSV; "
                f"mean PSNR {result.psnr:.4f}, SSIM {result.ssim:.4f}"
            )

    with progress:
        results = evaluate_checkpoint(
            checkpoint,
            benchmarks,
            device=args.device,
            ensemble=args.ensemble,
            ema=not args.no_ema,
            trusted=args.trust_checkpoint,
            cpu_cache_length=args.cpu_cache_length,
            lr_source=args.lr,
            max_frames=args.max_frames,
            max_clips=args.max_clips,
            frames_dir=out if args.save_frames else None,
            workers=args.workers,
            on_start=on_start,
            on_clip=on_clip,
            on_done=on_done,
        )
    results.command = " ".join(["vsr-test", *sys.argv[1:]])
    json_path, csv_path = write_results(results, out)
    arch = results.architecture
    console.print(
        f"checkpoint {checkpoint.name}: c{arch.get('mid_channels')}n{arch.get('num_blocks')} "
        f"x{arch.get('scale', 1)}, {arch['parameters']:,} parameters, on {results.device}"
        + (", x8 self-ensemble" if args.ensemble else "")
    )
    console.print(summary_table(results))
    if args.max_frames or args.max_clips:
        console.print("note: --max-frames/--max-clips used; not comparable to published numbers")
    console.print(f"wrote {json_path} and {csv_path}")
    if args.save_frames:
        console.print(f"frames in {out}/<benchmark>/<clip>/")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `vsr-test`; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_benchmarks:
        print(_presets_text())
        for bench in BENCHMARKS.values():
            print(f"\n{bench.name}: {bench.title}; {bench.reference}\n{bench.layout_help.strip()}")
        return 0
    try:
        if not args.checkpoint:
            raise UsageError("--checkpoint is required")
        benchmarks = resolve_benchmarks(args)
    except UsageError as err:
        parser.error(str(err))

    from vsr.data.validate import DataError

    try:  # wrong paths fail here, in a second, before torch is even imported
        if not Path(args.checkpoint).expanduser().is_file():
            raise FileNotFoundError(f"checkpoint not found: {args.checkpoint}")
        for bench in benchmarks:
            bench.layout(lr_source=args.lr)
    except (DataError, FileNotFoundError) as err:
        if args.debug:
            raise
        print(f"vsr-test: error: {err}", file=sys.stderr)
        return 1

    import torch

    from vsr.nn.checkpoint import CheckpointError

    try:
        run(args, benchmarks)
    except KeyboardInterrupt:
        print("vsr-test: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if args.debug:
            raise
        if isinstance(err, torch.cuda.OutOfMemoryError):
            message = (
                f"out of accelerator memory ({err}). Lower --cpu-cache-length (e.g. 20) so "
                "long clips keep their features in CPU memory, or try --max-frames"
            )
        elif isinstance(err, (DataError, CheckpointError, OSError, ValueError)):
            message = str(err)
        else:
            message = f"{type(err).__name__}: {err} (run with --debug for the traceback)"
        print(f"vsr-test: error: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
