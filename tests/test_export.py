"""`vsr-export`: ONNX graphs run by ONNX Runtime give PyTorch's output; the weight formats
round-trip through `vsr.load_generator`."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import vsr
from vsr.export import export_onnx, export_weights, format_of, to_basicsr_keys
from vsr.nn import BasicVSRPlusPlus

FRAMES = 5  # the clip length of the `parity_onnx` graph (conftest): the fixture's clip


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vsr.cli.export", *map(str, args)], capture_output=True, text=True
    )


def test_onnx_runtime_gives_the_pytorch_output(parity, parity_model, parity_onnx) -> None:
    import onnxruntime

    path, report = parity_onnx
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # The fixture's input (mmagic's output as the reference) ...
    lqs = parity["inputs"]["plain"][:, :FRAMES]
    got = session.run(None, {"lqs": lqs.numpy()})[0]
    with torch.no_grad():
        expected = parity_model(lqs).numpy()
    assert got.shape == expected.shape == (1, FRAMES, 3, 256, 256)
    assert np.abs(got - expected).max() <= 1e-4
    assert np.abs(got - parity["outputs"]["plain"].numpy()).max() <= 1e-4
    # ... and real frames of another size than both the fixture's and the traced example's:
    # a photograph panned across the clip.
    from skimage.data import astronaut

    frame = torch.from_numpy(astronaut()[100:150, 200:270].copy()).permute(2, 0, 1).float() / 255
    lqs = torch.stack([frame.roll(shifts=2 * t, dims=-1) for t in range(FRAMES)])[None]
    got = session.run(None, {"lqs": lqs.numpy()})[0]
    with torch.no_grad():
        expected = parity_model(lqs).numpy()
    assert got.shape == (1, FRAMES, 3, 200, 280)
    assert np.abs(got - expected).max() <= 1e-4
    assert report["frames"] == FRAMES and report["size"] is None
    assert "GridSample" in report["operators"]
    assert "DeformConv" not in report["operators"]  # only standard operators
    # ... and no sequence operators, which TensorRT does not implement
    assert not {"SplitToSequence", "SequenceAt"} & set(report["operators"])


@pytest.mark.slow  # a second export (a minute on 2 cores)
def test_same_size_graph_takes_sides_that_are_no_multiple_of_4(tmp_path) -> None:
    """The same-size network pads to a multiple of 4 inside the graph and crops back."""
    import onnxruntime

    torch.manual_seed(0)
    net = BasicVSRPlusPlus(mid_channels=8, num_blocks=1, is_low_res_input=False).eval()
    for p in net.parameters():  # a residual far from zero, flows far from zero
        p.data.normal_(0, 0.05)
    report = export_onnx(net, tmp_path / "same.onnx", frames=2)
    session = onnxruntime.InferenceSession(report["path"], providers=["CPUExecutionProvider"])
    for size in ((129, 131), (160, 144)):
        lqs = torch.rand(1, 2, 3, *size)
        got = session.run(None, {"lqs": lqs.numpy()})[0]
        with torch.no_grad():
            expected = net(lqs).numpy()
        assert got.shape == (1, 2, 3, *size)
        assert np.abs(expected - lqs.numpy()).max() > 0.1  # not the identity
        assert np.abs(got - expected).max() <= 1e-4


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


@pytest.mark.slow  # the published size: minutes to export on 2 cores
def test_the_published_c64n7_exports_and_runs_in_onnx_runtime(tmp_path) -> None:
    import onnxruntime
    from skimage.data import astronaut

    torch.manual_seed(0)
    net = BasicVSRPlusPlus(mid_channels=64, num_blocks=7).eval()
    report = export_onnx(net, tmp_path / "c64n7.onnx", frames=3)
    session = onnxruntime.InferenceSession(report["path"], providers=["CPUExecutionProvider"])
    photo = torch.from_numpy(astronaut().copy()).permute(2, 0, 1).float() / 255
    lqs = torch.stack([photo[:, 60 + 2 * t : 150 + 2 * t, 100:260] for t in range(3)])[None]
    got = session.run(None, {"lqs": lqs.numpy()})[0]
    with torch.no_grad():
        expected = net(lqs).numpy()
    assert got.shape == (1, 3, 3, 360, 640)
    assert np.abs(got - expected).max() <= 1e-4


@pytest.mark.slow  # another export (a minute or two on 2 cores)
def test_an_fp16_graph_stays_within_2e_3_of_fp32_on_real_frames(parity_model, tmp_path) -> None:
    import onnxruntime
    from skimage.data import astronaut

    report = export_onnx(parity_model, tmp_path / "half.onnx", frames=3, half=True)
    assert report["dtype"] == "float16"
    session = onnxruntime.InferenceSession(report["path"], providers=["CPUExecutionProvider"])
    photo = torch.from_numpy(astronaut().copy()).permute(2, 0, 1).float() / 255
    lqs = torch.stack([photo[:, 100 + 2 * t : 148 + 2 * t, 200:264] for t in range(3)])[None]
    got = session.run(None, {"lqs": lqs.numpy().astype(np.float16)})[0]
    with torch.no_grad():
        expected = parity_model(lqs).numpy()
    assert got.dtype == np.float16
    assert np.abs(got.astype(np.float32) - expected).max() <= 2e-3
    # vsr-upscale runs and reports it at its own precision, whatever --precision says.
    from vsr.inference import VideoWriter, upscale_video

    with VideoWriter(tmp_path / "in.mkv", 25, lossless=True) as writer:
        for frame in (lqs[0].permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8):
            writer.write(frame)
    result = upscale_video(tmp_path / "in.mkv", tmp_path / "out.mkv", report["path"])
    assert result.precision == "fp16" and result.frames == 3


def test_missing_onnx_packages_are_named_with_the_install_step(
    parity_model, tmp_path, monkeypatch, capsys
) -> None:
    from vsr.cli.export import main

    ckpt = export_weights(parity_model, tmp_path / "w.safetensors", "safetensors")
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if it were not installed
    assert main([str(ckpt), str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err
    assert "ONNX export needs the Python package onnx" in err and "make install" in err
    assert not (tmp_path / "m.onnx").exists()
