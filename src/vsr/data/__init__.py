"""Clips of frames for training and evaluation: layouts, storage back-ends, degradations, sampling."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Lazy exports: `import vsr.data` must stay cheap (no Lightning, no Pillow) for CLIs and workers.
_EXPORTS = {
    "ClipFiles": "vsr.data.layouts",
    "ClipInfo": "vsr.data.backends.base",
    "DataSource": "vsr.data.source",
    "DataError": "vsr.data.backends.base",
    "EvalClips": "vsr.data.datasets",
    "FolderStore": "vsr.data.backends.folder",
    "FrameStore": "vsr.data.backends.base",
    "Layout": "vsr.data.layouts",
    "TrainWindows": "vsr.data.datasets",
    "VSRDataModule": "vsr.data.datamodule",
    "discover": "vsr.data.layouts",
    "open_store": "vsr.data.backends.registry",
    "scan_layout": "vsr.data.validate",
}
__all__ = [
    "ClipFiles",
    "ClipInfo",
    "DataError",
    "DataSource",
    "EvalClips",
    "FolderStore",
    "FrameStore",
    "Layout",
    "TrainWindows",
    "VSRDataModule",
    "discover",
    "open_store",
    "scan_layout",
]

if TYPE_CHECKING:
    from vsr.data.backends.base import ClipInfo, DataError, FrameStore
    from vsr.data.backends.folder import FolderStore
    from vsr.data.backends.registry import open_store
    from vsr.data.datamodule import VSRDataModule
    from vsr.data.datasets import EvalClips, TrainWindows
    from vsr.data.layouts import ClipFiles, Layout, discover
    from vsr.data.source import DataSource
    from vsr.data.validate import scan_layout


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'vsr.data' has no attribute {name!r}")
