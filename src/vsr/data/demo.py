"""A small, real-looking video dataset made from photographs bundled with scikit-image.

Each clip is a virtual camera moving over one photograph: the crop window's centre, zoom and
roll follow smoothed random walks (pans that speed up and slow down, slow zooms, a few degrees
of roll), and every frame is resampled from the full-resolution photo, so ground-truth frames
are sharp and consecutive frames differ by real sub-pixel motion. Low-res frames are made with
the MATLAB-compatible bicubic degradation, as for REDS.

The result uses the REDS layout, with clip names chosen so that the REDS4 split (000, 011, 015,
020) holds out four clips for validation::

    DST/train_sharp/000/00000000.png
    DST/train_sharp_bicubic/X4/000/00000000.png
    DST/meta_info.txt        # "000 30 (192,256,3)" per clip, BasicSR style
    DST/README.txt
    DST/demo.json            # the settings it was built with

Building is deterministic (same settings, same bytes) and atomic: frames go to a temporary
sibling folder that is renamed to DST only when complete.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from vsr.data.degradations import bicubic_downsample, imresize

REDS4 = ("000", "011", "015", "020")

# Colour photographs shipped inside scikit-image's wheel (no download), all public domain or CC0.
PHOTOS: dict[str, str] = {
    "astronaut": "Eileen Collins, NASA Great Images database, public domain",
    "coffee": "coffee cup, Rachel Michetti for Pikolo Espresso Bar, CC0",
    "chelsea": "Chelsea the cat, Stefan van der Walt, CC0",
    "rocket": "DSCOVR launch on Falcon 9, SpaceX, public domain",
    "hubble_deep_field": "Hubble eXtreme Deep Field, NASA, public domain",
    "immunohistochemistry": "IHC-stained colonic glands, CMMI, no known copyright restrictions",
}

_MAX_ROLL = math.radians(3.0)
_ZOOM_RANGE = 0.08  # log-zoom wanders within +-this around the clip's base zoom
_MAX_PHOTO_ZOOM = 2.4  # photos larger than this many photo pixels per frame pixel are shrunk


@dataclass(frozen=True)
class DemoConfig:
    """Settings of a demo dataset.

    Attributes:
        num_clips: number of clips, at least 5 (the four REDS4 clips are always among them).
        num_frames: frames per clip.
        height: GT frame height, a multiple of `scale`.
        width: GT frame width, a multiple of `scale`.
        scale: downscaling factor of the low-res frames.
        seed: seed of the camera trajectories.
    """

    num_clips: int = 12
    num_frames: int = 30
    height: int = 192
    width: int = 256
    scale: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_clips < len(REDS4) + 1:
            raise ValueError(f"num_clips must be at least {len(REDS4) + 1}, got {self.num_clips}")
        if self.num_frames < 2:
            raise ValueError(f"num_frames must be at least 2, got {self.num_frames}")
        if self.height % self.scale or self.width % self.scale:
            raise ValueError(
                f"frame size {self.height}x{self.width} must be a multiple of scale {self.scale}"
            )


def demo_clip_names(num_clips: int) -> list[str]:
    """Clip names: the REDS4 names plus the lowest other REDS numbers, sorted."""
    others = (f"{i:03d}" for i in range(1000) if f"{i:03d}" not in REDS4)
    names = list(REDS4) + [next(others) for _ in range(num_clips - len(REDS4))]
    return sorted(names)


def load_photo(name: str) -> np.ndarray:
    """One of the bundled photographs as HxWx3 uint8."""
    import skimage.data

    if name not in PHOTOS:
        raise KeyError(f"unknown demo photo {name!r}, expected one of {sorted(PHOTOS)}")
    return np.ascontiguousarray(getattr(skimage.data, name)()[..., :3])


def _smooth_walk(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """A random walk smoothed over time, scaled to peak magnitude 1."""
    walk = np.cumsum(rng.normal(size=n + 20))
    walk = ndimage.gaussian_filter1d(walk, sigma, mode="nearest")[10 : 10 + n]
    walk -= walk.mean()
    return walk / max(np.abs(walk).max(), 1e-9)


@dataclass(frozen=True)
class Trajectory:
    """Per-frame camera pose over a photo: centre (photo pixels), zoom, roll (radians)."""

    cx: np.ndarray
    cy: np.ndarray
    zoom: np.ndarray  # photo pixels per frame pixel
    roll: np.ndarray


def _half_extent(
    zoom: np.ndarray, roll: np.ndarray, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Half width and half height, in photo pixels, of the rolled and zoomed window."""
    c, s = np.abs(np.cos(roll)), np.abs(np.sin(roll))
    return zoom * (width * c + height * s) / 2, zoom * (width * s + height * c) / 2


