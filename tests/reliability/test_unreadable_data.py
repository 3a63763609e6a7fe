"""A data file that becomes unreadable while training runs is reported with its path."""

import os
import re
import shutil
import signal

import torch
from faults import vsr_train_process, wait_for


def global_steps(checkpoints) -> dict[str, int]:
    """`global_step` of every checkpoint file in a folder (each must load)."""
    return {
        p.name: torch.load(p, map_location="cpu", weights_only=False)["global_step"]
        for p in sorted(checkpoints.glob("*.ckpt"))
    }


def test_frames_corrupted_mid_run_are_named(tiny_run, demo_root, tmp_path):
    root = tmp_path / "demo"
    shutil.copytree(demo_root, root)
    args = [a for a in tiny_run if not a.startswith("data.root=")]
    args += [
        f"data.root={root}",
        "trainer.max_steps=1000",
        "callbacks.model_checkpoint.every_n_train_steps=1",
        # Keep every checkpoint, so that all those written before the corruption must remain.
        "callbacks.model_checkpoint.save_top_k=-1",
        "callbacks.sample_images=null",
    ]
    # The training clip's frames (GT and stored low-res), the only clip a training step reads.
    corrupted = sorted((root / "train_sharp" / "001").glob("*.png")) + sorted(
        (root / "train_sharp_bicubic" / "X4" / "001").glob("*.png")
    )
    assert corrupted
    log = tmp_path / "train.log"
    proc = vsr_train_process(args, log)
    checkpoints = tmp_path / "logs" / "train" / "demo" / "checkpoints"
    try:
        # Training runs: last.ckpt and a step checkpoint (written from the first validation on).
        assert wait_for(
            lambda: (checkpoints / "last.ckpt").exists() and any(checkpoints.glob("step_*.ckpt")),
            timeout=300,
        ), log.read_text()[-3000:]
        # The scan at start-up passed; now the training clip's frames go bad on disk, all at
        # once for the paused run (no read between two corrupted files, no checkpoint written
        # while the ones before are recorded).
        proc.send_signal(signal.SIGSTOP)
        try:
            _, status = os.waitpid(proc.pid, os.WUNTRACED)
            assert os.WIFSTOPPED(status), log.read_text()[-3000:]
            before = global_steps(checkpoints)
            for frame in corrupted:
                frame.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
        finally:
            proc.send_signal(signal.SIGCONT)
        assert proc.wait(timeout=300) != 0
    finally:
        proc.kill()
    text = log.read_text()

    # The run failed on the decode error of one of the corrupted frames, named by its full path:
    # the exception that ended it (the first unindented line of the last traceback).
    last_traceback = text.rsplit("Traceback (most recent call last):", 1)[-1]
    error = next(line for line in last_traceback.splitlines() if line and not line[0].isspace())
    match = re.fullmatch(r"OSError: cannot decode frame (?P<path>.+\.png): \w+: .+", error)
    assert match, text[-3000:]
    assert match["path"] in {str(p) for p in corrupted}, error

    # The checkpoints written before the corruption are all there and whole.
    assert "last.ckpt" in before and any(n.startswith("step_") for n in before)
    after = global_steps(checkpoints)
    for name, step in before.items():
        assert name in after, f"{name} is gone"
        if name != "last.ckpt":  # written once
            assert after[name] == step, name
    # last.ckpt may have advanced (a step finished after the pause) but never gone back.
    assert after["last.ckpt"] >= before["last.ckpt"]
    last = torch.load(checkpoints / "last.ckpt", map_location="cpu", weights_only=False)
    assert last["state_dict"] and all(torch.isfinite(v).all() for v in last["state_dict"].values())
    assert not list(checkpoints.glob(".*.tmp"))  # no half-written checkpoint left behind
