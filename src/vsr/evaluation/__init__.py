"""Evaluation of a network on the video super-resolution benchmarks, with their protocols.

* `BENCHMARKS`, `Benchmark`, `parse_bench`: the presets (REDS4, Vid4 BI/BD, UDM10,
  Vimeo-90K-T BI/BD, custom folders) and how each is scored.
* `evaluate(model, benchmark, ...)`: scores one network on one benchmark, returns a
  `BenchmarkResult` (its clips' `ClipScore`s and their means).
* `evaluate_checkpoint(path, benchmarks, ...)`: loads a checkpoint and runs several benchmarks,
  returns an `EvaluationResult`; `write_results` writes `results.json` (its `to_json()`) and
  `results.csv`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Lazy, so the CLI's --help and its path checks do not pay for importing torch.
_EXPORTS = {
    "BENCHMARKS": "vsr.evaluation.benchmarks",
    "Benchmark": "vsr.evaluation.benchmarks",
    "parse_bench": "vsr.evaluation.benchmarks",
    "BenchmarkResult": "vsr.evaluation.evaluate",
    "ClipScore": "vsr.evaluation.evaluate",
    "ENSEMBLE_TRANSFORMS": "vsr.evaluation.evaluate",
    "EvaluationResult": "vsr.evaluation.evaluate",
    "evaluate": "vsr.evaluation.evaluate",
    "evaluate_checkpoint": "vsr.evaluation.evaluate",
    "load_benchmark": "vsr.evaluation.evaluate",
    "predict_scored": "vsr.evaluation.evaluate",
    "run_clip": "vsr.evaluation.evaluate",
    "write_results": "vsr.evaluation.evaluate",
}
__all__ = [
    "BENCHMARKS",
    "ENSEMBLE_TRANSFORMS",
    "Benchmark",
    "BenchmarkResult",
    "ClipScore",
    "EvaluationResult",
    "evaluate",
    "evaluate_checkpoint",
    "load_benchmark",
    "parse_bench",
    "predict_scored",
    "run_clip",
    "write_results",
]

if TYPE_CHECKING:
    from vsr.evaluation.benchmarks import BENCHMARKS, Benchmark, parse_bench
    from vsr.evaluation.evaluate import (
        ENSEMBLE_TRANSFORMS,
        BenchmarkResult,
        ClipScore,
        EvaluationResult,
        evaluate,
        evaluate_checkpoint,
        load_benchmark,
        predict_scored,
        run_clip,
        write_results,
    )


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'vsr.evaluation' has no attribute {name!r}")
