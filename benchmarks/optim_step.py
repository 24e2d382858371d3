"""Median time of one Adam step: adamcourse.optim.Adam against torch.optim.Adam's three implementations.

Prints one JSON object:
``{"machine": str, "copy_GBps": float, "results": [{"device", "n_params", "impl", "median_ms"}, ...]}``.
``copy_GBps`` is the bandwidth of a large tensor copy (bytes read + written per second): Adam moves about
28 bytes per fp32 parameter per step in an ideal fused kernel, so ``28 * n / copy_GBps`` is a floor.

Usage: ``python benchmarks/optim_step.py [--sizes 1e6 1e7] [--repeats 20] [--devices cpu cuda]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from adamcourse.optim import Adam
from adamcourse.runtime import describe_machine

IMPLS = {
    "adamcourse": lambda params: Adam(params),
    "torch_forloop": lambda params: torch.optim.Adam(params, foreach=False),
    "torch_foreach": lambda params: torch.optim.Adam(params, foreach=True),
    "torch_fused": lambda params: torch.optim.Adam(params, fused=True),
}


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def median_ms(fn, device: str, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def copy_bandwidth_GBps(device: str, n_bytes: int = 256 * 2**20) -> float:
    src = torch.empty(n_bytes // 4, dtype=torch.float32, device=device).uniform_()
    dst = torch.empty_like(src)
    ms = median_ms(lambda: dst.copy_(src), device, repeats=10)
    return 2 * n_bytes / (ms * 1e-3) / 1e9



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1e6, 1e7])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--devices", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    args = parser.parse_args()
    torch.manual_seed(0)
    results = []
    for device in args.devices:
        for n in map(int, args.sizes):
            param = torch.nn.Parameter(torch.randn(n, device=device))
            param.grad = torch.randn(n, device=device)
            for impl, make in IMPLS.items():
                opt = make([param])
                results.append({"device": device, "n_params": n, "impl": impl,
                                "median_ms": round(median_ms(opt.step, device, args.repeats), 3)})
                del opt
    print(json.dumps({"machine": describe_machine(), "copy_GBps": round(copy_bandwidth_GBps(args.devices[0]), 2),
                      "results": results}, indent=1))


if __name__ == "__main__":
    main()
