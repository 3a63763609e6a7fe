"""Layouts: which clips and files each split of REDS, Vimeo-90K and folders of clips holds."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vsr.data import DataError
from vsr.data.layouts import discover
from vsr.data.splits import REDS4_CLIPS, read_list_file
from vsr.frames import list_frames, natural_key


def test_natural_key_orders_numbers_by_value() -> None:
    names = ["frame10.png", "frame2.png", "frame1.png", "Frame3.png", "frame1b.png", "a9_x2"]
    assert sorted(names, key=natural_key) == [
        "a9_x2",
        "frame1.png",
        "frame1b.png",
        "frame2.png",
        "Frame3.png",
        "frame10.png",
    ]


def test_list_frames_natural_order_skips_hidden_and_other_files(tmp_path: Path, synth) -> None:
    for i in (10, 2, 1, 11):
        synth.write_png(tmp_path / f"f{i}.png", synth.gt_frame("x", i))
    (tmp_path / ".f0.png").write_bytes(b"hidden")
    (tmp_path / "notes.txt").write_text("not a frame")
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in list_frames(tmp_path)] == ["f1.png", "f2.png", "f10.png", "f11.png"]
    assert list_frames(tmp_path / "missing") == ()


def test_read_list_file_accepts_meta_info_lines(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("00001/0001\n\n# comment\n00001/0002 7 (256,448,3)\n 00002/0001/ \n")
    assert read_list_file(path) == ["00001/0001", "00001/0002", "00002/0001"]


def test_reds_splits(reds_root: Path) -> None:
    def names(split: str, role: str = "train") -> list[str]:
        layout = discover("reds", reds_root, split=split, role=role)
        assert not layout.problems
        return list(layout.clips)

    # val_sharp/000 and 001 are clips 240 and 241, as in BasicSR/mmagic's merged REDS.
    assert names("reds4_train") == ["001", "002", "240", "241"]
    assert names("reds4") == names("reds4_train")
    assert names("reds4_val") == list(REDS4_CLIPS)
    assert names("reds4", role="eval") == list(REDS4_CLIPS)
    assert names("official_train") == ["000", "001", "002", "011", "015", "020"]
    assert names("official_val") == ["240", "241"]
    assert names("official", role="eval") == ["240", "241"]
    assert len(names("all")) == 8
    assert list(discover("reds", reds_root).clips) == names("reds4_train")
    assert list(discover("reds", reds_root, role="eval").clips) == list(REDS4_CLIPS)


def test_reds_files_and_low_res_folders(reds_root: Path, synth) -> None:
    layout = discover("reds", reds_root, split="all")
    assert layout.lr_stored
    clip = layout.clips["241"]
    assert clip.gt_dir == reds_root / "val_sharp" / "001"
    assert clip.lr_dir == reds_root / "val_sharp_bicubic" / "X4" / "001"
    assert [p.name for p in clip.gt] == [f"{i:08d}.png" for i in range(synth.reds_frames)]
    assert [p.name for p in clip.lr] == [p.name for p in clip.gt]
    assert layout.clips["011"].lr_dir == reds_root / "train_sharp_bicubic" / "X4" / "011"


def test_reds_lr_source(reds_root: Path, reds_gt_only: Path) -> None:
    assert not discover("reds", reds_gt_only).lr_stored  # auto: nothing stored, generate
    assert discover("reds", reds_gt_only).clips["001"].lr is None
    assert not discover("reds", reds_root, lr_source="generate").lr_stored
    stored = discover("reds", reds_gt_only, lr_source="stored")
    assert any("train_sharp_bicubic" in p and "does not exist" in p for p in stored.problems)


def test_reds_merged_val_twice_is_a_problem(tmp_path: Path, reds_root: Path) -> None:
    root = tmp_path / "REDS"
    shutil.copytree(reds_root, root)
    shutil.copytree(root / "val_sharp" / "000", root / "train_sharp" / "240")
    layout = discover("reds", root, split="all")
    assert any("clip 240 is both" in p for p in layout.problems)


def test_reds_list_file_and_explicit_clips(reds_root: Path, tmp_path: Path) -> None:
    listing = tmp_path / "mine.txt"
    listing.write_text("002\n011\n999\n")
    layout = discover("reds", reds_root, list_file=listing)
    assert list(layout.clips) == ["002", "011"]
    assert layout.problems == [f"{listing}: clip '999' does not exist"]
    assert list(discover("reds", reds_root, clips=["015", "000"]).clips) == ["015", "000"]


def test_reds_bad_root_and_split(tmp_path: Path, reds_root: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        discover("reds", tmp_path / "nowhere")
    (tmp_path / "frames").mkdir()
    with pytest.raises(DataError, match=r"not a REDS root.*found frames"):
        discover("reds", tmp_path)
    with pytest.raises(DataError, match="unknown REDS split 'reds5'"):
        discover("reds", reds_root, split="reds5")


def test_vimeo_splits_and_folders(vimeo_root: Path, synth) -> None:
    train = discover("vimeo", vimeo_root)
    assert list(train.clips) == list(synth.vimeo_train) and train.lr_stored
    clip = train.clips["00001/0002"]
    assert clip.gt_dir == vimeo_root / "sequences" / "00001" / "0002"
    assert clip.lr_dir == vimeo_root / "BIx4" / "00001" / "0002"
    assert [p.name for p in clip.gt] == [f"im{i}.png" for i in range(1, 8)]
    assert list(discover("vimeo", vimeo_root, role="eval").clips) == list(synth.vimeo_test)
    assert list(discover("vimeo", vimeo_root, split="test").clips) == list(synth.vimeo_test)
    # No BDx4 folder: BD low-res frames are made on the fly.
    assert not discover("vimeo", vimeo_root, degradation="bd").lr_stored


def test_vimeo_mmagic_and_basicsr_folder_names(tmp_path: Path, synth) -> None:
    root = synth.make_vimeo(tmp_path / "v", gt_dir="GT", lr_dir="vimeo90k_train_LR7frames")
    layout = discover("vimeo", root, lr_dir="vimeo90k_train_LR7frames")
    assert layout.lr_stored and not layout.problems
    assert layout.clips["00001/0001"].gt_dir == root / "GT" / "00001" / "0001"
    assert layout.clips["00001/0001"].lr_dir == root / "vimeo90k_train_LR7frames" / "00001/0001"


def test_vimeo_list_naming_missing_clips(vimeo_root: Path, tmp_path: Path) -> None:
    listing = tmp_path / "meta_info.txt"
    listing.write_text("00001/0001 7 (48,64,3)\n00009/0009 7 (48,64,3)\n00001/0001\n")
    layout = discover("vimeo", vimeo_root, list_file=listing)
    assert list(layout.clips) == ["00001/0001"]
    assert any("'00009/0009' does not exist" in p and str(listing) in p for p in layout.problems)
    assert any("listed twice" in p for p in layout.problems)
    with pytest.raises(DataError, match=r"sep_validlist\.txt does not exist"):
        discover("vimeo", vimeo_root, list_file="sep_validlist.txt")
    with pytest.raises(DataError, match="no GT folder"):
        discover("vimeo", tmp_path)


def test_folder_layout_vid4_style(folder_root: Path) -> None:
    layout = discover("folder", folder_root)
    assert list(layout.clips) == ["calendar", "city walk"] and layout.lr_stored
    calendar = layout.clips["calendar"]
    assert [p.name for p in calendar.gt] == [f"frame{i}.png" for i in range(1, 13)]
    assert calendar.lr_dir == folder_root / "BIx4" / "calendar"
    city = layout.clips["city walk"]
    assert [p.name for p in city.gt] == [f"img_{5 * i}.png" for i in range(9)]
    assert not discover("folder", folder_root, degradation="bd").lr_stored


def test_folder_layout_clips_directly_under_root(tmp_path: Path, synth) -> None:
    root = synth.make_folder(tmp_path / "mine", gt_dir=".", lr_dir="small")
    layout = discover("folder", root, lr_dir="small")
    # The low-res folder beside the clips is not a clip.
    assert list(layout.clips) == ["calendar", "city walk"] and layout.lr_stored
    assert layout.clips["calendar"].gt_dir == root / "calendar"
    plain = discover("folder", root, lr_source="generate")
    assert "small" in plain.clips and plain.clips["calendar"].lr is None


def test_folder_layout_list_file_and_empty_root(folder_root: Path, tmp_path: Path) -> None:
    (tmp_path / "clips.txt").write_text("city walk\nfoliage\n")
    layout = discover("folder", folder_root, list_file=tmp_path / "clips.txt")
    assert list(layout.clips) == ["city walk"]
    assert layout.problems == [f"{tmp_path / 'clips.txt'}: clip 'foliage' does not exist"]
    (tmp_path / "empty").mkdir()
    assert any("has no clip folders" in p for p in discover("folder", tmp_path / "empty").problems)
