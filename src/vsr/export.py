"""Exporting a BasicVSR++ network: ONNX, safetensors, and the files of mmagic and BasicSR.

* `.onnx`: the whole network as one graph for a fixed clip length, any frame size (batch 1).
  The deformable convolution is exported in its `sample` formulation (`grid_sample` and a
  matrix product, standard operators); the mirror shortcut (a data-dependent branch) and the
  CPU feature cache are off inside the graph.
* `.safetensors`: the generator's tensors (mmagic names) with the architecture in the metadata;
  `vsr.load_generator` reads them back, without pickle.
* `mmagic` / `basicsr` `.pth`: the layouts of those tools (`state_dict` with `generator.` keys
  and `meta`; `params` and `params_ema`), so weights trained here can be published for them.

Every file is written to a temporary name and renamed when complete.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import torch

from vsr.nn.basicvsrpp import BasicVSRPlusPlus
from vsr.nn.checkpoint import infer_config

FORMATS = ("onnx", "safetensors", "mmagic", "basicsr")
SUFFIX_FORMATS = {".onnx": "onnx", ".safetensors": "safetensors"}
OPSET = 18


def require(package: str, purpose: str):
    """Import `package`, or fail with a message that says what needs it and how to install it.

    Raises:
        ImportError: the package is not installed.
    """
    import importlib

    try:
        return importlib.import_module(package)
    except ImportError as err:
        raise ImportError(
            f"{purpose} needs the Python package {package.split('.')[0]}, which is not "
            f"installed: run `make install` (or `pip install {package.split('.')[0]}`)"
        ) from err


def format_of(path: str | Path, fmt: str | None = None) -> str:
    """The export format for `path`: `fmt`, else the one its suffix names.

    Raises:
        ValueError: no format given and the suffix names none, or an unknown format.
    """
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIX_FORMATS:
        raise ValueError(
            f"{path}: the suffix {suffix or '(none)'} names no format; use .onnx or "
            ".safetensors, or --format mmagic|basicsr for a .pth file"
        )
    return SUFFIX_FORMATS[suffix]


def _atomic(path: Path, write: Callable[[Path], None], overwrite: bool) -> Path:
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite to replace it")
    tmp = path.with_name(f".{path.name}.partial")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def architecture(model: BasicVSRPlusPlus) -> dict:
    """The constructor arguments the network's tensors imply (`infer_config`)."""
    return infer_config(model.state_dict())


