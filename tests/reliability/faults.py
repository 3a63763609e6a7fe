"""Fault injection helpers for the reliability tests: real processes, real SIGKILLs, and the\nrun whose interrupted and uninterrupted versions are compared (`exact_run_args`)."""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from tinyrun import tiny_run_overrides

# A child that writes checkpoints of alternating content to one path forever.
SAVER = """
import sys, torch
from vsr.callbacks import atomic_torch_save
path, atomic = sys.argv[1], sys.argv[2] == "1"
blobs = [{"version": v, "weights": torch.full((4_000_000,), float(v))} for v in (1, 2)]
i = 0
while True:
    blob = blobs[i % 2]
    if atomic:
        atomic_torch_save(blob, path)
    else:
        torch.save(blob, path)
    i += 1
"""


def checkpoint_is_whole(path: Path) -> bool:
    """True if the file loads and its content is one of the versions the saver writes."""
    try:
        blob = torch.load(path, weights_only=True)
    except Exception:
        return False
    return bool((blob["weights"] == float(blob["version"])).all())


def kill_saver_repeatedly(path: Path, atomic: bool, kills: int, seed: int = 0) -> dict:
    """Start the saver, SIGKILL it at random moments `kills` times; count whole files."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    whole = 0
    for _ in range(kills):
        proc = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(path), "1" if atomic else "0"],
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        # Let it get going (imports, first complete save), then kill at a random moment.
        deadline = time.time() + 60
        while not path.exists() and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        whole += checkpoint_is_whole(path)
    return {"kills": kills, "whole": whole}


def vsr_train_process(args: list[str], log: Path) -> subprocess.Popen:
    """Start `vsr-train ARGS` in its own process, output to `log`."""
    return subprocess.Popen(
        [sys.executable, "-m", "vsr.cli.train", *args],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"},
    )


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


# The run of the exact-resume checks: EMA on, a validation every 3 steps, a checkpoint every
# step, 4-step epochs (restarts land mid-epoch, at epoch ends and at validations), SPyNet
# unfrozen at step 4.
STEPS = 12


def exact_run_args(demo_root: Path, log_dir: Path, *extra: str) -> list[str]:
    return [
        *tiny_run_overrides(demo_root, log_dir),
        "callbacks.sample_images=null",
        "callbacks.model_checkpoint.every_n_train_steps=1",
        "callbacks.model_checkpoint.save_top_k=2",
        f"trainer.max_steps={STEPS}",
        "data.samples_per_epoch=4",
        "trainer.val_check_interval=3",
        "trainer.check_val_every_n_epoch=null",
        "model.ema_decay=0.9",
        "model.fix_flow_iters=4",
        *extra,
    ]


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def step_of(path: Path) -> int:
    return load(path)["global_step"]


def rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "csv" / "metrics.csv", newline="") as file:
        return list(csv.DictReader(file))


def assert_same_run(expected: Path, actual: Path) -> None:
    """Same final state and history, to the bit (raises AssertionError naming what differs)."""
    a, b = (load(d / "checkpoints" / "last.ckpt") for d in (expected, actual))
    assert a["global_step"] == b["global_step"] == STEPS
    assert a["state_dict"].keys() == b["state_dict"].keys()
    assert any(k.startswith("generator_ema.module.") for k in a["state_dict"])
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key
    opt_a, opt_b = a["optimizer_states"][0], b["optimizer_states"][0]
    assert opt_a["param_groups"] == opt_b["param_groups"]  # learning rates included
    for index, state in opt_a["state"].items():
        for name, value in state.items():
            assert torch.equal(value, opt_b["state"][index][name]), (index, name)
    assert a["lr_schedulers"] == b["lr_schedulers"]
    assert rows(expected) == rows(actual)
    # The validated checkpoints kept are the same files with the same, own scores.
    names = sorted(p.name for p in (expected / "checkpoints").glob("step_*.ckpt"))
    assert names == sorted(p.name for p in (actual / "checkpoints").glob("step_*.ckpt"))
    for name in names:
        assert (
            load(expected / "checkpoints" / name)["validation"]
            == load(actual / "checkpoints" / name)["validation"]
        )
    assert not list((actual / "checkpoints").glob(".*.tmp")), "temporary files left behind"
