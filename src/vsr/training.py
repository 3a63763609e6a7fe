"""Training from a composed Hydra config: what `vsr-train` runs.

`train(cfg)` seeds, builds the data, model, callbacks, loggers and trainer from `cfg`, resumes
from the newest readable checkpoint of the run directory, fits and tests. A logger that cannot
start is dropped with a warning; the run goes on.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from vsr.config import check_train_config

log = logging.getLogger("vsr.train")


def instantiate_loggers(cfg: DictConfig | None) -> list:
    """Loggers from `cfg.logger`; one that cannot start (wandb missing, no network, no
    account) is dropped with a warning instead of ending the run."""
    from hydra.utils import instantiate

    loggers = []
    for name, conf in (cfg or {}).items():
        if not conf or "_target_" not in conf:
            continue
        try:
            if name == "wandb":
                conf = _wandb_conf(conf)
            logger = instantiate(conf)
            if name == "wandb":
                _ = logger.experiment  # start the run now: a failure here is survivable
            loggers.append(logger)
        except Exception as err:
            log.warning("logger %r could not start (%s); continuing without it", name, err)
    return loggers


def _wandb_conf(conf: DictConfig) -> DictConfig:
    import wandb  # noqa: F401  (fails here, clearly, if wandb is not installed)

    # One id per run directory: a restarted run continues the same wandb run.
    id_file = Path(conf.save_dir) / "wandb_run_id.txt"
    conf = conf.copy()
    OmegaConf.set_struct(conf, False)
    if conf.get("id") is None:
        if id_file.is_file():
            conf.id = id_file.read_text().strip()
        else:
            conf.id = uuid.uuid4().hex[:12]
            id_file.parent.mkdir(parents=True, exist_ok=True)
            id_file.write_text(conf.id)
    conf.resume = "allow"
    if os.environ.get("WANDB_MODE") == "offline":
        conf.offline = True
    return conf


def train(cfg: DictConfig) -> dict[str, Any]:
    """Seed → data, model, callbacks, loggers, trainer → log config → fit → test."""
    import lightning as L
    from hydra.utils import instantiate

    from vsr.callbacks.checkpoints import check_resume_fits, resume_path

    check_train_config(cfg)
    ckpt_path = resume_path(cfg.get("ckpt_path"), cfg.paths.output_dir)
    L.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.data, _convert_="partial")
    model = instantiate(cfg.model, _convert_="partial")
    if ckpt_path:
        check_resume_fits(ckpt_path, model.generator)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    loggers = instantiate_loggers(cfg.get("logger"))
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)

    params = sum(p.numel() for p in model.generator.parameters())
    hparams = {
        "config": OmegaConf.to_container(cfg, resolve=True),
        "params/generator": params,
        "params/trainable": sum(p.numel() for p in model.generator.parameters() if p.requires_grad),
    }
    for logger in trainer.loggers:
        logger.log_hyperparams(hparams)
    log.info("generator parameters: %s", f"{params:,}")

    if ckpt_path:
        log.info("resuming from %s", ckpt_path)
    if cfg.get("train", True):
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    if cfg.get("test"):
        best = getattr(trainer.checkpoint_callback, "best_model_path", "") or None
        trainer.test(model, datamodule=datamodule, ckpt_path=best)
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
    return metrics


def close_loggers() -> None:
    """Finish a wandb run even after a failure, so the next job of a multirun starts clean."""
    try:
        import wandb

        if wandb.run is not None:
            wandb.finish()
    except Exception:  # wandb missing or already broken: nothing to close
        pass
