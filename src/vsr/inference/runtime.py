"""An exported ONNX graph (`vsr-export`) run by ONNX Runtime, called like the PyTorch network.

`OnnxNetwork(path)` maps (1, t, 3, h, w) float frames in [0, 1] to the graph's outputs, so
`upscale_frames` / `upscale_video` stream, chunk, tile and split shots with it as with the
PyTorch network. A graph takes clips of the one length it was exported for: a shorter clip
(a short shot, the first window of a video) is extended by reflecting it in time and the extra
outputs are dropped, as mmagic's mirrored Vimeo-90K input is. Frames smaller than the graph
takes are padded (edge pixels repeated) and the output cropped back.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vsr.export import GRAPH_METADATA, require

__all__ = ["OnnxNetwork", "is_onnx_path", "reflect_in_time"]


def is_onnx_path(path: str | Path) -> bool:
    """Whether `path` names an ONNX graph (by its suffix)."""
    return Path(path).suffix.lower() == ".onnx"


def reflect_in_time(lqs: torch.Tensor, length: int) -> torch.Tensor:
    """(n, t, ...) → (n, length, ...): frames 0..t-1, then t-2..0, 1..t-1, ... (t ≥ 1)."""
    t = lqs.shape[1]
    if t == 1:
        return lqs.expand(-1, length, *lqs.shape[2:])
    period = 2 * (t - 1)
    index = [i % period for i in range(length)]
    index = [i if i < t else period - i for i in index]
    return lqs[:, index]


class OnnxNetwork:
    """A `vsr-export` graph in an ONNX Runtime session (CPU execution provider).

    Attributes:
        frames: the clip length the graph takes.
        scale: its upscaling factor (1: same-size restoration).
        size: the (h, w) a fixed-size graph takes, None for any size.
        min_side: the smallest frame side it takes (smaller frames are padded).
        architecture: the network's constructor arguments.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is no graph `vsr-export` wrote (the message names it).
    """

    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        onnxruntime = require("onnxruntime", "running an ONNX graph")
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX graph {path} does not exist")
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # onnxruntime raises its own exception types
            raise ValueError(f"{path}: ONNX Runtime cannot load it as a graph: {err}") from err
        meta = self.session.get_modelmeta().custom_metadata_map
        missing = [key for key in GRAPH_METADATA if key not in meta]
        if missing:
            raise ValueError(
                f"{path} is no BasicVSR++ graph written by vsr-export (its metadata lacks "
                f"{', '.join(missing)}); export the checkpoint with vsr-export"
            )
        self.path = path
        self.scale = int(meta["vsr.scale"])
        self.frames = int(meta["vsr.frames"])
        self.min_side = int(meta["vsr.min_side"])
        self.architecture = json.loads(meta["vsr.architecture"])
        graph_input = self.session.get_inputs()[0]
        self.input_name = graph_input.name
        self.dtype = np.float16 if graph_input.type == "tensor(float16)" else np.float32
        h, w = graph_input.shape[3:]
        self.size = (h, w) if isinstance(h, int) and isinstance(w, int) else None

    # The PyTorch network's interface, as upscale_frames uses it.
    def to(self, *args, **kwargs) -> OnnxNetwork:
        return self

    def eval(self) -> OnnxNetwork:
        return self

    def float(self) -> OnnxNetwork:
        return self

    def __call__(self, lqs: torch.Tensor) -> torch.Tensor:
        """(1, t, 3, h, w) frames, t ≤ `frames` → (1, t, 3, s·h, s·w) float32 outputs (CPU)."""
        n, t, _, h, w = lqs.shape
        if n != 1 or t > self.frames:
            raise ValueError(
                f"{self.path.name} takes one clip of at most {self.frames} frames at a time "
                f"(the length it was exported for), got {n} of {t}"
            )
        clip = reflect_in_time(lqs.float().cpu(), self.frames)
        want = self.size or (max(h, self.min_side), max(w, self.min_side))
        if h > want[0] or w > want[1]:
            raise ValueError(
                f"{self.path.name} takes frames of {want[0]}x{want[1]}, got {h}x{w}; tile them "
                "(--tile) or export a graph of any size (vsr-export without --size)"
            )
        if (h, w) != tuple(want):
            pad = (0, want[1] - w, 0, want[0] - h)
            clip = F.pad(clip.flatten(0, 1), pad, mode="replicate").unflatten(0, clip.shape[:2])
        out = self.session.run(None, {self.input_name: clip.numpy().astype(self.dtype)})[0]
        out = torch.from_numpy(out.astype(np.float32, copy=False))
        return out[:, :t, :, : self.scale * h, : self.scale * w]
