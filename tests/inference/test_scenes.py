"""Scene cuts: found where two clips meet, and no propagation across them."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import restoration_data as rd
from vsr.inference import upscale_frames, upscale_video
from vsr.inference.scenes import CutDetector, content_change, read_cuts, split_shots
from vsr.nn import BasicVSRPlusPlus


def shot(name: str, frames: int = 16) -> list[np.ndarray]:
    """A smooth moving pattern: one shot (small changes between its frames)."""
    return [rd.gt_frame(name, i, 24, 32) for i in range(frames)]


@pytest.fixture(scope="module")
def model() -> BasicVSRPlusPlus:
    torch.manual_seed(0)
    return BasicVSRPlusPlus(8, 1).eval()


def test_the_cut_between_two_shots_is_found_and_nothing_else() -> None:
    detector = CutDetector()
    frames = shot("first") + shot("second")
    starts = [i for i, frame in enumerate(frames) if i and detector(i, frame)]
    assert starts == [16] and detector.cuts == [16]
    within = max(content_change(a, b) for a, b in itertools.pairwise(frames[:16]))
    across = content_change(frames[15], frames[16])
    assert within < 27 <= across


def test_a_change_sooner_than_min_shot_is_no_cut() -> None:
    detector = CutDetector(min_shot=20)
    frames = shot("first") + shot("second")
    assert not any(detector(i, f) for i, f in enumerate(frames) if i)


def test_split_shots_reads_lazily_and_keeps_every_frame() -> None:
    asked = []

    def starts(index, frame):
        asked.append(index)
        return index in (3, 5)

    shots = [list(s) for s in split_shots(range(8), starts)]
    assert shots == [[0, 1, 2], [3, 4], [5, 6, 7]]
    assert asked == [1, 2, 3, 4, 5, 6, 7]  # once per frame but the first


def test_after_a_cut_the_output_is_the_second_shot_run_alone(model) -> None:
    first, second = shot("first"), shot("second")
    joined = first + second
    options = {"chunk": 10, "overlap": 3, "device": "cpu"}
    split = list(upscale_frames(joined, model, scene_cuts="auto", **options))
    alone = list(upscale_frames(second, model, **options))
    assert all(np.array_equal(a, b) for a, b in zip(split[16:], alone, strict=True))
    assert all(
        np.array_equal(a, b)
        for a, b in zip(split[:16], upscale_frames(first, model, **options), strict=True)
    )
    # Without cuts the first shot's features reach into the second.
    across = list(upscale_frames(joined, model, scene_cuts="off", **options))
    assert not all(np.array_equal(a, b) for a, b in zip(across[16:], alone, strict=True))
    # A list of cuts (from an editor) does the same as the detector.
    listed = list(upscale_frames(joined, model, scene_cuts=[16], **options))
    assert all(np.array_equal(a, b) for a, b in zip(listed, split, strict=True))


def test_cut_files_and_bad_settings(tmp_path, model) -> None:
    (tmp_path / "cuts.txt").write_text("120\n 48, 0\n")
    assert read_cuts(tmp_path / "cuts.txt") == [48, 120]
    (tmp_path / "bad.txt").write_text("48\n1:02\n")
    with pytest.raises(ValueError, match=r"bad.txt: '1:02' is not a frame number"):
        read_cuts(tmp_path / "bad.txt")
    with pytest.raises(ValueError, match="scene_cuts must be auto, off or a list"):
        next(upscale_frames(shot("a", 2), model, scene_cuts="sometimes"))
    frames = tmp_path / "frames"
    frames.mkdir()
    from PIL import Image

    for i, frame in enumerate(shot("first") + shot("second", 15)):
        Image.fromarray(frame).save(frames / f"{i:03d}.png")
    result = upscale_video(frames, tmp_path / "out", model, chunk=10, overlap=3)
    assert result.cuts == [16] and result.frames == 31
    with pytest.raises(FileNotFoundError, match=r"scene-cut list .*missing\.txt does not exist"):
        upscale_video(frames, tmp_path / "o2", model, scene_cuts=str(tmp_path / "missing.txt"))
