"""Training through every storage back-end: converted stores give the folder's exact batches.

A REDS-layout dataset of real PNG files is converted with `vsr-prepare` into arrays, LMDB and
litdata shards; `VSRDataModule(backend=PATH)` must then yield bit-identical training and
validation batches to `backend="folder"`, REDS4 held out, also through Hydra's
`data.backend=PATH` override.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from vsr.cli.prepare import main as prepare
from vsr.config import config_dir
from vsr.data import DataError, FolderStore, TrainWindows, VSRDataModule, open_store
from vsr.data.backends.arrays import ArrayStore
from vsr.data.backends.lmdb import REDS_DB_NAMES, LmdbStore
from vsr.data.backends.shards import ShardStore
from vsr.data.datasets import has_crop_reads
from vsr.data.layouts import discover
from vsr.data.splits import REDS4_CLIPS

STORES = {"arrays": ArrayStore, "lmdb": LmdbStore, "shards": ShardStore}
SMALL = {"num_frames": 5, "gt_patch_size": 32, "batch_size": 2, "samples_per_epoch": 8}
REDS_TRAIN = ["001", "002", "240", "241"]  # the fixture's clips outside REDS4


def convert(command: str, src: Path, dst: Path) -> Path:
    """Run `vsr-prepare COMMAND SRC DST`, as a user would.

    Shards are written in a child process: litdata switches the multiprocessing start method
    of its process to spawn, which would slow down every DataLoader worker started afterwards.
    """
    if command != "shards":
        assert prepare([command, str(src), str(dst)]) == 0
        return dst
    cmd = [sys.executable, "-m", "vsr.cli.prepare", command, str(src), str(dst), "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return dst


@pytest.fixture(scope="module")
def stores(reds_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The REDS fixture (all 8 clips, GT + low-res) converted by each back-end's writer."""
    out = tmp_path_factory.mktemp("converted")
    return {name: convert(name, reds_root, out / f"REDS.{name}") for name in STORES}


def all_batches(dm: VSRDataModule) -> tuple[list[dict], list[dict]]:
    dm.setup("fit")
    return list(dm.train_dataloader()), list(dm.val_dataloader())


def assert_same_batches(got: list[dict], expected: list[dict]) -> None:
    assert len(got) == len(expected) > 0
    for a, b in zip(got, expected, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], torch.Tensor):
                assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key
            else:
                assert a[key] == b[key], key


@pytest.fixture(scope="module")
def folder_batches(reds_root: Path) -> tuple[list[dict], list[dict]]:
    dm = VSRDataModule(
        kind="reds", root=str(reds_root), seed=3, num_workers=0, val_sets=[{"name": "REDS4"}],
        **SMALL,
    )  # fmt: skip
    return all_batches(dm)


@pytest.mark.parametrize("backend", sorted(STORES))
def test_converted_store_gives_the_folder_batches(
    backend: str, stores: dict[str, Path], folder_batches, tmp_path: Path
) -> None:
    # No dataset at root: a REDS store needs nothing else, and the REDS4 set comes from it too.
    dm = VSRDataModule(
        kind="reds", root=str(tmp_path / "absent"), backend=str(stores[backend]), seed=3,
        num_workers=1, val_sets=[{"name": "REDS4"}], **SMALL,
    )  # fmt: skip
    train, val = all_batches(dm)
    assert isinstance(dm.train_set.store, STORES[backend])
    assert dm.val_datasets[0].store is dm.train_set.store  # opened once, shared
    assert dm.train_set.clips == REDS_TRAIN and not dm.train_set.generate_lr
    assert dm.val_datasets[0].clips == list(REDS4_CLIPS)
    assert has_crop_reads(dm.train_set.store) == (backend == "arrays")
    expected_train, expected_val = folder_batches
    assert_same_batches(train, expected_train)
    assert_same_batches(val, expected_val)
    assert [b["clip"][0] for b in val] == list(REDS4_CLIPS)


def test_hydra_backend_override(stores: dict[str, Path], folder_batches, tmp_path: Path) -> None:
    overrides = [
        "~experiment",  # the default experiment (the demo) would override the data group
        "data=reds",
        f"paths.data_dir={tmp_path}",  # no REDS folder there: everything comes from the store
        f"data.backend={stores['arrays']}",
        "seed=3",
        "data.num_workers=0",
        *(f"data.{key}={value}" for key, value in SMALL.items()),
    ]
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    dm = instantiate(cfg.data, _convert_="partial")
    assert dm.source.backend == str(stores["arrays"]) and dm.val_set_names == ["REDS4"]
    train, val = all_batches(dm)
    assert isinstance(dm.train_set.store, ArrayStore)
    expected_train, expected_val = folder_batches
    assert_same_batches(train, expected_train)
    assert_same_batches(val, expected_val)


