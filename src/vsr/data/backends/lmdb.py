"""`LmdbStore`: frames as PNG bytes in LMDB databases, in BasicSR's format.

One database for GT frames and one for low-res frames, as BasicSR's `create_lmdb_for_reds`
makes them (so BasicSR/mmagic can read ours and we can read theirs)::

    DST/train_sharp_with_val.lmdb/{data.mdb, lock.mdb, meta_info.txt}
    DST/train_sharp_bicubic_with_val.lmdb/...
    DST/store.json                 which database holds which frames; written last

Keys are `<clip>/<frame file stem>` (`000/00000000`, Vimeo-90K `00001/0001/im1`), values are
PNG files (compression level 1, like BasicSR), and each database's `meta_info.txt` has one line
per frame: `000/00000000.png (720,1280,3) 1` (key + `.png`, shape, PNG compression level).
A database without `store.json` (made by BasicSR) opens with `LmdbStore(gt_db, lr_db)`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vsr.data.backends.base import (
    ClipInfo,
    FrameStore,
    Kind,
    Progress,
    atomic_folder,
    check_frame,
    read_manifest,
    source_clips,
    write_manifest,
)
from vsr.frames import decode_image, encode_png, natural_key

META = "meta_info.txt"
REDS_DB_NAMES = ("train_sharp_with_val.lmdb", "train_sharp_bicubic_with_val.lmdb")
DEFAULT_DB_NAMES = ("gt.lmdb", "lr.lmdb")
# The key may hold spaces (folder clip names); the shape and level at the end delimit it.
_META_LINE = re.compile(r"^(.+?)\s+\((\d+),\s*(\d+),\s*(\d+)\)(?:\s+\S+)?$")


def _read_meta(db: Path) -> dict[str, list[tuple[str, tuple[int, int]]]]:
    """Frames of each clip from a database's per-frame `meta_info.txt`: (key, (h, w)) in order."""
    path = db / META
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise OSError(f"cannot read {path}: {err}") from err
    clips: dict[str, list[tuple[str, tuple[int, int]]]] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        match = _META_LINE.match(line.strip())
        if match is None or "/" not in match.group(1):
            raise OSError(
                f"{path}:{number}: expected '<clip>/<frame>.png (h,w,c) level', got {line!r}"
            )
        key = match.group(1)
        key = key[: -len(".png")] if key.endswith(".png") else key
        clip, _ = key.rsplit("/", 1)
        clips.setdefault(clip, []).append((key, (int(match.group(2)), int(match.group(3)))))
    for frames in clips.values():
        frames.sort(key=lambda f: natural_key(f[0]))
    return clips


# Open environments by database path, with the process that opened them. py-lmdb allows one
# open per database per process, so stores share them; a forked child closes the copy it
# inherited (its own mapping only) and opens its own.
_ENVS: dict[str, tuple[int, object]] = {}


def _open_env(db: Path):
    import lmdb

    path = os.path.realpath(db)
    entry = _ENVS.get(path)
    if entry is not None:
        pid, env = entry
        if pid == os.getpid():
            return env
        env.close()  # type: ignore[attr-defined]
    try:
        env = lmdb.open(path, readonly=True, lock=False, readahead=False, meminit=False)
    except lmdb.Error as err:
        raise OSError(f"cannot open LMDB database {db}: {err}") from err
    _ENVS[path] = (os.getpid(), env)
    return env


