"""Upscale a video or a folder of frames with a BasicVSR++ checkpoint (`vsr-upscale`), or
restore it at its own size with a same-size one: deblurring, denoising, decompression
(`vsr-restore`, the same command for those models).

Frames are decoded, super-resolved and encoded as a stream, in overlapping temporal chunks
(and optionally spatial tiles), so memory does not grow with the video's length and chunk
borders leave no seam. The output is written as OUTPUT.partial.<ext> (or OUTPUT.partial/) and
renamed when complete; an interrupted run leaves a playable partial video under that name.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import warnings
from collections.abc import Sequence
from fractions import Fraction

PROG = "vsr-upscale"
# The command's name in messages: vsr-upscale, or vsr-restore.
_prog = PROG

EXAMPLES = """\
examples:
  vsr-upscale in.mp4 out.mp4 --checkpoint basicvsr_plusplus_c64n7_8x1_600k_reds4_20210217-db622b2f.pth
  vsr-upscale in.mp4 frames_out/ --checkpoint model.pth          # PNGs 00000000.png, ...
  vsr-upscale frames_in/ out.mkv --checkpoint model.pth --fps 30 --lossless
  vsr-upscale in.mov out.mp4 --checkpoint model.pth --tile 256 --precision fp16 --crf 14
  vsr-upscale in.mp4 out.mp4 --checkpoint model.pth --chunk 30 --overlap 8 --device cpu --threads 4
  vsr-upscale in.mp4 out.mp4 --backend onnxruntime --checkpoint model.onnx   # from vsr-export

Same-size models (deblurring, denoising, decompression) run the same way, or as vsr-restore:
  vsr-restore blurry.mp4 sharp.mp4 --checkpoint basicvsr_plusplus_deblur_dvd-ecd08b7f.pth

