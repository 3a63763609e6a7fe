"""Tiny benchmarks in every layout (session-scoped, read-only: copy one to break it)."""

from __future__ import annotations

from pathlib import Path

import benchdata
import pytest


@pytest.fixture(scope="session")
def bench_roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Root of each layout: reds, reds4_basicsr, vid4, udm10, udm10_gt_only, vimeo."""
    base = tmp_path_factory.mktemp("benchmarks")
    return {
        "reds": benchdata.make_reds(base / "REDS"),
        "reds4_basicsr": benchdata.make_reds4_basicsr(base / "REDS4"),
        "vid4": benchdata.make_vid4(base / "Vid4"),
        "udm10": benchdata.make_udm10(base / "UDM10"),
        "udm10_gt_only": benchdata.make_udm10(base / "UDM10_GT", lr=False),
        "vimeo": benchdata.make_vimeo(base / "vimeo90k"),
    }