class LmdbStore:
    """A `FrameStore` over BasicSR-style LMDB databases of PNG frames.

    Databases are opened read-only, without locking or readahead, lazily and once per process
    (shared by the stores of that process), so DataLoader workers, forked or spawned, each open
    their own.

    Args:
        gt_db: folder of the GT database (with its `meta_info.txt`).
        lr_db: folder of the low-res database, or None.

    Raises:
        OSError: a `meta_info.txt` is missing or malformed.
    """

    FORMAT = "vsr-lmdb"

    def __init__(self, gt_db: str | os.PathLike, lr_db: str | os.PathLike | None = None) -> None:
        self.dbs: dict[Kind, Path] = {"gt": Path(gt_db)}
        if lr_db is not None:
            self.dbs["lr"] = Path(lr_db)
        self._keys: dict[Kind, dict[str, list[str]]] = {}
        sizes: dict[Kind, dict[str, tuple[int, int]]] = {}
        for kind, db in self.dbs.items():
            meta = _read_meta(db)
            self._keys[kind] = {c: [k for k, _ in frames] for c, frames in meta.items()}
            sizes[kind] = {c: frames[0][1] for c, frames in meta.items()}
        lr_sizes = sizes.get("lr", {})
        self._infos = {
            clip: ClipInfo(clip, len(keys), sizes["gt"][clip], lr_sizes.get(clip))
            for clip, keys in self._keys["gt"].items()
        }

    @classmethod
    def open(cls, root: str | os.PathLike) -> LmdbStore:
        """The store written by `write_lmdb` (or `vsr-prepare lmdb`) at `root`."""
        root = Path(root)
        _, data = read_manifest(root, cls.FORMAT)
        lr = data.get("lr_db")
        return cls(root / data["gt_db"], root / lr if lr else None)

    def clips(self) -> dict[str, ClipInfo]:
        """All clips, by name, in the order of the GT database's `meta_info.txt`."""
        return dict(self._infos)

    def _env(self, kind: Kind):
        return _open_env(self.dbs[kind])

    def key(self, clip: str, index: int, kind: Kind) -> str:
        """Database key of a frame.

        Raises:
            KeyError: unknown clip, frame or kind.
        """
        if kind not in self.dbs:
            raise KeyError(f"this store has no {kind!r} frames")
        keys = self._keys[kind].get(clip)
        if keys is None:
            raise KeyError(f"clip {clip!r} has no {kind!r} frames")
        if not 0 <= index < len(keys):
            raise KeyError(f"clip {clip} has no frame {index} ({len(keys)} frames)")
        return keys[index]

    def read(self, clip: str, index: int, kind: Kind) -> np.ndarray:
        """Frame `index` of `clip` as an HxWx3 uint8 RGB array."""

        key = self.key(clip, index, kind)
        with self._env(kind).begin(write=False) as txn:
            value = txn.get(key.encode())
        where = f"{self.dbs[kind]}[{key}]"
        if value is None:
            raise OSError(f"frame {where} is listed in {META} but missing from the database")
        return decode_image(value, where)

    def __repr__(self) -> str:
        return f"LmdbStore({str(self.dbs['gt'])!r}, {len(self._infos)} clips)"


def frame_stem(src: FrameStore, clip: str, index: int, kind: Kind) -> str:
    """Name of a frame inside its clip: the source file's stem when known, else `%08d`."""
    path_of = getattr(src, "path", None)
    if callable(path_of):
        try:
            return Path(path_of(clip, index, kind)).stem
        except (KeyError, TypeError):
            pass
    return f"{index:08d}"


def write_lmdb(
    src: FrameStore,
    dst: str | os.PathLike,
    *,
    clips: Sequence[str] | None = None,
    db_names: tuple[str, str] = DEFAULT_DB_NAMES,
    compress_level: int = 1,
    commit_every: int = 500,
    progress: Progress | None = None,
) -> None:
    """Convert the clips of `src` into GT and low-res LMDB databases under `dst`.

    Atomic: the store is written into `DST.partial` and renamed to `dst` when complete (an
    existing `dst` is replaced then).

    Args:
        src: any frame store.
        dst: output folder.
        clips: clip names to convert, None for all.
        db_names: folder names of the GT and low-res databases (`REDS_DB_NAMES` for REDS).
        compress_level: PNG compression level (BasicSR uses 1).
        commit_every: frames per write transaction.
        progress: called with the number of frames written since the last call.
    """
    import lmdb

    infos = source_clips(src, clips)
    with atomic_folder(dst) as out:
        has_lr = any(i.lr_size is not None for i in infos)
        kinds: tuple[Kind, ...] = ("gt", "lr") if has_lr else ("gt",)
        if has_lr and any(i.lr_size is None for i in infos):
            missing = [i.name for i in infos if i.lr_size is None]
            raise ValueError(f"some clips have low-res frames and some not: {missing[:10]}")
        for kind, name in zip(kinds, db_names, strict=False):
            raw = sum(
                i.num_frames * (i.gt_size if kind == "gt" else i.lr_size)[0]  # type: ignore[index]
                * (i.gt_size if kind == "gt" else i.lr_size)[1] * 3  # type: ignore[index]
                for i in infos
            )  # fmt: skip
            # PNG of noise can exceed the raw size a little; the map is sparse on disk anyway.
            env = lmdb.open(str(out / name), map_size=int(raw * 1.5) + (64 << 20))
            lines = []
            txn = env.begin(write=True)
            pending = 0
            for info in infos:
                for t in range(info.num_frames):
                    frame = check_frame(src.read(info.name, t, kind), info, t, kind)
                    key = f"{info.name}/{frame_stem(src, info.name, t, kind)}"
                    txn.put(key.encode(), encode_png(frame, compress_level))
                    h, w = frame.shape[:2]
                    lines.append(f"{key}.png ({h},{w},3) {compress_level}")
                    pending += 1
                    if pending >= commit_every:
                        txn.commit()
                        txn, pending = env.begin(write=True), 0
                    if progress is not None:
                        progress(1)
            txn.commit()
            env.sync()
            env.close()
            (out / name / META).write_text("\n".join(lines) + "\n")
        write_manifest(
            out,
            LmdbStore.FORMAT,
            infos,
            gt_db=db_names[0],
            lr_db=db_names[1] if has_lr else None,
        )
