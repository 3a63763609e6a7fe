"""`VSRDataModule`: the training windows and evaluation clips of one run, from plain arguments."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader
from torchdata.stateful_dataloader import StatefulDataLoader

from vsr.data.backends.base import DataError, FrameStore
from vsr.data.corruptions import Corruption, describe
from vsr.data.datasets import EpochSampler, EvalClips, ShardSampler, TrainWindows
from vsr.data.demo import DemoConfig, build_demo
from vsr.data.source import Backend, DataSource, open_source_backend

log = logging.getLogger(__name__)


class VSRDataModule(LightningDataModule):
    """Training windows and whole evaluation clips for video super-resolution.

    Train batches are dicts with `lq` (n, t, 3, h, w) and `gt` (n, t, 3, h*scale, w*scale)
    float32 in [0, 1], `clip` (list of n names), `frames` (n, t) frame indices and `crop`
    (n, 2) GT (top, left) of the crop before flips. Val/test batches hold one whole clip:
    `lq` (1, t, 3, h, w), `gt` (1, t_gt, 3, H, W) (the scored frames), `clip`, `set`,
    `frames` (1, t_gt) and `pred_index` (1, t_gt, k): GT frame j is scored against the mean of
    outputs `pred_index[0, j]` (k = 2 for Vimeo-90K-T's mirrored protocol, else 1).

    Args:
        kind: dataset layout, `reds`, `vimeo`, `folder` or `auto` (see `vsr.data.layouts`).
        root: dataset root.
        split: training split (None: `reds4_train`, Vimeo-90K `train`, folder `all`).
        scale: upscaling factor.
        num_frames: frames per training window.
        gt_patch_size: GT crop side (the low-res crop is `gt_patch_size / scale`).
        batch_size: training batch size per rank.
        num_workers: training dataloader workers per rank.
        samples_per_epoch: training samples per epoch over all ranks (None: one per clip),
            so that epochs are long enough for step-based training on few clips.
        hflip: random horizontal flips.
        vflip: random vertical flips.
        transpose: random H/W transposes.
        temporal_reverse: random reversal of training windows.
        mirror: append each training window reversed (Vimeo-90K: 7 -> 14 frames).
        degradation: `bi` or `bd`: makes missing low-res frames, and names the default
            low-res folders (`BIx4`, `BDx4`); or a corruption of every input
            (`vsr.data.corruptions.GaussianNoise`, `VideoCompression`; Hydra: a `_target_` node).
        lr_source: `auto` (stored low-res frames if their folder exists, else made on the
            fly), `stored` or `generate`.
        gt_dir: GT folder relative to root (Vimeo-90K and folder layouts; None: detect).
        lr_dir: low-res folder relative to root (None: the layout's default).
        list_file: file naming the training clips (relative to root or absolute).
        clips: explicit training clip names (overrides split and list_file).
        backend: where the frames are read from: `folder` (the image files under `root`,
            decoded with Pillow), the path of a store converted with `vsr-prepare arrays |
            lmdb | shards` (or BasicSR LMDB databases; see `vsr.data.backends.registry.open_store`), a
            `FrameStore`, or a function returning one (Hydra: `_target_` + `_partial_: true`).
            A store's clips are chosen by name like the layouts choose them (`split`,
            `list_file`, `clips`; REDS4 held out by default), so a store converted from the
            whole dataset (`--split all`) serves every split. With a store, `root` is only
            read for Vimeo-90K's `sep_trainlist.txt` / `sep_testlist.txt` and for eval sets
            with a `root` of their own.
        val_sets: validation sets, each a mapping of `DataSource` fields; missing
            keys default to this module's (`root`, `kind`, `degradation`, ...) and `split` to
            the layout's evaluation split (REDS4, Vimeo-90K-T). `backend` defaults to this
            module's for a set of the training dataset (no `root` or `kind` of its own, or the
            same ones), and to `folder` for a set with its own `root` (Vid4, UDM10).
        test_sets: test sets, like `val_sets`.
        seed: base seed of all sampling (None: 0).
        validate: scan the data at `setup` and fail with one `DataError` listing the problems.
        pin_memory: pin batches (None: when CUDA is available).
        persistent_workers: keep training workers between epochs.
        eval_num_workers: workers of each val/test dataloader.
        demo: settings of `vsr.data.demo.DemoConfig`: build the demo data set at `root` in
            `prepare_data` when it is not there yet (a few seconds, from bundled photographs;
            `conf/data/demo.yaml`). None: the data must exist.
    """

    def __init__(
        self,
        kind: str = "reds",
        root: str = "data/REDS",
        split: str | None = None,
        scale: int = 4,
        num_frames: int = 30,
        gt_patch_size: int = 256,
        batch_size: int = 1,
        num_workers: int = 4,
        samples_per_epoch: int | None = None,
        hflip: bool = True,
        vflip: bool = True,
        transpose: bool = True,
        temporal_reverse: bool = False,
        mirror: bool = False,
        degradation: str | Corruption = "bi",
        lr_source: str = "auto",
        gt_dir: str | None = None,
        lr_dir: str | None = None,
        list_file: str | None = None,
        clips: Sequence[str] | None = None,
        backend: Backend = "folder",
        val_sets: Sequence[Mapping[str, Any]] | None = None,
        test_sets: Sequence[Mapping[str, Any]] | None = None,
        seed: int | None = 0,
        validate: bool = True,
        pin_memory: bool | None = None,
        persistent_workers: bool = True,
        eval_num_workers: int = 1,
        demo: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        # Objects (a FrameStore, a corruption) stay out of the checkpoint's hyper-parameters.
        objects = [
            k
            for k, v in (("backend", backend), ("degradation", degradation))
            if not isinstance(v, str)
        ]
        self.save_hyperparameters(ignore=objects or None)
        # An eval set's corruption is kept as its description: a checkpoint must stay plain
        # data, loadable with torch.load(weights_only=True).
        for key in ("val_sets", "test_sets"):
            if self.hparams.get(key):
                self.hparams[key] = [_plain_set(spec) for spec in self.hparams[key]]
        self.source = DataSource(
            kind=kind,
            root=root,
            split=split,
            degradation=degradation,
            lr_source=lr_source,  # type: ignore[arg-type]
            gt_dir=gt_dir,
            lr_dir=lr_dir,
            list_file=list_file,
            clips=tuple(clips) if clips is not None else None,
            mirror=mirror,
            backend=backend,
        )
        self.root = root
        self.scale = scale
        self.num_frames = num_frames
        self.gt_patch_size = gt_patch_size
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.samples_per_epoch = samples_per_epoch
        self.flags = {"hflip": hflip, "vflip": vflip, "transpose": transpose}
        self.temporal_reverse = temporal_reverse
        self.val_sources = [self.source.derive(s) for s in val_sets or ()]
        self.test_sources = [self.source.derive(s) for s in test_sets or ()]
        self.seed = seed or 0
        self.validate = validate
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.persistent_workers = persistent_workers
        self.eval_num_workers = eval_num_workers
        self.demo = DemoConfig(**demo) if demo is not None else None
        self.train_set: TrainWindows | None = None
        self.val_datasets: list[EvalClips] | None = None
        self.test_datasets: list[EvalClips] | None = None
        self._stores: dict[object, FrameStore] = {}  # opened back-ends, shared by the sets

    # ----------------------------------------------------------------------------- setup

    def _rank(self) -> tuple[int, int]:
        """(rank, world size) from the trainer, torch.distributed, or (0, 1)."""
        trainer = getattr(self, "trainer", None)
        if trainer is not None:
            return trainer.global_rank, trainer.world_size
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return torch.distributed.get_rank(), torch.distributed.get_world_size()
        return 0, 1

    def prepare_data(self) -> None:
        """Build the demo data set at `root` if this module is the demo's and it is missing."""
        if self.demo is not None:
            if not (Path(self.root) / "train_sharp").is_dir():
                log.info("building the demo data set in %s", self.root)
            build_demo(self.root, self.demo)

    def setup(self, stage: str | None = None) -> None:
        """Find, check and index the data a stage needs (`fit`, `validate`, `test`)."""
        if stage in (None, "fit") and self.train_set is None:
            self.train_set = self._build_train()
        if stage in (None, "fit", "validate") and self.val_datasets is None:
            self.val_datasets = [self._build_eval(s) for s in self.val_sources]
        if stage in (None, "test") and self.test_datasets is None:
            self.test_datasets = [self._build_eval(s) for s in self.test_sources]

    def _build_train(self) -> TrainWindows:
        rank, world_size = self._rank()
        found = self.source.open(
            role="train",
            scale=self.scale,
            num_frames=self.num_frames,
            gt_patch_size=self.gt_patch_size,
            validate=self.validate,
            open_backend=self._open,
        )
        dataset = TrainWindows(
            found.store,
            found.names,
            num_frames=self.num_frames,
            scale=self.scale,
            gt_patch_size=self.gt_patch_size,
            temporal_reverse=self.temporal_reverse,
            mirror=self.source.mirror,
            degradation=self.source.degradation,
            generate_lr=found.generate_lr,
            samples_per_epoch=self.samples_per_epoch,
            seed=self.seed,
            rank=rank,
            world_size=world_size,
            infos=found.infos,
            **self.flags,
        )
        if len(dataset) < self.batch_size:
            raise DataError(
                f"{len(dataset)} training samples per rank ({dataset.samples_per_epoch} over "
                f"{world_size} ranks) make no full batch of {self.batch_size}: raise "
                "samples_per_epoch"
            )
        how = describe(self.source.degradation)
        low_res = f"made on the fly ({how})" if dataset.generate_lr else "stored"
        log.info(
            "training data: %d clips of %s, %d samples per epoch per rank, %s %s",
            len(found.names),
            found.description,
            len(dataset),
            "input" if self.scale == 1 else "low-res",
            low_res,
        )
        return dataset

    def _open(self, backend: Backend) -> FrameStore:
        """The store of a non-folder back-end, opened once and shared by train and eval sets."""
        key = os.fspath(backend) if isinstance(backend, str | os.PathLike) else id(backend)
        store = self._stores.get(key)
        if store is None:
            store = self._stores[key] = open_source_backend(backend)
        return store

    def _build_eval(self, source: DataSource) -> EvalClips:
        gt_frames = source.gt_frames
        found = source.open(
            role="eval",
            scale=self.scale,
            num_frames=max(gt_frames) + 1 if gt_frames else 1,
            validate=self.validate,
            open_backend=self._open,
        )
        dataset = EvalClips(
            found.store,
            found.names,
            scale=self.scale,
            degradation=source.degradation,
            generate_lr=found.generate_lr,
            mirror=source.mirror,
            gt_frames=list(gt_frames) if gt_frames is not None else None,
            max_frames=source.max_frames,
            name=source.label,
            infos=found.infos,
        )
        log.info("eval set %s: %d clips of %s", source.label, len(dataset), found.description)
        return dataset

    # ------------------------------------------------------------------------ loaders

    @property
    def val_set_names(self) -> list[str]:
        """Names of the validation sets, in dataloader order."""
        return [s.label for s in self.val_sources]

    @property
    def test_set_names(self) -> list[str]:
        """Names of the test sets, in dataloader order."""
        return [s.label for s in self.test_sources]

    def train_dataloader(self) -> StatefulDataLoader:
        """Training windows, shuffled per epoch by the dataset itself (see `EpochSampler`).

        A `StatefulDataLoader`: Lightning saves its position in every checkpoint and restores
        it, so a run resumed mid-epoch reads the batches an uninterrupted run would.
        """
        if self.train_set is None:
            self.setup("fit")
        assert self.train_set is not None
        return EpochLoader(
            self.train_set,
            batch_size=self.batch_size,
            sampler=EpochSampler(self.train_set),
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            drop_last=True,
            persistent_workers=self.persistent_workers and self.num_workers > 0,
        )

    def _eval_loaders(self, datasets: list[EvalClips]) -> DataLoader | list[DataLoader]:
        # Each rank scores its share of the clips, each clip once (see `ShardSampler`).
        rank, world_size = self._rank()
        loaders = [
            DataLoader(
                d,
                batch_size=1,
                sampler=ShardSampler(d, rank=rank, world_size=world_size),
                num_workers=self.eval_num_workers,
                pin_memory=self.pin_memory,
            )
            for d in datasets
        ]
        # A single loader keeps metric names free of Lightning's `/dataloader_idx_0` suffix.
        return loaders[0] if len(loaders) == 1 else loaders

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        """One loader per validation set, one whole clip per batch."""
        if self.val_datasets is None:
            self.setup("validate")
        return self._eval_loaders(self.val_datasets or [])

    def test_dataloader(self) -> DataLoader | list[DataLoader]:
        """One loader per test set, one whole clip per batch."""
        if self.test_datasets is None:
            self.setup("test")
        return self._eval_loaders(self.test_datasets or [])


class EpochLoader(StatefulDataLoader):
    """`StatefulDataLoader` of `EpochSampler` batches whose state also holds the epoch.

    Lightning restores the loader (and creates its iterator) before it tells the sampler the
    epoch, so the state carries it. After an epoch's last batch the state is "the next epoch
    from its start": restoring an exhausted iterator would make Lightning run one more, empty
    epoch.
    """

    def state_dict(self) -> dict:
        epoch = self.sampler.epoch
        iterator = self._iterator
        if iterator is not None and iterator._num_yielded >= len(self):
            return {"epoch": epoch + 1}
        return {**super().state_dict(), "epoch": epoch}

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        self.sampler.set_epoch(state.pop("epoch", self.sampler.epoch))
        super().load_state_dict(state)


def _plain_set(spec: Mapping[str, Any]) -> dict[str, Any]:
    """An eval set's settings with a `Corruption` object replaced by its description."""
    return {k: describe(v) if isinstance(v, Corruption) else v for k, v in dict(spec).items()}
