"""Reading weight files and loading them into a module, with messages that say what is wrong.

The network-agnostic part of `vsr.nn.checkpoint`: `vsr.nn.spynet` loads its pretrained weights
with it, so it cannot depend on the assembled network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

# BasicSR's SPyNet conv names; mmagic wraps each conv (see `spynet_key_from_basicsr`).
SPYNET_BASICSR = re.compile(r"^basic_module\.(\d)\.basic_module\.([02468])\.(weight|bias)$")

FORMATS_HELP = (
    "an mmagic/MMEditing checkpoint ('state_dict' with 'generator.' keys), a BasicSR checkpoint "
    "('params' / 'params_ema'), a vsr Lightning checkpoint, or a bare BasicVSR++ state dict"
)


class CheckpointError(ValueError):
    """The file is not a checkpoint of the expected network; the message says why."""


def read_checkpoint_file(
    path: str | Path, map_location, trusted: bool, *, mmap: bool = False
) -> Mapping:
    """The mapping a checkpoint file holds, or a `CheckpointError` / `FileNotFoundError` that
    names the file and says what to do.

    Args:
        path: the file.
        map_location: as `torch.load`'s.
        trusted: allow Python objects besides tensors (our own Lightning checkpoints).
        mmap: map the tensors instead of reading them (only their headers are read).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".safetensors":  # tensors only, no pickle at all
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(path, device=str(map_location) if map_location else "cpu")
        except (SafetensorError, OSError, ValueError) as err:
            raise CheckpointError(f"cannot read {path} as a safetensors file: {err}") from err
    try:
        obj = torch.load(path, map_location=map_location, weights_only=not trusted, mmap=mmap)
    except Exception as err:  # torch raises several types for foreign or damaged files
        hint = (
            ""
            if trusted
            else " If the file holds Python objects besides tensors and you trust its source, "
            "load it with trusted=True (CLI: --trust-checkpoint)."
        )
        raise CheckpointError(f"cannot read {path} as a PyTorch checkpoint: {err}.{hint}") from err
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path} holds a {type(obj).__name__}, expected {FORMATS_HELP}")
    return obj


def spynet_key_from_basicsr(match: re.Match) -> str:
    level, index, kind = match.groups()
    # BasicSR interleaves ReLUs (convs at 0, 2, 4, 6, 8); mmagic wraps each conv (0..4).conv.
    return f"basic_module.{level}.basic_module.{int(index) // 2}.conv.{kind}"


def describe_keys(keys: list[str], limit: int = 10) -> str:
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
            parts.append(f"Missing keys: {describe_keys(missing)}.")
        if unexpected:
            parts.append(f"Unexpected keys: {describe_keys(unexpected)}.")
        if wrong:
            parts.append(
                "Wrong shapes: "
                + describe_keys(
                    [f"{k} {tuple(sd[k].shape)} vs {tuple(own[k].shape)}" for k in wrong]
                )
                + "."
            )
        raise CheckpointError(" ".join(parts))


def load_into(model: nn.Module, sd: Mapping[str, torch.Tensor], source: str) -> None:
    """`load_state_dict(strict=True)` with an error that lists what does not fit."""
    check_fits(model, sd, source)
    model.load_state_dict(sd, strict=True)


def load_spynet_weights(spynet: nn.Module, path: str | Path) -> None:
    """Load SPyNet weights from an mmagic SPyNet file or BasicSR's `spynet_sintel_final`.

    Files that store the ImageNet mean/std buffers or a `spynet.` prefix work too.
    """
    obj = read_checkpoint_file(path, "cpu", trusted=False)
    for container in ("state_dict", "params"):
        if isinstance(obj.get(container), Mapping):
            obj = obj[container]
            break
    sd = {}
    for key, value in obj.items():
        for prefix in ("module.", "spynet.", "generator.spynet."):
            if key.startswith(prefix):
                key = key[len(prefix) :]
        m = SPYNET_BASICSR.match(key)
        sd[spynet_key_from_basicsr(m) if m else key] = value
    own = spynet.state_dict()
    for buffer in ("mean", "std"):  # fixed constants; often left out of SPyNet files
        sd.setdefault(buffer, own[buffer])
    load_into(spynet, sd, f"SPyNet weights {path}")
