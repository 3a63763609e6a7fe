"""`vsr-export`: ONNX graphs run by ONNX Runtime give PyTorch's output; the weight formats
round-trip through `vsr.load_generator`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import vsr
from vsr.export import export_onnx, export_weights, format_of, to_basicsr_keys
from vsr.nn import BasicVSRPlusPlus
from vsr.nn.checkpoint import generator_state_dict

FRAMES = 5  # the parity fixture's clip: its mmagic output is the reference too


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vsr.cli.export", *map(str, args)], capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def parity_model(parity) -> BasicVSRPlusPlus:
    """The parity fixture's c16n2 (mmagic weights)."""
    net = BasicVSRPlusPlus(**parity["config"]).eval()
    net.load_state_dict(generator_state_dict(parity["checkpoint"]))
    return net


@pytest.fixture(scope="module")
def onnx_file(parity_model, tmp_path_factory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("onnx") / "c16n2.onnx"
    return path, export_onnx(parity_model, path, frames=FRAMES, size=(64, 64))


def test_onnx_runtime_gives_the_pytorch_output(parity, parity_model, onnx_file) -> None:
    import onnxruntime

    path, report = onnx_file
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # The fixture's input (mmagic's output as the reference) ...
    lqs = parity["inputs"]["plain"][:, :FRAMES]
    got = session.run(None, {"lqs": lqs.numpy()})[0]
    with torch.no_grad():
        expected = parity_model(lqs).numpy()
    assert got.shape == expected.shape == (1, FRAMES, 3, 256, 256)
    assert np.abs(got - expected).max() <= 1e-4
    assert np.abs(got - parity["outputs"]["plain"].numpy()).max() <= 1e-4
    # ... and real frames: a photograph panned across the clip.
    from skimage.data import astronaut

    frame = torch.from_numpy(astronaut()[100:164, 200:264].copy()).permute(2, 0, 1).float() / 255
    lqs = torch.stack([frame.roll(shifts=2 * t, dims=-1) for t in range(FRAMES)])[None]
    got = session.run(None, {"lqs": lqs.numpy()})[0]
    with torch.no_grad():
        expected = parity_model(lqs).numpy()
    assert np.abs(got - expected).max() <= 1e-4
    assert report["frames"] == FRAMES and report["size"] == [64, 64]
    assert "GridSample" in report["operators"]
    assert "DeformConv" not in report["operators"]  # only standard operators


def test_weight_formats_round_trip(parity_model, tmp_path) -> None:
    lqs = torch.rand(1, 2, 3, 16, 20)
    with torch.no_grad():
        expected = parity_model(lqs)
    for fmt, name in (("safetensors", "w.safetensors"), ("mmagic", "m.pth"), ("basicsr", "b.pth")):
        path = export_weights(parity_model, tmp_path / name, fmt)
        loaded = vsr.load_generator(path)
        with torch.no_grad():
            assert torch.equal(loaded(lqs), expected), fmt
    mmagic = torch.load(tmp_path / "m.pth", weights_only=True)
    assert set(mmagic) == {"meta", "state_dict"}
    assert all(k.startswith("generator.") for k in mmagic["state_dict"])
    basicsr = torch.load(tmp_path / "b.pth", weights_only=True)
    assert set(basicsr) == {"params", "params_ema"}
    assert "upconv1.weight" in basicsr["params"]
    assert "spynet.basic_module.0.basic_module.8.weight" in basicsr["params"]
    from safetensors import safe_open

    with safe_open(str(tmp_path / "w.safetensors"), "pt") as f:
        arch = json.loads(f.metadata()["architecture"])
    assert (arch["mid_channels"], arch["num_blocks"]) == (16, 2)


def test_basicsr_names_are_the_inverse_of_the_loader(parity_model) -> None:
    from vsr.nn.checkpoint import to_mmagic_keys

    sd = parity_model.state_dict()
    assert to_mmagic_keys(to_basicsr_keys(sd)).keys() == sd.keys()


def test_bad_requests_are_refused_before_work(tmp_path, parity_model) -> None:
    with pytest.raises(ValueError, match=r"the suffix \.bin names no format"):
        format_of(tmp_path / "x.bin")
    ckpt = export_weights(parity_model, tmp_path / "w.safetensors", "safetensors")
    frames = run(ckpt, tmp_path / "x.onnx", "--frames", "1")
    assert frames.returncode == 1 and "--frames must be at least 2" in frames.stderr
    exists = run(ckpt, ckpt)
    assert exists.returncode == 1 and "exists; pass --overwrite" in exists.stderr
    (tmp_path / "other.pth").write_bytes(b"not a checkpoint")
    wrong = run(tmp_path / "other.pth", tmp_path / "o.safetensors")
    assert wrong.returncode == 1 and "other.pth" in wrong.stderr
    assert not (tmp_path / "o.safetensors").exists()
