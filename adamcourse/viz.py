"""Plots for the chapters: optimizer paths on contour maps, loss curves, effective learning rates, tables.

Every function returns a :class:`matplotlib.figure.Figure` and leaves ``matplotlib.rcParams`` and pyplot's
state alone (the figures are built with :class:`~matplotlib.figure.Figure`, not ``plt.figure``, so nothing
is shown twice in a notebook: end a cell with the figure, or call ``display(fig)``). Pass ``ax=`` to draw
into an existing axes instead (then its figure is returned).

Figures are sized for the book's text column (:data:`COLUMN_WIDTH` inches at :data:`DPI`, so a page shows
them at their natural size, never scaled down): make hand-drawn figures with :func:`figure`. Each optimizer
name keeps one colour and one line style in every plot (:func:`style_for`), from the Okabe–Ito palette,
which stays distinct under the common colour-vision deficiencies; the line styles keep the curves apart in
grey scale too.

Example::

    >>> from adamcourse import functions, viz
    >>> import adamcourse.optim.adam as adam, adamcourse.optim.sgd as sgd
    >>> p = functions.rosenbrock()
    >>> runs = {"SGD": functions.run(sgd, p, steps=300, lr=1e-3, momentum=0.9),
    ...         "Adam": functions.run(adam, p, steps=300, lr=0.05)}
    >>> fig = viz.plot_trajectories(p, runs)
    >>> fig = viz.plot_losses({k: r.losses for k, r in runs.items()}, f_min=p.f_min)
    >>> fig, (left, right) = viz.figure(2)
"""

from __future__ import annotations

import html
import itertools
import math
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import Formatter, LogLocator

from .functions import Problem, Trajectory

DPI = 100  # the notebook's inline backend renders a figure at its own dpi
COLUMN_WIDTH = 6.6  # inches: 660 px at DPI, inside the book's ~690 px text column (with bbox "tight" padding)
FIGSIZE = (COLUMN_WIDTH, 4.4)  # one panel
FLOOR = 1e-16  # losses and rates are clipped to this on log axes, so a zero shows instead of vanishing

# Okabe & Ito (2008), "Color universal design": eight colours told apart by every common colour vision.
PALETTE = {"blue": "#0072B2", "vermillion": "#D55E00", "bluish green": "#009E73", "orange": "#E69F00",
           "sky blue": "#56B4E9", "reddish purple": "#CC79A7", "black": "#000000", "yellow": "#F0E442"}
# Dash patterns, distinct in grey scale (matplotlib's on/off lengths in points).
LINESTYLES = {"solid": "-", "dashed": "--", "dashdot": "-.", "dotted": ":",
              "long dash": (0, (8, 2)), "dash dot dot": (0, (6, 2, 1, 2, 1, 2)), "dense dot": (0, (1, 1)),
              "long dash dot": (0, (10, 2, 2, 2))}
OPTIMIZER_STYLES = {
    "SGD": (PALETTE["blue"], "--"), "Momentum": (PALETTE["sky blue"], "-."),
    "Adagrad": (PALETTE["bluish green"], ":"), "RMSprop": (PALETTE["orange"], (0, (8, 2))),
    "Adam": (PALETTE["vermillion"], "-"), "AdamW": (PALETTE["reddish purple"], (0, (6, 2, 1, 2, 1, 2))),
    "Adamax": (PALETTE["black"], (0, (1, 1))), "NAdam": ("#882255", (0, (10, 2, 2, 2))),
}
OPTIMIZER_COLORS = {name: color for name, (color, _) in OPTIMIZER_STYLES.items()}
# Other names (variants, settings): Paul Tol's colour-blind-safe "muted" scheme, none of the colours above.
_CYCLE = ["#332288", "#117733", "#999933", "#AA4499", "#44AA99", "#DDCC77", "#661100", "#6699CC"]
_STYLE_CYCLE = ["-", "--", "-.", ":", (0, (8, 2)), (0, (6, 2, 1, 2, 1, 2)), (0, (1, 1)), (0, (10, 2, 2, 2))]
_KEY = re.compile(r"[^a-z0-9]")
_FIXED = {_KEY.sub("", name.lower()): style for name, style in OPTIMIZER_STYLES.items()}
_FIXED["gd"] = OPTIMIZER_STYLES["SGD"]  # the chapters call full-batch gradient descent "GD"
_assigned: dict[str, tuple[str, object]] = {}
_next = itertools.cycle(zip(_CYCLE, _STYLE_CYCLE, strict=True))


