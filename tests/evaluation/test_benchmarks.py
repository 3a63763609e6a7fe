"""How each preset finds its clips in its benchmark's layout, and how the presets are listed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import benchdata
from vsr.data.validate import DataError
from vsr.evaluation.benchmarks import BENCHMARKS, describe_presets, parse_bench
from vsr.evaluation.evaluate import load_benchmark


def test_listing_describes_each_preset() -> None:
    # What `vsr-test --list-benchmarks` prints. The protocols themselves are checked by their
    # effect on scores recomputed from the files (tests/evaluation/test_evaluate.py).
    rows = {r["name"]: r for r in describe_presets()}
    assert list(rows) == list(BENCHMARKS)
    assert rows["vimeo90k-t-bi"]["input"] == "mirrored 7->14"
    assert rows["vimeo90k-t-bi"]["scored"] == "frame 4, mean of outputs 4 and 11"
    assert rows["vid4-bd"]["low-res"] == "BDx4" and rows["vid4-bd"]["channel"] == "Y"
    assert rows["reds4"]["low-res"] == "train_sharp_bicubic/X4"
    assert rows["reds4"]["channel"] == "RGB" and rows["reds4"]["scored"] == "all frames"


def test_parse_bench(tmp_path: Path) -> None:
    bench = parse_bench(f"Vid4-BD={tmp_path}")
    assert bench.name == "vid4-bd" and bench.root == tmp_path
    assert BENCHMARKS["vid4-bd"].root is None  # the table itself is never bound
    with pytest.raises(ValueError, match=r"unknown benchmark 'vid5'.*reds4, vid4-bi"):
        parse_bench(f"vid5={tmp_path}")
    with pytest.raises(ValueError, match="NAME=PATH"):
        parse_bench(str(tmp_path))


def _lr_dirs(layout) -> dict[str, Path]:
    return {name: clip.lr_dir for name, clip in layout.clips.items()}


def test_reds4_takes_the_four_clips_and_their_x4_frames(bench_roots) -> None:
    root = bench_roots["reds"]
    layout = parse_bench(f"reds4={root}").layout()
    assert list(layout.clips) == list(benchdata.REDS4)  # not the training clip 001
    assert _lr_dirs(layout) == {c: root / "train_sharp_bicubic" / "X4" / c for c in benchdata.REDS4}


def test_reds4_accepts_basicsr_folder(bench_roots) -> None:
    root = bench_roots["reds4_basicsr"]
    layout = parse_bench(f"reds4={root}").layout()
    assert list(layout.clips) == list(benchdata.REDS4)
    assert _lr_dirs(layout) == {c: root / "sharp_bicubic" / c for c in benchdata.REDS4}


@pytest.mark.parametrize(("name", "lr"), [("vid4-bi", "BIx4"), ("vid4-bd", "BDx4")])
def test_vid4_reads_its_degradation_folder(bench_roots, name: str, lr: str) -> None:
    root = bench_roots["vid4"]
    layout = parse_bench(f"{name}={root}").layout()
    assert list(layout.clips) == list(benchdata.VID4)
    assert _lr_dirs(layout) == {c: root / lr / c for c in benchdata.VID4}


def test_udm10_reads_bd(bench_roots) -> None:
    root = bench_roots["udm10"]
    layout = parse_bench(f"udm10={root}").layout()
    assert _lr_dirs(layout) == {c: root / "BDx4" / c for c in benchdata.UDM10}


@pytest.mark.parametrize(("name", "lr"), [("vimeo90k-t-bi", "BIx4"), ("vimeo90k-t-bd", "BDx4")])
def test_vimeo_t_takes_the_test_list(bench_roots, name: str, lr: str) -> None:
    root = bench_roots["vimeo"]
    layout = parse_bench(f"{name}={root}").layout()
    assert list(layout.clips) == list(benchdata.VIMEO_TEST)  # not the training septuplet
    assert _lr_dirs(layout) == {c: root / lr / c for c in benchdata.VIMEO_TEST}


def test_vimeo_t_accepts_mmagic_layout(tmp_path: Path, bench_roots) -> None:
    # mmagic: GT/ instead of sequences/, meta_info_Vimeo90K_test_GT.txt instead of the list.
    src, root = bench_roots["vimeo"], tmp_path / "vimeo90k"
    shutil.copytree(src / "sequences", root / "GT")
    shutil.copytree(src / "BIx4", root / "BIx4")
    clip = benchdata.VIMEO_TEST[1]
    (root / "meta_info_Vimeo90K_test_GT.txt").write_text(f"{clip} 7 (32,48,3)\n")
    dataset = load_benchmark(parse_bench(f"vimeo90k-t-bi={root}"))
    assert dataset.clips == [clip]


def test_missing_root_names_path_and_layout(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError) as err:
        parse_bench(f"vid4-bi={missing}").layout()
    message = str(err.value)
    assert f"Vid4 (BI) (vid4-bi) at {missing}" in message
    assert "does not exist" in message
    assert "Expected layout for vid4-bi" in message and "root/BIx4/" in message


def test_wrong_layout_names_path_and_layout(bench_roots) -> None:
    root = bench_roots["vid4"]
    with pytest.raises(DataError) as err:
        parse_bench(f"reds4={root}").layout()
    message = str(err.value)
    assert f"at {root}" in message and "not a REDS root" in message
    assert "root/train_sharp_bicubic/X4/" in message
    with pytest.raises(DataError, match=r"(?s)Vimeo-90K.*root/sep_testlist.txt"):
        parse_bench(f"vimeo90k-t-bi={root}").layout()


def test_file_problems_name_the_benchmark(tmp_path: Path, bench_roots) -> None:
    # Stored low-res required but absent; then frames whose size does not match x4.
    with pytest.raises(DataError, match=r"(?s)UDM10.*BDx4 does not exist.*Expected layout"):
        load_benchmark(parse_bench(f"udm10={bench_roots['udm10_gt_only']}"), lr_source="stored")
    root = shutil.copytree(bench_roots["vid4"], tmp_path / "Vid4")
    benchdata.write_png(root / "BIx4" / "city" / "00000001.png", benchdata.gt_frame("x", 0))
    with pytest.raises(DataError, match=r"(?s)vid4-bi.*00000001.png is 48x32.*Expected layout"):
        load_benchmark(parse_bench(f"vid4-bi={root}"))


def test_max_frames_must_reach_the_scored_frame(bench_roots) -> None:
    bench = parse_bench(f"vimeo90k-t-bi={bench_roots['vimeo']}")
    with pytest.raises(ValueError, match="scores frame 4"):
        load_benchmark(bench, max_frames=3)
    assert len(load_benchmark(bench, max_frames=4, max_clips=1)) == 1
