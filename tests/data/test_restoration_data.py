"""Same-size restoration data: the GoPro, DVD, DAVIS and LDV layouts, and on-the-fly noise and
video compression of the inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import restoration_data as rd
from vsr.data.backends.base import DataError
from vsr.data.corruptions import GaussianNoise, VideoCompression, clip_rng
from vsr.data.datasets import EvalClips, TrainWindows
from vsr.data.source import DataSource
from vsr.data.splits import detect_kind
from vsr.metrics import calculate_psnr


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("restoration")
    return {
        "gopro": rd.make_gopro(base / "GoPro"),
        "dvd": rd.make_dvd(base / "DVD"),
        "davis": rd.make_davis(base / "DAVIS"),
        "ldv": rd.make_ldv(base / "LDV"),
    }


def test_each_layout_is_detected(roots) -> None:
    assert {kind: detect_kind(root) for kind, root in roots.items()} == {
        "gopro": "gopro",
        "dvd": "dvd",
        "davis": "davis",
        "ldv": "ldv",
    }


def test_ldv_is_told_from_a_folder_by_its_frame_numbering(roots, tmp_path: Path) -> None:
    # GT/ and LQ/ with frames from 00000.png: an ordinary folder data set, not LDV.
    for part in ("GT", "LQ"):
        rd.write(tmp_path / "other" / part / "clip" / "00000.png", rd.gt_frame("clip", 0))
    assert detect_kind(tmp_path / "other") == "folder"
    # LDV's numbering without the LQ folder: not LDV either (its pairs are the point).
    only_gt = shutil.copytree(roots["ldv"] / "GT", tmp_path / "gt_only" / "GT")
    assert detect_kind(only_gt.parent) == "folder"


def test_gopro_splits_are_its_train_and_test_folders(roots) -> None:
    root = roots["gopro"]
    train = DataSource(kind="auto", root=root, split=None).open(role="train", scale=1)
    test = DataSource(kind="gopro", root=root).open(role="eval", scale=1)
    assert train.names == [f"train/{c}" for c in rd.GOPRO["train"]]
    assert test.names == [f"test/{c}" for c in rd.GOPRO["test"]]
    # Paired, same size: the input is the blurred frame stored beside the GT frame.
    clip = test.names[0]
    assert test.generate_lr is False
    np.testing.assert_array_equal(
        test.store.read(clip, 2, "gt"), rd.gt_frame(rd.GOPRO["test"][0], 2)
    )
    np.testing.assert_array_equal(
        test.store.read(clip, 2, "lr"), rd.blurred(rd.gt_frame(rd.GOPRO["test"][0], 2))
    )
    assert test.infos[clip].lr_size == test.infos[clip].gt_size == (rd.HEIGHT, rd.WIDTH)


def test_dvd_reads_jpg_pairs_and_holds_out_its_test_clips(roots) -> None:
    root = roots["dvd"]
    train = DataSource(kind="dvd", root=root).open(role="train", scale=1)
    assert train.names == ["IMG_0100", "IMG_0101"]
    with pytest.raises(DataError, match=r"the test split .*'720p_240fps_2' does not exist"):
        DataSource(kind="dvd", root=root).open(role="eval", scale=1)
    test = DataSource(kind="dvd", root=root, clips=("IMG_0003",)).open(role="eval", scale=1)
    frame = test.store.read("IMG_0003", 0, "lr")
    # JPEG at quality 98: close to the blurred frame, not equal.
    assert calculate_psnr(frame, rd.blurred(rd.gt_frame("IMG_0003", 0))) > 35


def test_davis_is_gt_only_with_its_list_files(roots) -> None:
    root = roots["davis"]
    source = DataSource(kind="davis", root=root, split="train")
    found = source.open(role="train", scale=1)
    assert found.names == ["bear", "boat"] and found.generate_lr is True
    assert DataSource(kind="davis", root=root, split="val").open(role="eval", scale=1).names == [
        "camel"
    ]


def test_ldv_reads_its_stored_pairs_from_frame_001(roots) -> None:
    found = DataSource(kind="auto", root=roots["ldv"], split=None).open(role="eval", scale=1)
    assert found.names == ["001", "002"] and found.generate_lr is False
    # Frame 0 of a clip is the file 001.png, read from LQ/ beside GT/.
    np.testing.assert_array_equal(found.store.read("002", 0, "gt"), rd.gt_frame("002", 0))
    np.testing.assert_array_equal(
        found.store.read("002", 4, "lr"), rd.blurred(rd.gt_frame("002", 4))
    )
    assert found.infos["001"].num_frames == 5


def test_a_gt_clip_without_its_pair_is_named(roots, tmp_path: Path) -> None:
    root = shutil.copytree(roots["gopro"], tmp_path / "GoPro")
    shutil.rmtree(root / "train" / "blur" / rd.GOPRO["train"][1])
    with pytest.raises(DataError, match=rf"blur/{rd.GOPRO['train'][1]}"):
        DataSource(kind="gopro", root=root, lr_source="stored").open(role="train", scale=1)


def test_mixed_frame_formats_are_refused(roots, tmp_path: Path) -> None:
    root = shutil.copytree(roots["davis"], tmp_path / "DAVIS")
    clip = root / "JPEGImages" / "480p" / "bear"
    rd.write(clip / "00009.png", rd.gt_frame("bear", 9))
    with pytest.raises(DataError, match=r"480p/bear: frames of several formats \(\.jpg, \.png\)"):
        DataSource(kind="davis", root=root).open(role="train", scale=1)


def grey(t: int = 4, size: int = 64) -> np.ndarray:
    return np.full((t, size, size, 3), 128, np.uint8)


def test_noise_has_the_asked_sigma_per_channel() -> None:
    noisy = GaussianNoise(sigma=20)(grey(8), np.random.default_rng(0)).astype(np.float64)
    residual = noisy - 128
    assert residual.std() == pytest.approx(20, rel=0.02)
    # Each channel gets its own noise (RGB noise, not grey).
    assert abs(np.corrcoef(residual[..., 0].ravel(), residual[..., 1].ravel())[0, 1]) < 0.02
    assert GaussianNoise(sigma=0)(grey(), np.random.default_rng(0)).tolist() == grey().tolist()


def test_noise_sigma_is_drawn_per_window_from_the_range() -> None:
    noise = GaussianNoise(sigma=(10, 30))
    sigmas = [
        (noise(grey(2), np.random.default_rng(seed)).astype(np.float64) - 128).std()
        for seed in range(40)
    ]
    assert min(sigmas) > 9 and max(sigmas) < 31 and np.std(sigmas) > 3
    a, b = (noise(grey(), np.random.default_rng(7)) for _ in range(2))
    np.testing.assert_array_equal(a, b)  # same generator state, same noise


@pytest.mark.parametrize("sigma", [-1, 256, (30, 10), (0, 1, 2)])
def test_noise_settings_outside_0_255_are_refused(sigma) -> None:
    with pytest.raises(ValueError, match=r"^sigma"):
        GaussianNoise(sigma=sigma)


def test_compression_is_a_real_codec_and_reproducible() -> None:
    frames = np.stack([rd.gt_frame("clip", i, 64, 96) for i in range(6)])
    light, heavy = VideoCompression(crf=15), VideoCompression(crf=45)
    a = light(frames, np.random.default_rng(0))
    light.encode(np.random.default_rng(2).integers(0, 256, (3, 60, 100, 3), np.uint8), 30)
    b = VideoCompression(crf=15)(frames, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)  # same CRF: the same frames, whatever ran before
    for _ in range(5):  # at this width, unpadded, x264's encodes differed now and then
        np.testing.assert_array_equal(a, VideoCompression(crf=15)(frames, None))
    assert a.shape == frames.shape and a.dtype == np.uint8
    quality = [calculate_psnr(x, y) for x, y in zip(a, frames, strict=True)]
    worse = [calculate_psnr(x, y) for x, y in zip(heavy(frames, None), frames, strict=True)]
    assert min(quality) > max(worse) + 3
    for codec in ("libx264", "libx265"):
        odd = VideoCompression(codec=codec, crf=20).encode(frames[:3, :31, :45], 20)
        assert odd.shape == (3, 31, 45, 3)


def test_a_crf_range_draws_per_window_from_the_generator() -> None:
    """Training's path: one CRF drawn from the range per window, so the same seed gives the
    same compressed frames, and the drawn CRF's own encode is what comes back."""
    frames = np.stack([rd.gt_frame("clip", i, 64, 96) for i in range(4)])
    ranged = VideoCompression(codec="libx264", crf=(18, 40))
    a = ranged(frames, np.random.default_rng(7))
    b = VideoCompression(codec="libx264", crf=(18, 40))(frames, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    for seed in (7, 1, 2, 3):  # each seed: the encode at its own drawn CRF
        drawn = int(np.random.default_rng(seed).integers(18, 41))  # numpy's: [low, high)
        np.testing.assert_array_equal(
            ranged(frames, np.random.default_rng(seed)),
            VideoCompression(codec="libx264", crf=drawn)(frames, None),
        )


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
def test_a_constant_quantiser_instead_of_a_crf(codec) -> None:
    """QP mode (how LDV's HEVC clips were made): a higher QP is a coarser quantiser, a QP range
    draws per window like a CRF range, and the setting is what the results describe."""
    frames = np.stack([rd.gt_frame("clip", i, 64, 96) for i in range(4)])
    fine, coarse = VideoCompression(codec, qp=12), VideoCompression(codec, qp=45)
    psnr = {
        name: np.mean([calculate_psnr(x, y) for x, y in zip(c(frames, None), frames, strict=True)])
        for name, c in (("fine", fine), ("coarse", coarse))
    }
    assert psnr["fine"] > psnr["coarse"] + 3
    ranged = VideoCompression(codec, qp=(12, 45))
    drawn = int(np.random.default_rng(3).integers(12, 46))
    np.testing.assert_array_equal(
        ranged(frames, np.random.default_rng(3)), VideoCompression(codec, qp=drawn)(frames, None)
    )
    assert ranged.describe() == f"{codec} qp U{{12..45}}"
    # The encoder is told a QP, not a CRF of the same number.
    crf = VideoCompression(codec, crf=30)(frames, None)
    assert not np.array_equal(VideoCompression(codec, qp=30)(frames, None), crf)
    assert VideoCompression(codec, crf=(22, 37)).describe() == f"{codec} crf U{{22..37}}"


def test_compression_settings_are_checked_at_once() -> None:
    with pytest.raises(ValueError, match="codec='libvpx'"):
        VideoCompression(codec="libvpx")
    with pytest.raises(ValueError, match=r"crf=60 must lie in \[0, 51\]"):
        VideoCompression(crf=60)
    with pytest.raises(ValueError, match=r"qp=\(40, 30\) must lie in \[0, 51\]"):
        VideoCompression(qp=(40, 30))
    with pytest.raises(ValueError, match="crf=20 and qp=30: set one rate control, not both"):
        VideoCompression(crf=20, qp=30)
    with pytest.raises(ValueError, match="cannot encode with codec='libx264' preset='warp'"):
        VideoCompression(preset="warp")


def test_training_windows_get_new_noise_each_sample(roots) -> None:
    found = DataSource(kind="davis", root=roots["davis"]).open(role="train", scale=1)
    windows = TrainWindows(
        found.store,
        found.names,
        num_frames=3,
        scale=1,
        gt_patch_size=16,
        degradation=GaussianNoise(sigma=25),
        infos=found.infos,
        hflip=False,
        vflip=False,
        transpose=False,
    )
    first, again, other = windows[(0, 0)], windows[(0, 0)], windows[(1, 0)]
    assert first["lq"].shape == first["gt"].shape == (3, 3, 16, 16)
    assert np.array_equal(first["lq"], again["lq"])  # a sample is reproducible
    residual = (first["lq"] - first["gt"]).numpy() * 255
    assert residual.std() == pytest.approx(25, rel=0.2)
    assert not np.array_equal((other["lq"] - other["gt"]).numpy(), first["lq"] - first["gt"])


def test_an_eval_clip_is_corrupted_the_same_every_run(roots) -> None:
    found = DataSource(kind="davis", root=roots["davis"]).open(role="eval", scale=1)
    clips = EvalClips(
        found.store, found.names, scale=1, degradation=GaussianNoise(sigma=50), infos=found.infos
    )
    a, b = clips[0], clips[0]
    np.testing.assert_array_equal(a["lq"], b["lq"])
    expected = GaussianNoise(sigma=50)(
        np.stack([found.store.read("bear", i, "gt") for i in range(6)]), clip_rng("bear")
    )
    np.testing.assert_array_equal((a["lq"].permute(0, 2, 3, 1) * 255).round().byte(), expected)
    assert not np.array_equal(clips[1]["lq"][0, :, :8, :8], a["lq"][0, :, :8, :8])
