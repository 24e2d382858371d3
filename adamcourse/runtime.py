"""What every chapter's first cell needs: quick mode, seeding and the device; and whether to draw progress bars."""

from __future__ import annotations

import contextlib
import os
import platform
import random
import sys
from contextvars import ContextVar

import numpy as np
import torch


def quick() -> bool:
    """True when ``ADAMCOURSE_QUICK=1``: chapters use their small settings (tests and the CPU build)."""
    return os.environ.get("ADAMCOURSE_QUICK", "0") not in ("", "0", "false", "False")


PROGRESS_ENV = "ADAMCOURSE_PROGRESS"
_OFF, _ON = ("0", "false", "no", "off"), ("1", "true", "yes", "on")
_held_back: ContextVar[bool] = ContextVar("adamcourse_progress_held_back", default=False)


def show_progress() -> bool:
    """Whether ``train.fit`` and ``sweep.run_sweep`` draw a progress bar when not told (``progress=None``).

    In order: ``False`` inside :func:`no_progress` (a sweep's own runs); ``ADAMCOURSE_PROGRESS=0`` or ``=1``
    decides (``make book`` and ``make test`` set 0; 1 gives text bars in a script); otherwise ``True`` only in a
    Jupyter kernel whose current cell came from a front end that can answer ``input()``: JupyterLab, Notebook,
    Colab and VS Code can, while the executors that build and test the book (nbclient under ``jupyter-book``
    and jupyter-cache, nbval, nbconvert, papermill) send ``allow_stdin=False``, so a bar never reaches the
    HTML even from a plain ``jupyter-book build``. Plain Python, pytest and a terminal IPython: ``False``.
    ``ADAMCOURSE_QUICK`` plays no part: it sets the size of the work, not whether a person is watching.
    """
    if _held_back.get():
        return False
    setting = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if setting in _OFF or setting in _ON:
        return setting in _ON
    if setting:
        raise ValueError(f"{PROGRESS_ENV} must be one of {_OFF + _ON} or unset, got {setting!r}")
    return _front_end_is_watching()


def _front_end_is_watching() -> bool:
    """Whether this is an IPython kernel whose current request allows ``input()``: a person's front end."""
    if "IPython" not in sys.modules:  # a kernel has imported IPython long before
        return False
    kernel = getattr(sys.modules["IPython"].get_ipython(), "kernel", None)  # None: plain or terminal IPython
    if kernel is None:
        return False
    if hasattr(kernel, "get_parent"):  # ipykernel >= 6
        request = kernel.get_parent("shell")
    else:  # ipykernel 5: the message being handled
        request = getattr(kernel, "_parent_header", None)
    return bool(((request or {}).get("content") or {}).get("allow_stdin", False))


@contextlib.contextmanager
def no_progress():
    """Within this block :func:`show_progress` is ``False``: a sweep's runs draw no bars of their own."""
    token = _held_back.set(True)
    try:
        yield
    finally:
        _held_back.reset(token)


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
