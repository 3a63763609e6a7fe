"""The component study's configs: `ablation=glob(*)` finds the four rows in a known order,
each sets the network's switches, tags the run and gets a run directory of its own; the SLURM
launcher config composes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from vsr.config import config_dir, job_id
from vsr.nn import BasicVSRPlusPlus
from vsr.report.collect import expand_sweep

# Each row adds one component to the one before (paper, Table 5).
ROWS = {
    "baseline": {"second_order": False, "grid_propagation": False, "alignment": "flow"},
    "second_order": {"second_order": True, "grid_propagation": False, "alignment": "flow"},
    "grid": {"second_order": True, "grid_propagation": True, "alignment": "flow"},
    "basicvsrpp": {"second_order": True, "grid_propagation": True, "alignment": "deformable"},
}


def compose_train(overrides: list[str]):
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return compose("train", overrides=overrides, return_hydra_config=True)


def test_glob_finds_the_four_rows_in_alphabetical_order():
    jobs = expand_sweep(["experiment=demo", "ablation=glob(*)"], config_dir())
    assert [job[-1] for job in jobs] == [
        "ablation=baseline",
        "ablation=basicvsrpp",
        "ablation=grid",
        "ablation=second_order",
    ]
    assert sorted(p.stem for p in (Path(config_dir()) / "ablation").glob("*.yaml")) == sorted(ROWS)


@pytest.mark.parametrize("experiment", ["demo", "basicvsrpp"])
@pytest.mark.parametrize("ablation", list(ROWS))
def test_each_ablation_sets_the_switches_tags_and_its_own_dirs(experiment, ablation, tmp_path):
    cfg = compose_train([f"experiment={experiment}", f"ablation={ablation}"])
    generator = cfg.model.generator
    assert {k: generator[k] for k in ROWS[ablation]} == ROWS[ablation]
    # everything else is the experiment's
    plain = compose_train([f"experiment={experiment}"]).model.generator
    assert {k: v for k, v in generator.items() if k not in ROWS[ablation]} == {
        k: v for k, v in plain.items() if k not in ROWS[ablation]
    }
    cfg.paths.root_dir = str(tmp_path)
    cfg.hydra.job.num = 3
    HydraConfig().set_config(cfg)
    assert OmegaConf.to_container(cfg.tags, resolve=True) == [
        cfg.experiment_name,
        "ablation",
        ablation,
    ]
    # a single run and a multirun job never share a directory with another variant
    logs = tmp_path / "logs" / "train"
    assert cfg.hydra.run.dir == str(logs / f"{cfg.experiment_name}_{ablation}")
    assert cfg.hydra.sweep.dir == str(logs / "multirun" / cfg.experiment_name)
    overrides = cfg.hydra.job.override_dirname
    assert cfg.hydra.sweep.subdir == f"3_{ablation}_{job_id(overrides)}"
    assert job_id(overrides) != job_id(overrides + ",model.optimizer.lr=0.001")


def test_each_row_adds_parameters_at_c64n7():
    params = [
        sum(p.numel() for p in BasicVSRPlusPlus(64, 7, **switches).parameters())
        for switches in ROWS.values()
    ]
    assert params == sorted(params)
    assert len(set(params)) == 4
    assert params[-1] == 7_322_927  # the published BasicVSR++


def test_slurm_launcher_composes(monkeypatch):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    monkeypatch.setenv("VSR_SLURM_PARTITION", "gpu")
    monkeypatch.setenv("VSR_SLURM_TIMEOUT_MIN", "120")
    cfg = compose_train(["hydra/launcher=slurm", "experiment=basicvsrpp", "ablation=grid"])
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=False)
    assert launcher["_target_"].endswith("submitit_launcher.SlurmLauncher")
    assert (launcher["gpus_per_node"], launcher["tasks_per_node"], launcher["nodes"]) == (1, 1, 1)
    assert cfg.hydra.launcher.partition == "gpu"
    assert cfg.hydra.launcher.timeout_min == 120
    assert cfg.hydra.launcher.account is None
