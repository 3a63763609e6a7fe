"""Divergence (a learning rate far too high) makes the loss and gradients non-finite for real:
the step is skipped and counted, or the run stops with a checkpoint and names the clips."""

import copy

import lightning as L
import pytest
import torch

from vsr.callbacks import NonFinite
from vsr.models import VSRModule
from vsr.nn import BasicVSRPlusPlus


def diverging_module(optimizer=torch.optim.SGD) -> VSRModule:
    torch.manual_seed(0)
    return VSRModule(
        BasicVSRPlusPlus(8, 1),
        optimizer=lambda params: optimizer(params, lr=1e30),
        fix_flow_iters=0,
    )


def generator_state(module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.generator.state_dict().items()}


class RecordSteps(L.Callback):
    """The generator's weights, the optimizer's state and the loss after every step."""

    def __init__(self) -> None:
        self.weights: list[dict[str, torch.Tensor]] = []
        self.optimizer: list[dict] = []
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.weights.append(generator_state(pl_module))
        self.optimizer.append(copy.deepcopy(trainer.optimizers[0].state_dict()["state"]))
        self.losses.append(float(outputs["loss"]))


def fit(module, datamodule, tmp_path, steps=4, callbacks=()):
    checkpoint = L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp_path / "checkpoints")
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=steps,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[checkpoint, *callbacks],
        limit_val_batches=0,
    )
    trainer.fit(module, datamodule=datamodule)
    return trainer


def weights_finite(module) -> bool:
    return all(torch.isfinite(p).all() for p in module.generator.parameters())


def same_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_skip_policy_skips_and_counts_without_touching_the_weights(tiny_datamodule, tmp_path):
    # Adam, so that a skipped step that still reached the optimizer (a zeroed instead of a
    # dropped gradient) would show: zero gradients still move Adam's moments and weights.
    module = diverging_module(torch.optim.Adam)
    initial = generator_state(module)
    steps, nonfinite = RecordSteps(), NonFinite("skip")
    trainer = fit(
        module, tiny_datamodule(val_sets=[]), tmp_path, steps=4, callbacks=[nonfinite, steps]
    )
    assert trainer.global_step == 4 and len(steps.weights) == 4
    # The first step explodes the weights to ~1e30 (finite); from then on the loss and every
    # gradient are non-finite and every step is skipped: 3 of the 4.
    assert torch.isfinite(torch.tensor(steps.losses[0]))
    assert not torch.isfinite(torch.tensor(steps.losses[1:])).any()
    assert not same_tensors(steps.weights[0], initial)  # step 1 did update
    assert nonfinite.skipped == 3
    # ... and so says the final checkpoint, which a resumed run would go on counting from.
    (saved,) = (tmp_path / "checkpoints").glob("*.ckpt")
    states = torch.load(saved, map_location="cpu", weights_only=False)["callbacks"]
    assert states["NonFinite"] == {"skipped": 3}
    after_first = steps.weights[0]
    assert all(torch.isfinite(v).all() for v in after_first.values())
    for step, weights in enumerate(steps.weights[1:], start=2):
        assert same_tensors(weights, after_first), f"step {step} changed the weights"
    assert same_tensors(generator_state(module), after_first)
    # Adam's moments and step counts are those of step 1, untouched by the skipped steps.
    moments = steps.optimizer[0]
    assert moments and all(int(s["step"]) == 1 for s in moments.values())
    for step, state in enumerate(steps.optimizer[1:], start=2):
        assert state.keys() == moments.keys()
        for i, s in state.items():
            assert s.keys() == moments[i].keys() == {"step", "exp_avg", "exp_avg_sq"}
            assert all(torch.equal(s[k], moments[i][k]) for k in s), f"step {step} moved {i}"


def test_stop_policy_saves_a_checkpoint_and_names_the_clips(tiny_datamodule, tmp_path):
    module = diverging_module()
    steps = RecordSteps()
    with pytest.raises(FloatingPointError, match=r"non-finite .* at step 1 \(clips \w+ \(frames"):
        fit(module, tiny_datamodule(val_sets=[]), tmp_path, callbacks=[NonFinite("stop"), steps])
    assert len(steps.weights) == 1  # step 1 went through, step 2 stopped the run
    saved = list((tmp_path / "checkpoints").glob("nonfinite_step_*.ckpt"))
    assert [p.name for p in saved] == ["nonfinite_step_0000001.ckpt"]
    checkpoint = torch.load(saved[0], map_location="cpu", weights_only=False)
    assert checkpoint["global_step"] == 1
    state = {
        k.removeprefix("generator."): v
        for k, v in checkpoint["state_dict"].items()
        if k.startswith("generator.")
    }
    # The weights at the stop, before the bad update: those after step 1, finite, as saved.
    assert all(torch.isfinite(v).all() for v in state.values())
    assert same_tensors(generator_state(module), steps.weights[0])
    assert same_tensors(state, steps.weights[0])
