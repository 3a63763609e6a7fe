"""One split table for image folders and converted stores, and one layout detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REDS_TRAIN_CLIPS, VIMEO_TEST, VIMEO_TRAIN
from vsr.data.backends.base import DataError
from vsr.data.backends.registry import write_store
from vsr.data.source import DataSource
from vsr.data.splits import detect_kind, resolve_split, select_clips

# The merged REDS names of the fixture: train_sharp clips, then val_sharp 000/001 as 240/241.
REDS_NAMES = [*REDS_TRAIN_CLIPS, "240", "241"]


@pytest.mark.parametrize(
    ("split", "role", "expected"),
    [
        (None, "train", ["001", "002", "240", "241"]),  # REDS4 (000, 011, 015, 020) held out
        (None, "eval", ["000", "011", "015", "020"]),
        ("reds4", "train", ["001", "002", "240", "241"]),
        ("official", "train", list(REDS_TRAIN_CLIPS)),
        ("official", "eval", ["240", "241"]),
        ("all", "eval", REDS_NAMES),
    ],
)
def test_reds_splits_are_rules_on_clip_names(split, role, expected) -> None:
    names, _ = select_clips("reds", "/nowhere", REDS_NAMES, role=role, split=split)
    assert names == expected


def test_explicit_clips_and_list_files_override_the_split(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("# chosen\n002\n\n00001/0001 7 (256,448,3)\n")
    names, source = select_clips("reds", tmp_path, REDS_NAMES, role="train", list_file="mine.txt")
    assert names == ["002", "00001/0001"] and source == str(tmp_path / "mine.txt")
    names, _ = select_clips(
        "reds", tmp_path, REDS_NAMES, role="train", list_file="mine.txt", clips=["241"]
    )
    assert names == ["241"]
    with pytest.raises(DataError, match=r"list file .*absent\.txt does not exist"):
        select_clips("reds", tmp_path, REDS_NAMES, role="train", list_file="absent.txt")


def test_unknown_splits_name_the_known_ones() -> None:
    with pytest.raises(
        DataError, match=r"unknown REDS split 'reds5'.*reds4_train.*reds4 / official"
    ):
        resolve_split("reds", "reds5", "train")
    with pytest.raises(
        DataError, match=r"unknown Vimeo-90K split 'val': expected train, test, all"
    ):
        resolve_split("vimeo", "val", "eval")
    with pytest.raises(DataError, match=r"unknown folder split 'x': use all, list_file or clips"):
        resolve_split("folder", "x", "eval")


def test_vimeo_splits_read_the_list_files_at_the_root(vimeo_root: Path, tmp_path: Path) -> None:
    train, _ = select_clips("vimeo", vimeo_root, [], role="train")
    test, _ = select_clips("vimeo", vimeo_root, [], role="eval")
    assert (train, test) == (list(VIMEO_TRAIN), list(VIMEO_TEST))
    # mmagic's meta-info file stands in for the official list.
    (tmp_path / "meta_info_Vimeo90K_train_GT.txt").write_text("00002/0001 7 (256,448,3)\n")
    assert select_clips("vimeo", tmp_path, [], role="train")[0] == ["00002/0001"]
    with pytest.raises(DataError, match=r"Vimeo-90K test split is named by .*sep_testlist\.txt"):
        select_clips("vimeo", tmp_path, [], role="eval")


def test_detect_kind(reds_root: Path, vimeo_root: Path, folder_root: Path, tmp_path: Path) -> None:
    assert detect_kind(reds_root) == "reds"
    assert detect_kind(vimeo_root) == "vimeo"
    assert detect_kind(folder_root) == "folder"
    assert detect_kind(tmp_path / "missing") == "folder"


@pytest.mark.parametrize(
    ("kind", "split", "role"),
    [("reds", None, "train"), ("reds", None, "eval"), ("reds", "official_val", "eval")],
)
def test_a_split_of_a_store_is_the_split_of_its_folder(
    reds_root: Path, tmp_path: Path, kind: str, split: str | None, role: str
) -> None:
    # One store converted from the whole dataset serves every split, with the same clips.
    whole = DataSource(kind="reds", root=reds_root, split="all").open(role="eval", scale=4)
    store = tmp_path / "all.arrays"
    write_store("arrays", whole.store, store)
    folder = DataSource(kind=kind, root=reds_root, split=split)
    converted = DataSource(kind=kind, root=reds_root, split=split, backend=str(store))
    a = folder.open(role=role, scale=4)
    b = converted.open(role=role, scale=4)
    assert b.names == a.names and b.infos == a.infos


def test_vimeo_all_is_both_lists_in_folders_and_every_clip_in_stores(
    vimeo_root: Path, tmp_path: Path
) -> None:
    folder = DataSource(kind="vimeo", root=vimeo_root, split="all").open(role="eval", scale=4)
    assert folder.names == [*VIMEO_TRAIN, *VIMEO_TEST]
    store = tmp_path / "v.arrays"
    write_store("arrays", folder.store, store)
    stored = DataSource(kind="vimeo", root=tmp_path / "elsewhere", split="all", backend=str(store))
    assert stored.open(role="eval", scale=4).names == sorted(folder.names)


def test_kind_auto_detects_the_layout(vimeo_root: Path) -> None:
    source = DataSource(kind="auto", root=vimeo_root)
    assert source.dataset_kind() == "vimeo"
    assert source.open(role="eval", scale=4).names == list(VIMEO_TEST)


def test_eval_sets_derive_from_the_training_source(reds_root: Path, folder_root: Path) -> None:
    train = DataSource(kind="reds", root=reds_root, degradation="bd", backend="x.arrays")
    same = train.derive({"split": "reds4_val"})
    other = train.derive({"root": folder_root, "kind": "folder", "name": "Vid4"})
    assert (same.kind, same.root, same.degradation, same.backend) == (
        "reds",
        reds_root,
        "bd",
        "x.arrays",
    )
    assert (other.backend, other.label, other.degradation) == ("folder", "Vid4", "bd")
    assert same.label == reds_root.name
    with pytest.raises(ValueError, match=r"unknown keys \['scale'\]"):
        train.derive({"scale": 2})
    with pytest.raises(ValueError, match="lr_source must be auto, stored or generate"):
        DataSource(lr_source="never")
