"""A run killed at random moments (or preempted) and restarted with the same command ends as the
same run never interrupted: weights, EMA, optimizer, schedule, CSV rows, checkpoint scores.

The run: EMA on, a validation every 3 steps, a checkpoint every step, 4-step epochs (so
restarts land mid-epoch, at epoch ends and at validations) and SPyNet unfrozen at step 4.
On the CPU with one thread the kernels are deterministic: the comparison is bit-exact.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from faults import (
    STEPS,
    assert_same_run,
    exact_run_args,
    load,
    rows,
    step_of,
    vsr_train_process,
    wait_for,
)


@pytest.fixture(scope="module")
def uninterrupted(demo_root, tmp_path_factory) -> Path:
    logs = tmp_path_factory.mktemp("uninterrupted")
    proc = vsr_train_process(exact_run_args(demo_root, logs), logs / "train.log")
    assert proc.wait(timeout=600) == 0, (logs / "train.log").read_text()[-3000:]
    return logs / "train" / "demo"


def test_every_checkpoint_holds_its_own_steps_validation(uninterrupted):
    history = rows(uninterrupted)
    val_rows = {int(r["step"]): float(r["val/psnr"]) for r in history if r["val/psnr"]}
    # Validations at steps 3, 6, 9, 12 (Lightning's logged step is the one before the update).
    assert sorted(val_rows) == [2, 5, 8, 11]
    kept = sorted((uninterrupted / "checkpoints").glob("step_*.ckpt"))
    assert len(kept) == 2
    best_two = sorted(val_rows.values(), reverse=True)[:2]
    for path in kept:
        ckpt = load(path)
        assert ckpt["validation"]["step"] == ckpt["global_step"]
        assert ckpt["validation"]["val/psnr"] == pytest.approx(val_rows[ckpt["global_step"] - 1])
    assert sorted(load(p)["validation"]["val/psnr"] for p in kept) == pytest.approx(
        sorted(best_two)
    )
    last = load(uninterrupted / "checkpoints" / "last.ckpt")
    assert last["validation"]["step"] == STEPS  # validated at its own step (12)


def test_sigkill_at_random_moments_then_the_same_command_ends_equal(
    uninterrupted, demo_root, tmp_path
):
    args = exact_run_args(demo_root, tmp_path / "logs")
    run_dir = tmp_path / "logs" / "train" / "demo"
    last = run_dir / "checkpoints" / "last.ckpt"
    log = tmp_path / "train.log"
    rng = random.Random(1)
    killed_at = []
    for _ in range(3):
        start = step_of(last) if last.exists() else -1
        if start >= STEPS:
            break  # killed after its last step: nothing more to interrupt
        proc = vsr_train_process(args, log)
        assert wait_for(lambda s=start: last.exists() and step_of(last) > s, timeout=300), (
            log.read_text()[-3000:]
        )
        wait_for(lambda: False, timeout=rng.uniform(0.0, 1.5))
        if proc.poll() is not None:
            break  # finished before the kill: nothing more to interrupt
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed_at.append(step_of(last))
    assert killed_at and killed_at[0] < STEPS
    proc = vsr_train_process(args, log)
    assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]
    assert log.read_text().count("resuming from") == len(killed_at)
    assert_same_run(uninterrupted, run_dir)


@pytest.mark.parametrize(
    ("signum", "requeued"), [(signal.SIGUSR1, ["requeue", "4242"]), (signal.SIGTERM, [])]
)
def test_a_preemption_signal_saves_requeues_and_resumes_exactly(
    signum, requeued, uninterrupted, demo_root, tmp_path
):
    """SIGUSR1 (SLURM's warning before the time limit) requeues the job; SIGTERM (a stop or a
    preemption SLURM requeues itself) does not. Both save at the end of the step and stop."""
    # A stand-in for SLURM's scontrol that records how it was called.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "scontrol.calls"
    scontrol = bin_dir / "scontrol"
    scontrol.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    scontrol.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_JOB_ID": "4242"}
    env = {**env, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    args = exact_run_args(demo_root, tmp_path / "logs")
    run_dir = tmp_path / "logs" / "train" / "demo"
    last = run_dir / "checkpoints" / "last.ckpt"
    log = tmp_path / "train.log"
    cmd = [sys.executable, "-m", "vsr.cli.train", *args]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        # Step 5 is mid-epoch (epoch 1 runs steps 5-8) and not a validation step.
        assert wait_for(lambda: last.exists() and step_of(last) >= 5, timeout=300)
        proc.send_signal(signum)
        assert proc.wait(timeout=300) == 128 + signum, log.read_text()[-3000:]
    assert step_of(last) < STEPS
    assert (calls.read_text().split() if calls.exists() else []) == requeued
    assert f"stopped on {signal.Signals(signum).name} after saving" in log.read_text()
    # The requeued (or restarted) job: the same command.
    with log.open("ab") as out:
        assert subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env).returncode == 0
    assert_same_run(uninterrupted, run_dir)


@pytest.mark.distributed
def test_ddp_two_gloo_ranks_killed_and_resumed_end_equal(demo_root, tmp_path):
    ddp = [
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "+trainer.strategy.process_group_backend=gloo",
        "data.samples_per_epoch=8",  # 4 steps an epoch on each of the 2 ranks
    ]
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}

    def start(log_dir: Path, log: Path) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "vsr.cli.train", *exact_run_args(demo_root, log_dir, *ddp)]
        # Own session: a kill takes the rank processes Lightning starts with it.
        return subprocess.Popen(
            cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env, start_new_session=True
        )

    expected = start(tmp_path / "a", tmp_path / "a.log")
    assert expected.wait(timeout=900) == 0, (tmp_path / "a.log").read_text()[-3000:]
    run_dir = tmp_path / "b" / "train" / "demo"
    last = run_dir / "checkpoints" / "last.ckpt"
    proc = start(tmp_path / "b", tmp_path / "b.log")
    assert wait_for(lambda: last.exists() and step_of(last) >= 5, timeout=600)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert step_of(last) < STEPS
    resumed = start(tmp_path / "b", tmp_path / "b.log")
    assert resumed.wait(timeout=900) == 0, (tmp_path / "b.log").read_text()[-3000:]
    assert_same_run(tmp_path / "a" / "train" / "demo", run_dir)
