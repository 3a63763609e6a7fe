"""Convolutional building blocks shared by the BasicVSR++ parts.

Module and attribute names follow mmagic's, so `state_dict()` keys match its checkpoints.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ResidualBlockNoBN(nn.Module):
    """conv3x3 → ReLU → conv3x3, plus the identity (EDSR-style, no batch norm)."""

    def __init__(self, mid_channels: int = 64):
        super().__init__()
        self.conv1 = nn.Conv2d(mid_channels, mid_channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(mid_channels, mid_channels, 3, 1, 1)
        self.relu = nn.ReLU(inplace=True)
        # Small residuals at init keep a deep stack close to identity (mmagic scales by 0.1).
        for conv in (self.conv1, self.conv2):
            nn.init.kaiming_normal_(conv.weight, a=0, mode="fan_in", nonlinearity="relu")
            conv.weight.data.mul_(0.1)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.relu(self.conv1(x)))


class ResidualBlocksWithInputConv(nn.Module):
    """conv3x3(in→out) + LeakyReLU(0.1), then `num_blocks` residual blocks.

    Keys: `main.0.*` (input conv), `main.2.{i}.conv{1,2}.*` (blocks).
    """

    def __init__(self, in_channels: int, out_channels: int = 64, num_blocks: int = 30):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, 1, 1),
            nn.LeakyReLU(negative_slope=0.1, inplace=True),
            nn.Sequential(*(ResidualBlockNoBN(out_channels) for _ in range(num_blocks))),
        )

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.main(feat)


class PixelShufflePack(nn.Module):
    """conv3x3(in → out·s²) then pixel shuffle by `scale_factor` (s = 1: a plain conv)."""

    def __init__(
        self, in_channels: int, out_channels: int, scale_factor: int, kernel_size: int = 3
    ):
        super().__init__()
        self.scale_factor = scale_factor
        self.upsample_conv = nn.Conv2d(
            in_channels,
            out_channels * scale_factor * scale_factor,
            kernel_size,
            padding=(kernel_size - 1) // 2,
        )
        # mmagic's initialisation (Kaiming normal, fan-in, zero bias), not PyTorch's default
        # (about 2.4x smaller): with it the upsampling stages pass the features' signal on.
        nn.init.kaiming_normal_(self.upsample_conv.weight, a=0, mode="fan_in", nonlinearity="relu")
        nn.init.zeros_(self.upsample_conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.upsample_conv(x), self.scale_factor)
