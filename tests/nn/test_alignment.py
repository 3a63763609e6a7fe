import copy

import pytest
import torch
from torch.nn import functional as F

from vsr.nn import FlowGuidedDeformableAlignment, FlowWarpAlignment, flow_warp
from vsr.nn.alignment import bound_offsets


def test_zero_offset_head_samples_along_the_flow():
    """At init the learned residue is 0 and the mask 0.5: with a constant integer flow the
    deformable conv equals 0.5 x an ordinary conv of the flow-shifted feature (interior)."""
    torch.manual_seed(0)
    c, h, w = 4, 12, 14
    align = FlowGuidedDeformableAlignment(c, order=1, deform_groups=2).eval()
    feat = torch.rand(1, c, h, w)
    flow = torch.zeros(1, 2, h, w)
    flow[:, 0], flow[:, 1] = 3, -2  # dx, dy
    shifted = flow_warp(feat, flow)
    with torch.no_grad():
        out = align([feat], [shifted], torch.rand(1, c, h, w), [flow])
        expected = F.conv2d(shifted, align.weight, None, padding=1) * 0.5 + align.bias.view(
            1, -1, 1, 1
        )
    # Away from the borders the two only differ by float rounding.
    torch.testing.assert_close(out[..., 4:-5, 2:-5], expected[..., 4:-5, 2:-5], atol=1e-5, rtol=0)


@pytest.mark.parametrize("order", [1, 2])
def test_a_zero_bound_leaves_only_the_flow(order):
    """max_residue_magnitude bounds the learned offset: at 0, however large the predicted
    offsets, the result equals the one with the offset rows of the head zeroed."""
    torch.manual_seed(0)
    align = FlowGuidedDeformableAlignment(8, order=order, deform_groups=4, max_residue_magnitude=0)
    torch.nn.init.normal_(align.conv_offset[-1].weight, std=10.0)
    no_offset = copy.deepcopy(align)
    offset_rows = 2 * 9 * 4  # (dy, dx) x 3x3 taps x groups; the mask rows follow
    with torch.no_grad():
        no_offset.conv_offset[-1].weight[:offset_rows] = 0
        no_offset.conv_offset[-1].bias[:offset_rows] = 0
        feats = [torch.rand(1, 8, 9, 9) for _ in range(order)]
        flows = [torch.randn(1, 2, 9, 9) for _ in range(order)]
        current = torch.rand(1, 8, 9, 9)
        out = align(feats, feats, current, flows)
        torch.testing.assert_close(out, no_offset(feats, feats, current, flows))
        align.max_residue_magnitude = 10  # now the residue moves the samples
        assert (align(feats, feats, current, flows) - out).abs().max() > 1e-3


def test_second_order_parameter_shapes_match_mmagic():
    align = FlowGuidedDeformableAlignment(16, order=2, deform_groups=16)
    shapes = {k: tuple(v.shape) for k, v in align.state_dict().items()}
    assert shapes["weight"] == (16, 32, 3, 3)
    assert shapes["conv_offset.0.weight"] == (16, 3 * 16 + 4, 3, 3)
    assert shapes["conv_offset.6.weight"] == (27 * 16, 16, 3, 3)


def test_flow_warp_alignment():
    feats = [torch.rand(1, 4, 6, 6), torch.rand(1, 4, 6, 6)]
    first = FlowWarpAlignment(4, order=1)
    assert len(list(first.parameters())) == 0
    assert first(feats[:1], feats[:1], feats[0], []) is feats[0]
    second = FlowWarpAlignment(4, order=2)
    assert second(feats, feats, feats[0], []).shape == (1, 4, 6, 6)


def test_diverged_offsets_do_not_crash_the_deformable_conv():
    align = FlowGuidedDeformableAlignment(8, order=2, deform_groups=4)
    torch.nn.init.constant_(align.conv_offset[-1].bias, float("nan"))
    feats = [torch.rand(1, 8, 7, 9) for _ in range(2)]
    flows = [torch.full((1, 2, 7, 9), float("inf")), torch.full((1, 2, 7, 9), -1e30)]
    out = align(feats, feats, torch.rand(1, 8, 7, 9), flows)
    out.sum().backward()  # the forward and backward kernels both survive
    assert out.shape == (1, 8, 7, 9)


def test_bound_offsets_equals_nan_to_num_then_clamp_and_keeps_only_a_mask():
    bound = 5.0
    values = [float("nan"), float("inf"), -float("inf"), 1e30, -1e30, 7.0, -6.0, 4.9, -3.0, 0.0]
    reference_in = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    reference = reference_in.nan_to_num(0.0, posinf=bound, neginf=-bound).clamp(-bound, bound)
    offset = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    saved = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        bounded = bound_offsets(offset, bound)
    torch.testing.assert_close(bounded, reference)
    weights = torch.arange(1.0, 11.0, dtype=torch.float64)
    (reference * weights).sum().backward()
    (bounded * weights).sum().backward()
    torch.testing.assert_close(offset.grad, reference_in.grad)
    assert offset.grad.tolist() == [0, 0, 0, 0, 0, 0, 0, 8, 9, 10]
    # For the backward pass, only the boolean mask (no copy of the offsets).
    assert [t.dtype for t in saved] == [torch.bool]
    # Without a backward pass (inference, export): the same values.
    with torch.no_grad():
        torch.testing.assert_close(bound_offsets(offset, bound), reference)
    torch.testing.assert_close(bound_offsets(offset.detach(), bound), reference.detach())


def test_under_bf16_autocast_the_offsets_stay_fp32_flows_and_the_head_runs_in_bf16(monkeypatch):
    """The offset head gets a bf16 input (its convs run in bf16), while the sampling offsets
    are fp32: with the head at zero they are the flows exactly, 300.5 px included (bf16 would
    give 300 or 302), and the bound beyond a 1922-px frame is not rounded to 1920."""
    c, h, w = 8, 2, 1920
    align = FlowGuidedDeformableAlignment(c, order=2, deform_groups=16).eval()
    seen = {}
    align.conv_offset[0].register_forward_pre_hook(lambda m, args: seen.update(head=args[0]))

    def capture(x, offset, mask, *args, **kwargs):
        seen["offset"] = offset
        return torch.zeros(x.shape[0], c, h, w, dtype=torch.bfloat16)

    monkeypatch.setattr("vsr.nn.alignment.modulated_deform_conv2d", capture)
    flows = [torch.zeros(1, 2, h, w), torch.zeros(1, 2, h, w)]
    flows[0][:, 0], flows[0][:, 1] = 300.5, 0.25  # dx, dy
    flows[1][:, 0] = 1921.5  # beyond the last pixel, within the bound of w + 2
    feats = [torch.rand(1, c, h, w, dtype=torch.bfloat16) for _ in range(2)]
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        align(feats, feats, feats[0], flows)
    assert seen["head"].dtype == torch.bfloat16
    offset = seen["offset"]
    assert offset.dtype == torch.float32
    dy_dx = offset.view(1, 2, 8, 9, 2, h, w)  # [order][group][tap][dy, dx]
    assert dy_dx[:, 0, :, :, 0].eq(0.25).all() and dy_dx[:, 0, :, :, 1].eq(300.5).all()
    assert dy_dx[:, 1, :, :, 0].eq(0).all() and dy_dx[:, 1, :, :, 1].eq(1921.5).all()
