"""The embedded demo dataset: layout, determinism, degradation, motion, atomicity."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vsr.data.degradations import bicubic_downsample
from vsr.data.demo import REDS4, DemoConfig, build_demo, demo_clip_names

SMALL = DemoConfig(num_clips=6, num_frames=5, height=64, width=96, seed=3)


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _frame(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    start = time.perf_counter()
    root = build_demo(tmp_path_factory.mktemp("demo") / "demo", SMALL)
    assert time.perf_counter() - start < 10  # a few seconds at most, even on a busy laptop
    return root


def test_clip_names_hold_out_reds4() -> None:
    names = demo_clip_names(12)
    assert names == sorted(names) and len(set(names)) == 12
    assert set(REDS4) <= set(names)
    assert [n for n in names if n not in REDS4] == [f"{i:03d}" for i in range(1, 9)]
    with pytest.raises(ValueError, match="num_clips"):
        DemoConfig(num_clips=4)
    with pytest.raises(ValueError, match="multiple of scale"):
        DemoConfig(height=66)


def test_layout(demo: Path) -> None:
    names = demo_clip_names(SMALL.num_clips)
    assert sorted(p.name for p in (demo / "train_sharp").iterdir()) == names
    assert sorted(p.name for p in (demo / "train_sharp_bicubic" / "X4").iterdir()) == names
    for clip in names:
        gt = sorted((demo / "train_sharp" / clip).iterdir())
        lr = sorted((demo / "train_sharp_bicubic" / "X4" / clip).iterdir())
        assert [p.name for p in gt] == [f"{t:08d}.png" for t in range(SMALL.num_frames)]
        assert [p.name for p in lr] == [p.name for p in gt]
        assert _frame(gt[0]).shape == (64, 96, 3) and _frame(gt[0]).dtype == np.uint8
        assert _frame(lr[0]).shape == (16, 24, 3)
    meta = (demo / "meta_info.txt").read_text().splitlines()
    assert meta == [f"{clip} 5 (64,96,3)" for clip in names]
    readme = (demo / "README.txt").read_text()
    assert "skimage.data" in readme and "astronaut" in readme
    assert not list(demo.parent.glob("demo.tmp-*"))


def test_lr_is_bicubic_of_gt(demo: Path) -> None:
    for gt_path in (demo / "train_sharp").rglob("*.png"):
        clip, name = gt_path.parent.name, gt_path.name
        lr = _frame(demo / "train_sharp_bicubic" / "X4" / clip / name)
        np.testing.assert_array_equal(lr, bicubic_downsample(_frame(gt_path), 4))


def test_frames_move_but_stay_similar(demo: Path) -> None:
    clips = demo_clip_names(SMALL.num_clips)
    firsts = [_frame(demo / "train_sharp" / c / "00000000.png").astype(float) for c in clips]
    unrelated = np.mean(
        [np.abs(a - b).mean() for i, a in enumerate(firsts) for b in firsts[i + 1 :]]
    )
    for clip in clips:
        frames = [
            _frame(demo / "train_sharp" / clip / f"{t:08d}.png").astype(float)
            for t in range(SMALL.num_frames)
        ]
        for a, b in itertools.pairwise(frames):
            diff = np.abs(a - b).mean()
            assert diff > 0.3, f"clip {clip} does not move"
            assert diff < 0.5 * unrelated, f"clip {clip} jumps between frames"
        # Frames are sharp photos, not flat colour.
        assert frames[0].std() > 10


def test_deterministic(demo: Path, tmp_path: Path) -> None:
    again = build_demo(tmp_path / "again", SMALL)
    assert _files(again) == _files(demo)
    other = build_demo(tmp_path / "other", DemoConfig(**{**SMALL.__dict__, "seed": 4}))
    assert (
        _files(other)["train_sharp/000/00000001.png"]
        != _files(demo)["train_sharp/000/00000001.png"]
    )


def test_existing_destination_reused_or_refused(demo: Path, tmp_path: Path) -> None:
    marker = demo / "train_sharp" / "000" / "00000000.png"
    before = marker.stat().st_mtime_ns
    assert build_demo(demo, SMALL) == demo  # same settings: reused, not rebuilt
    assert marker.stat().st_mtime_ns == before
    with pytest.raises(FileExistsError, match="other settings"):
        build_demo(demo, DemoConfig(**{**SMALL.__dict__, "num_frames": 6}))
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(FileExistsError, match="not a demo dataset"):
        build_demo(plain, SMALL)


def test_interrupted_build_leaves_nothing(tmp_path: Path) -> None:
    written = []

    def stop_after_three() -> None:
        written.append(1)
        if len(written) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_demo(tmp_path / "demo", SMALL, on_frame=stop_after_three)
    assert list(tmp_path.iterdir()) == []
