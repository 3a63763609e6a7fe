"""Fixtures of the inference tests."""

from __future__ import annotations

import pytest
import torch

from vsr.nn import BasicVSRPlusPlus


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> str:
    """A bare state dict of a random c8n1 BasicVSR++ (valid for `vsr.load_generator`)."""
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pth"
    torch.manual_seed(0)
    torch.save(BasicVSRPlusPlus(mid_channels=8, num_blocks=1).state_dict(), path)
    return str(path)
