"""Inject the reliability faults many times and print the table of docs/reliability.md.

    python scripts/reliability_campaign.py --kills 20 --train-kills 5

Uses the fault helpers of tests/reliability (real processes, real SIGKILLs).
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "reliability"))
sys.path.insert(0, str(ROOT / "tests"))

from faults import (  # noqa: E402
    STEPS,
    assert_same_run,
    exact_run_args,
    kill_saver_repeatedly,
    step_of,
    vsr_train_process,
    wait_for,
)

from tinyrun import TINY_DEMO  # noqa: E402


def train_kills(work: Path, kills: int, seed: int = 0) -> dict:
    """An uninterrupted run, then the same run SIGKILLed `kills` times at random moments and
    restarted each time with the same command; the two must end equal (`assert_same_run`)."""
    from vsr.data.demo import DemoConfig, build_demo

    demo = build_demo(work / "demo", DemoConfig(**TINY_DEMO))
    proc = vsr_train_process(exact_run_args(demo, work / "expected"), work / "expected.log")
    assert proc.wait(timeout=1200) == 0, "the uninterrupted run failed"
    args = exact_run_args(demo, work / "logs")
    run_dir = work / "logs" / "train" / "demo"
    last = run_dir / "checkpoints" / "last.ckpt"
    log = work / "train.log"
    rng = random.Random(seed)
    injected = survived = 0
    while injected < kills:
        start = step_of(last) if last.exists() else -1
        if start >= STEPS:  # the run got to its end before a kill: start it over
            shutil.rmtree(work / "logs")
            continue
        proc = vsr_train_process(args, log)
        wait_for(lambda s=start: last.exists() and step_of(last) > s, timeout=600)
        wait_for(lambda: False, timeout=rng.uniform(0.0, 1.5))
        if proc.poll() is not None:  # the run ended before the kill: start it over
            shutil.rmtree(work / "logs")
            continue
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        injected += 1
        try:
            step_of(last)
            survived += 1
        except Exception:
            pass
    proc = vsr_train_process(args, log)
    finished = proc.wait(timeout=1200) == 0
    try:
        assert_same_run(work / "expected" / "train" / "demo", run_dir)
        lost = "none: weights, EMA, optimizer, schedule, CSV rows and scores equal to the bit"
    except AssertionError as err:
        lost = f"differs: {err}"
    return {"kills": injected, "survived": survived, "lost": lost, "finished": finished}


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
        f"| SIGKILL of vsr-train at random moments, then the same command, against an uninterrupted run | {training['kills']} | {training['survived']} | {training['lost']} (finished: {training['finished']}) |"
    )


if __name__ == "__main__":
    main()