def sample_trajectory(
    rng: np.random.Generator, photo_shape: tuple[int, int], num_frames: int, height: int, width: int
) -> Trajectory:
    """A smooth camera path whose window stays inside the photo in every frame."""
    ph, pw = photo_shape
    n = num_frames
    # Largest zoom at which the window, rolled and zoomed in to the extremes, still fits.
    hx1, hy1 = _half_extent(np.float64(1.0), np.float64(_MAX_ROLL), height, width)
    z_fit = min((pw - 6) / (2 * hx1), (ph - 6) / (2 * hy1)) / math.exp(_ZOOM_RANGE)
    zoom = z_fit * rng.uniform(0.6, 0.9) * np.exp(_ZOOM_RANGE * _smooth_walk(rng, n, 10.0))
    roll = rng.uniform(0.2, 1.0) * _MAX_ROLL * _smooth_walk(rng, n, 8.0)

    # Pan: a base velocity whose direction drifts and whose speed rises and falls.
    speed = rng.uniform(0.4, 2.5) * (1 + 0.6 * _smooth_walk(rng, n, 5.0))  # frame px / frame
    heading = rng.uniform(0, 2 * math.pi) + 0.8 * _smooth_walk(rng, n, 8.0)
    vx, vy = speed * np.cos(heading) * zoom, speed * np.sin(heading) * zoom
    px, py = np.cumsum(vx) - vx[0], np.cumsum(vy) - vy[0]

    hx, hy = _half_extent(zoom, roll, height, width)
    centre = []
    for path, half, size in ((px, hx, pw), (py, hy, ph)):
        lo, hi = half + 2, size - half - 3  # allowed centres per frame
        for _ in range(60):  # shrink the excursion until a common offset fits
            low, high = np.max(lo - path), np.min(hi - path)
            if low <= high:
                break
            path = path * 0.8
        centre.append(path + rng.uniform(low, high))
    return Trajectory(cx=centre[0], cy=centre[1], zoom=zoom, roll=roll)


def render_frame(
    photo: np.ndarray, cx: float, cy: float, zoom: float, roll: float, height: int, width: int
) -> np.ndarray:
    """Resample one HxWx3 uint8 frame from the photo through the given camera window.

    Frame pixel centre (i + 0.5, j + 0.5), taken relative to the frame centre, is rotated by
    `roll`, scaled by `zoom` and moved to (cx, cy) in the photo's continuous coordinates.
    """
    c, s = math.cos(roll), math.sin(roll)
    # Work on the bounding box of the window only; its border keeps the filters' context.
    hx, hy = _half_extent(np.float64(zoom), np.float64(roll), height, width)
    x0, y0 = max(int(cx - hx) - 8, 0), max(int(cy - hy) - 8, 0)
    x1 = min(int(cx + hx) + 9, photo.shape[1])
    y1 = min(int(cy + hy) + 9, photo.shape[0])
    region = photo[y0:y1, x0:x1]
    if zoom > 1:
        # Antialias before shrinking, like a camera's optics and sensor would.
        sigma = 0.5 * math.sqrt(zoom**2 - 1)
        blurred = ndimage.gaussian_filter(region.astype(np.float32), (sigma, sigma, 0))
        region = np.clip(np.rint(blurred), 0, 255).astype(np.uint8)
    # PIL's affine maps output coordinates to input ones (both with pixel centres at +0.5).
    a, b, d, e = zoom * c, -zoom * s, zoom * s, zoom * c
    off_x = cx - x0 - a * width / 2 - b * height / 2
    off_y = cy - y0 - d * width / 2 - e * height / 2
    frame = Image.fromarray(region).transform(
        (width, height),
        Image.Transform.AFFINE,
        (a, b, off_x, d, e, off_y),
        resample=Image.Resampling.BICUBIC,
    )
    return np.asarray(frame)


def _prepared_photo(name: str, config: DemoConfig) -> np.ndarray:
    """The photo, shrunk once if it is much larger than the camera window needs."""
    photo = load_photo(name)
    ph, pw = photo.shape[:2]
    fit = min(pw / config.width, ph / config.height)
    if fit > _MAX_PHOTO_ZOOM:
        small = imresize(photo.astype(np.float64), _MAX_PHOTO_ZOOM / fit)
        photo = np.clip(np.rint(small), 0, 255).astype(np.uint8)
    return photo


