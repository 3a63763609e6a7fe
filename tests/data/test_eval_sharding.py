"""Validation/test clips are split over ranks without repeats: every clip is scored once,
and every rank runs the same number of batches (padding items are run, not scored).

Run as a script, this file validates a tiny model with a real `lightning.Trainer` (see
`main`); the distributed tests start it on 1, 2 and 3 CPU processes and compare the metrics.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.utils.data import DistributedSampler

from vsr.data.datasets import ShardSampler

VAL_SET = {"name": "REDS4", "split": "reds4_val", "clips": ["000", "011", "015"], "max_frames": 3}
TIMEOUT_S = 300


def shards(num_clips: int, world_size: int, **kwargs) -> list[list[int]]:
    samplers = [
        ShardSampler(range(num_clips), rank=r, world_size=world_size, **kwargs)
        for r in range(world_size)
    ]
    for sampler in samplers:
        assert isinstance(sampler, DistributedSampler)  # so Lightning leaves it alone
        assert len(sampler) == len(list(sampler))
    return [list(s) for s in samplers]


@pytest.mark.parametrize("world_size", [1, 2, 3, 4])
@pytest.mark.parametrize("num_clips", range(8))
def test_every_clip_goes_to_exactly_one_rank(world_size, num_clips):
    parts = shards(num_clips, world_size)
    real = [[i for i in part if i < num_clips] for part in parts]
    assert sorted(i for part in real for i in part) == list(range(num_clips))
    for rank, part in enumerate(real):
        assert part == list(range(rank, num_clips, world_size))
    # Every rank runs as many batches (ceil(n / W)); what evens them out is padding (>= n).
    assert {len(part) for part in parts} == {-(-num_clips // world_size)}
    for rank, part in enumerate(parts):
        padding = [num_clips + rank % num_clips] if num_clips else []
        assert part[len(real[rank]) :] == padding * (len(part) - len(real[rank]))


def test_padding_items_are_a_clip_marked_not_scored(tiny_datamodule):
    dm = tiny_datamodule(val_sets=[VAL_SET])
    dm.setup("validate")
    (dataset,) = dm.val_datasets
    real, pad = dataset[1], dataset[len(dataset) + 1]
    assert bool(real["scored"]) and not bool(pad["scored"])
    # The padding item len + 1 is item 1, marked; items end at 2 * len.
    assert pad["clip"] == real["clip"]
    assert torch.equal(pad["lq"], real["lq"]) and torch.equal(pad["gt"], real["gt"])
    with pytest.raises(IndexError):
        dataset[2 * len(dataset)]
    assert [item["clip"] for item in dataset] == ["000", "011", "015"]  # iteration ends


def test_a_rank_outside_the_world_is_refused():
    with pytest.raises(ValueError, match="rank 2"):
        ShardSampler(range(3), rank=2, world_size=2)


def test_eval_loaders_shard_by_the_trainers_rank(tiny_datamodule):
    dm = tiny_datamodule(val_sets=[VAL_SET], test_sets=[VAL_SET, {**VAL_SET, "name": "other"}])
    dm.trainer = SimpleNamespace(global_rank=1, world_size=2)  # all `_rank()` reads
    loader = dm.val_dataloader()
    assert isinstance(loader.sampler, ShardSampler)
    # Rank 1 of 2 scores clip 1 and runs one padding item (so both ranks run 2 batches).
    batches = list(loader)
    assert [b["clip"] for b in batches] == [["011"], ["011"]]
    assert [bool(b["scored"]) for b in batches] == [True, False]
    for test_loader in dm.test_dataloader():
        assert list(test_loader.sampler) == [1, 4]
    dm.trainer = SimpleNamespace(global_rank=0, world_size=1)
    assert [b["clip"][0] for b in dm.val_dataloader()] == ["000", "011", "015"]


def expected_metrics(datamodule, weights: str) -> dict[str, float]:
    """Mean over clips of the per-frame-mean PSNR / SSIM, from numpy on uint8 frames."""
    from vsr.metrics import calculate_psnr, calculate_ssim
    from vsr.nn import BasicVSRPlusPlus

    net = BasicVSRPlusPlus(mid_channels=8, num_blocks=1)
    net.load_state_dict(torch.load(weights, weights_only=True))
    net.eval()
    datamodule.setup("validate")
    (dataset,) = datamodule.val_datasets

    def to_uint8(frames: torch.Tensor) -> np.ndarray:  # (t, 3, h, w) in [0, 1] -> (t, h, w, 3)
        levels = np.round(np.clip(frames.numpy().astype(np.float32), 0, 1) * np.float32(255))
        return levels.astype(np.uint8).transpose(0, 2, 3, 1)

    psnr, ssim = [], []
    for item in dataset:  # one clip each
        with torch.no_grad():
            output = to_uint8(net(item["lq"][None])[0])
        gt = to_uint8(item["gt"])
        psnr.append(np.mean([calculate_psnr(o, g) for o, g in zip(output, gt, strict=True)]))
        ssim.append(np.mean([calculate_ssim(o, g) for o, g in zip(output, gt, strict=True)]))
    return {"val/psnr": float(np.mean(psnr)), "val/ssim": float(np.mean(ssim))}


def run_validation(demo_root: Path, weights: str, devices: int, out: Path, clips: list[str]):
    """What `main` validated on `devices` processes: metrics and the clips of each rank."""
    out.mkdir()
    cmd = [sys.executable, __file__, str(demo_root), weights, str(devices), str(out), *clips]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=TIMEOUT_S, env=env, cwd=out
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return {
        "metrics": json.loads((out / "metrics.json").read_text()),
        "clips": {r: json.loads((out / f"clips_rank{r}.json").read_text()) for r in range(devices)},
        "batches": {
            r: json.loads((out / f"batches_rank{r}.json").read_text()) for r in range(devices)
        },
    }


@pytest.mark.distributed
def test_two_ranks_score_every_clip_once(demo_root, tiny_checkpoint, tiny_datamodule, tmp_path):
    clips = VAL_SET["clips"]
    single = run_validation(demo_root, tiny_checkpoint, 1, tmp_path / "single", clips)
    double = run_validation(demo_root, tiny_checkpoint, 2, tmp_path / "ddp", clips)
    # Lightning kept our sampler (the script leaves use_distributed_sampler at its default):
    # rank 0 scored clips 0 and 2, rank 1 clip 1, nothing twice.
    assert single["clips"] == {0: ["000", "011", "015"]}
    assert double["clips"] == {0: ["000", "015"], 1: ["011"]}
    assert double["batches"] == {0: 2, 1: 2}  # the padding item was run, not scored
    expected = expected_metrics(tiny_datamodule(val_sets=[VAL_SET]), tiny_checkpoint)
    for name, value in expected.items():
        assert single["metrics"][name] == pytest.approx(value, abs=1e-6)
        assert double["metrics"][name] == pytest.approx(single["metrics"][name], abs=1e-6)


@pytest.mark.distributed
def test_more_ranks_than_clips_score_every_clip_once(
    demo_root, tiny_checkpoint, tiny_datamodule, tmp_path
):
    """3 ranks, 2 clips: ranks 0 and 1 score one each, rank 2 runs a padding item only."""
    clips = ["000", "011"]
    triple = run_validation(demo_root, tiny_checkpoint, 3, tmp_path / "ddp", clips)
    assert triple["clips"] == {0: ["000"], 1: ["011"], 2: []}
    assert triple["batches"] == {0: 1, 1: 1, 2: 1}
    val_set = {**VAL_SET, "clips": clips}
    expected = expected_metrics(tiny_datamodule(val_sets=[val_set]), tiny_checkpoint)
    for name, value in expected.items():
        assert triple["metrics"][name] == pytest.approx(value, abs=1e-6)


def main() -> None:
    """Validate a tiny BasicVSR++ (weights from a file) on some REDS4 clips; write the results.

    Rank 0 writes `metrics.json` (what `trainer.validate` returns); every rank writes
    `clips_rank{r}.json`, the clips it validated.
    """
    import lightning
    from lightning.pytorch.strategies import DDPStrategy

    from vsr.data import VSRDataModule
    from vsr.models.vsr_module import VSRModule
    from vsr.nn import BasicVSRPlusPlus

    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("weights")
    parser.add_argument("devices", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("clips", nargs="+")
    args = parser.parse_args()
    torch.set_num_threads(1)

    net = BasicVSRPlusPlus(mid_channels=8, num_blocks=1)
    net.load_state_dict(torch.load(args.weights, weights_only=True))
    module = VSRModule(net, ema_decay=None)
    datamodule = VSRDataModule(
        kind="reds",
        root=args.root,
        num_frames=3,
        gt_patch_size=32,
        batch_size=1,
        num_workers=0,
        samples_per_epoch=2,
        val_sets=[{**VAL_SET, "clips": args.clips}],
    )

    class RecordClips(lightning.Callback):
        def __init__(self) -> None:
            self.clips: list[str] = []  # the clips this rank scored
            self.batches = 0  # the batches it ran, padding included

        def on_validation_batch_end(self, trainer, pl_module, outputs, batch, *rest) -> None:
            self.batches += 1
            if bool(batch["scored"].all()):
                self.clips += list(batch["clip"])

    record = RecordClips()
    strategy = DDPStrategy(process_group_backend="gloo") if args.devices > 1 else "auto"
    trainer = lightning.Trainer(
        accelerator="cpu",
        devices=args.devices,
        strategy=strategy,
        precision="32-true",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[record],
        default_root_dir=args.out,
    )
    (metrics,) = trainer.validate(module, datamodule=datamodule)
    rank = trainer.global_rank
    (args.out / f"clips_rank{rank}.json").write_text(json.dumps(record.clips))
    (args.out / f"batches_rank{rank}.json").write_text(json.dumps(record.batches))
    if rank == 0:
        (args.out / "metrics.json").write_text(json.dumps(metrics))


if __name__ == "__main__":
    main()
