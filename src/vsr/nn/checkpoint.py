"""Loading BasicVSR++ weights from the files users have: mmagic / MMEditing / official
releases, BasicSR, this project's Lightning checkpoints and bare state dicts.

The architecture is read off the tensors, so a downloaded file needs no config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from vsr.nn.basicvsrpp import BasicVSRPlusPlus

# Where each format keeps the generator: (container key, key prefix), best first.
_EMA_SOURCES = (("state_dict", "generator_ema.module."), ("state_dict", "generator_ema."))
_MAIN_SOURCES = (("state_dict", "generator."), ("state_dict", ""), (None, "generator."), (None, ""))

# BasicSR names → mmagic names: the upsampling convs here, SPyNet's conv indices below.
_BASICSR_RENAMES = (
    (re.compile(r"^upconv1\."), "upsample1.upsample_conv."),
    (re.compile(r"^upconv2\."), "upsample2.upsample_conv."),
)
_SPYNET_BASICSR = re.compile(r"^basic_module\.(\d)\.basic_module\.([02468])\.(weight|bias)$")

_FORMATS_HELP = (
    "an mmagic/MMEditing checkpoint ('state_dict' with 'generator.' keys), a BasicSR checkpoint "
    "('params' / 'params_ema'), a vsr Lightning checkpoint, or a bare BasicVSR++ state dict"
)


class CheckpointError(ValueError):
    """The file is not a checkpoint of the expected network; the message says why."""


def _read(path: str | Path, map_location, trusted: bool) -> Mapping:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=not trusted)
    except Exception as err:  # torch raises several types for foreign or damaged files
        hint = (
            ""
            if trusted
            else " If the file holds Python objects besides tensors and you trust its source, "
            "load it with trusted=True (CLI: --trust-checkpoint)."
        )
        raise CheckpointError(f"cannot read {path} as a PyTorch checkpoint: {err}.{hint}") from err
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, expected {_FORMATS_HELP}")
    return obj


def _strip(sd: Mapping, prefix: str) -> dict[str, torch.Tensor]:
    out = {k[len(prefix) :]: v for k, v in sd.items() if k.startswith(prefix)}
    return {k: v for k, v in out.items() if isinstance(v, torch.Tensor)}


def _basicsr_spynet_key(match: re.Match) -> str:
    level, index, kind = match.groups()
    # BasicSR interleaves ReLUs (convs at 0, 2, 4, 6, 8); mmagic wraps each conv (0..4).conv.
    return f"basic_module.{level}.basic_module.{int(index) // 2}.conv.{kind}"


def to_mmagic_keys(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a BasicSR BasicVSR++ state dict to mmagic's names (others pass unchanged)."""
    out = {}
    for key, value in sd.items():
        if key.startswith("module."):  # saved from DataParallel / DDP
            key = key[len("module.") :]
        if key.startswith("spynet."):
            m = _SPYNET_BASICSR.match(key[len("spynet.") :])
            key = "spynet." + _basicsr_spynet_key(m) if m else key
        for pattern, repl in _BASICSR_RENAMES:
            key = pattern.sub(repl, key)
        out[key] = value
    return out


def generator_state_dict(obj: Mapping, *, ema: bool = True) -> dict[str, torch.Tensor]:
    """The generator's weights (mmagic names) from any supported checkpoint layout.

    Args:
        obj: what `torch.load` returned.
        ema: prefer the exponential-moving-average weights when the file has them.
    """
    if "params" in obj or "params_ema" in obj:  # BasicSR
        key = "params_ema" if ema and "params_ema" in obj else "params"
        return to_mmagic_keys(_strip(obj[key], ""))
    sources = (*_EMA_SOURCES, *_MAIN_SOURCES) if ema else _MAIN_SOURCES
    for container, prefix in sources:
        sd = obj.get(container) if container else obj
        if not isinstance(sd, Mapping):
            continue
        weights = _strip(sd, prefix)
        if any(k.startswith(("feat_extract.", "module.feat_extract.")) for k in weights):
            return to_mmagic_keys(weights)
    return {}


def _count_indices(sd: Mapping, pattern: str) -> int:
    regex = re.compile(pattern)
    return len({m.group(1) for k in sd if (m := regex.match(k))})


