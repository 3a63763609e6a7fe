"""Shared test settings: CPU only, deterministic, one torch thread (CI has 2 busy cores)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).parent / "fixtures"

os.environ.setdefault("WANDB_MODE", "disabled")
torch.set_num_threads(int(os.environ.get("VSR_TEST_THREADS", "1")))


@pytest.fixture(scope="session")
def parity() -> dict:
    """Reference (mmagic) checkpoint, inputs and outputs for a c16n2 BasicVSR++."""
    return torch.load(FIXTURES / "basicvsrpp_parity_c16n2.pt", weights_only=True)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
