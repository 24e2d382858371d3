"""What every chapter's first cell needs: quick mode, seeding and the device."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def quick() -> bool:
    """True when ``ADAMCOURSE_QUICK=1``: chapters use their small settings (tests and the CPU build)."""
    return os.environ.get("ADAMCOURSE_QUICK", "0") not in ("", "0", "false", "False")


def seed_everything(seed: int = 0) -> np.random.Generator:
    """Seed Python, NumPy and torch; return a NumPy ``Generator`` seeded the same way."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- the legacy global generator that student code may still call
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def best_device() -> torch.device:
    """CUDA, then Apple MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
