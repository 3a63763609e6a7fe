"""What a non-finite loss or gradient does to a training run: skip the step, or stop.

A non-finite loss makes non-finite gradients, so the gradients decide. They are checked after
the backward pass (and the DDP all-reduce, so every rank decides alike), before the update:
a non-finite gradient never reaches the weights or the optimizer's state (Adam's moments and
step counts). A skipped step drops every gradient (`p.grad = None`: optimizers leave such
parameters alone) and `VSRModule` keeps its EMA as it is when nothing was updated.

The count of skipped steps is this callback's state: it is in every checkpoint and a resumed
run goes on counting from it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

log = logging.getLogger(__name__)

POLICIES = ("skip", "stop")

# The buffer that held the count when `VSRModule` had the policy (see `on_load_checkpoint`).
LEGACY_KEY = "nonfinite_skipped"


def describe_batch(batch: dict) -> str:
    """'clips 000 (frames 3-32), 011 (frames 50-79)': which data a training batch holds."""
    clips = batch.get("clip") if isinstance(batch, dict) else None
    frames = batch.get("frames") if isinstance(batch, dict) else None
    if clips is None:
        return "unknown clips"
    parts = []
    for i, clip in enumerate(clips):
        if frames is not None:
            parts.append(f"{clip} (frames {int(frames[i].min())}-{int(frames[i].max())})")
        else:
            parts.append(str(clip))
    return "clips " + ", ".join(parts)


class NonFinite(Callback):
    """Skip (and count) or stop on a non-finite loss or gradient; the weights stay untouched.

    Args:
        policy: "skip": no update for that step, counted in `train/nonfinite_skipped`;
            "stop": save `nonfinite_step_<step>.ckpt` next to the checkpoints (through the
            trainer's checkpoint I/O: atomic with `AtomicCheckpointIO`), then fail with a
            message naming the step and the batch's clips.
        max_skips: with "skip", stop as with "stop" once more steps than this were skipped.
    """

    def __init__(self, policy: str = "skip", max_skips: int = 100) -> None:
        if policy not in POLICIES:
            raise ValueError(f"callbacks.nonfinite.policy must be 'skip' or 'stop', got {policy!r}")
        if not isinstance(max_skips, int) or max_skips < 0:
            raise ValueError(
                f"callbacks.nonfinite.max_skips must be a whole number >= 0, got {max_skips!r}"
            )
        self.policy = policy
        self.max_skips = max_skips
        self.skipped = 0
        self._batch: dict | None = None

    # ------------------------------------------------------------------ the check

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._batch = batch  # described only if this step fails: no device sync per step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._batch = None

    def on_before_optimizer_step(
        self, trainer: Trainer, pl_module: LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        total = torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]).sum()
        if torch.isfinite(total):
            return
        for p in params:
            p.grad = None  # the optimizer skips parameters without gradients
        self.skipped += 1
        self._log(pl_module)
        where = (
            f"non-finite loss or gradients at step {trainer.global_step} "
            f"({describe_batch(self._batch or {})})"
        )
        if self.policy == "skip" and self.skipped <= self.max_skips:
            log.warning("%s: step skipped (%d so far)", where, self.skipped)
            return
        path = self._save(trainer)
        too_many = f" (more than max_skips={self.max_skips})" if self.policy == "skip" else ""
        saved = f"; checkpoint saved to {path}" if path else ""
        raise FloatingPointError(
            f"{where}; {self.skipped} step(s) skipped in all{too_many}. The weights are "
            f"untouched{saved}. Lower the learning rate, set trainer.gradient_clip_val, or "
            "check those frames."
        )

    def _log(self, pl_module: LightningModule) -> None:
        value = float(self.skipped)
        pl_module.log("train/nonfinite_skipped", value, prog_bar=True, logger=False)
        # VSRModule.log_now: to the loggers before this step's checkpoint is saved, so that a
        # run resumed from it has logged the same rows.
        log_now = getattr(pl_module, "log_now", None)
        if callable(log_now):
            log_now({"train/nonfinite_skipped": value})

    @staticmethod
    def _save(trainer: Trainer) -> str | None:
        """The state before the bad update, next to the run's checkpoints (None: no folder).

        Resuming never picks it up (`newest_readable` passes over `nonfinite_*`)."""
        callback = trainer.checkpoint_callback
        dirpath = getattr(callback, "dirpath", None)
        if not dirpath:
            return None
        path = str(Path(dirpath) / f"nonfinite_step_{trainer.global_step:07d}.ckpt")
        trainer.save_checkpoint(path)  # every rank: the strategy writes on rank 0
        return path

    # ------------------------------------------------------------------ resume

    def state_dict(self) -> dict:
        return {"skipped": self.skipped}

    def load_state_dict(self, state_dict: dict) -> None:
        self.skipped = int(state_dict["skipped"])

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        # A checkpoint written while the count was `VSRModule`'s buffer (moved out of the
        # state dict by `VSRModule.on_load_checkpoint`); `load_state_dict`, called next,
        # overrides it for checkpoints that have this callback's state.
        if LEGACY_KEY in checkpoint:
            self.skipped = int(checkpoint[LEGACY_KEY])
