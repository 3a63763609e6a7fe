"""Fault injection helpers for the reliability tests: real processes, real SIGKILLs."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

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
