"""Charbonnier loss on hand-computed cases (eps 1e-12, as the BasicVSR++ recipe)."""

import math

import pytest
import torch

from vsr.models import CharbonnierLoss


def test_hand_case():
    # Differences 3, -4, 0, 0.5: sqrt(d^2 + 1e-12) = 3, 4, 1e-6, 0.5 (to float64 precision).
    pred = torch.tensor([3.0, 0.0, 1.0, 1.5], dtype=torch.float64)
    target = torch.tensor([0.0, 4.0, 1.0, 1.0], dtype=torch.float64)
    loss = CharbonnierLoss()(pred, target)
    assert loss.item() == pytest.approx((3 + 4 + 1e-6 + 0.5) / 4, rel=1e-12)


def test_far_from_zero_it_is_l1():
    pred, target = torch.full((2, 3), 0.75, dtype=torch.float64), torch.zeros(2, 3).double()
    assert CharbonnierLoss()(pred, target).item() == pytest.approx(0.75, rel=1e-12)


def test_smooth_at_zero():
    x = torch.zeros(3, requires_grad=True)
    loss = CharbonnierLoss()(x, torch.zeros(3))
    loss.backward()
    assert loss.item() == pytest.approx(math.sqrt(1e-12))
    assert torch.equal(x.grad, torch.zeros(3))  # d/dx sqrt(x^2 + eps) = 0 at x = 0