Sound and subtitles are carried over (copied, or audio re-encoded to AAC when the output
container does not take its codec); --no-audio leaves them out. Frame folders are read in
natural order (frame2 before frame10).
Out of memory? Lower --chunk, or tile large frames with --tile 256.
"""


def _fps(text: str) -> Fraction:
    from vsr.inference.video_io import check_fps  # late: vsr.inference imports torch

    try:
        return check_fps(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EXAMPLES,
    )
    parser.add_argument("input", metavar="INPUT", help="video file, or folder of frames")
    parser.add_argument(
        "output",
        metavar="OUTPUT",
        help="video file (.mp4 .mkv .mov .avi .m4v), or any other path for a folder of PNGs",
    )
    parser.add_argument(
        "-c",
        "--checkpoint",
        required=True,
        help="BasicVSR++ weights: mmagic/MMEditing, BasicSR, vsr checkpoint or bare state dict",
    )
    parser.add_argument(
        "--backend",
        choices=("pytorch", "onnxruntime"),
        help="run a PyTorch checkpoint, or an ONNX graph written by vsr-export in ONNX Runtime "
        "(CPU); default: onnxruntime for a .onnx CHECKPOINT, pytorch otherwise",
    )
    parser.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow checkpoints that hold arbitrary Python objects (only files you trust)",
    )

    group = parser.add_argument_group("chunks and tiles")
    group.add_argument(
        "--chunk",
        type=int,
        help="output frames per model call (default 50; an ONNX graph: its clip length "
        "less the overlaps)",
    )
    group.add_argument(
        "--overlap",
        type=int,
        help="context frames on each side of a chunk, outputs dropped (default 10; an ONNX "
        "graph: a quarter of its clip length)",
    )
    group.add_argument(
        "--tile",
        type=int,
        default=0,
        help="tile side in input pixels for large frames, e.g. 256 (default 0: whole frames)",
    )
    group.add_argument(
        "--tile-overlap",
        type=int,
        default=16,
        help="input pixels shared by neighbouring tiles, blended (default 16)",
    )

    group = parser.add_argument_group("compute")
    group.add_argument(
        "--device", default="auto", help="cuda, cuda:1, mps, cpu or auto (default: best available)"
    )
    group.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16", "fp16"),
        default="auto",
        help="bf16/fp16: autocast on a GPU; bf16 also on CPUs with AVX-512 BF16 or AMX. A "
        "chunk whose output overflows is recomputed in fp32, with a warning. auto (default): "
        "bf16 on a CPU with native bf16 (1.8x fp32 there), fp32 elsewhere",
    )
    group.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's)")

    group = parser.add_argument_group("video output")
    group.add_argument(
        "--fps",
        type=_fps,
        help="frame rate, e.g. 25 or 30000/1001 (default: the input's; 25 for frame folders)",
    )
    group.add_argument("--codec", help="encoder (default libx264; libx264rgb when --lossless)")
    group.add_argument(
        "--crf", type=int, help="quality for x264/x265/AV1/VP9, lower is better (default 18)"
    )
    group.add_argument(
        "--lossless",
        action="store_true",
        help="exact RGB: libx264rgb at qp 0 (mp4/mkv/mov/avi), or --codec ffv1 (mkv)",
    )
    group.add_argument("--pix-fmt", help="encoder pixel format (default yuv420p)")

    group = parser.add_argument_group("behaviour")
    group.add_argument(
        "--scene-cuts",
        default="auto",
        metavar="auto|off|FILE",
        help="process each shot as its own clip, so nothing carries across a cut: detect the "
        "cuts (auto, default), none (off), or read them from FILE (0-based first frame of "
        "each new shot, one per line or comma-separated)",
    )
    group.add_argument(
        "--no-audio",
        action="store_true",
        help="leave out the input's sound and subtitles (default: carried into a video OUTPUT)",
    )
    group.add_argument(
        "--report",
        metavar="FILE",
        help="write a JSON summary there at the end: frames, seconds, frames/s, device, "
        "precision, scene cuts, what happened to the sound",
    )
    group.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT")
    group.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    group.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser


def _progress_bar():
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.text import Text

    # Frames arrive a chunk at a time, so rich's windowed speed swings; the average does not.
    def average_speed(task) -> float | None:
        return task.completed / task.elapsed if task.elapsed and task.completed else None

    class FramesPerSecond(ProgressColumn):
        def render(self, task) -> Text:
            speed = average_speed(task)
            return Text("-- frames/s" if speed is None else f"{speed:.2f} frames/s")

    class Remaining(ProgressColumn):
        def render(self, task) -> Text:
            speed = average_speed(task)
            if speed is None or task.total is None:
                return Text("ETA -:--:--")
            seconds = int((task.total - task.completed) / speed)
            return Text(f"ETA {seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}")

    return Progress(
        TextColumn("[bold]upscale"),
        BarColumn(),
        MofNCompleteColumn(),
        FramesPerSecond(),
        TimeElapsedColumn(),
        Remaining(),
    )


def _one_line(err: BaseException, limit: int = 400) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"{_prog}: warning: {message}", file=sys.stderr)


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    """Upscale as the parsed arguments say; returns the exit status (errors raise)."""
    import torch

    from vsr.inference.upscale import upscale_video

    if args.threads:
        torch.set_num_threads(args.threads)
    check_backend(args.backend, args.checkpoint)
    bar = task = None

    def progress(done: int, total: int | None) -> None:
        nonlocal bar, task
        if bar is None:  # started once frames flow, so early errors print no empty bar
            bar = _progress_bar()
            bar.start()
            task = bar.add_task("upscale", total=total)
        bar.update(task, completed=done, total=total)

    try:
        # Paths and settings are checked before the checkpoint is loaded.
        result = upscale_video(
            args.input,
            args.output,
            args.checkpoint,
            trusted=args.trust_checkpoint,
            chunk=args.chunk,
            overlap=args.overlap,
            tile=args.tile,
            tile_overlap=args.tile_overlap,
            device=args.device,
            precision=args.precision,
            fps=args.fps,
            codec=args.codec,
            crf=args.crf,
            pix_fmt=args.pix_fmt,
            lossless=args.lossless,
            overwrite=args.overwrite,
            progress=None if args.quiet else progress,
            scale=1 if _prog == "vsr-restore" else None,
            audio=not args.no_audio,
            scene_cuts=args.scene_cuts,
        )
    finally:
        if bar is not None:
            bar.stop()
    if not args.quiet:
        print(
            f"wrote {result.output}: {result.frames} frames at {float(result.fps):g} fps "
            f"in {result.seconds:.1f} s ({result.frames / result.seconds:.2f} frames/s)"
        )
    if args.report:
        write_report(args, result)
    return 0


def check_backend(backend: str | None, checkpoint: str) -> None:
    """A .onnx file runs in ONNX Runtime, anything else in PyTorch; refuse a mix-up."""
    from vsr.inference.runtime import is_onnx_path

    if backend is None:
        return
    if (backend == "onnxruntime") != is_onnx_path(checkpoint):
        wanted = (
            "an ONNX graph (.onnx, from vsr-export)"
            if backend == "onnxruntime"
            else ("a PyTorch checkpoint, not a .onnx graph")
        )
        raise ValueError(f"--backend {backend} runs {wanted}; got --checkpoint {checkpoint}")


def write_report(args: argparse.Namespace, result) -> None:
    """The run's JSON summary at `--report`, written atomically."""
    import json
    import os
    from dataclasses import asdict
    from pathlib import Path

    from vsr.inference.runtime import is_onnx_path
    from vsr.machine import describe_device, select_device

    onnx = is_onnx_path(args.checkpoint)
    summary = {
        "input": str(args.input),
        "output": str(result.output),
        "checkpoint": str(args.checkpoint),
        "frames": result.frames,
        "fps": str(result.fps),
        "seconds": round(result.seconds, 3),
        "frames_per_second": round(result.frames / result.seconds, 3) if result.seconds else None,
        "backend": "onnxruntime" if onnx else "pytorch",
        "device": describe_device(select_device("cpu" if onnx else args.device)),
        "precision": result.precision,
        "scene_cuts": result.cuts,
        "streams": [asdict(s) for s in result.streams],
    }
    path = Path(args.report)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(summary, indent=1) + "\n")
    os.replace(tmp, path)


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Entry point of `vsr-upscale`; returns the exit status."""
    global _prog
    _prog = prog
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format=f"{prog}: %(message)s",
        stream=sys.stderr,
    )
    show_warning, warnings.showwarning = warnings.showwarning, _show_warning
    # A plain `kill` takes the same path as Ctrl-C: the partial video is closed properly.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return run(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"{prog}: interrupted; no complete output was written", file=sys.stderr)
        return 130
    except Exception as err:
        if args.debug:
            raise
        print(f"{prog}: error: {_one_line(err)}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
        warnings.showwarning = show_warning


def restore_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `vsr-restore`: `vsr-upscale` for same-size checkpoints only."""
    return main(argv, prog="vsr-restore")


if __name__ == "__main__":
    sys.exit(main())
