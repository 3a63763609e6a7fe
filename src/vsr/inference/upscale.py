"""The streaming upscaling loop: frames in, super-resolved frames out, memory bounded by the chunk.

    frames ─ chunk_stream (chunk + 2·overlap frames at most) ─ tiles ─ network ─ blend
           ─ keep the chunk's outputs ─ clamp, round to uint8 ─ frames out (encoded as they come)

Nothing here grows with the video's length: the decoder is read only as far as the next window
needs, each window's outputs are handed on before the next window is read, and the writer
encodes frame by frame.
"""

from __future__ import annotations

import contextlib
import logging
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import chain
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vsr.inference.chunking import check_chunking, chunk_stream, run_tiled
from vsr.inference.runtime import OnnxNetwork, is_onnx_path
from vsr.inference.scenes import CutDetector, read_cuts, split_shots
from vsr.inference.streams import CarriedStream, has_other_streams
from vsr.inference.video_io import (
    DEFAULT_FPS,
    VideoIOError,
    check_fps,
    check_paths,
    check_writer_settings,
    is_video_path,
    open_reader,
    open_writer,
)
from vsr.machine import cpu_name, cpu_supports_bf16, select_device
from vsr.nn.checkpoint import CheckpointError, load_generator

log = logging.getLogger(__name__)

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
DEFAULT_CHUNK = 50
DEFAULT_OVERLAP = 10
DEFAULT_TILE_OVERLAP = 16


