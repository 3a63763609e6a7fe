"""A multirun's report: collect the jobs, measure each distinct network once, write the table
(Markdown + CSV) and the plot into the multirun directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from omegaconf import OmegaConf

from vsr.machine import describe_machine
from vsr.report.collect import Job, collect
from vsr.report.cost import Bench, Cost, build_generator, measure
from vsr.report.render import Report, Row, plot, to_markdown, write_csv

OUTPUTS = {"markdown": "report.md", "csv": "report.csv", "plot": "report.png"}


def _flatten(node, prefix: str = "") -> dict:
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = ((str(i), v) for i, v in enumerate(node))
    else:
        return {prefix: node}
    out = {}
    for key, value in items:
        out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def config_differences(jobs: list[Job]) -> dict[str, dict[str, object]]:
    """Config values that differ between the jobs, besides their own directories and tags,
    as {key: {job directory name: value}}: what the sweep changed, and anything else that did
    (a config file edited while the sweep ran, say)."""
    flat = {}
    for job in jobs:
        if job.config is None:
            continue
        values = _flatten(OmegaConf.to_container(job.config, resolve=False))
        flat[job.dir.name] = {
            k: v
            for k, v in values.items()
            if not k.startswith("tags") and str(job.dir) not in str(v)
        }
    keys = dict.fromkeys(k for f in flat.values() for k in f)
    return {
        k: {name: f.get(k) for name, f in flat.items()}
        for k in keys
        if len({repr(f.get(k)) for f in flat.values()}) > 1
    }


def build_report(
    root: str | Path,
    bench: Bench | None = None,
    timing: bool = True,
    on_job: Callable[[Job], None] | None = None,
) -> Report:
    """Collect the multirun in `root` and measure each job's network (`model.generator` of
    its config; jobs with the same network share one measurement). `on_job` is called after
    each job (a progress bar)."""
    bench = bench or Bench()
    multirun = collect(root)
    measured: dict[str, Cost | None] = {}
    notes: list[str] = []
    rows = []
    for job in multirun.jobs:
        cost = None
        generator = OmegaConf.select(job.config, "model.generator") if job.config else None
        if generator is not None:
            key = OmegaConf.to_yaml(generator)
            if key not in measured:
                try:
                    measured[key] = measure(build_generator(generator), bench, timing=timing)
                except Exception as err:  # an architecture that cannot be built here
                    measured[key] = None
                    notes.append(f"`{job.label}`: cost not measured ({type(err).__name__}: {err})")
            cost = measured[key]
        rows.append(Row(job, cost))
        if on_job is not None:
            on_job(job)
    differences = config_differences(multirun.jobs)
    if differences:
        notes.append(
            "Config values that differ between the jobs (check that only the swept ones do): "
            + "; ".join(
                f"`{k}`: " + ", ".join(f"{name} {value}" for name, value in v.items())
                for k, v in differences.items()
            )
        )
    return Report(multirun, rows, bench, describe_machine(bench.device), notes)


def sort_rows(report: Report, by: str | None) -> None:
    """Order the rows by a CSV column (`params`, `gflops_per_frame`, `psnr_best`, ...);
    rows without a value go last. None keeps the sweep's order."""
    if by:
        report.rows.sort(key=lambda r: (r.values()[by] is None, r.values()[by] or 0))


def write_report(report: Report, out_dir: str | Path | None = None) -> dict[str, Path]:
    """Write report.md, report.csv and report.png (into the multirun directory by default)."""
    out = Path(out_dir) if out_dir is not None else report.multirun.root
    out.mkdir(parents=True, exist_ok=True)
    paths = {kind: out / name for kind, name in OUTPUTS.items()}
    paths["markdown"].write_text(to_markdown(report))
    write_csv(report, paths["csv"])
    plot(report, paths["plot"])
    return paths
