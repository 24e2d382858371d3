"""Timing an optimizer step against the memory bandwidth: used by ``benchmarks/optim_step.py`` and the speed chapter.

An Adam step reads theta, g, m, v and writes theta, m, v: at least :data:`BYTES_PER_PARAM` = 28 bytes per fp32
parameter, for a handful of flops, so its time is bounded below by ``28 P / W`` for ``P`` parameters and a memory
bandwidth ``W``. This module measures the pieces of that model:

* :func:`copy_bandwidth_GBps`: bytes read + written per second by a large ``dst.copy_(src)``;
* :func:`step_times` / :func:`timed`: wall-clock times of a call, synchronised on CUDA;
* :func:`measure_steps`: the times of one ``step()`` of each implementation in :data:`IMPLS` for several sizes;
* :func:`traffic`: the element-wise passes an eager step makes, counted from the aten operations it dispatches
  (bytes read and written per parameter), independently of any timing.

Example::

    >>> import torch
    >>> from adamcourse import bench
    >>> bench.traffic(lambda params: torch.optim.Adam(params, fused=True))["total"]  # bytes per parameter
    28.0
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Sequence

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from adamcourse.optim import Adam

#: Bytes one Adam step moves per fp32 parameter in a single pass (it reads theta, g, m, v and writes theta, m, v).
BYTES_PER_PARAM = 28

#: The implementations compared (the library's readable and compiled paths, torch.optim.Adam's three paths).
IMPLS: dict[str, Callable] = {
    "adamcourse": lambda params: Adam(params),
    "adamcourse_compiled": lambda params: Adam(params).compile(),
    "torch_forloop": lambda params: torch.optim.Adam(params, foreach=False),
    "torch_foreach": lambda params: torch.optim.Adam(params, foreach=True),
    "torch_fused": lambda params: torch.optim.Adam(params, fused=True),
}


def sync(device: str) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously); nothing to do on the CPU."""
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def step_times(fn: Callable[[], object], device: str, repeats: int, warmup: int = 3,
               budget_s: float = 10.0) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``fn()`` after ``warmup`` untimed calls; fewer (at least 3) once
    ``budget_s`` seconds are spent."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats!r}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0, got {warmup!r}")
    for _ in range(warmup):
        fn()
    times: list[float] = []
    while len(times) < repeats and (len(times) < 3 or sum(times) < budget_s):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return times


def timed(fn: Callable[[], object], device: str, repeats: int, warmup: int = 3,
          budget_s: float = 10.0) -> tuple[float, int]:
    """Median milliseconds of ``fn()`` (see :func:`step_times`) and how many calls were timed."""
    times = step_times(fn, device, repeats, warmup, budget_s)
    return 1e3 * statistics.median(times), len(times)


