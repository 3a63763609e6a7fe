"""`DataSource`: where one set of clips comes from, in one typed description.

Training (`data.*`), each validation and test set (`data.val_sets`, `data.test_sets`), each
`vsr-test` benchmark and `vsr-prepare`'s source are a `DataSource`; `DataSource.open` finds,
checks and indexes its clips the same way for all of them: from image files in a layout
(`vsr.data.layouts`) or from a converted store (`vsr.data.backends`), the split chosen by the
one table of `vsr.data.splits`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vsr.data.backends.base import ClipInfo, DataError, FrameStore
from vsr.data.backends.folder import FolderStore
from vsr.data.backends.registry import open_store
from vsr.data.corruptions import Corruption
from vsr.data.layouts import Layout, LRSource, discover
from vsr.data.splits import SPLITS, DatasetKind, Role, detect_kind, select_clips
from vsr.data.validate import check_store, raise_problems, scan_layout
from vsr.frames import natural_key

Backend = str | os.PathLike | FrameStore | Callable[[], FrameStore]
LR_SOURCES = ("auto", "stored", "generate")
DEGRADATIONS = ("bi", "bd")


@dataclass(frozen=True)
class DataSource:
    """One set of clips: which dataset, which split, how its low-res frames come, where from.

    Attributes:
        kind: layout of `root`: `reds`, `vimeo`, `folder`, or `auto` (detected from its
            folders by `vsr.data.splits.detect_kind`).
        root: dataset root (image files; with a store, only read for list files); None for
            a description not bound to data yet (a benchmark preset).
        split: split name (None: the role's default, see `vsr.data.splits`).
        degradation: `bi` or `bd`: names the default low-res folders (`BIx4`, `BDx4`) and
            makes missing low-res frames; or a `Corruption` (`vsr.data.corruptions`: noise,
            video compression) of every input, after its own `downsample`.
        lr_source: `auto` (stored low-res frames when their folder exists, else made on the
            fly), `stored` or `generate`.
        gt_dir: GT folder relative to root (Vimeo-90K and folder layouts; None: detect).
        lr_dir: low-res folder relative to root (None: the layout's default).
        list_file: file naming the clips (relative to root or absolute); overrides `split`.
        clips: explicit clip names; override `list_file` and `split`.
        mirror: feed each clip followed by itself reversed (Vimeo-90K-T: 7 -> 14 frames).
        gt_frames: 0-based frames scored (None: all).
        max_frames: evaluate only the first frames of each clip (None: all).
        backend: `folder` (the image files under root), the path of a converted store, a
            `FrameStore`, or a function returning one.
        name: display name (None: the root's folder name).
    """

    kind: str = "reds"
    root: str | os.PathLike | None = "data/REDS"
    split: str | None = None
    degradation: str | Corruption = "bi"
    lr_source: LRSource = "auto"
    gt_dir: str | None = None
    lr_dir: str | None = None
    list_file: str | os.PathLike | None = None
    clips: tuple[str, ...] | None = None
    mirror: bool = False
    gt_frames: tuple[int, ...] | None = None
    max_frames: int | None = None
    backend: Backend = "folder"
    name: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in (*SPLITS, "auto"):
            raise ValueError(f"kind must be one of {', '.join(SPLITS)} or auto, got {self.kind!r}")
        if self.lr_source not in LR_SOURCES:
            raise ValueError(f"lr_source must be auto, stored or generate, got {self.lr_source!r}")
        if not isinstance(self.degradation, Corruption) and self.degradation not in DEGRADATIONS:
            raise ValueError(
                f"degradation must be bi, bd or a vsr.data.corruptions node, got "
                f"{self.degradation!r}"
            )
        if not (isinstance(self.backend, str | os.PathLike | FrameStore) or callable(self.backend)):
            raise ValueError(
                f"backend {self.backend!r}: give 'folder', the path of a converted store, a "
                "FrameStore, or a function returning one (e.g. a Hydra node with _target_ and "
                "_partial_: true)"
            )
        # Hydra hands lists; the source is frozen and hashable only with tuples.
        if self.clips is not None:
            object.__setattr__(self, "clips", tuple(self.clips))
        if self.gt_frames is not None:
            object.__setattr__(self, "gt_frames", tuple(int(f) for f in self.gt_frames))

    @classmethod
    def fields(cls) -> frozenset[str]:
        """The keys a source may set (those of an entry of `val_sets` / `test_sets`)."""
        return frozenset(f.name for f in dataclasses.fields(cls))

    def derive(self, spec: Mapping[str, Any]) -> DataSource:
        """Another set of the same run: `spec`'s keys, the rest from this source.

        `kind`, `root`, `degradation` and `lr_source` default to this source's; the clip
        choice (`split`, `list_file`, `clips`, folders, frames) to the layout's defaults for
        evaluation; `backend` to this one's for a set of the same dataset, and to `folder` for
        a set with a `root` or `kind` of its own (Vid4, UDM10).

        Raises:
            ValueError: `spec` has a key that is not a `DataSource` field.
        """
        unknown = set(spec) - self.fields()
        if unknown:
            raise ValueError(
                f"unknown keys {sorted(unknown)} in an eval set, expected {sorted(self.fields())}"
            )
        spec = dict(spec)
        same_data = spec.get("kind", self.kind) == self.kind and str(
            spec.get("root", self.root)
        ) == str(self.root)
        spec.setdefault("backend", self.backend if same_data else "folder")
        for key in ("kind", "root", "degradation", "lr_source"):
            spec.setdefault(key, getattr(self, key))
        return DataSource(**spec)

    @property
    def label(self) -> str:
        """The display name: `name`, else the root's folder name."""
        return self.name or Path(os.fspath(self.root)).name

    @property
    def downsampling(self) -> str:
        """`bi` or `bd`: the downsampling that names the default low-res folders."""
        if isinstance(self.degradation, Corruption):
            return self.degradation.downsample or "bi"
        return self.degradation

    @property
    def is_folder(self) -> bool:
        """Whether the frames are read from the image files under `root`."""
        return isinstance(self.backend, str) and self.backend == "folder"

    def dataset_kind(self) -> DatasetKind:
        """`kind`, detected from the root's folders when it is `auto`."""
        return detect_kind(self.root) if self.kind == "auto" else self.kind  # type: ignore[return-value]

    def layout(self, *, role: Role, scale: int) -> Layout:
        """The clips of this source's split among the image files under `root`."""
        return discover(
            self.dataset_kind(),
            self.root,
            role=role,
            split=self.split,
            scale=scale,
            degradation=self.downsampling,
            lr_source=self.lr_source,
            gt_dir=self.gt_dir,
            lr_dir=self.lr_dir,
            list_file=self.list_file,
            clips=self.clips,
        )

    def store_clips(self, store: FrameStore, *, role: Role) -> list[str]:
        """The clips of this source's split in a converted store, by the split table.

        Names missing from the store are reported by `check_store`.
        """
        names, _ = select_clips(
            self.dataset_kind(),
            self.root,
            lambda: sorted(store.clips(), key=natural_key),
            role=role,
            split=self.split,
            list_file=self.list_file,
            clips=self.clips,
        )
        return names

    def open(
        self,
        *,
        role: Role,
        scale: int,
        num_frames: int = 1,
        gt_patch_size: int | None = None,
        validate: bool = True,
        open_backend: Callable[[Backend], FrameStore] | None = None,
    ) -> OpenSource:
        """Find, check and index this source's clips.

        Args:
            role: `train` or `eval` (picks the default split).
            scale: upscaling factor (low-res size x scale must be the GT size).
            num_frames: frames each clip needs at least.
            gt_patch_size: GT crop side each frame must hold (None: no crops).
            validate: read every image header (folders); else only the folder listing.
            open_backend: opens a non-folder back-end (None: `open_backend` of this module),
                so that train and eval sets can share one opened store.

        Raises:
            DataError: missing data, unknown split, or bad files; one message lists them all.
        """
        if self.is_folder:
            layout = self.layout(role=role, scale=scale)
            if validate:
                infos = scan_layout(
                    layout, scale=scale, num_frames=num_frames, gt_patch_size=gt_patch_size
                )
            else:
                raise_problems(layout.problems, f"the dataset at {layout.root}")
                infos = FolderStore.from_layout(layout).clips()
            store: FrameStore = FolderStore.from_layout(layout, infos)
            return OpenSource(
                store, list(layout.clips), infos, not layout.lr_stored, str(self.root)
            )
        store = (open_backend or open_source_backend)(self.backend)
        names = self.store_clips(store, role=role)
        infos = check_store(
            store,
            names,
            scale=scale,
            num_frames=num_frames,
            gt_patch_size=gt_patch_size,
            need_lr=self.lr_source == "stored",
            what=repr(store),
        )
        # None: the dataset reads stored low-res frames where the store has them.
        generate = True if self.lr_source == "generate" else None
        return OpenSource(store, names, infos, generate, repr(store))


@dataclass(frozen=True)
class OpenSource:
    """The checked clips of a `DataSource`.

    Attributes:
        store: the frames.
        names: clip names of the split, in order.
        infos: `ClipInfo` of each of them.
        generate_lr: make low-res frames on the fly (True), read them (False), or read them
            where the store has them (None).
        description: where the frames come from, for logs.
    """

    store: FrameStore
    names: list[str]
    infos: dict[str, ClipInfo]
    generate_lr: bool | None
    description: str


def open_source_backend(backend: Backend) -> FrameStore:
    """The `FrameStore` of a non-folder back-end: a converted store's path, a store, or a
    function returning one.

    Raises:
        DataError: the path holds no complete converted store (the message says what to do).
    """
    if isinstance(backend, str | os.PathLike):
        try:
            return open_store(backend)
        except OSError as err:
            raise DataError(
                f"backend {os.fspath(backend)!r}: {err} (backend is 'folder' or the "
                "path of a store converted with vsr-prepare arrays|lmdb|shards)"
            ) from err
    if isinstance(backend, FrameStore):
        return backend
    return backend()


def sources(specs: Sequence[Mapping[str, Any]] | None, base: DataSource) -> list[DataSource]:
    """The eval sets of a run, each derived from the training source (`DataSource.derive`)."""
    return [base.derive(spec) for spec in specs or ()]
