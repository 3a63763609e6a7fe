"""vsr-train restarted in the same run directory: longer schedules, unreadable checkpoints,
leftover temporary files, loggers that keep their history, and per-set test scores."""

from __future__ import annotations

import csv
import math

import pytest
import torch
from test_train import last_checkpoint, vsr_train


def csv_rows(run_dir):
    with open(run_dir / "csv" / "metrics.csv", newline="") as file:
        return list(csv.DictReader(file))


def test_training_longer_continues_the_schedule_and_keeps_the_history(tiny_run, tmp_path):
    args = [*tiny_run, "model.ema_decay=0.9", "callbacks.sample_images=null"]
    vsr_train(*args, "trainer.max_steps=2")
    run_dir = tmp_path / "logs" / "train" / "demo"
    first = last_checkpoint(run_dir)
    rows_before = csv_rows(run_dir)
    assert [r["step"] for r in rows_before if r["train/loss"]] == ["0", "1"]
    result = vsr_train(*args, "trainer.max_steps=6")
    assert "resuming from" in result.stdout + result.stderr
    ckpt = last_checkpoint(run_dir)
    assert ckpt["global_step"] == 6
    # The first run's schedule ended at eta_min (1e-7) at step 2; training longer goes on
    # from there (no jump back to the base rate) and stays at eta_min.
    lrs = [float(r["lr-Adam/main"]) for r in csv_rows(run_dir) if r["lr-Adam/main"]]
    assert len(lrs) == 6
    assert lrs[:2] == pytest.approx([2e-3, 2e-3 * 0.5 * (1 + math.cos(math.pi / 2)) + 1e-7 / 2])
    assert lrs[2:] == pytest.approx([1e-7] * 4)
    # The CSV kept the first run's rows; the EMA went on averaging (one update per step).
    assert csv_rows(run_dir)[: len(rows_before)] == rows_before
    assert int(first["state_dict"]["generator_ema.n_averaged"]) == 2
    assert int(ckpt["state_dict"]["generator_ema.n_averaged"]) == 6


def test_an_unreadable_last_checkpoint_is_named_and_the_newest_good_one_used(tiny_run, tmp_path):
    import subprocess
    import sys

    args = [*tiny_run, "callbacks.sample_images=null"]
    vsr_train(*args, "trainer.max_steps=2")  # validates (and saves step_0000002) at step 2
    ckpt_dir = tmp_path / "logs" / "train" / "demo" / "checkpoints"
    last = ckpt_dir / "last.ckpt"
    last.write_bytes(last.read_bytes()[:1000])  # truncated, as by a full disk
    (ckpt_dir / ".last.ckpt.x1y2.tmp").write_bytes(b"left by a killed write")
    result = vsr_train(*args, "trainer.max_steps=4")
    text = result.stdout + result.stderr
    assert f"cannot read {last}; resuming from {ckpt_dir / 'step_0000002.ckpt'}" in text
    assert last_checkpoint(tmp_path / "logs" / "train" / "demo")["global_step"] == 4
    assert not list(ckpt_dir.glob(".*.tmp"))
    # With no readable checkpoint at all the run stops and says what to do.
    for path in ckpt_dir.glob("*.ckpt"):
        path.write_bytes(b"garbage")
    out = subprocess.run(
        [sys.executable, "-m", "vsr.cli.train", *args, "trainer.max_steps=6"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode != 0
    assert f"no checkpoint of {ckpt_dir} can be read" in out.stderr
    assert "ckpt_path=<a good checkpoint>" in out.stderr
    assert all(p.read_bytes() == b"garbage" for p in ckpt_dir.glob("*.ckpt"))  # none overwritten


def test_a_resumed_wandb_offline_run_is_the_same_run(tiny_run, tmp_path):
    args = [*tiny_run, "logger=[csv,wandb]", "callbacks.sample_images=null"]
    vsr_train(*args, "trainer.max_steps=1", env={"WANDB_MODE": "offline"})
    vsr_train(*args, "trainer.max_steps=2", env={"WANDB_MODE": "offline"})
    run_dir = tmp_path / "logs" / "train" / "demo"
    run_id = (run_dir / "wandb_run_id.txt").read_text().strip()
    runs = sorted((run_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 2  # one directory per start, both for the same run id
    assert [r.name.rsplit("-", 1)[1] for r in runs] == [run_id, run_id]
    assert [len(list(r.glob(f"run-{run_id}.wandb"))) for r in runs] == [1, 1]


def test_tensorboard_logs_scalars_across_a_restart(tiny_run, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    args = [*tiny_run, "logger=[csv,tensorboard]", "callbacks.sample_images=null"]
    vsr_train(*args, "trainer.max_steps=2")
    vsr_train(*args, "trainer.max_steps=3")
    steps = []
    for events in sorted((tmp_path / "logs" / "train" / "demo" / "tensorboard").glob("events.*")):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        steps += [e.step for e in accumulator.Scalars("train/loss")]
    assert sorted(steps) == [0, 1, 2]


def test_each_test_set_is_reported_on_its_own(tiny_datamodule):
    import lightning as L

    from vsr.models import VSRModule
    from vsr.nn import BasicVSRPlusPlus

    torch.manual_seed(0)
    sets = [
        {"name": "A", "split": "reds4_val", "clips": ["000"], "max_frames": 3},
        {"name": "B", "split": "reds4_val", "clips": ["011", "015"], "max_frames": 3},
    ]
    module = VSRModule(BasicVSRPlusPlus(8, 1))
    trainer = L.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    # One result per test set's loader, each holding every set's numbers.
    results = trainer.test(module, datamodule=tiny_datamodule(test_sets=sets))
    result = results[0]
    assert all(r == result for r in results)
    assert set(result) == {"test/A/psnr", "test/A/ssim", "test/B/psnr", "test/B/ssim"}
    # Each set alone gives its own number.
    (alone,) = trainer.test(module, datamodule=tiny_datamodule(test_sets=sets[1:]))
    assert alone["test/B/psnr"] == pytest.approx(result["test/B/psnr"], abs=1e-9)
    assert result["test/A/psnr"] != pytest.approx(result["test/B/psnr"])
