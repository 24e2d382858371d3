"""adamcourse.sweep: the optimizer x learning-rate x seed grid, its summaries and its verdicts."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
import torch

import adamcourse.sweep
from adamcourse import data, optim
from adamcourse.sweep import Stats, compare, leaders, neighbour_lr, run_sweep, verdict
from adamcourse.train import fit


def test_docstring_examples():
    result = doctest.testmod(adamcourse.sweep, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 8


def test_stats():
    s = Stats((0.9, 0.8, 1.0))
    assert s.n == 3 and s.mean == pytest.approx(0.9) and s.std == pytest.approx(0.1)
    assert (s.lo, s.hi, s.spread) == (0.8, 1.0, pytest.approx(0.2))
    assert f"{s:.2f}" == "0.90 (0.80–1.00)" and str(s) == "0.900 (0.800–1.000)"
    assert Stats((2.0,)).std == 0.0
    diverged = Stats((1.0, math.nan, 2.0))
    assert not diverged.finite and math.isnan(diverged.mean) and "1 of 3 seeds" in f"{diverged}"
    with pytest.raises(ValueError):
        Stats(())


def test_compare_needs_separated_ranges():
    a, b, c = Stats((0.90, 0.92, 0.91)), Stats((0.80, 0.85, 0.83)), Stats((0.84, 0.95, 0.89))
    assert compare(a, b) == 1 and compare(b, a) == -1
    assert compare(a, c) == 0 and compare(c, b) == 0      # overlapping ranges: no winner
    assert compare(a, b, higher_is_better=False) == -1    # e.g. a loss: lower is better
    assert compare(Stats((math.nan,)), b) == -1 and compare(b, Stats((math.inf,))) == 1
    assert "beats" in verdict("A", a, "B", b) and verdict("B", b, "A", a).startswith("A (")
    assert "indistinguishable within the spread of 3 seeds" in verdict("A", a, "C", c)
    assert verdict("A", a, "B", b, higher_is_better=False).startswith("B (")


def test_leaders():
    stats = {"SGD": Stats((0.5, 0.6)), "Adam": Stats((0.90, 0.95)), "AdamW": Stats((0.91, 0.93)),
             "RMSprop": Stats((0.7, 0.92))}
    assert leaders(stats) == (["Adam", "AdamW", "RMSprop"], ["SGD"])
    assert leaders(stats, higher_is_better=False) == (["SGD"], ["RMSprop", "AdamW", "Adam"])
    assert leaders({"x": Stats((math.nan,)), "y": Stats((1.0,))}) == (["y"], ["x"])


@pytest.mark.parametrize(("lr", "direction", "expected"), [
    (1e-3, 1, 3e-3), (3e-3, 1, 1e-2), (1.0, 1, 3.0), (3.0, 1, 10.0), (1e-2, -1, 3e-3), (3e-2, -1, 1e-2),
    (0.1, -1, 0.03), (2.0, 1, 2.0 * 10**0.5)])
def test_neighbour_lr(lr, direction, expected):
    assert neighbour_lr(lr, direction) == pytest.approx(expected, rel=1e-12)


def parabola(peak, noise=0.01):
    """A fake training run: score 1 - (log10 lr - log10 peak)^2 / 4, plus a small seed-dependent offset."""
    calls = []

    def run(name, lr, seed):
        calls.append((name, lr, seed))
        return 1 - (math.log10(lr) - math.log10(peak[name])) ** 2 / 4 + noise * seed

    return run, calls


def test_run_sweep_best_and_extension():
    run, calls = parabola({"SGD": 1.0, "Adam": 3e-3})
    grids = {"SGD": (0.01, 0.03, 0.1), "Adam": (1e-3, 3e-3, 1e-2)}
    plain = run_sweep(run, grids, seeds=(0, 1, 2))
    assert len(calls) == 18
    assert plain.best("SGD").lr == 0.1 and plain.best("SGD").edge == 1 and not plain.all_interior
    assert plain.best("Adam").lr == 3e-3 and plain.best("Adam").interior

    lines = []
    extended = run_sweep(run, grids, seeds=(0, 1, 2), extend=True, log=lines.append)
    assert extended.lrs("SGD") == (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)     # three points above the edge
    assert extended.best("SGD").lr == 1.0 and extended.all_interior
    assert extended.lrs("Adam") == grids["Adam"]
    assert len(lines) == 2 and lines[0].startswith("SGD: lr 0.01 0.03 0.1 0.3 1 3; best 1 ->")
    best = extended.best("SGD")
    assert best.stats.values == pytest.approx((1.0, 1.01, 1.02)) and best.grid == extended.lrs("SGD")
    # The form viz.plot_sweep draws (mean and min–max band), and the rows of viz.table.
    results = extended.results()
    assert list(results) == ["SGD", "Adam"] and results["SGD"][1.0] == pytest.approx([1.0, 1.01, 1.02])
    rows = extended.rows()
    assert rows[0]["optimizer"] == "SGD" and rows[0]["best lr"] == "1" and rows[0]["interior"] == "yes"

    capped = run_sweep(run, {"SGD": (1e-3, 3e-3)}, seeds=(0,), extend=True, max_extra=2)
    assert capped.lrs("SGD") == (1e-3, 3e-3, 0.01, 0.03) and not capped.all_interior


def test_run_sweep_lower_is_better_and_divergence():
    def run(name, lr, seed):  # a loss: best at 0.1, diverged (nan) above 0.3
        return math.nan if lr > 0.3 else (math.log10(lr) + 1) ** 2 + 0.1 * seed

    sweep = run_sweep(run, {"opt": (1e-2, 0.1, 1.0)}, seeds=(0, 1), higher_is_better=False)
    assert sweep.best("opt").lr == 0.1 and sweep.best("opt").interior
    assert math.isnan(sweep.stats("opt", 1.0).mean)
    # A diverged top point does not count as the best even when every finite point is worse.
    worse = run_sweep(lambda n, lr, s: math.nan if lr >= 0.1 else 5.0 - lr, {"opt": (1e-2, 0.1)}, seeds=(0,),
                      higher_is_better=False)
    assert worse.best("opt").lr == 1e-2


def test_window():
    def run(name, lr, seed):  # a plateau from 1e-3 to 1e-2 (seed 1: to 3e-2), then a cliff
        top = 3e-2 if seed == 1 else 1e-2
        return 0.9 if 1e-3 <= lr <= top else 0.1

    sweep = run_sweep(run, {"opt": (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1)}, seeds=(0, 1))
    window = sweep.window("opt", tolerance=0.05)
    assert window.lrs == (1e-3, 3e-3, 1e-2) and window.bounded
    assert window.decades.values == pytest.approx((1.0, math.log10(30)))
    cut = run_sweep(run, {"opt": (1e-3, 3e-3, 1e-2, 3e-2)}, seeds=(0, 1)).window("opt", 0.05)
    assert not cut.bounded   # the plateau reaches the end of the grid: its width is a lower bound


def test_run_sweep_over_fit():
    """The grid over real `fit` runs: histories kept, scored by the last validation metric, reproducible."""
    torch.manual_seed(0)
    x, y = torch.randn(96, 5), torch.randint(0, 3, (96,))

    def run(name, lr, seed):
        torch.manual_seed(seed)
        model = torch.nn.Linear(5, 3)
        make = {"SGD": optim.SGD, "Adam": optim.Adam}[name]
        return fit(model, data.ArrayLoader(x, y, batch_size=32, seed=seed), [(x, y)],
                   make(model.parameters(), lr=lr), epochs=2, device="cpu", progress=False)

    grids = {"SGD": (0.01, 0.1), "Adam": (1e-3, 1e-2)}
    sweep = run_sweep(run, grids, seeds=(0, 1, 2))
    again = run_sweep(run, grids, seeds=(0, 1, 2))
    assert len(sweep.histories) == 12 and sweep.scores == again.scores
    for (name, lr, seed), h in sweep.histories.items():
        assert sweep.scores[name, lr, seed] == h.val_metric[-1] and len(h.step) == 6
    assert [h.val_metric[-1] for h in sweep.runs("Adam", 1e-2)] == list(sweep.stats("Adam", 1e-2).values)
    assert len({sweep.scores["SGD", 0.1, s] for s in (0, 1, 2)}) > 1 or np.ptp(
        [sweep.histories["SGD", 0.1, s].step_loss[0] for s in (0, 1, 2)]) > 0   # the seeds differ
