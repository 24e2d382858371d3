"""Plots for the chapters: optimizer paths on contour maps, loss curves, effective learning rates.

Every function returns a :class:`matplotlib.figure.Figure` and leaves ``matplotlib.rcParams`` and pyplot's
state alone (the figures are built with :class:`~matplotlib.figure.Figure`, not ``plt.figure``, so nothing
is shown twice in a notebook: end a cell with the figure, or call ``display(fig)``). Pass ``ax=`` to draw
into an existing axes instead (then its figure is returned). Each optimizer name keeps one colour in every
plot (:func:`color_for`).

Example::

    >>> from adamcourse import functions, viz
    >>> import adamcourse.optim.adam as adam, adamcourse.optim.sgd as sgd
    >>> p = functions.rosenbrock()
    >>> runs = {"SGD": functions.run(sgd, p, steps=300, lr=1e-3, momentum=0.9),
    ...         "Adam": functions.run(adam, p, steps=300, lr=0.05)}
    >>> fig = viz.plot_trajectories(p, runs)
    >>> fig = viz.plot_losses({k: r.losses for k, r in runs.items()}, f_min=p.f_min)
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from .functions import Problem, Trajectory

FIGSIZE = (6.5, 4.5)  # inches: a book page's width
FLOOR = 1e-16  # losses and rates are clipped to this on log axes, so a zero shows instead of vanishing

OPTIMIZER_COLORS = {
    "SGD": "tab:blue", "Momentum": "tab:cyan", "Adagrad": "tab:green", "RMSprop": "tab:orange",
    "Adam": "tab:red", "AdamW": "tab:purple", "Adamax": "tab:brown", "NAdam": "tab:pink",
}
_CYCLE = ["tab:olive", "tab:gray", "black", "#1f3b73", "#8c6d00", "#2e7d32", "#b23a48", "#5e35b1"]
_KEY = re.compile(r"[^a-z0-9]")
_FIXED = {_KEY.sub("", name.lower()): color for name, color in OPTIMIZER_COLORS.items()}
_assigned: dict[str, str] = {}
_next = itertools.cycle(_CYCLE)


def color_for(name: str) -> str:
    """The colour of the optimizer called ``name``, the same in every plot of the session.

    The names of :data:`OPTIMIZER_COLORS` match ignoring case, spaces, hyphens and underscores
    (``"rmsprop"``, ``"Nadam"``); any other name gets the next colour of a fixed cycle on first use and
    keeps it.
    """
    key = _KEY.sub("", name.lower())
    if key in _FIXED:
        return _FIXED[key]
    if key not in _assigned:
        _assigned[key] = next(_next)
    return _assigned[key]


def _figure_and_axes(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    return fig, fig.add_subplot()


def _legend(ax: Axes) -> None:
    """Outside the axes on the right, so it never hides a curve."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize="small")


def _as_path(traj: Trajectory | np.ndarray, name: str) -> np.ndarray:
    path = np.asarray(traj.path if isinstance(traj, Trajectory) else traj, dtype=np.float64)
    if path.ndim != 2 or path.shape[1] != 2 or len(path) == 0:
        raise ValueError(f"trajectory {name!r} must be a Trajectory or an array of shape (steps + 1, 2), "
                         f"got shape {path.shape}")
    return path


