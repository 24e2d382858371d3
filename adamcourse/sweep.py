"""Learning-rate sweeps over several seeds, and verdicts that the seeds can support.

:func:`run_sweep` runs an optimizer x learning-rate x seed grid: ``run(name, lr, seed)`` trains once (usually
with :func:`adamcourse.train.fit`) and returns a :class:`~adamcourse.train.History` or a number. The
:class:`Sweep` it returns summarises every (optimizer, learning rate) by its values over the seeds
(:class:`Stats`: mean, standard deviation, min and max), picks each optimizer's best learning rate by the
mean (:class:`Best`, with an ``interior`` flag that is false when the best sits at an end of the grid), and
with ``extend=True`` widens an optimizer's grid until its best learning rate is interior.

Two results are called different only when the seeds separate them: :func:`compare` is ``+1`` or ``-1``
when the ranges (min to max over the seeds) of the two do not overlap, and ``0`` otherwise, and
:func:`verdict` and :func:`leaders` turn that into sentences, saying "indistinguishable within the spread"
rather than picking a winner from noise.

>>> from adamcourse.sweep import run_sweep, verdict
>>> def run(name, lr, seed):  # a stand-in for a training run: best near lr = 0.1, a little seed noise
...     return 1 - (np.log10(lr) + 1) ** 2 / 10 + 0.01 * seed - (0.5 if name == "slow" else 0.0)
>>> sweep = run_sweep(run, {"fast": [0.01, 0.1, 1.0], "slow": [1e-3, 1e-2]}, seeds=[0, 1, 2], extend=True)
>>> sweep.lrs("slow")  # extended three times, until the best is inside the grid
(0.001, 0.01, 0.03, 0.1, 0.3)
>>> best = sweep.best("fast")
>>> best.lr, best.interior, f"{best.stats}"
(0.1, True, '1.010 (1.000–1.020)')
>>> verdict("fast", best.stats, "slow", sweep.best("slow").stats)
'fast (1.010 (1.000–1.020)) beats slow (0.510 (0.500–0.520)): their ranges over 3 seeds do not overlap'
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .runtime import no_progress, show_progress

__all__ = ["Best", "Stats", "Sweep", "Window", "compare", "final_metric", "leaders", "neighbour_lr", "ranking",
           "run_sweep", "verdict"]


def final_metric(history) -> float:
    """The default score of a run: its validation metric after the last epoch (``history.val_metric[-1]``)."""
    return float(history.val_metric[-1])


@dataclass(frozen=True)
class Stats:
    """One quantity over seeds: ``values`` (one per seed) and their ``mean``, ``std`` (sample standard
    deviation, 0 for one seed), ``lo`` and ``hi`` (min and max) and ``spread`` (``hi - lo``).

    A ``nan`` or infinite value (a run that diverged) makes the mean ``nan``: such a point is never a best.
    ``format(stats, ".3f")`` and ``str(stats)`` give ``"mean (min–max)"``.
    """

    values: tuple[float, ...]

    def __post_init__(self):
        if len(self.values) == 0:
            raise ValueError("Stats needs at least one value")
        object.__setattr__(self, "values", tuple(float(v) for v in self.values))

    @property
    def n(self) -> int:
        """The number of seeds."""
        return len(self.values)

    @property
    def finite(self) -> bool:
        """Whether every seed gave a finite value."""
        return all(math.isfinite(v) for v in self.values)

    @property
    def mean(self) -> float:
        """The mean over the seeds (``nan`` when a seed diverged)."""
        return float(np.mean(self.values)) if self.finite else math.nan

    @property
    def std(self) -> float:
        """The sample standard deviation over the seeds (0 for one seed)."""
        return float(np.std(self.values, ddof=1)) if self.n > 1 else 0.0

    @property
    def lo(self) -> float:
        """The smallest value over the seeds."""
        return min(self.values)

    @property
    def hi(self) -> float:
        """The largest value over the seeds."""
        return max(self.values)

    @property
    def spread(self) -> float:
        """``hi - lo``: the range over the seeds."""
        return self.hi - self.lo

    def __format__(self, spec: str) -> str:
        spec = spec or ".3f"
        if not self.finite:
            return f"diverged ({sum(not math.isfinite(v) for v in self.values)} of {self.n} seeds)"
        return f"{self.mean:{spec}} ({self.lo:{spec}}–{self.hi:{spec}})"

    def __str__(self) -> str:
        return format(self)


def compare(a: Stats, b: Stats, *, higher_is_better: bool = True) -> int:
    """``+1`` when ``a`` is better than ``b`` at every seed's extreme (``a.lo > b.hi`` when higher is better),
    ``-1`` when ``b`` is, ``0`` when their ranges overlap: the difference is within the seeds' spread.
    A diverged ``a`` or ``b`` (a ``nan`` mean) loses to a finite one; two diverged ones compare 0."""
    if not (a.finite and b.finite):
        return int(a.finite) - int(b.finite)
    sign = 1 if higher_is_better else -1
    a_lo, a_hi = sorted((sign * a.lo, sign * a.hi))
    b_lo, b_hi = sorted((sign * b.lo, sign * b.hi))
    if a_lo > b_hi:
        return 1
    if b_lo > a_hi:
        return -1
    return 0


def verdict(name_a: str, a: Stats, name_b: str, b: Stats, *, higher_is_better: bool = True,
            fmt: str = ".3f") -> str:
    """One sentence comparing ``a`` with ``b`` that names a winner only when :func:`compare` does."""
    outcome = compare(a, b, higher_is_better=higher_is_better)
    n = min(a.n, b.n)
    if outcome == 0:
        return (f"{name_a} ({a:{fmt}}) and {name_b} ({b:{fmt}}) are indistinguishable within the spread "
                f"of {n} seeds")
    (win, w), (lose, ell) = ((name_a, a), (name_b, b)) if outcome > 0 else ((name_b, b), (name_a, a))
    return f"{win} ({w:{fmt}}) beats {lose} ({ell:{fmt}}): their ranges over {n} seeds do not overlap"


def leaders(stats: Mapping[str, Stats], *, higher_is_better: bool = True) -> tuple[list[str], list[str]]:
    """``(leading, behind)``: the name with the best mean and every name that :func:`compare` cannot separate
    from it (best mean first), then the names that it beats."""
    if not stats:
        raise ValueError("leaders needs at least one entry")
    sign = 1 if higher_is_better else -1

    def key(name):
        mean = stats[name].mean
        return -sign * mean if math.isfinite(mean) else math.inf

    order = sorted(stats, key=key)
    top = stats[order[0]]
    leading = [n for n in order if compare(top, stats[n], higher_is_better=higher_is_better) == 0]
    return leading, [n for n in order if n not in leading]


def neighbour_lr(lr: float, direction: int) -> float:
    """The next learning rate of a half-decade grid (1, 3, 10, 30, ... times a power of ten) above
    (``direction=+1``) or below (``-1``) ``lr``; off that sequence, ``lr`` times or over ``sqrt(10)``.

    >>> neighbour_lr(0.3, +1), neighbour_lr(1.0, +1), neighbour_lr(1e-3, -1), neighbour_lr(3e-3, -1)
    (1.0, 3.0, 0.0003, 0.001)
    """
    if not lr > 0 or direction not in (-1, 1):
        raise ValueError(f"need lr > 0 and direction +1 or -1, got {lr!r}, {direction!r}")
    k = math.floor(math.log10(lr) + 1e-9)
    mantissa = lr / 10.0**k
    ladder = [1.0, 3.0, 10.0]
    for i, m in enumerate(ladder[:2]):
        if math.isclose(mantissa, m, rel_tol=1e-6):
            j = i + direction
            value = (ladder[j] if j >= 0 else 0.3) * 10.0**k
            return float(f"{value:.6g}")
    return lr * 10.0 ** (direction / 2)


@dataclass(frozen=True)
class Best:
    """An optimizer's best learning rate over the seeds (by the mean): ``name``, ``lr``, ``stats`` (its
    values over the seeds) and ``grid`` (the learning rates swept). ``interior`` is false when ``lr`` is the
    smallest or the largest of the grid, where the true best may lie beyond it."""

    name: str
    lr: float
    stats: Stats
    grid: tuple[float, ...]

    @property
    def interior(self) -> bool:
        """Whether a learning rate of the grid lies on each side of ``lr``."""
        return self.grid[0] < self.lr < self.grid[-1]

    @property
    def edge(self) -> int:
        """``-1`` when ``lr`` is the smallest of the grid, ``+1`` the largest, ``0`` when interior."""
        return 0 if self.interior else (-1 if self.lr == self.grid[0] else 1)


@dataclass(frozen=True)
class Window:
    """The learning rates at which an optimizer comes within ``tolerance`` of its best, over the seeds.

    ``lrs``: the contiguous run of grid points around the best whose mean is within ``tolerance`` of the best
    mean. ``decades``: per seed, the width ``log10(max / min)`` of that seed's own window (0 for a single
    point). ``bounded``: whether the mean curve's window and every seed's window end inside the grid on both
    sides (otherwise the grid cuts one of them, and its width is only a lower bound)."""

    name: str
    tolerance: float
    lrs: tuple[float, ...]
    decades: Stats
    bounded: bool


def _window(curve: Sequence[float], tolerance: float, sign: int) -> tuple[int, int]:
    """Indices ``(i, j)`` of the contiguous run around the best point of ``curve`` within ``tolerance``."""
    values = [sign * v if math.isfinite(v) else -math.inf for v in curve]
    k = int(np.argmax(values))
    i = j = k
    while i > 0 and values[i - 1] >= values[k] - tolerance:
        i -= 1
    while j < len(values) - 1 and values[j + 1] >= values[k] - tolerance:
        j += 1
    return i, j


class Sweep:
    """The scores of an optimizer x learning-rate x seed grid, and their summaries.

    ``scores[name, lr, seed]``: the score of one run; ``histories[name, lr, seed]``: its
    :class:`~adamcourse.train.History` when the run returned one. :func:`run_sweep` fills it; :meth:`add` adds
    one run.
    """

    def __init__(self, seeds: Iterable[int], *, higher_is_better: bool = True):
        self.seeds = tuple(seeds)
        if not self.seeds:
            raise ValueError("a sweep needs at least one seed")
        self.higher_is_better = higher_is_better
        self.scores: dict[tuple[str, float, int], float] = {}
        self.histories: dict[tuple[str, float, int], object] = {}
        self._grids: dict[str, set[float]] = {}

    def add(self, name: str, lr: float, seed: int, score: float, history=None) -> None:
        """Record one run."""
        self.scores[name, lr, seed] = float(score)
        if history is not None:
            self.histories[name, lr, seed] = history
        self._grids.setdefault(name, set()).add(lr)

    @property
    def names(self) -> list[str]:
        """The optimizers, in the order they were first added."""
        return list(self._grids)

    def lrs(self, name: str) -> tuple[float, ...]:
        """The learning rates swept for ``name``, in increasing order."""
        return tuple(sorted(self._grids[name]))

    def stats(self, name: str, lr: float) -> Stats:
        """The scores of ``(name, lr)`` over the seeds."""
        return Stats(tuple(self.scores[name, lr, seed] for seed in self.seeds))

    def best(self, name: str) -> Best:
        """``name``'s learning rate with the best mean score (a diverged point is never the best)."""
        grid = self.lrs(name)
        sign = 1 if self.higher_is_better else -1

        def key(lr):
            mean = self.stats(name, lr).mean
            return sign * mean if math.isfinite(mean) else -math.inf

        lr = max(grid, key=key)
        return Best(name, lr, self.stats(name, lr), grid)

    @property
    def all_interior(self) -> bool:
        """Whether every optimizer's best learning rate is inside its grid."""
        return all(self.best(name).interior for name in self.names)

    def results(self) -> dict[str, dict[float, list[float]]]:
        """``{name: {lr: [score of each seed]}}``, the form ``viz.plot_sweep`` draws as mean and min–max band."""
        return {name: {lr: list(self.stats(name, lr).values) for lr in self.lrs(name)} for name in self.names}

    def runs(self, name: str, lr: float) -> list:
        """The histories of ``(name, lr)``, one per seed."""
        return [self.histories[name, lr, seed] for seed in self.seeds]

    def window(self, name: str, tolerance: float) -> Window:
        """The learning rates within ``tolerance`` of ``name``'s best score, as a :class:`Window`."""
        grid = self.lrs(name)
        sign = 1 if self.higher_is_better else -1
        i, j = _window([self.stats(name, lr).mean for lr in grid], tolerance, sign)
        widths, bounded = [], 0 < i and j < len(grid) - 1
        for seed in self.seeds:
            a, b = _window([self.scores[name, lr, seed] for lr in grid], tolerance, sign)
            widths.append(math.log10(grid[b] / grid[a]))
            bounded = bounded and 0 < a and b < len(grid) - 1
        return Window(name, tolerance, grid[i:j + 1], Stats(tuple(widths)), bounded)

    def rows(self, fmt: str = ".3f") -> list[dict]:
        """One row per optimizer for ``viz.table``: its best learning rate and the score there over the seeds."""
        rows = []
        for name in self.names:
            best = self.best(name)
            rows.append({"optimizer": name, "best lr": f"{best.lr:g}",
                         "grid": f"{best.grid[0]:g} – {best.grid[-1]:g}",
                         "mean": f"{best.stats.mean:{fmt}}", "std": f"{best.stats.std:{fmt}}",
                         "min – max": f"{best.stats.lo:{fmt}} – {best.stats.hi:{fmt}}",
                         "interior": "yes" if best.interior else "no (edge)"})
        return rows


