"""`vsr.callbacks.NonFinite`: a poisoned step (a NaN input, so a NaN loss, or a NaN gradient)
is skipped, leaving the weights, the optimizer and the EMA as they were; too many skips stop
the run with a checkpoint written by the trainer's checkpoint I/O; the count survives a resume
(checkpoints from before the policy was a callback included); `callbacks.nonfinite` configures
it."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import lightning as L
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger

from vsr.callbacks import AtomicCheckpointIO, Checkpoints, NonFinite, newest_readable
from vsr.config import config_dir
from vsr.models import VSRModule
from vsr.nn import BasicVSRPlusPlus


class Poison(L.Callback):
    """Makes the given steps non-finite: a NaN in the input ("loss") or in one gradient."""

    def __init__(self, steps, where: str = "gradient") -> None:
        self.steps, self.where = set(steps), where

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.where == "loss" and trainer.global_step in self.steps:
            batch["lq"].view(-1)[0] = float("nan")

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if self.where == "gradient" and trainer.global_step in self.steps:
            grad = next(p.grad for p in pl_module.generator.parameters() if p.grad is not None)
            grad.view(-1)[0] = float("nan")


class RecordSteps(L.Callback):
    """Weights, EMA (n_averaged included), optimizer state and loss after every step."""

    def __init__(self) -> None:
        self.weights, self.ema, self.optimizer, self.losses = [], [], [], []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.weights.append(clone(pl_module.generator.state_dict()))
        if pl_module.generator_ema is not None:
            self.ema.append(clone(pl_module.generator_ema.state_dict()))
        self.optimizer.append(copy.deepcopy(trainer.optimizers[0].state_dict()["state"]))
        self.losses.append(float(outputs["loss"]))


class Kill(L.Callback):
    """Stops the process-like run at the start of step `step` (its checkpoint is written)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            raise Killed


class Killed(Exception):
    pass


class Rows(Logger):
    """Every row sent to the loggers."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[int, dict]] = []

    @property
    def name(self) -> str:
        return "rows"

    @property
    def version(self) -> int:
        return 0

    def log_hyperparams(self, params, *args, **kwargs) -> None:
        pass

    def log_metrics(self, metrics, step=None) -> None:
        self.rows.append((step, dict(metrics)))


class RecordingIO(AtomicCheckpointIO):
    """The trainer's checkpoint I/O, recording what it writes."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        self.paths.append(str(path))
        super().save_checkpoint(checkpoint, path, storage_options)


def clone(state: dict) -> dict:
    return {k: v.detach().clone() for k, v in state.items()}


def ema_weights(ema_state: dict) -> dict:
    return {k.removeprefix("module."): v for k, v in ema_state.items() if k != "n_averaged"}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def same_optimizer_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(same(a[i], b[i]) for i in a)


def tiny_module(**kwargs) -> VSRModule:
    torch.manual_seed(0)
    return VSRModule(BasicVSRPlusPlus(8, 1), fix_flow_iters=0, **kwargs)


def fit(module, datamodule, dirpath: Path, steps: int, callbacks, ckpt_path=None, **kwargs):
    L.seed_everything(0, workers=True)
    checkpoints = Checkpoints(
        dirpath=dirpath,
        filename="step_{step:07d}",
        save_last=True,
        every_n_train_steps=1,
        preemption_signals=[],
    )
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=steps,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[*callbacks, checkpoints],
        limit_val_batches=0,
        **kwargs,
    )
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    return trainer


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def test_policy_and_max_skips_are_checked():
    with pytest.raises(ValueError, match=r"callbacks.nonfinite.policy must be 'skip' or 'stop'"):
        NonFinite("ignore")
    with pytest.raises(ValueError, match=r"callbacks.nonfinite.max_skips must be .* >= 0"):
        NonFinite("skip", max_skips=-1)


