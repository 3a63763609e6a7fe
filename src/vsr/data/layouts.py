"""Where the frames of each clip live on disk, for the layouts the benchmarks ship in.

A layout function turns a dataset root into `ClipFiles` (the GT and low-res frame paths of each
clip) for one split, plus the problems it found on the way. It decodes nothing: `validate`
checks the files and `FolderStore` reads them.

Accepted layouts (`{s}` is the scale, 4 for the benchmarks):

* REDS (``kind="reds"``)::

      root/train_sharp/000/00000000.png ...        GT, clips 000-239
      root/train_sharp_bicubic/X{s}/000/00000000.png   low-res
      root/val_sharp/000/...  root/val_sharp_bicubic/X{s}/000/...   official val, clips 000-029

  Clips are named like BasicSR/mmagic's merged REDS: `val_sharp/NNN` becomes clip `240 + NNN`,
  so the 270 clips are `000`-`269` whether `val_sharp` was merged into `train_sharp` or not.
  Splits: `reds4_train` (all but REDS4), `reds4_val` (REDS4 = 000, 011, 015, 020),
  `official_train` (000-239), `official_val` (240-269), `all`.
* Vimeo-90K septuplets (``kind="vimeo"``)::

      root/sequences/00001/0001/im1.png ... im7.png     GT (or root/GT/..., mmagic's name)
      root/BIx4/00001/0001/im1.png ...                  low-res: `{BI|BD}x{s}` by default,
                                                        any folder via `lr_dir`
      root/sep_trainlist.txt, root/sep_testlist.txt    one `00001/0001` per line

  Clips are named `00001/0001`. Splits: `train`, `test` (Vimeo-90K-T), or any list file via
  `list_file` (lines may carry extra fields after the name, as in mmagic's meta_info files).
* A folder of clips (``kind="folder"``; Vid4, UDM10 or your own)::

      root/GT/<clip>/<frames>        (or root/<clip>/<frames> when there is no GT folder)
      root/BIx4/<clip>/<frames>      optional low-res, `{BI|BD}x{s}` by default, or `lr_dir`

  Each sub-folder is a clip; frames are taken in natural order (`frame2` before `frame10`),
  whatever their names. Splits: `all`, or a list file of clip names via `list_file`.

* Same-size restoration (scale 1; the input is stored beside the GT, or made on the fly)::

      GoPro (``kind="gopro"``)  root/{train,test}/{GT,blur}/<clip>/000001.png
      DVD (``kind="dvd"``)      root/quantitative_datasets/{GT,LQ}/<clip>/00000.jpg
      DAVIS (``kind="davis"``)  root/JPEGImages/480p/<clip>/00000.jpg        GT only
      LDV (``kind="ldv"``)      root/{GT,LQ}/<clip>/001.png                 frames from 001

  Splits: GoPro `train`/`test` (clips `train/<clip>`, `test/<clip>`), DVD `train`/`test` (its 10
  test clips), DAVIS `train`/`val` (`ImageSets/2017`), LDV `all`.

Low-res frames: `lr_source="auto"` uses the stored ones when their top folder exists and
otherwise leaves them to be made on the fly by the degradation; `"stored"` requires them;
`"generate"` ignores them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from vsr.data.backends.base import DataError
from vsr.data.splits import (
    REDS_NUM_TRAIN,
    SPLITS,
    DatasetKind,
    Role,
    read_list_file,
    resolve_path,
    select_clips,
)
from vsr.frames import list_frames, list_subdirs, natural_key

LRSource = Literal["auto", "stored", "generate"]


@dataclass(frozen=True)
class ClipFiles:
    """Frame files of one clip, as found on disk.

    Attributes:
        name: clip name (`"000"`, `"00001/0001"`, `"calendar"`).
        gt_dir: folder of the ground-truth frames.
        gt: GT frame paths in natural order.
        lr_dir: folder of the low-res frames, or None when they are made on the fly.
        lr: low-res frame paths in natural order (unpaired: `validate` checks that they match
            `gt` name by name), or None.
    """

    name: str
    gt_dir: Path
    gt: tuple[Path, ...]
    lr_dir: Path | None = None
    lr: tuple[Path, ...] | None = None


@dataclass
class Layout:
    """The clips of one split of a dataset on disk.

    Attributes:
        root: dataset root.
        clips: clip files by name, in split order.
        lr_stored: whether low-res frames are read from disk (else made on the fly).
        problems: what is wrong (missing folders, unknown clips), for one `DataError`.
    """

    root: Path
    clips: dict[str, ClipFiles]
    lr_stored: bool
    problems: list[str] = field(default_factory=list)


def lr_folder_name(degradation: str, scale: int) -> str:
    """Default low-res folder of the Vimeo-90K and folder layouts: `BIx4`, `BDx4`, ...; `LQ`
    for same-size inputs (scale 1: blurred, noisy or compressed frames)."""
    return "LQ" if scale == 1 else f"{degradation.upper()}x{scale}"


def discover(
    kind: DatasetKind,
    root: str | os.PathLike,
    *,
    role: Role = "train",
    split: str | None = None,
    scale: int = 4,
    degradation: str = "bi",
    lr_source: LRSource = "auto",
    gt_dir: str | None = None,
    lr_dir: str | None = None,
    list_file: str | os.PathLike | None = None,
    clips: Sequence[str] | None = None,
) -> Layout:
    """Find the clips of one split of a dataset on disk.

    Args:
        kind: `reds`, `vimeo`, `folder`, `gopro`, `dvd`, `davis` or `ldv` (see the module
            docstring for the layouts).
        root: dataset root.
        role: `train` or `eval`; picks the default split (REDS: `reds4_train` / `reds4_val`,
            Vimeo-90K: `train` / `test`, folder: `all`) and makes `split="reds4"` mean the one
            for the role.
        split: split name, None for the role's default.
        scale: downscaling factor, for the default low-res folder names.
        degradation: `bi` or `bd`, for the default low-res folder names.
        lr_source: `auto`, `stored` or `generate` (see the module docstring).
        gt_dir: GT folder relative to root (Vimeo-90K, folder, DAVIS and LDV layouts); None to
            detect it.
        lr_dir: low-res folder relative to root (or absolute); None for the default.
        list_file: file naming the clips of the split, relative to root (or absolute).
        clips: explicit clip names; overrides `split` and `list_file`.

    Raises:
        DataError: the root or the GT folder does not exist, or the split is unknown.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"dataset root {root} does not exist or is not a folder")
    if lr_source not in ("auto", "stored", "generate"):
        raise ValueError(f"lr_source must be auto, stored or generate, got {lr_source!r}")
    if kind == "reds":
        return _reds(root, role, split, scale, lr_source, list_file, clips)
    if kind == "vimeo":
        lr_dir = lr_dir or lr_folder_name(degradation, scale)
        return _vimeo(root, role, split, lr_source, gt_dir, lr_dir, list_file, clips)
    if kind == "folder":
        return _folder(root, split, scale, degradation, lr_source, gt_dir, lr_dir, list_file, clips)
    if kind == "gopro":
        return _gopro(root, role, split, lr_source, list_file, clips)
    if kind == "dvd":
        return _dvd(root, role, split, lr_source, list_file, clips)
    if kind == "davis":
        return _davis(root, role, split, gt_dir, list_file, clips)
    if kind == "ldv":
        return _ldv(root, role, split, lr_source, gt_dir, lr_dir, list_file, clips)
    raise ValueError(
        f"unknown dataset kind {kind!r}, expected reds, vimeo, folder, gopro, dvd, davis or ldv"
    )


