"""Where the Hydra configs are, whichever way vsr was installed, the resolvers that name run
and multirun job directories, and the up-front check of training settings."""

from __future__ import annotations

import hashlib
from pathlib import Path

from omegaconf import OmegaConf

_PACKAGE = Path(__file__).resolve().parent


def job_id(overrides: str) -> str:
    """Eight hex digits naming a multirun job's overrides (`hydra.job.override_dirname`): the
    same command gives the same job directory (a rerun resumes it), another sweep under the
    same run name never shares one (so never resumes another configuration's checkpoint)."""
    return hashlib.sha256(str(overrides).encode()).hexdigest()[:8]


def variant_suffix(choice: str | None) -> str:
    """`_<choice>` for a chosen `ablation=` option, `""` without one: each variant of a run gets
    a directory of its own, so that none resumes another's checkpoint."""
    return "" if choice in (None, "null") else f"_{choice}"


# Used by conf/hydra/default.yaml: `${vsr_job_id:...}`, `${vsr_variant:...}`.
OmegaConf.register_new_resolver("vsr_job_id", job_id, replace=True)
OmegaConf.register_new_resolver("vsr_variant", variant_suffix, replace=True)


def config_dir() -> str:
    """The `conf/` tree: inside the package in a wheel install, at the repository root in an
    editable install or a source checkout."""
    for candidate in (_PACKAGE / "conf", _PACKAGE.parents[1] / "conf"):
        if (candidate / "train.yaml").is_file():
            return str(candidate)
    raise FileNotFoundError(
        f"vsr's Hydra configs are missing: looked for conf/train.yaml in {_PACKAGE} and "
        f"{_PACKAGE.parents[1]}. Reinstall vsr (`make install`)."
    )


class ConfigError(ValueError):
    """Settings that cannot work; the message lists every problem found."""


def _get(cfg, dotted: str, default=None):
    node = cfg
    for key in dotted.split("."):
        if node is None or not hasattr(node, "get"):
            return default
        node = node.get(key)
    return default if node is None else node


def check_train_config(cfg) -> None:
    """Fail fast, with one message, on settings that would fail later or train nonsense.

    Checked before anything heavy is built: batch size, frames, patch size against the scale,
    data and model agreeing on the scale, data directories that exist, a positive step budget.
    """
    problems = []
    data = cfg.get("data") or {}
    scale = _get(cfg, "data.scale", 4)
    for key in ("batch_size", "num_frames"):
        value = data.get(key)
        if value is not None and (not isinstance(value, int) or value < 1):
            problems.append(f"data.{key}={value}: must be a whole number >= 1")
    patch = data.get("gt_patch_size")
    if patch is not None and (not isinstance(patch, int) or patch < scale or patch % scale):
        problems.append(
            f"data.gt_patch_size={patch}: must be a positive multiple of data.scale={scale} "
            f"(the low-res patch is gt_patch_size / scale), e.g. {max(scale, 64 * scale)}"
        )
    generator = _get(cfg, "model.generator") or {}
    if generator.get("is_low_res_input", True) and generator.get("scale", 4) != scale:
        problems.append(
            f"model.generator.scale={generator.get('scale', 4)} but data.scale={scale}: "
            "the network must upscale by the data's factor"
        )
    root = data.get("root")
    if root is not None and data.get("demo") is None and not Path(root).is_dir():
        problems.append(
            f"data.root={root} does not exist: point it at the data set "
            "(e.g. data.root=/data/REDS) or build one with vsr-prepare"
        )
    for i, spec in enumerate(data.get("val_sets") or []):
        spec_root = spec.get("root") if hasattr(spec, "get") else None
        if spec_root is not None and not Path(spec_root).is_dir():
            problems.append(f"data.val_sets[{i}].root={spec_root} does not exist")
    max_steps = _get(cfg, "trainer.max_steps", -1)
    if isinstance(max_steps, int) and max_steps == 0:
        problems.append("trainer.max_steps=0: nothing to train (use -1 for epoch-based runs)")
    if problems:
        raise ConfigError("invalid settings:\n  - " + "\n  - ".join(problems))