def style_for(name: str) -> dict:
    """The colour and line style of the series called ``name``, the same in every plot of the session.

    The names of :data:`OPTIMIZER_STYLES` match ignoring case, spaces, hyphens and underscores
    (``"rmsprop"``, ``"Nadam"``), and ``"GD"`` is drawn as ``"SGD"``; any other name gets the next pair of a
    fixed colour-blind-safe cycle on first use and keeps it. Use as ``ax.plot(x, y, **viz.style_for("Adam"))``.
    """
    key = _KEY.sub("", name.lower())
    if key in _FIXED:
        color, linestyle = _FIXED[key]
    else:
        if key not in _assigned:
            _assigned[key] = next(_next)
        color, linestyle = _assigned[key]
    return {"color": color, "linestyle": linestyle}


def color_for(name: str) -> str:
    """The colour of :func:`style_for` alone."""
    return style_for(name)["color"]


def figure(panels: int = 1, *, height: float | None = None, stacked: bool = False, sharex: bool = False,
           sharey: bool = False) -> tuple[Figure, list[Axes]]:
    """A figure exactly as wide as the book's text column, with ``panels`` axes.

    One or two panels side by side; three or more are stacked two per row, so that no panel is narrower
    than half the column (its text would fall below the body's footnote size); ``stacked=True`` puts every
    panel in a row of its own. ``height`` is the height in inches of one row (default: 4.4 for a single
    panel, 3.3 otherwise). Returns ``(fig, axes)``.
    """
    if not isinstance(panels, int) or panels < 1:
        raise ValueError(f"panels must be a positive int, got {panels!r}")
    ncols = 1 if panels == 1 or stacked else 2
    nrows = math.ceil(panels / ncols)
    row = height if height is not None else (FIGSIZE[1] if panels == 1 else 3.3)
    if row <= 0:
        raise ValueError(f"height must be > 0, got {height!r}")
    fig = Figure(figsize=(COLUMN_WIDTH, row * nrows), dpi=DPI, layout="constrained")
    grid = fig.subplots(nrows, ncols, squeeze=False, sharex=sharex, sharey=sharey)
    axes = list(grid.ravel())
    for extra in axes[panels:]:  # an odd count leaves the last cell empty
        extra.remove()
    return fig, axes[:panels]


def legend(ax: Axes, where: str = "inside", **kwargs) -> None:
    """A legend that squeezes no plot: ``"inside"`` the axes where it hides least (matplotlib's "best"),
    or ``"below"`` them, in as many columns as fit. Extra keyword arguments go to
    :meth:`matplotlib.axes.Axes.legend`."""
    if where == "inside":
        ax.legend(loc=kwargs.pop("loc", "best"), framealpha=0.85, **kwargs)
    elif where == "below":
        handles, _ = ax.get_legend_handles_labels()
        ncols = kwargs.pop("ncols", min(len(handles), 3) or 1)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=ncols, frameon=False, **kwargs)
    else:
        raise ValueError(f"where must be 'inside' or 'below', got {where!r}")


class _PlainLogFormatter(Formatter):
    """Tick labels 0.01, 0.1, 1, 10, 100 on a log axis (``10^k`` beyond 1e-4 .. 1e4), never ``6x10^0``.

    On a minor tick the label is drawn only when the axis spans at most two decades (when fewer than three
    major ticks would be labelled) and the mantissa is 2 or 5."""

    def __init__(self, minor: bool = False):
        self.minor = minor

    def __call__(self, value, pos=None):
        if not np.isfinite(value) or value <= 0:
            return ""
        exponent = math.floor(math.log10(value) + 1e-9)
        mantissa = value / 10.0 ** exponent
        if self.minor:
            lo, hi = sorted(self.axis.get_view_interval())
            if lo <= 0 or math.log10(hi / lo) > 2.0 or round(mantissa) not in (2, 5):
                return ""
        if -4 <= exponent <= 4:
            return f"{value:.{max(0, -exponent)}f}" if exponent < 0 else f"{value:g}"
        if abs(mantissa - 1) < 1e-6:
            return rf"$10^{{{exponent}}}$"
        return rf"${mantissa:.0f}\times 10^{{{exponent}}}$"