def to_basicsr_keys(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """mmagic names -> BasicSR's (SPyNet convs at 0, 2, ..., 8; `upconv1/2`)."""
    out = {}
    for key, value in sd.items():
        m = re.match(
            r"^spynet\.basic_module\.(\d+)\.basic_module\.(\d+)\.conv\.(weight|bias)$", key
        )
        if m:
            key = f"spynet.basic_module.{m[1]}.basic_module.{2 * int(m[2])}.{m[3]}"
        key = key.replace("upsample1.upsample_conv.", "upconv1.")
        key = key.replace("upsample2.upsample_conv.", "upconv2.")
        out[key] = value
    return out


def export_weights(
    model: BasicVSRPlusPlus, path: str | Path, fmt: str, *, overwrite: bool = False
) -> Path:
    """Write the network's weights as `safetensors`, `mmagic` or `basicsr`."""
    sd = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = {"exported_by": "vsr", "architecture": architecture(model)}
    if fmt == "safetensors":
        save_file = require("safetensors.torch", "writing .safetensors").save_file
        metadata = {"format": "vsr-basicvsrpp", "architecture": json.dumps(meta["architecture"])}
        write = lambda tmp: save_file(sd, str(tmp), metadata=metadata)  # noqa: E731
    elif fmt == "mmagic":
        data = {"meta": meta, "state_dict": {f"generator.{k}": v for k, v in sd.items()}}
        write = lambda tmp: torch.save(data, tmp)  # noqa: E731
    elif fmt == "basicsr":
        params = to_basicsr_keys(sd)
        write = lambda tmp: torch.save({"params": params, "params_ema": params}, tmp)  # noqa: E731
    else:
        raise ValueError(f"export_weights writes safetensors, mmagic or basicsr, not {fmt!r}")
    return _atomic(Path(path), write, overwrite)


def graph_model(model: BasicVSRPlusPlus) -> BasicVSRPlusPlus:
    """A copy of `model` as it goes into a graph: `sample` deformable convolution, no mirror
    shortcut, no CPU feature cache, eval mode, on the CPU."""
    net = copy.deepcopy(model).cpu().float().eval()
    net.mirror_shortcut = False
    net.cpu_cache_length = 2**31
    for module in net.modules():
        if hasattr(module, "deform_impl"):
            module.deform_impl = "sample"
    return net


# The sides an exported graph takes: up to MAX_SIDE; from FIXED_MIN_SIDE for a graph of a
# fixed size, from `min_side(model)` for a dynamic one.
MAX_SIDE = 4096
FIXED_MIN_SIDE = 16

# What a graph's metadata says of it (read by vsr.inference.runtime.OnnxNetwork).
GRAPH_METADATA = ("vsr.scale", "vsr.frames", "vsr.min_side", "vsr.architecture")


def graph_metadata(model: BasicVSRPlusPlus, frames: int, smallest_side: int) -> dict:
    """The metadata an exported graph carries: scale, clip length, smallest side, architecture."""
    values = (model.scale, frames, smallest_side, json.dumps(architecture(model)))
    return {key: str(value) for key, value in zip(GRAPH_METADATA, values, strict=True)}


def min_side(model: BasicVSRPlusPlus) -> int:
    """The smallest frame side a dynamic-size graph of `model` takes: SPyNet's coarsest level
    (1/32 of the flow input, rounded up) must have two pixels, so 33 for x4 graphs and 129 for
    same-size ones (their flows are computed at 1/4)."""
    return 33 if model.is_low_res_input else 129


def export_onnx(
    model: BasicVSRPlusPlus,
    path: str | Path,
    *,
    frames: int,
    size: tuple[int, int] | None = None,
    half: bool = False,
    overwrite: bool = False,
) -> dict:
    """Write the network as an ONNX graph for clips of `frames` frames (batch 1).

    Height and width are symbolic (sides from `min_side(model)` to 4096 pixels) unless
    `size` fixes them (any side from 16). The graph is exported through torch.export (the
    dynamo exporter), which keeps every size-dependent quantity an expression of the input's
    shape.

    Returns:
        What was written: `path`, `opset`, `frames`, `size` (None: dynamic), `dtype`, the
        graph's `operators`.

    Raises:
        ValueError: fewer than 2 frames, or a fixed side outside [16, 4096].
    """
    onnx = require("onnx", "ONNX export")
    require("onnxscript", "ONNX export")  # torch.onnx's dynamo exporter builds graphs with it

    if frames < 2:
        raise ValueError(f"frames must be at least 2 (a clip), got {frames} (CLI: --frames)")
    low = min_side(model) if size is None else FIXED_MIN_SIDE
    if size is not None and not all(low <= side <= MAX_SIDE for side in size):
        raise ValueError(
            f"frame size {size[0]}x{size[1]}: each side must lie in [{low}, {MAX_SIDE}] "
            "(CLI: --size)"
        )
    net = graph_model(model)
    dtype = torch.float16 if half else torch.float32
    net = net.to(dtype)
    net.spynet.float()  # flows in fp32: fp16 resolves a 100-pixel flow to 1/16 pixel only
    # The example is traced at a size that is no multiple of 32, so that nothing specialises.
    example = size or (low + 39, low + 55)
    lqs = torch.rand(1, frames, 3, *example, dtype=dtype)
    dynamic = None
    if size is None:
        height = torch.export.Dim("height", min=low, max=MAX_SIDE)
        width = torch.export.Dim("width", min=low, max=MAX_SIDE)
        dynamic = ({3: height, 4: width},)

    def write(tmp: Path) -> None:
        program = _quiet(
            torch.onnx.export,
            net,
            (lqs,),
            dynamo=True,
            opset_version=OPSET,
            input_names=["lqs"],
            output_names=["frames"],
            dynamic_shapes=dynamic,
            optimize=False,  # `_fold` instead: the same graph cleaned up, in seconds
            verbose=False,
        )
        _fold(program.model)
        program.save(str(tmp))
        graph = onnx.load(str(tmp))
        onnx.helper.set_model_props(graph, graph_metadata(model, frames, low))
        onnx.save(graph, str(tmp))
        onnx.checker.check_model(str(tmp))

    out = _atomic(Path(path), write, overwrite)
    graph = onnx.load(str(out)).graph
    return {
        "path": str(out),
        "opset": OPSET,
        "frames": frames,
        "size": list(size) if size else None,
        "dtype": str(dtype).removeprefix("torch."),
        "operators": sorted({node.op_type for node in graph.node}),
    }


def _fold(model) -> None:
    """Clean up the exporter's graph in place: fold its constants (which turns the sequence
    operators SplitToSequence/SequenceAt, which TensorRT lacks, into Split), drop unused
    nodes, lift and deduplicate constants. This is onnxscript's optimiser without its
    pattern rewriter: the rewriter took as long as the export itself (minutes for a c16n2)."""
    from onnxscript import ir, optimizer

    common = ir.passes.common
    for _ in range(2):  # as the optimiser: a second round folds what the first one exposed
        folded = optimizer.fold_constants_ir(model, onnx_shape_inference=True)
        common.RemoveUnusedNodesPass()(model)
        if not folded.modified:
            break
    for step in (
        common.RemoveUnusedFunctionsPass(),
        common.RemoveUnusedOpsetsPass(),
        common.LiftConstantsToInitializersPass(lift_all_constants=True, size_limit=0),
        common.DeduplicateInitializersPass(),
        common.CommonSubexpressionEliminationPass(),
        common.OutputFixPass(),
        common.NameFixPass(),
    ):
        step(model)


def _quiet(fn: Callable, *args, **kwargs):
    """`fn(*args, **kwargs)` without the exporter's progress lines on stdout."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kwargs)
