"""Loading BasicVSR++ weights from the files users have: mmagic / MMEditing / official
releases, BasicSR, this project's Lightning checkpoints and bare state dicts.

The architecture is read off the tensors, so a downloaded file needs no config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch

from vsr.nn.basicvsrpp import BasicVSRPlusPlus
from vsr.nn.weights import (
    FORMATS_HELP,
    SPYNET_BASICSR,
    CheckpointError,
    check_fits,
    describe_keys,
    load_into,
    load_spynet_weights,
    read_checkpoint_file,
    spynet_key_from_basicsr,
)

__all__ = [
    "CheckpointError",
    "check_fits",
    "generator_state_dict",
    "infer_config",
    "load_generator",
    "load_into",
    "load_spynet_weights",
    "to_mmagic_keys",
]

# Where each format keeps the generator: (container key, key prefix), best first.
_EMA_SOURCES = (("state_dict", "generator_ema.module."), ("state_dict", "generator_ema."))
_MAIN_SOURCES = (("state_dict", "generator."), ("state_dict", ""), (None, "generator."), (None, ""))

# BasicSR names → mmagic names: the upsampling convs here, SPyNet's conv indices below.
_BASICSR_RENAMES = (
    (re.compile(r"^upconv1\."), "upsample1.upsample_conv."),
    (re.compile(r"^upconv2\."), "upsample2.upsample_conv."),
)


def _strip(sd: Mapping, prefix: str) -> dict[str, torch.Tensor]:
    out = {k[len(prefix) :]: v for k, v in sd.items() if k.startswith(prefix)}
    return {k: v for k, v in out.items() if isinstance(v, torch.Tensor)}


def to_mmagic_keys(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a BasicSR BasicVSR++ state dict to mmagic's names (others pass unchanged)."""
    out = {}
    for key, value in sd.items():
        if key.startswith("module."):  # saved from DataParallel / DDP
            key = key[len("module.") :]
        if key.startswith("spynet."):
            m = SPYNET_BASICSR.match(key[len("spynet.") :])
            key = "spynet." + spynet_key_from_basicsr(m) if m else key
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
    obj = read_checkpoint_file(path, map_location, trusted)
    sd = generator_state_dict(obj, ema=ema)
    if not sd:
        top = describe_keys(sorted(str(k) for k in obj))
        raise CheckpointError(
            f"{path}: no BasicVSR++ generator weights found; expected "
            f"{FORMATS_HELP}. Top-level keys: {top}"
        )
    config = {**infer_config(sd), **overrides}
    model = BasicVSRPlusPlus(**config)
    load_into(model, sd, str(path))
    return model.eval()
