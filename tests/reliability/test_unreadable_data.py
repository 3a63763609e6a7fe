"""A data file that becomes unreadable while training runs is reported with its path."""

import shutil

from faults import vsr_train_process, wait_for


def test_frames_corrupted_mid_run_are_named(tiny_run, demo_root, tmp_path):
    root = tmp_path / "demo"
    shutil.copytree(demo_root, root)
    args = [a for a in tiny_run if not a.startswith("data.root=")]
    args += [
        f"data.root={root}",
        "trainer.max_steps=1000",
        "callbacks.model_checkpoint.every_n_train_steps=1",
        "callbacks.sample_images=null",
    ]
    log = tmp_path / "train.log"
    proc = vsr_train_process(args, log)
    last = tmp_path / "logs" / "train" / "demo" / "checkpoints" / "last.ckpt"
    try:
        assert wait_for(last.exists, timeout=300), log.read_text()[-3000:]  # training runs
        # The scan at start-up passed; now the training clip's frames go bad on disk.
        for frame in sorted((root / "train_sharp" / "001").glob("*.png")) + sorted(
            (root / "train_sharp_bicubic" / "X4" / "001").glob("*.png")
        ):
            frame.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
        assert proc.wait(timeout=300) != 0
    finally:
        proc.kill()
    text = log.read_text()
    assert str(root / "train_sharp") in text or str(root / "train_sharp_bicubic") in text
    assert "001" in text