@pytest.mark.parametrize("where", ["loss", "gradient"])
def test_a_skipped_step_changes_nothing_and_training_goes_on(where, tiny_datamodule, tmp_path):
    # An EMA that differs from the weights by step 2, so that an update at step 3 would show.
    module = tiny_module(ema_decay=0.5)
    record, nonfinite = RecordSteps(), NonFinite("skip")
    callbacks = [Poison({2}, where), nonfinite, record]
    fit(module, tiny_datamodule(val_sets=[]), tmp_path / "ckpt", 4, callbacks)
    assert len(record.weights) == 4 and nonfinite.skipped == 1
    finite = [torch.isfinite(torch.tensor(x)).item() for x in record.losses]
    assert finite == [True, True, where != "loss", True]
    before, skipped, after = 1, 2, 3  # indices of steps 2, 3 (skipped) and 4
    assert not same(ema_weights(record.ema[before]), record.weights[before])
    assert same(record.weights[skipped], record.weights[before])
    assert same(record.ema[skipped], record.ema[before])
    assert same_optimizer_state(record.optimizer[skipped], record.optimizer[before])
    # The next step trains again, from the state before the skipped one.
    assert not same(record.weights[after], record.weights[before])
    assert not same(record.ema[after], record.ema[before])
    assert int(record.ema[after]["n_averaged"]) == 3
    assert all(torch.isfinite(v).all() for v in record.weights[after].values())


def test_the_skip_count_reaches_the_loggers_at_its_step(tiny_datamodule, tmp_path):
    rows = Rows()
    trainer = L.Trainer(
        accelerator="cpu",
        max_steps=4,
        logger=rows,
        log_every_n_steps=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        limit_val_batches=0,
        callbacks=[Poison({1, 2}), NonFinite("skip")],
    )
    trainer.fit(tiny_module(), datamodule=tiny_datamodule(val_sets=[]))
    logged = [
        (s, r["train/nonfinite_skipped"]) for s, r in rows.rows if "train/nonfinite_skipped" in r
    ]
    assert logged == [(1, 1.0), (2, 2.0)]
    assert float(trainer.callback_metrics["train/nonfinite_skipped"]) == 2.0


def test_more_skips_than_max_skips_stop_with_an_atomic_checkpoint(tiny_datamodule, tmp_path):
    module, record, io = tiny_module(), RecordSteps(), RecordingIO()
    callbacks = [Poison({1, 2}), NonFinite("skip", max_skips=1), record]
    message = (
        r"non-finite loss or gradients at step 2 \(clips \w+ \(frames \d+-\d+\)\); "
        r"2 step\(s\) skipped in all \(more than max_skips=1\)\. The weights are untouched; "
        rf"checkpoint saved to {re.escape(str(tmp_path))}/nonfinite_step_0000002\.ckpt\."
    )
    with pytest.raises(FloatingPointError, match=message):
        fit(module, tiny_datamodule(val_sets=[]), tmp_path, 5, callbacks, plugins=[io])
    assert len(record.weights) == 2  # steps 1 and 2 (skipped); step 3 stopped the run
    path = tmp_path / "nonfinite_step_0000002.ckpt"
    assert str(path) in io.paths  # written by the trainer's checkpoint I/O, atomically
    assert not list(tmp_path.glob(".*.tmp"))
    checkpoint = load(path)
    assert checkpoint["global_step"] == 2
    assert checkpoint["callbacks"]["NonFinite"] == {"skipped": 2}
    state = {
        k.removeprefix("generator."): v
        for k, v in checkpoint["state_dict"].items()
        if k.startswith("generator.")
    }
    # The state at the stop: that after step 1, the last good one.
    assert same(state, record.weights[0]) and same(record.weights[1], record.weights[0])
    assert same_optimizer_state(checkpoint["optimizer_states"][0]["state"], record.optimizer[0])
    # A resume never starts from it.
    assert newest_readable(tmp_path)[0] == str(tmp_path / "last.ckpt")


