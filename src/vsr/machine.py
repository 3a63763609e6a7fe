"""The machine a command runs on: its description, the device choice, device synchronisation
and the process's memory high-water mark, written once for every part of `vsr`.

`machine_info` is the description (a dict, as benchmark results record it); the one-line forms
(`describe_device`, `describe_machine`) are read off it. torch is imported inside the functions
that need it: `vsr-bench --help` and the host description do not pay for importing it.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def cpu_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what `platform` knows of it."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cpu_supports_bf16() -> bool:
    """Whether the CPU computes bf16 natively (AVX-512 BF16 or AMX; Linux: /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def machine_info(device: str | torch.device | None = None) -> dict[str, Any]:
    """What a measurement ran on: CPUs, Python, thread settings, load at the start; with a
    `device`, also torch's version and the device with its name (`cuda:0`, "NVIDIA H100 80GB
    HBM3"; for the CPU, the CPU's model name)."""
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "processor": cpu_name(),
        "python": platform.python_version(),
        "threads_env": {
            k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if k in os.environ
        },
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    if device is not None:
        import torch

        device = torch.device(device)
        name = info["processor"]
        if device.type == "cuda":
            index = device.index if device.index is not None else torch.cuda.current_device()
            device, name = torch.device("cuda", index), torch.cuda.get_device_name(index)
        info.update(torch=torch.__version__, device=str(device), device_name=name)
    return info


def describe_device(device: str | torch.device) -> str:
    """The device in words: `cuda:0 (NVIDIA H100 80GB HBM3)`, `cpu (AMD EPYC 7B13 ...)`."""
    info = machine_info(device)
    return f"{info['device']} ({info['device_name']})"


def describe_machine(device: str | torch.device) -> str:
    """The device and torch in words, for a timing: `NVIDIA H100 80GB HBM3, torch 2.5.1`, or
    for the CPU with its logical CPUs: `AMD EPYC 7B13 (2 logical CPUs), torch 2.5.1`."""
    info = machine_info(device)
    name = info["device_name"]
    if info["device"] == "cpu":
        name += f" ({info['cpu_count']} logical CPUs)"
    return f"{name}, torch {info['torch']}"


def select_device(device: str | torch.device | None = None) -> torch.device:
    """`device` if given (and available), else the best available: cuda, then mps, then cpu.

    Raises:
        ValueError: a CUDA or MPS device asked for where there is none.
    """
    import torch

    if device is not None and str(device) != "auto":
        device = torch.device(device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {device} requested, but CUDA is not available")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"device {device} requested, but MPS is not available")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def synchronize(device: str | torch.device) -> None:
    """Wait for the device's queued work (a no-op on the CPU), so that a timer reads the
    work's end and not its launch."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def peak_rss_mib() -> float:
    """The process's resident-set high-water mark, in MiB (`ru_maxrss`)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)  # bytes on macOS, KiB else


def rss_mib() -> float:
    """The process's resident memory now, in MiB (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