def render_clip(config: DemoConfig, clip_index: int, photo: np.ndarray) -> np.ndarray:
    """All GT frames of one clip, (T, H, W, 3) uint8."""
    rng = np.random.default_rng([config.seed, clip_index])
    traj = sample_trajectory(rng, photo.shape[:2], config.num_frames, config.height, config.width)
    return np.stack(
        [
            render_frame(
                photo,
                traj.cx[t],
                traj.cy[t],
                traj.zoom[t],
                traj.roll[t],
                config.height,
                config.width,
            )
            for t in range(config.num_frames)
        ]
    )


def _readme(config: DemoConfig, assignment: dict[str, str]) -> str:
    lines = [
        "vsr demo dataset (REDS layout)",
        "",
        "Synthetic video clips made by moving a virtual camera (smooth pans with varying speed,",
        "slow zooms, a few degrees of roll) over photographs bundled with scikit-image",
        "(skimage.data). Frames are resampled from the full-resolution photos, so the GT frames",
        f"are sharp; low-res frames are MATLAB-compatible bicubic x{config.scale} downsamplings of them.",
        "",
        f"clips: {config.num_clips} x {config.num_frames} frames, GT {config.height}x"
        f"{config.width}, seed {config.seed}",
        f"validation (REDS4 split): {', '.join(REDS4)}; the other clips are for training.",
        "Validation clips reuse the training photos along other camera paths: this is a data set",
        "for trying the pipeline, not for measuring generalisation.",
        "",
        "clip  photo",
        *(f"{clip}   {photo}: {PHOTOS[photo]}" for clip, photo in assignment.items()),
        "",
        "Rebuild with: vsr-prepare demo DST",
        "",
    ]
    return "\n".join(lines)


def _check_existing(dst: Path, config: DemoConfig) -> bool:
    """True when dst is a complete demo built with the same settings; raise if it is not."""
    meta = dst / "demo.json"
    if not meta.is_file():
        raise FileExistsError(f"{dst} exists and is not a demo dataset; remove it or pick another")
    built = json.loads(meta.read_text())
    if built != dataclasses.asdict(config):
        raise FileExistsError(
            f"{dst} holds a demo dataset built with other settings ({built}); remove it or pass "
            "another destination"
        )
    return True


def build_demo(
    dst: str | os.PathLike,
    config: DemoConfig | None = None,
    *,
    overwrite: bool = False,
    on_frame: Callable[[], None] | None = None,
) -> Path:
    """Build the demo dataset at `dst`, atomically.

    Args:
        dst: destination folder; must not exist, unless it already holds a demo dataset with
            the same settings (then it is reused as is) or `overwrite` is set.
        config: dataset settings (defaults: 12 clips x 30 frames of 192x256, x4).
        overwrite: replace an existing destination.
        on_frame: called once per GT frame written, for progress bars.

    Returns:
        The destination path.

    Raises:
        FileExistsError: dst exists and is not the same demo dataset.
    """
    config = config or DemoConfig()
    dst = Path(dst)
    if dst.exists() and not overwrite and _check_existing(dst, config):
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{dst.name}.tmp-", dir=dst.parent))
    try:
        names = demo_clip_names(config.num_clips)
        photo_names = list(PHOTOS)
        assignment = {clip: photo_names[i % len(photo_names)] for i, clip in enumerate(names)}
        photos = {name: _prepared_photo(name, config) for name in set(assignment.values())}
        meta = []
        for index, clip in enumerate(names):
            frames = render_clip(config, index, photos[assignment[clip]])
            gt_dir = tmp / "train_sharp" / clip
            lr_dir = tmp / "train_sharp_bicubic" / f"X{config.scale}" / clip
            gt_dir.mkdir(parents=True)
            lr_dir.mkdir(parents=True)
            for t, frame in enumerate(frames):
                _write_png(gt_dir / f"{t:08d}.png", frame)
                _write_png(lr_dir / f"{t:08d}.png", bicubic_downsample(frame, config.scale))
                if on_frame is not None:
                    on_frame()
            meta.append(f"{clip} {config.num_frames} ({config.height},{config.width},3)")
        (tmp / "meta_info.txt").write_text("\n".join(meta) + "\n")
        (tmp / "README.txt").write_text(_readme(config, assignment))
        (tmp / "demo.json").write_text(json.dumps(dataclasses.asdict(config), indent=2) + "\n")
        if dst.exists():  # overwrite: only now, so a failed rebuild keeps the old data
            shutil.rmtree(dst)
        os.rename(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dst


def _write_png(path: Path, frame: np.ndarray) -> None:
    Image.fromarray(frame).save(path, format="PNG", compress_level=1)
