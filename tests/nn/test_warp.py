import pytest
import torch
from torch.nn import functional as F

from vsr.nn import flow_warp


def reference_warp(x, flow, padding_mode="zeros"):
    """mmagic's flow_warp, written with grid_sample directly."""
    _, _, h, w = x.shape
    gy, gx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    grid = torch.stack((gx, gy), 2).to(x) + flow.permute(0, 2, 3, 1)
    gx = 2.0 * grid[..., 0] / max(w - 1, 1) - 1.0
    gy = 2.0 * grid[..., 1] / max(h - 1, 1) - 1.0
    return F.grid_sample(
        x, torch.stack((gx, gy), 3), "bilinear", padding_mode=padding_mode, align_corners=True
    )


def test_zero_flow_is_identity():
    x = torch.rand(2, 4, 9, 13)
    torch.testing.assert_close(flow_warp(x, torch.zeros(2, 2, 9, 13)), x, atol=1e-6, rtol=0)


def test_integer_flow_shifts_exactly():
    x = torch.rand(1, 3, 8, 10)
    flow = torch.zeros(1, 2, 8, 10)
    flow[:, 0] = 2  # dx: sample two pixels to the right
    flow[:, 1] = -1  # dy: sample one row up
    out = flow_warp(x, flow)
    torch.testing.assert_close(out[..., 1:, :-2], x[..., :-1, 2:], atol=1e-6, rtol=0)
    # Sampled outside the image: zero padding (up to float rounding of the grid).
    assert out[..., 0, :].abs().max() < 1e-6
    assert out[..., :, -2:].abs().max() < 1e-6


def test_border_padding_repeats_the_edge():
    x = torch.rand(1, 1, 5, 6)
    flow = torch.full((1, 2, 5, 6), 0.0)
    flow[:, 0] = 10
    out = flow_warp(x, flow, padding_mode="border")
    torch.testing.assert_close(out[0, 0], x[0, 0, :, -1:].expand(5, 6), atol=1e-6, rtol=0)


@pytest.mark.parametrize("padding_mode", ["zeros", "border"])
@pytest.mark.parametrize("size", [(7, 11), (1, 5), (16, 16)])
def test_matches_the_reference_formula(size, padding_mode):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, *size, generator=g)
    flow = torch.randn(2, 2, *size, generator=g) * 3
    torch.testing.assert_close(
        flow_warp(x, flow, padding_mode), reference_warp(x, flow, padding_mode), atol=1e-5, rtol=0
    )


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"flow must be \(n, 2, h, w\)"):
        flow_warp(torch.rand(1, 3, 8, 8), torch.zeros(1, 2, 8, 9))


@pytest.mark.parametrize("padding_mode", ["zeros", "border"])
def test_non_finite_and_huge_flows_do_not_crash(padding_mode):
    x = torch.rand(1, 2, 6, 7, requires_grad=True)
    flow = torch.tensor([float("nan"), float("inf"), -float("inf"), 1e30, -1e30, 0.5])
    flow = flow.repeat(84 // 6).view(1, 2, 6, 7).requires_grad_(True)
    out = flow_warp(x, flow, padding_mode)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()
    # Far outside the frame, zeros padding samples zeros and border padding the border.
    far = torch.zeros(1, 2, 6, 7)
    far[:, 0] = 1e30
    expected = (
        torch.zeros(1, 2, 6, 7) if padding_mode == "zeros" else x[..., -1:].expand(-1, -1, -1, 7)
    )
    torch.testing.assert_close(flow_warp(x, far, padding_mode), expected)
