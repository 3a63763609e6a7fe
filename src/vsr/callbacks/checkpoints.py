"""Checkpoints that tell the truth about their step, and preemption that loses nothing.

Lightning's `ModelCheckpoint` saves step checkpoints in `on_train_batch_end`, before the step's
validation: such a checkpoint is ranked by the previous validation's score, and the
validation at that step then saves nothing. `Checkpoints` saves each step at most once, at
the step's end: after its validation when one runs at that step (ranked by that
validation's score), otherwise at `on_train_batch_end`. So `best` is the best validation and
`last.ckpt` is always a whole step: weights, EMA, optimizer, schedule, data-loader position.

A SIGUSR1 / SIGUSR2 / SIGTERM (a SLURM or submitit preemption, a job scheduler's stop) sets a
flag; at the end of the current step every rank saves `last.ckpt`, the job is requeued (by
the handler that was there before — submitit's — or `scontrol requeue` under SLURM), and the
run stops with `Preempted`. The same command resumes it exactly.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from vsr.nn.checkpoint import CheckpointError, check_fits, generator_state_dict
from vsr.nn.weights import read_checkpoint_file

log = logging.getLogger(__name__)

PREEMPTION_SIGNALS = ("SIGUSR1", "SIGUSR2", "SIGTERM")


class Preempted(Exception):
    """The run stopped on a preemption signal after saving `last.ckpt`."""

    def __init__(self, signum: int, path: str | None):
        self.signum = signum
        self.path = path
        name = signal.Signals(signum).name
        super().__init__(f"stopped on {name} after saving {path}; the same command resumes")


class Checkpoints(ModelCheckpoint):
    """`ModelCheckpoint` whose checkpoints hold their own step's state and score.

    Takes `ModelCheckpoint`'s arguments (`monitor` ranks the validated checkpoints, `save_top_k`
    of them are kept, `every_n_train_steps` writes `last.ckpt` between validations), plus:

    Args:
        preemption_signals: signal names that make the run save and stop at the end of the
            current step (empty: none).
        requeue: under SLURM, requeue the job (`scontrol requeue $SLURM_JOB_ID`) after saving
            on a preemption signal, unless a handler installed before (submitit's) does it.
    """

    def __init__(
        self,
        *args,
        preemption_signals: tuple[str, ...] | list[str] = PREEMPTION_SIGNALS,
        requeue: bool = True,
        **kwargs,
    ):
        # Stable names: a restarted run overwrites last.ckpt rather than writing last-v1.ckpt.
        kwargs.setdefault("enable_version_counter", False)
        super().__init__(*args, **kwargs)
        self.preemption_signals = [getattr(signal, name) for name in preemption_signals]
        self.requeue = requeue
        self._signal_received: int | None = None
        self._preempt_pending = False
        self._previous_handlers: dict[int, object] = {}

    # ------------------------------------------------------------------ start-up

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        if stage != "fit":
            return
        if trainer.is_global_zero and self.dirpath and Path(self.dirpath).is_dir():
            # Writes killed mid-way (atomic_torch_save) leave hidden temporary files.
            for tmp in Path(self.dirpath).glob(".*.ckpt.*.tmp"):
                log.info("removing %s, left by a checkpoint write that was killed", tmp)
                tmp.unlink(missing_ok=True)
        # Before Lightning's own handlers (registered after setup): Lightning then leaves
        # SIGUSR1 to us instead of saving an hpc checkpoint in the middle of a step.
        for signum in self.preemption_signals:
            self._previous_handlers[signum] = signal.getsignal(signum)
            if signum != signal.SIGTERM:
                self._install(signum)

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        # SIGTERM after Lightning's handler, which would stop the run without a checkpoint.
        if signal.SIGTERM in self.preemption_signals:
            self._install(signal.SIGTERM)

    def _install(self, signum: int) -> None:
        try:
            signal.signal(signum, self._on_signal)
        except ValueError:  # not the main thread: signals cannot be handled here
            log.warning("cannot handle %s outside the main thread", signal.Signals(signum).name)

    def _on_signal(self, signum: int, frame) -> None:
        if self._signal_received is None:
            log.warning(
                "%s received: saving at the end of this step, then stopping",
                signal.Signals(signum).name,
            )
        self._signal_received = signum

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        for signum, handler in self._previous_handlers.items():
            if handler is not None:
                signal.signal(signum, handler)
        self._previous_handlers = {}

    # ------------------------------------------------------------------ when to save

    def _preempted(self, trainer: Trainer) -> bool:
        """Whether any rank received a preemption signal (all ranks agree, so all save)."""
        flag = self._signal_received is not None
        return bool(trainer.strategy.reduce_boolean_decision(flag, all=False))

    @staticmethod
    def _validates_now(trainer: Trainer) -> bool:
        """Whether a validation runs at the end of the current training step."""
        loop = trainer.fit_loop.epoch_loop
        if loop._skip_next_val:
            return False
        return loop._should_check_val_fx(trainer.fit_loop._data_fetcher)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        preempted = self._preempted(trainer)
        if self._validates_now(trainer) or self._should_skip_saving_checkpoint(trainer):
            self._preempt_pending = preempted
            return  # saved after the validation, with its score
        every = self._every_n_train_steps
        if preempted or (every >= 1 and trainer.global_step % every == 0):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
        if preempted:
            self._stop(trainer)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or self._should_skip_saving_checkpoint(trainer):
            return
        candidates = self._monitor_candidates(trainer)
        self._save_topk_checkpoint(trainer, candidates)
        self._save_last_checkpoint(trainer, candidates)
        pending, self._preempt_pending = self._preempt_pending, False
        if pending or self._preempted(trainer):
            self._stop(trainer)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        pass  # every step that needs it has been saved at its end

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # The final step always has a checkpoint, so the next start knows training is over.
        if not trainer.fast_dev_run and self._last_global_step_saved != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint):
        # Rows logged up to this step reach the disk with the checkpoint (see vsr.callbacks.csv_log).
        rows = {}
        for logger in trainer.loggers if trainer.is_global_zero else ():
            logger.save()
            if hasattr(logger, "rows_written"):
                rows[logger.name] = logger.rows_written()
        checkpoint["log_rows"] = rows
        return super().on_save_checkpoint(trainer, pl_module, checkpoint)

    def on_load_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint):
        # Rows logged after this checkpoint will be logged again by the resumed run.
        for logger in trainer.loggers if trainer.is_global_zero else ():
            rows = (checkpoint.get("log_rows") or {}).get(logger.name)
            if rows is not None and hasattr(logger, "rewind"):
                logger.rewind(rows)
        return super().on_load_checkpoint(trainer, pl_module, checkpoint)

    # ------------------------------------------------------------------ preemption

    def _stop(self, trainer: Trainer) -> None:
        signum = self._signal_received or signal.SIGTERM
        path = self.last_model_path or None
        previous = self._previous_handlers.get(signum)
        if callable(previous):
            previous(signum, None)  # e.g. submitit's: requeues the job, may exit
        elif self.requeue and signum != signal.SIGTERM and trainer.is_global_zero:
            requeue_slurm_job()
        raise Preempted(signum, path)


def requeue_slurm_job() -> bool:
    """`scontrol requeue` this SLURM job (array task included); False outside SLURM."""
    array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array_job is not None:
        job = f"{array_job}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    else:
        job = os.environ.get("SLURM_JOB_ID")
    if not job:
        return False
    result = subprocess.run(["scontrol", "requeue", job], check=False)
    if result.returncode == 0:
        log.info("requeued SLURM job %s", job)
    else:
        log.warning("scontrol requeue %s failed (exit %d)", job, result.returncode)
    return result.returncode == 0


def read_checkpoint(path: str | os.PathLike) -> Mapping:
    """One of our Lightning checkpoints (only the tensors' headers are read), or an error."""
    return read_checkpoint_file(path, "cpu", trusted=True, mmap=True)


def newest_readable(dirpath: str | os.PathLike) -> tuple[str | None, list[str]]:
    """The readable checkpoint of `dirpath` with the highest step, and those that are not.

    `last.ckpt` is written with every save, so when it loads it is the newest and nothing else
    is read; a `last.ckpt` truncated by a full disk (or any unreadable file) is passed over for
    the step checkpoint with the highest step that loads.
    """
    dirpath = Path(dirpath)
    candidates = sorted(dirpath.glob("*.ckpt"), key=lambda p: (p.name != "last.ckpt", p.name))
    best, best_step, unreadable = None, -1, []
    for path in candidates:
        if path.name.startswith("nonfinite_"):
            continue
        try:
            step = int(read_checkpoint(path)["global_step"])
        except Exception as err:
            log.warning("checkpoint %s cannot be read (%s)", path, err)
            unreadable.append(str(path))
            continue
        if path.name == "last.ckpt":
            return str(path), unreadable
        if step > best_step:
            best, best_step = str(path), step
    return best, unreadable


def resume_path(ckpt_path: str | None, output_dir: str | os.PathLike) -> str | None:
    """The checkpoint a run starts from: `ckpt_path`, or for `last` the newest readable one
    of the run directory (None: a fresh start).

    An unreadable `last.ckpt` is reported by name and the newest step checkpoint that loads is
    used; if none loads, this stops with what to do instead of silently starting over.
    """
    if ckpt_path != "last":
        if ckpt_path and not Path(ckpt_path).is_file():
            raise FileNotFoundError(f"ckpt_path={ckpt_path} does not exist")
        return ckpt_path
    folder = Path(output_dir) / "checkpoints"
    if not folder.is_dir():
        return None
    path, unreadable = newest_readable(folder)
    if unreadable and path is None:
        raise RuntimeError(
            f"no checkpoint of {folder} can be read ({', '.join(unreadable)}): move them away "
            "and run again to start afresh, or give ckpt_path=<a good checkpoint>"
        )
    if unreadable:
        log.warning("cannot read %s; resuming from %s instead", ", ".join(unreadable), path)
    return path


def check_resume_fits(ckpt_path: str | os.PathLike, generator: torch.nn.Module) -> None:
    """The run directory's checkpoint must hold the configured network, or say clearly why not."""
    try:
        state = read_checkpoint(ckpt_path)
        check_fits(generator, generator_state_dict(state, ema=False), str(ckpt_path))
    except CheckpointError as err:
        raise CheckpointError(
            f"cannot resume from {ckpt_path}: it holds another architecture than the config "
            f"asks for ({err}). Use another run_name, or ckpt_path=null to start afresh."
        ) from None
