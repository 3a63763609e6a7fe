"""Training killed with SIGKILL at random moments resumes from its last good checkpoint."""

import random
import signal

import torch
from faults import vsr_train_process, wait_for

MAX_STEPS = 40  # room for two kills before the run could end on its own


def step_of(path) -> int:
    return torch.load(path, map_location="cpu", weights_only=False)["global_step"]


def test_sigkill_then_the_same_command_finishes_the_run(tiny_run, tmp_path):
    args = [
        *tiny_run,
        f"trainer.max_steps={MAX_STEPS}",
        "callbacks.model_checkpoint.every_n_train_steps=1",  # checkpoints written all the time
        "callbacks.sample_images=null",
    ]
    ckpt_dir = tmp_path / "logs" / "train" / "demo" / "checkpoints"
    last = ckpt_dir / "last.ckpt"
    log = tmp_path / "train.log"
    rng = random.Random(0)
    seen_steps = []
    for _ in range(2):
        proc = vsr_train_process(args, log)
        start = step_of(last) if last.exists() else -1
        # Wait until this run has written at least one checkpoint of its own, then kill it
        # at a random moment (possibly in the middle of the next write).
        assert wait_for(lambda s=start: last.exists() and step_of(last) > s, timeout=300), (
            log.read_text()[-3000:]
        )
        assert proc.poll() is None, "the run ended before it could be killed"
        wait_for(lambda: False, timeout=rng.uniform(0.0, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        seen_steps.append(step_of(last))  # loads: never truncated
    assert seen_steps[1] >= seen_steps[0] > 0

    proc = vsr_train_process(args, log)
    assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]
    assert step_of(last) == MAX_STEPS
    text = log.read_text()
    assert text.count("resuming from") >= 2
    # Every checkpoint left behind loads.
    for path in ckpt_dir.glob("*.ckpt"):
        step_of(path)
