"""vsr-train: train a video super-resolution model from the Hydra configs in `conf/`.

vsr-train                                  # the demo: a small model on built-in clips, CPU
vsr-train experiment=basicvsrpp data.root=/data/REDS trainer=ddp trainer.devices=8
vsr-train -m experiment=demo ablation=glob(*)
vsr-train --help                           # Hydra's help: config groups and overrides
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from vsr.config import config_dir

log = logging.getLogger("vsr.train")


@hydra.main(config_path=config_dir(), config_name="train", version_base="1.3")
def _main(cfg: DictConfig) -> float | None:
    from rich.console import Console
    from rich.syntax import Syntax

    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    text = OmegaConf.to_yaml(cfg, resolve=True)
    (output_dir / "config.yaml").write_text(text)
    Console(stderr=True).print(Syntax(text, "yaml"))
    from vsr.callbacks import Preempted
    from vsr.training import close_loggers, train

    try:
        metrics = train(cfg)
    except Preempted as stop:
        log.warning("%s", stop)
        close_loggers()
        # 128 + signal number, as a shell reports a process stopped by that signal.
        raise SystemExit(128 + stop.signum) from None
    finally:
        close_loggers()
        log.info("output directory: %s", output_dir)
    # Returned for Hydra sweepers (Optuna optimises it).
    return metrics.get(cfg.get("optimized_metric") or "val/psnr_best")


def main() -> None:
    _main()


if __name__ == "__main__":
    main()
