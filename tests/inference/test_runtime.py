"""An exported graph in the streaming loop: ONNX Runtime gives the PyTorch network's frames."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from vsr.cli.upscale import main as upscale_main
from vsr.inference import VideoWriter, open_reader, upscale_frames
from vsr.inference.runtime import OnnxNetwork, reflect_in_time
from vsr.inference.upscale import window_plan

from .helpers import photo_clip


@pytest.fixture(scope="module")
def graph(parity_onnx) -> OnnxNetwork:
    return OnnxNetwork(parity_onnx[0], threads=1)


def assert_same_frames(got, expected) -> None:
    """uint8 frames equal up to rounding: outputs within 1e-4 may round to neighbouring levels."""
    got, expected = np.stack(list(got)).astype(int), np.stack(list(expected)).astype(int)
    assert got.shape == expected.shape
    diff = np.abs(got - expected)
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3


def test_the_graph_says_what_it_takes(graph) -> None:
    assert (graph.frames, graph.scale, graph.size, graph.min_side) == (5, 4, None, 33)
    assert (graph.architecture["mid_channels"], graph.architecture["num_blocks"]) == (16, 2)
    # Windows of the graph's length: a quarter of it as context on each side by default.
    assert window_plan(graph, None, None) == (3, 1)
    assert window_plan(graph, 5, None) == (5, 0)
    with pytest.raises(ValueError, match=r"c16n2.onnx takes clips of 5 frames.*--chunk"):
        window_plan(graph, 4, 1)


def test_chunks_and_tiles_through_onnx_runtime_give_the_pytorch_frames(graph, parity_model):
    _, lr = photo_clip(10, 160)  # 10 frames of 40x40: two windows of exactly 5 frames
    options = {"chunk": 5, "overlap": 0, "device": "cpu"}
    assert_same_frames(
        upscale_frames(lr, graph, **options), upscale_frames(lr, parity_model, **options)
    )
    wide = [np.ascontiguousarray(np.concatenate([f, f[:, :16]], axis=1)) for f in lr[:5]]
    tiled = {**options, "tile": 36, "tile_overlap": 16}  # 40x56 frames in 36-pixel tiles
    assert_same_frames(
        upscale_frames(wide, graph, **tiled), upscale_frames(wide, parity_model, **tiled)
    )


def test_short_clips_are_reflected_in_time_and_small_frames_padded(graph, parity_model):
    _, lr = photo_clip(3, 160)
    # Three frames into a five-frame graph: what the network gives for frames 0 1 2 1 0.
    mirrored = [lr[i] for i in (0, 1, 2, 1, 0)]
    expected = list(upscale_frames(mirrored, parity_model, chunk=5, overlap=0))[:3]
    assert_same_frames(upscale_frames(lr, graph, chunk=5, overlap=0), expected)
    # 20x24 frames (below the graph's 33): edge pixels repeated to 33x33, the output cropped.
    small = [np.ascontiguousarray(f[:20, :24]) for f in lr]
    padded = [np.pad(small[i], ((0, 13), (0, 9), (0, 0)), mode="edge") for i in (0, 1, 2, 1, 0)]
    expected = [f[:80, :96] for f in upscale_frames(padded, parity_model, chunk=5, overlap=0)][:3]
    assert_same_frames(upscale_frames(small, graph, chunk=5, overlap=0), expected)


def test_reflect_in_time_on_hand_cases() -> None:
    import torch

    clip = torch.arange(3).view(1, 3)
    assert reflect_in_time(clip, 8).tolist() == [[0, 1, 2, 1, 0, 1, 2, 1]]
    assert reflect_in_time(torch.tensor([[7]]), 3).tolist() == [[7, 7, 7]]


def test_vsr_upscale_runs_an_exported_graph_on_a_video(graph, parity_onnx, tmp_path) -> None:
    _, lr = photo_clip(7, 160)
    src = tmp_path / "in.mkv"
    with VideoWriter(src, 25, lossless=True) as writer:
        for frame in lr:
            writer.write(frame)
    out = tmp_path / "out.mkv"
    report = tmp_path / "run.json"
    args = [src, out, "--backend", "onnxruntime", "-c", parity_onnx[0], "--lossless", "--quiet"]
    assert upscale_main([str(a) for a in [*args, "--report", report]]) == 0
    summary = json.loads(report.read_text())
    assert summary["backend"] == "onnxruntime" and summary["device"].startswith("cpu")
    assert summary["precision"] == "fp32"  # the graph's own, not the CPU's bf16 default
    with open_reader(out) as reader:
        back = list(reader)
    with open_reader(src) as reader:
        decoded = list(reader)
    # The command's default windows for a 5-frame graph: chunks of 3, one frame of context.
    np.testing.assert_array_equal(np.stack(back), np.stack(list(upscale_frames(decoded, graph))))
    assert back[0].shape == (160, 160, 3) and len(back) == 7


def test_bad_requests_name_the_setting(
    parity_onnx, tiny_checkpoint, tmp_path, capsys, monkeypatch
) -> None:
    _, lr = photo_clip(3, 160)
    src = tmp_path / "in.mkv"
    with VideoWriter(src, 25, lossless=True) as writer:
        for frame in lr:
            writer.write(frame)
    graph = str(parity_onnx[0])
    foreign = tmp_path / "identity.onnx"  # a valid ONNX graph that vsr-export did not write
    node = onnx.helper.make_node("Identity", ["x"], ["y"])
    value = onnx.helper.make_tensor_value_info
    onnx.save(
        onnx.helper.make_model(
            onnx.helper.make_graph(
                [node], "g", [value("x", onnx.TensorProto.FLOAT, [1])], [value("y", 1, [1])]
            )
        ),
        foreign,
    )
    cases = [
        (["-c", tiny_checkpoint, "--backend", "onnxruntime"], "--backend onnxruntime runs an ONNX"),
        (["-c", graph, "--backend", "pytorch"], "--backend pytorch runs a PyTorch checkpoint"),
        (["-c", graph, "--precision", "bf16"], "at the precision it was exported in"),
        (["-c", graph, "--chunk", "4", "--overlap", "1"], "takes clips of 5 frames"),
        (["-c", str(foreign)], "identity.onnx is no BasicVSR++ graph written by vsr-export"),
    ]
    for i, (extra, message) in enumerate(cases):
        out = tmp_path / f"out{i}.mkv"
        assert upscale_main([str(src), str(out), "--quiet", *extra]) == 1, extra
        assert message in capsys.readouterr().err, extra
        assert not out.exists() and not list(Path(tmp_path).glob(f"out{i}*"))
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if it were not installed
    assert upscale_main([str(src), str(tmp_path / "x.mkv"), "--quiet", "-c", graph]) == 1
    err = capsys.readouterr().err
    assert "running an ONNX graph needs the Python package onnxruntime" in err
    assert "make install" in err
