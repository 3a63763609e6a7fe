"""Converted back-ends (arrays, LMDB, litdata shards) read exactly what `FolderStore` reads."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from vsr.data.backends.arrays import ArrayStore, write_arrays
from vsr.data.backends.base import FrameStore
from vsr.data.backends.folder import FolderStore
from vsr.data.backends.lmdb import REDS_DB_NAMES, LmdbStore, write_lmdb
from vsr.data.backends.shards import ShardStore, write_shards
from vsr.data.layouts import discover
from vsr.data.validate import scan_layout


def _folder_store(root: Path, kind: str, split: str | None = None) -> FolderStore:
    layout = discover(kind, root, split=split)  # type: ignore[arg-type]
    return FolderStore.from_layout(layout, scan_layout(layout, scale=4))


@pytest.fixture(scope="module")
def source(reds_root: Path, vimeo_root: Path, folder_root: Path) -> FolderStore:
    """REDS, Vimeo-90K (clip names with a slash) and folder clips (a space, natural order)."""
    files = {}
    for root, kind, split in (
        (reds_root, "reds", "all"),
        (vimeo_root, "vimeo", "train"),
        (folder_root, "folder", None),
    ):
        files.update(discover(kind, root, split=split).clips)  # type: ignore[arg-type]
    return FolderStore(files)


@pytest.fixture(scope="module")
def converted(source: FolderStore, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("stores")
    write_arrays(source, out / "arrays", pack_bytes=200_000)  # several packs
    write_lmdb(source, out / "lmdb", db_names=REDS_DB_NAMES)
    write_shards(source, out / "shards")
    write_shards(source, out / "shards-raw", encoding="raw")
    return {
        "arrays": ArrayStore(out / "arrays"),
        "lmdb": LmdbStore.open(out / "lmdb"),
        "shards": ShardStore(out / "shards"),
        "shards-raw": ShardStore(out / "shards-raw"),
    }


BACKENDS = ["arrays", "lmdb", "shards", "shards-raw"]


def _assert_same(store: FrameStore, reference: FrameStore) -> None:
    assert store.clips() == reference.clips()
    for clip, info in reference.clips().items():
        for index in range(info.num_frames):
            for kind in ("gt", "lr"):
                got = store.read(clip, index, kind)
                assert got.dtype == np.uint8
                np.testing.assert_array_equal(
                    got, reference.read(clip, index, kind), err_msg=f"{clip} {index} {kind}"
                )


@pytest.mark.parametrize("backend", BACKENDS)
def test_backend_equals_folder_store(backend: str, converted: dict, source: FolderStore) -> None:
    store = converted[backend]
    assert isinstance(store, FrameStore)
    assert {"000", "00001/0001", "city walk"} <= set(store.clips())
    _assert_same(store, source)


@pytest.mark.parametrize("backend", BACKENDS)
def test_missing_frames_raise_key_error(backend: str, converted: dict) -> None:
    store = converted[backend]
    with pytest.raises(KeyError):
        store.read("no such clip", 0, "gt")
    with pytest.raises(KeyError):
        store.read("000", 8, "gt")
    with pytest.raises(KeyError):
        store.read("000", -1, "lr")
    with pytest.raises(KeyError):
        store.read("000", 0, "hr")


def test_array_store_crops_and_packs(converted: dict, source: FolderStore) -> None:
    store = converted["arrays"]
    assert len({p for p in store._packs}) > 2  # pack_bytes forced several packs
    for clip, kind, top, left, size in [("000", "gt", 8, 12, 32), ("00001/0002", "lr", 2, 3, 8)]:
        full = source.read(clip, 5, kind)
        crop = store.read_crop(clip, 5, kind, top, left, size, size)
        np.testing.assert_array_equal(crop, full[top : top + size, left : left + size])
    with pytest.raises(ValueError, match="outside"):
        store.read_crop("000", 0, "gt", 40, 0, 32, 32)


@pytest.mark.parametrize("backend", BACKENDS)
def test_stores_pickle_and_fork(backend: str, converted: dict) -> None:
    store = converted[backend]
    expected = store.read("011", 3, "gt")  # opens maps / databases / chunks in this process
    clone = pickle.loads(pickle.dumps(store))
    np.testing.assert_array_equal(clone.read("011", 3, "gt"), expected)
    # A forked DataLoader worker must open its own handles and read the same frame.
    with multiprocessing.get_context("fork").Pool(1) as pool:
        got = pool.apply(store.read, ("011", 3, "gt"))
    np.testing.assert_array_equal(got, expected)


def test_lmdb_is_basicsr_compatible(converted: dict, source: FolderStore) -> None:
    store = converted["lmdb"]
    gt_db, lr_db = store.dbs["gt"], store.dbs["lr"]
    assert gt_db.name == "train_sharp_with_val.lmdb"
    assert lr_db.name == "train_sharp_bicubic_with_val.lmdb"
    meta = (gt_db / "meta_info.txt").read_text().splitlines()
    assert "000/00000000.png (48,64,3) 1" in meta
    assert "00001/0001/im1.png (48,64,3) 1" in meta
    assert all(re.fullmatch(r"\S.*\.png \(\d+,\d+,3\) 1", line) for line in meta)
    # Read it with plain py-lmdb, in a fresh process (one open per database per process).
    check = (
        "import lmdb, sys\n"
        "env = lmdb.open(sys.argv[1], readonly=True, lock=False)\n"
        "txn = env.begin()\n"
        "print(txn.stat()['entries'], txn.get(b'000/00000003')[:8].hex())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", check, str(gt_db)], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == [str(len(meta)), b"\x89PNG\r\n\x1a\n".hex()]
    # A database pair without our store.json (as BasicSR makes them) opens directly.
    bare = LmdbStore(gt_db, lr_db)
    np.testing.assert_array_equal(
        bare.read("city walk", 8, "lr"), source.read("city walk", 8, "lr")
    )


def test_shard_items_follow_the_index(converted: dict) -> None:
    from litdata import StreamingDataset

    store = converted["shards"]
    data = StreamingDataset(store.root)
    assert len(data) == sum(2 * i.num_frames for i in store.clips().values())
    assert data[store.item_index("00001/0002", 6, "lr")]["key"] == "00001/0002/00000006/lr"


def test_incomplete_store_is_refused(tmp_path: Path) -> None:
    (tmp_path / "gt").mkdir()
    (tmp_path / "gt" / "pack-0000.npy").write_bytes(b"partial")
    for open_store in (ArrayStore, LmdbStore.open, ShardStore):
        with pytest.raises(OSError, match=r"store\.json is missing"):
            open_store(tmp_path)


def test_killed_conversion_leaves_no_complete_store(tmp_path: Path) -> None:
    from vsr.data.demo import DemoConfig, build_demo

    src = build_demo(tmp_path / "demo", DemoConfig(num_clips=5, num_frames=16, height=192))
    dst, partial = tmp_path / "db", tmp_path / "db.partial"
    cmd = [sys.executable, "-m", "vsr.cli.prepare", "lmdb", str(src), str(dst)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (partial / REDS_DB_NAMES[0] / "data.mdb").exists():
        assert proc.poll() is None, "the conversion ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not dst.exists()
    assert partial.is_dir() and not (partial / "store.json").exists()
    with pytest.raises(OSError, match=r"store\.json is missing"):
        LmdbStore.open(partial)
    # Running it again starts over and completes.
    rerun = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert "interrupted" in rerun.stdout
    assert not partial.exists()
    _assert_same(LmdbStore.open(dst), _folder_store(src, "reds", "all"))


def test_shard_conversion_leaves_the_start_method_alone(tmp_path: Path) -> None:
    import multiprocessing

    from vsr.data.backends.folder import FolderStore
    from vsr.data.backends.shards import write_shards
    from vsr.data.demo import DemoConfig, build_demo
    from vsr.data.layouts import discover

    before = multiprocessing.get_start_method()  # "fork" on Linux
    src = build_demo(tmp_path / "demo", DemoConfig(num_clips=5, num_frames=2, height=16, width=16))
    store = FolderStore.from_layout(discover("reds", src, split="all"))
    write_shards(store, tmp_path / "shards")
    assert multiprocessing.get_start_method() == before


class _Failing:
    """A store whose frame 3 of its second clip cannot be read."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def clips(self):
        return self.inner.clips()

    def read(self, clip, index, kind):
        if clip == list(self.inner.clips())[1] and index == 3:
            raise OSError(f"frame {index} of {clip} is damaged")
        return self.inner.read(clip, index, kind)


@pytest.mark.parametrize("backend", ["arrays", "lmdb", "shards"])
def test_writers_are_atomic(reds_root: Path, tmp_path: Path, backend: str) -> None:
    from vsr.data.backends.registry import is_complete, open_store, write_store

    src = _folder_store(reds_root, "reds", "all")
    dst = tmp_path / f"out.{backend}"
    # A failed write leaves nothing behind, neither DST nor DST.partial.
    with pytest.raises(OSError, match="damaged"):
        write_store(backend, _Failing(src), dst)
    assert not dst.exists() and not (tmp_path / f"out.{backend}.partial").exists()
    assert write_store(backend, src, dst) is True
    assert is_complete(dst, backend) and not (tmp_path / f"out.{backend}.partial").exists()
    _assert_same(open_store(dst), src)
    # A complete store is kept; replacing it fails without harming the one that is there.
    assert write_store(backend, src, dst) is False
    with pytest.raises(OSError, match="damaged"):
        write_store(backend, _Failing(src), dst, overwrite=True)
    _assert_same(open_store(dst), src)
    (tmp_path / "junk").mkdir()
    with pytest.raises(FileExistsError, match="junk exists and is not a complete"):
        write_store(backend, src, tmp_path / "junk")
