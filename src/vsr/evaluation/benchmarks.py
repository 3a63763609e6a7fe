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

from vsr.data.corruptions import Corruption, GaussianNoise, describe
from vsr.data.layouts import Layout, LRSource, lr_folder_name
from vsr.data.source import DataSource
from vsr.data.splits import REDS4_CLIPS, detect_kind
from vsr.data.validate import DataError

# Fields of a benchmark that belong to its `DataSource`; `Benchmark.replace` routes them there.
# (`name` is the benchmark's own: its preset name.)
SOURCE_FIELDS = frozenset(f.name for f in dataclasses.fields(DataSource)) - {"name"}


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: where its clips are (a `DataSource`) and how they are scored.

    The source's fields read as the benchmark's own (`bench.kind`, `bench.mirror`, ...).

    Attributes:
        name: preset name, used on the command line and as the results key (`vid4-bi`).
        title: display name (`Vid4 (BI)`).
        source: the clips: layout kind, split, degradation (`bi` / `bd`: the low-res folder
            and how low-res frames are made when none are stored), mirrored input, scored GT
            frames, folders; its root is None for an unbound preset.
        y_channel: score the BT.601 luma (Y) instead of RGB.
        crop_border: pixels removed on every side before scoring.
        scale: the task: 4 for x4 super-resolution, 1 for same-size restoration (deblurring,
            denoising, decompression); a network of the other kind is refused.
        ensemble: the protocol scores the x8 spatial self-ensemble (flips and transpose, no
            temporal flip), as the NTIRE 2021 entries were scored.
        layout_help: the expected layout, for error messages and `--list-benchmarks`.
        reference: where the protocol comes from.
    """

    name: str
    title: str
    source: DataSource
    y_channel: bool
    crop_border: int = 0
    scale: int = 4
    ensemble: bool = False
    layout_help: str = ""
    reference: str = ""

    def __getattr__(self, name: str) -> Any:
        # Only called for names the benchmark lacks: the source's fields.
        if name in SOURCE_FIELDS:
            return getattr(self.source, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def root(self) -> Path | None:
        """Where the data is; None for an unbound preset."""
        root = self.source.root
        return Path(root) if root is not None else None

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

    def replace(self, **changes: Any) -> Benchmark:
        """A copy with `changes`, the source's fields applied to the source."""
        source = {k: v for k, v in changes.items() if k in SOURCE_FIELDS}
        own = {k: v for k, v in changes.items() if k not in SOURCE_FIELDS}
        return dataclasses.replace(self, source=dataclasses.replace(self.source, **source), **own)

    def with_root(self, root: str | os.PathLike) -> Benchmark:
        """This benchmark bound to the data at `root`."""
        return self.replace(root=Path(root).expanduser())

    @property
    def task(self) -> str:
        """`x4 super-resolution` or `same-size restoration`."""
        return f"x{self.scale} super-resolution" if self.scale > 1 else "same-size restoration"

    def degradation_name(self) -> str:
        """The degradation in words (`bi`, `noise sigma 50`)."""
        return describe(self.degradation)

    def lr_folder(self, scale: int | None = None) -> str:
        """The low-res folder read under the root (when stored low-res frames are used)."""
        scale = self.scale if scale is None else scale
        if self.lr_dir is not None:
            return self.lr_dir
        if self.kind in SAME_SIZE_INPUTS:
            return SAME_SIZE_INPUTS[self.kind]
        if isinstance(self.degradation, Corruption):
            return "none (made on the fly)"
        if self.kind == "reds":
            if self.root is not None and _is_basicsr_reds4(self.root):
                return BASICSR_REDS4["lr_dir"]
            return f"train_sharp_bicubic/X{scale}"
        return lr_folder_name(self.degradation, scale)

    def protocol(self, scale: int | None = None) -> dict[str, Any]:
        """The protocol as plain data, for `results.json`."""
        return {
            "channel": self.channel,
            "mirror": self.mirror,
            "gt_frames": list(self.gt_frames) if self.gt_frames is not None else None,
            "prediction": "mean of outputs f and 2t-1-f" if self.mirror else "output f",
            "crop_border": self.crop_border,
            "degradation": self.degradation_name(),
            "layout": self.kind,
            "split": self.split,
            "gt_dir": self.gt_dir,
            "lr_dir": self.lr_folder(scale),
            "list_file": self.list_file,
            "averaging": "per frame -> per clip -> mean over clips",
            "rounding": "outputs clamped to [0, 1] and rounded to uint8 levels",
        }

    def layout(self, *, scale: int | None = None, lr_source: LRSource = "auto") -> Layout:
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
            source = dataclasses.replace(self.source, lr_source=lr_source)
            if self.kind == "reds" and _is_basicsr_reds4(root):
                source = dataclasses.replace(source, **BASICSR_REDS4)
            return source.layout(role="eval", scale=self.scale if scale is None else scale)
        except DataError as err:
            raise self.layout_error(err) from err

    def layout_error(self, err: Exception) -> DataError:
        """`err` with the benchmark, its root and the expected layout added."""
        return DataError(
            f"{self.title} ({self.name}) at {self.root}: {err}\n"
            f"Expected layout for {self.name}:\n{_indent(self.layout_help or LAYOUT_FOLDER)}"
        )


