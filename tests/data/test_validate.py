"""Bad input fails fast, with one DataError that names every broken file."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from vsr.data import DataError, FolderStore, VSRDataModule
from vsr.data.backends.base import ClipInfo
from vsr.data.layouts import discover
from vsr.data.validate import MAX_LISTED, check_store, scan_layout


@pytest.fixture
def reds(tmp_path: Path, reds_root: Path) -> Path:
    """A private copy of the REDS fixture, free to break."""
    root = tmp_path / "REDS"
    shutil.copytree(reds_root, root)
    return root


def scan(root: Path, kind: str = "reds", num_frames: int = 5, **kwargs) -> dict[str, ClipInfo]:
    layout = discover(kind, root, split=kwargs.pop("split", "all"), **kwargs)
    return scan_layout(layout, scale=4, num_frames=num_frames, gt_patch_size=32)


def test_good_dataset_passes(reds: Path) -> None:
    infos = scan(reds)
    assert len(infos) == 8 and infos["011"] == ClipInfo("011", 8, (48, 64), (12, 16))
    assert issubclass(DataError, ValueError)


def test_missing_low_res_frame(reds: Path) -> None:
    (reds / "train_sharp_bicubic/X4/011/00000003.png").unlink()
    with pytest.raises(DataError) as err:
        scan(reds)
    message = str(err.value)
    assert message.startswith("1 problem(s) with the dataset at")
    assert f"missing low-res frame {reds}/train_sharp_bicubic/X4/011/00000003.*" in message
    assert f"for GT {reds}/train_sharp/011/00000003.png" in message


def test_extra_low_res_frame(reds: Path) -> None:
    lr = reds / "train_sharp_bicubic/X4/002"
    shutil.copy(lr / "00000000.png", lr / "00000099.png")
    with pytest.raises(DataError, match=re.escape(f"extra low-res frame {lr}/00000099.png")):
        scan(reds)


def test_clip_shorter_than_window(reds: Path) -> None:
    with pytest.raises(DataError) as err:
        scan(reds, num_frames=9)
    message = str(err.value)
    assert message.startswith("8 problem(s)")  # every clip has 8 frames
    assert f"clip 000 has 8 frames, fewer than num_frames=9 ({reds}/train_sharp/000)" in message


def test_low_res_size_times_scale_differs_from_gt(reds: Path, synth) -> None:
    lr = reds / "val_sharp_bicubic/X4/001"
    for i in range(8):
        synth.write_png(lr / f"{i:08d}.png", synth.gt_frame("x", i, 11, 16))
    with pytest.raises(DataError) as err:
        scan(reds)
    assert (
        "clip 241 (" + str(reds / "val_sharp/001") + "): low-res frames are 16x11, x4 is 64x44 "
        "but GT frames are 64x48"
    ) in str(err.value)


def test_truncated_png_header(reds: Path) -> None:
    bad = reds / "train_sharp/015/00000004.png"
    bad.write_bytes(bad.read_bytes()[:12])
    with pytest.raises(DataError, match=re.escape(f"unreadable or corrupt image {bad}")):
        scan(reds)


def test_text_file_named_png(reds: Path) -> None:
    bad = reds / "train_sharp_bicubic/X4/020/00000001.png"
    bad.write_text("this is not an image\n")
    with pytest.raises(DataError, match=re.escape(f"unreadable or corrupt image {bad}")):
        scan(reds)


def test_empty_and_missing_clip_folders(reds: Path) -> None:
    shutil.rmtree(reds / "train_sharp/001")
    (reds / "train_sharp/001").mkdir()
    shutil.rmtree(reds / "train_sharp_bicubic/X4/002")
    with pytest.raises(DataError) as err:
        scan(reds)
    message = str(err.value)
    assert f"clip 001: folder {reds}/train_sharp/001 has no image files" in message
    assert f"clip 002: low-res folder {reds}/train_sharp_bicubic/X4/002 does not exist" in message


def test_nested_folder_instead_of_frames(tmp_path: Path, synth) -> None:
    synth.write_clip("c", tmp_path / "GT" / "c" / "frames", None, 3)
    with pytest.raises(DataError, match=r"GT/c has no image files, only sub-folders"):
        scan(tmp_path, kind="folder", num_frames=1)


def test_frame_size_changes_within_clip(reds: Path, synth) -> None:
    bad = reds / "train_sharp/002/00000005.png"
    synth.write_png(bad, synth.gt_frame("x", 0, 40, 64))
    with pytest.raises(DataError, match=re.escape(f"{bad} is 64x40 but the GT frames before")):
        scan(reds)


def test_frames_smaller_than_patch(reds: Path) -> None:
    layout = discover("reds", reds, split="reds4_val")
    with pytest.raises(DataError, match="GT frames are 64x48, smaller than gt_patch_size=64"):
        scan_layout(layout, scale=4, num_frames=2, gt_patch_size=64)


def test_split_file_naming_missing_clips(vimeo_root: Path, tmp_path: Path) -> None:
    listing = tmp_path / "sep_trainlist.txt"
    listing.write_text("00001/0001\n00003/0001\n")
    layout = discover("vimeo", vimeo_root, list_file=listing)
    with pytest.raises(DataError, match=re.escape(f"{listing}: clip '00003/0001' does not exist")):
        scan_layout(layout, scale=4, num_frames=7)


def test_all_problems_in_one_error(reds: Path) -> None:
    for clip in ("000", "001", "002", "011", "015", "020"):
        for i in (1, 2):
            (reds / f"train_sharp_bicubic/X4/{clip}/0000000{i}.png").unlink()
    with pytest.raises(DataError) as err:
        scan(reds)
    lines = str(err.value).splitlines()
    assert lines[0].startswith("12 problem(s)")
    assert len(lines) == 1 + MAX_LISTED + 1 and lines[-1] == "  ... and 2 more"


def test_datamodule_setup_raises_data_error(reds: Path) -> None:
    (reds / "train_sharp/240").mkdir()  # an empty clip folder: clip 240 is also val_sharp/000
    dm = VSRDataModule(kind="reds", root=str(reds), num_frames=4, gt_patch_size=32)
    with pytest.raises(DataError) as err:
        dm.setup("fit")
    message = str(err.value)
    assert "clip 240 is both" in message
    assert f"{reds}/train_sharp/240" in message


def test_check_store_for_any_back_end(reds_root: Path) -> None:
    store = FolderStore.from_layout(discover("reds", reds_root, split="all"))
    infos = check_store(store, ["001", "011"], scale=4, num_frames=8, gt_patch_size=48)
    assert list(infos) == ["001", "011"]
    with pytest.raises(DataError) as err:
        check_store(store, ["001", "777"], scale=2, num_frames=9, what="the test store")
    message = str(err.value)
    assert "clip '777' is not in the test store" in message
    assert "clip 001 has 8 frames, fewer than num_frames=9" in message
    assert "x2 is 32x24 but GT frames are 64x48" in message