def run_sweep(run: Callable[[str, float, int], object], grids: Mapping[str, Sequence[float]],
              seeds: Iterable[int], *, score: Callable[[object], float] = final_metric,
              higher_is_better: bool = True, extend: bool = False, max_extra: int = 4,
              log: Callable[[str], None] | None = None, progress: bool | None = None) -> Sweep:
    """Run ``run(name, lr, seed)`` for every optimizer ``name`` of ``grids``, every learning rate of its grid and
    every seed; return the :class:`Sweep`.

    ``run`` returns a :class:`~adamcourse.train.History` (scored by ``score``, default the last validation
    metric) or a number (the score itself). Seed every source of randomness inside ``run`` from ``seed`` (the
    initial weights, the data order, dropout): runs of different optimizers with the same seed then differ
    only in the optimizer and its learning rate. With ``extend=True``, an optimizer whose best learning rate
    is at an end of its grid gets the next point beyond that end (:func:`neighbour_lr`), all seeds, until its
    best is interior or ``max_extra`` points were added; check :attr:`Sweep.all_interior` afterwards.
    ``log``: called with one line per optimizer (e.g. ``print``). ``progress``: one ``tqdm.auto`` bar over all
    the runs, naming the current one (``None``: :func:`~adamcourse.runtime.show_progress` decides); the runs
    themselves draw none (``train.fit`` inside ``run`` stays silent unless given ``progress=True``).
    """
    sweep = Sweep(seeds, higher_is_better=higher_is_better)
    for name, grid in grids.items():
        if len(grid) == 0:
            raise ValueError(f"the grid of {name!r} is empty")
    bar = None
    if (show_progress() if progress is None else progress):
        from tqdm.auto import tqdm
        bar = tqdm(total=sum(len(grid) for grid in grids.values()) * len(sweep.seeds), unit="run", leave=False)

    def run_point(name, lr):
        for seed in sweep.seeds:
            if bar is not None:
                bar.set_description(f"{name}, lr {lr:g}, seed {seed}", refresh=True)
            with no_progress():
                result = run(name, lr, seed)
            if bar is not None:
                bar.update()
            if isinstance(result, (int, float, np.floating, np.integer)):
                sweep.add(name, lr, seed, float(result))
            else:
                sweep.add(name, lr, seed, score(result), history=result)

    try:
        for name, grid in grids.items():
            for lr in sorted(grid):
                run_point(name, lr)
            extra = 0
            while extend and extra < max_extra and not sweep.best(name).interior:
                best = sweep.best(name)
                if bar is not None:
                    _grow(bar, len(sweep.seeds))
                run_point(name, neighbour_lr(best.lr, best.edge))
                extra += 1
            if log is not None:
                best = sweep.best(name)
                line = (f"{name}: lr {' '.join(f'{lr:g}' for lr in sweep.lrs(name))}; best {best.lr:g} "
                        f"-> {best.stats}{'' if best.interior else ' (at the edge of the grid)'}")
                with bar.external_write_mode() if bar is not None else contextlib.nullcontext():
                    log(line)  # a text bar is cleared first, then redrawn below the line
    finally:
        if bar is not None:
            bar.close()
    return sweep