def stop_state(path: Path) -> dict:
    checkpoint = load(path)
    return {
        "global_step": checkpoint["global_step"],
        "state_dict": checkpoint["state_dict"],
        "optimizer": checkpoint["optimizer_states"][0],
        "nonfinite": checkpoint["callbacks"]["NonFinite"],
    }


def assert_same_stop(a: dict, b: dict) -> None:
    assert a["global_step"] == b["global_step"]
    assert a["nonfinite"] == b["nonfinite"]
    assert same(a["state_dict"], b["state_dict"])
    assert a["optimizer"]["param_groups"] == b["optimizer"]["param_groups"]
    assert same_optimizer_state(a["optimizer"]["state"], b["optimizer"]["state"])


def test_the_count_survives_a_resume_exactly(tiny_datamodule, tmp_path):
    # Skips at steps 2 and 4 with max_skips=1: the second one stops the run, resumed or not.
    def callbacks(*extra):
        return [Poison({1, 3}), NonFinite("skip", max_skips=1), *extra]

    stop = r"at step 3 .*2 step\(s\) skipped in all"
    whole = tmp_path / "whole"
    with pytest.raises(FloatingPointError, match=stop):
        fit(tiny_module(), tiny_datamodule(val_sets=[]), whole, 6, callbacks())
    parts = tmp_path / "parts"
    with pytest.raises(Killed):
        fit(tiny_module(), tiny_datamodule(val_sets=[]), parts, 6, callbacks(Kill(2)))
    last = load(parts / "last.ckpt")
    assert last["global_step"] == 2 and last["callbacks"]["NonFinite"] == {"skipped": 1}
    with pytest.raises(FloatingPointError, match=stop):
        fit(
            tiny_module(),
            tiny_datamodule(val_sets=[]),
            parts,
            6,
            callbacks(),
            ckpt_path=parts / "last.ckpt",
        )
    name = "nonfinite_step_0000003.ckpt"
    assert_same_stop(stop_state(whole / name), stop_state(parts / name))


def test_a_checkpoint_holding_the_old_module_buffer_resumes_its_count(tiny_datamodule, tmp_path):
    with pytest.raises(Killed):
        fit(tiny_module(), tiny_datamodule(val_sets=[]), tmp_path, 6, [NonFinite(), Kill(2)])
    # As VSRModule wrote it when it held the policy: the count a buffer, no callback state.
    checkpoint = load(tmp_path / "last.ckpt")
    del checkpoint["callbacks"]["NonFinite"]
    checkpoint["state_dict"]["nonfinite_skipped"] = torch.tensor(3)
    checkpoint["hyper_parameters"].update(nonfinite="skip", max_nonfinite_skips=100)
    old = tmp_path / "old.ckpt"
    torch.save(checkpoint, old)
    callbacks = [Poison({2}), NonFinite("skip", max_skips=3)]
    with pytest.raises(FloatingPointError, match=r"at step 2 .*4 step\(s\) skipped in all"):
        fit(tiny_module(), tiny_datamodule(val_sets=[]), tmp_path, 6, callbacks, ckpt_path=old)


def compose_train(*overrides: str):
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return compose("train", overrides=list(overrides))


def test_callbacks_nonfinite_configures_the_policy():
    cfg = compose_train("callbacks.nonfinite.policy=stop", "callbacks.nonfinite.max_skips=7")
    callback = instantiate(cfg.callbacks.nonfinite)
    assert isinstance(callback, NonFinite)
    assert (callback.policy, callback.max_skips) == ("stop", 7)
    default = instantiate(compose_train().callbacks.nonfinite)
    assert (default.policy, default.max_skips) == ("skip", 100)
    # The module has no policy knobs any more: the old override is an error, not ignored.
    assert "nonfinite" not in compose_train().model
    with pytest.raises(ConfigCompositionException):
        compose_train("model.nonfinite=stop")
