"""FolderStore: the FrameStore over image files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vsr.data import FolderStore, FrameStore
from vsr.data.backends.base import ClipInfo
from vsr.data.layouts import discover


def test_folder_store_is_a_frame_store(reds_root: Path) -> None:
    store = FolderStore.from_layout(discover("reds", reds_root, split="all"))
    assert isinstance(store, FrameStore)
    infos = store.clips()
    assert list(infos) == ["000", "001", "002", "011", "015", "020", "240", "241"]
    assert infos["240"] == ClipInfo("240", 8, (48, 64), (12, 16))


def test_read_returns_exact_frames_in_natural_order(folder_root: Path, synth) -> None:
    store = FolderStore.from_layout(discover("folder", folder_root))
    assert store.clips()["calendar"].num_frames == 12
    for clip, count in (("calendar", 12), ("city walk", 9)):
        for i in range(count):
            gt = store.read(clip, i, "gt")
            assert gt.dtype == np.uint8 and gt.shape == (48, 64, 3)
            np.testing.assert_array_equal(gt, synth.gt_frame(clip, i))
            lr = store.read(clip, i, "lr")
            np.testing.assert_array_equal(lr, synth.block_average(synth.gt_frame(clip, i), 4))


def test_read_without_low_res_and_bad_indices(reds_gt_only: Path) -> None:
    store = FolderStore.from_layout(discover("reds", reds_gt_only))
    assert store.clips()["001"].lr_size is None
    with pytest.raises(KeyError, match="no 'lr' frames"):
        store.read("001", 0, "lr")
    with pytest.raises(KeyError, match="no frame 8"):
        store.read("001", 8, "gt")
    with pytest.raises(KeyError):
        store.read("999", 0, "gt")


def test_gray_rgba_and_jpeg_frames_become_rgb(tmp_path: Path, synth) -> None:
    frame = synth.gt_frame("c", 0)
    clip = tmp_path / "GT" / "c"
    clip.mkdir(parents=True)
    Image.fromarray(frame[..., 0]).save(clip / "0.png")  # 8-bit gray
    Image.fromarray(np.dstack([frame, np.full(frame.shape[:2], 7, np.uint8)])).save(clip / "1.png")
    ramp = np.linspace(0, 255, 64).astype(np.uint8)
    smooth = np.dstack([np.tile(ramp, (48, 1))] * 3)  # JPEG keeps smooth pictures close
    Image.fromarray(smooth).save(clip / "2.jpg", quality=95)
    store = FolderStore.from_layout(discover("folder", tmp_path))
    gray, rgba, jpeg = (store.read("c", i, "gt") for i in range(3))
    assert gray.shape == rgba.shape == jpeg.shape == (48, 64, 3)
    np.testing.assert_array_equal(gray, np.repeat(frame[..., :1], 3, axis=2))
    np.testing.assert_array_equal(rgba, frame)
    assert np.abs(jpeg.astype(int) - smooth).max() <= 8


def test_corrupt_frame_error_names_the_file(tmp_path: Path, synth) -> None:
    synth.write_clip("c", tmp_path / "GT" / "c", None, 3)
    store = FolderStore.from_layout(discover("folder", tmp_path))
    assert store.read("c", 1, "gt").shape == (48, 64, 3)
    bad = tmp_path / "GT" / "c" / "00000001.png"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])  # header intact, pixel data cut
    with pytest.raises(OSError, match=r"cannot decode frame .*00000001\.png"):
        store.read("c", 1, "gt")
