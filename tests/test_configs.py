"""Every option of the `data`, `model`, `trainer`, `callbacks` and `logger` groups composes into
`conf/train.yaml` and instantiates on its own (as lightning-hydra-template's test_configs)."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import open_dict

from vsr.config import config_dir
from vsr.data import VSRDataModule
from vsr.models import VSRModule

CONF = Path(config_dir())


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def composed(tmp_path: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            "train", overrides=[f"paths.log_dir={tmp_path}", *overrides], return_hydra_config=True
        )
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "out")
    HydraConfig().set_config(cfg)
    return cfg


@pytest.mark.parametrize("name", options("data"))
def test_data_options_instantiate(name, tmp_path):
    assert isinstance(instantiate(composed(tmp_path, f"data={name}").data), VSRDataModule)


@pytest.mark.parametrize("name", options("model"))
def test_model_options_instantiate(name, tmp_path):
    cfg = composed(tmp_path, f"model={name}", "model.generator.mid_channels=16")
    assert isinstance(instantiate(cfg.model), VSRModule)


# ids not bare "gpu": that keyword marks CUDA-only tests (tests/conftest.py)
@pytest.mark.parametrize("name", options("trainer"), ids=lambda n: f"trainer={n}")
def test_trainer_options_instantiate(name, tmp_path):
    # On this machine's CPU: the GPU trainers' accelerator and device count set to what exists.
    cfg = composed(tmp_path, f"trainer={name}", "trainer.accelerator=cpu", "trainer.devices=1")
    assert isinstance(instantiate(cfg.trainer), L.Trainer)


@pytest.mark.parametrize("name", options("callbacks"))
def test_callback_options_instantiate(name, tmp_path):
    nodes = composed(tmp_path, f"callbacks={name}").callbacks
    callbacks = [instantiate(node) for node in nodes.values() if node]
    assert callbacks and all(isinstance(c, L.Callback) for c in callbacks)


@pytest.mark.parametrize("name", options("logger"))
def test_logger_options_instantiate(name, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    nodes = composed(tmp_path, f"logger={name}").logger
    loggers = [instantiate(node) for node in nodes.values() if node]
    assert loggers and all(isinstance(x, L.pytorch.loggers.Logger) for x in loggers)
