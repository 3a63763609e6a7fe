"""Which network outputs a clip's scored GT frames are compared with (plain torch).

Shared by validation during training (`vsr.models`) and `vsr-test` (`vsr.evaluation`), so both
score the same predictions.
"""

from __future__ import annotations

import torch

__all__ = ["scored_outputs"]


def scored_outputs(outputs: torch.Tensor, pred_index: torch.Tensor) -> torch.Tensor:
    """A clip's predictions of its scored GT frames, from the network's outputs.

    Args:
        outputs: (t, 3, H, W) outputs for an `EvalClips` item's input.
        pred_index: (t_gt, k) the item's `pred_index`: GT frame j is predicted by the mean of
            outputs `pred_index[j]`.

    Returns:
        (t_gt, 3, H, W), not clamped; `outputs` itself when every output is scored once.
    """
    index = pred_index.to(outputs.device)
    every_frame = torch.arange(len(outputs), device=outputs.device)
    if index.shape[1] == 1 and torch.equal(index[:, 0], every_frame):
        return outputs  # no copy of a long clip
    return outputs[index].mean(dim=1)
