"""The tests' tiny training run: demo data and vsr-train overrides small enough for CI."""

from __future__ import annotations

from pathlib import Path

# A demo data set small enough for a training step in about a second: 5 clips (REDS4 names +
# one training clip) x 6 frames of 32x32.
TINY_DEMO = {"num_clips": 5, "num_frames": 6, "height": 32, "width": 32, "seed": 0}


def tiny_run_overrides(demo_root: Path, log_dir: Path) -> list[str]:
    demo = [f"data.demo.{k}={v}" for k, v in TINY_DEMO.items()]
    return [
        "experiment=demo",
        f"data.root={demo_root}",
        *demo,
        "data.num_frames=3",
        "data.gt_patch_size=32",
        "data.batch_size=1",
        "data.num_workers=0",
        "data.samples_per_epoch=2",
        "data.val_sets=[{name: REDS4, split: reds4_val, clips: ['000'], max_frames: 3}]",
        "model.generator.mid_channels=8",
        "model.generator.num_blocks=1",
        "trainer.log_every_n_steps=1",
        "callbacks.progress_bar=null",
        "callbacks.model_summary=null",
        f"paths.log_dir={log_dir}",
    ]
