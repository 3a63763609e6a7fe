"""`vsr-bench model` end to end on a tiny network: real processes, real JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

from vsr.bench.model import ModelResults


def test_bench_model_writes_json(tmp_path):
    out = tmp_path / "model.json"
    cmd = [
        sys.executable, "-m", "vsr.cli.bench", "model",
        "--mid-channels", "8", "--num-blocks", "1", "--frames", "2", "--height", "16",
        "--width", "16", "--impls", "auto", "--checkpointing", "off", "on", "--repeats", "1",
        "--matmul-size", "128", "--profile", "--plot", str(tmp_path / "model.png"),
        "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr

    results = json.loads(out.read_text())
    # the typed results are the JSON: the same keys, in the same order, both ways
    assert ModelResults.from_json(results).to_json() == results
    assert list(results) == ["machine", "config", "measured", "cases", "command"]
    assert list(results["cases"][0]) == [
        "torch", "impl", "resolved_impl", "checkpointing", "channels_last", "precision",
        "threads", "pass",
        "gflop", "time_s", "times_s", "median_time_s", "frames_per_s", "gflop_per_s",
        "matmul_peak_gflop_per_s", "peak_fraction", "peak_memory_mib", "rss_before_mib",
        "profile",
    ]  # fmt: skip
    with Image.open(tmp_path / "model.png") as image:  # the bars, as a real PNG
        assert image.format == "PNG" and image.width > 300 and image.height > 100
    assert json.loads(proc.stdout) == results
    assert results["command"].startswith("vsr-bench model --mid-channels 8")
    assert results["config"]["mid_channels"] == 8 and results["config"]["num_blocks"] == 1
    assert results["machine"]["cpu_count"] >= 1
    cases = results["cases"]
    # "auto" is timed as what it picks on the CPU; checkpointing only changes training passes.
    assert [
        (c["impl"], c["resolved_impl"], c["threads"], c["pass"], c["checkpointing"]) for c in cases
    ] == [
        ("auto", "sample", 1, "forward", False),
        ("auto", "sample_checkpoint", 1, "train", False),
        ("auto", "sample_checkpoint", 1, "train", True),
    ]
    for case in cases:
        for key in ("time_s", "frames_per_s", "gflop", "gflop_per_s", "matmul_peak_gflop_per_s"):
            assert case[key] > 0, (key, case)
        ratio = case["gflop_per_s"] / case["matmul_peak_gflop_per_s"]
        assert abs(case["peak_fraction"] - ratio) < 1e-3
        assert case["peak_memory_mib"] >= case["rss_before_mib"] > 0
        assert len(case["times_s"]) == 1
        # --profile: the pass's operators by self time, convolutions among them.
        shares = [op["share"] for op in case["profile"]]
        assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1.0001
        assert any("conv" in op["op"] for op in case["profile"]), case["profile"]
    forward, train, checkpointed = cases
    # A training pass counts the forward plus a backward of about twice its FLOPs; the
    # recomputation that checkpointing adds is not useful work and is not counted.
    assert 2.5 * forward["gflop"] < train["gflop"] < 3.5 * forward["gflop"]
    assert checkpointed["gflop"] == train["gflop"]


def test_bench_model_rejects_unknown_formulations_before_running():
    from vsr.bench.model import ModelConfig, run

    with pytest.raises(ValueError, match=r"unknown --impls \['cuda'\]"):
        run(ModelConfig(), impls=["auto", "cuda"], log=pytest.fail)


def test_bench_model_times_settings_of_different_precision_in_one_run():
    from vsr.bench.model import ModelConfig, case_label, run

    config = ModelConfig(
        mid_channels=8, num_blocks=1, frames=2, height=16, width=16, repeats=1, matmul_size=64
    )
    results = run(config, impls=["auto", "sample:bf16:cl"], passes=["forward"], log=print)
    settings = [(c.impl, c.resolved_impl, c.precision, c.channels_last) for c in results.cases]
    assert settings == [("auto", "sample", "fp32", False), ("sample", "sample", "bf16", True)]
    assert [case_label(c) for c in results.cases] == [
        "auto (sample), 1 thread",
        "sample bf16 channels-last, 1 thread",
    ]
    assert results.config.precision == "fp32"  # the run's default, for entries without one


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("sample:bf32", r"'bf32' is neither a precision \(fp32, bf16, fp16\) nor cl"),
        ("onnxruntime:bf16", r"the exported graph runs as exported \(fp32\)"),
    ],
)
def test_bench_model_refuses_unknown_case_settings(entry, message):
    from vsr.bench.model import ModelConfig, run

    with pytest.raises(ValueError, match=message):
        run(ModelConfig(), impls=["auto", entry], log=pytest.fail)


@pytest.mark.slow  # exports the network (about a minute on 2 cores)
def test_bench_model_times_the_exported_graph_beside_pytorch(tmp_path):
    from vsr.bench.model import ModelConfig, run

    config = ModelConfig(
        mid_channels=8,
        num_blocks=1,
        frames=2,
        height=40,
        width=40,
        repeats=1,
        matmul_size=128,
        precision="bf16",  # the PyTorch cases; the graph runs as exported, fp32
    )
    results = run(config, impls=["sample", "onnxruntime"], passes=["forward", "train"], log=print)
    cases = [(c.impl, c.resolved_impl, c.pass_name) for c in results.cases]
    # The graph runs forward passes only, beside the PyTorch cases.
    assert cases == [
        ("sample", "sample", "forward"),
        ("sample", "sample", "train"),
        ("onnxruntime", "onnxruntime", "forward"),
    ]
    pytorch, _, graph = results.cases
    assert (pytorch.precision, graph.precision) == ("bf16", "fp32")
    assert graph.gflop == pytorch.gflop  # the same network, the same work
    assert graph.frames_per_s == pytest.approx(2 / graph.time_s, rel=1e-3)


def test_bench_model_refuses_what_the_exported_graph_cannot_time():
    from vsr.bench.model import ModelConfig, run

    with pytest.raises(ValueError, match="batch 1, on the CPU"):
        run(ModelConfig(batch=2), impls=["onnxruntime"], log=pytest.fail)