def precision_context(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Autocast for bf16/fp16; nothing for fp32.

    On the CPU, bf16 runs where the CPU computes it natively (AVX-512 BF16, AMX); fp16 does
    not run there (no native fp16 arithmetic: slower than fp32).

    Raises:
        ValueError: unknown precision, fp16 on the CPU, or bf16 on a CPU without bf16.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    dtype = PRECISIONS[precision]
    if dtype is None:
        return contextlib.nullcontext()
    if device.type == "cpu":
        if dtype == torch.float16:
            raise ValueError(
                "precision fp16 needs a GPU (cuda or mps); on the CPU use bf16 (on CPUs with "
                "AVX-512 BF16 or AMX) or fp32"
            )
        if not cpu_supports_bf16():
            raise ValueError(
                "precision bf16 on the CPU needs AVX-512 BF16 or AMX, which this CPU lacks "
                f"({cpu_name()}); use fp32"
            )
    return torch.autocast(device.type, dtype=dtype)


def resolve_precision(precision: str, device: torch.device, graph: bool = False) -> str:
    """`precision`, with "auto" resolved for the device: bf16 on a CPU that computes it
    natively (AVX-512 BF16 or AMX: 1.8x fp32's frames/s, docs/benchmarks.md); fp32 on other
    CPUs and on GPUs (reduced precision is not measured there), and for an exported graph,
    which runs at the precision it was exported in (`OnnxNetwork.dtype`)."""
    if precision != "auto":
        return precision
    if not graph and device.type == "cpu" and cpu_supports_bf16():
        return "bf16"
    return "fp32"


def to_uint8(frames: torch.Tensor) -> np.ndarray:
    """(t, 3, h, w) floats → (t, h, w, 3) uint8: clamp to [0, 1], scale, round half to even."""
    out = (frames.float().clamp(0, 1) * 255).round().to(torch.uint8)
    return out.permute(0, 2, 3, 1).cpu().numpy()


def window_plan(model: object, chunk: int | None, overlap: int | None) -> tuple[int, int]:
    """(chunk, overlap) for `model`: those given, else the defaults (50, 10); for an exported
    graph (`OnnxNetwork`), whose clips have one length, a quarter of it as context on each side
    and the rest as the chunk.

    Raises:
        ValueError: chunk + 2 x overlap exceeds the graph's clip length.
    """
    if not isinstance(model, OnnxNetwork):
        return (
            DEFAULT_CHUNK if chunk is None else chunk,
            DEFAULT_OVERLAP if overlap is None else overlap,
        )
    frames = model.frames
    if overlap is None:
        overlap = frames // 4 if chunk is None else max(0, (frames - chunk) // 2)
    if chunk is None:
        chunk = frames - 2 * overlap
    if chunk < 1 or chunk + 2 * overlap > frames:
        raise ValueError(
            f"{model.path.name} takes clips of {frames} frames, so chunk ({chunk}) + 2 x "
            f"overlap ({overlap}) must lie in [1, {frames}] (CLI: --chunk, --overlap); or "
            "export a graph with more --frames"
        )
    return chunk, overlap


def _to_tensor(frames: list[np.ndarray], device: torch.device) -> torch.Tensor:
    """uint8 (h, w, 3) frames → (1, t, 3, h, w) float32 in [0, 1] on `device`."""
    shape = frames[0].shape
    for frame in frames:
        if frame.shape != shape or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frames must be (h, w, 3) of one size; got {shape} and {frame.shape}")
    batch = torch.from_numpy(np.stack(frames)).to(device)
    if batch.dtype != torch.uint8:
        raise ValueError(f"frames must be uint8, got {batch.dtype}")
    return batch.permute(0, 3, 1, 2).float().div_(255).unsqueeze(0)


SceneCuts = str | CutDetector | Sequence[int]


def upscale_frames(
    frames: Iterable[np.ndarray],
    model: nn.Module | OnnxNetwork,
    *,
    chunk: int | None = None,
    overlap: int | None = None,
    tile: int = 0,
    tile_overlap: int = DEFAULT_TILE_OVERLAP,
    device: str | torch.device | None = None,
    precision: str = "fp32",
    scene_cuts: SceneCuts = "off",
) -> Iterator[np.ndarray]:
    """Super-resolve a stream of frames, yielding each output frame as soon as its chunk is done.

    Args:
        frames: uint8 (h, w, 3) RGB frames of one size, read lazily.
        model: a video network mapping (1, t, 3, h, w) in [0, 1] to (1, t, 3, s·h, s·w), e.g.
            `vsr.load_generator(path)`, moved to `device` and put in eval mode; or an exported
            graph, `vsr.inference.runtime.OnnxNetwork` (CPU, fp32 inputs).
        chunk: output frames per model call (default: see `window_plan`).
        overlap: context frames on each side of a chunk, whose outputs are dropped.
        tile: tile side in input pixels (0: whole frames).
        tile_overlap: input pixels shared by neighbouring tiles.
        device: "cuda", "mps", "cpu" or None for the best available.
        precision: "fp32", "bf16" / "fp16" autocast (bf16 also on CPUs with AVX-512 BF16
            or AMX), or "auto" (`resolve_precision`).
        scene_cuts: "off" (one clip), "auto" (a `CutDetector`, or give one to read its `cuts`
            afterwards), or the 0-based first frames of the shots: each shot is processed as a
            clip of its own, so propagation never crosses a cut.

    Yields:
        uint8 (s·h, s·w, 3) RGB frames, one per input frame, in order.

    Raises:
        ValueError: bad chunk, tile, device or precision settings (before any frame is read).
    """
    chunk, overlap = window_plan(model, chunk, overlap)
    check_chunking(chunk, overlap, tile, tile_overlap)
    if isinstance(model, OnnxNetwork):
        device = graph_device(device, precision)
    device = select_device(device)
    precision = resolve_precision(precision, device, graph=isinstance(model, OnnxNetwork))
    autocast = precision_context(device, precision)  # checked before any frame is read
    starts_shot = shot_rule(scene_cuts)
    model = model.to(device).eval()
    if device.type == "cpu" and precision == "bf16":
        model = model.to(memory_format=torch.channels_last)  # oneDNN's fast bf16 layout
    first = 0  # index of the current shot's first frame
    for shot in split_shots(frames, starts_shot):
        for window, lr in chunk_stream(shot, chunk, overlap):
            lqs = _to_tensor(lr, device)
            with torch.inference_mode(), autocast:
                sr = run_tiled(model, lqs, tile, tile_overlap, keep=window.keep)
            if precision != "fp32" and (bad := unsafe_frames(sr[0])):
                frames_text = ", ".join(str(first + window.keep_start + i) for i in bad)
                warnings.warn(
                    f"{precision} output of frame(s) {frames_text} is not finite or far out of "
                    "range (an overflow); those frames' chunk is recomputed in fp32",
                    stacklevel=2,
                )
                with torch.inference_mode():
                    sr = run_tiled(model.float(), lqs.float(), tile, tile_overlap, keep=window.keep)
            del lqs
            yield from to_uint8(sr[0])
        first += window.keep_stop


def graph_device(device: str | torch.device | None, precision: str) -> str:
    """The device of an exported graph: it runs in ONNX Runtime on the CPU, at the precision
    it was exported in.

    Raises:
        ValueError: another device or precision was asked for.
    """
    if device not in (None, "auto", "cpu") and torch.device(device).type != "cpu":
        raise ValueError(
            f"an ONNX graph runs on the CPU (ONNX Runtime's CPU execution provider), not "
            f"{device}: use --device cpu, or the PyTorch checkpoint on {device}"
        )
    if precision not in ("fp32", "auto"):
        raise ValueError(
            f"an ONNX graph runs at the precision it was exported in, not --precision "
            f"{precision}: export with --half for fp16, or run the PyTorch checkpoint"
        )
    return "cpu"


def unsafe_frames(outputs: torch.Tensor, share: float = 0.01) -> list[int]:
    """Frames (0-based in `outputs`, (t, 3, h, w)) that reduced precision has broken: any value
    not finite, or more than `share` of the values beyond [-0.5, 1.5] (half a range outside
    the picture's: what an overflow leaves, never a real output)."""
    flat = outputs.flatten(1).float()
    broken = ~torch.isfinite(flat).all(dim=1)
    broken |= ((flat < -0.5) | (flat > 1.5)).float().mean(dim=1) > share
    return [int(i) for i in torch.nonzero(broken).flatten()]


def shot_rule(scene_cuts: SceneCuts) -> Callable[[int, np.ndarray], bool]:
    """`starts_shot(index, frame)` of a `scene_cuts` setting (see `upscale_frames`).

    Raises:
        ValueError: an unknown setting.
    """
    if isinstance(scene_cuts, CutDetector):
        return scene_cuts
    if isinstance(scene_cuts, str):
        if scene_cuts == "auto":
            return CutDetector()
        if scene_cuts == "off":
            return lambda index, frame: False
        raise ValueError(
            f"scene_cuts must be auto, off or a list of frame numbers, got {scene_cuts!r} "
            "(CLI: --scene-cuts auto|off|FILE)"
        )
    cuts = set(int(c) for c in scene_cuts)
    return lambda index, frame: index in cuts


def _load_checkpoint(path: str | Path, *, trusted: bool = False) -> nn.Module:
    """The BasicVSR++ network of a checkpoint file (`vsr.load_generator`), in eval mode.

    Raises:
        vsr.nn.checkpoint.CheckpointError: names the file and says what to do; for a file
            torch cannot read, in one line (torch's many-line reason stays in `__cause__`).
        FileNotFoundError: no such file.
    """
    try:
        return load_generator(path, trusted=trusted)
    except CheckpointError as err:
        reason = err.__cause__
        if reason is None:  # the file was read: the message says what is wrong with its tensors
            raise
        hint = (
            ""
            if trusted
            else "; if it holds Python objects besides tensors and you trust its source, "
            "load it with trusted=True (CLI: --trust-checkpoint)"
        )
        raise CheckpointError(
            f"cannot read {path} as a PyTorch checkpoint ({type(reason).__name__}){hint}"
        ) from err


@dataclass(frozen=True)
class UpscaleResult:
    """What `upscale_video` wrote.

    Attributes:
        output: the output path.
        frames: frames written.
        fps: frame rate of the output.
        seconds: wall time of the run.
        streams: what was done with each audio and subtitle stream of the input.
        cuts: the scene cuts the shots were split at (0-based first frames of new shots).
        precision: the precision the network ran at ("auto" resolved).
    """

    output: Path
    frames: int
    fps: Fraction
    seconds: float
    streams: list[CarriedStream] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)
    precision: str = "fp32"


