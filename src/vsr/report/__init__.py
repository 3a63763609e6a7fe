"""Reports on multiruns: a table (Markdown, CSV) and a PSNR-vs-GFLOPs plot of the jobs, with
each network's parameters, FLOPs and speed measured on a fixed input."""

from vsr.bench.flops import count_flops
from vsr.report.build import build_report, sort_rows, write_report
from vsr.report.collect import Job, Multirun, Validation, collect
from vsr.report.cost import Bench, Cost, measure

__all__ = [
    "Bench",
    "Cost",
    "Job",
    "Multirun",
    "Validation",
    "build_report",
    "collect",
    "count_flops",
    "measure",
    "sort_rows",
    "write_report",
]
