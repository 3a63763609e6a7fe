"""vsr-train end to end: real Hydra composition, real Trainer runs, real files on disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import open_dict

import restoration_data
from vsr import load_generator
from vsr.config import config_dir

EXPERIMENTS = sorted(p.stem for p in (Path(config_dir()) / "experiment").glob("*.yaml"))
# The NTIRE 2021 network trained on LDV's stored pairs instead of clips compressed on the fly.
LDV_DECOMPRESS = "basicvsrpp_decompress data=ldv"
# An ablation switch on a restoration recipe, run (not only composed).
DENOISE_BASELINE = "basicvsrpp_denoise ablation=baseline"


def vsr_train(*args: str, env: dict | None = None, cwd: Path | None = None, timeout=600):
    result = subprocess.run(
        [sys.executable, "-m", "vsr.cli.train", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1", **(env or {})},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def last_checkpoint(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)


def test_help_lists_the_config_groups():
    out = subprocess.run(
        ["vsr-train", "--help"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    for group in ("experiment:", "trainer:", "logger:", "debug:", "data:"):
        assert group in out


def write_vimeo(root: Path) -> None:
    """A two-septuplet Vimeo-90K layout with BIx4 low-res frames, as real PNGs."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    names = ["00001/0001", "00001/0002"]
    for name in names:
        for kind, size in (("sequences", 32), ("BIx4", 8)):
            folder = root / kind / name
            folder.mkdir(parents=True)
            for i in range(1, 8):
                frame = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                Image.fromarray(frame).save(folder / f"im{i}.png")
    (root / "sep_trainlist.txt").write_text(names[0] + "\n")
    (root / "sep_testlist.txt").write_text(names[1] + "\n")


# The same-size restoration recipes: data in their layout (None: the demo's REDS clips) and a
# small validation set of it.
SAME_SIZE_DATA = {
    "basicvsrpp_deblur_dvd": (
        restoration_data.make_dvd,
        "{name: DVD, clips: [IMG_0003], max_frames: 3}",
    ),
    "basicvsrpp_deblur_gopro": (restoration_data.make_gopro, "{name: GoPro, split: test}"),
    "basicvsrpp_denoise": (
        restoration_data.make_davis,
        "{name: DAVIS, split: val, max_frames: 3, degradation: "
        "{_target_: vsr.data.corruptions.GaussianNoise, sigma: 50}}",
    ),
    "basicvsrpp_decompress": (
        None,
        "{name: REDS4, split: reds4_val, clips: ['000'], max_frames: 3, degradation: "
        "{_target_: vsr.data.corruptions.VideoCompression, codec: libx265, crf: 32}}",
    ),
    LDV_DECOMPRESS: (restoration_data.make_ldv, "{name: LDV, clips: ['001'], max_frames: 3}"),
}
SAME_SIZE_DATA[DENOISE_BASELINE] = SAME_SIZE_DATA["basicvsrpp_denoise"]


@pytest.mark.parametrize("experiment", [*EXPERIMENTS, LDV_DECOMPRESS, DENOISE_BASELINE])
def test_every_experiment_composes_and_runs_one_batch(experiment, tiny_run, demo_root, tmp_path):
    """fast_dev_run of each experiment with a tiny model on small data of its layout."""
    from vsr.training import train

    overrides = [o for o in tiny_run if not o.startswith("data")]
    if experiment.startswith(
        "demo"
    ):  # the demo data module builds (here: finds) the tiny demo data
        overrides += [o for o in tiny_run if o.startswith("data.demo.")]
    overrides = [o for o in overrides if not o.startswith("experiment=")]
    overrides += [
        *(f"experiment={experiment}".split()),  # an experiment and its other config groups
        "debug=fdr",
        "trainer=cpu",
        "trainer.devices=1",  # the recipes' GPU counts would start CPU processes here
        "data.num_workers=0",
        "data.num_frames=3",
        "data.gt_patch_size=32",
        "data.batch_size=1",
        "data.samples_per_epoch=1",
        "model.generator.spynet_pretrained=null",
    ]
    if "vimeo" in experiment:
        write_vimeo(tmp_path / "vimeo")
        reds = tmp_path / "reds_init.pth"
        from vsr.nn import BasicVSRPlusPlus

        torch.save(BasicVSRPlusPlus(8, 1).state_dict(), reds)
        overrides += [
            f"data.root={tmp_path / 'vimeo'}",
            f"model.pretrained={reds}",
            "data.val_sets=[{name: Vimeo-T, kind: vimeo, split: test, mirror: true, gt_frames: [3]}]",
        ]
    elif experiment in SAME_SIZE_DATA:
        make, val_set = SAME_SIZE_DATA[experiment]
        root = make(tmp_path / "data") if make else demo_root
        overrides += [f"data.root={root}", f"data.val_sets=[{val_set}]"]
    else:
        overrides += [
            f"data.root={demo_root}",
            "data.val_sets=[{name: REDS4, split: reds4_val, clips: ['000'], max_frames: 3}]",
        ]
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "out")
        cfg.hydra.runtime.output_dir = str(tmp_path / "out")
    HydraConfig().set_config(cfg)
    with open_dict(cfg):
        del cfg["hydra"]  # as in a real run: the task sees the config without Hydra's own
    metrics = train(cfg)
    assert "train/loss" in metrics
    assert "val/psnr" in metrics


