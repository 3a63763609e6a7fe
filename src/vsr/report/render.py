"""The report's table (Markdown and CSV) and its plot (PSNR vs GFLOPs per frame)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from vsr.report.collect import Job, Multirun, finite
from vsr.report.cost import Bench, Cost

# CSV columns after the swept keys; the Markdown table shows them with the headers below.
COLUMNS = (
    "job",
    "status",
    "step",
    "max_steps",
    "params",
    "gflops_per_frame",
    "ms_per_frame",
    "psnr_best",
    "ssim_best",
    "step_best",
    "psnr_last",
    "ssim_last",
    "step_last",
    "psnr_bicubic",
    "problems",
)


@dataclass
class Row:
    job: Job
    cost: Cost | None = None

    def values(self) -> dict:
        v = self.job.validation
        c = self.cost
        return {
            "job": self.job.dir.name if self.job.dir else "",
            "status": self.job.status,
            "step": self.job.step,
            "max_steps": self.job.max_steps,
            "params": c.params if c else None,
            "gflops_per_frame": c.gflops_per_frame if c else None,
            "ms_per_frame": c.ms_per_frame if c else None,
            "psnr_best": v.psnr_best,
            "ssim_best": v.ssim_best,
            "step_best": v.step_best,
            "psnr_last": v.psnr_last,
            "ssim_last": v.ssim_last,
            "step_last": v.step_last,
            "psnr_bicubic": v.psnr_bicubic,
            "problems": "; ".join(self.job.problems),
        }


@dataclass
class Report:
    multirun: Multirun
    rows: list[Row]
    bench: Bench
    machine: str
    notes: list[str] = field(default_factory=list)


def _fmt(value, spec: str) -> str:
    if value is None or (isinstance(value, float) and not finite(value)):
        return "–"
    return format(value, spec)


def to_markdown(report: Report) -> str:
    b = report.bench
    keys = report.multirun.swept_keys
    header = [
        *keys,
        "job",
        "status",
        "params (M)",
        "GFLOPs/frame",
        "ms/frame",
        "PSNR best",
        "SSIM best",
        "PSNR last",
        "SSIM last",
    ]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i < len(keys) + 2 else "---:" for i in range(len(header))) + "|",
    ]
    for row in report.rows:
        v = row.values()
        cells = [
            *(f"`{row.job.swept.get(k, '')}`" for k in keys),
            f"`{v['job']}`" if v["job"] else "–",
            v["status"],
            _fmt(v["params"] / 1e6 if v["params"] is not None else None, ".3f"),
            _fmt(v["gflops_per_frame"], ".2f"),
            _fmt(v["ms_per_frame"], ".0f"),
            _fmt(v["psnr_best"], ".2f") + (f" @{v['step_best']}" if v["step_best"] else ""),
            _fmt(v["ssim_best"], ".4f"),
            _fmt(v["psnr_last"], ".2f") + (f" @{v['step_last']}" if v["step_last"] else ""),
            _fmt(v["ssim_last"], ".4f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    bicubic = {r.job.validation.psnr_bicubic for r in report.rows} - {None}
    legend = [
        f"Multirun: `{report.multirun.root}`; swept: "
        + (", ".join(f"`{k}`" for k in keys) or "nothing"),
        f"Cost on a {b.height}x{b.width} input, {b.frames} frames, batch 1: "
        + (
            f"ms/frame on {b.device}, {b.threads} thread(s), median of {b.repeats} runs; "
            f"{report.machine}."
            if any(r.cost and r.cost.ms_per_frame is not None for r in report.rows)
            else "not timed."
        ),
        "GFLOPs: convolutions and matrix products (2 per multiply-add, "
        "torch.utils.flop_counter), plus the deformable convolutions and bilinear sampling "
        "counted by hand (see vsr.bench.flops); elementwise operations are not counted.",
        "PSNR/SSIM: validation from each job's csv/metrics.csv; best = the validation with "
        "the highest PSNR (@ step), last = the latest one."
        + (f" Bicubic upsampling: {min(bicubic):.2f} dB." if len(bicubic) == 1 else ""),
        *report.notes,
    ]
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {line}" for line in legend) + "\n"


def write_csv(report: Report, path: Path) -> None:
    keys = report.multirun.swept_keys
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([*keys, *COLUMNS])
        for row in report.rows:
            v = row.values()
            writer.writerow(
                [row.job.swept.get(k, "") for k in keys]
                + ["" if v[c] is None else v[c] for c in COLUMNS]
            )


def plot(report: Report, path: Path) -> int:
    """PSNR (best) against GFLOPs per frame, one labelled point per row that has both.
    Returns the number of points drawn."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    points = [
        (r.cost.gflops_per_frame, r.job.validation.psnr_best, r.job.label)
        for r in report.rows
        if r.cost and finite(r.job.validation.psnr_best)
    ]
    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    for x, y, label in points:
        ax.scatter([x], [y], s=36, zorder=3)
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    bicubic = {r.job.validation.psnr_bicubic for r in report.rows} - {None}
    if len(bicubic) == 1:
        ax.axhline(min(bicubic), color="grey", linestyle="--", linewidth=0.8, label="bicubic")
        ax.legend(loc="lower right", fontsize=8)
    left_out = len(report.rows) - len(points)
    b = report.bench
    title = f"{report.multirun.root.name}: PSNR (best validation) vs cost"
    if left_out:
        title += f"\n({left_out} run(s) without results not shown)"
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(f"GFLOPs per frame ({b.height}x{b.width} input)")
    ax.set_ylabel("PSNR (dB)")
    ax.grid(True, alpha=0.3)
    ax.margins(x=0.25, y=0.15)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return len(points)
