"""The per-step cosine schedule: torch's closed form for one horizon, no jump when extended."""

import math

import pytest
import torch

from vsr.models.schedule import CosineSchedule


def optimizer(lrs=(2e-3, 5e-4)):
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in lrs]
    return torch.optim.Adam([{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)])


def run(scheduler, steps):
    lrs = []
    for _ in range(steps):
        scheduler.optimizer.step()
        scheduler.step()
        lrs.append([g["lr"] for g in scheduler.optimizer.param_groups])
    return lrs


def test_one_horizon_is_torchs_cosine_annealing():
    ours = run(CosineSchedule(optimizer(), total_steps=20, eta_min=1e-7), 20)
    reference = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer(), T_max=20, eta_min=1e-7)
    expected = [reference._get_closed_form_lr() for _ in range(20) if not reference.step()]
    flat = [lr for lrs in ours for lr in lrs]
    assert flat == pytest.approx([lr for lrs in expected for lr in lrs], rel=1e-12)
    assert ours[-1] == pytest.approx([1e-7, 1e-7])


def test_past_the_horizon_the_rate_stays_at_eta_min():
    lrs = run(CosineSchedule(optimizer(), total_steps=10, eta_min=1e-7), 30)
    assert lrs[9:] == [[1e-7, 1e-7]] * 21  # torch's recursive form climbs back here


def test_resuming_with_a_longer_horizon_continues_without_a_jump():
    first = CosineSchedule(optimizer(), total_steps=10, eta_min=0.0)
    before = run(first, 4)
    state = first.state_dict()
    resumed = CosineSchedule(opt := optimizer(), total_steps=20, eta_min=0.0)
    resumed.load_state_dict(state)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx(before[-1])
    after = run(resumed, 16)
    # Decays from the factor reached at step 4 to 0 at step 20 along half a cosine.
    reached = 0.5 * (1 + math.cos(math.pi * 4 / 10))
    for k, lrs in enumerate(after, start=5):
        f = reached * 0.5 * (1 + math.cos(math.pi * (k - 4) / 16))
        assert lrs == pytest.approx([2e-3 * f, 5e-4 * f], abs=1e-15)
    assert all(b[0] <= a[0] for a, b in zip([before[-1], *after], after, strict=False))
    assert after[-1] == [0.0, 0.0]
    # A second resume with the same horizon follows the same curve.
    again = CosineSchedule(opt2 := optimizer(), total_steps=20, eta_min=0.0)
    again.load_state_dict(resumed.state_dict())
    assert [g["lr"] for g in opt2.param_groups] == after[-1]