# The stored input folder of each same-size layout.
SAME_SIZE_INPUTS = {
    "gopro": "test/blur",
    "dvd": "quantitative_datasets/LQ",
    "davis": "none",
    "ldv": "LQ",
}

# BasicSR ships REDS4 as a folder of its own: GT/<clip> and sharp_bicubic/<clip>.
BASICSR_REDS4: dict[str, Any] = {
    "kind": "folder",
    "split": None,
    "degradation": "bi",
    "gt_dir": "GT",
    "lr_dir": "sharp_bicubic",
    "clips": REDS4_CLIPS,
}


def _is_basicsr_reds4(root: Path) -> bool:
    return detect_kind(root) != "reds" and (root / "GT" / REDS4_CLIPS[0]).is_dir()


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


def _unbound(**fields: Any) -> DataSource:
    return DataSource(root=None, **fields)


LAYOUT_GOPRO = """
root/test/GT/GOPR0384_11_00/000001.png ...       GT (the 11 test clips)
root/test/blur/GOPR0384_11_00/000001.png ...     blurred input, same file names
"""
LAYOUT_DVD = """
root/quantitative_datasets/GT/IMG_0030/00000.jpg ...   GT (10 test clips: vsr.data.splits.DVD_TEST_CLIPS)
root/quantitative_datasets/LQ/IMG_0030/00000.jpg ...   blurred input, same file names
"""
LAYOUT_SET8 = """
root/<clip>/<frames>.png      GT only (tractor, touchdown, park_joy, sunflower, hypersmooth,
                              motorbike, rafting, snowboard); noisy input made per clip, seeded
"""
LAYOUT_DAVIS = """
root/JPEGImages/480p/<clip>/00000.jpg ...   GT only (e.g. DAVIS-2017 test-dev 480p); noisy input
                                            made per clip, seeded
"""
LAYOUT_LDV = """
root/GT/<clip>/001.png ...    GT frames (numbered from 001)
root/LQ/<clip>/001.png ...    the compressed video's decoded frames, same file names
"""

#: Sigma of the denoising presets unless `--sigma` says otherwise (0-255 scale).
DEFAULT_SIGMA = 50.0

_REF = "BasicVSR++ (Chan et al., CVPR 2022) / mmagic test configs"
_REF_RESTORE = "BasicVSR++ official release (BasicVSR_PlusPlus configs): RGB, border 0, per clip"


