"""`VSRModule`: trains a video super-resolution generator with the BasicVSR++ recipe.

The network lives in `self.generator`, so a Lightning checkpoint's weights are mmagic's keys
behind `generator.` (and `generator_ema.module.` for the EMA copy): `vsr.load_generator` and
mmagic read them as they are.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import torch
from lightning.pytorch import LightningModule
from torch import nn
from torch.nn import functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from vsr.data.datasets import scored_outputs
from vsr.metrics import VideoPSNR, VideoSSIM
from vsr.models.losses import CharbonnierLoss
from vsr.nn.checkpoint import generator_state_dict, load_into

log = logging.getLogger(__name__)


def describe_batch(batch: dict) -> str:
    """'clips 000 (frames 3-32), 011 (frames 50-79)': which data a training batch holds."""
    clips = batch.get("clip")
    frames = batch.get("frames")
    if clips is None:
        return "unknown clips"
    parts = []
    for i, clip in enumerate(clips):
        if frames is not None:
            parts.append(f"{clip} (frames {int(frames[i].min())}-{int(frames[i].max())})")
        else:
            parts.append(str(clip))
    return "clips " + ", ".join(parts)


class VSRModule(LightningModule):
    """Charbonnier training with a separately-paced, initially frozen flow network.

    Args:
        generator: the network (e.g. `vsr.nn.BasicVSRPlusPlus`); it must have a `spynet`.
        optimizer: factory taking parameter groups (Hydra `_partial_: true`), Adam by default.
        spynet_lr_mult: learning-rate factor of the flow network's parameter group.
        fix_flow_iters: steps during which the flow network is frozen (0: never).
        eta_min: final learning rate of the per-step cosine decay over `max_steps`.
        ema_decay: keep an exponential moving average of the weights with this decay, used
            for validation and saved (None: no EMA).
        pretrained: checkpoint to initialise the generator from (any format
            `vsr.load_generator` reads), e.g. the REDS model for Vimeo-90K fine-tuning.
        compile: `torch.compile` the per-frame blocks (state_dict keys stay clean).
        gradient_checkpointing: recompute per-frame activations in the backward pass.
        y_channel: validation metrics on the Y channel (Vid4, Vimeo) instead of RGB (REDS4).
        crop_border: pixels cropped from each side before the validation metrics.
        sample_frames: how many frames of the first validation clip to keep as samples.
        nonfinite: what a non-finite loss or gradient does: "skip" (no update for that step,
            counted in `train/nonfinite_skipped`) or "stop" (save a checkpoint, then fail with
            a message naming the batch's clips). Either way the weights stay untouched.
        max_nonfinite_skips: with "skip", stop as with "stop" once more steps were skipped.
    """

    def __init__(
        self,
        generator: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        spynet_lr_mult: float = 0.25,
        fix_flow_iters: int = 5000,
        eta_min: float = 1e-7,
        ema_decay: float | None = None,
        pretrained: str | None = None,
        compile: bool = False,
        gradient_checkpointing: bool = False,
        y_channel: bool = False,
        crop_border: int = 0,
        sample_frames: int = 3,
        nonfinite: str = "skip",
        max_nonfinite_skips: int = 100,
    ):
        super().__init__()
        if nonfinite not in ("skip", "stop"):
            raise ValueError(f"model.nonfinite must be 'skip' or 'stop', got {nonfinite!r}")
        self.save_hyperparameters(ignore=["generator", "optimizer"])
        self.generator = generator
        self.optimizer_factory = optimizer or (
            lambda params: torch.optim.Adam(params, lr=1e-4, betas=(0.9, 0.99))
        )
        if pretrained:
            obj = torch.load(pretrained, map_location="cpu", weights_only=True)
            load_into(generator, generator_state_dict(obj), f"pretrained weights {pretrained}")
        generator.gradient_checkpointing = gradient_checkpointing
        self.criterion = CharbonnierLoss()
        self.generator_ema = None
        if ema_decay is not None:
            self.generator_ema = AveragedModel(
                generator, multi_avg_fn=get_ema_multi_avg_fn(ema_decay), use_buffers=True
            )
            self.generator_ema.requires_grad_(False)
        self.val_psnr = VideoPSNR(crop_border=crop_border, y_channel=y_channel)
        self.val_ssim = VideoSSIM(crop_border=crop_border, y_channel=y_channel)
        # Bicubic upsampling of the same inputs: the baseline every model must beat.
        self.val_psnr_bicubic = VideoPSNR(crop_border=crop_border, y_channel=y_channel)
        # In the state dict, so the best value survives a resume.
        self.register_buffer("psnr_best", torch.tensor(-math.inf, dtype=torch.float64))
        self.register_buffer("nonfinite_skipped", torch.tensor(0, dtype=torch.int64))
        self._batch_description = ""
        self.samples: dict[str, torch.Tensor] | None = None

    # ------------------------------------------------------------------ setup

    def configure_model(self) -> None:
        if self.hparams.compile:
            # nn.Module.compile compiles in place: parameter names do not change.
            for name in ("feat_extract", "backbone", "reconstruction"):
                module = getattr(self.generator, name, None)
                if isinstance(module, nn.ModuleDict):
                    for block in module.values():
                        block.compile()
                elif module is not None:
                    module.compile()

    def configure_optimizers(self):
        spynet = list(self.generator.spynet.parameters())
        spynet_ids = {id(p) for p in spynet}
        main = [p for p in self.generator.parameters() if id(p) not in spynet_ids]
        optimizer = self.optimizer_factory(
            [{"params": main, "name": "main"}, {"params": spynet, "name": "spynet"}]
        )
        base_lr = optimizer.defaults["lr"]
        optimizer.param_groups[1]["lr"] = base_lr * self.hparams.spynet_lr_mult
        total = self.trainer.max_steps
        if total is None or total < 0:
            total = int(self.trainer.estimated_stepping_batches)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=max(total, 1), eta_min=self.hparams.eta_min
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1},
        }

    # ------------------------------------------------------------------ training

    @property
    def flow_frozen(self) -> bool:
        return self.global_step < self.hparams.fix_flow_iters

    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        # Keyed on global_step, so a resumed or distributed run freezes exactly as long.
        self.generator.spynet.requires_grad_(not self.flow_frozen)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        self._batch_description = describe_batch(batch)
        output = self.generator(batch["lq"])
        loss = self.criterion(output, batch["gt"])
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["lq"].shape[0])
        return loss

    def on_before_optimizer_step(self, optimizer) -> None:
        # After backward (and the DDP all-reduce, so every rank decides alike), before the
        # update: a non-finite gradient must never reach the weights or Adam's moments.
        grads = [p.grad for p in self.generator.parameters() if p.grad is not None]
        if not grads:
            return
        total = torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]).sum()
        if torch.isfinite(total):
            return
        for p in self.generator.parameters():
            p.grad = None  # Adam skips parameters without gradients
        self.nonfinite_skipped += 1
        self.log("train/nonfinite_skipped", self.nonfinite_skipped.float(), prog_bar=True)
        where = (
            f"non-finite loss or gradients at step {self.global_step} ({self._batch_description})"
        )
        skips = int(self.nonfinite_skipped)
        if self.hparams.nonfinite == "skip" and skips <= self.hparams.max_nonfinite_skips:
            log.warning("%s: step skipped (%d so far)", where, skips)
            return
        path = None
        if (
            self.trainer.checkpoint_callback is not None
            and self.trainer.checkpoint_callback.dirpath
        ):
            path = f"{self.trainer.checkpoint_callback.dirpath}/nonfinite_step_{self.global_step:07d}.ckpt"
            self.trainer.save_checkpoint(path)
        raise FloatingPointError(
            f"{where}; {skips} step(s) skipped in all. The weights are untouched"
            + (f"; checkpoint saved to {path}" if path else "")
            + ". Lower the learning rate, set trainer.gradient_clip_val, or check those frames."
        )

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        if self.generator_ema is not None:
            self.generator_ema.update_parameters(self.generator)

    # ------------------------------------------------------------------ evaluation

    @property
    def eval_generator(self) -> nn.Module:
        return self.generator if self.generator_ema is None else self.generator_ema.module

    def predict_clip(self, batch: dict) -> torch.Tensor:
        """Outputs for the scored GT frames: (n, t_gt, 3, H, W), clamped to [0, 1].

        Frame j is the mean of the outputs `pred_index[:, j]` (two for Vimeo-90K-T's
        mirrored input, one otherwise).
        """
        output = self.eval_generator(batch["lq"]).to(batch["gt"].device)
        index = batch["pred_index"]  # (n, t_gt, k)
        return torch.stack(
            [scored_outputs(o, i) for o, i in zip(output, index, strict=True)]
        ).clamp(0, 1)

    def on_validation_epoch_start(self) -> None:
        self.samples = None

    def bicubic_clip(self, batch: dict) -> torch.Tensor:
        """Bicubic upsampling of the scored input frames, like `predict_clip`."""
        index = batch["pred_index"][..., 0]  # (n, t_gt)
        lq = torch.stack([batch["lq"][i, index[i]] for i in range(index.shape[0])])
        up = F.interpolate(lq.flatten(0, 1), size=batch["gt"].shape[-2:], mode="bicubic")
        return up.unflatten(0, lq.shape[:2]).clamp(0, 1)

    def validation_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        pred = self.predict_clip(batch)
        self.val_psnr.update(pred, batch["gt"])
        self.val_ssim.update(pred, batch["gt"])
        self.val_psnr_bicubic.update(self.bicubic_clip(batch), batch["gt"])
        if self.samples is None:
            k = self.hparams.sample_frames
            self.samples = {
                "lq": batch["lq"][0, batch["pred_index"][0, :k, 0]].float().cpu(),
                "output": pred[0, :k].float().cpu(),
                "gt": batch["gt"][0, :k].float().cpu(),
                "clip": batch["clip"][0],
            }

    def on_validation_epoch_end(self) -> None:
        psnr = self.val_psnr.compute()
        ssim = self.val_ssim.compute()
        bicubic = self.val_psnr_bicubic.compute()
        for metric in (self.val_psnr, self.val_ssim, self.val_psnr_bicubic):
            metric.reset()
        if not self.trainer.sanity_checking:
            self.psnr_best = torch.maximum(self.psnr_best, psnr.to(self.psnr_best))
        self.log_dict(
            {
                "val/psnr": psnr,
                "val/ssim": ssim,
                "val/psnr_best": self.psnr_best,
                "val/psnr_bicubic": bicubic,
            },
            prog_bar=True,
            sync_dist=False,  # the metrics already reduce over ranks
        )

    def test_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        pred = self.predict_clip(batch)
        self.val_psnr.update(pred, batch["gt"])
        self.val_ssim.update(pred, batch["gt"])

    def on_test_epoch_end(self) -> None:
        self.log_dict({"test/psnr": self.val_psnr.compute(), "test/ssim": self.val_ssim.compute()})
        self.val_psnr.reset()
        self.val_ssim.reset()
