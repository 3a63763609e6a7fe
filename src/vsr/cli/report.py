"""vsr-report: a multirun's jobs as one table and one plot.

    vsr-train -m experiment=demo ablation=glob(*)
    vsr-report logs/train/multirun/demo

writes report.md, report.csv and report.png into the multirun directory: one row per job,
labelled by the values it swept, with the network's parameters, GFLOPs and ms per frame (on
a fixed input, measured here), validation PSNR/SSIM (best and last, from csv/metrics.csv) and
the job's status (complete; incomplete at step k of n: failed, killed or still running; not
started). Works on any vsr-train multirun, run locally or on SLURM.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vsr-report",
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("multirun_dir", metavar="MULTIRUN_DIR", help="a Hydra sweep directory")
    parser.add_argument(
        "--size",
        nargs=2,
        type=int,
        default=(64, 64),
        metavar=("H", "W"),
        help="low-res input size the cost is measured on (default: 64 64)",
    )
    parser.add_argument("--frames", type=int, default=5, help="frames of that input (default: 5)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads for the timing (default: 1)"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs; the median counts (default: 3)"
    )
    parser.add_argument("--device", default="cpu", help="device for the timing (default: cpu)")
    parser.add_argument(
        "--no-timing", action="store_true", help="count parameters and FLOPs only (faster)"
    )
    parser.add_argument(
        "--sort",
        metavar="COLUMN",
        help="order the rows by a column of report.csv: params, gflops_per_frame, "
        "ms_per_frame, psnr_best, ... (default: the sweep's order)",
    )
    parser.add_argument("--out", metavar="DIR", help="write the files here instead of MULTIRUN_DIR")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `vsr-report`; returns the exit status."""
    args = build_parser().parse_args(argv)

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from vsr.report import Bench, build_report, collect, sort_rows, write_report
    from vsr.report.render import COLUMNS

    console = Console(stderr=True, soft_wrap=True)
    if args.sort is not None and args.sort not in COLUMNS:
        console.print(f"[red]vsr-report: --sort takes one of {', '.join(COLUMNS)}")
        return 2
    bench = Bench(
        height=args.size[0],
        width=args.size[1],
        frames=args.frames,
        threads=args.threads,
        repeats=args.repeats,
        device=args.device,
    )
    try:
        total = len(collect(args.multirun_dir).jobs)
    except FileNotFoundError as err:
        console.print(f"[red]vsr-report: {err}")
        return 2
    with Progress(
        "[bold]measuring jobs",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        "{task.description}",
        console=console,
    ) as progress:
        task = progress.add_task("", total=total)

        def advance(job) -> None:
            progress.update(task, advance=1, description=job.label)

        report = build_report(args.multirun_dir, bench, not args.no_timing, on_job=advance)
    sort_rows(report, args.sort)
    paths = write_report(report, args.out)
    print(paths["markdown"].read_text())
    for path in paths.values():
        console.print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
