"""`vsr-bench upscale`: a real video upscaled in a fresh process per length, results as JSON."""

import json
import subprocess
import sys


def test_bench_upscale_measures_each_length(tmp_path):
    out = tmp_path / "upscale.json"
    options = ["--chunk", "4", "--overlap", "1", "--whole", "--whole-max", "6", "--out", str(out)]
    subprocess.run(
        [sys.executable, "-m", "vsr.cli.bench", "upscale", "--frames", "6", "9", *options],
        check=True,
        capture_output=True,
        timeout=600,
    )
    results = json.loads(out.read_text())
    assert list(results) == ["command", "setup", "results"]
    assert list(results["results"][0]) == [
        "frames", "mode", "seconds", "frames_per_s", "rss_before_mib", "peak_rss_mib",
        "growth_mib",
    ]  # fmt: skip
    assert results["command"].startswith("vsr-bench upscale --frames 6 9")
    rows = [(r["frames"], r["mode"]) for r in results["results"]]
    assert [frames for frames, _ in rows] == [6, 6, 9]  # --whole only up to --whole-max
    assert rows[0][1] == "chunk 4 + 1" and rows[1][1] != rows[0][1]
    assert all(r["peak_rss_mib"] >= r["rss_before_mib"] for r in results["results"])
