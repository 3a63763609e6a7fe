"""vsr-report on a real multirun: two tiny ablation jobs trained by vsr-train, then the report
read back from disk and checked against the jobs' own files."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
import torch
from omegaconf import OmegaConf

from vsr.cli.report import main as report_main
from vsr.nn import BasicVSRPlusPlus
from vsr.report import Bench, build_report, collect, write_report
from vsr.report.collect import COMPLETE, NOT_STARTED

ENV = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
# small, so that measuring the networks takes a second
BENCH_ARGS = ["--size", "16", "16", "--frames", "2", "--repeats", "1"]
ABLATIONS = {  # job directory (less the id of its overrides) → the network's switches
    "0_baseline": {"second_order": False, "grid_propagation": False, "alignment": "flow"},
    "1_basicvsrpp": {"second_order": True, "grid_propagation": True, "alignment": "deformable"},
}


def run(module: str, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=ENV,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


@pytest.fixture(scope="module")
def _cache(tmp_path_factory) -> dict:
    return {"logs": tmp_path_factory.mktemp("report") / "logs"}


@pytest.fixture
def sweep(tiny_run, _cache) -> Path:
    """The multirun directory of `vsr-train -m ... ablation=baseline,basicvsrpp` (2 steps
    each); trained once per module."""
    if "sweep" not in _cache:
        overrides = [o for o in tiny_run if not o.startswith("paths.log_dir=")]
        run(
            "vsr.cli.train",
            "-m",
            *overrides,
            f"paths.log_dir={_cache['logs']}",
            "trainer.max_steps=2",
            "ablation=baseline,basicvsrpp",
        )
        _cache["sweep"] = _cache["logs"] / "train" / "multirun" / "demo"
    return _cache["sweep"]


@pytest.fixture
def jobs(sweep) -> dict[str, str]:
    """ "0_baseline" → the job's directory name, "0_baseline_<id of its overrides>"."""
    names = {d.name.rsplit("_", 1)[0]: d.name for d in sweep.iterdir() if (d / ".hydra").is_dir()}
    assert sorted(names) == sorted(ABLATIONS)
    return names


@pytest.fixture
def sweep_copy(sweep, tmp_path) -> Path:
    """A copy of the multirun to damage."""
    return Path(shutil.copytree(sweep, tmp_path / "sweep"))


def validations(job_dir: Path) -> list[dict]:
    with open(job_dir / "csv" / "metrics.csv", newline="") as f:
        return [row for row in csv.DictReader(f) if row["val/psnr"]]


