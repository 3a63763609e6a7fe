"""VideoPSNR / VideoSSIM reduce over clips of all ranks under a real 2-process gloo group."""

import os
import socket
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from vsr.metrics import VideoPSNR, VideoSSIM

WORLD_SIZE = 2
H, W = 24, 28
TIMEOUT_S = 120


def all_clips() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Five (t, 3, h, w) clips of different lengths and quality, the same in every process."""
    g = torch.Generator().manual_seed(0)
    clips = []
    for t, noise in [(2, 0.02), (2, 0.1), (4, 0.05), (3, 0.3), (1, 0.01)]:
        gt = torch.rand(t, 3, H, W, generator=g)
        clips.append(((gt + noise * torch.randn(gt.shape, generator=g)).clamp(0, 1), gt))
    return clips


# Rank 0 gets a batch of two 2-frame clips; rank 1 gets the 4-, 3- and 1-frame clips one by one.
SHARDS = {0: [[0, 1]], 1: [[2], [3], [4]]}


def make_metrics() -> dict[str, VideoPSNR | VideoSSIM]:
    return {"psnr": VideoPSNR(y_channel=True), "ssim": VideoSSIM(crop_border=1)}


def worker(rank: int, port: int, out_dir: str) -> None:
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD_SIZE)
    try:
        clips = all_clips()
        metrics = make_metrics()
        # Only rank 0 sees clips; moved as Lightning moves a module (resets torchmetrics dtype).
        idle = VideoPSNR(y_channel=True).to("cpu")
        for ids in SHARDS[rank]:
            preds = torch.stack([clips[i][0] for i in ids])
            gts = torch.stack([clips[i][1] for i in ids])
            for metric in metrics.values():
                metric.update(preds, gts)
        if rank == 0:
            for preds, gt in clips:
                idle.update(preds, gt)
        result = {name: m.compute() for name, m in metrics.items()}
        result |= {f"{name}_per_clip": m.per_clip() for name, m in metrics.items()}
        result["idle"] = idle.compute()
        result["idle_per_clip"] = idle.per_clip()
        # compute() must leave the local states of this rank untouched.
        result["local_clips"] = metrics["psnr"].num_clips.clone()
        torch.save(result, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.distributed
def test_ddp_compute_equals_single_process(tmp_path: Path) -> None:
    # Forked workers inherit the imported modules; spawned ones re-import torch and torchmetrics
    # (seconds each). Fork is only safe enough on Linux.
    start_method = "fork" if sys.platform == "linux" else "spawn"
    workers = mp.start_processes(
        worker,
        args=(free_port(), str(tmp_path)),
        nprocs=WORLD_SIZE,
        join=False,
        start_method=start_method,
    )
    deadline = time.monotonic() + TIMEOUT_S
    while not workers.join(timeout=1):  # re-raises a worker's exception
        if time.monotonic() > deadline:
            for process in workers.processes:
                process.kill()
            pytest.fail(f"distributed workers did not finish within {TIMEOUT_S} s")

    clips = all_clips()
    single = make_metrics()
    for preds, gt in clips:  # clip by clip, in the order rank 0 then rank 1 saw them
        for metric in single.values():
            metric.update(preds, gt)
    expected = {name: m.compute() for name, m in single.items()}
    expected_per_clip = {name: m.per_clip() for name, m in single.items()}

    for rank in range(WORLD_SIZE):
        result = torch.load(tmp_path / f"rank{rank}.pt")
        for name in single:
            assert result[name].item() == pytest.approx(expected[name].item(), rel=1e-12)
            torch.testing.assert_close(result[f"{name}_per_clip"], expected_per_clip[name])
        assert result["idle"].item() == pytest.approx(expected["psnr"].item(), rel=1e-12)
        torch.testing.assert_close(result["idle_per_clip"], expected_per_clip["psnr"])
        assert result["local_clips"].item() == sum(len(ids) for ids in SHARDS[rank])