def plain_log_ticks(ax: Axes, axis: str = "y") -> None:
    """Label the log-scaled ``axis`` (``"x"``, ``"y"`` or ``"both"``) of ``ax`` with plain numbers."""
    if axis not in ("x", "y", "both"):
        raise ValueError(f"axis must be 'x', 'y' or 'both', got {axis!r}")
    for name in ("x", "y") if axis == "both" else (axis,):
        target = ax.xaxis if name == "x" else ax.yaxis
        target.set_major_locator(LogLocator(base=10.0, numticks=12))
        target.set_minor_locator(LogLocator(base=10.0, subs=tuple(range(2, 10)), numticks=12))
        target.set_major_formatter(_PlainLogFormatter())
        target.set_minor_formatter(_PlainLogFormatter(minor=True))


class Table:
    """A table for a notebook page: HTML in Jupyter and the book (cells never wrap), text elsewhere.

    Made by :func:`table`; ``rows`` (a list of lists of formatted strings) and ``columns`` are public."""

    def __init__(self, columns: list[str], rows: list[list[str]], caption: str | None = None):
        self.columns, self.rows, self.caption = columns, rows, caption

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        cell = '<td style="white-space: nowrap">'  # "93 (lr 1.8)" on one line
        body = "".join("<tr>" + "".join(f"{cell}{html.escape(v)}</td>" for v in row) + "</tr>" for row in self.rows)
        caption = f'<p class="adamcourse-table-caption">{html.escape(self.caption)}</p>' if self.caption else ""
        # Inline styles, so that Jupyter, Colab and the book show it alike: the caption wraps with the text, and
        # on a narrow screen the table scrolls in its own box instead of wrapping cells or widening the page.
        return (f'{caption}<div class="adamcourse-table" style="overflow-x: auto; max-width: 100%">'
                f'<table class="table" style="width: auto"><thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table></div>")

    def __str__(self) -> str:
        cells = [self.columns, *self.rows]
        widths = [max(len(row[j]) for row in cells) for j in range(len(self.columns))]
        lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(([self.caption] if self.caption else []) + lines)

    __repr__ = __str__


def _format(value, spec) -> str:
    if callable(spec):
        return str(spec(value))
    if spec is not None:
        return format(value, spec)
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table(rows, columns: Sequence[str] | None = None, *, caption: str | None = None,
          formats: Mapping[str, str | Callable] | None = None) -> Table:
    """A :class:`Table` from a list of dicts, a list of tuples with ``columns``, or a dict of columns.

    ``formats`` maps a column name to a format spec (``".3f"``, ``".1%"``) or a callable returning the
    cell's text; other floats show 4 significant digits. Cells are escaped, so they hold text, not markup.

    >>> print(table([{"optimizer": "Adam", "steps": 93}, {"optimizer": "SGD", "steps": 461}]))
    optimizer  steps
    ---------  -----
    Adam       93
    SGD        461
    """
    formats = dict(formats or {})
    if isinstance(rows, Mapping):  # a dict of columns
        names = list(rows)
        lengths = {len(rows[n]) for n in names}
        if len(lengths) > 1:
            raise ValueError(f"the columns of a table must have one length, got lengths {sorted(lengths)}")
        records = [dict(zip(names, values, strict=True)) for values in zip(*rows.values(), strict=True)]
    else:
        records = list(rows)
        if records and isinstance(records[0], Mapping):
            names = list(columns) if columns is not None else list(records[0])
        else:
            if columns is None:
                raise ValueError("rows given as sequences need `columns`")
            names = list(columns)
            for i, row in enumerate(records):
                if len(row) != len(names):
                    raise ValueError(f"row {i} has {len(row)} cells for {len(names)} columns")
            records = [dict(zip(names, row, strict=True)) for row in records]
    unknown = set(formats) - set(names)
    if unknown:
        raise ValueError(f"formats for unknown columns {sorted(unknown)}; columns: {names}")
    for i, record in enumerate(records):
        missing = [n for n in names if n not in record]
        if missing:
            raise ValueError(f"row {i} has no value for {missing}")
    cells = [[_format(record[n], formats.get(n)) for n in names] for record in records]
    return Table([str(n) for n in names], cells, caption)


def _wrap(title: str | None, width: int = 60) -> str | None:
    """A title on lines of at most ``width`` characters, so that it never widens a figure past the column."""
    return None if title is None else "\n".join(textwrap.wrap(title, width)) or title


def _figure_and_axes(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig, (ax,) = figure(1)
    return fig, ax


def _legend(ax: Axes, where: str = "inside") -> None:
    legend(ax, where)


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
        ax.plot(path[:, 0], path[:, 1], marker="o", **style_for(name), label=name, lw=1.6, ms=3,
                markevery=max(1, len(path) // 40), zorder=3)
        if not any(np.allclose(path[0], s) for s in starts):
            starts.append(path[0])
    if starts:
        ax.plot(*np.array(starts).T, "o", ms=9, mfc="white", mec="black", mew=1.5, ls="none",
                label="start", zorder=4)
    ax.plot(*problem.minima.T, "*", ms=16, mfc="gold", mec="black", mew=1, ls="none", label="minimum",
            zorder=5)  # above every path, so a run that overshoots never hides it
    ax.set(xlim=(x_lo, x_hi), ylim=(y_lo, y_hi), xlabel=r"$\theta_1$", ylabel=r"$\theta_2$",
           title=_wrap(problem.name if title is None else title))
    _legend(ax, "below")
    return fig


def log_floor(values) -> np.ndarray:
    """``values`` as a log axis draws them: clipped below at :data:`FLOOR` (an exact 0 stays visible),
    ``nan``/``inf`` (a diverged run) as ``nan`` (not drawn)."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(values), np.maximum(values, FLOOR), np.nan)


def _log_curves(ax: Axes, curves: Mapping[str, np.ndarray], start: int) -> None:
    """One line per curve against its step ``start, start + 1, ...``; ``(T, k)`` arrays give k lines."""
    styles = ["-", "--", ":", "-."]
    for name, values in curves.items():
        values = np.asarray(values, dtype=np.float64)
        if values.ndim not in (1, 2):
            raise ValueError(f"{name!r} must have shape (steps,) or (steps, k), got {values.shape}")
        values = log_floor(values)
        columns = values.reshape(len(values), -1).T
        steps = np.arange(start, start + len(values))
        for j, column in enumerate(columns):
            if len(columns) == 1:
                ax.plot(steps, column, **style_for(name), label=name, lw=1.6)
            else:  # one colour per name, one line style per coordinate
                ax.plot(steps, column, styles[j % len(styles)], color=color_for(name),
                        label=rf"{name}, $\theta_{{{j + 1}}}$", lw=1.6)
    ax.set_yscale("log")
    plain_log_ticks(ax, "y")
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
    ax.set(xlabel="step $t$", ylabel=r"$f(\theta_t) - f^\star$", title=_wrap(title))
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
    ax.set(xlabel="step $t$", ylabel="effective learning rate", title=_wrap(title))
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
    Losses and gradient norms are on a log scale. A label takes the colour and line style of its text up to
    the first parenthesis, so ``"Adam (torch.optim)"`` is drawn as Adam; a label whose colour is already
    taken in the figure (two runs of one optimizer) gets another line style.
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
    fig, axes = figure(len(keys))
    styles, used = {}, set()
    for name in runs:
        style = style_for(name.split(" (")[0])  # "Adam (torch.optim)" takes Adam's colour and style
        color, base = style["color"], style["linestyle"]
        styles[name] = (color, ("--" if base == "-" else "-") if color in used else base)
        used.add(color)
    metric = next((h.metric for h in runs.values() if h.metric), None)
    for ax, key in zip(axes, keys, strict=True):
        for name, h in runs.items():
            color, style = styles[name]
            y = np.asarray(getattr(h, key), dtype=np.float64)
            if key in _PER_STEP:
                t = np.asarray(h.step if x == "step" else h.step_time, dtype=np.float64)[:len(y)]
                ax.plot(t, y, linestyle=style, color=color, label=name, lw=0.9, alpha=0.85)
            else:
                t = np.asarray(h.epoch_step if x == "step" else h.epoch_time, dtype=np.float64)[:len(y)]
                ax.plot(t, y, linestyle=style, color=color, label=name, lw=1.6, marker="o", ms=3)
        if "loss" in key or key == "grad_norm":
            ax.set_yscale("log")
            plain_log_ticks(ax, "y")
        ylabel = _METRIC_LABELS.get(metric, f"validation {metric}") if key == "val_metric" else _LABELS[key]
        ax.set(xlabel="step" if x == "step" else "training time (s)", ylabel=ylabel)
        ax.grid(True, which="major", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()  # one legend for all panels, below them
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 3), frameon=False)
    if title is not None:
        fig.suptitle(title)
    return fig


def plot_sweep(results: Mapping[str, Mapping[float, float | Sequence[float]]], *,
               ylabel: str = "final validation accuracy", title: str | None = None,
               ax: Axes | None = None) -> Figure:
    """A learning-rate sweep: the final metric against the learning rate (log scale), one line per optimizer.

    ``results`` maps an optimizer's name to ``{lr: value}`` or, for several seeds, ``{lr: [value per
    seed]}``: then the line joins the means and a band spans the seeds' minimum to maximum. A learning
    rate at which a run (any seed) diverged (``nan``/``inf``) is drawn as a cross at the bottom of the axes
    and left off the line, so a learning rate that blew up shows instead of vanishing.
    """
    fig, ax = _figure_and_axes(ax)
    for name, points in results.items():
        lrs = np.array(sorted(points), dtype=np.float64)
        values = [np.atleast_1d(np.asarray(points[lr], dtype=np.float64)) for lr in sorted(points)]
        if any(v.ndim != 1 or v.size == 0 for v in values):
            raise ValueError(f"{name!r}: each learning rate needs a number or a non-empty list of numbers")
        ok = np.array([np.isfinite(v).all() for v in values])
        mean = np.array([v.mean() if good else np.nan for v, good in zip(values, ok, strict=True)])
        ax.plot(lrs[ok], mean[ok], marker="o", **style_for(name), label=name, lw=1.6, ms=4)
        if any(v.size > 1 for v in values) and ok.any():
            low = np.array([v.min() for v in values])[ok]
            high = np.array([v.max() for v in values])[ok]
            ax.fill_between(lrs[ok], low, high, color=color_for(name), alpha=0.18, lw=0)
        if (~ok).any():
            ax.plot(lrs[~ok], np.zeros((~ok).sum()), "x", color=color_for(name), ms=8, mew=2,
                    transform=ax.get_xaxis_transform(), clip_on=False)
    ax.set_xscale("log")
    plain_log_ticks(ax, "x")
    ax.set(xlabel="learning rate", ylabel=ylabel, title=_wrap(title))
    ax.grid(True, which="major", alpha=0.3)
    _legend(ax, "below")
    return fig


HEATMAP_CMAP = "cividis"  # perceptually uniform and readable under the common colour-vision deficiencies
_PANEL_KEYS = {"values", "x", "y", "xlabel", "ylabel"}


def _check_panel(title: str, panel: Mapping) -> tuple[np.ndarray, list, list]:
    if not isinstance(panel, Mapping) or not _PANEL_KEYS <= set(panel):
        raise ValueError(f"panel {title!r} needs the keys {sorted(_PANEL_KEYS)}, got {sorted(panel)}")
    values = np.asarray(panel["values"], dtype=np.float64)
    x, y = list(panel["x"]), list(panel["y"])
    if values.shape != (len(y), len(x)):
        raise ValueError(f"panel {title!r}: values must have shape (len(y), len(x)) = ({len(y)}, {len(x)}), "
                         f"got {values.shape}")
    return values, x, y


def _outline(ax: Axes, mask: np.ndarray) -> None:
    """Draw the border of the region of cells where ``mask`` is true, along the cells' edges."""
    padded = np.pad(mask, 1)
    segments = []
    for i, j in zip(*np.nonzero(mask), strict=True):
        if not padded[i, j + 1]:     # the row below (i - 1) is outside
            segments.append([(j - 0.5, i - 0.5), (j + 0.5, i - 0.5)])
        if not padded[i + 2, j + 1]:
            segments.append([(j - 0.5, i + 0.5), (j + 0.5, i + 0.5)])
        if not padded[i + 1, j]:
            segments.append([(j - 0.5, i - 0.5), (j - 0.5, i + 0.5)])
        if not padded[i + 1, j + 2]:
            segments.append([(j + 0.5, i - 0.5), (j + 0.5, i + 0.5)])
    for color, width in (("white", 3.2), ("black", 1.4)):  # a white halo keeps the line visible on any colour
        ax.add_collection(LineCollection(segments, colors=color, linewidths=width, capstyle="round"))


def heatmaps(panels: Mapping[str, Mapping], *, colorbar: str, log: bool = True, within: float | None = None,
             title: str | None = None, fmt: str = "g", best: bool = True) -> Figure:
    """Heat maps of a quantity (lower is better, e.g. a final loss) over two-hyperparameter grids, one panel
    per grid, all on **one** colour scale so that the panels can be compared cell by cell.

    ``panels`` maps a panel's title to ``{"values": (len(y), len(x)) array, "x": [...], "y": [...],
    "xlabel": str, "ylabel": str}``; row ``i``, column ``j`` of ``values`` is the result at ``(x[j], y[i])``.
    The cells are evenly spaced whatever the grid's values (label them with the values, formatted with
    ``fmt``). Non-finite cells (a diverged run) are drawn grey and hatched, never as a colour. The best
    (smallest) cell of each panel is starred; with ``within=0.1`` the cells within 10% of that panel's best,
    ``value <= (1 + within) * best``, are outlined. The colour scale is logarithmic by default (``log``:
    values must then be positive). One or two panels sit side by side, more are stacked two per row
    (:func:`figure`); the colour bar is below them. ``best=False`` leaves the stars off (where many cells
    tie for the best, a star would single one out for no reason).
    """
    if not panels:
        raise ValueError("heatmaps needs at least one panel")
    if within is not None and not within >= 0:
        raise ValueError(f"within must be >= 0, got {within!r}")
    checked = {name: _check_panel(name, panel) for name, panel in panels.items()}
    finite = np.concatenate([v[np.isfinite(v)] for v, _, _ in checked.values()])
    if finite.size == 0:
        raise ValueError("every cell of every panel is non-finite: nothing to colour")
    if log and (finite <= 0).any():
        raise ValueError(f"a logarithmic colour scale needs positive values, got {finite.min():g}; "
                         "pass log=False")
    lo, hi = finite.min(), finite.max()
    norm = LogNorm(lo, hi if hi > lo else lo * 10) if log else Normalize(lo, hi if hi > lo else lo + 1)

    count = len(checked)
    fig, axes = figure(count, height=3.4 if count > 1 else 4.2)
    diverged = False
    for ax, (name, (values, x, y)) in zip(axes, checked.items(), strict=True):
        ok = np.isfinite(values)
        mesh = ax.imshow(np.ma.masked_invalid(values), cmap=HEATMAP_CMAP, norm=norm, origin="lower",
                         aspect="auto", interpolation="nearest")
        for i, j in zip(*np.nonzero(~ok), strict=True):
            diverged = True
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="0.85", edgecolor="0.45",
                                   hatch="xxx", lw=0))
        bi, bj = np.unravel_index(np.nanargmin(np.where(ok, values, np.nan)), values.shape)
        if within is not None:
            _outline(ax, ok & (values <= (1 + within) * values[bi, bj]))
        if best:
            ax.plot(bj, bi, marker="*", ms=13, mfc="white", mec="black", mew=1.0, ls="none", zorder=5)
        step_x = max(1, math.ceil(len(x) / 7))   # at most about 7 labels an axis stay legible
        step_y = max(1, math.ceil(len(y) / 8))
        ax.set_xticks(range(0, len(x), step_x), [format(v, fmt) for v in x[::step_x]])
        ax.set_yticks(range(0, len(y), step_y), [format(v, fmt) for v in y[::step_y]])
        ax.set_xlim(-0.5, len(x) - 0.5)
        ax.set_ylim(-0.5, len(y) - 0.5)
        ax.set(xlabel=panels[name]["xlabel"], ylabel=panels[name]["ylabel"], title=_wrap(name, 40 if count > 1 else 60))
        ax.tick_params(axis="x", labelrotation=45 if max(len(format(v, fmt)) for v in x) > 4 else 0)
    label = colorbar + ("  (hatched: diverged)" if diverged else "")
    marks = (["★ best of each panel"] if best else []) + \
        ([f"outlined: within {within:.0%} of {'it' if best else 'the best'}"] if within is not None else [])
    if marks:
        label += "\n" + "; ".join(marks)
    bar = fig.colorbar(mesh, ax=axes, location="bottom", shrink=0.8, aspect=40, label=label)
    if log and norm.vmax / norm.vmin < 100:   # under two decades: plain numbers, not crowded powers of ten
        bar.minorticks_off()
        bar.set_ticks(np.geomspace(norm.vmin, norm.vmax, 5), labels=[f"{v:.3g}" for v in
                                                                     np.geomspace(norm.vmin, norm.vmax, 5)])
    if title:
        fig.suptitle(_wrap(title))
    return fig
