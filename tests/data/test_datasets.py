"""Training windows and evaluation clips: windows, crops, flips, seeds, ranks, degradations."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from vsr.data import EvalClips, FolderStore, TrainWindows
from vsr.data.backends.base import ClipInfo
from vsr.data.datasets import EpochSampler
from vsr.data.degradations import bicubic_downsample, blur_downsample, gt_margin
from vsr.data.layouts import discover

TRAIN = ["001", "002", "240", "241"]  # reds4_train of the REDS fixture


def store_of(root: Path, kind: str = "reds", **kwargs) -> FolderStore:
    return FolderStore.from_layout(discover(kind, root, split=kwargs.pop("split", "all"), **kwargs))


def uint8(frames: torch.Tensor) -> np.ndarray:
    """(t, 3, h, w) float in [0, 1] -> (t, h, w, 3) uint8 (exact for uint8-made tensors)."""
    return (frames.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()


def transforms(frames: np.ndarray) -> dict[tuple[bool, bool, bool], np.ndarray]:
    """All 8 flip/transpose combinations of (t, h, w, c) frames, in the dataset's order."""
    out = {}
    for h, v, t in itertools.product((False, True), repeat=3):
        x = frames[:, :, ::-1] if h else frames
        x = x[:, ::-1] if v else x
        out[h, v, t] = x.transpose(0, 2, 1, 3) if t else x
    return out


def expected_crops(sample: dict, synth, patch: int) -> tuple[np.ndarray, np.ndarray]:
    """GT and block-averaged low-res crops that `sample` names, before flips."""
    top, left = sample["crop"].tolist()
    gt = np.stack([synth.gt_frame(sample["clip"], f) for f in sample["frames"].tolist()])
    gt = gt[:, top : top + patch, left : left + patch]
    lr = np.stack([synth.block_average(g, 4) for g in gt])
    return gt, lr


def flips_of(sample: dict, synth, patch: int) -> tuple[bool, bool, bool]:
    """Which flips were applied; asserts they are the same for every frame, LR and GT."""
    gt, lr = expected_crops(sample, synth, patch)
    got_gt, got_lr = uint8(sample["gt"]), uint8(sample["lq"])
    matches = [k for k, x in transforms(gt).items() if np.array_equal(x, got_gt)]
    assert len(matches) == 1, "GT frames are not one crop of the named frames under one flip"
    np.testing.assert_array_equal(transforms(lr)[matches[0]], got_lr)
    return matches[0]


def windows(store, **kwargs) -> TrainWindows:
    args = {"num_frames": 5, "gt_patch_size": 32, "seed": 0}
    return TrainWindows(store, kwargs.pop("clips", TRAIN), **(args | kwargs))


def test_sample_shapes_types_and_window(reds_root: Path) -> None:
    data = windows(store_of(reds_root))
    sample = data[0]
    assert set(sample) == {"lq", "gt", "clip", "frames", "crop"}
    assert sample["lq"].shape == (5, 3, 8, 8) and sample["lq"].dtype == torch.float32
    assert sample["gt"].shape == (5, 3, 32, 32) and sample["gt"].dtype == torch.float32
    assert sample["lq"].min() >= 0 and sample["gt"].max() <= 1
    for i in range(len(data)):
        frames = data[i]["frames"].tolist()
        assert frames == list(range(frames[0], frames[0] + 5)) and frames[-1] < 8


def test_crops_align_pixel_exactly_and_flips_are_shared(reds_root: Path, synth) -> None:
    data = windows(store_of(reds_root), samples_per_epoch=48)
    seen = Counter()
    for i in range(len(data)):
        sample = data[i]
        top, left = sample["crop"].tolist()
        assert top % 4 == 0 and left % 4 == 0 and top + 32 <= 48 and left + 32 <= 64
        seen[flips_of(sample, synth, 32)] += 1
    # All three flips are drawn, independently: both values of each occur.
    for axis in range(3):
        assert {k[axis] for k in seen} == {False, True}
    assert len(seen) >= 6


def test_flips_can_be_switched_off(reds_root: Path, synth) -> None:
    data = windows(store_of(reds_root), samples_per_epoch=16, hflip=False, transpose=False)
    flips = {flips_of(data[i], synth, 32) for i in range(len(data))}
    assert flips == {(False, False, False), (False, True, False)}


def test_temporal_reverse(reds_root: Path) -> None:
    data = windows(store_of(reds_root), samples_per_epoch=32, temporal_reverse=True)
    steps = {np.diff(data[i]["frames"].numpy()).tolist()[0] for i in range(len(data))}
    assert steps == {1, -1}
    plain = windows(store_of(reds_root), samples_per_epoch=32)
    assert all((np.diff(plain[i]["frames"].numpy()) == 1).all() for i in range(len(plain)))


