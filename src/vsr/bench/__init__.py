"""Benchmarks: the network (`vsr.bench.model`), data loading per storage back-end
(`vsr.bench.data`), video upscaling against length (`vsr.bench.upscale`), and the FLOP counter
they and `vsr-report` share (`vsr.bench.flops`)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Protocol, TypeVar


class Results(Protocol):
    """Typed benchmark results: a `command` field and their JSON form."""

    command: str | None

    def to_json(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Results)


def emit(results: R, command: str, out: str | None) -> R:
    """`results` with the command line recorded, printed as JSON and written to `out`."""
    results = dataclasses.replace(results, command=command)  # type: ignore[type-var]
    text = json.dumps(results.to_json(), indent=2)
    print(text)
    if out:
        Path(out).write_text(text + "\n")
    return results
