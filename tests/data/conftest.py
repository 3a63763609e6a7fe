"""Small datasets written as real PNG files in the real layouts (REDS, Vimeo-90K, folders).

Every GT frame is random noise seeded by (clip name, frame index), so a test can recompute the
exact frame a sample should hold; stored low-res frames are 4x4 block averages, so the low-res
pixels under a GT crop are exactly predictable too.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SCALE = 4
HEIGHT, WIDTH = 48, 64  # GT frame size of every fixture


def gt_frame(clip: str, index: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """The GT frame `index` of `clip`: noise, unique per (clip, index)."""
    rng = np.random.default_rng([zlib.crc32(clip.encode()), index])
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def block_average(gt: np.ndarray, scale: int) -> np.ndarray:
    """Low-res frame: floor of the mean of each scale x scale block (exact integers)."""
    h, w = gt.shape[0] // scale, gt.shape[1] // scale
    blocks = gt[: h * scale, : w * scale].astype(np.int64).reshape(h, scale, w, scale, 3)
    return (blocks.sum(axis=(1, 3)) // (scale * scale)).astype(np.uint8)


def write_png(path: Path, frame: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(path)


def write_clip(
    clip: str,
    gt_dir: Path,
    lr_dir: Path | None,
    num_frames: int,
    name: Callable[[int], str] = "{:08d}.png".format,
    height: int = HEIGHT,
    width: int = WIDTH,
) -> None:
    """Write GT frames (and block-averaged low-res ones) of `clip`, file `name(i)` per frame."""
    for i in range(num_frames):
        frame = gt_frame(clip, i, height, width)
        write_png(gt_dir / name(i), frame)
        if lr_dir is not None:
            write_png(lr_dir / name(i), block_average(frame, SCALE))


REDS_TRAIN_CLIPS = ("000", "001", "002", "011", "015", "020")
REDS_VAL_CLIPS = ("000", "001")  # official val_sharp: clips 240 and 241 once merged
REDS_FRAMES = 8


def make_reds(root: Path, lr: bool = True) -> Path:
    """REDS layout: train_sharp + val_sharp, 8 frames of 64x48 per clip, x4 low-res if `lr`."""
    for part, clips in (("train", REDS_TRAIN_CLIPS), ("val", REDS_VAL_CLIPS)):
        for clip in clips:
            merged = clip if part == "train" else f"{int(clip) + 240:03d}"
            lr_dir = root / f"{part}_sharp_bicubic" / "X4" / clip if lr else None
            write_clip(merged, root / f"{part}_sharp" / clip, lr_dir, REDS_FRAMES)
    return root


@pytest.fixture(scope="session")
def reds_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A REDS root, shared and read-only: copy it (`make_reds`) to break it."""
    return make_reds(tmp_path_factory.mktemp("reds") / "REDS")


@pytest.fixture(scope="session")
def reds_gt_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A REDS root without low-res frames."""
    return make_reds(tmp_path_factory.mktemp("reds_gt") / "REDS", lr=False)


VIMEO_TRAIN = ("00001/0001", "00001/0002", "00002/0001")
VIMEO_TEST = ("00001/0003", "00002/0007")


def make_vimeo(root: Path, gt_dir: str = "sequences", lr_dir: str | None = "BIx4") -> Path:
    """Vimeo-90K septuplets: im1..im7 of 64x48, list files, block-averaged low-res."""
    for clip in (*VIMEO_TRAIN, *VIMEO_TEST):
        write_clip(
            clip,
            root / gt_dir / clip,
            root / lr_dir / clip if lr_dir else None,
            7,
            name=lambda i: f"im{i + 1}.png",
        )
    (root / "sep_trainlist.txt").write_text("\n".join(VIMEO_TRAIN) + "\n")
    (root / "sep_testlist.txt").write_text("\n".join(VIMEO_TEST) + "\n\n")
    return root


@pytest.fixture(scope="session")
def vimeo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_vimeo(tmp_path_factory.mktemp("vimeo") / "vimeo90k")


# Folder of clips with names that sort wrongly as text: frame1, frame2, ..., frame10, frame11.
FOLDER_CLIPS = {
    "calendar": (12, lambda i: f"frame{i + 1}.png"),
    "city walk": (9, lambda i: f"img_{i * 5}.png"),
}


def make_folder(root: Path, gt_dir: str = "GT", lr_dir: str | None = "BIx4") -> Path:
    """Vid4-like folder: GT/<clip>/<frames> and BIx4/<clip>/<frames>."""
    for clip, (n, name) in FOLDER_CLIPS.items():
        lr = root / lr_dir / clip if lr_dir else None
        write_clip(clip, root / gt_dir / clip, lr, n, name=name)
    return root


@pytest.fixture(scope="session")
def folder_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_folder(tmp_path_factory.mktemp("folder") / "Vid4")


@dataclass(frozen=True)
class Synth:
    """Helpers and dataset makers for tests, handed out by the `synth` fixture."""

    scale: int = SCALE
    height: int = HEIGHT
    width: int = WIDTH
    reds_train_clips: tuple[str, ...] = REDS_TRAIN_CLIPS
    reds_frames: int = REDS_FRAMES
    vimeo_train: tuple[str, ...] = VIMEO_TRAIN
    vimeo_test: tuple[str, ...] = VIMEO_TEST

    gt_frame = staticmethod(gt_frame)
    block_average = staticmethod(block_average)
    write_png = staticmethod(write_png)
    write_clip = staticmethod(write_clip)
    make_reds = staticmethod(make_reds)
    make_vimeo = staticmethod(make_vimeo)
    make_folder = staticmethod(make_folder)


@pytest.fixture(scope="session")
def synth() -> Synth:
    return Synth()