def test_mirror_extends_window(vimeo_root: Path, synth) -> None:
    store = store_of(vimeo_root, "vimeo", split="train")
    data = windows(store, clips=list(synth.vimeo_train), num_frames=7, mirror=True)
    sample = data[1]
    assert sample["frames"].tolist() == [0, 1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1, 0]
    assert sample["lq"].shape == (14, 3, 8, 8)
    assert torch.equal(sample["gt"], sample["gt"].flip(0))
    flips_of(sample, synth, 32)


def test_generated_low_res_matches_whole_frame_degradation(reds_gt_only: Path, synth) -> None:
    store = store_of(reds_gt_only)
    assert store.clips()["001"].lr_size is None
    for name, degrade in (("bi", bicubic_downsample), ("bd", blur_downsample)):
        data = windows(
            store, degradation=name, samples_per_epoch=24, gt_patch_size=16, hflip=False,
            vflip=False, transpose=False,
        )  # fmt: skip
        assert data.generate_lr and data.margin == gt_margin(name, 4) > 0

        def mismatches(data=data, degrade=degrade) -> int:
            count = 0
            for i in range(len(data)):
                sample = data[i]
                top, left = sample["crop"].tolist()
                want = [
                    degrade(synth.gt_frame(sample["clip"], f), 4)[
                        top // 4 : top // 4 + 4, left // 4 : left // 4 + 4
                    ]
                    for f in sample["frames"].tolist()
                ]
                count += not np.array_equal(uint8(sample["lq"]), np.stack(want))
            return count

        assert mismatches() == 0, name
        data.margin = 0  # without context the crop borders differ: the margin matters
        assert mismatches() > 0, name


def test_custom_degradation_function(reds_gt_only: Path, synth) -> None:
    data = windows(store_of(reds_gt_only), degradation=synth.block_average)
    assert data.margin is None  # unknown support: whole frames are degraded
    for i in range(len(data)):
        flips_of(data[i], synth, 32)


def test_generate_lr_overrides_stored_frames(reds_root: Path) -> None:
    data = windows(store_of(reds_root), generate_lr=True, degradation="bi")
    sample = data[0]
    stored = windows(store_of(reds_root))[0]
    assert torch.equal(sample["gt"], stored["gt"])
    assert not torch.equal(sample["lq"], stored["lq"])  # bicubic, not the block averages


def test_same_seed_same_samples_other_seed_or_epoch_differs(reds_root: Path) -> None:
    store = store_of(reds_root)
    a, b = windows(store, samples_per_epoch=8), windows(store, samples_per_epoch=8)
    order = [5, 0, 7, 3]  # access order does not matter
    for i in order:
        assert torch.equal(a[i]["gt"], b[i]["gt"]) and a[i]["clip"] == b[i]["clip"]

    def key(data, epoch):
        return [(data[(epoch, i)]["clip"], data[(epoch, i)]["crop"].tolist()) for i in range(8)]

    assert key(a, 0) == key(b, 0)
    assert key(a, 0) != key(a, 1)
    assert key(a, 0) != key(windows(store, samples_per_epoch=8, seed=1), 0)
    b.set_epoch(1)
    assert [b[i]["crop"].tolist() for i in range(8)] == [c for _, c in key(a, 1)]


def test_every_clip_once_per_pass(reds_root: Path) -> None:
    data = windows(store_of(reds_root), samples_per_epoch=12)
    assert len(data) == 12
    clips = [data[i]["clip"] for i in range(12)]
    for start in (0, 4, 8):  # three shuffled passes over the four clips
        assert sorted(clips[start : start + 4]) == TRAIN
    assert clips[:4] != clips[4:8] or clips[4:8] != clips[8:]


def test_ranks_see_different_clips(reds_root: Path) -> None:
    store = store_of(reds_root)
    ranks = [windows(store, samples_per_epoch=4, rank=r, world_size=2) for r in (0, 1)]
    assert [len(r) for r in ranks] == [2, 2]
    seen = [{r[i]["clip"] for i in range(len(r))} for r in ranks]
    assert seen[0].isdisjoint(seen[1]) and seen[0] | seen[1] == set(TRAIN)
    # 10 samples over 3 ranks: 4 each (rounded up), every clip 3 times over the 12.
    ranks = [windows(store, samples_per_epoch=10, rank=r, world_size=3) for r in range(3)]
    counts = Counter(r[i]["clip"] for r in ranks for i in range(len(r)))
    assert [len(r) for r in ranks] == [4, 4, 4] and set(counts.values()) == {3}
    with pytest.raises(ValueError, match="rank 2"):
        windows(store, rank=2, world_size=2)


