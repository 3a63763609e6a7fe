"""Scoring a network on benchmarks, whole clip by whole clip, with the BasicVSR++ protocol.

For each clip: the low-res frames go through the network in one call (the whole clip; the
network's `cpu_cache_length` parks per-frame features in CPU memory for clips longer than it),
optionally through the x8 self-ensemble; each scored GT frame is compared with the mean of its
outputs (`EvalClips.pred_index`: two for mirrored Vimeo-90K-T input, one otherwise), clamped to
[0, 1] and rounded to uint8 levels. PSNR and SSIM come from `vsr.metrics.frame_psnr` /
`frame_ssim` (torch, float64, on the device of the outputs), which score the uint8-rounded frames
exactly like `vsr.metrics.calculate_psnr` / `calculate_ssim`; the tests check the two against
each other on the saved frames. Scores are averaged per clip, then over clips.

Memory (x4, c64n7, one clip of t frames of h x w low-res pixels, float32): the per-frame
features of the 5 feature lists (spatial + 4 branches) take 5 * 64 * 4 = 1280 bytes per low-res
pixel and frame, the output 3 * 16 * 4 = 192 bytes: a REDS4 clip (t = 100, 180 x 320) needs about
7.4 GB for features + 1.1 GB for the output, plus SPyNet and per-frame temporaries (an estimate,
not a measurement). Clips longer than `cpu_cache_length` (100 by default, so not REDS4) keep
features and outputs in CPU memory and only a few frames on the accelerator; lower it
(`--cpu-cache-length`) if a clip does not fit. The self-ensemble runs the 8 transforms one after
the other and keeps one running sum, so it needs one output more, not eight.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from vsr.data.backends.folder import FolderStore
from vsr.data.datasets import EvalClips
from vsr.data.layouts import LRSource
from vsr.data.validate import DataError, scan_layout
from vsr.evaluation.benchmarks import BENCHMARKS, Benchmark
from vsr.machine import describe_device, select_device, synchronize
from vsr.metrics.functional import frame_psnr, frame_ssim, to_uint8_levels
from vsr.metrics.scoring import scored_outputs

METRICS_NOTE = (
    "PSNR/SSIM with vsr.metrics.frame_psnr/frame_ssim (torch, float64) on outputs clamped to "
    "[0, 1] and rounded to uint8 levels; equal to vsr.metrics.calculate_psnr/calculate_ssim on "
    "the saved PNG frames. Per frame -> mean per clip -> mean over clips."
)

# The 8 dihedral transforms of the frame grid: (horizontal flip, vertical flip, transpose).
ENSEMBLE_TRANSFORMS: tuple[tuple[bool, bool, bool], ...] = tuple(
    (hflip, vflip, transpose)
    for transpose in (False, True)
    for vflip in (False, True)
    for hflip in (False, True)
)


@dataclass
class ClipScore:
    """The scores of one clip.

    Attributes:
        frames: the scored GT frames (0-based indices into the clip).
        frame_psnr: PSNR of each scored frame, in the order of `frames`.
        frame_ssim: SSIM of each scored frame.
        seconds: network time for the clip (self-ensemble included), not reading or scoring.
        input_psnr: same-size benchmarks: the mean PSNR of the input itself (the blurred, noisy
            or compressed frames) against the GT, the baseline to beat; None for x4.
        input_ssim: the same for SSIM.
    """

    frames: list[int]
    frame_psnr: list[float]
    frame_ssim: list[float]
    seconds: float
    input_psnr: float | None = None
    input_ssim: float | None = None

    @property
    def psnr(self) -> float:
        """Mean PSNR over the clip's scored frames."""
        return _mean(self.frame_psnr)

    @property
    def ssim(self) -> float:
        """Mean SSIM over the clip's scored frames."""
        return _mean(self.frame_ssim)

    def to_json(self) -> dict[str, Any]:
        """Plain data, as in `results.json`."""
        return {
            "frames": list(self.frames),
            "psnr": self.psnr,
            "ssim": self.ssim,
            "frame_psnr": list(self.frame_psnr),
            "frame_ssim": list(self.frame_ssim),
            "seconds": self.seconds,
            **_input_scores(self),
        }