def _grow(bar, runs: int) -> None:
    """Add ``runs`` to the total of a ``tqdm.auto`` bar (the widget of ``tqdm.notebook`` keeps its own maximum,
    which ``tqdm.notebook.reset`` updates the same way)."""
    bar.total += runs
    container = getattr(bar, "container", None)
    if container is not None:
        container.children[1].max = bar.total
    bar.refresh()


def ranking(stats: Mapping[str, Stats], what: str, *, higher_is_better: bool = True, fmt: str = ".3f") -> str:
    """One sentence on ``what``: the leader by the mean, the names the seeds cannot separate from it
    (:func:`leaders`), and the names it beats beyond the spread.

    >>> print(ranking({"Adam": Stats((0.95, 0.97)), "AdamW": Stats((0.96, 0.96)), "SGD": Stats((0.5, 0.6))},
    ...               "highest accuracy", fmt=".2f"))  # doctest: +NORMALIZE_WHITESPACE
    highest accuracy: Adam, 0.96 (0.95–0.97); indistinguishable from it within the spread of 2 seeds: AdamW;
    behind it beyond the spread: SGD.
    """
    leading, behind = leaders(stats, higher_is_better=higher_is_better)
    top = stats[leading[0]]
    text = f"{what}: {leading[0]}, {top:{fmt}}"
    if len(leading) > 1:
        text += f"; indistinguishable from it within the spread of {top.n} seeds: {', '.join(leading[1:])}"
    if behind:
        text += f"; behind it beyond the spread: {', '.join(behind)}"
    return text + "."