def _select(
    available: Sequence[str],
    wanted: Sequence[str],
    source: str,
    problems: list[str],
) -> list[str]:
    """Keep `wanted` in order; report those not in `available` (and duplicates)."""
    have = set(available)
    seen: set[str] = set()
    out = []
    missing = []
    for name in wanted:
        if name in seen:
            problems.append(f"{source}: clip {name!r} is listed twice")
            continue
        seen.add(name)
        if name in have:
            out.append(name)
        else:
            missing.append(name)
    for name in missing:
        problems.append(f"{source}: clip {name!r} does not exist")
    return out


def _lr_mode(lr_source: LRSource, lr_roots: Sequence[Path], problems: list[str]) -> bool:
    """Whether to read stored low-res frames; reports missing folders when they are required."""
    if lr_source == "generate":
        return False
    exists = [p.is_dir() for p in lr_roots]
    if lr_source == "stored":
        for path, ok in zip(lr_roots, exists, strict=True):
            if not ok:
                problems.append(f"low-res folder {path} does not exist (lr_source='stored')")
        return True
    return any(exists)


def _reds(
    root: Path,
    role: Role,
    split: str | None,
    scale: int,
    lr_source: LRSource,
    list_file: str | os.PathLike | None,
    clips: Sequence[str] | None,
) -> Layout:
    train_dir, val_dir = root / "train_sharp", root / "val_sharp"
    if not train_dir.is_dir() and not val_dir.is_dir():
        found = ", ".join(list_subdirs(root)[:10]) or "nothing"
        raise DataError(
            f"{root} is not a REDS root: expected train_sharp/ (and val_sharp/), found {found}"
        )
    problems: list[str] = []
    # name -> (GT folder, low-res folder)
    places: dict[str, tuple[Path, Path]] = {}
    for name in list_subdirs(train_dir):
        places[name] = (train_dir / name, root / "train_sharp_bicubic" / f"X{scale}" / name)
    for name in list_subdirs(val_dir):
        if not name.isdigit():
            problems.append(f"{val_dir / name}: REDS clip folders are numbers")
            continue
        merged = f"{int(name) + REDS_NUM_TRAIN:03d}"
        if merged in places:
            problems.append(
                f"clip {merged} is both {places[merged][0]} and {val_dir / name} "
                "(val_sharp already merged into train_sharp?)"
            )
            continue
        places[merged] = (val_dir / name, root / "val_sharp_bicubic" / f"X{scale}" / name)
    return _from_places("reds", root, places, role, split, lr_source, list_file, clips, problems)


