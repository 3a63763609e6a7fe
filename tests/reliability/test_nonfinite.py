"""Divergence (a learning rate far too high) makes the loss and gradients non-finite for real:
the step is skipped and counted, or the run stops with a checkpoint and names the clips."""

import lightning as L
import pytest
import torch

from vsr.models import VSRModule
from vsr.nn import BasicVSRPlusPlus


def diverging_module(policy: str) -> VSRModule:
    torch.manual_seed(0)
    return VSRModule(
        BasicVSRPlusPlus(8, 1),
        optimizer=lambda params: torch.optim.SGD(params, lr=1e30),
        fix_flow_iters=0,
        nonfinite=policy,
    )


def fit(module, datamodule, tmp_path, steps=4):
    checkpoint = L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path / "checkpoints")
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=steps,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[checkpoint],
        limit_val_batches=0,
    )
    trainer.fit(module, datamodule=datamodule)
    return trainer


def weights_finite(module) -> bool:
    return all(torch.isfinite(p).all() for p in module.generator.parameters())


def test_skip_policy_skips_and_counts_without_touching_the_weights(tiny_datamodule, tmp_path):
    module = diverging_module("skip")
    fit(module, tiny_datamodule(val_sets=[]), tmp_path)
    # The first step explodes the weights to ~1e30 (finite); from then on every gradient
    # is non-finite and every step is skipped.
    assert int(module.nonfinite_skipped) >= 2
    assert weights_finite(module)


def test_stop_policy_saves_a_checkpoint_and_names_the_clips(tiny_datamodule, tmp_path):
    module = diverging_module("stop")
    with pytest.raises(FloatingPointError, match=r"non-finite .* at step \d+ \(clips \w+ \(frames"):
        fit(module, tiny_datamodule(val_sets=[]), tmp_path)
    saved = list((tmp_path / "checkpoints").glob("nonfinite_step_*.ckpt"))
    assert len(saved) == 1
    state = torch.load(saved[0], map_location="cpu", weights_only=False)["state_dict"]
    assert all(torch.isfinite(v).all() for k, v in state.items() if k.startswith("generator."))
