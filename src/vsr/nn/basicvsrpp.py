"""BasicVSR++ (Chan et al., "BasicVSR++: Improving Video Super-Resolution with Enhanced
Propagation and Alignment", CVPR 2022), read top to bottom like the paper:

    flow (SPyNet) → features → second-order grid propagation with flow-guided deformable
    alignment → per-frame reconstruction and pixel-shuffle upsampling.

Parameter and buffer names equal mmagic's `BasicVSRPlusPlusNet`, so mmagic checkpoints load
as they are and ours load in mmagic. Unlike the references, any frame size ≥ 1 and any number
of frames ≥ 1 work, the mirror-extension check holds for one call only, and the feature cache
for long clips works on every device.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.checkpoint import checkpoint

from vsr.nn.alignment import FlowGuidedDeformableAlignment, FlowWarpAlignment
from vsr.nn.blocks import PixelShufflePack, ResidualBlocksWithInputConv
from vsr.nn.deform import check_impl
from vsr.nn.spynet import SPyNet
from vsr.nn.warp import flow_warp

ALIGNMENTS = ("deformable", "flow")


class BasicVSRPlusPlus(nn.Module):
    """The BasicVSR++ network.

    The first six arguments are mmagic's; the keyword-only ones select the paper's
    ablations and the output scale, and default to BasicVSR++ x4.

    Args:
        mid_channels: C, channels of the propagated features (64; 128 for the NTIRE models).
        num_blocks: residual blocks in each propagation branch (7; 25 for NTIRE).
        max_residue_magnitude: bound, in pixels, of the learned offset residue to the flow.
        is_low_res_input: True for super-resolution (output `scale` x the input); False for
            same-size restoration (deblurring, denoising), where features and flows are
            computed at 1/4 resolution.
        spynet_pretrained: local path to SPyNet weights (mmagic or BasicSR file); never
            downloaded.
        cpu_cache_length: clips longer than this park their per-frame features in CPU memory
            between uses, so accelerator memory does not grow with the clip's length.
        scale: upsampling factor for low-res inputs, 4 or 2.
        mirror_shortcut: reuse the backward flows of a mirror-extended clip (Vimeo-90K-T's
            7 -> 14) instead of computing its forward flows; a data-dependent branch, so off
            in exported graphs (the outputs are the same either way).
        second_order: propagate from two frames back as well as one (paper Sec. 3.1).
        grid_propagation: two rounds of backward + forward propagation instead of one.
        alignment: "deformable" (flow-guided deformable alignment, Sec. 3.2) or "flow"
            (plain flow warping, as in BasicVSR).
        deform_impl: formulation of the deformable convolutions (`vsr.nn.deform`): "auto"
            picks the fastest measured for the device and pass; "torchvision" is the reference.
    """

    def __init__(
        self,
        mid_channels: int = 64,
        num_blocks: int = 7,
        max_residue_magnitude: float = 10,
        is_low_res_input: bool = True,
        spynet_pretrained: str | None = None,
        cpu_cache_length: int = 100,
        *,
        scale: int = 4,
        second_order: bool = True,
        grid_propagation: bool = True,
        alignment: str = "deformable",
        deform_impl: str = "auto",
        mirror_shortcut: bool = True,
    ):
        super().__init__()
        if scale not in (2, 4):
            raise ValueError(f"scale must be 4 or 2, got {scale}")
        if alignment not in ALIGNMENTS:
            raise ValueError(f"alignment must be one of {ALIGNMENTS}, got {alignment!r}")
        check_impl(deform_impl, "deform_impl")  # here too: the flow ablation has no deform conv
        self.mid_channels = mid_channels
        self.is_low_res_input = is_low_res_input
        self.cpu_cache_length = cpu_cache_length
        self.mirror_shortcut = mirror_shortcut
        self.scale = scale if is_low_res_input else 1
        self.second_order = second_order
        self.alignment = alignment
        self.branches = (
            ("backward_1", "forward_1", "backward_2", "forward_2")
            if grid_propagation
            else ("backward_1", "forward_1")
        )
        order = 2 if second_order else 1

        # Optical flow between neighbouring low-res frames.
        self.spynet = SPyNet(pretrained=spynet_pretrained)

        # Per-frame features; same-size inputs are first brought down to 1/4.
        if is_low_res_input:
            self.feat_extract = ResidualBlocksWithInputConv(3, mid_channels, 5)
        else:
            self.feat_extract = nn.Sequential(
                nn.Conv2d(3, mid_channels, 3, 2, 1),
                nn.LeakyReLU(negative_slope=0.1, inplace=True),
                nn.Conv2d(mid_channels, mid_channels, 3, 2, 1),
                nn.LeakyReLU(negative_slope=0.1, inplace=True),
                ResidualBlocksWithInputConv(mid_channels, mid_channels, 5),
            )

        # Propagation: one alignment and one backbone per branch. The i-th branch's backbone
        # sees the frame's feature, the i earlier branches' outputs and the aligned feature.
        self.deform_align = nn.ModuleDict()
        self.backbone = nn.ModuleDict()
        for i, branch in enumerate(self.branches):
            if alignment == "deformable":
                # 16 deformable groups over [x_{i-1}, x_{i-2}]: 8 per neighbour, each half
                # guided by its own flow; the first-order variant keeps the first half.
                self.deform_align[branch] = FlowGuidedDeformableAlignment(
                    mid_channels, order, 8 * order, max_residue_magnitude, deform_impl
                )
            else:
                self.deform_align[branch] = FlowWarpAlignment(mid_channels, order)
            self.backbone[branch] = ResidualBlocksWithInputConv(
                (2 + i) * mid_channels, mid_channels, num_blocks
            )

        # Reconstruction from all branches, then pixel-shuffle upsampling.
        self.reconstruction = ResidualBlocksWithInputConv(
            (1 + len(self.branches)) * mid_channels, mid_channels, 5
        )
        self.upsample1 = PixelShufflePack(mid_channels, mid_channels, 2)
        # x2 keeps the layout with a non-shuffling second stage (scale factor 1).
        self.upsample2 = PixelShufflePack(mid_channels, 64, 2 if self.scale != 2 else 1)
        self.conv_hr = nn.Conv2d(64, 64, 3, 1, 1)
        self.conv_last = nn.Conv2d(64, 3, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.1, inplace=True)
        # Recompute, per frame, each branch's propagation step (warps, alignment, aggregation,
        # backbone) and the reconstruction in the backward pass instead of storing their
        # activations: memory for long training clips, not a weight (no state_dict entry).
        self.gradient_checkpointing = False

    # ------------------------------------------------------------------ helpers

    def _run(self, module: Callable[..., torch.Tensor], *args) -> torch.Tensor:
        if self.gradient_checkpointing and torch.is_grad_enabled():
            return checkpoint(module, *args, use_reentrant=False)
        return module(*args)

    @staticmethod
    def is_mirror_extended(lqs: torch.Tensor) -> bool:
        """True if the clip's second half is its first half reversed (Vimeo-90K-T protocol).

        Then forward flows equal backward flows reversed in time, and half the flow work
        is saved. Decided per call: nothing carries over to the next input.
        """
        t = lqs.shape[1]
        if t % 2:
            return False
        return torch.equal(lqs[:, : t // 2], lqs[:, t // 2 :].flip(1))

    def compute_flow(self, lqs: torch.Tensor, mirrored: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Flows between neighbours, (n, t-1, 2, h, w) each.

        `flows_backward[:, i]` goes from frame i to i+1, `flows_forward[:, i]` from i+1 to i.
        """
        n, t, c, h, w = lqs.shape
        if t == 1:
            empty = lqs.new_zeros(n, 0, 2, h, w, dtype=torch.float32)
            return empty, empty
        # Flows are computed at SPyNet's own precision (fp32 under mixed precision: a bf16 flow
        # of 100 px is off by half a pixel), and handed on at the input's: the same under
        # autocast, fp16 in a network converted to fp16 around an fp32 SPyNet (an fp16 export).
        dtype = self.spynet.mean.dtype
        earlier = lqs[:, :-1].reshape(-1, c, h, w).to(dtype)
        later = lqs[:, 1:].reshape(-1, c, h, w).to(dtype)
        with torch.autocast(lqs.device.type, enabled=False):
            flows_backward = self.spynet(earlier, later).view(n, t - 1, 2, h, w)
            if mirrored:
                flows_forward = flows_backward.flip(1)
            else:
                flows_forward = self.spynet(later, earlier).view(n, t - 1, 2, h, w)
        return flows_backward.to(lqs.dtype), flows_forward.to(lqs.dtype)

    # ------------------------------------------------------------------ propagation

    def propagation_step(
        self,
        branch: str,
        feat_current: torch.Tensor,
        aggregated: list[torch.Tensor],
        feat_prop: torch.Tensor | None,
        flow_n1: torch.Tensor | None,
        feat_n2: torch.Tensor | None,
        flow_n2: torch.Tensor | None,
    ) -> torch.Tensor:
        """One frame of one branch: align the previous output(s), aggregate, refine.

        Args:
            branch: the propagation branch.
            feat_current: (n, C, h, w) this frame's spatial feature.
            aggregated: the earlier branches' outputs at this frame.
            feat_prop: the branch's previous output (None at its first frame).
            flow_n1: flow from this frame to the previous one.
            feat_n2, flow_n2: the output two steps back and the flow between the previous
                frame and that one (None before the third frame, or for first order).

        Returns:
            (n, C, h, w) this branch's output at this frame.
        """
        if feat_prop is None:
            feat_prop = torch.zeros_like(feat_current)  # nothing propagated yet
        else:
            # First order: the previous output, warped by the flow to the previous frame.
            cond_n1 = flow_warp(feat_prop, flow_n1)
            neighbours, warped, nflows = [feat_prop], [cond_n1], [flow_n1]
            if self.second_order:
                # Second order: the output two steps back, warped by the composed flow
                # flow_n1 + warp(flow_{n-1→n-2}, flow_n1); zeros at the second step.
                if feat_n2 is not None:
                    flow_n2 = flow_n1 + flow_warp(flow_n2, flow_n1)
                    cond_n2 = flow_warp(feat_n2, flow_n2)
                else:
                    feat_n2 = torch.zeros_like(feat_prop)
                    flow_n2 = torch.zeros_like(flow_n1)
                    cond_n2 = torch.zeros_like(cond_n1)
                neighbours.append(feat_n2)
                warped.append(cond_n2)
                nflows.append(flow_n2)
            feat_prop = self.deform_align[branch](neighbours, warped, feat_current, nflows)

        # Aggregation (the grid): this frame's feature, every earlier branch's output at this
        # frame, and the aligned feature; the backbone predicts a residual.
        feat = torch.cat([feat_current, *aggregated, feat_prop], dim=1)
        return feat_prop + self.backbone[branch](feat)

    def propagate(
        self,
        feats: dict[str, list[torch.Tensor]],
        flows: torch.Tensor,
        branch: str,
        fetch: Callable[[torch.Tensor], torch.Tensor],
        park: Callable[[torch.Tensor], torch.Tensor],
    ) -> list[torch.Tensor]:
        """Run one propagation branch over all frames; returns its outputs in frame order.

        Args:
            feats: per-frame features so far: "spatial" and the earlier branches.
            flows: (n, t-1, 2, h, w) flows for this direction (see `compute_flow`).
            branch: "backward_1", "forward_1", "backward_2" or "forward_2".
            fetch: moves a parked tensor to the compute device.
            park: moves a tensor to where it waits (the CPU when caching).
        """
        spatial = feats["spatial"]
        t = len(spatial)
        frames = range(t - 1, -1, -1) if branch.startswith("backward") else range(t)
        earlier = [feats[b] for b in self.branches[: self.branches.index(branch)]]
        step = partial(self.propagation_step, branch)

        outputs: list[torch.Tensor] = []  # this branch's outputs, in walk order
        feat_prop = flow_n1 = feat_n2 = flow_n2 = None
        for i, idx in enumerate(frames):
            if i > 0:
                # The previous output and the flow to the previous frame; two steps back too.
                flow_n1 = fetch(flows[:, min(idx, frames[i - 1])])
                if self.second_order and i > 1:
                    feat_n2 = fetch(outputs[-2])
                    flow_n2 = fetch(flows[:, min(frames[i - 1], frames[i - 2])])
            aggregated = [fetch(e[idx]) for e in earlier]
            feat_prop = self._run(
                step, fetch(spatial[idx]), aggregated, feat_prop, flow_n1, feat_n2, flow_n2
            )
            outputs.append(park(feat_prop))

        return outputs[::-1] if branch.startswith("backward") else outputs

    # ------------------------------------------------------------------ upsampling

    def reconstruct(self, *feats: torch.Tensor) -> torch.Tensor:
        """One frame's spatial feature and branch outputs, (n, C, h, w) each → RGB residual."""
        hr = self.reconstruction(torch.cat(feats, dim=1))
        hr = self.lrelu(self.upsample1(hr))
        hr = self.lrelu(self.upsample2(hr))
        hr = self.lrelu(self.conv_hr(hr))
        return self.conv_last(hr)

    def upsample(
        self,
        lqs: torch.Tensor,
        feats: dict[str, list[torch.Tensor]],
        fetch: Callable[[torch.Tensor], torch.Tensor],
        park: Callable[[torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        """Reconstruct each frame from all branches and add the upsampled input frame."""
        outputs = []
        for i in range(lqs.shape[1]):
            hr = self._run(
                self.reconstruct, *(fetch(feats[k][i]) for k in ("spatial", *self.branches))
            )
            if self.is_low_res_input:
                base = F.interpolate(
                    lqs[:, i], scale_factor=self.scale, mode="bilinear", align_corners=False
                )
            else:
                base = lqs[:, i]
            outputs.append(park(hr + base))
        return torch.stack(outputs, dim=1)

    # ------------------------------------------------------------------ forward

    def forward(self, lqs: torch.Tensor) -> torch.Tensor:
        """Super-resolve a clip.

        Args:
            lqs: (n, t, 3, h, w) RGB frames in [0, 1]; any t ≥ 1, h, w ≥ 1.

        Returns:
            (n, t, 3, scale·h, scale·w) for low-res inputs, (n, t, 3, h, w) otherwise.
            Not clamped. Clips longer than `cpu_cache_length` come back in CPU memory.
        """
        if lqs.dim() != 5 or lqs.shape[2] != 3 or min(lqs.shape[1], *lqs.shape[3:]) < 1:
            raise ValueError(
                f"BasicVSRPlusPlus expects lqs of shape (n, t, 3, h, w) with t, h, w >= 1, "
                f"got {tuple(lqs.shape)}"
            )
        h, w = lqs.shape[-2:]
        # The same-size variant works at 1/4: pad to a multiple of 4, crop the result. An
        # exported graph always pads (by 0 where nothing is missing), for every frame size.
        if not self.is_low_res_input and (torch.compiler.is_exporting() or h % 4 or w % 4):
            n, t = lqs.shape[:2]
            pad = (0, (4 - w % 4) % 4, 0, (4 - h % 4) % 4)
            padded = F.pad(lqs.flatten(0, 1), pad, mode="replicate").unflatten(0, (n, t))
            return self._forward(padded)[..., :h, :w]
        return self._forward(lqs)

    def _forward(self, lqs: torch.Tensor) -> torch.Tensor:
        """`forward` for frames whose sides the network takes as they are."""
        n, t = lqs.shape[:2]
        device = lqs.device
        cache = t > self.cpu_cache_length
        if cache:

            def park(x: torch.Tensor) -> torch.Tensor:
                return x.to("cpu", non_blocking=False)

            def fetch(x: torch.Tensor) -> torch.Tensor:
                return x.to(device, non_blocking=False)
        else:

            def park(x: torch.Tensor) -> torch.Tensor:
                return x

            fetch = park

        # 1. Features of every frame.
        if cache:
            spatial = [park(self.feat_extract(lqs[:, i])) for i in range(t)]
        else:
            spatial = list(self.feat_extract(lqs.flatten(0, 1)).unflatten(0, (n, t)).unbind(1))
        feats: dict[str, list[torch.Tensor]] = {"spatial": spatial}

        # 2. Flows, on the low-res frames (1/4 bicubic for the same-size variant).
        if self.is_low_res_input:
            lqs_flow = lqs
        else:
            lqs_flow = F.interpolate(
                lqs.flatten(0, 1), scale_factor=0.25, mode="bicubic"
            ).unflatten(0, (n, t))
        mirrored = self.mirror_shortcut and self.is_mirror_extended(lqs)
        flows_backward, flows_forward = self.compute_flow(lqs_flow, mirrored)
        flows_backward, flows_forward = park(flows_backward), park(flows_forward)

        # 3. Propagation: backward_1, forward_1 (, backward_2, forward_2).
        for branch in self.branches:
            flows = flows_backward if branch.startswith("backward") else flows_forward
            feats[branch] = self.propagate(feats, flows, branch, fetch, park)

        # 4. Reconstruction and upsampling, frame by frame (left in CPU memory when caching).
        return self.upsample(lqs, feats, fetch, park)
