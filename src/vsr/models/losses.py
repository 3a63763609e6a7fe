"""Training losses."""

from __future__ import annotations

import torch
from torch import nn


class CharbonnierLoss(nn.Module):
    """mean(sqrt((x - y)² + eps)), a differentiable L1 (eps 1e-12 as in the BasicVSR++ recipe)."""

    def __init__(self, eps: float = 1e-12):
        super().__init__()
        self.eps = eps

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.sqrt((pred - target).square() + self.eps).mean()