def test_workers_load_the_same_samples_as_the_main_process(reds_root: Path) -> None:
    data = windows(store_of(reds_root), samples_per_epoch=8)

    def load(num_workers: int, epoch: int) -> list[dict]:
        sampler = EpochSampler(data)
        sampler.set_epoch(epoch)
        loader = DataLoader(data, batch_size=2, sampler=sampler, num_workers=num_workers)
        return list(loader)

    main, workers = load(0, 3), load(2, 3)
    assert len(main) == len(workers) == 4
    for x, y in zip(main, workers, strict=True):
        assert x["clip"] == y["clip"] and torch.equal(x["gt"], y["gt"])
        assert torch.equal(x["lq"], y["lq"])
    # Worker 0 loads batches 0 and 2, worker 1 batches 1 and 3: all samples differ.
    crops = {
        (c, tuple(k.tolist())) for b in workers for c, k in zip(b["clip"], b["crop"], strict=True)
    }
    assert len(crops) == 8
    assert not torch.equal(load(2, 4)[0]["gt"], workers[0]["gt"])


class ArrayStore:
    """A FrameStore over frames in memory: datasets must not care where frames live."""

    def __init__(self, frames: dict[str, list[np.ndarray]], lr: dict[str, list[np.ndarray]]):
        self.frames, self.lr = frames, lr

    def clips(self) -> dict[str, ClipInfo]:
        return {
            name: ClipInfo(name, len(f), f[0].shape[:2], self.lr[name][0].shape[:2])
            for name, f in self.frames.items()
        }

    def read(self, clip: str, index: int, kind: str) -> np.ndarray:
        return (self.frames if kind == "gt" else self.lr)[clip][index]


def test_any_frame_store_gives_the_same_samples(reds_root: Path, synth) -> None:
    gt = {c: [synth.gt_frame(c, i) for i in range(8)] for c in TRAIN}
    lr = {c: [synth.block_average(f, 4) for f in frames] for c, frames in gt.items()}
    memory, folder = windows(ArrayStore(gt, lr)), windows(store_of(reds_root))
    for i in range(len(folder)):
        x, y = memory[i], folder[i]
        assert x["clip"] == y["clip"] and torch.equal(x["gt"], y["gt"])
        assert torch.equal(x["lq"], y["lq"])


def test_eval_clips_whole_clip(folder_root: Path, synth) -> None:
    data = EvalClips(store_of(folder_root, "folder"), ["calendar", "city walk"], name="Vid4")
    item = data[0]
    assert item["clip"] == "calendar" and item["set"] == "Vid4"
    assert item["lq"].shape == (12, 3, 12, 16) and item["gt"].shape == (12, 3, 48, 64)
    assert item["frames"].tolist() == list(range(12))
    assert item["pred_index"].tolist() == [[i] for i in range(12)]
    np.testing.assert_array_equal(uint8(item["gt"])[9], synth.gt_frame("calendar", 9))
    np.testing.assert_array_equal(
        uint8(item["lq"])[9], synth.block_average(synth.gt_frame("calendar", 9), 4)
    )
    assert data[1]["gt"].shape[0] == 9
    short = EvalClips(store_of(folder_root, "folder"), ["calendar"], max_frames=4)
    assert short[0]["lq"].shape[0] == 4


def test_eval_clips_vimeo_t_protocol(vimeo_root: Path, synth) -> None:
    store = store_of(vimeo_root, "vimeo", split="test")
    data = EvalClips(store, list(synth.vimeo_test), mirror=True, gt_frames=[3])
    item = data[1]
    assert item["lq"].shape == (14, 3, 12, 16)
    assert item["gt"].shape == (1, 3, 48, 64)
    np.testing.assert_array_equal(uint8(item["gt"])[0], synth.gt_frame("00002/0007", 3))
    assert item["frames"].tolist() == [3] and item["pred_index"].tolist() == [[3, 10]]
    assert torch.equal(item["lq"][3], item["lq"][10]) and torch.equal(item["lq"][0], item["lq"][13])
    with pytest.raises(ValueError, match="no frame 7 to score"):
        EvalClips(store, list(synth.vimeo_test), gt_frames=[7])


def test_eval_clips_generate_whole_frames(reds_gt_only: Path, synth) -> None:
    data = EvalClips(store_of(reds_gt_only, split="reds4_val"), ["011"], degradation="bd")
    item = data[0]
    want = np.stack([blur_downsample(synth.gt_frame("011", i), 4) for i in range(8)])
    np.testing.assert_array_equal(uint8(item["lq"]), want)


def test_flipped_tensor_equals_numpy_flips() -> None:
    from vsr.data.augment import Flips
    from vsr.data.datasets import flipped_tensor, to_tensor

    frames = np.random.default_rng(0).integers(0, 256, (3, 6, 10, 3), dtype=np.uint8)
    for combo in itertools.product((False, True), repeat=3):
        flips = Flips(*combo)
        got, expected = flipped_tensor(frames, flips), to_tensor(flips(frames))
        assert got.dtype == torch.float32 and got.is_contiguous()
        assert torch.equal(got, expected), combo