def _input_scores(result: Any) -> dict[str, float]:
    """The input's own scores, for same-size benchmarks only (x4 results keep their keys)."""
    if result.input_psnr is None:
        return {}
    return {"input_psnr": result.input_psnr, "input_ssim": result.input_ssim}


@dataclass
class BenchmarkResult:
    """One network scored on one benchmark (what `evaluate` returns).

    Attributes:
        name: the benchmark's name (`reds4`, `vid4-bi`, a custom folder's label).
        title: its display title.
        root: the data root it was read from.
        protocol: how it was scored, as plain data (`Benchmark.protocol`): `channel`,
            `crop_border`, `mirror`, `gt_frames`, `lr_dir`, ...
        low_res: `stored`, or how the low-res frames were made (`generated (bd)`).
        ensemble: x8 self-ensemble used.
        max_frames: only the first frames of each clip were scored (None: all).
        max_clips: only the first clips were scored (None: all).
        seconds: wall time of the whole benchmark.
        clips: the scores by clip name, in the benchmark's order.
    """

    name: str
    title: str
    root: str
    protocol: dict[str, Any]
    low_res: str
    ensemble: bool
    max_frames: int | None
    max_clips: int | None
    seconds: float
    clips: dict[str, ClipScore] = field(default_factory=dict)

    @property
    def partial(self) -> bool:
        """True if `max_frames` or `max_clips` cut the benchmark (not the published protocol)."""
        return self.max_frames is not None or self.max_clips is not None

    @property
    def num_clips(self) -> int:
        return len(self.clips)

    @property
    def psnr(self) -> float:
        """Mean over clips of the per-clip mean PSNR (not a mean over all frames)."""
        return _mean([c.psnr for c in self.clips.values()])

    @property
    def ssim(self) -> float:
        """Mean over clips of the per-clip mean SSIM."""
        return _mean([c.ssim for c in self.clips.values()])

    @property
    def input_psnr(self) -> float | None:
        """Same-size benchmarks: mean over clips of the input's own PSNR (None for x4)."""
        values = [c.input_psnr for c in self.clips.values()]
        return _mean(values) if values and None not in values else None  # type: ignore[arg-type]

    @property
    def input_ssim(self) -> float | None:
        """Same-size benchmarks: mean over clips of the input's own SSIM (None for x4)."""
        values = [c.input_ssim for c in self.clips.values()]
        return _mean(values) if values and None not in values else None  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        """Plain data, as in `results.json`."""
        return {
            "name": self.name,
            "title": self.title,
            "root": self.root,
            "protocol": self.protocol,
            "low_res": self.low_res,
            "ensemble": self.ensemble,
            "partial": self.partial,
            "max_frames": self.max_frames,
            "max_clips": self.max_clips,
            "num_clips": self.num_clips,
            "psnr": self.psnr,
            "ssim": self.ssim,
            **_input_scores(self),
            "seconds": self.seconds,
            "clips": {name: clip.to_json() for name, clip in self.clips.items()},
        }


