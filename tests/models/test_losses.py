import torch

from vsr.models import CharbonnierLoss


def test_charbonnier_is_the_formula():
    pred, target = torch.rand(2, 3, 4, 5), torch.rand(2, 3, 4, 5)
    expected = torch.sqrt((pred - target) ** 2 + 1e-12).mean()
    torch.testing.assert_close(CharbonnierLoss()(pred, target), expected)


def test_charbonnier_is_close_to_l1_and_smooth_at_zero():
    x = torch.zeros(3, requires_grad=True)
    loss = CharbonnierLoss()(x, torch.zeros(3))
    loss.backward()
    assert loss.item() == torch.tensor(1e-6).item()  # sqrt(eps)
    assert torch.isfinite(x.grad).all()