def test_demo_training_writes_checkpoints_samples_and_resumes(tiny_run, tmp_path):
    args = [*tiny_run, "trainer.max_steps=2"]
    first = vsr_train(*args)
    run_dir = tmp_path / "logs" / "train" / "demo"
    assert (run_dir / "config.yaml").is_file()
    assert (run_dir / "samples" / "step_0000002.png").is_file()
    assert (run_dir / "samples" / "step_0000002.gif").is_file()
    assert last_checkpoint(run_dir)["global_step"] == 2
    assert "resuming" not in first.stdout + first.stderr

    # The same command with more steps continues where the last checkpoint left off.
    second = vsr_train(*args[:-1], "trainer.max_steps=4")
    assert "resuming from" in second.stdout + second.stderr
    ckpt = last_checkpoint(run_dir)
    assert ckpt["global_step"] == 4
    assert ckpt["lr_schedulers"][0]["last_epoch"] == 4  # the scheduler carried on too
    # The CSV holds both runs' rows: one training loss per step, none lost or repeated.
    import csv

    with open(run_dir / "csv" / "metrics.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [r["step"] for r in rows if r["train/loss"]] == ["0", "1", "2", "3"]

    # Our checkpoints load as a plain network, config-free.
    model = load_generator(run_dir / "checkpoints" / "last.ckpt")
    assert model.mid_channels == 8


def test_wandb_offline_run_writes_its_files(tiny_run, tmp_path):
    args = [*tiny_run, "trainer.max_steps=2"]
    vsr_train(*args, "logger=[csv,wandb]", env={"WANDB_MODE": "offline"})
    run_dir = tmp_path / "logs" / "train" / "demo"
    runs = list((run_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    assert list(runs[0].glob("run-*.wandb"))
    run_id = (run_dir / "wandb_run_id.txt").read_text().strip()
    assert runs[0].name.endswith(run_id)


def test_a_failing_wandb_does_not_kill_the_run(tiny_run, tmp_path):
    args = [*tiny_run, "trainer.max_steps=1"]
    # Online without an account or network: wandb cannot start.
    env = {
        "WANDB_MODE": "online",
        "WANDB_API_KEY": "",
        "HOME": str(tmp_path),
        "WANDB_BASE_URL": "http://127.0.0.1:9",
    }
    result = vsr_train(*args, "logger=[csv,wandb]", env=env)
    assert "logger 'wandb' could not start" in result.stdout + result.stderr
    assert (tmp_path / "logs" / "train" / "demo" / "csv" / "metrics.csv").is_file()


def test_two_job_multirun_and_another_sweep_under_the_same_name(tiny_run, tmp_path):
    args = [*tiny_run, "trainer.max_steps=1"]
    vsr_train("-m", *args, "model.generator.mid_channels=8,16")
    sweep = tmp_path / "logs" / "train" / "multirun" / "demo"
    jobs = sorted(p.name for p in sweep.iterdir() if (p / "checkpoints").is_dir())
    assert [name.split("_")[0] for name in jobs] == ["0", "1"]
    for job, channels in zip(jobs, (8, 16), strict=True):
        assert load_generator(sweep / job / "checkpoints" / "last.ckpt").mid_channels == channels
    # Another sweep under the same run name: its job 0 gets a directory of its own instead of
    # resuming the first sweep's job 0 (a c8 checkpoint for a c16 network).
    vsr_train("-m", *args, "model.generator.mid_channels=16")
    (new,) = {p.name for p in sweep.iterdir() if (p / "checkpoints").is_dir()} - set(jobs)
    assert new.startswith("0_")
    assert load_generator(sweep / new / "checkpoints" / "last.ckpt").mid_channels == 16


@pytest.mark.distributed
def test_ddp_on_two_cpu_processes_keeps_the_flow_frozen_then_unfreezes(tiny_run, tmp_path):
    args = [
        *tiny_run,
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "trainer.precision=32-true",
        "+trainer.strategy.process_group_backend=gloo",
        "model.fix_flow_iters=2",
    ]
    run_dir = tmp_path / "logs" / "train" / "demo"

    def spynet_last_layers():
        sd = last_checkpoint(run_dir)["state_dict"]
        return torch.cat(
            [
                sd[f"generator.spynet.basic_module.{i}.basic_module.4.conv.weight"].flatten()
                for i in range(6)
            ]
        )

    vsr_train(*args, "trainer.max_steps=2")
    # SPyNet's last layers start at zero: still zero means no update reached them.
    assert spynet_last_layers().abs().max() == 0
    vsr_train(*args, "trainer.max_steps=4")
    assert last_checkpoint(run_dir)["global_step"] == 4
    assert spynet_last_layers().abs().max() > 0


def test_optuna_sweep_runs_trials_and_reports_the_best(tiny_run, tmp_path):
    args = [*tiny_run, "trainer.max_steps=2", "data.samples_per_epoch=2"]
    vsr_train(
        "hparams_search=optuna",
        *args,
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.sampler.n_startup_trials=2",
    )
    sweep = tmp_path / "logs" / "train" / "multirun" / "demo"
    results = (sweep / "optimization_results.yaml").read_text()
    assert "best_params" in results and "model.optimizer.lr" in results
    trials = sorted(
        p.parent.parent.name.split("_")[0] for p in sweep.glob("*/checkpoints/last.ckpt")
    )
    assert trials == ["0", "1"]


@pytest.mark.parametrize("experiment", sorted(set(SAME_SIZE_DATA) - {DENOISE_BASELINE}))
@pytest.mark.parametrize("ablation", ["baseline", "second_order", "grid", "basicvsrpp"])
def test_ablations_switch_the_restoration_recipes_too(experiment, ablation) -> None:
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        overrides = [*f"experiment={experiment}".split(), f"ablation={ablation}"]
        cfg = compose("train", overrides=overrides)
    generator = cfg.model.generator
    expected = {
        "baseline": (False, False, "flow"),
        "second_order": (True, False, "flow"),
        "grid": (True, True, "flow"),
        "basicvsrpp": (True, True, "deformable"),
    }[ablation]
    assert (generator.second_order, generator.grid_propagation, generator.alignment) == expected
    assert generator.is_low_res_input is False and cfg.data.scale == 1  # still the same-size task


def test_a_denoising_run_writes_checkpoints_of_plain_data(tiny_run, tmp_path):
    """An eval set's noise is an object in the config; the checkpoint holds its description,
    so that the file loads with weights_only=True (vsr-test without --trust-checkpoint)."""
    noisy_val = (
        "data.val_sets=[{name: REDS4, split: reds4_val, clips: ['000'], max_frames: 3, "
        "degradation: {_target_: vsr.data.corruptions.GaussianNoise, sigma: 50}}]"
    )
    args = [o for o in tiny_run if not o.startswith(("experiment=", "data.val_sets="))]
    vsr_train(*args, "experiment=demo_denoise", noisy_val, "trainer.max_steps=1")
    path = tmp_path / "logs" / "train" / "demo_denoise" / "checkpoints" / "last.ckpt"
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    assert ckpt["datamodule_hyper_parameters"]["val_sets"][0]["degradation"] == "noise sigma 50"


def test_the_decompression_recipe_trains_at_constant_qps_with_the_readme_override() -> None:
    overrides = [
        "experiment=basicvsrpp_decompress",
        "data.degradation.crf=null",
        "+data.degradation.qp=[32,42]",
    ]
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    degradation = instantiate(cfg.data.degradation)
    assert degradation.describe() == "libx265 qp U{32..42}"