def infer_config(sd: Mapping[str, torch.Tensor]) -> dict:
    """Constructor arguments of `BasicVSRPlusPlus` that produce exactly these tensors."""
    if "feat_extract.main.0.weight" in sd:
        is_low_res_input, first = True, sd["feat_extract.main.0.weight"]
    elif "feat_extract.0.weight" in sd:
        is_low_res_input, first = False, sd["feat_extract.0.weight"]
    else:
        raise CheckpointError("no 'feat_extract' weights: not a BasicVSR++ generator")
    mid = first.shape[0]
    config = {
        "mid_channels": mid,
        "num_blocks": _count_indices(sd, r"^backbone\.backward_1\.main\.2\.(\d+)\.conv1\.weight$"),
        "is_low_res_input": is_low_res_input,
        "grid_propagation": "backbone.backward_2.main.0.weight" in sd,
    }
    if "deform_align.backward_1.conv_offset.0.weight" in sd:
        config["alignment"] = "deformable"
        config["second_order"] = sd["deform_align.backward_1.weight"].shape[1] == 2 * mid
    else:
        config["alignment"] = "flow"
        config["second_order"] = "deform_align.backward_1.fuse.weight" in sd
    up2 = sd.get("upsample2.upsample_conv.weight")
    if is_low_res_input and up2 is not None:
        config["scale"] = 4 if up2.shape[0] == 4 * 64 else 2
    return config


def _describe(keys: list[str], limit: int = 10) -> str:
    shown = ", ".join(keys[:limit])
    return f"{shown}, ... ({len(keys)} in all)" if len(keys) > limit else shown


def check_fits(model: nn.Module, sd: Mapping[str, torch.Tensor], source: str) -> None:
    """Raise `CheckpointError` listing what in `sd` does not fit `model` (keys and shapes)."""
    own = model.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    wrong = sorted(k for k in set(own) & set(sd) if own[k].shape != sd[k].shape)
    if missing or unexpected or wrong:
        parts = [f"{source} does not fit {type(model).__name__}."]
        if missing:
            parts.append(f"Missing keys: {_describe(missing)}.")
        if unexpected:
            parts.append(f"Unexpected keys: {_describe(unexpected)}.")
        if wrong:
            parts.append(
                "Wrong shapes: "
                + _describe([f"{k} {tuple(sd[k].shape)} vs {tuple(own[k].shape)}" for k in wrong])
                + "."
            )
        raise CheckpointError(" ".join(parts))


def load_into(model: nn.Module, sd: Mapping[str, torch.Tensor], source: str) -> None:
    """`load_state_dict(strict=True)` with an error that lists what does not fit."""
    check_fits(model, sd, source)
    model.load_state_dict(sd, strict=True)


def load_generator(
    path: str | Path,
    *,
    ema: bool = True,
    map_location: str | torch.device = "cpu",
    trusted: bool = False,
    **overrides,
) -> BasicVSRPlusPlus:
    """Build a BasicVSR++ network from a checkpoint file, with no config needed.

    Args:
        path: local checkpoint file (nothing is downloaded): mmagic / MMEditing / official,
            BasicSR, a vsr Lightning checkpoint, or a bare state dict.
        ema: use the EMA weights when the file has them (BasicSR `params_ema`, mmagic or vsr
            `generator_ema`); otherwise the plain weights.
        map_location: where the tensors are loaded.
        trusted: allow files that hold arbitrary pickled Python objects (only for files you
            trust); by default only tensors and plain containers are unpickled.
        **overrides: constructor arguments the tensors cannot tell (`max_residue_magnitude`,
            `cpu_cache_length`).

    Returns:
        The network with the weights loaded, in eval mode.

    Raises:
        CheckpointError: the file is not a BasicVSR++ checkpoint, or its tensors do not fit
            (the message lists missing, unexpected and mis-shaped keys).
    """
    obj = _read(path, map_location, trusted)
    sd = generator_state_dict(obj, ema=ema)
    if not sd:
        top = _describe(sorted(str(k) for k in obj))
        raise CheckpointError(
            f"{path}: no BasicVSR++ generator weights found; expected "
            f"{_FORMATS_HELP}. Top-level keys: {top}"
        )
    config = {**infer_config(sd), **overrides}
    model = BasicVSRPlusPlus(**config)
    load_into(model, sd, str(path))
    return model.eval()


def load_spynet_weights(spynet: nn.Module, path: str | Path) -> None:
    """Load SPyNet weights from an mmagic SPyNet file or BasicSR's `spynet_sintel_final`.

    Files that store the ImageNet mean/std buffers or a `spynet.` prefix work too.
    """
    obj = _read(path, "cpu", trusted=False)
    for container in ("state_dict", "params"):
        if isinstance(obj.get(container), Mapping):
            obj = obj[container]
            break
    sd = {}
    for key, value in obj.items():
        for prefix in ("module.", "spynet.", "generator.spynet."):
            if key.startswith(prefix):
                key = key[len(prefix) :]
        m = _SPYNET_BASICSR.match(key)
        sd[_basicsr_spynet_key(m) if m else key] = value
    own = spynet.state_dict()
    for buffer in ("mean", "std"):  # fixed constants; often left out of SPyNet files
        sd.setdefault(buffer, own[buffer])
    load_into(spynet, sd, f"SPyNet weights {path}")
