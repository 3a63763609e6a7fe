"""Data-loading throughput of each storage back-end, in training samples per second per worker.

A sample is one item of the training dataset (`TrainWindows.__getitem__`) at a recipe: a
window of consecutive frames of a random clip, one random GT crop (aligned to the scale) and
the matching stored low-res crop for every frame of the window, flipped and converted to float
tensors, exactly what a DataLoader worker produces for a training step. The benchmark writes
generated frames (photographs with sensor-like noise, so PNGs are as hard to decode as real
ones) as PNG files in a temporary folder, converts them with each back-end's writer, and times
one process (one torch thread) producing samples, which is what one DataLoader worker does.
Every back-end must produce the same samples (checked on the first one); the store reads
alone are timed too, to show what the dataset's flips and tensor conversion add.

Recipes (see the BasicSR/mmagic BasicVSR++ configs):

* `reds`: 30-frame windows of 1280x720 GT frames (320x180 low-res), GT crop 256.
* `vimeo`: 7-frame septuplets of 448x256 GT frames (112x64 low-res), GT crop 256, mirrored
  to 14 frames.
* `restore`: same-size restoration, 30-frame windows of 854x480 frames (DAVIS 480p), crop 256;
  besides the back-ends, the on-the-fly input corruptions are timed on the `arrays` store: none
  (the clean crop), Gaussian noise, and H.264 / H.265 compression through PyAV at CRF 30
  (`vsr.data.corruptions`), each making the input of every sample.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from vsr.bench import emit
from vsr.data.backends.base import ClipInfo, FrameStore, Kind
from vsr.machine import machine_info


@dataclass(frozen=True)
class Recipe:
    """What a training sample reads.

    Attributes:
        name: recipe name.
        num_clips: clips generated for the benchmark.
        clip_frames: frames per generated clip.
        window: frames per sample.
        height: GT frame height.
        width: GT frame width.
        crop: GT crop side.
        scale: downscaling factor of the low-res frames.
        mirror: training windows followed by themselves reversed (Vimeo-90K: 7 -> 14).
    """

    name: str
    num_clips: int
    clip_frames: int
    window: int
    height: int
    width: int
    crop: int
    scale: int = 4
    mirror: bool = False


RECIPES = {
    "reds": Recipe(
        "reds", num_clips=3, clip_frames=32, window=30, height=720, width=1280, crop=256
    ),
    "restore": Recipe(
        "restore", num_clips=2, clip_frames=32, window=30, height=480, width=854, crop=256, scale=1
    ),
    "vimeo": Recipe(
        "vimeo",
        num_clips=16,
        clip_frames=7,
        window=7,
        height=256,
        width=448,
        crop=256,
        mirror=True,
    ),
}
BACKENDS = ("folder", "lmdb", "shards", "shards-raw", "arrays", "arrays-full")
UNIT = "training samples per second, one process (= one DataLoader worker)"
MEASURED = (
    "samples_per_s: TrainWindows.__getitem__ (reads, crops, flips, float tensors); "
    "reads_per_s: the store reads of a sample alone"
)


@dataclass(frozen=True)
class Rate:
    """How fast a step ran: per second, ms per step, and how many steps were timed."""

    samples_per_s: float
    ms_per_sample: float
    samples: int


@dataclass(frozen=True)
class BackendResult:
    """One back-end's throughput on one recipe (an entry of `backends` in the results).

    Attributes:
        samples_per_s, ms_per_sample, samples: the training dataset's rate.
        reads_per_s: the rate of a sample's store reads alone.
        disk_mb: the back-end's size on disk.
        speedup_vs_folder: samples_per_s relative to the folder back-end (when it ran).
    """

    samples_per_s: float
    ms_per_sample: float
    samples: int
    reads_per_s: float
    disk_mb: float
    speedup_vs_folder: float | None = None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if self.speedup_vs_folder is None:
            del out["speedup_vs_folder"]
        return out


@dataclass(frozen=True)
class RecipeResult:
    """A recipe, its back-ends' results in the order timed and, for same-size recipes, the
    rate of each on-the-fly input corruption."""

    recipe: Recipe
    backends: dict[str, BackendResult]
    corruptions: dict[str, Rate] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "recipe": asdict(self.recipe),
            "backends": {name: row.to_json() for name, row in self.backends.items()},
        }
        if self.corruptions:
            out["corruptions"] = {name: asdict(rate) for name, rate in self.corruptions.items()}
        return out


@dataclass(frozen=True)
class DataResults:
    """A run of `vsr-bench data`: the machine (with numpy's version) and every recipe."""

    machine: dict[str, Any]
    recipes: dict[str, RecipeResult]
    unit: str = UNIT
    measured: str = MEASURED
    command: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON results (`command` once `emit` has set it)."""
        out = {
            "machine": self.machine,
            "unit": self.unit,
            "measured": self.measured,
            "recipes": {name: entry.to_json() for name, entry in self.recipes.items()},
        }
        if self.command is not None:
            out["command"] = self.command
        return out


def generate_frames(recipe: Recipe, root: Path, seed: int = 0) -> None:
    """Write the recipe's clips as PNG files in REDS layout under root."""
    import skimage.data
    from PIL import Image

    rng = np.random.default_rng(seed)
    photos = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.rocket()]
    h, w, s = recipe.height, recipe.width, recipe.scale
    for c in range(recipe.num_clips):
        photo = Image.fromarray(photos[c % len(photos)])
        # A base larger than the frame, panned across by a few pixels per frame.
        base = np.asarray(photo.resize((w + 4 * recipe.clip_frames, h + 64), Image.BICUBIC))
        gt_dir = root / "train_sharp" / f"{c:03d}"
        lr_dir = root / "train_sharp_bicubic" / f"X{s}" / f"{c:03d}"
        gt_dir.mkdir(parents=True)
        lr_dir.mkdir(parents=True)
        for t in range(recipe.clip_frames):
            frame = base[t % 64 : t % 64 + h, 4 * t : 4 * t + w].astype(np.float32)
            frame += rng.normal(0, 3, frame.shape).astype(np.float32)  # sensor noise
            gt = Image.fromarray(np.clip(frame, 0, 255).astype(np.uint8))
            gt.save(gt_dir / f"{t:08d}.png", compress_level=1)
            gt.resize((w // s, h // s), Image.BICUBIC).save(
                lr_dir / f"{t:08d}.png", compress_level=1
            )


class WholeFrames:
    """A store seen without its `read_crop`: the dataset then reads whole frames and crops."""

    def __init__(self, store: FrameStore) -> None:
        self.store = store

    def clips(self) -> dict[str, ClipInfo]:
        return self.store.clips()

    def read(self, clip: str, index: int, kind: Kind) -> np.ndarray:
        return self.store.read(clip, index, kind)


def training_windows(store: FrameStore, recipe: Recipe, corruption=None):
    """The training dataset of a recipe over `store`: stored low-res frames, flips on; with a
    `corruption`, the input is made from the GT crop by it instead."""
    from vsr.data.datasets import TrainWindows

    return TrainWindows(
        store,
        list(store.clips()),
        num_frames=recipe.window,
        scale=recipe.scale,
        gt_patch_size=recipe.crop,
        mirror=recipe.mirror,
        degradation=corruption if corruption is not None else "bi",
        generate_lr=corruption is not None,
        samples_per_epoch=1 << 30,
        seed=0,
    )


def corruptions() -> dict[str, Any]:
    """The input corruptions `restore` times, by name (None: the clean GT crop)."""
    from vsr.data.corruptions import GaussianNoise, VideoCompression

    return {
        "none": None,
        "noise": GaussianNoise(sigma=(0, 50)),
        "x264-crf30": VideoCompression("libx264", crf=30),
        "x265-crf30": VideoCompression("libx265", crf=30),
    }


def measure_corruptions(store: FrameStore, recipe: Recipe, min_time: float) -> dict[str, Rate]:
    """Training samples per second of one process (one thread) with each input corruption."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return {
            name: _rate(training_windows(store, recipe, corruption).__getitem__, min_time, 3)
            for name, corruption in corruptions().items()
        }
    finally:
        torch.set_num_threads(threads)


def read_sample(
    store: FrameStore, recipe: Recipe, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The store reads of one training sample alone: (t, h, w, 3) low-res and GT crops."""
    from vsr.data.datasets import has_crop_reads

    clips = list(store.clips().values())
    info = clips[rng.integers(len(clips))]
    start = int(rng.integers(info.num_frames - recipe.window + 1))
    s, n, m = recipe.scale, recipe.crop, recipe.crop // recipe.scale
    top = int(rng.integers((info.gt_size[0] - n) // s + 1)) * s
    left = int(rng.integers((info.gt_size[1] - n) // s + 1)) * s
    frames = range(start, start + recipe.window)
    if has_crop_reads(store):
        read = store.read_crop  # type: ignore[attr-defined]
        gt = [read(info.name, t, "gt", top, left, n, n) for t in frames]
        lr = [read(info.name, t, "lr", top // s, left // s, m, m) for t in frames]
    else:
        gt = [store.read(info.name, t, "gt")[top : top + n, left : left + n] for t in frames]
        lr = [
            store.read(info.name, t, "lr")[top // s : top // s + m, left // s : left // s + m]
            for t in frames
        ]
    return np.stack(lr), np.stack(gt)


def _rate(step: Callable[[int], object], min_time: float, min_samples: int) -> Rate:
    """Samples per second of `step(i)` for i = 1, 2, ... (`step(0)` is a warm-up)."""
    step(0)  # opens files, maps, databases
    count, start = 0, time.perf_counter()
    while count < min_samples or time.perf_counter() - start < min_time:
        count += 1
        step(count)
    elapsed = time.perf_counter() - start
    return Rate(
        samples_per_s=round(count / elapsed, 3),
        ms_per_sample=round(1000 * elapsed / count, 2),
        samples=count,
    )


def measure(
    store: FrameStore, recipe: Recipe, min_time: float, min_samples: int = 3
) -> tuple[Rate, Rate, dict]:
    """Training samples per second of one process (one torch thread) over `store`.

    Returns the dataset's rate, the rate of the store reads alone (timed for half as long) and
    the first sample, to compare back-ends.
    """
    import torch

    dataset = training_windows(store, recipe)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in a DataLoader worker
    try:
        first = dataset[0]
        row = _rate(dataset.__getitem__, min_time, min_samples)
        rng = np.random.default_rng(1)
        reads = _rate(lambda _: read_sample(store, recipe, rng), min_time / 2, min_samples)
    finally:
        torch.set_num_threads(threads)
    return row, reads, first


def _disk_bytes(path: Path) -> int:
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


def open_backends(
    src_root: Path, work: Path, backends: Sequence[str], scale: int = 4
) -> dict[str, tuple[FrameStore, Path]]:
    """Convert the generated PNG dataset into each back-end; returns store and folder."""
    from vsr.data.backends.arrays import ArrayStore, write_arrays
    from vsr.data.backends.folder import FolderStore
    from vsr.data.backends.lmdb import REDS_DB_NAMES, LmdbStore, write_lmdb
    from vsr.data.backends.shards import ShardStore, write_shards
    from vsr.data.layouts import discover
    from vsr.data.validate import scan_layout

    layout = discover("reds", src_root, split="all", scale=scale)
    folder = FolderStore.from_layout(layout, scan_layout(layout, scale=scale))
    out: dict[str, tuple[FrameStore, Path]] = {}
    for backend in backends:
        dst = work / backend
        if backend == "folder":
            out[backend] = (folder, src_root)
        elif backend == "lmdb":
            write_lmdb(folder, dst, db_names=REDS_DB_NAMES)
            out[backend] = (LmdbStore.open(dst), dst)
        elif backend in ("shards", "shards-raw"):
            write_shards(folder, dst, encoding="raw" if backend == "shards-raw" else "png")
            out[backend] = (ShardStore(dst), dst)
        elif backend in ("arrays", "arrays-full"):  # one store, read by crop or whole frame
            dst = work / "arrays"
            if not (dst / "store.json").exists():
                write_arrays(folder, dst)
            store = ArrayStore(dst)
            out[backend] = (store if backend == "arrays" else WholeFrames(store), dst)
        else:
            raise ValueError(f"unknown back-end {backend!r}, expected one of {BACKENDS}")
    return out


def run(
    recipes: Sequence[str] = ("reds", "vimeo"),
    backends: Sequence[str] = BACKENDS,
    min_time: float = 5.0,
    workdir: str | None = None,
    recipe_overrides: dict | None = None,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> DataResults:
    """Run the benchmark.

    Args:
        recipes: recipe names (`reds`, `vimeo`).
        backends: back-ends to time (`folder` is the baseline for the speed-ups).
        min_time: seconds of timing the dataset per (recipe, back-end); the store reads alone
            get half as long.
        workdir: where to write the generated data (a temporary folder by default; removed).
        recipe_overrides: fields to change in every recipe (e.g. smaller frames for a smoke test).
        log: progress messages.
    """
    machine = {**machine_info(), "numpy": np.__version__}
    results: dict[str, RecipeResult] = {}
    import torch

    tmp = Path(tempfile.mkdtemp(prefix="vsr-bench-data-", dir=workdir))
    try:
        for name in recipes:
            recipe = RECIPES[name]
            if recipe_overrides:
                recipe = Recipe(**{**asdict(recipe), **recipe_overrides})
            root = tmp / name
            log(f"[{name}] generating {recipe.num_clips} clips x {recipe.clip_frames} frames")
            generate_frames(recipe, root / "png")
            stores = open_backends(root / "png", root, backends, recipe.scale)
            rows: dict[str, BackendResult] = {}
            reference = None
            for backend, (store, path) in stores.items():
                log(f"[{name}] timing {backend}")
                rate, reads, first = measure(store, recipe, min_time)
                reference = reference or (backend, first)
                if not all(torch.equal(first[k], reference[1][k]) for k in ("lq", "gt", "crop")):
                    raise AssertionError(f"{backend} gives other samples than {reference[0]}")
                rows[backend] = BackendResult(
                    **asdict(rate),
                    reads_per_s=reads.samples_per_s,
                    disk_mb=round(_disk_bytes(path) / 2**20, 1),
                )
            if "folder" in rows and rows["folder"].samples_per_s:
                base = rows["folder"].samples_per_s
                rows = {
                    k: replace(row, speedup_vs_folder=round(row.samples_per_s / base, 2))
                    for k, row in rows.items()
                }
            timed: dict[str, Rate] = {}
            if recipe.scale == 1:
                store = (
                    stores["arrays"][0] if "arrays" in stores else next(iter(stores.values()))[0]
                )
                log(f"[{name}] timing the input corruptions")
                timed = measure_corruptions(store, recipe, min_time)
            results[name] = RecipeResult(recipe, rows, timed)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return DataResults(machine, results)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `vsr-bench data`."""
    parser.add_argument(
        "--recipes", nargs="+", choices=sorted(RECIPES), default=["reds", "vimeo"],
        help="recipes to time (default: reds vimeo; restore: same size, with the input "
        "corruptions)",
    )  # fmt: skip
    parser.add_argument(
        "--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS),
        help="back-ends to time (default: all)",
    )  # fmt: skip
    parser.add_argument(
        "--min-time", type=float, default=5.0, help="seconds of timing per back-end (default 5)"
    )
    parser.add_argument("--workdir", help="folder for the generated data (default: system temp)")
    parser.add_argument("--out", help="also write the JSON results to this file")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: tiny frames and clips, 0.2 s per back-end (numbers meaningless)",
    )


def run_from_args(args: argparse.Namespace, command: str = "vsr-bench data") -> DataResults:
    """Run with parsed `vsr-bench data` options, print the JSON (and write `--out`).

    Args:
        args: parsed options (see `add_arguments`).
        command: the command line, recorded in the results.
    """
    overrides = None
    min_time = args.min_time
    if args.quick:
        overrides = {"num_clips": 2, "height": 96, "width": 128, "crop": 64}
        min_time = 0.2
    results = run(args.recipes, args.backends, min_time, args.workdir, overrides)
    return emit(results, command, args.out)


def main(argv: Sequence[str] | None = None) -> int:
    """`vsr-bench data` as a stand-alone entry point."""
    parser = argparse.ArgumentParser(prog="vsr-bench data", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    argv = list(sys.argv[1:] if argv is None else argv)
    run_from_args(parser.parse_args(argv), " ".join(["vsr-bench data", *argv]))
    return 0