def _from_places(
    kind: str,
    root: Path,
    places: dict[str, tuple[Path, Path | None]],
    role: Role,
    split: str | None,
    lr_source: LRSource,
    list_file: str | os.PathLike | None,
    clips: Sequence[str] | None,
    problems: list[str],
) -> Layout:
    """The layout of the clips of a split, from each clip's (GT, low-res) folders."""
    available = sorted(places, key=natural_key)
    if not available:
        problems.append(f"{root} has no clip folders")
    wanted, source = select_clips(
        kind, root, available, role=role, split=split, list_file=list_file, clips=clips
    )
    names = _select(available, wanted, source, problems)
    lr_roots = sorted({lr.parent for n in names if (lr := places[n][1]) is not None})
    if lr_source == "stored" and names and not lr_roots:
        problems.append(f"{root}: the {kind} layout stores no low-res frames (lr_source='stored')")
    lr_stored = _lr_mode(lr_source, lr_roots, problems) if lr_roots else False
    out = {}
    for name in names:
        gt_dir, lr_dir = places[name]
        lr_here = lr_stored and lr_dir is not None
        out[name] = ClipFiles(
            name,
            gt_dir,
            list_frames(gt_dir),
            lr_dir if lr_here else None,
            list_frames(lr_dir) if lr_here else None,  # type: ignore[arg-type]
        )
    return Layout(root, out, lr_stored, problems)


def _gopro(
    root: Path,
    role: Role,
    split: str | None,
    lr_source: LRSource,
    list_file: str | os.PathLike | None,
    clips: Sequence[str] | None,
) -> Layout:
    parts = [part for part in ("train", "test") if (root / part / "GT").is_dir()]
    if not parts:
        found = ", ".join(list_subdirs(root)[:10]) or "nothing"
        raise DataError(
            f"{root} is not a GoPro root: expected train/GT/ and train/blur/ (and test/), "
            f"found {found}"
        )
    places: dict[str, tuple[Path, Path | None]] = {}
    for part in parts:
        for name in list_subdirs(root / part / "GT"):
            places[f"{part}/{name}"] = (root / part / "GT" / name, root / part / "blur" / name)
    return _from_places("gopro", root, places, role, split, lr_source, list_file, clips, [])


def _dvd(
    root: Path,
    role: Role,
    split: str | None,
    lr_source: LRSource,
    list_file: str | os.PathLike | None,
    clips: Sequence[str] | None,
) -> Layout:
    base = root / "quantitative_datasets" if (root / "quantitative_datasets").is_dir() else root
    if not (base / "GT").is_dir():
        raise DataError(
            f"{root} is not a DVD root: expected quantitative_datasets/GT/ and "
            "quantitative_datasets/LQ/ (or GT/ and LQ/ directly under it)"
        )
    places: dict[str, tuple[Path, Path | None]] = {
        name: (base / "GT" / name, base / "LQ" / name) for name in list_subdirs(base / "GT")
    }
    return _from_places("dvd", root, places, role, split, lr_source, list_file, clips, [])


def _davis(
    root: Path,
    role: Role,
    split: str | None,
    gt_dir: str | None,
    list_file: str | os.PathLike | None,
    clips: Sequence[str] | None,
) -> Layout:
    gt_root = resolve_path(root, gt_dir or "JPEGImages/480p")
    if not gt_root.is_dir():
        raise DataError(
            f"{root} is not a DAVIS root: no {gt_root} (expected JPEGImages/480p/<clip>/)"
        )
    places: dict[str, tuple[Path, Path | None]] = {
        name: (gt_root / name, None) for name in list_subdirs(gt_root)
    }
    return _from_places("davis", root, places, role, split, "auto", list_file, clips, [])


