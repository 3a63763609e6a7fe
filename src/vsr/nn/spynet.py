"""SPyNet (Ranjan & Black, CVPR 2017): the coarse-to-fine optical flow BasicVSR++ propagates with.

A 6-level image pyramid; at each level a small conv net predicts the residual flow from the
reference frame, the warped support frame and the upsampled coarser flow.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vsr.nn.warp import flow_warp
from vsr.nn.weights import load_spynet_weights


class _ConvReLU(nn.Module):
    """A conv with an optional ReLU; the `conv` attribute gives mmagic's `basic_module.i.conv` keys."""

    def __init__(self, in_channels: int, out_channels: int, relu: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 7, 1, 3)
        self.relu = nn.ReLU(inplace=True) if relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv(x))


class SPyNetBasicModule(nn.Module):
    """One pyramid level: [ref (3), warped supp (3), flow (2)] → residual flow (2)."""

    def __init__(self):
        super().__init__()
        self.basic_module = nn.Sequential(
            _ConvReLU(8, 32),
            _ConvReLU(32, 64),
            _ConvReLU(64, 32),
            _ConvReLU(32, 16),
            _ConvReLU(16, 2, relu=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.basic_module(x)


class SPyNet(nn.Module):
    """Optical flow from `ref` to `supp`: `supp` warped by the flow looks like `ref`.

    Args:
        pretrained: optional local path to SPyNet weights (an mmagic SPyNet file or BasicSR's
            `spynet_sintel_final`). Nothing is downloaded.
    """

    num_levels = 6

    def __init__(self, pretrained: str | None = None):
        super().__init__()
        self.basic_module = nn.ModuleList(SPyNetBasicModule() for _ in range(self.num_levels))
        # ImageNet normalisation, as the flow net was trained with it.
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        if pretrained is not None:
            load_spynet_weights(self, pretrained)
        else:
            # Trained from scratch, start from zero flow (identity alignment) rather than
            # the random displacements of a random last layer.
            for level in self.basic_module:
                nn.init.zeros_(level.basic_module[-1].conv.weight)
                nn.init.zeros_(level.basic_module[-1].conv.bias)

    def compute_flow(self, ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
        """Flow for inputs whose sides are multiples of 32 (the coarsest level is 1/32)."""
        n, _, h, w = ref.shape
        ref_pyramid = [(ref - self.mean) / self.std]
        supp_pyramid = [(supp - self.mean) / self.std]
        for _ in range(self.num_levels - 1):
            ref_pyramid.append(F.avg_pool2d(ref_pyramid[-1], 2, 2, count_include_pad=False))
            supp_pyramid.append(F.avg_pool2d(supp_pyramid[-1], 2, 2, count_include_pad=False))

        flow = ref.new_zeros(n, 2, h // 32, w // 32)
        for level, (ref_l, supp_l) in enumerate(
            zip(ref_pyramid[::-1], supp_pyramid[::-1], strict=True)
        ):
            if level > 0:
                # Twice the resolution, twice the displacement in pixels.
                flow = F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True) * 2
            warped = flow_warp(supp_l, flow, padding_mode="border")
            flow = flow + self.basic_module[level](torch.cat([ref_l, warped, flow], dim=1))
        return flow

    def forward(self, ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
        """Flow (n, 2, h, w) in pixels for frames (n, 3, h, w) of any size ≥ 1."""
        h, w = ref.shape[-2:]
        # Rounded up with non-negative operands: ONNX's integer division truncates, so a
        # floor division of negatives would round the other way in an exported graph.
        h_up, w_up = (h + 31) // 32 * 32, (w + 31) // 32 * 32
        ref = F.interpolate(ref, size=(h_up, w_up), mode="bilinear", align_corners=False)
        supp = F.interpolate(supp, size=(h_up, w_up), mode="bilinear", align_corners=False)
        flow = F.interpolate(
            self.compute_flow(ref, supp), size=(h, w), mode="bilinear", align_corners=False
        )
        # Back to the original pixel units, per axis (scalar products, so that an exported
        # graph keeps the ratios symbolic instead of the example's values).
        return torch.cat([flow[:, :1] * (w / w_up), flow[:, 1:] * (h / h_up)], dim=1)