def plot_trajectories(problem: Problem, trajectories: Mapping[str, Trajectory | np.ndarray], *,
                      levels: int = 30, log_levels: bool = True, title: str | None = None,
                      ax: Axes | None = None) -> Figure:
    r"""Each optimizer's path :math:`\theta_0, \theta_1, \dots` over the contours of a 2-D ``problem``.

    Filled contours of :math:`f - f^\star` over ``problem.bounds``, with ``levels`` levels spaced
    logarithmically (``log_levels=True``, which shows the floor of a valley) or evenly. One line with
    markers per entry of ``trajectories`` (at most about 40 markers each), labelled by its key; the
    start(s) as white circles labelled "start", the minima as gold stars labelled "minimum". Points
    outside the window (a diverging run) are cut off, not rescaled into view.
    """
    if problem.dim != 2 or problem.bounds is None:
        raise ValueError(f"plot_trajectories needs a 2-D problem with bounds, got {problem.name} "
                         f"(dimension {problem.dim}, bounds {problem.bounds})")
    if levels < 2:
        raise ValueError(f"levels must be >= 2, got {levels!r}")
    fig, ax = _figure_and_axes(ax)
    (x_lo, x_hi), (y_lo, y_hi) = problem.bounds
    xx, yy = np.meshgrid(np.linspace(x_lo, x_hi, 300), np.linspace(y_lo, y_hi, 300))
    gap = problem.f(np.stack([xx, yy], axis=-1)) - problem.f_min
    if log_levels:
        top = float(gap.max())
        positive = gap[gap > 0]
        low = max(float(positive.min()) if positive.size else top * 1e-6, top * 1e-6)
        bounds = np.geomspace(low, top, levels)
        ax.contourf(xx, yy, np.clip(gap, low, top), levels=bounds, norm=LogNorm(low, top), cmap="Greys",
                    alpha=0.4)
        ax.contour(xx, yy, gap, levels=bounds[::3], colors="0.45", linewidths=0.4)
    else:
        ax.contourf(xx, yy, gap, levels=levels, cmap="Greys", alpha=0.4)
        ax.contour(xx, yy, gap, levels=levels // 3, colors="0.45", linewidths=0.4)

    starts = []
    for name, traj in trajectories.items():
        path = _as_path(traj, name)
        ax.plot(path[:, 0], path[:, 1], "-o", color=color_for(name), label=name, lw=1.6, ms=3,
                markevery=max(1, len(path) // 40), zorder=3)
        if not any(np.allclose(path[0], s) for s in starts):
            starts.append(path[0])
    if starts:
        ax.plot(*np.array(starts).T, "o", ms=9, mfc="white", mec="black", mew=1.5, ls="none",
                label="start", zorder=4)
    ax.plot(*problem.minima.T, "*", ms=16, mfc="gold", mec="black", mew=1, ls="none", label="minimum",
            zorder=4)
    ax.set(xlim=(x_lo, x_hi), ylim=(y_lo, y_hi), xlabel=r"$\theta_1$", ylabel=r"$\theta_2$",
           title=problem.name if title is None else title)
    _legend(ax)
    return fig


def _log_curves(ax: Axes, curves: Mapping[str, np.ndarray], start: int) -> None:
    """One line per curve against its step ``start, start + 1, ...``; ``(T, k)`` arrays give k lines."""
    styles = ["-", "--", ":", "-."]
    for name, values in curves.items():
        values = np.asarray(values, dtype=np.float64)
        if values.ndim not in (1, 2):
            raise ValueError(f"{name!r} must have shape (steps,) or (steps, k), got {values.shape}")
        values = np.where(np.isfinite(values), np.maximum(values, FLOOR), np.nan)
        columns = values.reshape(len(values), -1).T
        steps = np.arange(start, start + len(values))
        for j, column in enumerate(columns):
            label = name if len(columns) == 1 else rf"{name}, $\theta_{{{j + 1}}}$"
            ax.plot(steps, column, styles[j % len(styles)], color=color_for(name), label=label, lw=1.6)
    ax.set_yscale("log")
    ax.grid(True, which="major", alpha=0.3)
    _legend(ax)


def plot_losses(losses: Mapping[str, np.ndarray], *, f_min: float = 0.0, title: str | None = None,
                ax: Axes | None = None) -> Figure:
    r"""The suboptimality :math:`f(\theta_t) - f^\star` against the step :math:`t = 0, 1, \dots`, log scale.

    ``losses`` maps a label to :math:`f(\theta_0), f(\theta_1), \dots` (``Trajectory.losses``). Values are
    clipped below at :data:`FLOOR` (so an exact 0 stays visible); ``nan``/``inf`` (divergence) are not drawn.
    """
    fig, ax = _figure_and_axes(ax)
    _log_curves(ax, {name: np.asarray(v, dtype=np.float64) - f_min for name, v in losses.items()}, start=0)
    ax.set(xlabel="step $t$", ylabel=r"$f(\theta_t) - f^\star$", title=title)
    return fig


def plot_effective_lr(rates: Mapping[str, np.ndarray], *, title: str | None = None,
                      ax: Axes | None = None) -> Figure:
    r"""The effective learning rate against the step :math:`t = 1, 2, \dots`, log scale.

    ``rates`` maps a label to one rate per step (shape ``(steps,)``), e.g. Adagrad's
    :math:`\alpha / (\sqrt{\textstyle\sum_{s \le t} g_s^2} + \epsilon)`, or to one column per coordinate
    (shape ``(steps, k)``, k lines in the label's colour, told apart by line style).
    """
    fig, ax = _figure_and_axes(ax)
    _log_curves(ax, rates, start=1)
    ax.set(xlabel="step $t$", ylabel="effective learning rate", title=title)
    return fig


_PER_STEP = ("step_loss", "grad_norm")
_PER_EPOCH = ("train_loss", "val_loss", "val_metric", "examples_per_s")
_LABELS = {"step_loss": "training loss (per step)", "grad_norm": "gradient norm (before clipping)",
           "train_loss": "training loss (epoch mean)", "val_loss": "validation loss",
           "examples_per_s": "examples / s"}
_METRIC_LABELS = {"accuracy": "validation accuracy", "bpc": "validation bits per character"}


def plot_history(histories, *, x: str = "step", keys: tuple[str, ...] = ("train_loss", "val_metric"),
                 title: str | None = None) -> Figure:
    """Training histories (:class:`adamcourse.train.History`) side by side: one panel per entry of ``keys``.

    ``histories``: a list of histories (labelled by ``History.name``) or a mapping from label to history.
    ``x``: ``"step"`` (optimizer steps) or ``"time"`` (seconds of training). ``keys``: per-step fields
    (``"step_loss"``, ``"grad_norm"``, drawn as thin lines) or per-epoch fields (``"train_loss"``,
    ``"val_loss"``, ``"val_metric"``, ``"examples_per_s"``, drawn with a marker at the end of each epoch).
    Losses and gradient norms are on a log scale. A label takes the colour of its text before `` (``, so
    ``"Adam (torch.optim)"`` is drawn in Adam's colour; a label whose colour is already taken in the figure
    (two runs of one optimizer) is drawn dashed.
    """
    if x not in ("step", "time"):
        raise ValueError(f"x must be 'step' or 'time', got {x!r}")
    if isinstance(keys, str):
        keys = (keys,)
    for key in keys:
        if key not in _PER_STEP + _PER_EPOCH:
            raise ValueError(f"unknown key {key!r}; valid keys: {_PER_STEP + _PER_EPOCH}")
    runs = dict(histories) if isinstance(histories, Mapping) else {h.name: h for h in histories}
    if not runs or not keys:
        raise ValueError("plot_history needs at least one history and one key")
    fig = Figure(figsize=(max(FIGSIZE[0], 3.4 * len(keys) + 1.6), 3.6), layout="constrained")
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    styles, used = {}, set()
    for name in runs:
        color = color_for(name.split(" (")[0])  # "Adam (torch.optim)" takes Adam's colour
        styles[name] = (color, "--" if color in used else "-")
        used.add(color)
    metric = next((h.metric for h in runs.values() if h.metric), None)
    for ax, key in zip(axes, keys, strict=True):
        for name, h in runs.items():
            color, style = styles[name]
            y = np.asarray(getattr(h, key), dtype=np.float64)
            if key in _PER_STEP:
                t = np.asarray(h.step if x == "step" else h.step_time, dtype=np.float64)[:len(y)]
                ax.plot(t, y, style, color=color, label=name, lw=0.9, alpha=0.85)
            else:
                t = np.asarray(h.epoch_step if x == "step" else h.epoch_time, dtype=np.float64)[:len(y)]
                ax.plot(t, y, style, color=color, label=name, lw=1.6, marker="o", ms=3)
        if "loss" in key or key == "grad_norm":
            ax.set_yscale("log")
        ylabel = _METRIC_LABELS.get(metric, f"validation {metric}") if key == "val_metric" else _LABELS[key]
        ax.set(xlabel="step" if x == "step" else "training time (s)", ylabel=ylabel)
        ax.grid(True, which="major", alpha=0.3)
    _legend(axes[-1])
    if title is not None:
        fig.suptitle(title)
    return fig


def plot_sweep(results: Mapping[str, Mapping[float, float]], *, ylabel: str = "final validation accuracy",
               title: str | None = None, ax: Axes | None = None) -> Figure:
    """A learning-rate sweep: the final metric against the learning rate (log scale), one line per optimizer.

    ``results`` maps an optimizer's name to ``{lr: value}``. A run that diverged (``nan``/``inf``) is drawn
    as a cross at the bottom of the axes, so a learning rate that blew up shows instead of vanishing.
    """
    fig, ax = _figure_and_axes(ax)
    for name, points in results.items():
        lrs = np.array(sorted(points), dtype=np.float64)
        values = np.array([points[lr] for lr in sorted(points)], dtype=np.float64)
        ok = np.isfinite(values)
        ax.plot(lrs[ok], values[ok], "-o", color=color_for(name), label=name, lw=1.6, ms=4)
        if (~ok).any():
            ax.plot(lrs[~ok], np.zeros((~ok).sum()), "x", color=color_for(name), ms=8, mew=2,
                    transform=ax.get_xaxis_transform(), clip_on=False)
    ax.set_xscale("log")
    ax.set(xlabel="learning rate", ylabel=ylabel, title=title)
    ax.grid(True, which="major", alpha=0.3)
    _legend(ax)
    return fig
