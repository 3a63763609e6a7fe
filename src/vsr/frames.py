"""Frame files: which files are frames, their natural order, image headers, decoding and encoding.
One home for each, shared by the data layouts, the stores and video I/O (it imports nothing of
vsr)."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
from PIL import Image

# Image files read as frames (Pillow decodes them all).
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm"})


def natural_key(text: str) -> tuple:
    """Sort key that orders digit runs by value: `frame2` < `frame10`, `a1b2` < `a1b10`,
    `a9` < `a09b`. Letters compare without case; the text itself breaks ties (`a9` / `a09`),
    so the order is total."""
    parts = tuple(
        (1, int(part)) if part.isdigit() else (0, part.lower())
        for part in re.split(r"(\d+)", text)
        if part
    )
    return parts, text


def list_subdirs(directory: str | os.PathLike) -> list[str]:
    """Names of the non-hidden sub-folders, in natural order ([] when `directory` is none)."""
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(
        (e.name for e in entries if e.is_dir() and not e.name.startswith(".")), key=natural_key
    )


def list_frames(directory: str | os.PathLike) -> tuple[Path, ...]:
    """Image files directly in a folder, in natural order (hidden files, folders and other
    suffixes ignored); an empty tuple when the folder does not exist."""
    directory = Path(directory)
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return ()
    names = [
        e.name
        for e in entries
        if not e.name.startswith(".")
        and os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES
        and not e.is_dir()
    ]
    return tuple(directory / n for n in sorted(names, key=natural_key))


def decode_image(source: str | os.PathLike | bytes | memoryview, where: str) -> np.ndarray:
    """(h, w, 3) uint8 RGB of an image file or its bytes (writable).

    Raises:
        OSError: the image cannot be read or decoded; the message names `where` (a path, a
            database key) and Pillow's reason.
    """
    stream = io.BytesIO(bytes(source)) if isinstance(source, bytes | memoryview) else source
    try:
        with Image.open(stream) as im:
            return np.array(im.convert("RGB"))
    except Exception as err:  # Pillow raises OSError, SyntaxError, ValueError, ...
        raise OSError(f"cannot decode frame {where}: {type(err).__name__}: {err}") from err


def encode_png(frame: np.ndarray, compress_level: int = 1) -> bytes:
    """Lossless PNG bytes of an (h, w, 3) uint8 frame."""
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def read_header(path: Path) -> tuple[tuple[int, int], str]:
    """(height, width) and Pillow mode of an image, from its header only.

    Raises:
        OSError: the file is missing, not an image, or its header is damaged.
    """
    try:
        with Image.open(path) as im:
            width, height = im.size
            return (height, width), im.mode
    except OSError:
        raise
    except Exception as err:  # Pillow raises SyntaxError/ValueError on some broken headers
        raise OSError(f"{type(err).__name__}: {err}") from err
