"""`VSRModule`: trains a video super-resolution generator with the BasicVSR++ recipe.

The network lives in `self.generator`, so a Lightning checkpoint's weights are mmagic's keys
behind `generator.` (and `generator_ema.module.` for the EMA copy): `vsr.load_generator` and
mmagic read them as they are.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from lightning.pytorch import LightningModule
from torch import nn
from torch.nn import functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from vsr.metrics import VideoPSNR, VideoSSIM
from vsr.metrics.scoring import scored_outputs
from vsr.models.losses import CharbonnierLoss
from vsr.models.schedule import CosineSchedule
from vsr.nn.checkpoint import generator_state_dict, load_into
from vsr.nn.weights import read_checkpoint_file


class VSRModule(LightningModule):
    """Charbonnier training with a separately-paced, initially frozen flow network.

    What a non-finite loss or gradient does is the trainer's `vsr.callbacks.NonFinite`
    (`callbacks.nonfinite`): it drops the step's gradients, and a step that updated nothing
    leaves the EMA as it is.

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
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["generator", "optimizer"])
        self.generator = generator
        self.optimizer_factory = optimizer or (
            lambda params: torch.optim.Adam(params, lr=1e-4, betas=(0.9, 0.99))
        )
        if pretrained:
            # The same reader and messages as vsr.load_generator (a missing or foreign file).
            obj = read_checkpoint_file(pretrained, "cpu", trusted=False)
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
        self._validated: tuple[int, dict[str, float]] = (-1, {})
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
        scheduler = CosineSchedule(
            optimizer, total_steps=max(total, 1), eta_min=self.hparams.eta_min
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
        output = self.generator(batch["lq"])
        loss = self.criterion(output, batch["gt"])
        self.log("train/loss", loss, prog_bar=True, logger=False, batch_size=batch["lq"].shape[0])
        self.log_now({"train/loss": loss})
        return loss

    def log_now(self, metrics: dict[str, torch.Tensor | float]) -> None:
        """Send this step's training metrics to the loggers now, every `log_every_n_steps`.

        Lightning would send them after `on_train_batch_end`, i.e. after a checkpoint of this
        step is saved; a run resumed from that checkpoint would never log them.
        """
        trainer = self.trainer
        if not self.loggers or (self.global_step + 1) % trainer.log_every_n_steps:
            return
        row = {k: float(v.detach() if torch.is_tensor(v) else v) for k, v in metrics.items()}
        row["epoch"] = self.current_epoch
        for logger in self.loggers:
            logger.log_metrics(row, step=self.global_step)

    def optimizer_step(self, *args, **kwargs) -> None:
        super().optimizer_step(*args, **kwargs)
        # Here, not in on_train_batch_end: callbacks' on_train_batch_end hooks (checkpoints)
        # run before the module's, and must see this step's EMA. A step without gradients
        # (dropped by vsr.callbacks.NonFinite) updated no weight: the EMA stays as it is too.
        if self.generator_ema is not None and self._updated():
            self.generator_ema.update_parameters(self.generator)

    def _updated(self) -> bool:
        """Whether the optimizer step just taken had gradients to apply."""
        return any(p.grad is not None for p in self.generator.parameters())

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
        """Bicubic upsampling of the scored input frames, like `predict_clip`: the baseline
        (`val/psnr_bicubic`). Same-size tasks: the input frames themselves."""
        index = batch["pred_index"][..., 0]  # (n, t_gt)
        lq = torch.stack([batch["lq"][i, index[i]] for i in range(index.shape[0])])
        if lq.shape[-2:] == batch["gt"].shape[-2:]:
            return lq.clamp(0, 1)
        up = F.interpolate(lq.flatten(0, 1), size=batch["gt"].shape[-2:], mode="bicubic")
        return up.unflatten(0, lq.shape[:2]).clamp(0, 1)

    @staticmethod
    def counted(batch: dict) -> bool:
        """False for the padding items that even out the ranks' shares (`ShardSampler`)."""
        scored = batch.get("scored")
        return scored is None or bool(scored.all())

    def validation_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        pred = self.predict_clip(batch)  # padding items too: the ranks' collectives stay paired
        if not self.counted(batch):
            return
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
            scores = {"val/psnr": psnr, "val/ssim": ssim, "val/psnr_bicubic": bicubic}
            self._validated = (self.global_step, {k: float(v) for k, v in scores.items()})
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

    def on_test_start(self) -> None:
        # One pair of metrics per test set: each set is reported on its own (`test/Vid4/psnr`).
        names = getattr(self.trainer.datamodule, "test_set_names", None) or ["test"]
        hp = self.hparams
        self.test_metrics = nn.ModuleDict(
            {
                name: nn.ModuleDict(
                    {
                        "psnr": VideoPSNR(crop_border=hp.crop_border, y_channel=hp.y_channel),
                        "ssim": VideoSSIM(crop_border=hp.crop_border, y_channel=hp.y_channel),
                    }
                )
                for name in names
            }
        ).to(self.device)

    def test_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        pred = self.predict_clip(batch)
        if not self.counted(batch):
            return
        names = list(self.test_metrics)
        metrics = self.test_metrics[batch["set"][0] if batch.get("set") else names[0]]
        metrics["psnr"].update(pred, batch["gt"])
        metrics["ssim"].update(pred, batch["gt"])

    def on_test_epoch_end(self) -> None:
        results = {}
        for name, metrics in self.test_metrics.items():
            for key, metric in metrics.items():
                results[f"test/{name}/{key}"] = metric.compute()
                metric.reset()
        self.log_dict(results, sync_dist=False)  # the metrics already reduce over ranks

    # ------------------------------------------------------------------ checkpoints

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # Checkpoints from before the non-finite policy became vsr.callbacks.NonFinite hold
        # its count as a buffer: moved out of the state dict (loaded strictly), for the
        # callback to read.
        state = checkpoint.get("state_dict") or {}
        if "nonfinite_skipped" in state:
            checkpoint["nonfinite_skipped"] = int(state.pop("nonfinite_skipped"))

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # A checkpoint carries the scores of its own step's validation, or None when no
        # validation ran at that step (never an earlier step's scores).
        step, scores = self._validated
        checkpoint["validation"] = (
            {"step": step, **scores} if step == self.global_step and scores else None
        )
