"""Redraw time per slider change of the optimizer playground (adamcourse.widgets.playground).

The time of one change runs from ``slider.value = x`` to the new frame rendered on the Agg canvas and encoded
as the PNG the widget shows: what a reader waits for in a live kernel (the browser then swaps the image).
The playground overlays all five optimizers for ``--steps`` steps; each of ``lr``, ``beta1`` and ``steps``
takes ``--changes`` new values (log-uniform lr in [1e-3, 0.3], beta1 in [0.5, 0.99], steps within +-40%).

Also measured on the same figure, for comparison (``alternatives``): drawing the whole figure and encoding
it (what every change would cost without blitting), and IPython's ``print_figure(..., bbox_inches="tight")``,
which is what ``display(fig)`` in an ``ipywidgets.Output`` costs per change with the inline backend, and
the PNG encoding alone at zlib levels 1 (used) and 6 (the default).

Prints one JSON object: ``{"problem", "optimizers", "steps", "per_slider": {name: {"changes", "median_ms",
"p90_ms", "mean_optimizers_rerun"}}, "all": {"median_ms", "p90_ms"}, "target_median_ms", "alternatives",
"machine"}``.

Usage: ``python benchmarks/widgets.py [--changes 30] [--steps 500] [--problem Rosenbrock]``
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import time

import ipywidgets
import matplotlib
import numpy as np
from IPython.core.pylabtools import print_figure
from PIL import Image

from adamcourse import functions, widgets
from adamcourse.runtime import describe_machine


def _distinct(values: list, first) -> list:
    """The values with each one different from the one before (an equal value fires no change)."""
    out, last = [], first
    for value in values:
        if value != last:
            out.append(value)
            last = value
    return out


def _stats(times: list[float]) -> dict:
    return {"median_ms": round(statistics.median(times), 2), "p90_ms": round(float(np.percentile(times, 90)), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=30, help="changes per slider")
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--problem", default="Rosenbrock", choices=list(widgets.PROBLEMS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    n = args.changes

    # Values on the sliders' grids, as a browser sends them: lr's exponent in steps of 0.1, beta1 in steps of
    # 0.01, steps in steps of 10.
    initial = {"lr": 1e-2, "beta1": 0.9, "steps": args.steps}
    candidates = {
        "lr": [10.0 ** round(u, 1) for u in rng.uniform(-3, np.log10(0.3), 4 * n)],
        "beta1": [round(b, 2) for b in rng.uniform(0.5, 0.99, 4 * n)],
        "steps": [10 * round(s / 10) for s in rng.integers(int(0.6 * args.steps), int(1.4 * args.steps) + 1, 4 * n)],
    }
    sequences = {name: _distinct(values, initial[name])[:n] for name, values in candidates.items()}

    pg = widgets.playground(args.problem, steps=args.steps, lr=1e-2)
    for value in (2e-2, 1e-2):  # warm-up: caches of matplotlib's text and path code
        pg.controls["lr"].value = value
    per_slider, everything = {}, []
    full_draws = pg.full_draws
    for name, values in sequences.items():
        start_value = initial[name]
        times, reruns = [], []
        for value in values:
            renders = pg.renders
            start = time.perf_counter()
            pg.controls[name].value = value
            times.append(1e3 * (time.perf_counter() - start))
            assert pg.renders == renders + 1, f"setting {name} to {value} did not redraw"
            reruns.append(len(pg.state.computed))
        pg.controls[name].value = start_value
        per_slider[name] = {"changes": len(times), **_stats(times),
                            "mean_optimizers_rerun": round(statistics.mean(reruns), 2)}
        everything += times
    full_draws = pg.full_draws - full_draws

    alternatives = {}
    times = []
    for _ in range(max(3, n // 3)):
        start = time.perf_counter()
        pg.refresh(full=True)  # nothing to recompute: draw everything, encode
        times.append(1e3 * (time.perf_counter() - start))
    alternatives["full_draw_png"] = _stats(times)
    times = []  # between renders the explorer's figure is a plain one: display(fig) draws all of it
    for _ in range(max(3, n // 3)):
        start = time.perf_counter()
        print_figure(pg.figure, "png", bbox_inches="tight")
        times.append(1e3 * (time.perf_counter() - start))
    alternatives["output_display_png_tight"] = _stats(times)

    times = []  # what an lr change recomputes: every optimizer, args.steps steps
    for _ in range(3):
        start = time.perf_counter()
        for module, names in widgets.OPTIMIZERS.values():
            values = pg.values
            functions.run(module, pg.state.problem, steps=args.steps,
                          **{keyword: values[control] for control, keyword in names.items()})
        times.append(1e3 * (time.perf_counter() - start))
    alternatives["compute_all_five_runs"] = _stats(times)

    canvas = pg.figure.canvas
    canvas.draw()
    width, height = canvas.get_width_height()
    frame = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1).convert("RGB")
    for level in (1, 6):  # widgets.PNG_COMPRESS_LEVEL is 1; 6 is zlib's and PIL's default
        times = []
        for _ in range(max(3, n // 3)):
            buffer = io.BytesIO()
            start = time.perf_counter()
            frame.save(buffer, format="png", compress_level=level)
            times.append(1e3 * (time.perf_counter() - start))
        alternatives[f"png_encode_level_{level}"] = {**_stats(times), "kB": round(len(buffer.getvalue()) / 1e3, 1)}

    report = {
        "problem": args.problem, "optimizers": list(widgets.OPTIMIZERS), "steps": args.steps,
        "per_slider": per_slider, "all": _stats(everything), "target_median_ms": 100,
        "full_draws_during_changes": full_draws,
        "alternatives": alternatives,
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "matplotlib": matplotlib.__version__, "ipywidgets": ipywidgets.__version__,
                    "numpy": np.__version__, "description": describe_machine()},
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
