"""Collecting the jobs of a Hydra multirun: what was swept, what each job ran, how far it got.

A multirun directory holds Hydra's `multirun.yaml` (the sweep's own config, with the command's
overrides) and one directory per job with `.hydra/overrides.yaml` (that job's overrides),
`.hydra/hydra.yaml` (its number), `config.yaml` (its resolved config, written by vsr-train),
`csv/metrics.csv` and `checkpoints/last.ckpt`. Jobs the sweep expected but that never got a
directory are listed too, as "not started".
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

NOT_STARTED = "not started"
COMPLETE = "complete"
INCOMPLETE = "incomplete"


@dataclass
class Validation:
    """Validation results from a job's metrics.csv: the best (highest PSNR, the checkpoint
    ModelCheckpoint keeps) and the last validation."""

    psnr_best: float | None = None
    ssim_best: float | None = None
    step_best: int | None = None
    psnr_last: float | None = None
    ssim_last: float | None = None
    step_last: int | None = None
    psnr_bicubic: float | None = None
    count: int = 0


@dataclass
class Job:
    """One job of the multirun, found on disk or only expected from the sweep."""

    num: int | None
    overrides: list[str]
    swept: dict[str, str]
    dir: Path | None = None
    config: DictConfig | None = None
    step: int | None = None  # steps trained, from the last checkpoint
    max_steps: int | None = None
    validation: Validation = field(default_factory=Validation)
    problems: list[str] = field(default_factory=list)  # what is missing, in words

    @property
    def label(self) -> str:
        """The swept values, e.g. `ablation=baseline, seed=1` (the job's name if none)."""
        if self.swept:
            return ", ".join(f"{k}={v}" for k, v in self.swept.items())
        return self.dir.name if self.dir else f"job {self.num}"

    @property
    def status(self) -> str:
        """complete; incomplete (failed, killed or still running); not started."""
        if self.dir is None:
            return NOT_STARTED
        if self.step is None:
            return f"{INCOMPLETE}: no checkpoint"
        if self.max_steps is not None and self.max_steps > 0 and self.step < self.max_steps:
            return f"{INCOMPLETE}: step {self.step}/{self.max_steps}"
        return COMPLETE


@dataclass
class Multirun:
    root: Path
    swept_keys: list[str]
    jobs: list[Job]


# --------------------------------------------------------------------------- overrides


def _parse(overrides: list[str], config_dir: str | None = None):
    from hydra.core.override_parser.overrides_parser import OverridesParser

    loader = None
    if config_dir is not None:  # needed to expand glob(*) over a config group
        from hydra._internal.config_loader_impl import ConfigLoaderImpl
        from hydra._internal.utils import create_config_search_path

        loader = ConfigLoaderImpl(config_search_path=create_config_search_path(config_dir))
    return OverridesParser.create(config_loader=loader).parse_overrides(overrides)


def override_values(overrides: list[str]) -> dict[str, str]:
    """`["ablation=baseline", "+x.y=2"]` → `{"ablation": "baseline", "x.y": "2"}`."""
    return {o.key_or_group: o.get_value_element_as_str() for o in _parse(overrides)}


def sweep_overrides(multirun_cfg: DictConfig) -> list[str]:
    """The sweep's command-line overrides plus the sweeper's `params`, as Hydra reads them."""
    task = list(OmegaConf.select(multirun_cfg, "hydra.overrides.task", default=[]) or [])
    params = OmegaConf.select(multirun_cfg, "hydra.sweeper.params", default=None) or {}
    return [f"{k}={v}" for k, v in params.items()] + task


def expand_sweep(overrides: list[str], config_dir: str) -> list[list[str]]:
    """Each job's overrides, in the basic sweeper's order (`glob(*)` expanded with the config
    groups under `config_dir`)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    batches = BasicSweeper.split_arguments(_parse(overrides, config_dir), None)
    return [list(job) for batch in batches for job in batch]


def _config_dir(multirun_cfg: DictConfig) -> str | None:
    """The primary config directory the sweep was composed from (None if not a local one)."""
    for source in OmegaConf.select(multirun_cfg, "hydra.runtime.config_sources", default=[]):
        if source.get("provider") == "main" and source.get("schema") == "file":
            return source.get("path")
    return None


# --------------------------------------------------------------------------- job contents


def read_validation(metrics_csv: Path) -> Validation:
    """Best and last validation from a Lightning CSVLogger file (`val/psnr`, `val/ssim`,
    `val/psnr_bicubic`, `step` columns); empty if the file has no validation rows."""
    with open(metrics_csv, newline="") as f:
        rows = [row for row in csv.DictReader(f) if row.get("val/psnr") not in (None, "")]
    if not rows:
        return Validation()

    def num(row: dict, key: str) -> float | None:
        value = row.get(key)
        return float(value) if value not in (None, "") else None

    def step(row: dict) -> int | None:
        value = num(row, "step")
        return int(value) if value is not None else None

    best = max(rows, key=lambda r: float(r["val/psnr"]))
    last = rows[-1]
    return Validation(
        psnr_best=num(best, "val/psnr"),
        ssim_best=num(best, "val/ssim"),
        step_best=step(best),
        psnr_last=num(last, "val/psnr"),
        ssim_last=num(last, "val/ssim"),
        step_last=step(last),
        psnr_bicubic=num(last, "val/psnr_bicubic"),
        count=len(rows),
    )


def checkpoint_step(path: Path) -> int | None:
    """`global_step` of a Lightning checkpoint (memory-mapped: the weights are not read)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except Exception:  # a checkpoint cut short by a killed job
        return None
    return ckpt.get("global_step")


def job_config(job_dir: Path) -> DictConfig | None:
    """The job's config: vsr-train's resolved `config.yaml`, else Hydra's `.hydra/config.yaml`."""
    for path in (job_dir / "config.yaml", job_dir / ".hydra" / "config.yaml"):
        if path.is_file():
            return OmegaConf.load(path)
    return None


def read_job(job_dir: Path, swept_keys: list[str]) -> Job:
    """Everything the report needs from one job directory; what is missing goes to
    `problems` instead of failing."""
    overrides_file = job_dir / ".hydra" / "overrides.yaml"
    overrides = list(OmegaConf.load(overrides_file)) if overrides_file.is_file() else []
    hydra_file = job_dir / ".hydra" / "hydra.yaml"
    num = None
    if hydra_file.is_file():
        num = OmegaConf.select(OmegaConf.load(hydra_file), "hydra.job.num", default=None)
    values = override_values(overrides)
    job = Job(
        num=num,
        overrides=overrides,
        swept={k: values.get(k, "") for k in swept_keys},
        dir=job_dir,
        config=job_config(job_dir),
    )
    if job.config is None:
        job.problems.append("no config.yaml")
    else:
        max_steps = OmegaConf.select(job.config, "trainer.max_steps", default=None)
        job.max_steps = max_steps if isinstance(max_steps, int) else None
    last = job_dir / "checkpoints" / "last.ckpt"
    job.step = checkpoint_step(last) if last.is_file() else None
    metrics = job_dir / "csv" / "metrics.csv"
    if not metrics.is_file():
        job.problems.append("no metrics.csv")
    else:
        job.validation = read_validation(metrics)
        if not job.validation.count:
            job.problems.append("no validation in metrics.csv")
    return job


# --------------------------------------------------------------------------- the multirun


def find_job_dirs(root: Path) -> list[Path]:
    """Directories under `root` that Hydra ran a job in (they hold `.hydra/overrides.yaml`)."""
    dirs = {p.parent.parent for p in root.rglob(".hydra/overrides.yaml")}
    return sorted(d for d in dirs if ".submitit" not in d.relative_to(root).parts)


def collect(root: str | Path) -> Multirun:
    """Every job of the multirun in `root`: the sweep's expected jobs in its order (those
    without a directory as "not started"), then any other job directory found there."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no such directory: {root}")
    dirs = find_job_dirs(root)
    multirun_file = root / "multirun.yaml"
    if not dirs and not multirun_file.is_file():
        raise FileNotFoundError(
            f"{root} holds no Hydra multirun: no multirun.yaml and no job directories "
            "with .hydra/overrides.yaml"
        )

    expected: list[list[str]] = []
    if multirun_file.is_file():
        multirun_cfg = OmegaConf.load(multirun_file)
        overrides = sweep_overrides(multirun_cfg)
        swept_keys = [o.key_or_group for o in _parse(overrides) if o.is_sweep_override()]
        config_dir = _config_dir(multirun_cfg)
        sweeper = OmegaConf.select(multirun_cfg, "hydra.sweeper._target_", default="") or ""
        if config_dir and sweeper.endswith("BasicSweeper"):
            try:
                expected = expand_sweep(overrides, config_dir)
            except Exception:  # e.g. a config group changed since: list what is on disk
                expected = []
    else:  # no record of the sweep: what differs between the jobs was swept
        values = [override_values(list(OmegaConf.load(d / ".hydra/overrides.yaml"))) for d in dirs]
        keys = dict.fromkeys(k for v in values for k in v)
        swept_keys = [k for k in keys if len({v.get(k) for v in values}) > 1]

    found = [read_job(d, swept_keys) for d in dirs]
    jobs: list[Job] = []
    for num, overrides in enumerate(expected):
        match = next((j for j in found if sorted(j.overrides) == sorted(overrides)), None)
        if match is None:
            values = override_values(overrides)
            jobs.append(Job(num, overrides, {k: values.get(k, "") for k in swept_keys}))
        else:
            found.remove(match)
            jobs.append(match)
    jobs += sorted(found, key=lambda j: (j.num is None, j.num or 0, str(j.dir)))
    return Multirun(root=root, swept_keys=swept_keys, jobs=jobs)


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)
