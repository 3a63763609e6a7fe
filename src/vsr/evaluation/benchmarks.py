"""The evaluation benchmarks and their protocols, in one table.

A `Benchmark` says where a benchmark's clips are (layout kind, split, low-res folder) and how it
is scored (RGB or Y channel, mirrored input, which GT frames). The presets follow the BasicVSR++
protocol: REDS4 RGB whole clips; Vimeo-90K-T Y, input mirrored 7 -> 14, GT frame 4 only,
prediction = mean of the two outputs for frame 4; Vid4 and UDM10 Y whole clips; PSNR/SSIM on
uint8-rounded frames, border crop 0.

`BENCHMARKS` is the table; `parse_bench("vid4-bi=/data/Vid4")` binds a preset to a root, and
`Benchmark.layout()` finds its clips on disk with `vsr.data.discover`.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vsr.data.layouts import REDS4_CLIPS, DatasetKind, Layout, LRSource, discover
from vsr.data.validate import DataError

# Test lists of Vimeo-90K-T, the official name first, then mmagic's.
VIMEO_TEST_LISTS = ("sep_testlist.txt", "meta_info_Vimeo90K_test_GT.txt")


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: where its clips are and how they are scored.

    Attributes:
        name: preset name, used on the command line and as the results key (`vid4-bi`).
        title: display name (`Vid4 (BI)`).
        kind: layout of the root, `reds`, `vimeo` or `folder` (see `vsr.data.layouts`).
        split: split of that layout (`reds4_val`, `test`, `all`).
        degradation: `bi` or `bd`: picks the low-res folder (`BIx4` / `BDx4`) and how low-res
            frames are made when none are stored.
        y_channel: score the BT.601 luma (Y) instead of RGB.
        mirror: feed each clip followed by itself reversed (Vimeo-90K-T: 7 -> 14 frames).
        gt_frames: 0-based frames scored (None: all); with `mirror`, frame f is scored against
            the mean of outputs f and 2t-1-f.
        crop_border: pixels removed on every side before scoring.
        gt_dir: GT folder under the root (None: detected).
        lr_dir: low-res folder under the root (None: the layout's default for `degradation`).
        list_file: file naming the clips, relative to the root (None: the split's).
        clips: explicit clip names (None: the split's).
        root: where the data is; None for an unbound preset.
        layout_help: the expected layout, for error messages and `--list-benchmarks`.
        reference: where the protocol comes from.
    """

    name: str
    title: str
    kind: DatasetKind
    split: str | None
    degradation: str
    y_channel: bool
    mirror: bool = False
    gt_frames: tuple[int, ...] | None = None
    crop_border: int = 0
    gt_dir: str | None = None
    lr_dir: str | None = None
    list_file: str | None = None
    clips: tuple[str, ...] | None = None
    root: Path | None = None
    layout_help: str = ""
    reference: str = ""

    @property
    def channel(self) -> str:
        """`Y` or `RGB`."""
        return "Y" if self.y_channel else "RGB"

    @property
    def scored(self) -> str:
        """Which frames are scored, in words."""
        if self.gt_frames is None:
            return "all frames"
        frames = ", ".join(str(f + 1) for f in self.gt_frames)
        return f"frame {frames} (1-based)"

    def with_root(self, root: str | os.PathLike) -> Benchmark:
        """This benchmark bound to the data at `root`."""
        return dataclasses.replace(self, root=Path(root).expanduser())

    def lr_folder(self, scale: int = 4) -> str:
        """The low-res folder read under the root (when stored low-res frames are used)."""
        if self.lr_dir is not None:
            return self.lr_dir
        if self.kind == "reds":
            if self.root is not None and _is_basicsr_reds4(self.root):
                return "sharp_bicubic"
            return f"train_sharp_bicubic/X{scale}"
        return f"{self.degradation.upper()}x{scale}"

    def protocol(self, scale: int = 4) -> dict[str, Any]:
        """The protocol as plain data, for `results.json`."""
        return {
            "channel": self.channel,
            "mirror": self.mirror,
            "gt_frames": list(self.gt_frames) if self.gt_frames is not None else None,
            "prediction": "mean of outputs f and 2t-1-f" if self.mirror else "output f",
            "crop_border": self.crop_border,
            "degradation": self.degradation,
            "layout": self.kind,
            "split": self.split,
            "gt_dir": self.gt_dir,
            "lr_dir": self.lr_folder(scale),
            "list_file": self.list_file,
            "averaging": "per frame -> per clip -> mean over clips",
            "rounding": "outputs clamped to [0, 1] and rounded to uint8 levels",
        }

    def layout(self, *, scale: int = 4, lr_source: LRSource = "auto") -> Layout:
        """The clips of this benchmark on disk.

        Raises:
            DataError: the root is missing or not in the expected layout; the message names the
                root and shows the expected layout.
        """
        if self.root is None:
            raise ValueError(f"benchmark {self.name} has no root: use with_root(path)")
        root = self.root
        try:
            if not root.is_dir():
                raise DataError(f"dataset root {root} does not exist or is not a folder")
            kind, options = self.kind, self._discover_options(root)
            if kind == "reds" and _is_basicsr_reds4(root):
                kind, options = "folder", _basicsr_reds4_options(root)
            return discover(kind, root, role="eval", scale=scale, lr_source=lr_source, **options)
        except DataError as err:
            raise self.layout_error(err) from err

    def layout_error(self, err: Exception) -> DataError:
        """`err` with the benchmark, its root and the expected layout added."""
        return DataError(
            f"{self.title} ({self.name}) at {self.root}: {err}\n"
            f"Expected layout for {self.name}:\n{_indent(self.layout_help or LAYOUT_FOLDER)}"
        )

    def _discover_options(self, root: Path) -> dict[str, Any]:
        list_file = self.list_file
        if self.kind == "vimeo" and list_file is None and self.clips is None:
            # Accept mmagic's meta-info file when the official test list is not there.
            existing = [name for name in VIMEO_TEST_LISTS if (root / name).is_file()]
            if self.split == "test" and existing:
                list_file = existing[0]
        return {
            "split": self.split,
            "degradation": self.degradation,
            "gt_dir": self.gt_dir,
            "lr_dir": self.lr_dir,
            "list_file": list_file,
            "clips": list(self.clips) if self.clips is not None else None,
        }