def _vid4(degradation: str) -> Benchmark:
    lr = f"{degradation.upper()}x4"
    return Benchmark(
        name=f"vid4-{degradation}",
        title=f"Vid4 ({degradation.upper()})",
        source=_unbound(kind="folder", split="all", degradation=degradation),
        y_channel=True,
        layout_help=LAYOUT_VID4.replace("{lr}", lr),
        reference=_REF,
    )


def _vimeo(degradation: str) -> Benchmark:
    lr = f"{degradation.upper()}x4"
    return Benchmark(
        name=f"vimeo90k-t-{degradation}",
        title=f"Vimeo-90K-T ({degradation.upper()})",
        source=_unbound(
            kind="vimeo", split="test", degradation=degradation, mirror=True, gt_frames=(3,)
        ),
        y_channel=True,
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
            source=_unbound(kind="reds", split="reds4_val", degradation="bi"),
            y_channel=False,
            layout_help=LAYOUT_REDS4,
            reference=_REF,
        ),
        _vid4("bi"),
        _vid4("bd"),
        Benchmark(
            name="udm10",
            title="UDM10 (BD)",
            source=_unbound(kind="folder", split="all", degradation="bd"),
            y_channel=True,
            layout_help=LAYOUT_UDM10,
            reference=_REF,
        ),
        _vimeo("bi"),
        _vimeo("bd"),
        Benchmark(
            name="gopro",
            title="GoPro (deblurring)",
            source=_unbound(kind="gopro", split="test", lr_source="stored"),
            y_channel=False,
            scale=1,
            layout_help=LAYOUT_GOPRO,
            reference=_REF_RESTORE,
        ),
        Benchmark(
            name="dvd",
            title="DVD (deblurring)",
            source=_unbound(kind="dvd", split="test", lr_source="stored"),
            y_channel=False,
            scale=1,
            layout_help=LAYOUT_DVD,
            reference=_REF_RESTORE,
        ),
        Benchmark(
            name="set8",
            title="Set8 (denoising)",
            source=_unbound(
                kind="folder", split="all", degradation=GaussianNoise(sigma=DEFAULT_SIGMA)
            ),
            y_channel=False,
            scale=1,
            layout_help=LAYOUT_SET8,
            reference=_REF_RESTORE,
        ),
        Benchmark(
            name="davis",
            title="DAVIS (denoising)",
            source=_unbound(
                kind="davis", split="all", degradation=GaussianNoise(sigma=DEFAULT_SIGMA)
            ),
            y_channel=False,
            scale=1,
            layout_help=LAYOUT_DAVIS,
            reference=_REF_RESTORE,
        ),
        Benchmark(
            name="ldv",
            title="LDV (compressed video)",
            source=_unbound(kind="ldv", split="all", lr_source="stored"),
            y_channel=False,
            scale=1,
            ensemble=True,
            layout_help=LAYOUT_LDV,
            reference="NTIRE 2021 quality enhancement of compressed video (BasicVSR++ entries: "
            "x8 spatial ensemble)",
        ),
        Benchmark(
            name="folder",
            title="folder",
            source=_unbound(kind="folder", split="all", degradation="bi"),
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
    """One row per preset (name, task, layout, split, low-res, channel, input, scored frames)."""
    rows = []
    for b in BENCHMARKS.values():
        rows.append(
            {
                "name": b.name,
                "task": "x4" if b.scale > 1 else "same size",
                "layout": b.kind,
                "split": b.split or "",
                "low-res": b.lr_folder(),
                "channel": b.channel,
                "input": _input_words(b),
                "scored": "frame 4, mean of outputs 4 and 11" if b.mirror else b.scored,
            }
        )
    return rows


def _input_words(b: Benchmark) -> str:
    if b.mirror:
        return "mirrored 7->14"
    words = "whole clip"
    if isinstance(b.degradation, Corruption):
        words += f", {b.degradation_name()}"
    return words + (", x8 ensemble" if b.ensemble else "")
