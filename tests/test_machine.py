"""The machine description, device choice and memory readings shared by every command."""

from __future__ import annotations

import os

import pytest
import torch

from vsr.machine import (
    describe_device,
    describe_machine,
    machine_info,
    peak_rss_mib,
    rss_mib,
    select_device,
    synchronize,
)


def test_one_description_and_the_words_read_off_it():
    host = machine_info()
    assert list(host) == ["cpu_count", "processor", "python", "threads_env", "load_average"]
    assert host["cpu_count"] == os.cpu_count()
    cpu = machine_info("cpu")
    assert cpu["device"] == "cpu" and cpu["device_name"] == cpu["processor"]
    assert cpu["torch"] == torch.__version__
    assert describe_device("cpu") == f"cpu ({cpu['processor']})"
    assert describe_machine("cpu") == (
        f"{cpu['processor']} ({os.cpu_count()} logical CPUs), torch {torch.__version__}"
    )


def test_select_device():
    assert select_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else None
    if expected:
        assert select_device(None).type == "cuda"
    elif not torch.backends.mps.is_available():
        assert select_device(None) == select_device("auto") == torch.device("cpu")
        with pytest.raises(ValueError, match="CUDA is not available"):
            select_device("cuda:0")


def test_memory_readings():
    synchronize("cpu")  # nothing to wait for
    ballast = bytearray(64 * 2**20)  # 64 MiB, touched
    ballast[::4096] = b"\1" * len(ballast[::4096])
    if os.path.exists("/proc/self/status"):
        now = rss_mib()
        # the kernel updates the high-water mark lazily: within a MiB of the resident size
        assert now >= 64 and peak_rss_mib() >= now - 1
    del ballast
