"""Datasets over any `FrameStore`: random training windows and whole clips for evaluation.

Neither opens files: they read frames through the store, so every back-end gives the same
samples. Low-res frames come from the store when it has them, otherwise from a degradation.
Training windows read only their crops from a store that offers `read_crop` (`ArrayStore`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler

from vsr.data import augment
from vsr.data.backends.base import ClipInfo, FrameStore
from vsr.data.corruptions import Corruption, clip_rng

Degrade = Callable[[np.ndarray, int], np.ndarray]


def _same_size(frame: np.ndarray, scale: int) -> np.ndarray:
    return frame


def resolve_degradation(
    degradation: str | Degrade | Corruption | None, scale: int
) -> tuple[Degrade, int | None]:
    """Per-frame downsampling function and the GT margin a crop needs for it.

    Args:
        degradation: `bi` (MATLAB bicubic), `bd` (blur + subsample), a function
            `(gt_frame, scale) -> lr_frame` (its crops then degrade whole frames: margin None),
            a `Corruption` (its `downsample` is used), or None at scale 1 (same size).
        scale: downscaling factor.
    """
    if isinstance(degradation, Corruption):
        degradation = degradation.downsample
    if degradation is None:
        if scale != 1:
            raise ValueError(f"scale={scale} needs a downsampling (bi or bd) to make inputs")
        return _same_size, 0
    if callable(degradation):
        return degradation, None
    from vsr.data import degradations

    kind = degradation.lower()
    if kind not in ("bi", "bd"):
        raise ValueError(f"unknown degradation {degradation!r}, expected bi or bd")
    fn = degradations.bicubic_downsample if kind == "bi" else degradations.blur_downsample
    return fn, degradations.gt_margin(kind, scale)


def to_tensor(frames: np.ndarray) -> torch.Tensor:
    """(t, h, w, 3) uint8 -> (t, 3, h, w) float32 in [0, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(frames))
    return tensor.permute(0, 3, 1, 2).float().div_(255.0)


def flipped_tensor(frames: np.ndarray, flips: augment.Flips) -> torch.Tensor:
    """`to_tensor(flips(frames))`, flipping in torch: one strided copy instead of two."""
    tensor = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    dims = [dim for dim, on in ((3, flips.hflip), (2, flips.vflip)) if on]
    if dims:
        tensor = tensor.flip(dims)
    if flips.transpose:
        tensor = tensor.transpose(2, 3)
    out = torch.empty(tensor.shape, dtype=torch.float32)
    return out.copy_(tensor).div_(255.0)


def _read(store: FrameStore, clip: str, frames: Sequence[int], kind: str) -> np.ndarray:
    """Frames of a clip, each distinct index read once (mirrored windows repeat them)."""
    cache = {i: store.read(clip, i, kind) for i in dict.fromkeys(frames)}
    return np.stack([cache[i] for i in frames])


def _read_crops(
    store: FrameStore, clip: str, frames: Sequence[int], kind: str, box: tuple[int, int, int, int]
) -> np.ndarray:
    """The (top, left, height, width) `box` of frames of a clip, with the store's `read_crop`."""
    cache = {i: store.read_crop(clip, i, kind, *box) for i in dict.fromkeys(frames)}  # type: ignore[attr-defined]
    return np.stack([cache[i] for i in frames])


def has_crop_reads(store: FrameStore) -> bool:
    """Whether the store reads crops without reading whole frames (`read_crop`)."""
    return callable(getattr(store, "read_crop", None))


