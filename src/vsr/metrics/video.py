"""Clip-level PSNR/SSIM metrics for validation: per frame, averaged per clip, then over clips."""

from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from vsr.metrics.functional import frame_psnr, frame_ssim

__all__ = ["VideoPSNR", "VideoSSIM"]


class _VideoMetric(Metric):
    """Mean over clips of the mean over frames of a per-frame score.

    Each sample passed to :meth:`update` must be one whole clip: a clip split across several
    updates would be counted as several clips. The states are a float64 sum of clip means and a
    clip count, both summed across processes, so under DDP :meth:`compute` returns the mean over
    the clips of all ranks. A rank without clips adds nothing. The mean is exact when every clip
    is scored the same number of times: :class:`vsr.data.datasets.ShardSampler` gives each clip
    to one rank (or, with fewer clips than ranks, repeats the whole set). A sampler that repeats
    only some clips to even out the ranks (torch's ``DistributedSampler``) biases it.

    Args:
        crop_border: Pixels removed on every side of each frame before scoring.
        y_channel: Score the BT.601 luma (MATLAB convention) instead of the RGB channels.
        **kwargs: Passed to :class:`torchmetrics.Metric` (e.g. ``sync_on_compute``).
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    clip_sum: Tensor
    num_clips: Tensor
    clip_scores: list[Tensor]

    def __init__(self, crop_border: int = 0, y_channel: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(crop_border, bool) or not isinstance(crop_border, int) or crop_border < 0:
            raise ValueError(f"crop_border must be a non-negative int, got {crop_border!r}")
        self.crop_border = crop_border
        self.y_channel = y_channel
        self.add_state("clip_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("num_clips", torch.tensor(0, dtype=torch.int64), dist_reduce_fx="sum")
        self.add_state("clip_scores", [], dist_reduce_fx="cat")
        # A rank without clips gathers an empty placeholder of the metric's dtype; it must match
        # the float64 clip scores of the other ranks.
        self.set_dtype(torch.float64)

    def _apply(self, fn, *args, **kwargs):
        # Moving the metric (`.to(device)`, as Lightning does) resets torchmetrics' dtype to
        # float32, and with it the placeholder an idle rank gathers: keep it float64.
        out = super()._apply(fn, *args, **kwargs)
        self._dtype = torch.float64
        return out

    def _frame_scores(self, preds: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Scores a batch of whole clips.

        Args:
            preds: ``(n, t, 3, h, w)`` float tensor in [0, 1], n clips of t frames, or
                ``(t, 3, h, w)`` for a single clip. Rounded to uint8 levels before scoring.
            target: Ground-truth frames, same shape.
        """
        if not isinstance(preds, Tensor) or preds.ndim not in (4, 5):
            shape = tuple(preds.shape) if isinstance(preds, Tensor) else type(preds).__name__
            raise ValueError(f"expected (n, t, c, h, w) or (t, c, h, w) clips, got {shape}")
        if preds.ndim == 4:
            preds, target = preds.unsqueeze(0), target.unsqueeze(0)
        if preds.shape[1] == 0:
            raise ValueError(f"clips must have at least one frame, got shape {tuple(preds.shape)}")
        clip_means = self._frame_scores(preds, target).mean(dim=1)  # (n,)
        self.clip_sum += clip_means.sum()
        self.num_clips += clip_means.numel()
        self.clip_scores.append(clip_means)

    def compute(self) -> Tensor:
        """Mean over clips of the per-clip mean score (NaN before any update)."""
        return self.clip_sum / self.num_clips

    def per_clip(self) -> Tensor:
        """Score of every clip seen so far, gathered from all processes.

        Under DDP this is a collective call: every rank must call it. Clips are grouped by rank,
        in update order within a rank.

        Returns:
            1-D float64 tensor with one mean score per clip.
        """
        with self.sync_context(should_sync=self._to_sync, should_unsync=True):
            scores = self.clip_scores
            if isinstance(scores, list):
                if not scores:
                    return torch.empty(0, dtype=torch.float64, device=self.device)
                scores = dim_zero_cat(scores)
            return scores.clone()


class VideoPSNR(_VideoMetric):
    """PSNR (dB) per frame on uint8-rounded frames, averaged per clip, then over clips.

    Example:
        >>> metric = VideoPSNR(y_channel=True)
        >>> metric.update(output, gt)  # (n, t, 3, h, w) in [0, 1], one whole clip per sample
        >>> metric.compute()  # mean over clips
    """

    def _frame_scores(self, preds: Tensor, target: Tensor) -> Tensor:
        return frame_psnr(preds, target, self.crop_border, self.y_channel)


class VideoSSIM(_VideoMetric):
    """SSIM per frame on uint8-rounded frames, averaged per clip, then over clips.

    Example:
        >>> metric = VideoSSIM(y_channel=True)
        >>> metric.update(output, gt)  # (n, t, 3, h, w) in [0, 1], one whole clip per sample
        >>> metric.compute()  # mean over clips
    """

    def _frame_scores(self, preds: Tensor, target: Tensor) -> Tensor:
        return frame_ssim(preds, target, self.crop_border, self.y_channel)
