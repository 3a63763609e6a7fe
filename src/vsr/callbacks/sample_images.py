"""Sample frames of the first validation clip — low-res | output | ground truth — as a PNG
grid and an animated GIF in the run directory, and as media on wandb / TensorBoard."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from PIL import Image
from torch.nn import functional as F

log = logging.getLogger(__name__)


def side_by_side(samples: dict[str, torch.Tensor]) -> np.ndarray:
    """(t, H, 3W, 3) uint8: each frame's low-res input (nearest-upsampled), output and GT."""
    gt = samples["gt"]
    lq = F.interpolate(samples["lq"], size=gt.shape[-2:], mode="nearest")
    rows = torch.cat([lq, samples["output"], gt], dim=-1)  # (t, 3, H, 3W)
    return (rows.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()


def _save_atomic(image: Image.Image, path: Path, **kwargs) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    image.save(tmp, format=path.suffix.lstrip(".").upper(), **kwargs)
    os.replace(tmp, path)


class SampleImages(Callback):
    """After each validation, save and log what the model makes of the first clip.

    Args:
        dirpath: where `step_XXXXXXX.png` (frames stacked vertically) and `.gif` go.
        fps: frame rate of the GIF.
    """

    def __init__(self, dirpath: str, fps: int = 4):
        self.dirpath = Path(dirpath)
        self.fps = fps

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        samples = getattr(pl_module, "samples", None)
        if trainer.sanity_checking or not trainer.is_global_zero or not samples:
            return
        frames = side_by_side(samples)
        self.dirpath.mkdir(parents=True, exist_ok=True)
        stem = self.dirpath / f"step_{trainer.global_step:07d}"
        grid = Image.fromarray(np.concatenate(list(frames), axis=0))
        _save_atomic(grid, stem.with_suffix(".png"))
        gif = [Image.fromarray(f) for f in frames]
        _save_atomic(
            gif[0],
            stem.with_suffix(".gif"),
            save_all=True,
            append_images=gif[1:],
            duration=int(1000 / self.fps),
            loop=0,
        )
        caption = f"{samples['clip']}: low-res | output | ground truth"
        for logger in trainer.loggers:
            try:
                self._log_media(logger, grid, stem.with_suffix(".gif"), caption, trainer)
            except Exception as err:  # media are a convenience; never stop training for them
                log.warning("could not log sample images to %s: %s", type(logger).__name__, err)

    @staticmethod
    def _log_media(logger, grid: Image.Image, gif: Path, caption: str, trainer: Trainer) -> None:
        name = type(logger).__name__
        if name == "WandbLogger":
            import wandb

            logger.experiment.log(
                {
                    "val/samples": wandb.Image(grid, caption=caption),
                    "val/clip": wandb.Video(str(gif), caption=caption, format="gif"),
                    "trainer/global_step": trainer.global_step,
                }
            )
        elif name == "TensorBoardLogger":
            image = torch.from_numpy(np.asarray(grid)).permute(2, 0, 1)
            logger.experiment.add_image("val/samples", image, trainer.global_step)