def checkpoint_params(job_dir: Path, net: torch.nn.Module) -> int:
    """Parameters of the trained generator (its checkpoint's tensors less the buffers)."""
    sd = torch.load(job_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    tensors = {k.removeprefix("generator."): v for k, v in sd["state_dict"].items()}
    names = {name for name, _ in net.named_parameters()}
    assert names <= tensors.keys()
    return sum(tensors[name].numel() for name in names)


def test_report_of_a_real_ablation_multirun(sweep, jobs, capsys):
    assert report_main([str(sweep), *BENCH_ARGS]) == 0
    stdout = capsys.readouterr().out

    with open(sweep / "report.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["job"] for r in rows] == [jobs[name] for name in ABLATIONS]
    assert [r["ablation"] for r in rows] == ["baseline", "basicvsrpp"]
    for row in rows:
        job_dir = sweep / row["job"]
        vals = validations(job_dir)
        assert vals, "the tiny run validates once"
        assert row["status"] == COMPLETE
        assert int(row["step"]) == 2
        assert float(row["psnr_best"]) == pytest.approx(max(float(v["val/psnr"]) for v in vals))
        assert float(row["psnr_last"]) == pytest.approx(float(vals[-1]["val/psnr"]))
        assert float(row["ssim_last"]) == pytest.approx(float(vals[-1]["val/ssim"]))
        # parameters: as trained (the checkpoint) and as the architecture has them
        net = BasicVSRPlusPlus(8, 1, **ABLATIONS[row["job"].rsplit("_", 1)[0]])
        assert int(row["params"]) == checkpoint_params(job_dir, net)
        assert int(row["params"]) == sum(p.numel() for p in net.parameters())
        assert float(row["gflops_per_frame"]) > 0
        assert float(row["ms_per_frame"]) > 0
    baseline, full = rows
    assert int(baseline["params"]) < int(full["params"])
    assert float(baseline["gflops_per_frame"]) < float(full["gflops_per_frame"])

    markdown = (sweep / "report.md").read_text()
    assert markdown in stdout
    table = [line for line in markdown.splitlines() if line.startswith("| `")]
    assert len(table) == 2
    assert table[0].startswith(f"| `baseline` | `{jobs['0_baseline']}` | complete |")
    assert f"{float(baseline['psnr_best']):.2f}" in table[0]
    assert f"{int(full['params']) / 1e6:.3f}" in table[1]
    assert "16x16 input, 2 frames" in markdown
    # what differs between the jobs' configs: the switches the ablation sets, nothing else
    differences = markdown.split("differ between the jobs", 1)[1]
    alignments = f"{jobs['0_baseline']} flow, {jobs['1_basicvsrpp']} deformable"
    assert f"`model.generator.alignment`: {alignments}" in differences
    assert "data." not in differences

    png = sweep / "report.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plt.imread(png).shape[2] in (3, 4)


def test_job_dirs_are_named_by_ablation_and_hold_the_right_network(sweep, jobs):
    for name, switches in ABLATIONS.items():
        config = OmegaConf.load(sweep / jobs[name] / "config.yaml")
        assert {k: config.model.generator[k] for k in switches} == switches
        assert config.tags[1:] == ["ablation", name.split("_", 1)[1]]
    assert OmegaConf.load(sweep / "multirun.yaml").hydra.overrides.task[-1] == (
        "ablation=baseline,basicvsrpp"
    )


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        report_main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "MULTIRUN_DIR" in out
    assert "--threads" in out


def test_not_a_multirun(tmp_path, capsys):
    assert report_main([str(tmp_path)]) == 2
    assert "holds no Hydra multirun" in capsys.readouterr().err


# --------------------------------------------------------------------------- collection


def test_collect_reads_the_sweep(sweep):
    multirun = collect(sweep)
    assert multirun.swept_keys == ["ablation"]
    assert [j.label for j in multirun.jobs] == ["ablation=baseline", "ablation=basicvsrpp"]
    assert [j.num for j in multirun.jobs] == [0, 1]
    for job in multirun.jobs:
        assert job.status == COMPLETE
        assert job.problems == []
        assert job.validation.count == len(validations(job.dir))


def test_missing_metrics_are_marked(sweep_copy, jobs):
    (sweep_copy / jobs["1_basicvsrpp"] / "csv" / "metrics.csv").unlink()
    report = build_report(sweep_copy, Bench(16, 16, 2, repeats=1), timing=False)
    job = report.rows[1].job
    assert job.problems == ["no metrics.csv"]
    assert job.validation.psnr_best is None
    paths = write_report(report)
    line = paths["markdown"].read_text().splitlines()[3]
    assert line.startswith(f"| `basicvsrpp` | `{jobs['1_basicvsrpp']}` | complete |")
    assert line.endswith("| – | – | – | – |")  # no PSNR/SSIM, not zeros
    with open(paths["csv"], newline="") as f:
        row = list(csv.DictReader(f))[1]
    assert row["problems"] == "no metrics.csv"
    assert row["psnr_best"] == ""
    assert row["params"] != ""  # the network is still measured


def test_unfinished_and_unstarted_jobs_are_listed(sweep_copy, jobs):
    # job 0 stopped early (its config asked for more steps), job 1 never got a directory
    config = OmegaConf.load(sweep_copy / jobs["0_baseline"] / "config.yaml")
    config.trainer.max_steps = 5
    OmegaConf.save(config, sweep_copy / jobs["0_baseline"] / "config.yaml")
    shutil.rmtree(sweep_copy / jobs["1_basicvsrpp"])

    jobs = collect(sweep_copy).jobs
    assert [j.status for j in jobs] == ["incomplete: step 2/5", NOT_STARTED]
    assert jobs[1].label == "ablation=basicvsrpp"
    assert jobs[1].overrides[-1] == "ablation=basicvsrpp"


def test_a_job_without_checkpoint_is_incomplete(sweep_copy, jobs):
    shutil.rmtree(sweep_copy / jobs["0_baseline"] / "checkpoints")
    assert collect(sweep_copy).jobs[0].status == "incomplete: no checkpoint"


def test_without_multirun_yaml_the_differing_overrides_are_the_swept_keys(sweep_copy):
    (sweep_copy / "multirun.yaml").unlink()
    multirun = collect(sweep_copy)
    assert multirun.swept_keys == ["ablation"]
    assert [j.swept for j in multirun.jobs] == [
        {"ablation": "baseline"},
        {"ablation": "basicvsrpp"},
    ]
