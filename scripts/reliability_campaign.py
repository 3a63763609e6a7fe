"""Inject the reliability faults many times and print the table of docs/reliability.md.

    python scripts/reliability_campaign.py --kills 20 --train-kills 5

Uses the fault helpers of tests/reliability (real processes, real SIGKILLs).
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "reliability"))
sys.path.insert(0, str(ROOT / "tests"))

from faults import kill_saver_repeatedly, vsr_train_process, wait_for  # noqa: E402

from conftest import TINY_DEMO, tiny_run_overrides  # noqa: E402


def tiny_args(demo: Path, logs: Path, steps: int) -> list[str]:
    """The tests' tiny run, checkpointing every step."""
    return [
        *tiny_run_overrides(demo, logs),
        "callbacks.sample_images=null",
        "callbacks.model_checkpoint.every_n_train_steps=1",
        f"trainer.max_steps={steps}",
    ]


def train_kills(work: Path, kills: int, steps: int = 10, seed: int = 0) -> dict:
    from vsr.data.demo import DemoConfig, build_demo

    demo = build_demo(work / "demo", DemoConfig(**TINY_DEMO))
    args = tiny_args(demo, work / "logs", steps)
    last = work / "logs" / "train" / "demo" / "checkpoints" / "last.ckpt"
    log = work / "train.log"
    rng = random.Random(seed)

    def step() -> int:
        return torch.load(last, map_location="cpu", weights_only=False)["global_step"]

    survived = lost = 0
    for _ in range(kills):
        start = step() if last.exists() else -1
        proc = vsr_train_process(args, log)
        wait_for(lambda s=start: last.exists() and step() > s, timeout=600)
        wait_for(lambda: False, timeout=rng.uniform(0.0, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        try:
            before = step()
            survived += 1
            lost += before < start  # a checkpoint older than the one before the kill
        except Exception:
            lost += 1
    proc = vsr_train_process(args, log)
    finished = proc.wait(timeout=1200) == 0 and step() == steps
    return {"kills": kills, "survived": survived, "lost": lost, "finished": finished}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--kills", type=int, default=20, help="SIGKILLs of a process saving checkpoints"
    )
    parser.add_argument("--train-kills", type=int, default=5, help="SIGKILLs of vsr-train")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        atomic = kill_saver_repeatedly(tmp / "a" / "last.ckpt", atomic=True, kills=args.kills)
        plain = kill_saver_repeatedly(
            tmp / "p" / "last.ckpt", atomic=False, kills=args.kills, seed=1
        )
        training = train_kills(tmp / "t", args.train_kills)
    print("| fault | injected | survived | data lost |")
    print("|---|---:|---:|---|")
    print(
        f"| SIGKILL while writing checkpoints (atomic writes) | {atomic['kills']} | {atomic['whole']} | {atomic['kills'] - atomic['whole']} checkpoints |"
    )
    print(
        f"| same, plain `torch.save` (control, not used by vsr) | {plain['kills']} | {plain['whole']} | {plain['kills'] - plain['whole']} checkpoints truncated |"
    )
    print(
        f"| SIGKILL of vsr-train at random moments, then the same command | {training['kills']} | {training['survived']} | {training['lost']} (run finished at its max_steps: {training['finished']}) |"
    )


if __name__ == "__main__":
    main()
