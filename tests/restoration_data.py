"""Tiny same-size restoration datasets written as real image files in the released models'
layouts: GoPro (`train|test/{GT,blur}/<clip>/%06d.png`), DVD
(`quantitative_datasets/{GT,LQ}/<clip>/%05d.jpg`), DAVIS (`JPEGImages/480p/<clip>/%05d.jpg`,
GT only) and a GT/LQ folder of `%03d.png` frames from 001 (LDV's naming).

GT frames are smooth moving patterns (so blur, noise and compression are visible), the "blurred"
frames are a 5x5 box blur of them: exact enough to tell a paired read from a made one.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

HEIGHT, WIDTH = 32, 48


def gt_frame(clip: str, index: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """A smooth pattern moving with `index`, unique per clip."""
    rng = np.random.default_rng(zlib.crc32(clip.encode()))
    fy, fx, phase = rng.uniform(0.05, 0.25, 3), rng.uniform(0.05, 0.25, 3), rng.uniform(0, 6, 3)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    channels = [
        127.5 + 100 * np.sin(fy[c] * y + fx[c] * (x + 2 * index) + phase[c]) for c in range(3)
    ]
    return np.clip(np.rint(np.stack(channels, -1)), 0, 255).astype(np.uint8)


def blurred(frame: np.ndarray) -> np.ndarray:
    return ndimage.uniform_filter(frame, size=(5, 5, 1), mode="nearest")


def write(path: Path, frame: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jpg":
        Image.fromarray(frame).save(path, quality=98)
    else:
        Image.fromarray(frame).save(path)


def write_pair(
    gt_dir: Path, lq_dir: Path | None, clip: str, frames: int, name: str, first: int = 0
) -> None:
    for i in range(frames):
        frame = gt_frame(clip, i)
        write(gt_dir / name.format(i + first), frame)
        if lq_dir is not None:
            write(lq_dir / name.format(i + first), blurred(frame))


GOPRO = {"train": ("GOPR0372_07_00", "GOPR0374_11_00"), "test": ("GOPR0384_11_00",)}
DVD = ("IMG_0003", "IMG_0100", "IMG_0101")  # IMG_0003 is a DVD test clip
DAVIS = ("bear", "boat", "camel")


def make_gopro(root: Path, frames: int = 6) -> Path:
    for part, clips in GOPRO.items():
        for clip in clips:
            write_pair(
                root / part / "GT" / clip, root / part / "blur" / clip, clip, frames, "{:06d}.png"
            )
    return root


def make_dvd(root: Path, frames: int = 6) -> Path:
    base = root / "quantitative_datasets"
    for clip in DVD:
        write_pair(base / "GT" / clip, base / "LQ" / clip, clip, frames, "{:05d}.jpg")
    return root


def make_davis(root: Path, frames: int = 6) -> Path:
    for clip in DAVIS:
        write_pair(root / "JPEGImages" / "480p" / clip, None, clip, frames, "{:05d}.jpg")
    (root / "ImageSets" / "2017").mkdir(parents=True)
    (root / "ImageSets" / "2017" / "train.txt").write_text("bear\nboat\n")
    (root / "ImageSets" / "2017" / "val.txt").write_text("camel\n")
    return root


def make_ldv(root: Path, clips: tuple[str, ...] = ("001", "002"), frames: int = 5) -> Path:
    """GT/<clip>/001.png ... and LQ/<clip>/001.png ...: frames numbered from 1."""
    for clip in clips:
        write_pair(root / "GT" / clip, root / "LQ" / clip, clip, frames, "{:03d}.png", first=1)
    return root
