"""Benchmarks: the network (`vsr.bench.model`), data loading per storage back-end
(`vsr.bench.data`) and video upscaling against length (`vsr.bench.upscale`)."""

from __future__ import annotations

import json
from pathlib import Path


def emit(results: dict, command: str, out: str | None) -> dict:
    """Record the command line in `results`, print them as JSON and write them to `out`."""
    results["command"] = command
    text = json.dumps(results, indent=2)
    print(text)
    if out:
        Path(out).write_text(text + "\n")
    return results