def _is_basicsr_reds4(root: Path) -> bool:
    """BasicSR ships REDS4 as its own folder: GT/<clip> and sharp_bicubic/<clip>."""
    return not (root / "train_sharp").is_dir() and (root / "GT" / REDS4_CLIPS[0]).is_dir()


def _basicsr_reds4_options(root: Path) -> dict[str, Any]:
    return {
        "split": None,
        "degradation": "bi",
        "gt_dir": "GT",
        "lr_dir": "sharp_bicubic",
        "list_file": None,
        "clips": list(REDS4_CLIPS),
    }


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.strip("\n").splitlines())


LAYOUT_REDS4 = """
root/train_sharp/{000,011,015,020}/00000000.png ... 00000099.png     GT (REDS4 = these 4 clips)
root/train_sharp_bicubic/X4/{000,011,015,020}/00000000.png ...      low-res (BI x4)
(or BasicSR's REDS4 folder: root/GT/000/... and root/sharp_bicubic/000/...)
"""
LAYOUT_VID4 = """
root/GT/{calendar,city,foliage,walk}/<frames>                      GT
root/{lr}/{calendar,city,foliage,walk}/<frames>                    low-res, same file names
"""
LAYOUT_UDM10 = """
root/GT/<clip>/<frames>                                              GT, 10 clips x 32 frames
root/BDx4/<clip>/<frames>                                            low-res, same file names
"""
LAYOUT_VIMEO = """
root/sequences/00001/0266/im1.png ... im7.png     GT (or root/GT/...)
root/{lr}/00001/0266/im1.png ... im7.png          low-res
root/sep_testlist.txt                              one 00001/0266 per line (or mmagic's
                                                   meta_info_Vimeo90K_test_GT.txt)
"""
LAYOUT_FOLDER = """
root/GT/<clip>/<frames>        GT, one sub-folder per clip (or root/<clip>/<frames>)
root/BIx4/<clip>/<frames>      low-res with the same file names (BDx4 with --degradation bd,
                               any folder with --lr-dir); made on the fly when absent
"""

_REF = "BasicVSR++ (Chan et al., CVPR 2022) / mmagic test configs"


def _vid4(degradation: str) -> Benchmark:
    lr = f"{degradation.upper()}x4"
    return Benchmark(
        name=f"vid4-{degradation}",
        title=f"Vid4 ({degradation.upper()})",
        kind="folder",
        split="all",
        degradation=degradation,
        y_channel=True,
        layout_help=LAYOUT_VID4.replace("{lr}", lr),
        reference=_REF,
    )


def _vimeo(degradation: str) -> Benchmark:
    lr = f"{degradation.upper()}x4"
    return Benchmark(
        name=f"vimeo90k-t-{degradation}",
        title=f"Vimeo-90K-T ({degradation.upper()})",
        kind="vimeo",
        split="test",
        degradation=degradation,
        y_channel=True,
        mirror=True,
        gt_frames=(3,),
        layout_help=LAYOUT_VIMEO.replace("{lr}", lr),
        reference=_REF,
    )


#: Name -> protocol of every preset. `folder` is the template for custom sets (RGB, all frames,
#: BIx4 unless overridden on the command line).
BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            name="reds4",
            title="REDS4",
            kind="reds",
            split="reds4_val",
            degradation="bi",
            y_channel=False,
            layout_help=LAYOUT_REDS4,
            reference=_REF,
        ),
        _vid4("bi"),
        _vid4("bd"),
        Benchmark(
            name="udm10",
            title="UDM10 (BD)",
            kind="folder",
            split="all",
            degradation="bd",
            y_channel=True,
            layout_help=LAYOUT_UDM10,
            reference=_REF,
        ),
        _vimeo("bi"),
        _vimeo("bd"),
        Benchmark(
            name="folder",
            title="folder",
            kind="folder",
            split="all",
            degradation="bi",
            y_channel=False,
            layout_help=LAYOUT_FOLDER,
            reference="custom: set the protocol with --y-channel, --degradation, --mirror, ...",
        ),
    )
}


def parse_bench(text: str) -> Benchmark:
    """A benchmark bound to its root, from `NAME=PATH` (`vid4-bi=/data/Vid4`).

    Raises:
        ValueError: no `=`, or an unknown preset name (the message lists the presets).
    """
    name, sep, path = text.partition("=")
    name = name.strip().lower()
    if not sep or not path:
        raise ValueError(f"expected NAME=PATH (e.g. reds4=/data/REDS), got {text!r}")
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; presets: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name].with_root(path)


def describe_presets() -> list[dict[str, str]]:
    """One row per preset (name, layout, split, low-res, channel, input, scored frames)."""
    rows = []
    for b in BENCHMARKS.values():
        rows.append(
            {
                "name": b.name,
                "layout": b.kind,
                "split": b.split or "",
                "low-res": b.lr_folder(),
                "channel": b.channel,
                "input": "mirrored 7->14" if b.mirror else "whole clip",
                "scored": "frame 4, mean of outputs 4 and 11" if b.mirror else b.scored,
            }
        )
    return rows