def _ldv(
    root: Path,
    role: Role,
    split: str | None,
    lr_source: LRSource,
    gt_dir: str | None,
    lr_dir: str | None,
    list_file: str | os.PathLike | None,
    clips: Sequence[str] | None,
) -> Layout:
    gt_root = resolve_path(root, gt_dir or "GT")
    lr_root = resolve_path(root, lr_dir or "LQ")
    if not gt_root.is_dir():
        raise DataError(
            f"{root} is not an LDV root: no {gt_root} (expected GT/<clip>/001.png and "
            "LQ/<clip>/001.png, or set gt_dir and lr_dir)"
        )
    places: dict[str, tuple[Path, Path | None]] = {
        name: (gt_root / name, lr_root / name) for name in list_subdirs(gt_root)
    }
    return _from_places("ldv", root, places, role, split, lr_source, list_file, clips, [])


def _vimeo(
    root: Path,
    role: Role,
    split: str | None,
    lr_source: LRSource,
    gt_dir: str | None,
    lr_dir: str,
    list_file: str | os.PathLike | None,
    clips: Sequence[str] | None,
) -> Layout:
    if gt_dir is None:
        gt_dir = "sequences" if (root / "sequences").is_dir() else "GT"
    gt_root = resolve_path(root, gt_dir)
    if not gt_root.is_dir():
        raise DataError(
            f"{root} is not a Vimeo-90K root: no GT folder {gt_root} (expected sequences/ or GT/)"
        )
    problems: list[str] = []
    names, source = select_clips(
        "vimeo",
        root,
        lambda: _vimeo_listed(root),
        role=role,
        split=split,
        list_file=list_file,
        clips=clips,
    )
    if not names and clips is None:
        problems.append(f"{source} names no clip")
    lr_root = resolve_path(root, lr_dir)
    lr_stored = _lr_mode(lr_source, [lr_root], problems)
    out = {}
    seen: set[str] = set()
    for name in names:
        if name in seen:
            problems.append(f"{source}: clip {name!r} is listed twice")
            continue
        seen.add(name)
        clip_dir = gt_root / name
        if not clip_dir.is_dir():
            problems.append(f"{source}: clip {name!r} does not exist ({clip_dir} missing)")
            continue
        out[name] = ClipFiles(
            name,
            clip_dir,
            list_frames(clip_dir),
            lr_root / name if lr_stored else None,
            list_frames(lr_root / name) if lr_stored else None,
        )
    return Layout(root, out, lr_stored, problems)


def _folder(
    root: Path,
    split: str | None,
    scale: int,
    degradation: str,
    lr_source: LRSource,
    gt_dir: str | None,
    lr_dir: str | None,
    list_file: str | os.PathLike | None,
    clips: Sequence[str] | None,
) -> Layout:
    if gt_dir is None:
        gt_dir = "GT" if (root / "GT").is_dir() else "."
    gt_root = resolve_path(root, gt_dir)
    if not gt_root.is_dir():
        raise DataError(f"GT folder {gt_root} does not exist")
    lr_root = resolve_path(root, lr_dir or lr_folder_name(degradation, scale))
    problems: list[str] = []
    lr_stored = _lr_mode(lr_source, [lr_root], problems)
    # With clips directly under root, the low-res folder (and a GT folder) sit beside them.
    skip = {lr_root.resolve(), (root / "GT").resolve()}
    available = [n for n in list_subdirs(gt_root) if (gt_root / n).resolve() not in skip]
    if not available:
        problems.append(f"{gt_root} has no clip folders (expected <clip>/<frames>)")
    wanted, source = select_clips(
        "folder", root, available, role="eval", split=split, list_file=list_file, clips=clips
    )
    names = _select(available, wanted, source, problems)
    out = {}
    for name in names:
        out[name] = ClipFiles(
            name,
            gt_root / name,
            list_frames(gt_root / name),
            lr_root / name if lr_stored else None,
            list_frames(lr_root / name) if lr_stored else None,
        )
    return Layout(root, out, lr_stored, problems)


def _vimeo_listed(root: Path) -> list[str]:
    """Vimeo-90K's `all` on disk: the clips of its train and test lists, in that order."""
    names: dict[str, None] = {}
    for split in ("train", "test"):
        for list_name in SPLITS["vimeo"][split].list_files or ():
            if (root / list_name).is_file():
                names.update(dict.fromkeys(read_list_file(root / list_name)))
                break
    if not names:
        raise DataError(f"{root} has no Vimeo-90K list file (sep_trainlist.txt, sep_testlist.txt)")
    return list(names)
