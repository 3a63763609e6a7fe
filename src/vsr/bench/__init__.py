"""Benchmarks: the network (`vsr.bench.model`), data loading per storage back-end
(`vsr.bench.data`) and video upscaling against length (`vsr.bench.upscale`)."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path


def machine_info() -> dict:
    """What a benchmark ran on: CPUs, Python, thread settings, load at the start."""
    return {
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "threads_env": {
            k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ
        },
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def emit(results: dict, command: str, out: str | None) -> dict:
    """Record the command line in `results`, print them as JSON and write them to `out`."""
    results["command"] = command
    text = json.dumps(results, indent=2)
    print(text)
    if out:
        Path(out).write_text(text + "\n")
    return results