def copy_bandwidth_GBps(device: str, n_bytes: int, repeats: int = 10) -> float:
    """Bytes read + written per second (GB/s) by ``dst.copy_(src)`` on two fp32 tensors of ``n_bytes`` each
    (median of ``repeats`` copies)."""
    if n_bytes < 4:
        raise ValueError(f"n_bytes must be >= 4 (one fp32 number), got {n_bytes!r}")
    src = torch.empty(n_bytes // 4, dtype=torch.float32, device=device).uniform_()
    dst = torch.empty_like(src)
    ms, _ = timed(lambda: dst.copy_(src), device, repeats)
    return 2 * (n_bytes // 4) * 4 / (ms * 1e-3) / 1e9


def first_steps_s(opt, device: str) -> float:
    """Seconds of the first two steps: the state is created, and a compiled optimizer compiles."""
    sync(device)
    start = time.perf_counter()
    opt.step()
    opt.step()
    sync(device)
    return time.perf_counter() - start


def measure_steps(sizes: Iterable[int], impls: Sequence[str] = tuple(IMPLS), *, repeats: int = 5,
                  device: str = "cpu", budget_s: float = 10.0, seed: int = 0) -> list[dict]:
    """Times of one ``step()`` of each implementation on one fp32 parameter of each size in ``sizes``.

    A fresh optimizer for each size: the compiled path compiles a kernel for that size in its first steps (a
    kernel for dynamic sizes, compiled once, was several times slower on a CPU).
    Returns one row per (size, impl): ``n_params``, ``impl``, ``times_ms`` (each timed step),
    ``median_ms``, ``min_ms``, ``max_ms``, ``GBps`` (``28 P`` bytes over the median time) and ``first_steps_s``
    (the first two steps at that size, compiling included)."""
    sizes = [int(n) for n in sizes]
    if not sizes or min(sizes) < 1:
        raise ValueError(f"sizes must be a non-empty list of positive ints, got {sizes!r}")
    unknown = [name for name in impls if name not in IMPLS]
    if unknown:
        raise ValueError(f"impls must be among {sorted(IMPLS)}, got {unknown!r}")
    gen = torch.Generator(device=device).manual_seed(seed)
    rows = []
    for n in sizes:
        param = torch.nn.Parameter(torch.randn(n, device=device, generator=gen))
        param.grad = torch.randn(n, device=device, generator=gen)
        for impl in impls:
            opt = IMPLS[impl]([param])
            first = first_steps_s(opt, device)
            times = step_times(opt.step, device, repeats, warmup=1, budget_s=budget_s)
            ms = [1e3 * s for s in times]
            median = statistics.median(ms)
            rows.append({"n_params": n, "impl": impl, "times_ms": ms, "median_ms": median, "min_ms": min(ms),
                         "max_ms": max(ms), "GBps": BYTES_PER_PARAM * n / (median * 1e-3) / 1e9,
                         "first_steps_s": first})
            del opt
        del param
    return rows


class _Traffic(TorchDispatchMode):
    """Counts the aten operations that touch tensors of ``n`` elements, and the bytes they read and write."""

    def __init__(self, n: int):
        super().__init__()
        self.n, self.ops, self.read, self.written = n, [], 0, 0

    def _big(self, value) -> list[torch.Tensor]:
        values = value if isinstance(value, (list, tuple)) else [value]
        return [v for v in values if isinstance(v, torch.Tensor) and v.numel() == self.n]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        schema = func._schema
        before = []  # (tensor, copy) of each argument the schema lets the op write: written if it changes
        read = written = 0
        for i, argument in enumerate(schema.arguments):
            value = args[i] if i < len(args) else kwargs.get(argument.name)
            tensors = self._big(value)
            read += sum(t.numel() * t.element_size() for t in tensors)
            if argument.alias_info is not None and argument.alias_info.is_write:
                before += [(t, t.clone()) for t in tensors]
        out = func(*args, **kwargs)
        written += sum(t.numel() * t.element_size() for t, old in before if not torch.equal(t, old))
        fresh = [out] if len(schema.returns) == 1 else list(out) if isinstance(out, (list, tuple)) else []
        for ret, value in zip(schema.returns, fresh, strict=False):
            if ret.alias_info is None:  # a new tensor (an in-place op returns its input)
                written += sum(t.numel() * t.element_size() for t in self._big(value))
        if read or written:
            self.ops.append(str(func.overloadpacket.__name__))
            self.read += read
            self.written += written
        return out


def traffic(make_opt: Callable, n: int = 1000, steps: int = 1, device: str = "cpu") -> dict:
    """Bytes per parameter that one eager ``step()`` of ``make_opt([param])`` reads and writes, counted per aten
    operation on tensors of the parameter's size (each operand read once per operation, each result written once).

    Runs one untimed step first (the state is created), then counts ``steps`` steps. Returns ``ops`` (the
    operations of one step, in order), ``passes`` (their number), ``read``, ``written`` and ``total`` (bytes per
    parameter per step). A compiled step is one kernel that this count does not see into: use eager paths."""
    if n < 2:
        raise ValueError(f"n must be >= 2 (to tell the parameter's tensors from scalars), got {n!r}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps!r}")
    param = torch.nn.Parameter(torch.randn(n, device=device))
    param.grad = torch.randn(n, device=device)
    opt = make_opt([param])
    opt.step()
    with _Traffic(n) as mode:
        for _ in range(steps):
            opt.step()
    read, written = mode.read / (n * steps), mode.written / (n * steps)
    ops = mode.ops[: len(mode.ops) // steps]
    return {"ops": ops, "passes": len(ops), "read": read, "written": written, "total": read + written}