class CropsOnly(ArrayStore):
    """An array store whose whole-frame reads fail: training must read crops only."""

    def read(self, clip: str, index: int, kind: str) -> np.ndarray:
        raise AssertionError(f"whole frame {clip}/{index}/{kind} read")


@pytest.mark.parametrize("degradation", ["bi", "bd"])
def test_on_the_fly_low_res_from_crops(
    degradation: str, reds_gt_only: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    dst = tmp_path_factory.mktemp(f"gt_only_{degradation}") / "REDS.arrays"
    convert("arrays", reds_gt_only, dst)
    folder = FolderStore.from_layout(discover("reds", reds_gt_only, split="all"))
    args = dict(num_frames=4, gt_patch_size=16, degradation=degradation, samples_per_epoch=32)
    # Crops at every border too: 48x64 frames, 16-pixel crops, margins clipped to the frame.
    expected = TrainWindows(folder, REDS_TRAIN, **args)
    got = TrainWindows(CropsOnly(dst), REDS_TRAIN, **args)
    assert got.generate_lr and got.margin is not None
    crops = set()
    for i in range(len(expected)):
        a, b = got[i], expected[i]
        assert torch.equal(a["lq"], b["lq"]) and torch.equal(a["gt"], b["gt"])
        crops.add(tuple(a["crop"].tolist()))
    assert len(crops) > 10


def test_vimeo_store_splits(vimeo_root: Path, folder_root: Path, tmp_path: Path) -> None:
    dst = convert("arrays", vimeo_root, tmp_path / "vimeo.arrays")  # all: train + test clips
    common = dict(kind="vimeo", mirror=True, num_workers=0, **(SMALL | {"num_frames": 7}))
    test_sets = [{"name": "Vimeo-90K-T", "mirror": True, "gt_frames": [3]}]
    val_sets = [{"name": "Vid4", "kind": "folder", "root": str(folder_root)}]
    stored = VSRDataModule(
        root=str(vimeo_root), backend=str(dst), test_sets=test_sets, val_sets=val_sets, **common
    )
    folder = VSRDataModule(root=str(vimeo_root), test_sets=test_sets, **common)
    for dm in (stored, folder):
        dm.setup("fit")
        dm.setup("test")
    assert stored.train_set.clips == ["00001/0001", "00001/0002", "00002/0001"]
    assert isinstance(stored.val_datasets[0].store, FolderStore)  # Vid4 has its own root
    assert isinstance(stored.test_datasets[0].store, ArrayStore)
    assert_same_batches(list(stored.train_dataloader()), list(folder.train_dataloader()))
    assert_same_batches(list(stored.test_dataloader()), list(folder.test_dataloader()))
    # The split lists live in the dataset root; without them only split=all can choose clips.
    elsewhere = dict(common, root=str(tmp_path), backend=str(dst))
    with pytest.raises(DataError, match=r"sep_trainlist\.txt"):
        VSRDataModule(**elsewhere).setup("fit")
    everything = VSRDataModule(**(elsewhere | {"split": "all"}))
    everything.setup("fit")
    assert len(everything.train_set.clips) == 5


def test_open_store_recognises_stores(stores: dict[str, Path], tmp_path: Path) -> None:
    for name, cls in STORES.items():
        assert isinstance(open_store(stores[name]), cls)
        assert isinstance(open_store(str(stores[name])), cls)
    # BasicSR's own databases, without our store.json: the REDS pair, or one database (GT).
    bare = tmp_path / "basicsr"
    for db in REDS_DB_NAMES:
        shutil.copytree(stores["lmdb"] / db, bare / db)
    pair = open_store(bare)
    assert isinstance(pair, LmdbStore) and set(pair.dbs) == {"gt", "lr"}
    assert pair.clips() == open_store(stores["lmdb"]).clips()
    single = open_store(bare / REDS_DB_NAMES[0])
    assert set(single.dbs) == {"gt"} and single.clips()["011"].lr_size is None


def test_open_store_explains_what_is_not_a_store(
    stores: dict[str, Path], reds_root: Path, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match=r"no frame store at .*nothing\.arrays"):
        open_store(tmp_path / "nothing.arrays")
    # An interrupted conversion: DST.partial exists, DST does not.
    partial = tmp_path / "REDS.arrays.partial"
    shutil.copytree(stores["arrays"] / "gt", partial / "gt")
    for path in (tmp_path / "REDS.arrays", partial):
        with pytest.raises(OSError, match=r"REDS\.arrays\.partial.*(re-convert|again)"):
            open_store(path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(OSError, match=r"empty is not a converted frame store.*store\.json"):
        open_store(empty)
    with pytest.raises(OSError, match="dataset of image files: read it with backend=folder"):
        open_store(reds_root)
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "store.json").write_text('{"format": "something-else"}')
    with pytest.raises(OSError, match="'something-else' store"):
        open_store(odd)
