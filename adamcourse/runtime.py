"""What every chapter's first cell needs: quick mode, seeding and the device."""

from __future__ import annotations

import os
import platform
import random

import numpy as np
import torch


def quick() -> bool:
    """True when ``ADAMCOURSE_QUICK=1``: chapters use their small settings (tests and the CPU build)."""
    return os.environ.get("ADAMCOURSE_QUICK", "0") not in ("", "0", "false", "False")


def seed_everything(seed: int = 0, *, deterministic: bool = False) -> np.random.Generator:
    """Seed Python, NumPy and torch (every CUDA device too); return a NumPy ``Generator`` seeded the same way.

    ``deterministic=True`` also makes torch pick deterministic kernels (``torch.use_deterministic_algorithms``,
    warning where an op has none), turns off cuDNN's autotuner and sets ``CUBLAS_WORKSPACE_CONFIG``: a
    GPU run then repeats bit for bit, at some cost in speed. ``deterministic=False`` (the default) undoes
    that and turns the cuDNN autotuner (``cudnn.benchmark``) on, which picks the fastest convolution
    kernels for fixed input shapes.
    """
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- the legacy global generator that student code may still call
    torch.manual_seed(seed)  # seeds every CUDA device as well
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic
    return np.random.default_rng(seed)


def best_device() -> torch.device:
    """CUDA, then Apple MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe_machine() -> str:
    """One line for benchmark reports: CPU model, cores, torch version and threads, and the GPU if any."""
    import adamcourse

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    parts = [cpu, f"{os.cpu_count()} cores", f"torch {torch.__version__} ({torch.get_num_threads()} threads)",
             f"adamcourse {adamcourse.__version__}"]
    if torch.cuda.is_available():
        parts.append(torch.cuda.get_device_name())
    return ", ".join(parts)