@dataclass
class EvaluationResult:
    """A checkpoint scored on several benchmarks (what `evaluate_checkpoint` returns).

    Attributes:
        checkpoint: the checkpoint's resolved path.
        architecture: the network as read off its tensors (`describe_model`: `class`,
            `mid_channels`, `num_blocks`, `scale`, ..., `parameters`) and its
            `cpu_cache_length`.
        ema: EMA weights asked for.
        device: where it ran, in words (`describe_device`).
        ensemble: x8 self-ensemble used.
        metrics: how the scores are computed, in words (`METRICS_NOTE`).
        started: UTC start time, ISO 8601.
        torch_version: `torch.__version__`.
        vsr_version: `vsr.__version__`.
        benchmarks: the results by benchmark name, in the order run.
        seconds: wall time of the whole evaluation, checkpoint loading included.
        command: the command line that ran it, if any (set by `vsr-test`).
    """

    checkpoint: str
    architecture: dict[str, Any]
    ema: bool
    device: str
    ensemble: bool
    metrics: str
    started: str
    torch_version: str
    vsr_version: str
    benchmarks: dict[str, BenchmarkResult]
    seconds: float
    command: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain data, as written to `results.json` (`command` only when set)."""
        out = {
            "checkpoint": self.checkpoint,
            "architecture": self.architecture,
            "ema": self.ema,
            "device": self.device,
            "ensemble": self.ensemble,
            "metrics": self.metrics,
            "started": self.started,
            "torch": self.torch_version,
            "vsr": self.vsr_version,
            "benchmarks": {name: b.to_json() for name, b in self.benchmarks.items()},
            "seconds": self.seconds,
        }
        if self.command is not None:
            out["command"] = self.command
        return out


OnClip = Callable[[Benchmark, str, ClipScore], None]


def transform(x: Tensor, hflip: bool, vflip: bool, transpose: bool) -> Tensor:
    """Flip and/or transpose the last two (h, w) dimensions of a clip."""
    if hflip:
        x = x.flip(-1)
    if vflip:
        x = x.flip(-2)
    if transpose:
        x = x.transpose(-1, -2)
    return x


def untransform(x: Tensor, hflip: bool, vflip: bool, transpose: bool) -> Tensor:
    """Inverse of `transform` with the same flags."""
    if transpose:
        x = x.transpose(-1, -2)
    if vflip:
        x = x.flip(-2)
    if hflip:
        x = x.flip(-1)
    return x


@torch.inference_mode()
def run_clip(model: nn.Module, lqs: Tensor, ensemble: bool = False) -> Tensor:
    """The network's raw (unclamped) outputs for whole clips.

    Args:
        model: maps (n, t, 3, h, w) to (n, t, 3, H, W).
        lqs: (n, t, 3, h, w) low-res frames in [0, 1].
        ensemble: average the outputs of the 8 flips/transposes of the clip, each mapped back
            (x8 self-ensemble); the same transform is applied to every frame.

    Returns:
        (n, t, 3, H, W) float32, on the device the network returns it on.
    """
    if not ensemble:
        return model(lqs).float()
    total: Tensor | None = None
    for flags in ENSEMBLE_TRANSFORMS:
        out = untransform(model(transform(lqs, *flags)).float(), *flags)
        total = out.contiguous() if total is None else total.add_(out)
    assert total is not None
    return total.div_(len(ENSEMBLE_TRANSFORMS))


@torch.inference_mode()
def predict_scored(
    model: nn.Module, lq: Tensor, pred_index: Tensor, ensemble: bool = False
) -> Tensor:
    """Predictions of the scored GT frames of one clip, clamped to [0, 1].

    Args:
        model: the network.
        lq: (t, 3, h, w) low-res input (already mirrored if the protocol says so).
        pred_index: (t_gt, k): GT frame j is predicted by the mean of outputs `pred_index[j]`.
        ensemble: x8 self-ensemble.

    Returns:
        (t_gt, 3, H, W) float32.
    """
    out = run_clip(model, lq.unsqueeze(0), ensemble)[0]  # (t, 3, H, W)
    return scored_outputs(out, pred_index).clamp_(0, 1)


def score_frames(
    pred: Tensor, gt: Tensor, benchmark: Benchmark, chunk: int = 16
) -> tuple[list[float], list[float]]:
    """Per-frame PSNR and SSIM of `pred` against `gt`, on the device of `pred`.

    GT frames are moved there a chunk at a time, so a long clip's GT never sits next to its
    outputs on the accelerator all at once.
    """
    psnr: list[float] = []
    ssim: list[float] = []
    for start in range(0, len(pred), chunk):
        p = pred[start : start + chunk]
        g = gt[start : start + chunk].to(pred.device)
        psnr += frame_psnr(p, g, benchmark.crop_border, benchmark.y_channel).tolist()
        ssim += frame_ssim(p, g, benchmark.crop_border, benchmark.y_channel).tolist()
    return psnr, ssim


def load_benchmark(
    benchmark: Benchmark,
    *,
    scale: int = 4,
    lr_source: LRSource = "auto",
    max_frames: int | None = None,
    max_clips: int | None = None,
) -> EvalClips:
    """The clips of a benchmark, checked (folders, frame pairs, sizes) before any model runs.

    Args:
        benchmark: a preset bound to its root (`Benchmark.with_root`).
        scale: the network's upscaling factor (low-res x scale must equal GT size).
        lr_source: `auto` (stored low-res frames when their folder exists, else made with the
            benchmark's degradation), `stored` (required) or `generate`.
        max_frames: keep the first frames of each clip only (quick checks; not the protocol).
        max_clips: keep the first clips only (quick checks; not the protocol).

    Raises:
        DataError: missing root, wrong layout or bad files; the message names the root and
            shows the expected layout.
    """
    layout = benchmark.layout(scale=scale, lr_source=lr_source)
    if max_clips is not None:
        layout.clips = dict(list(layout.clips.items())[:max_clips])
    gt_frames = list(benchmark.gt_frames) if benchmark.gt_frames is not None else None
    needed = max(gt_frames) + 1 if gt_frames else 1
    if max_frames is not None and max_frames < needed:
        raise ValueError(
            f"{benchmark.name} scores frame {needed} (1-based): max_frames={max_frames} is too few"
        )
    try:
        infos = scan_layout(layout, scale=scale, num_frames=needed)
    except DataError as err:
        raise benchmark.layout_error(err) from err
    return EvalClips(
        FolderStore.from_layout(layout, infos),
        list(layout.clips),
        scale=scale,
        degradation=benchmark.degradation,
        generate_lr=not layout.lr_stored,
        mirror=benchmark.mirror,
        gt_frames=gt_frames,
        max_frames=max_frames,
        name=benchmark.title,
        infos=infos,
    )


def model_scale(model: nn.Module) -> int:
    """The network's upscaling factor (`model.scale`, else 4)."""
    return int(getattr(model, "scale", 4))


def check_task(model: nn.Module, benchmark: Benchmark, checkpoint: Path | None = None) -> None:
    """Refuse a x4 network on a same-size benchmark, and the reverse, before any work.

    Raises:
        ValueError: the network's scale is not the benchmark's; the message names both (and
            the checkpoint file, when given).
    """
    scale = model_scale(model)
    if scale == benchmark.scale:
        return
    network = f"a x{scale} super-resolver" if scale > 1 else "a same-size restoration network"
    fits = [b for b, preset in BENCHMARKS.items() if preset.scale == scale]
    raise ValueError(
        f"{benchmark.name} is a {benchmark.task} benchmark, but the checkpoint"
        f"{f' {checkpoint}' if checkpoint else ''} holds {network}: "
        f"score it on {', '.join(fits)}"
    )


def _model_device(model: nn.Module) -> torch.device:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")


def save_frames(frames: Tensor, indices: Iterable[int], folder: Path) -> None:
    """Write (t, 3, H, W) frames in [0, 1] as `folder/{index:08d}.png`, rounded like the scores."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    levels = to_uint8_levels(frames).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    for frame, index in zip(levels, indices, strict=True):
        Image.fromarray(np.ascontiguousarray(frame)).save(folder / f"{int(index):08d}.png")


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else math.nan


def evaluate(
    model: nn.Module,
    benchmark: Benchmark,
    *,
    device: str | torch.device | None = None,
    ensemble: bool = False,
    lr_source: LRSource = "auto",
    max_frames: int | None = None,
    max_clips: int | None = None,
    frames_dir: str | os.PathLike | None = None,
    dataset: EvalClips | None = None,
    workers: int = 0,
    on_clip: OnClip | None = None,
) -> BenchmarkResult:
    """Score a network on one benchmark with its protocol.

    Args:
        model: maps (1, t, 3, h, w) low-res clips in [0, 1] to (1, t, 3, H, W) (e.g. from
            `vsr.load_generator`); put in eval mode.
        benchmark: a preset bound to its root, e.g. `parse_bench("vid4-bi=/data/Vid4")`.
        device: where the network runs (None: where its parameters are); the model is moved.
        ensemble: x8 self-ensemble (flips and transpose of the whole clip).
        lr_source: see `load_benchmark`.
        max_frames: first frames of each clip only (quick checks).
        max_clips: first clips only (quick checks).
        frames_dir: if given, save the scored output frames as `frames_dir/<clip>/%08d.png`
            (GT frame index).
        dataset: the benchmark's clips if already loaded (`load_benchmark`).
        workers: DataLoader worker processes reading the next clip while this one runs.
        on_clip: called as `on_clip(benchmark, clip_name, score)` after each clip.

    Returns:
        The per-clip scores (`ClipScore`) and their means over clips, with the protocol used;
        `to_json()` gives the plain data of `results.json`.
    """
    from torch.utils.data import DataLoader

    scale = model_scale(model)
    check_task(model, benchmark)
    ensemble = ensemble or benchmark.ensemble
    if dataset is None:
        dataset = load_benchmark(
            benchmark,
            scale=scale,
            lr_source=lr_source,
            max_frames=max_frames,
            max_clips=max_clips,
        )
    device = torch.device(device) if device is not None else _model_device(model)
    model = model.to(device).eval()
    loader = DataLoader(dataset, batch_size=None, shuffle=False, num_workers=workers)

    started = time.perf_counter()
    clips: dict[str, ClipScore] = {}
    for item in loader:
        clip = item["clip"]
        lq = item["lq"].to(device)
        synchronize(device)
        tic = time.perf_counter()
        pred = predict_scored(model, lq, item["pred_index"], ensemble)
        synchronize(device)
        seconds = time.perf_counter() - tic
        psnr, ssim = score_frames(pred, item["gt"], benchmark)
        frames = item["frames"].tolist()
        if frames_dir is not None:
            save_frames(pred, frames, Path(frames_dir) / clip)
        score = ClipScore(frames, frame_psnr=psnr, frame_ssim=ssim, seconds=seconds)
        if scale == 1:  # the input itself, scored like the output: the baseline to beat
            inputs = scored_outputs(lq, item["pred_index"]).clamp(0, 1)
            base_psnr, base_ssim = score_frames(inputs, item["gt"], benchmark)
            score.input_psnr, score.input_ssim = _mean(base_psnr), _mean(base_ssim)
        clips[clip] = score
        if on_clip is not None:
            on_clip(benchmark, clip, score)

    generated = dataset.generate_lr
    return BenchmarkResult(
        name=benchmark.name,
        title=benchmark.title,
        root=str(benchmark.root),
        protocol=benchmark.protocol(scale),
        low_res=f"generated ({benchmark.degradation_name()})" if generated else "stored",
        ensemble=ensemble,
        max_frames=max_frames,
        max_clips=max_clips,
        seconds=time.perf_counter() - started,
        clips=clips,
    )


def describe_model(model: nn.Module) -> dict[str, Any]:
    """Architecture of a BasicVSR++ network as read off its tensors, and its size."""
    from vsr.nn.checkpoint import CheckpointError, infer_config

    info: dict[str, Any] = {"class": type(model).__name__}
    with contextlib.suppress(CheckpointError, KeyError):  # not a BasicVSR++: class name only
        info.update(infer_config(model.state_dict()))
    info["parameters"] = sum(p.numel() for p in model.parameters())
    return info


def evaluate_checkpoint(
    checkpoint: str | os.PathLike,
    benchmarks: Sequence[Benchmark],
    *,
    device: str | torch.device | None = None,
    ensemble: bool = False,
    ema: bool = True,
    trusted: bool = False,
    cpu_cache_length: int | None = None,
    lr_source: LRSource = "auto",
    max_frames: int | None = None,
    max_clips: int | None = None,
    frames_dir: str | os.PathLike | None = None,
    workers: int = 0,
    on_start: Callable[[Benchmark, EvalClips], None] | None = None,
    on_clip: OnClip | None = None,
    on_done: Callable[[Benchmark, BenchmarkResult], None] | None = None,
) -> EvaluationResult:
    """Load a checkpoint and score it on several benchmarks.

    Every benchmark's folders are found before the checkpoint is loaded and its files are
    checked before any clip runs, so a wrong path fails in seconds. `benchmarks` must have distinct names (they key the results and frame folders).

    Args:
        checkpoint: any file `vsr.load_generator` reads (mmagic, BasicSR, vsr, bare state dict).
        benchmarks: presets bound to their roots.
        device: where to run (None: `vsr.machine.select_device`: CUDA, MPS, else the CPU).
        ensemble: x8 self-ensemble.
        ema: use the EMA weights when the file has them.
        trusted: allow checkpoints that pickle Python objects (files you trust only).
        cpu_cache_length: clips longer than this keep features in CPU memory (None: the
            network's default, 100).
        lr_source, max_frames, max_clips, workers: see `evaluate`.
        frames_dir: save output frames under `frames_dir/<benchmark>/<clip>/`.
        on_start: called with each benchmark and its clips (`EvalClips`) before it runs.
        on_clip: called after each clip (see `evaluate`).
        on_done: called with each benchmark and its results.

    Returns:
        The `evaluate` results by benchmark name, with the checkpoint, its architecture, the
        device and versions; `write_results` writes it to `results.json` and `results.csv`.

    Raises:
        DataError: a benchmark's root is missing or in the wrong layout.
        vsr.nn.checkpoint.CheckpointError: the file is not a BasicVSR++ checkpoint.
        FileNotFoundError: the checkpoint does not exist.
    """
    import vsr

    names = [b.name for b in benchmarks]
    if len(set(names)) != len(names):
        raise ValueError(f"benchmark names must be distinct, got {names}")
    for benchmark in benchmarks:  # a wrong path fails before the checkpoint is read
        benchmark.layout(lr_source=lr_source)
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    started = time.perf_counter()
    checkpoint = Path(checkpoint).expanduser()
    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
    overrides = {} if cpu_cache_length is None else {"cpu_cache_length": cpu_cache_length}
    model = vsr.load_generator(checkpoint, ema=ema, trusted=trusted, **overrides)
    scale = model_scale(model)
    for benchmark in benchmarks:
        check_task(model, benchmark, checkpoint)
    datasets = [
        load_benchmark(
            b, scale=scale, lr_source=lr_source, max_frames=max_frames, max_clips=max_clips
        )
        for b in benchmarks
    ]
    device = select_device(device)
    model = model.to(device)

    architecture = describe_model(model)
    architecture["cpu_cache_length"] = model.cpu_cache_length
    device_text = describe_device(device)
    results: dict[str, BenchmarkResult] = {}
    for benchmark, dataset in zip(benchmarks, datasets, strict=True):
        if on_start is not None:
            on_start(benchmark, dataset)
        result = evaluate(
            model,
            benchmark,
            device=device,
            ensemble=ensemble,
            max_frames=max_frames,
            max_clips=max_clips,
            frames_dir=Path(frames_dir) / benchmark.name if frames_dir is not None else None,
            dataset=dataset,
            workers=workers,
            on_clip=on_clip,
        )
        results[benchmark.name] = result
        if on_done is not None:
            on_done(benchmark, result)
    return EvaluationResult(
        checkpoint=str(checkpoint.resolve()),
        architecture=architecture,
        ema=ema,
        device=device_text,
        ensemble=ensemble,
        metrics=METRICS_NOTE,
        started=started_at,
        torch_version=torch.__version__,
        vsr_version=vsr.__version__,
        benchmarks=results,
        seconds=time.perf_counter() - started,
    )


CSV_FIELDS = ("benchmark", "clip", "frames", "psnr", "ssim", "seconds", "channel")


def write_results(results: EvaluationResult, output_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write `results.json` (everything, `results.to_json()`) and `results.csv` (one row per clip).

    PSNR of identical frames is infinite: it is written as `Infinity`, which Python's `json`
    reads back.

    Returns:
        The paths of the JSON and CSV files.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out / "results.json", out / "results.csv"
    json_path.write_text(json.dumps(results.to_json(), indent=2) + "\n")
    with csv_path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_FIELDS)
        for name, bench in results.benchmarks.items():
            for clip, score in bench.clips.items():
                writer.writerow(
                    [
                        name,
                        clip,
                        len(score.frames),
                        repr(score.psnr),
                        repr(score.ssim),
                        f"{score.seconds:.4f}",
                        bench.protocol["channel"],
                    ]
                )
    return json_path, csv_path
