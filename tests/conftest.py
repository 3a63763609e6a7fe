"""Shared test settings: CPU only, deterministic, one torch thread (CI has 2 busy cores)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import benchdata
from tinyrun import TINY_DEMO, tiny_run_overrides

FIXTURES = Path(__file__).parent / "fixtures"

os.environ.setdefault("WANDB_MODE", "disabled")
torch.set_num_threads(int(os.environ.get("VSR_TEST_THREADS", "1")))


@pytest.fixture(scope="session")
def parity() -> dict:
    """Reference (mmagic) checkpoint, inputs and outputs for a c16n2 BasicVSR++."""
    return torch.load(FIXTURES / "basicvsrpp_parity_c16n2.pt", weights_only=True)


@pytest.fixture(scope="session")
def parity_model(parity):
    """The parity fixture's c16n2 (mmagic weights), in eval mode."""
    from vsr.nn import BasicVSRPlusPlus
    from vsr.nn.checkpoint import generator_state_dict

    net = BasicVSRPlusPlus(**parity["config"]).eval()
    net.load_state_dict(generator_state_dict(parity["checkpoint"]))
    return net


@pytest.fixture(scope="session")
def parity_onnx(parity_model, tmp_path_factory) -> tuple[Path, dict]:
    """The parity model exported by `vsr.export.export_onnx` (5-frame clips, any frame size):
    the graph's path and the export's report. Exported once (about 1.5 minutes here)."""
    from vsr.export import export_onnx

    path = tmp_path_factory.mktemp("onnx") / "c16n2.onnx"
    return path, export_onnx(parity_model, path, frames=5)  # the fixture's clip


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Path:
    from vsr.data.demo import DemoConfig, build_demo

    return build_demo(tmp_path_factory.mktemp("data") / "demo", DemoConfig(**TINY_DEMO))


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> str:
    """A bare state dict of a random c8n1 BasicVSR++ (valid for `vsr.load_generator`)."""
    from vsr.nn import BasicVSRPlusPlus

    path = tmp_path_factory.mktemp("ckpt") / "tiny.pth"
    torch.manual_seed(0)
    torch.save(BasicVSRPlusPlus(mid_channels=8, num_blocks=1).state_dict(), path)
    return str(path)


@pytest.fixture(scope="session")
def bench_roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny benchmarks in every layout (read-only: copy one to break it): reds,
    reds4_basicsr, vid4, udm10, udm10_gt_only, vimeo."""
    base = tmp_path_factory.mktemp("benchmarks")
    return {
        "reds": benchdata.make_reds(base / "REDS"),
        "reds4_basicsr": benchdata.make_reds4_basicsr(base / "REDS4"),
        "vid4": benchdata.make_vid4(base / "Vid4"),
        "udm10": benchdata.make_udm10(base / "UDM10"),
        "udm10_gt_only": benchdata.make_udm10(base / "UDM10_GT", lr=False),
        "vimeo": benchdata.make_vimeo(base / "vimeo90k"),
    }


@pytest.fixture
def tiny_datamodule(demo_root):
    """A factory of data modules over the tiny demo data: 3-frame windows of 32x32 GT."""
    from vsr.data import VSRDataModule

    def make(**overrides):
        settings = {
            "kind": "reds",
            "root": str(demo_root),
            "num_frames": 3,
            "gt_patch_size": 32,
            "batch_size": 1,
            "num_workers": 0,
            "samples_per_epoch": 8,
            "val_sets": [
                {"name": "REDS4", "split": "reds4_val", "clips": ["000"], "max_frames": 3}
            ],
        }
        return VSRDataModule(**{**settings, **overrides})

    return make


@pytest.fixture
def tiny_run(demo_root, tmp_path) -> list[str]:
    """vsr-train overrides for a c8n1 model on the tiny demo data, logging to tmp_path/logs."""
    return tiny_run_overrides(demo_root, tmp_path / "logs")


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