def upscale_video(
    input: str | Path,
    output: str | Path,
    model: nn.Module | OnnxNetwork | str | Path,
    *,
    chunk: int | None = None,
    overlap: int | None = None,
    tile: int = 0,
    tile_overlap: int = DEFAULT_TILE_OVERLAP,
    device: str | torch.device | None = None,
    precision: str = "fp32",
    fps: Fraction | float | None = None,
    codec: str | None = None,
    crf: int | None = None,
    pix_fmt: str | None = None,
    lossless: bool = False,
    overwrite: bool = False,
    trusted: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
    scale: int | None = None,
    audio: bool = True,
    scene_cuts: str | Path | Sequence[int] = "auto",
) -> UpscaleResult:
    """Upscale a video file or frame folder into a video file or a folder of PNGs.

    Every path and setting is checked, and the first frame read, before a checkpoint given by
    its path is loaded, so a mistake fails in a second, not after loading large weights. The
    output is written to `partial_path(output)` and renamed when complete. On an error or an
    interrupt, a partial video is closed properly (playable up to the last frame written),
    kept under its `.partial` name and logged; the exception is re-raised.

    Args:
        input: video file (anything PyAV decodes) or folder of frames (natural order).
        output: video file (.mp4, .mkv, .mov, .avi, .m4v) or folder for `00000000.png`, ....
        model: a network (see `upscale_frames`), the path of a checkpoint for
            `vsr.load_generator`, or of an exported `.onnx` graph (run by ONNX Runtime).
        chunk, overlap, tile, tile_overlap, device, precision: see `upscale_frames`.
        fps: output frame rate (default: the input's; 25 for frame folders).
        codec, crf, pix_fmt, lossless: video encoding (see `VideoWriter`).
        overwrite: replace an existing output (only once the new one is complete).
        trusted: when `model` is a path, allow checkpoints that hold Python objects besides
            tensors (only files you trust).
        progress: called with (frames done, total frames or None) after each frame.
        scale: the model's scale this call is for (1: same-size restoration; None: any);
            another is refused before any frame is processed.
        audio: carry a video input's audio and subtitle streams into a video output (copied
            when the container takes their codec, audio re-encoded to AAC otherwise).
        scene_cuts: "auto" (detected, `vsr.inference.scenes.CutDetector`), "off", a file of
            cuts (`read_cuts`), or the cuts themselves: each shot is its own clip.

    Returns:
        What was written.

    Raises:
        FileNotFoundError, FileExistsError, ValueError: bad paths or settings (nothing written);
            the message names the path or setting.
        VideoIOError: unreadable input, no frames, or a failed write.
        vsr.nn.checkpoint.CheckpointError: `model` is a path to something else than a
            BasicVSR++ checkpoint (the message names the file and says what to do).
    """
    start = time.perf_counter()
    # Fail on bad paths and settings before reading anything.
    src, dst = check_paths(input, output, overwrite)
    onnx_graph = isinstance(model, OnnxNetwork) or (
        isinstance(model, str | Path) and is_onnx_path(model)
    )
    check_chunking(*window_plan(None, chunk, overlap), tile, tile_overlap)
    if onnx_graph:
        device = graph_device(device, precision)
    device = select_device(device)
    precision = resolve_precision(precision, device, graph=onnx_graph)
    precision_context(device, precision)
    fps = check_fps(fps) if fps is not None else None
    check_writer_settings(dst, codec=codec, crf=crf, pix_fmt=pix_fmt, lossless=lossless)
    if isinstance(scene_cuts, Path) or (
        isinstance(scene_cuts, str) and scene_cuts not in ("auto", "off")
    ):
        if not Path(scene_cuts).is_file():
            raise FileNotFoundError(
                f"scene-cut list {scene_cuts} does not exist (--scene-cuts auto|off|FILE)"
            )
        scene_cuts = read_cuts(scene_cuts)
    if scene_cuts == "auto":
        scene_cuts = CutDetector()  # kept, to report the cuts it found

    with open_reader(src) as reader:
        frames = iter(reader)
        first = next(frames, None)
        if first is None:
            kind = "image files" if src.is_dir() else "video frames"
            raise VideoIOError(f"{input}: no {kind} to upscale")
        if isinstance(model, str | Path):
            if onnx_graph:
                model = OnnxNetwork(model, threads=torch.get_num_threads())
            else:
                model = _load_checkpoint(model, trusted=trusted)
        # What runs: an exported graph's own precision (`precision` is then fp32, checked).
        ran_at = precision
        if isinstance(model, OnnxNetwork):
            ran_at = "fp16" if model.dtype == np.float16 else "fp32"
        chunk, overlap = window_plan(model, chunk, overlap)
        model_scale = getattr(model, "scale", None)
        if scale is not None and model_scale != scale:
            what = "same-size" if scale == 1 else f"x{scale}"
            raise ValueError(
                f"this command runs {what} models, but the checkpoint's network is "
                f"x{model_scale}: run it with vsr-upscale"
            )
        out_fps = fps or reader.fps or DEFAULT_FPS
        carry = audio and not src.is_dir() and is_video_path(dst) and has_other_streams(src)
        writer = open_writer(
            dst,
            out_fps,
            codec=codec,
            crf=crf,
            pix_fmt=pix_fmt,
            lossless=lossless,
            overwrite=overwrite,
            carry_from=src if carry else None,
            rotation=getattr(reader, "rotation", 0.0),
            colour=getattr(reader, "colour", None),
        )
        h, w = first.shape[:2]
        log.info(
            "%s: %dx%d, %s frames at %s fps -> %s%s on %s, %s",
            input,
            w,
            h,
            reader.num_frames or "?",
            f"{float(out_fps):g}",
            output,
            f" ({w * model_scale}x{h * model_scale}, x{model_scale})" if model_scale else "",
            device,
            ran_at,
        )
        total = reader.num_frames
        if progress is not None:
            progress(0, total)
        try:
            outputs = upscale_frames(
                chain([first], frames),
                model,
                chunk=chunk,
                overlap=overlap,
                tile=tile,
                tile_overlap=tile_overlap,
                device=device,
                precision=precision,
                scene_cuts=scene_cuts,
            )
            for frame in outputs:
                writer.write(frame)
                if progress is not None:
                    progress(writer.frames_written, total)
        except BaseException as err:
            kept = writer.abort()
            what = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
            if kept is not None:
                log.warning(
                    "%s after %d frames; the partial output is %s",
                    what,
                    writer.frames_written,
                    kept,
                )
            raise
        writer.commit()
    for stream in getattr(writer, "carried", []):
        log.info("%s stream (%s): %s", stream.kind, stream.codec, stream.action)
    if isinstance(scene_cuts, CutDetector):
        cuts = scene_cuts.cuts
    else:
        cuts = [] if scene_cuts == "off" else list(scene_cuts)
    if cuts:
        log.info("%d scene cut(s), at frames %s", len(cuts), ", ".join(map(str, cuts)))
    return UpscaleResult(
        dst,
        writer.frames_written,
        out_fps,
        time.perf_counter() - start,
        list(getattr(writer, "carried", [])),
        cuts,
        ran_at,
    )