class TrainWindows(Dataset):
    """Random training samples: a window of consecutive frames, one crop and flips for all.

    Sample `i` of an epoch on rank `r` is global sample `g = i * world_size + r`; the epoch runs
    through shuffled passes over the clips, and `g` picks position `g % num_clips` of pass
    `g // num_clips`, so ranks see different clips. All random choices come from
    `augment.sample_rng(seed, epoch, rank, i)`.

    Items can be indexed by `i` (using `epoch`, see `set_epoch`) or by `(epoch, i)`, which is
    what `EpochSampler` yields so that worker processes need no epoch updates.

    Args:
        store: where the frames are.
        clips: names of the training clips.
        num_frames: window length.
        scale: upscaling factor.
        gt_patch_size: GT crop side (a multiple of `scale`); the low-res crop is
            `gt_patch_size / scale`.
        hflip: random horizontal flips (p=0.5).
        vflip: random vertical flips (p=0.5).
        transpose: random H/W transposes (p=0.5).
        temporal_reverse: random reversal of the window (p=0.5).
        mirror: append the window reversed (7 -> 14 frames for Vimeo-90K).
        degradation: how to make low-res frames when the store has none: `bi`, `bd`, a
            function `(gt_frame, scale) -> lr_frame`, or a `Corruption` (noise, compression),
            which is applied to every input window (stored or made) after its `downsample`.
        generate_lr: make low-res frames even if the store has them (None: only if it has not).
        samples_per_epoch: samples in an epoch over all ranks (None: one per clip).
        seed: base seed.
        rank: this process's rank.
        world_size: number of ranks.
        infos: `ClipInfo` of the clips, if already known.
    """

    def __init__(
        self,
        store: FrameStore,
        clips: Sequence[str],
        *,
        num_frames: int,
        scale: int = 4,
        gt_patch_size: int = 256,
        hflip: bool = True,
        vflip: bool = True,
        transpose: bool = True,
        temporal_reverse: bool = False,
        mirror: bool = False,
        degradation: str | Degrade | Corruption = "bi",
        generate_lr: bool | None = None,
        samples_per_epoch: int | None = None,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        infos: dict[str, ClipInfo] | None = None,
    ) -> None:
        if not clips:
            raise ValueError("no training clips")
        if gt_patch_size % scale:
            raise ValueError(f"gt_patch_size={gt_patch_size} is not a multiple of scale={scale}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, {world_size})")
        self.store = store
        self.clips = list(clips)
        infos = infos if infos is not None else store.clips()
        self.infos = {name: infos[name] for name in self.clips}
        self.num_frames = num_frames
        self.scale = scale
        self.gt_patch_size = gt_patch_size
        self.hflip, self.vflip, self.transpose = hflip, vflip, transpose
        self.temporal_reverse = temporal_reverse
        self.mirror = mirror
        self.samples_per_epoch = samples_per_epoch or len(self.clips)
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch = 0
        if generate_lr is None:
            generate_lr = any(info.lr_size is None for info in self.infos.values())
        self.generate_lr = generate_lr
        self.corrupt = degradation if isinstance(degradation, Corruption) else None
        self.degrade, self.margin = (None, None)
        if generate_lr:
            self.degrade, self.margin = resolve_degradation(degradation, scale)
            if self.margin is not None and self.margin % scale:
                raise ValueError(f"margin {self.margin} is not a multiple of scale {scale}")
        self._order: tuple[tuple[int, int], np.ndarray] | None = None

    def __len__(self) -> int:
        """Samples per epoch on this rank (the total rounded up to a multiple of world_size)."""
        return math.ceil(self.samples_per_epoch / self.world_size)

    def set_epoch(self, epoch: int) -> None:
        """Epoch used by plain integer indices."""
        self.epoch = epoch

    def clip_of(self, epoch: int, index: int) -> str:
        """Clip of sample `index` of `epoch` on this rank."""
        global_index = index * self.world_size + self.rank
        cycle, position = divmod(global_index, len(self.clips))
        if self._order is None or self._order[0] != (epoch, cycle):
            order = augment.clip_order(self.seed, epoch, cycle, len(self.clips))
            self._order = ((epoch, cycle), order)
        return self.clips[int(self._order[1][position])]

    def _degrade_frame(self, frame: np.ndarray) -> np.ndarray:
        return self.degrade(frame, self.scale)

    def __getitem__(self, item: int | tuple[int, int]) -> dict:
        epoch, index = item if isinstance(item, tuple) else (self.epoch, item)
        if not 0 <= index < len(self):
            raise IndexError(index)
        clip = self.clip_of(epoch, index)
        info = self.infos[clip]
        rng = augment.sample_rng(self.seed, epoch, self.rank, index)
        frames = augment.window(rng, info.num_frames, self.num_frames, self.temporal_reverse)
        if self.mirror:
            frames = augment.mirror(frames)
        top, left = augment.crop_origin(rng, info.gt_size, self.gt_patch_size, self.scale)
        flips = augment.Flips.sample(rng, self.hflip, self.vflip, self.transpose)

        lq, gt = self._read_sample(clip, info, frames, top, left)
        if self.corrupt is not None:
            lq = self.corrupt(lq, rng)
        return {
            "lq": flipped_tensor(lq, flips),
            "gt": flipped_tensor(gt, flips),
            "clip": clip,
            "frames": torch.tensor(frames, dtype=torch.long),
            "crop": torch.tensor([top, left], dtype=torch.long),
        }

    def _read_sample(
        self, clip: str, info: ClipInfo, frames: list[int], top: int, left: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Low-res and GT crops (t, h, w, 3) of a sample, before flips.

        A store with `read_crop` reads only the crops (with on-the-fly low-res frames: the GT
        crop plus the degradation's margin, clipped to the frame, which degrades to the same
        pixels as the whole frame); other stores read whole frames. Both give the same arrays.
        """
        p, s, store = self.gt_patch_size, self.scale, self.store
        crops = has_crop_reads(store)
        if not self.generate_lr:
            if crops:
                gt = _read_crops(store, clip, frames, "gt", (top, left, p, p))
                lq = _read_crops(store, clip, frames, "lr", (top // s, left // s, p // s, p // s))
                return lq, gt
            gt = _read(store, clip, frames, "gt")[:, top : top + p, left : left + p]
            lq = _read(store, clip, frames, "lr")
            return lq[:, top // s : (top + p) // s, left // s : (left + p) // s], gt
        if crops and self.margin is not None:
            # The region degrade_crop would cut from whole frames, read directly.
            m, (height, width) = self.margin, info.gt_size
            r0, c0 = max(0, top - m), max(0, left - m)
            r1, c1 = min(height, top + p + m), min(width, left + p + m)
            region = _read_crops(store, clip, frames, "gt", (r0, c0, r1 - r0, c1 - c0))
            top, left = top - r0, left - c0
        else:
            region = _read(store, clip, frames, "gt")
        gt = region[:, top : top + p, left : left + p]
        lq = augment.degrade_crop(region, top, left, p, s, self._degrade_frame, self.margin)
        return lq, gt


class EpochSampler(DistributedSampler):
    """Yields `(epoch, i)` for every sample of a `TrainWindows` on this rank, in order.

    The dataset already splits samples between ranks and shuffles them per epoch, so this
    sampler only carries the epoch to worker processes (persistent ones included). It derives
    from `DistributedSampler` so that Lightning uses it as is instead of wrapping it in
    another distributed sampler; `set_epoch` is called by Lightning (or by hand) each epoch.
    """

    def __init__(self, dataset: TrainWindows) -> None:
        super().__init__(dataset, num_replicas=1, rank=0, shuffle=False)

    def __iter__(self):
        epoch = self.epoch
        return iter([(epoch, i) for i in range(len(self.dataset))])

    def __len__(self) -> int:
        return len(self.dataset)


class ShardSampler(DistributedSampler):
    """Shares an evaluation set's clips among the ranks, each clip scored by exactly one rank.

    Rank `r` gets the clips `r, r + W, r + 2W, ...` (W ranks). Every rank runs the same number
    of batches, `ceil(n / W)`: a rank whose share is one clip short (or that has none, with
    fewer clips than ranks) gets a padding item, the index `n + r % n` (see
    `EvalClips.__getitem__`), which is run through the network like any other (so the ranks'
    collectives, metric syncs included, stay paired) and not scored. Torch's
    `DistributedSampler` pads with real repeats instead, which biases the mean.

    It derives from `DistributedSampler` so that Lightning uses it as is instead of replacing it
    with its own distributed sampler (`use_distributed_sampler=True`).

    Args:
        dataset: the evaluation set.
        rank: this process's rank.
        world_size: number of ranks.
    """

    def __init__(self, dataset: Dataset, rank: int = 0, world_size: int = 1) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, {world_size})")
        super().__init__(dataset, num_replicas=world_size, rank=rank, shuffle=False)
        size = len(dataset)  # type: ignore[arg-type]
        per_rank = math.ceil(size / world_size)
        self.indices = [
            p if p < size else size + rank % size
            for p in range(rank, per_rank * world_size, world_size)
        ]
        self.num_samples = per_rank
        self.total_size = per_rank * world_size

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return self.num_samples


class EvalClips(Dataset):
    """Whole clips for validation and testing, one clip per item.

    An item holds the low-res input of the whole clip and the GT frames to score, with
    `pred_index` saying which outputs each GT frame is compared with: the mean of outputs
    `pred_index[j]` against `gt[j]`. With `mirror` (Vimeo-90K-T), the input is the clip
    followed by itself reversed (7 -> 14 frames) and GT frame 4 (`gt_frames=[3]`) is scored
    against the mean of outputs 3 and 10.

    Args:
        store: where the frames are.
        clips: names of the clips.
        scale: upscaling factor.
        degradation: how to make low-res frames when the store has none, or a `Corruption`
            of the input, seeded by the clip's name (see `TrainWindows`).
        generate_lr: make low-res frames even if the store has them (None: only if it has not).
        mirror: feed the clip followed by itself reversed.
        gt_frames: 0-based frames to score (None: all).
        max_frames: keep only the first `max_frames` frames of long clips (None: all).
        name: name of the set, copied into items (`REDS4`, `Vid4`, ...).
        infos: `ClipInfo` of the clips, if already known.
    """

    def __init__(
        self,
        store: FrameStore,
        clips: Sequence[str],
        *,
        scale: int = 4,
        degradation: str | Degrade | Corruption = "bi",
        generate_lr: bool | None = None,
        mirror: bool = False,
        gt_frames: Sequence[int] | None = None,
        max_frames: int | None = None,
        name: str = "",
        infos: dict[str, ClipInfo] | None = None,
    ) -> None:
        self.store = store
        self.clips = list(clips)
        infos = infos if infos is not None else store.clips()
        self.infos = {c: infos[c] for c in self.clips}
        self.scale = scale
        self.mirror = mirror
        self.gt_frames = list(gt_frames) if gt_frames is not None else None
        self.max_frames = max_frames
        self.name = name
        if generate_lr is None:
            generate_lr = any(info.lr_size is None for info in self.infos.values())
        self.generate_lr = generate_lr
        self.degrade = resolve_degradation(degradation, scale)[0] if generate_lr else None
        self.corrupt = degradation if isinstance(degradation, Corruption) else None
        for clip, info in self.infos.items():
            length = self._length(info)
            bad = [f for f in self.gt_frames or () if not 0 <= f < length]
            if bad:
                raise ValueError(f"clip {clip} has {length} frames, no frame {bad[0]} to score")

    def _length(self, info: ClipInfo) -> int:
        if self.max_frames is None:
            return info.num_frames
        return min(info.num_frames, self.max_frames)

    def __len__(self) -> int:
        return len(self.clips)

    def __iter__(self):
        """The clips' items (without the padding items `__getitem__` also serves)."""
        return (self[i] for i in range(len(self)))

    def __getitem__(self, index: int) -> dict:
        """Item `index`; `len(self) <= index < 2 * len(self)` is a padding item
        (`ShardSampler`): item `index - len(self)` with `scored` False, run and not counted."""
        scored = index < len(self.clips)
        if not 0 <= index < 2 * len(self.clips):
            raise IndexError(index)
        item = self._item(index % len(self.clips))
        item["scored"] = torch.tensor(scored)
        return item

    def _item(self, index: int) -> dict:
        clip = self.clips[index]
        length = self._length(self.infos[clip])
        frames = list(range(length))
        scored = self.gt_frames if self.gt_frames is not None else frames
        gt_all = None
        if self.generate_lr:
            gt_all = _read(self.store, clip, frames, "gt")
            lq = np.stack([self.degrade(frame, self.scale) for frame in gt_all])
            gt = gt_all[scored]
        else:
            lq = _read(self.store, clip, frames, "lr")
            gt = _read(self.store, clip, scored, "gt")
        if self.corrupt is not None:  # the same corrupted clip every run
            lq = self.corrupt(lq, clip_rng(clip))
        if self.mirror:
            lq = np.concatenate([lq, lq[::-1]])
            pred_index = [[f, 2 * length - 1 - f] for f in scored]
        else:
            pred_index = [[f] for f in scored]
        return {
            "lq": to_tensor(lq),
            "gt": to_tensor(gt),
            "clip": clip,
            "frames": torch.tensor(scored, dtype=torch.long),
            "pred_index": torch.tensor(pred_index, dtype=torch.long),
            "set": self.name,
        }
