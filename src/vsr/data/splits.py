"""Which clips make each split of each dataset: one table, applied to clip names.

Image folders and converted stores name clips alike (REDS `000`-`269` with `val_sharp` merged
after `train_sharp`, Vimeo-90K `00001/0001`, a folder's sub-folder names), so the same rules
choose a split's clips from a dataset on disk and from a store converted from all of it.

A split is a rule on clip names (REDS4 held out), a fixed list (REDS4), or a list file at the
dataset root (Vimeo-90K's `sep_trainlist.txt`); `select_clips` applies one, or an explicit
list file or clip list that overrides the split.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vsr.data.backends.base import DataError
from vsr.frames import list_subdirs

DatasetKind = Literal["reds", "vimeo", "folder", "gopro", "dvd", "davis", "ldv"]
Role = Literal["train", "eval"]

REDS4_CLIPS = ("000", "011", "015", "020")
REDS_NUM_TRAIN = 240  # clips in train_sharp; val_sharp clip NNN is clip 240 + NNN

# The 10 test videos of DVD (Su et al., CVPR 2017), as its release and BasicVSR++ split them.
DVD_TEST_CLIPS = (
    "720p_240fps_2", "IMG_0003", "IMG_0021", "IMG_0030", "IMG_0031",
    "IMG_0032", "IMG_0033", "IMG_0037", "IMG_0039", "IMG_0049",
)  # fmt: skip

#: Layouts of same-size restoration data: their inputs are the GT's size (scale 1).
SAME_SIZE_KINDS = frozenset({"gopro", "dvd", "davis", "ldv"})

TITLES = {
    "reds": "REDS",
    "vimeo": "Vimeo-90K",
    "folder": "folder",
    "gopro": "GoPro",
    "dvd": "DVD",
    "davis": "DAVIS",
    "ldv": "LDV",
}


@dataclass(frozen=True)
class Split:
    """The clips of one split.

    Exactly one of `keep`, `clips` and `list_files` is set.

    Attributes:
        name: split name (`reds4_train`).
        help: what it is, for messages.
        keep: a rule on clip names: the split is the dataset's clips it keeps, in order.
        clips: a fixed list of clip names.
        list_files: files at the dataset root naming the clips, the first that exists is read
            (the official name first, then mmagic's).
    """

    name: str
    help: str
    keep: Callable[[str], bool] | None = None
    clips: tuple[str, ...] | None = None
    list_files: tuple[str, ...] | None = None


def _every(name: str) -> bool:
    return True


def _reds_number(name: str) -> int:
    return int(name) if name.isdigit() else -1


SPLITS: dict[str, dict[str, Split]] = {
    "reds": {
        s.name: s
        for s in (
            Split("reds4_train", "every clip but REDS4", keep=lambda n: n not in REDS4_CLIPS),
            Split("reds4_val", "REDS4: clips 000, 011, 015, 020", clips=REDS4_CLIPS),
            Split(
                "official_train",
                "train_sharp: clips 000-239",
                keep=lambda n: 0 <= _reds_number(n) < REDS_NUM_TRAIN,
            ),
            Split(
                "official_val",
                "val_sharp: clips 240-269",
                keep=lambda n: _reds_number(n) >= REDS_NUM_TRAIN,
            ),
            Split("all", "every clip", keep=_every),
        )
    },
    "vimeo": {
        s.name: s
        for s in (
            Split(
                "train",
                "the clips of sep_trainlist.txt",
                list_files=("sep_trainlist.txt", "meta_info_Vimeo90K_train_GT.txt"),
            ),
            Split(
                "test",
                "Vimeo-90K-T: the clips of sep_testlist.txt",
                list_files=("sep_testlist.txt", "meta_info_Vimeo90K_test_GT.txt"),
            ),
            Split("all", "every clip (of a folder: those of both list files)", keep=_every),
        )
    },
    "folder": {"all": Split("all", "every clip folder", keep=_every)},
    # GoPro clips are named `train/<clip>` and `test/<clip>` after their folder.
    "gopro": {
        s.name: s
        for s in (
            Split("train", "train/: the 22 training clips", keep=lambda n: n.startswith("train/")),
            Split("test", "test/: the 11 test clips", keep=lambda n: n.startswith("test/")),
            Split("all", "every clip", keep=_every),
        )
    },
    "dvd": {
        s.name: s
        for s in (
            Split(
                "train", "every clip but the 10 test clips", keep=lambda n: n not in DVD_TEST_CLIPS
            ),
            Split("test", "the 10 test clips", clips=DVD_TEST_CLIPS),
            Split("all", "every clip", keep=_every),
        )
    },
    "davis": {
        s.name: s
        for s in (
            Split("train", "ImageSets/2017/train.txt", list_files=("ImageSets/2017/train.txt",)),
            Split("val", "ImageSets/2017/val.txt", list_files=("ImageSets/2017/val.txt",)),
            Split("all", "every clip folder", keep=_every),
        )
    },
    "ldv": {"all": Split("all", "every clip folder", keep=_every)},
}

#: The split each role uses when none is given.
DEFAULT_SPLITS: dict[str, dict[str, str]] = {
    "reds": {"train": "reds4_train", "eval": "reds4_val"},
    "vimeo": {"train": "train", "eval": "test"},
    "folder": {"train": "all", "eval": "all"},
    "gopro": {"train": "train", "eval": "test"},
    "dvd": {"train": "train", "eval": "test"},
    "davis": {"train": "all", "eval": "all"},
    "ldv": {"train": "all", "eval": "all"},
}
#: Names that mean the training or the evaluation half of a pair, by role.
ALIASES: dict[str, dict[str, tuple[str, str]]] = {
    "reds": {"reds4": ("reds4_train", "reds4_val"), "official": ("official_train", "official_val")}
}


def resolve_split(kind: str, split: str | None, role: Role) -> Split:
    """The `Split` that `split` names for `kind` and `role` (None: the role's default).

    Raises:
        DataError: unknown kind or split; the message lists the splits.
    """
    if kind not in SPLITS:
        raise DataError(f"unknown dataset kind {kind!r}, expected {', '.join(SPLITS)}")
    name = split or DEFAULT_SPLITS[kind][role]
    if name in ALIASES.get(kind, {}):
        name = ALIASES[kind][name][0 if role == "train" else 1]
    if name not in SPLITS[kind]:
        if kind == "folder":
            raise DataError(f"unknown folder split {split!r}: use all, list_file or clips")
        aliases = " / ".join(ALIASES.get(kind, {}))
        raise DataError(
            f"unknown {TITLES[kind]} split {split!r}: expected {', '.join(SPLITS[kind])}"
            + (f" (or {aliases})" if aliases else "")
        )
    return SPLITS[kind][name]


def read_list_file(path: str | os.PathLike) -> list[str]:
    """Clip names of a list file, one per line; blank and `#` lines skipped.

    BasicSR/mmagic meta_info lines (`00001/0001 7 (256,448,3)`) give their first field;
    other lines are taken whole, so clip names may contain spaces.
    """
    names = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            meta = re.match(r"(\S+)\s+\d+\s+\(", line)
            names.append((meta.group(1) if meta else line).strip("/"))
    return names


def resolve_path(root: str | os.PathLike, path: str | os.PathLike) -> Path:
    """`path` under `root` unless it is absolute (`~` expanded)."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else Path(root).expanduser() / path


def select_clips(
    kind: str,
    root: str | os.PathLike,
    available: Sequence[str] | Callable[[], Sequence[str]],
    *,
    role: Role,
    split: str | None = None,
    list_file: str | os.PathLike | None = None,
    clips: Sequence[str] | None = None,
) -> tuple[list[str], str]:
    """The names a split asks for, in order, and where they come from (for messages).

    `clips` overrides `list_file`, which overrides `split`. Names are not checked against
    `available` (the caller reports the missing ones); `available` (a list or a function
    giving it, called only for rule splits) is the dataset's clips in their order.

    Raises:
        DataError: unknown split, or a list file that does not exist.
    """
    if clips is not None:
        return list(clips), "clips"
    if list_file is not None:
        path = resolve_path(root, list_file)
        if not path.is_file():
            raise DataError(f"list file {path} does not exist")
        return read_list_file(path), str(path)
    chosen = resolve_split(kind, split, role)
    if chosen.clips is not None:
        return list(chosen.clips), f"the {chosen.name} split of {root}"
    if chosen.list_files is not None:
        for name in chosen.list_files:
            path = resolve_path(root, name)
            if path.is_file():
                return read_list_file(path), str(path)
        raise DataError(
            f"the {TITLES[kind]} {chosen.name} split is named by "
            f"{resolve_path(root, chosen.list_files[0])}, which does not exist: set root to the "
            "folder holding it, or give list_file, clips, or split=all"
        )
    assert chosen.keep is not None
    names = available() if callable(available) else available
    return [n for n in names if chosen.keep(n)], f"the {chosen.name} split of {root}"


def detect_kind(root: str | os.PathLike) -> DatasetKind:
    """The layout of a dataset root, from its top folders: `reds` (`train_sharp/`), `gopro`
    (`train/blur/`), `dvd` (`quantitative_datasets/`), `davis` (`JPEGImages/`), `ldv` (`GT/` and
    `LQ/` with frames numbered from `001.png`), `vimeo` (`sequences/` or a list file), else
    `folder`."""
    root = Path(root).expanduser()
    if (root / "train_sharp").is_dir() or (root / "val_sharp").is_dir():
        return "reds"
    if (root / "train" / "blur").is_dir() or (root / "test" / "blur").is_dir():
        return "gopro"
    if (root / "quantitative_datasets").is_dir():
        return "dvd"
    if (root / "JPEGImages").is_dir():
        return "davis"
    if _is_ldv(root):
        return "ldv"
    if (root / "sequences").is_dir() or any(
        (root / name).is_file() for s in SPLITS["vimeo"].values() for name in s.list_files or ()
    ):
        return "vimeo"
    return "folder"


def _is_ldv(root: Path) -> bool:
    """LDV as prepared for the NTIRE 2021 models: `GT/<clip>/001.png` beside `LQ/<clip>/`
    (`ffmpeg -i <clip>.mkv <clip>/%3d.png` numbers frames from 001)."""
    clips = list_subdirs(root / "GT")
    return (root / "LQ").is_dir() and bool(clips) and (root / "GT" / clips[0] / "001.png").is_file()
