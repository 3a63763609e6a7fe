"""Aligning the propagated feature to the current frame (paper Sec. 3.2).

`FlowGuidedDeformableAlignment` is BasicVSR++'s flow-guided deformable alignment: the optical
flow pre-aligns, and a modulated deformable convolution learns only the *residue* to the flow,
which keeps the offsets small and the training stable. `FlowWarpAlignment` is the plain
flow-warping alternative (BasicVSR), kept for the ablation study.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vsr.nn.deform import check_impl, modulated_deform_conv2d


def bound_offsets(offset: torch.Tensor, bound: float | torch.Tensor) -> torch.Tensor:
    """Offsets with NaN set to 0 and values clamped to ±bound (pixels), as
    `offset.nan_to_num(0, bound, -bound).clamp(-bound, bound)` in values and gradients.

    torchvision's CPU kernel turns offsets into memory indices: a non-finite or huge offset (a
    diverged run) would crash the process. Beyond the frame every sample is zero anyway, so
    clamping there changes nothing else. `where` keeps only a boolean mask for the backward
    pass, where nan_to_num and clamp would each keep a copy of the offsets.
    """
    bound = torch.as_tensor(bound, dtype=offset.dtype, device=offset.device)
    if not (torch.is_grad_enabled() and offset.requires_grad):
        # No backward pass: two passes over the offsets instead of eight.
        return torch.clamp(offset, -bound, bound).nan_to_num(0.0)
    detached = offset.detach()
    inside = detached.abs() < bound  # False for NaN too; the bound itself, as clamp
    clamped = torch.where(torch.isnan(detached), torch.zeros_like(detached), detached)
    clamped = torch.maximum(torch.minimum(clamped, bound), -bound)
    return torch.where(inside, offset, clamped)


class FlowGuidedDeformableAlignment(nn.Module):
    """Modulated deformable conv whose offsets are the flows plus a learned, bounded residue.

    With `order=2` this is mmagic's `SecondOrderDeformableAlignment` (same parameters and keys:
    `weight`, `bias`, `conv_offset.{0,2,4,6}.*`): the features aligned from one and two frames
    back are both fed in, each half of the deformable groups guided by its own flow.

    Args:
        mid_channels: C, channels of one feature map.
        order: number of previous frames aligned (1 or 2).
        deform_groups: deformable groups (16 in the paper); split evenly between the orders.
        max_residue_magnitude: bound (pixels) of the learned offset residue to the flow.
        deform_impl: formulation of the deformable conv: "auto" (the fastest measured for the
            device, see `vsr.nn.deform.auto_impl`), "torchvision", "sample" or
            "sample_checkpoint"; an attribute, read at every forward.
    """

    kernel_size = 3

    def __init__(
        self,
        mid_channels: int = 64,
        order: int = 2,
        deform_groups: int = 16,
        max_residue_magnitude: float = 10,
        deform_impl: str = "auto",
    ):
        super().__init__()
        if order not in (1, 2) or deform_groups % order:
            raise ValueError(f"order must be 1 or 2 and divide deform_groups, got {order=}")
        if (order * mid_channels) % deform_groups:
            raise ValueError(
                f"mid_channels ({mid_channels}) must be a multiple of {deform_groups // order}: "
                f"the {deform_groups} deformable groups split the {order} aligned feature(s)"
            )
        self.deform_impl = check_impl(deform_impl, "deform_impl")
        self.order = order
        self.deform_groups = deform_groups
        self.max_residue_magnitude = max_residue_magnitude
        k = self.kernel_size
        in_channels = order * mid_channels
        self.weight = nn.Parameter(torch.empty(mid_channels, in_channels, k, k))
        self.bias = nn.Parameter(torch.empty(mid_channels))
        # Predicts offsets (2·k² per group) and masks (k² per group) from the warped
        # neighbours, the current feature and the flows.
        self.conv_offset = nn.Sequential(
            nn.Conv2d((order + 1) * mid_channels + 2 * order, mid_channels, 3, 1, 1),
            nn.LeakyReLU(negative_slope=0.1, inplace=True),
            nn.Conv2d(mid_channels, mid_channels, 3, 1, 1),
            nn.LeakyReLU(negative_slope=0.1, inplace=True),
            nn.Conv2d(mid_channels, mid_channels, 3, 1, 1),
            nn.LeakyReLU(negative_slope=0.1, inplace=True),
            nn.Conv2d(mid_channels, 3 * k * k * deform_groups, 3, 1, 1),
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # mmcv's ModulatedDeformConv2d init; the offset head starts at zero, so training
        # begins from pure flow warping (offset = flow, mask = 0.5).
        stdv = 1.0 / math.sqrt(self.weight.shape[1] * self.kernel_size**2)
        nn.init.uniform_(self.weight, -stdv, stdv)
        nn.init.zeros_(self.bias)
        nn.init.zeros_(self.conv_offset[-1].weight)
        nn.init.zeros_(self.conv_offset[-1].bias)

    def forward(
        self,
        neighbours: list[torch.Tensor],
        warped: list[torch.Tensor],
        feat_current: torch.Tensor,
        flows: list[torch.Tensor],
    ) -> torch.Tensor:
        """Align `neighbours` (1 or 2 previous features, (n, C, h, w) each) to the current frame.

        Args:
            neighbours: features one (and two) steps back, unwarped.
            warped: the same features warped by their flows (the offset head's condition).
            feat_current: (n, C, h, w) feature of the current frame.
            flows: (n, 2, h, w) flows from the current frame to each neighbour.

        Returns:
            (n, C, h, w) aligned feature.
        """
        # Condition order [warped_1, current, warped_2, flow_1, flow_2] is mmagic's.
        # The flows at the features' precision: a bf16 network's conv would cast them anyway,
        # and a mixed-precision cat would make the whole condition fp32 first.
        flows_in = [flow.to(feat_current.dtype) for flow in flows]
        cond = torch.cat([warped[0], feat_current, *warped[1:], *flows_in], dim=1)
        out = self.conv_offset(cond)
        k2g = self.kernel_size**2 * self.deform_groups
        offset = self.max_residue_magnitude * torch.tanh(out[:, : 2 * k2g])
        mask = torch.sigmoid(out[:, 2 * k2g :])
        # Offsets are (dy, dx) pairs, flows (dx, dy): flip and add each flow to its groups.
        # Flow first: the sum takes the flows' layout (contiguous, fp32) rather than that of a
        # channels-last bf16 conv output, which the sampling would have to copy.
        offset = torch.cat(
            [
                flow.flip(1).repeat(1, chunk.shape[1] // 2, 1, 1) + chunk
                for chunk, flow in zip(offset.chunk(self.order, dim=1), flows, strict=True)
            ],
            dim=1,
        )
        x = torch.cat(neighbours, dim=1)
        # A diverged run's offsets (inf, NaN) must not crash the kernels: bounded just
        # beyond the frame, where every sample is zero.
        # The bound as a tensor of the frame's size: an exported graph keeps it symbolic.
        # In the offsets' dtype (fp32 under autocast): bf16 would round 1922 down to 1920.
        offset = bound_offsets(offset, offset.new_ones(()) * (max(x.shape[-2:]) + 2))
        return modulated_deform_conv2d(
            x, offset, mask, self.weight, self.bias, padding=1, impl=self.deform_impl
        )


class FlowWarpAlignment(nn.Module):
    """Plain flow warping (BasicVSR's alignment), for the ablation.

    First order: the warped neighbour itself (no parameters). Second order: the two warped
    neighbours fused by a 3x3 conv, so the block still returns C channels.
    """

    def __init__(self, mid_channels: int = 64, order: int = 2):
        super().__init__()
        self.order = order
        self.fuse = nn.Conv2d(2 * mid_channels, mid_channels, 3, 1, 1) if order == 2 else None

    def forward(
        self,
        neighbours: list[torch.Tensor],
        warped: list[torch.Tensor],
        feat_current: torch.Tensor,
        flows: list[torch.Tensor],
    ) -> torch.Tensor:
        if self.fuse is None:
            return warped[0]
        return self.fuse(torch.cat(warped, dim=1))
