"""Bad settings fail at once, with one message naming the setting, before anything heavy."""

import os
import re
import subprocess
import sys

import pytest

from vsr.config import ConfigError, check_train_config, config_dir
from vsr.data import DataError


def run(args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "vsr.cli.train", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"},
    )


def composed(overrides):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return compose("train", overrides=overrides)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "data.gt_patch_size=30",
            "data.gt_patch_size=30: must be a positive multiple of data.scale=4",
        ),
        ("data.batch_size=0", "data.batch_size=0: must be a whole number >= 1"),
        ("model.generator.scale=2", "model.generator.scale=2 but data.scale=4"),
        ("trainer.max_steps=0", "trainer.max_steps=0: nothing to train"),
    ],
)
def test_bad_setting_is_one_clear_error(tiny_run, override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_train_config(composed([*tiny_run, override]))
    check_train_config(composed(tiny_run))  # the same run without the bad setting is fine


def test_unknown_keys_are_errors(tiny_run):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="no_such_setting"):
        composed([*tiny_run, "model.no_such_setting=1"])


def test_several_problems_are_reported_together(tiny_run, tmp_path):
    args = [*tiny_run, "data.gt_patch_size=30", "data.batch_size=0", "data.root=/no/such/dir"]
    args = [a for a in args if not a.startswith("data.demo")] + ["~data.demo"]
    out = run(args, tmp_path)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    for part in (
        "data.gt_patch_size=30",
        "data.batch_size=0",
        "data.root=/no/such/dir does not exist",
    ):
        assert part in text


def test_more_frames_than_the_clips_have(tiny_run, demo_root, tmp_path):
    from vsr.data.splits import REDS4_CLIPS

    out = run([*tiny_run, "data.num_frames=50"], tmp_path)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    # The training clips (all but REDS4) and how many frames each has on disk.
    clips = sorted(
        d for d in (demo_root / "train_sharp").iterdir() if d.is_dir() and d.name not in REDS4_CLIPS
    )
    assert clips
    lines = [f"{len(clips)} problem(s) with the dataset at {demo_root}:"]
    for clip in clips:
        frames = len(list(clip.glob("*.png")))
        assert 0 < frames < 50
        lines.append(f"  - clip {clip.name} has {frames} frames, fewer than num_frames=50 ({clip})")
    # The error itself, whole (the printed config holds "50" too).
    error = re.escape(f"{DataError.__module__}.DataError: " + "\n".join(lines))
    assert re.search(f"^{error}$", text, re.MULTILINE), text[-3000:]
    # It failed in setup, before the first step: no checkpoint anywhere under the run dir.
    run_dir = tmp_path / "logs" / "train" / "demo"
    assert (run_dir / "config.yaml").exists()  # the run dir is where we look
    checkpoints = run_dir / "checkpoints"
    assert not checkpoints.exists() or not any(checkpoints.iterdir())
    assert not list((tmp_path / "logs").rglob("*.ckpt"))


def test_resuming_a_run_of_another_architecture_is_refused(tiny_run, tmp_path):
    first = run([*tiny_run, "trainer.max_steps=1"], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    second = run([*tiny_run, "trainer.max_steps=2", "model.generator.mid_channels=16"], tmp_path)
    assert second.returncode != 0
    text = second.stdout + second.stderr
    assert "holds another architecture" in text and "Wrong shapes" in text
