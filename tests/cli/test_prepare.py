"""`vsr-prepare` and `vsr-bench data` as installed console scripts."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vsr.data.backends.arrays import ArrayStore
from vsr.data.backends.folder import FolderStore
from vsr.data.backends.lmdb import LmdbStore
from vsr.data.layouts import discover
from vsr.data.validate import scan_layout


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    exe = shutil.which(args[0])
    assert exe is not None, f"{args[0]} is not installed as a console script"
    return subprocess.run([exe, *args[1:]], capture_output=True, text=True, check=check)


def _folder(root: Path, kind: str, split: str) -> FolderStore:
    layout = discover(kind, root, split=split)  # type: ignore[arg-type]
    return FolderStore.from_layout(layout, scan_layout(layout, scale=4))


def _same(store, reference) -> None:
    assert store.clips() == reference.clips()
    for clip, info in reference.clips().items():
        for t in range(info.num_frames):
            for kind in ("gt", "lr"):
                np.testing.assert_array_equal(
                    store.read(clip, t, kind), reference.read(clip, t, kind)
                )


def test_help() -> None:
    out = _run("vsr-prepare", "--help").stdout
    for command in ("arrays", "lmdb", "shards", "demo"):
        assert command in out
    assert "--layout" in _run("vsr-prepare", "arrays", "--help").stdout
    bad = _run("vsr-prepare", "zip", "a", "b", check=False)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_demo_then_arrays(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    args = ["--clips", "5", "--frames", "3", "--height", "32", "--width", "48"]
    out = _run("vsr-prepare", "demo", str(demo), *args)
    assert "REDS4" in out.stdout
    assert (demo / "train_sharp" / "020" / "00000002.png").is_file()
    assert (demo / "train_sharp_bicubic" / "X4" / "011" / "00000000.png").is_file()
    again = _run("vsr-prepare", "demo", str(demo), "--clips", "6", *args[2:], check=False)
    assert again.returncode == 1 and "other settings" in again.stderr

    dst = tmp_path / "arrays"
    out = _run("vsr-prepare", "arrays", str(demo), str(dst))
    assert "reds layout, 5 clips" in out.stdout
    assert not (tmp_path / "arrays.partial").exists()
    _same(ArrayStore(dst), _folder(demo, "reds", "all"))
    assert "nothing to do" in _run("vsr-prepare", "arrays", str(demo), str(dst)).stdout


def test_vimeo_to_lmdb(tmp_path: Path) -> None:
    # Two Vimeo-90K septuplets (clip names with a slash) with their low-res frames.
    root = tmp_path / "vimeo"
    rng = np.random.default_rng(0)
    for clip in ("00001/0001", "00002/0003"):
        for i in range(1, 8):
            for sub, size in (("sequences", (32, 48)), ("BIx4", (8, 12))):
                path = root / sub / clip / f"im{i}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)
    (root / "sep_trainlist.txt").write_text("00001/0001\n")
    (root / "sep_testlist.txt").write_text("00002/0003\n")
    dst = tmp_path / "lmdb"
    out = _run("vsr-prepare", "lmdb", str(root), str(dst))
    assert "vimeo layout, 2 clips, 28 frames" in out.stdout
    store = LmdbStore.open(dst)
    assert list(store.clips()) == ["00001/0001", "00002/0003"]
    assert store.key("00002/0003", 6, "gt") == "00002/0003/im7"
    reference = FolderStore(
        {
            **discover("vimeo", root, split="train").clips,
            **discover("vimeo", root, split="test").clips,
        }
    )
    _same(store, reference)


def test_errors_name_the_problem(tmp_path: Path) -> None:
    missing = _run("vsr-prepare", "lmdb", str(tmp_path / "nope"), str(tmp_path / "x"), check=False)
    assert missing.returncode == 1 and str(tmp_path / "nope") in missing.stderr
    # A corrupt frame fails the check before anything is written, naming the file.
    src = tmp_path / "clips"
    for i in range(3):
        path = src / "GT" / "walk" / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(path)
    (src / "GT" / "walk" / "1.png").write_bytes(b"not a png")
    bad = _run("vsr-prepare", "arrays", str(src), str(tmp_path / "out"), check=False)
    assert bad.returncode == 1 and "1.png" in bad.stderr
    assert not (tmp_path / "out").exists()
    # A frame whose header is fine but whose pixels are cut off fails during the conversion:
    # the error names it and the half-written output is removed.
    noise = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(noise).save(src / "GT" / "walk" / "1.png")
    whole = (src / "GT" / "walk" / "1.png").read_bytes()
    (src / "GT" / "walk" / "1.png").write_bytes(whole[: len(whole) // 2])
    cut = _run("vsr-prepare", "lmdb", str(src), str(tmp_path / "out"), check=False)
    assert cut.returncode == 1 and "1.png" in cut.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()
    taken = tmp_path / "taken"
    taken.mkdir()
    (src / "GT" / "walk" / "1.png").unlink()
    busy = _run("vsr-prepare", "arrays", str(src), str(taken), check=False)
    assert busy.returncode == 1 and "--force" in busy.stderr


@pytest.mark.parametrize("backends", [["folder", "arrays", "lmdb"]])
def test_bench_data_quick(tmp_path: Path, backends: list[str]) -> None:
    out_file = tmp_path / "bench.json"
    out = _run(
        "vsr-bench", "data", "--quick", "--recipes", "vimeo", "--backends", *backends,
        "--out", str(out_file),
    )  # fmt: skip
    results = json.loads(out.stdout)
    assert results == json.loads(out_file.read_text())
    rows = results["recipes"]["vimeo"]["backends"]
    assert set(rows) == set(backends)
    assert all(row["samples_per_s"] > 0 and row["samples"] >= 3 for row in rows.values())
    assert rows["folder"]["speedup_vs_folder"] == 1.0
    assert results["command"].startswith("vsr-bench data --quick")


def test_bench_data_times_the_input_corruptions(tmp_path: Path) -> None:
    out = _run("vsr-bench", "data", "--quick", "--recipes", "restore", "--backends", "arrays")
    entry = json.loads(out.stdout)["recipes"]["restore"]
    assert entry["recipe"]["scale"] == 1 and entry["recipe"]["window"] == 30
    assert list(entry["corruptions"]) == ["none", "noise", "x264-crf30", "x265-crf30"]
    assert all(rate["samples"] >= 3 for rate in entry["corruptions"].values())


def test_a_same_size_layout_converts_and_its_store_serves_its_splits(tmp_path: Path) -> None:
    import restoration_data
    from vsr.data.source import DataSource

    root = restoration_data.make_gopro(tmp_path / "GoPro", frames=3)
    out = _run("vsr-prepare", "arrays", str(root), str(tmp_path / "gopro.arrays"))
    assert "gopro layout, 3 clips" in out.stdout
    for role in ("train", "eval"):
        folder = DataSource(kind="gopro", root=root).open(role=role, scale=1)
        store = DataSource(kind="gopro", root=root, backend=str(tmp_path / "gopro.arrays"))
        converted = store.open(role=role, scale=1)
        assert converted.names == folder.names and converted.infos == folder.infos
        clip = folder.names[0]
        assert (converted.store.read(clip, 1, "lr") == folder.store.read(clip, 1, "lr")).all()
