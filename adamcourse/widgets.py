r"""Interactive explorers: sliders wired to the figures of :mod:`adamcourse.viz`, for Jupyter and Colab.

Each explorer is one function returning an :class:`Explorer` (an ``ipywidgets.VBox``: the controls above
the figure, shown as a PNG in an ``ipywidgets.Image``). Moving a control recomputes only what that control
changes and redraws only the artists whose data changed: the figure is drawn in full once, its background
(contours, axes, legend) kept, and each slider change restores it and draws the moving lines on top
(blitting on an Agg canvas). A change that moves an axis limit redraws that panel alone (the loss panel
when the number of steps changes); another problem or another set of optimizers builds a new figure.
``benchmarks/widgets.py`` measures the time per slider change.

* :func:`playground`: optimizer paths on a 2-D problem and their losses, for :math:`\eta` (``lr``),
  :math:`\beta_1, \beta_2, \epsilon`, the momentum :math:`\beta` and the number of steps.
* :func:`bias_correction`: Adam's raw moments :math:`m_t, v_t` and the corrected
  :math:`\hat m_t = m_t / (1 - \beta_1^t)`, :math:`\hat v_t = v_t / (1 - \beta_2^t)` against the truth, and
  the step size with and without the correction.
* :func:`ema_window`: the weights :math:`(1 - \alpha)\,\alpha^{k}` that a moving average gives the gradient
  :math:`k` steps old, their sum :math:`1 - \alpha^t` and the effective window :math:`1 / (1 - \alpha)`.

* :func:`reddi`: Reddi, Kale & Kumar (2018)'s counterexample: Adam's :math:`x_t` drifts to the worst point
  while AMSGrad's reaches the optimum, and their average regret, for the constant :math:`C`.
* :func:`beta_map`: Adam's final loss over a :math:`\beta_1 \times \beta_2` grid on a 2-D problem, as a heat map.

New explorers follow the same pattern (see :func:`explorer`): a state object holding the figure and the
artists that move, an ``update(values)`` that sets their data, and a dict of controls.

Each explorer's ``state`` is public, so code (and the tests) can drive it without a browser::

    >>> from adamcourse import widgets
    >>> pg = widgets.playground("Rosenbrock", optimizers=("Adam",), steps=50)
    >>> pg.controls["lr"].value = 0.01
    >>> pg.state.paths["Adam"].get_xydata()[1]      # theta_1 = theta_0 - lr * sign(g_1)
    array([-1.19,  1.01])

Works with ipywidgets 7 (Colab) and 8: only widgets and traits that both have are used.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from matplotlib import colormaps
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from PIL import Image as PILImage

from . import functions, online, viz
from .optim import adagrad, adam, rmsprop, sgd

try:
    import ipywidgets as W
except ImportError as error:  # pragma: no cover - the main environment has it
    raise ImportError("adamcourse.widgets needs ipywidgets (7 or 8): pip install ipywidgets, "
                      "or pip install 'adamcourse[widgets]'") from error

__all__ = ["Explorer", "explorer", "playground", "bias_correction", "ema_window", "PROBLEMS", "OPTIMIZERS",
           "PlaygroundState", "BiasCorrectionState", "EMAWindowState", "reddi", "beta_map", "ReddiState",
           "BetaMapState", "BETA1S", "BETA2S", "adam_grid_losses"]

# zlib level 1: measured 6 ms per playground frame against 10 ms at the default 6, for the same ~70 kB.
PNG_COMPRESS_LEVEL = 1
STATIC_FRAMES = 9  # frames of the main slider in the book's static page (about 70 kB each for the playground)


# ---------------------------------------------------------------- the explorer pattern


class _Renderer:
    """Draws a figure to PNG bytes on an Agg canvas, redrawing as little as the change allows.

    Three layers: the *base* (the whole figure but the ``live`` axes and the ``animated`` artists), the
    ``live`` axes (axes whose limits may change: their ticks, labels and fixed artists), the ``animated``
    artists (lines and texts whose data change). ``render`` redraws the base when asked (``full``, or a new
    figure, or a change of limits of any other axes), the live axes when their limits changed, and the
    animated artists always, each layer over a saved copy of the ones below (blitting). Fixed artists that
    lie above an animated one in its axes (a legend, the spines, a marker) join the animated layer, so the
    frame looks exactly as one plain draw would."""

    def __init__(self):
        self.figure: Figure | None = None
        self.base = self.composite = None
        self.limits: dict = {}
        self.overlays: list[Artist] = []
        self.full_draws = self.axes_draws = 0

    @staticmethod
    def _overlays(animated: list[Artist]) -> list[Artist]:
        """The fixed artists drawn above the lowest animated artist of their axes."""
        lowest: dict = {}
        for artist in animated:
            if artist.axes is not None:
                lowest[artist.axes] = min(lowest.get(artist.axes, math.inf), artist.get_zorder())
        moving = set(animated)
        return [child for ax, z in lowest.items() for child in ax.get_children()
                if child.get_zorder() > z and child.get_visible() and child not in moving]

    def _draw(self, fig: Figure, canvas: FigureCanvasAgg, animated: list[Artist], live: list, full: bool) -> None:
        limits = {ax: (ax.get_xlim(), ax.get_ylim()) for ax in fig.axes}
        moved = {ax for ax in fig.axes if ax not in self.limits or not np.allclose(self.limits[ax], limits[ax],
                                                                                    rtol=1e-12, atol=0)}
        if full or self.base is None or any(ax not in live for ax in moved):
            self.overlays = self._overlays(animated)
            for artist in self.overlays:
                artist.set_animated(True)
            canvas.draw()  # runs the layout engine
            self.base = canvas.copy_from_bbox(fig.bbox)
            self.full_draws += 1
            moved = set(live)
        if moved or self.composite is None:
            canvas.restore_region(self.base)
            for ax in live:
                fig.draw_artist(ax)
            self.composite = canvas.copy_from_bbox(fig.bbox)
            self.axes_draws += 1
        else:
            canvas.restore_region(self.composite)
        self.limits = limits
        for artist in sorted([*animated, *self.overlays], key=lambda a: a.get_zorder()):
            (artist.axes or fig).draw_artist(artist)

    def render(self, fig: Figure, animated: list[Artist], live: list = (), full: bool = False) -> bytes:
        if fig is not self.figure or not isinstance(fig.canvas, FigureCanvasAgg):
            FigureCanvasAgg(fig)  # attaches itself as fig.canvas
            self.figure, self.overlays, full = fig, [], True
            engine = fig.get_layout_engine()
            if live and isinstance(engine, ConstrainedLayoutEngine):
                # The layout ignores how far x tick labels stick out sideways; keep room for the last one of
                # a live axes (its limits change without a new layout).
                engine.set(rect=(0, 0, 0.975, 1))
        canvas = fig.canvas
        layered = [*animated, *live]
        for artist in [*layered, *self.overlays]:
            artist.set_animated(True)  # Figure.draw and Axes.draw skip animated artists
        try:
            self._draw(fig, canvas, animated, live, full)
        finally:  # plain again, so that savefig and display(fig) draw everything
            for artist in [*layered, *self.overlays]:
                artist.set_animated(False)
        width, height = canvas.get_width_height()
        buffer = io.BytesIO()
        frame = PILImage.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        frame.convert("RGB").save(buffer, format="png", compress_level=PNG_COMPRESS_LEVEL)  # opaque: 3 channels
        return buffer.getvalue()


class Explorer(W.VBox):
    """Controls above a figure; moving a control calls ``update(values)`` and shows the figure again.

    Attributes: ``controls`` (name -> widget, each with a ``.value``), ``state`` (the explorer's data and
    artists; ``state.figure`` is the figure, ``state.animated`` the artists that move), ``image`` (the
    ``ipywidgets.Image`` holding the PNG), ``status`` (an ``HTML`` line showing the last error, if any),
    ``last_ms`` (the last update's time, computing and drawing), ``renders`` and ``full_draws``. Setting
    ``controls[name].value`` from code updates the figure at once, as dragging the slider does. Between
    updates the figure is an ordinary one: ``figure.savefig`` and ``display(figure)`` show the current frame.
    """

    def __init__(self, controls: Mapping[str, W.Widget], update: Callable[[dict], bool], state, *,
                 columns: int = 3, rows: list[list[str]] | None = None, note: str | None = None,
                 main: str | None = None):
        for name, control in controls.items():
            if not hasattr(control, "value"):
                raise TypeError(f"control {name!r} must be a widget with a value, got {type(control).__name__}")
        if not hasattr(state, "figure") or not hasattr(state, "animated"):
            raise TypeError("state must have .figure (a matplotlib Figure) and .animated (a list of artists)")
        self.controls = dict(controls)
        if main is not None and main not in self.controls:
            raise ValueError(f"main must name a control, one of {list(self.controls)}; got {main!r}")
        self.main = main or next(iter(self.controls), None)
        self.state = state
        self.image = W.Image(format="png")
        self.status = W.HTML("")
        self.last_ms = 0.0
        self.renders = 0
        self._update = update
        self._renderer = _Renderer()
        names = list(self.controls)
        rows = rows or [names[i:i + columns] for i in range(0, len(names), columns)]
        placed = [name for row in rows for name in row]
        if sorted(placed) != sorted(names):
            raise ValueError(f"rows must place every control once: got {placed}, controls {names}")
        boxes = [W.HBox([self.controls[name] for name in row]) for row in rows]
        children = [*boxes, self.image, self.status]
        if note:
            children.insert(len(boxes), W.HTML(note))
        super().__init__(children)
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self.refresh(full=True)

    @property
    def values(self) -> dict:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    @property
    def figure(self) -> Figure:
        return self.state.figure

    @property
    def full_draws(self) -> int:
        """How many times the whole figure was drawn (the rest of the renders redrew only what moved)."""
        return self._renderer.full_draws

    def refresh(self, full: bool = False) -> None:
        """Run ``update`` on the current values and show the figure (drawn in full if ``full`` or if
        ``update`` returns True)."""
        start = time.perf_counter()
        full = bool(self._update(self.values)) or full
        self.image.value = self._renderer.render(self.state.figure, list(self.state.animated),
                                                 list(getattr(self.state, "live", [])), full)
        self.last_ms = 1e3 * (time.perf_counter() - start)
        self.renders += 1

    def frames(self, name: str | None = None, count: int = STATIC_FRAMES) -> tuple[list, list[bytes]]:
        """The figure as PNG frames at about ``count`` values of control ``name`` (the main control by
        default): its current value and values spread over its range (evenly on a log slider). The control is
        set back afterwards. Returns ``(values, pngs)``."""
        name = name or self.main
        control = self.controls[name]
        start, pngs = control.value, []
        values = sorted({*_spread(control, count - 1), start})  # the value the explorer was made with, too
        try:
            for value in values:
                control.value = value
                pngs.append(self.image.value)
        finally:
            control.value = start
        return values, pngs

    def static_html(self, name: str | None = None, count: int = STATIC_FRAMES) -> str:
        """The explorer for a page where no kernel runs: its main slider as a range input that switches
        between precomputed frames (plain HTML and a few lines of script), and one line on how to get every
        control. This is what the book's HTML shows; Jupyter and Colab show the live widget."""
        name = name or self.main
        values, pngs = self.frames(name, count)
        start = min(range(len(values)), key=lambda i: abs(values[i] - self.controls[name].value))
        uid = f"adamcourse-explorer-{self.model_id}"
        sources = [f"data:image/png;base64,{base64.b64encode(png).decode()}" for png in pngs]
        labels = [f"{v:.3g}" for v in values]
        description = html.escape(getattr(self.controls[name], "description", name) or name)
        return (f'<figure class="adamcourse-explorer-static" id="{uid}" style="margin: 0">'
                f'<img src="{sources[start]}" alt="{description} = {labels[start]}" style="max-width: 100%">'
                f'<div><label>{description} <input type="range" min="0" max="{len(values) - 1}" step="1" '
                f'value="{start}" aria-label="{description}" style="width: min(300px, 60%); vertical-align: middle">'
                f' <output>{labels[start]}</output></label></div>'
                f"<figcaption><small>This page moves one control through {len(values)} precomputed frames; run "
                f"the notebook (Colab or Jupyter: the launch buttons at the top) to move every control.</small>"
                f"</figcaption><script>(() => {{ const root = document.getElementById({json.dumps(uid)}); "
                f"const sources = {json.dumps(sources)}; const labels = {json.dumps(labels)}; "
                f'const img = root.querySelector("img"), out = root.querySelector("output"); '
                f'root.querySelector("input").addEventListener("input", (e) => {{ const i = +e.target.value; '
                f"img.src = sources[i]; img.alt = {json.dumps(description)} + ' = ' + labels[i]; "
                f"out.textContent = labels[i]; }}); }})();</script></figure>")

    def _ipython_display_(self, **kwargs) -> None:
        """Display the live widget together with :meth:`static_html`: a front end with a kernel (Jupyter,
        Colab) renders the widget, and the book, configured to prefer HTML, renders the frames."""
        from IPython.display import display

        bundle = {"text/plain": repr(self), "text/html": self.static_html()}
        if self._view_name is not None:
            bundle["application/vnd.jupyter.widget-view+json"] = {
                "version_major": 2, "version_minor": 0, "model_id": self.model_id}
        display(bundle, raw=True)

    def _changed(self, change) -> None:
        try:
            self.refresh()
        except Exception as error:  # shown under the figure (a kernel hides callback errors in its log)
            self.status.value = f"<span style='color: #D55E00'>{type(error).__name__}: {error}</span>"
            raise
        self.status.value = ""


def explorer(controls: Mapping[str, W.Widget], update: Callable[[dict], bool], state, *, columns: int = 3,
             rows: list[list[str]] | None = None, note: str | None = None, main: str | None = None) -> Explorer:
    """Wire ``controls`` to ``update`` and show ``state.figure``: the pattern of every explorer here.

    ``update(values)`` receives ``{name: control.value}``, sets the data of the artists in
    ``state.animated`` (``line.set_data``, ``text.set_text``) and the limits of the axes in ``state.live``
    (optional: axes whose ticks may change), and returns True when it changed anything else (a title, a new
    ``state.figure``): then the figure is drawn in full, as it is when the limits of an axes not in
    ``state.live`` change. It is called once at once, to draw the first frame. ``columns``: controls per row,
    or ``rows``: the names of the controls row by row; ``note``: HTML shown above the figure; ``main``: the
    control that the book's static page can move (:meth:`Explorer.static_html`; default: the first one).
    """
    return Explorer(controls, update, state, columns=columns, rows=rows, note=note, main=main)


def _spread(control: W.Widget, count: int) -> list:
    """``count`` values over a slider's range: log-spaced on a log slider, whole numbers on an int slider."""
    if count < 2:
        raise ValueError(f"count must be >= 2, got {count!r}")
    if isinstance(control, W.FloatLogSlider):
        values = control.base ** np.linspace(control.min, control.max, count)
    elif isinstance(control, (W.FloatSlider, W.IntSlider)):
        values = np.linspace(control.min, control.max, count)
    else:
        raise TypeError(f"a static page can move sliders only, not a {type(control).__name__}")
    if isinstance(control, W.IntSlider):
        return sorted({int(round(v)) for v in values})
    return [float(f"{v:.3g}") for v in values]


_STYLE = {"description_width": "initial"}
_LAYOUT = {"width": "300px"}


def _check_in(name: str, value, low, high) -> None:
    """A slider would clamp a value outside its range without a word: refuse it instead."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not (
            low <= value <= high):
        raise ValueError(f"{name} must be a number in [{low:g}, {high:g}] (the slider's range), got {value!r}")


def _float(name: str, description: str, value: float, low: float, high: float, step: float,
           fmt: str = ".2f") -> W.FloatSlider:
    _check_in(name, value, low, high)
    return W.FloatSlider(value=value, min=low, max=high, step=step, description=description,
                         readout_format=fmt, continuous_update=True, style=_STYLE, layout=W.Layout(**_LAYOUT))


def _log(name: str, description: str, value: float, low_exp: float, high_exp: float,
         step: float = 0.1) -> W.FloatLogSlider:
    _check_in(name, value, 10.0**low_exp, 10.0**high_exp)
    return W.FloatLogSlider(value=value, base=10, min=low_exp, max=high_exp, step=step, description=description,
                            readout_format=".1e", continuous_update=True, style=_STYLE,
                            layout=W.Layout(**_LAYOUT))


def _int(name: str, description: str, value: int, low: int, high: int, step: int = 1) -> W.IntSlider:
    _check_in(name, value, low, high)
    if int(value) != value:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return W.IntSlider(value=int(value), min=low, max=high, step=step, description=description,
                       continuous_update=True, style=_STYLE, layout=W.Layout(**_LAYOUT))


def _decades(values: np.ndarray, floor: float = viz.FLOOR) -> tuple[float, float] | None:
    """Log-axis limits on whole decades around the finite values (clipped below at ``floor``), or None."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    low = math.floor(math.log10(max(float(values.min()), floor)) + 1e-12)
    high = math.ceil(math.log10(max(float(values.max()), floor)) - 1e-12)
    return 10.0 ** low, 10.0 ** max(high, low + 1)


def _set_limits(ax, xlim=None, ylim=None) -> bool:
    """Set the axes' limits where they differ; True if any changed (the figure must be drawn in full)."""
    changed = False
    for new, get, set_ in ((xlim, ax.get_xlim, ax.set_xlim), (ylim, ax.get_ylim, ax.set_ylim)):
        if new is not None and not np.allclose(get(), new, rtol=1e-12, atol=0):
            set_(*new)
            changed = True
    return changed


def _line(ax, label: str) -> Line2D:
    (line,) = [line for line in ax.get_lines() if line.get_label() == label]
    return line


# ---------------------------------------------------------------- (1) optimizer playground


#: The playground's problems, by the name shown in its menu.
PROBLEMS: dict[str, Callable[[], functions.Problem]] = {
    "ill-conditioned quadratic": lambda: functions.quadratic(condition=20.0, angle=0.0),
    "rotated quadratic": lambda: functions.quadratic(condition=20.0, angle=45.0),
    "Rosenbrock": functions.rosenbrock,
    "Beale": functions.beale,
    "saddle": functions.saddle,
}

#: The playground's optimizers: the functional core and which control sets which of its hyperparameters.
#: RMSprop's decay alpha follows the beta2 slider: both are the decay of the moving average of g^2.
OPTIMIZERS: dict[str, tuple[object, dict[str, str]]] = {
    "SGD": (sgd, {"lr": "lr"}),
    "Momentum": (sgd, {"lr": "lr", "momentum": "momentum"}),
    "Adagrad": (adagrad, {"lr": "lr", "eps": "eps"}),
    "RMSprop": (rmsprop, {"lr": "lr", "beta2": "alpha", "eps": "eps"}),
    "Adam": (adam, {"lr": "lr", "beta1": "beta1", "beta2": "beta2", "eps": "eps"}),
}


def _check_choice(kind: str, value: str, valid) -> None:
    if value not in valid:
        raise ValueError(f"unknown {kind} {value!r}; valid: {', '.join(map(repr, valid))}")


@dataclass
class PlaygroundState:
    """What the playground shows: ``figure`` (left: paths on the contours, right: losses), the shown
    ``trajectories`` by optimizer, their artists ``paths`` and ``losses`` (Line2D), the ``diverged`` text,
    ``computed`` (the optimizers the last update ran again: only those whose hyperparameters changed, or
    that need more steps than were kept) and ``runs`` (all :func:`functions.run` calls so far)."""

    problem: functions.Problem | None = None
    figure: Figure | None = None
    trajectories: dict[str, functions.Trajectory] = field(default_factory=dict)
    paths: dict[str, Line2D] = field(default_factory=dict)
    losses: dict[str, Line2D] = field(default_factory=dict)
    diverged: Text | None = None
    animated: list[Artist] = field(default_factory=list)
    live: list = field(default_factory=list)
    computed: list[str] = field(default_factory=list)
    runs: int = 0
    key: tuple = ()
    cache: dict[str, tuple[tuple, functions.Trajectory]] = field(default_factory=dict, repr=False)


def _build_playground(state: PlaygroundState, label: str, trajectories: dict, steps: int) -> None:
    """A new figure from :func:`viz.plot_trajectories` and :func:`viz.plot_losses`; keep its moving artists."""
    problem = state.problem
    fig, (ax_path, ax_loss) = viz.figure(2, height=3.6)
    viz.plot_trajectories(problem, trajectories, title=label, ax=ax_path)
    handles, labels = ax_path.get_legend_handles_labels()
    ax_path.get_legend().remove()  # one legend for both panels, below them
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4), frameon=False)
    if trajectories:
        viz.plot_losses({name: t.losses for name, t in trajectories.items()}, f_min=problem.f_min, ax=ax_loss)
        ax_loss.get_legend().remove()  # the left panel's legend names the same colours
    # Fixed from 1e-16 to 10x the start's loss gap, so that curves compare across slider positions.
    top = 10.0 ** (math.ceil(math.log10(max(float(problem.f(problem.x0)) - problem.f_min, viz.FLOOR))) + 1)
    ax_loss.set(xlabel="step $t$", ylabel=r"$f(\theta_t) - f^\star$", yscale="log", ylim=(viz.FLOOR, top))
    viz.plain_log_ticks(ax_loss, "y")
    state.figure = fig
    state.paths = {name: _line(ax_path, name) for name in trajectories}
    state.losses = {name: _line(ax_loss, name) for name in trajectories}
    state.diverged = ax_loss.text(0.97, 0.97, "", transform=ax_loss.transAxes, ha="right", va="top",
                                  fontsize="small", color=viz.PALETTE["vermillion"], zorder=6)
    state.animated = [*state.paths.values(), *state.losses.values(), state.diverged]
    state.live = [ax_loss]


def playground(problem: str = "ill-conditioned quadratic", optimizers=tuple(OPTIMIZERS), *, lr: float = 0.1,
               beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, momentum: float = 0.9,
               steps: int = 200) -> Explorer:
    r"""The optimizer playground: paths :math:`\theta_0, \dots, \theta_T` from :func:`functions.run` over the
    contours of a 2-D problem, and the losses :math:`f(\theta_t) - f^\star`, for every optimizer ticked.

    Controls (by name in ``.controls``): ``problem`` (a key of :data:`PROBLEMS`), one checkbox per
    optimizer of :data:`OPTIMIZERS` (``"SGD"``, ``"Momentum"``, ...), ``lr`` :math:`\eta` (log slider),
    ``beta1``, ``beta2`` (Adam's :math:`\beta_1, \beta_2`; also RMSprop's :math:`\alpha`), ``eps``
    :math:`\epsilon` (log), ``momentum`` :math:`\beta` (the Momentum line: SGD with
    :math:`b_t = \beta b_{t-1} + g_t`) and ``steps`` :math:`T`. The keyword arguments set their first values.

    A change reruns only the optimizers whose hyperparameters it changes (``beta1`` reruns Adam alone);
    fewer steps reuse the longer runs. Runs that blow up (non-finite loss) are named in the loss panel.
    """
    _check_choice("problem", problem, PROBLEMS)
    for name in optimizers:
        _check_choice("optimizer", name, OPTIMIZERS)
    controls = {
        "problem": W.Dropdown(options=list(PROBLEMS), value=problem, description="problem", style=_STYLE,
                              layout=W.Layout(**_LAYOUT)),
        "lr": _log("lr", "η (lr)", lr, -4, 1),
        "steps": _int("steps", "steps T", steps, 10, 1000, 10),
        "beta1": _float("beta1", "β₁", beta1, 0.0, 0.99, 0.01),
        "beta2": _float("beta2", "β₂ (RMSprop α)", beta2, 0.5, 0.9999, 0.0001, ".4f"),
        "eps": _log("eps", "ε", eps, -12, 0, 0.5),
        "momentum": _float("momentum", "momentum β", momentum, 0.0, 0.99, 0.01),
    }
    for name in OPTIMIZERS:
        controls[name] = W.Checkbox(value=name in optimizers, description=name, indent=False,
                                    layout=W.Layout(width="110px"))
    state = PlaygroundState()

    def update(values: dict) -> bool:
        label, steps = values["problem"], int(values["steps"])
        selected = tuple(name for name in OPTIMIZERS if values[name])
        if state.problem is None or state.key[:1] != (label,):
            state.problem = PROBLEMS[label]()
        state.computed = []
        trajectories = {}
        for name in selected:
            module, names = OPTIMIZERS[name]
            hyper = {keyword: values[control] for control, keyword in names.items()}
            key = (label, tuple(sorted(hyper.items())))
            cached = state.cache.get(name)
            if cached is None or cached[0] != key or len(cached[1].losses) < steps + 1:
                cached = state.cache[name] = (key, functions.run(module, state.problem, steps=steps, **hyper))
                state.computed.append(name)
                state.runs += 1
            path, losses = cached[1]
            trajectories[name] = functions.Trajectory(path[:steps + 1], losses[:steps + 1])
        state.trajectories = trajectories
        full = False
        if state.key != (label, selected):
            _build_playground(state, label, trajectories, steps)
            state.key = (label, selected)
            full = True
        x = np.arange(steps + 1)
        for name, traj in trajectories.items():
            state.paths[name].set_data(traj.path[:, 0], traj.path[:, 1])
            state.paths[name].set_markevery(max(1, len(traj.path) // 40))
            gap = viz.log_floor(np.asarray(traj.losses, dtype=np.float64) - state.problem.f_min)
            state.losses[name].set_data(x, gap)
        blown = [name for name, traj in trajectories.items() if not np.isfinite(traj.losses[-1])]
        state.diverged.set_text("diverged: " + ", ".join(blown) if blown else "")
        _set_limits(state.diverged.axes, xlim=(0, steps))
        return full

    note = ("Drag a slider: each path is the optimizer's iterates from the white start; "
            "the right panel is the loss gap on a log scale.")
    rows = [["problem", "steps"], ["lr", "eps"], ["beta1", "beta2", "momentum"], list(OPTIMIZERS)]
    return explorer(controls, update, state, rows=rows, note=f"<small>{note}</small>", main="lr")


# ---------------------------------------------------------------- (2) bias correction


@dataclass
class BiasCorrectionState:
    r"""What :func:`bias_correction` shows. ``grads`` is the gradient stream :math:`g_1, \dots, g_N`;
    ``truth`` holds :math:`\mathbb E[g]` and :math:`\mathbb E[g^2]`; ``series`` the curves by name
    (``"m"``, ``"m_hat"``, ``"v"``, ``"v_hat"``, ``"step"`` uncorrected, ``"step_hat"`` corrected, each
    :math:`t = 1..N`); ``lines`` and ``markers`` (the point at the slider's :math:`t`) their artists;
    ``readouts`` the text in each panel."""

    grads: np.ndarray
    truth: dict[str, float]
    eps: float
    figure: Figure | None = None
    series: dict[str, np.ndarray] = field(default_factory=dict)
    lines: dict[str, Line2D] = field(default_factory=dict)
    markers: dict[str, Line2D] = field(default_factory=dict)
    cursors: list[Line2D] = field(default_factory=list)
    readouts: list[Text] = field(default_factory=list)
    animated: list[Artist] = field(default_factory=list)
    live: list = field(default_factory=list)
    betas: tuple = ()


def _ema(x: np.ndarray, beta: float) -> np.ndarray:
    r"""The moving averages :math:`a_t = \beta a_{t-1} + (1 - \beta) x_t`, :math:`a_0 = 0`, for every t."""
    out = np.empty(len(x))
    a = 0.0
    for t, value in enumerate(x.tolist()):
        a = beta * a + (1.0 - beta) * value
        out[t] = a
    return out


def bias_correction(beta1: float = 0.9, beta2: float = 0.999, t: int = 10, *, horizon: int = 3000,
                    mean: float = 1.0, noise: float = 0.5, eps: float = 1e-8, seed: int = 0) -> Explorer:
    r"""Adam's bias correction on a stream of noisy gradients :math:`g_s = \mu + \sigma \xi_s`,
    :math:`\xi_s \sim \mathcal N(0, 1)` (:math:`\mu` = ``mean``, :math:`\sigma` = ``noise``).

    Three panels against :math:`t` (log scale): :math:`m_t` and :math:`\hat m_t = m_t / (1 - \beta_1^t)`
    with the truth :math:`\mathbb E[g] = \mu`; :math:`v_t` and :math:`\hat v_t = v_t / (1 - \beta_2^t)`
    with :math:`\mathbb E[g^2] = \mu^2 + \sigma^2`; and the step in units of :math:`\eta`, corrected
    :math:`|\hat m_t| / (\sqrt{\hat v_t} + \epsilon)` and uncorrected :math:`|m_t| / (\sqrt{v_t} + \epsilon)`,
    whose first value is :math:`(1 - \beta_1) / \sqrt{1 - \beta_2}` (3.2 at the defaults). Controls:
    ``beta1``, ``beta2``, ``t`` (the step whose values the panels print).
    """
    if not (isinstance(horizon, int) and horizon >= 2):
        raise ValueError(f"horizon must be an int >= 2, got {horizon!r}")
    rng = np.random.default_rng(seed)
    grads = mean + noise * rng.standard_normal(horizon)
    state = BiasCorrectionState(grads=grads, truth={"m": mean, "v": mean**2 + noise**2}, eps=eps)
    controls = {"beta1": _float("beta1", "β₁", beta1, 0.0, 0.99, 0.01),
                "beta2": _float("beta2", "β₂", beta2, 0.5, 0.9999, 0.0001, ".4f"),
                "t": _int("t", "t", t, 1, horizon)}
    steps = np.arange(1, horizon + 1)
    fig, axes = viz.figure(3, stacked=True, height=2.3, sharex=True)
    state.figure = fig
    colors = {"raw": viz.PALETTE["sky blue"], "corrected": viz.PALETTE["vermillion"]}
    for ax, key in zip(axes, ("m", "v", "step"), strict=True):
        if key == "m":
            ax.plot(steps, grads, ".", ms=1.5, color="0.6", label="gradients $g_t$", zorder=1)
        if key != "step":
            ax.axhline(state.truth[key], color="black", lw=1, ls=":", zorder=2,
                       label=r"truth $\mathbb{E}[g]$, $\mathbb{E}[g^2]$")
        for name, kind, style in ((key, "raw", "--"), (key + "_hat", "corrected", "-")):
            state.lines[name] = ax.plot(steps, np.ones(horizon), style, color=colors[kind], lw=1.6, zorder=3,
                                        label=kind)[0]
            state.markers[name] = ax.plot([1], [1], "o", color=colors[kind], ms=6, zorder=4)[0]
        state.cursors.append(ax.axvline(1, color="0.3", lw=0.8, zorder=2))
        state.readouts.append(ax.text(0.99, 0.95, "", transform=ax.transAxes, ha="right", va="top",
                                      fontsize="small", zorder=6,
                                      bbox={"facecolor": "white", "alpha": 0.8, "lw": 0, "pad": 2}))
        ax.set_xscale("log")
        viz.plain_log_ticks(ax, "x")
        ax.grid(True, which="major", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    labels = [r"raw: $m_t$, $v_t$, $|m_t| / (\sqrt{v_t} + \epsilon)$" if lab == "raw" else
              r"corrected: $\hat m_t$, $\hat v_t$, Adam's step" if lab == "corrected" else lab for lab in labels]
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False, fontsize="small")
    top = mean + 3 * noise  # the panels show the typical range; rarer gradients fall outside
    axes[0].set(ylabel="first moment", xlim=(1, horizon), ylim=(min(0.0, mean - 3 * noise), top))
    axes[1].set(ylabel="second moment", ylim=(0.0, 2 * state.truth["v"]))
    axes[2].set(ylabel=r"step / $\eta$", xlabel="step $t$", yscale="log")
    viz.plain_log_ticks(axes[2], "y")
    state.animated = [*state.lines.values(), *state.markers.values(), *state.cursors, *state.readouts]
    state.live = [axes[2]]

    def update(values: dict) -> bool:
        b1, b2, t = float(values["beta1"]), float(values["beta2"]), int(values["t"])
        if state.betas != (b1, b2):
            m, v = _ema(grads, b1), _ema(grads**2, b2)
            m_hat, v_hat = m / (1 - b1**steps), v / (1 - b2**steps)
            state.series = {"m": m, "m_hat": m_hat, "v": v, "v_hat": v_hat,
                            "step": np.abs(m) / (np.sqrt(v) + eps), "step_hat": np.abs(m_hat) / (np.sqrt(v_hat) + eps)}
            for name, values_ in state.series.items():
                state.lines[name].set_ydata(values_)
            state.betas = (b1, b2)
        s = state.series
        for name, marker in state.markers.items():
            marker.set_data([t], [s[name][t - 1]])
        for cursor in state.cursors:
            cursor.set_xdata([t, t])
        i = t - 1
        state.readouts[0].set_text(rf"$t$ = {t}: $m_t$ = {s['m'][i]:.3f}, $\hat m_t$ = {s['m_hat'][i]:.3f}"
                                   rf" (truth {state.truth['m']:g})")
        state.readouts[1].set_text(rf"$v_t$ = {s['v'][i]:.3f}, $\hat v_t$ = {s['v_hat'][i]:.3f}"
                                   rf" (truth {state.truth['v']:g})")
        first = (1 - b1) / math.sqrt(1 - b2)
        state.readouts[2].set_text(rf"uncorrected {s['step'][i]:.3g}$\eta$, corrected {s['step_hat'][i]:.3g}"
                                   rf"$\eta$; first uncorrected step $(1-\beta_1)/\sqrt{{1-\beta_2}}$ = {first:.3g}")
        _set_limits(axes[2], ylim=_decades(np.concatenate([s["step"], s["step_hat"]])))
        return False

    return explorer(controls, update, state, columns=3, main="beta2")


# ---------------------------------------------------------------- (3) EMA window


@dataclass
class EMAWindowState:
    r"""What :func:`ema_window` shows: ``weights`` (Line2D: the weight :math:`(1-\alpha)\alpha^k` of the
    gradient :math:`k = 0..t-1` steps old), ``cumulative`` (Line2D: :math:`1 - \alpha^k`, the share of the
    newest :math:`k` gradients), ``windows`` (the two vertical markers at :math:`1/(1-\alpha)`) and
    ``readout``."""

    figure: Figure | None = None
    weights: Line2D | None = None
    cumulative: Line2D | None = None
    windows: list[Line2D] = field(default_factory=list)
    readout: Text | None = None
    animated: list[Artist] = field(default_factory=list)
    live: list = field(default_factory=list)


def _nice_ceil(x: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is >= x (x > 0)."""
    power = 10.0 ** math.floor(math.log10(x))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= x * (1 - 1e-12))


def ema_window(alpha: float = 0.9, t: int = 50, *, max_t: int = 300) -> Explorer:
    r"""The moving average :math:`a_t = \alpha a_{t-1} + (1 - \alpha) g_t` (:math:`a_0 = 0`) as a weighted
    sum, :math:`a_t = \sum_{k=0}^{t-1} (1 - \alpha)\,\alpha^k g_{t-k}`.

    Left: the weight of the gradient :math:`k` steps old against :math:`k`; the weights sum to
    :math:`1 - \alpha^t` (the rest, :math:`\alpha^t`, sits on :math:`a_0 = 0`: the bias that Adam corrects).
    Right: the share :math:`1 - \alpha^k` of the newest :math:`k` gradients. Both mark the effective
    window :math:`1 / (1 - \alpha)`, which holds about :math:`1 - 1/e \approx 63\%` of the weight.
    Controls: ``alpha`` (:math:`\alpha`; Adam's :math:`\beta_1, \beta_2` play the same role) and ``t``.
    """
    controls = {"alpha": _float("alpha", "α (decay)", alpha, 0.0, 0.999, 0.001, ".3f"),
                "t": _int("t", "t", t, 1, max_t)}
    fig, (left, right) = viz.figure(2, height=3.2)
    color = viz.PALETTE["blue"]
    state = EMAWindowState(figure=fig)
    state.weights = left.plot([0], [0], "o-", color=color, ms=3, lw=1, label=r"$(1-\alpha)\alpha^k$")[0]
    state.cumulative = right.plot([1], [0], "-", color=color, lw=1.6, label=r"$1-\alpha^k$")[0]
    right.axhline(1 - math.exp(-1), color="0.4", lw=0.8, ls=":", label=r"$1 - 1/e$")
    for ax in (left, right):
        state.windows.append(ax.axvline(1, color=viz.PALETTE["vermillion"], lw=1.4, ls="--",
                                        label=r"window $1/(1-\alpha)$"))
        ax.grid(True, alpha=0.3)
    state.readout = fig.suptitle("", fontsize="medium")
    left.set(xlabel="age $k$ of the gradient (steps)", ylabel="weight", xlim=(-0.5, t))
    right.set(xlabel="newest $k$ gradients", ylabel="share of the weight", ylim=(0, 1.02))
    viz.legend(left, loc="upper right", fontsize="small")
    viz.legend(right, loc="lower right", fontsize="small")
    state.animated = [state.weights, state.cumulative, *state.windows, state.readout]
    state.live = [left, right]

    def update(values: dict) -> bool:
        a, t = float(values["alpha"]), int(values["t"])
        k = np.arange(t)
        weights = (1 - a) * a**k
        state.weights.set_data(k, weights)
        state.cumulative.set_data(np.arange(t + 1), 1 - a ** np.arange(t + 1))
        window = 1 / (1 - a)
        for marker in state.windows:
            marker.set_xdata([window, window])
        state.readout.set_text(rf"$\alpha$ = {a:.3f}: window $1/(1-\alpha)$ = {window:.3g} steps; weights sum to "
                               rf"$1-\alpha^t$ = {1 - a**t:.3f} at $t$ = {t}")
        _set_limits(left, xlim=(-0.5, t - 0.5 if t > 1 else 0.5), ylim=(0, 1.05 * _nice_ceil(1 - a)))
        _set_limits(right, xlim=(0, t))
        return False

    return explorer(controls, update, state, columns=2, main="alpha")


# ---------------------------------------------------------------- (4) Reddi et al.'s counterexample


@dataclass
class ReddiState:
    r"""What :func:`reddi` shows: ``paths`` (Line2D by ``"Adam"``, ``"AMSGrad"``: :math:`x_t`,
    :math:`t = 1..T+1`), ``regrets`` (Line2D: the average regret :math:`R_T / T`, :math:`T = 1..T`), the
    ``readout`` text, ``grads`` (:math:`g_t`, :math:`t = 1..T`), ``computed`` (True if the last update ran
    the optimizers again: a new :math:`C`; a new ``lr`` only projects their kept steps)."""

    figure: Figure | None = None
    paths: dict[str, Line2D] = field(default_factory=dict)
    regrets: dict[str, Line2D] = field(default_factory=dict)
    readout: Text | None = None
    animated: list[Artist] = field(default_factory=list)
    live: list = field(default_factory=list)
    grads: np.ndarray | None = None
    unit_steps: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    computed: bool = False
    key: tuple = ()


def reddi(C: float = 3.0, steps: int = 1500, lr: float = 0.5, *, x1: float = 0.0) -> Explorer:
    r"""Reddi, Kale & Kumar (2018)'s online problem on which Adam converges to the worst point.

    :math:`f_t(x) = C x` when :math:`t \bmod 3 = 1`, else :math:`-x`, on :math:`[-1, 1]`, whose best fixed point
    is :math:`x^\star = -1` (for :math:`C > 2`). Both optimizers are :func:`adamcourse.online.unit_steps`'s
    ``"adam"`` and ``"amsgrad"`` (PyTorch's updates, tested against :func:`adamcourse.optim.adam.step`) with the paper's
    :math:`\beta_1 = 0`, :math:`\beta_2 = 1/(1 + C^2)` and step size :math:`\eta_t = \eta/\sqrt t`
    (:math:`\eta` = ``lr``), then project onto :math:`[-1, 1]`; ``"AMSGrad"`` is ``amsgrad=True`` (PyTorch's
    form: the max of the raw :math:`v`, divided by :math:`1 - \beta_2^t`). Unlike the paper they keep the bias
    correction and :math:`\epsilon = 10^{-8}`. Start :math:`x_1` = ``x1``.

    Top: :math:`x_t` (Adam drifts to :math:`+1`: the large, rare gradient :math:`C` is damped by
    :math:`\sqrt{v_t}` at once and forgotten within two steps; AMSGrad keeps the max and goes to :math:`-1`).
    Bottom: the average regret :math:`R_T / T = \frac1T \sum_{t \le T} (f_t(x_t) - f_t(x^\star))`, which stays
    positive for Adam and tends to 0 for AMSGrad. Controls: ``C`` (the main slider) and ``lr``.
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 3:
        raise ValueError(f"steps must be an int >= 3, got {steps!r}")
    _check_in("x1", x1, -1.0, 1.0)
    controls = {"C": _float("C", "C", C, 2.5, 10.0, 0.5, ".1f"), "lr": _log("lr", "η (lr)", lr, -2, 0)}
    fig, (top, bottom) = viz.figure(2, stacked=True, height=2.4, sharex=True)
    state = ReddiState(figure=fig)
    t = np.arange(1, steps + 2)
    for name in ("Adam", "AMSGrad"):
        state.paths[name] = top.plot(t, np.zeros(steps + 1), lw=1.6, label=name, zorder=3, **viz.style_for(name))[0]
        state.regrets[name] = bottom.plot(t[:-1], np.zeros(steps), lw=1.6, zorder=3, **viz.style_for(name))[0]
    top.axhline(-1, color="black", lw=1, ls=":", zorder=2, label=r"optimum $x^\star = -1$")
    top.axhline(1, color="0.5", lw=1, ls="--", zorder=2, label="worst point $+1$")
    bottom.axhline(0, color="black", lw=0.8, zorder=2)
    state.readout = fig.suptitle("", fontsize="medium")
    top.set(ylabel="$x_t$", ylim=(-1.15, 1.15), xscale="log", xlim=(1, steps + 1))
    bottom.set(ylabel="average regret $R_T / T$", xlabel="step $t$ (log scale)")
    viz.plain_log_ticks(bottom, "x")
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
    handles, labels = top.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=4, frameon=False, fontsize="small")
    state.animated = [*state.paths.values(), *state.regrets.values(), state.readout]
    state.live = [bottom]

    def update(values: dict) -> bool:
        c, eta = float(values["C"]), float(values["lr"])
        beta2 = 1 / (1 + c * c)
        state.computed = state.key != (c,)
        if state.computed:
            # one run per C serves every lr: on linear losses the moments do not depend on x
            state.grads = online.reddi_gradients(c, steps)
            state.unit_steps = {name: online.unit_steps(state.grads, form=name.lower(), beta1=0.0, beta2=beta2)
                                for name in state.paths}
            state.key = (c,)
        regret, final = {}, {}
        for name, line in state.paths.items():
            x = online.project(state.unit_steps[name], eta, x1)
            line.set_ydata(x)
            regret[name] = online.average_regret(state.grads, x)   # R_T / T, T = 1..steps
            state.regrets[name].set_ydata(regret[name])
            final[name] = x[-1]
        state.readout.set_text(rf"$C$ = {c:g}, $\beta_2 = 1/(1+C^2)$ = {beta2:.3g}: after {steps} steps Adam "
                               rf"$x$ = {final['Adam']:+.3f}, AMSGrad $x$ = {final['AMSGrad']:+.3f}")
        both = np.concatenate(list(regret.values()))
        low, high = min(0.0, float(both.min())), float(both.max())
        pad = 0.05 * (high - low)
        _set_limits(bottom, ylim=(low - pad, high + pad))
        return False

    return explorer(controls, update, state, columns=2, main="C")


# ---------------------------------------------------------------- (5) beta1 x beta2 map


BETA1S = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)
BETA2S = (0.9, 0.99, 0.999, 0.9999)


@dataclass
class BetaMapState:
    r"""What :func:`beta_map` shows: ``values`` (the final loss gaps :math:`f(\theta_T) - f^\star`, one row per
    :math:`\beta_2` of ``beta2s``, one column per :math:`\beta_1` of ``beta1s``; ``nan`` where a run blew up),
    the ``image`` (AxesImage), the cell ``labels`` (Text, same layout), the ``best`` cell's outline, the
    ``colorbar``, ``computed`` (how many runs the last update made: none when only fewer steps are asked) and
    ``runs`` (all runs so far)."""

    beta1s: tuple
    beta2s: tuple
    figure: Figure | None = None
    values: np.ndarray | None = None
    image: Artist | None = None
    labels: list[list[Text]] = field(default_factory=list)
    best: Artist | None = None
    colorbar: object = None
    title: Text | None = None
    animated: list[Artist] = field(default_factory=list)
    live: list = field(default_factory=list)
    computed: int = 0
    runs: int = 0
    key: tuple = ()
    gaps: np.ndarray | None = field(default=None, repr=False)  # (beta2, beta1, steps + 1) loss gaps, kept


def adam_grid_losses(problem, steps: int, lr: float, beta1s, beta2s, eps: float = 1e-8) -> np.ndarray:
    r"""The losses :math:`f(\theta_t)`, :math:`t = 0..T`, of Adam from ``problem.x0`` for every
    (:math:`\beta_2`, :math:`\beta_1`) of the grid at once, shape ``(len(beta2s), len(beta1s), steps + 1)``.

    Algorithm 1 exactly as :func:`adamcourse.optim.adam.step` computes it (the same operations in the same
    order), only over a grid of cells in one array: the 2-D problems take a batch of points, and one NumPy
    expression per line replaces 24 calls per step (a new ``lr`` then redraws within 100 ms).
    ``tests/test_widgets.py`` compares every cell with a run of :func:`adamcourse.optim.adam.step`.
    """
    b1 = np.asarray(beta1s, dtype=np.float64)[None, :, None]
    b2 = np.asarray(beta2s, dtype=np.float64)[:, None, None]
    theta = np.broadcast_to(np.asarray(problem.x0, dtype=np.float64), (b2.shape[0], b1.shape[1], problem.dim)).copy()
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    losses = np.empty((b2.shape[0], b1.shape[1], steps + 1))
    with np.errstate(all="ignore"):
        losses[..., 0] = problem.f(theta)
        for t in range(1, steps + 1):
            g = problem.grad(theta)
            m = b1 * m + (1 - b1) * g                                   # m_t
            v = b2 * v + (1 - b2) * g * g                               # v_t
            m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)             # bias corrections
            theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)         # theta_t
            losses[..., t] = problem.f(theta)
    return losses


def beta_map(problem: str = "Rosenbrock", lr: float = 0.01, steps: int = 300, *, beta1s=BETA1S,
             beta2s=BETA2S) -> Explorer:
    r"""Adam's final loss gap :math:`f(\theta_T) - f^\star` on a 2-D problem of :data:`PROBLEMS` over a grid of
    :math:`\beta_1` (``beta1s``, columns) and :math:`\beta_2` (``beta2s``, rows), each cell a run of Adam
    from the problem's start with :math:`\epsilon = 10^{-8}` (:func:`adam_grid_losses`: all cells at once).

    A heat map on a log colour scale (viridis: dark is low), the value printed in each cell and the best cell
    outlined. Controls: ``lr`` :math:`\eta` (the main slider, log), ``problem`` and ``steps`` :math:`T`. A new
    ``lr`` or problem runs the grid again; fewer steps reuse the kept runs.
    """
    _check_choice("problem", problem, PROBLEMS)
    beta1s, beta2s = tuple(float(b) for b in beta1s), tuple(float(b) for b in beta2s)
    for name, grid in (("beta1s", beta1s), ("beta2s", beta2s)):
        if not grid or any(not 0.0 <= b < 1.0 for b in grid):
            raise ValueError(f"{name} must be a non-empty sequence of numbers in [0, 1), got {grid!r}")
    controls = {"lr": _log("lr", "η (lr)", lr, -4, 0), "steps": _int("steps", "steps T", steps, 10, 1000, 10),
                "problem": W.Dropdown(options=list(PROBLEMS), value=problem, description="problem", style=_STYLE,
                                      layout=W.Layout(**_LAYOUT))}
    fig, (ax,) = viz.figure(1, height=3.4)
    state = BetaMapState(beta1s=beta1s, beta2s=beta2s, figure=fig)
    shape = (len(beta2s), len(beta1s))
    cmap = colormaps["viridis"].with_extremes(bad="0.85")  # grey: a run that blew up
    state.image = ax.imshow(np.ones(shape), origin="lower", aspect="auto", cmap=cmap, norm=LogNorm(1e-2, 1),
                            interpolation="nearest", zorder=1.1)  # above the axes' background patch (1)
    state.colorbar = fig.colorbar(state.image, ax=ax, label=r"$f(\theta_T) - f^\star$ (log scale)")
    state.labels = [[ax.text(i, j, "", ha="center", va="center", fontsize="small", zorder=5) for i in range(shape[1])]
                    for j in range(shape[0])]
    state.best = ax.add_patch(Rectangle((-0.5, -0.5), 1, 1, fill=False, lw=3, ec=viz.PALETTE["vermillion"],
                                           zorder=4))
    ax.set_xticks(range(shape[1]), [f"{b:g}" for b in beta1s])
    ax.set_yticks(range(shape[0]), [f"{b:g}" for b in beta2s])
    ax.set(xlabel=r"$\beta_1$", ylabel=r"$\beta_2$")
    viz.plain_log_ticks(state.colorbar.ax, "y")
    state.title = ax.set_title(" ", fontsize="medium")
    state.animated = [state.image, *(text for row in state.labels for text in row), state.best, state.title]
    state.live = [state.colorbar.ax]

    def update(values: dict) -> bool:
        label, eta, steps = values["problem"], float(values["lr"]), int(values["steps"])
        state.computed = 0
        if state.key != (label, eta) or state.gaps.shape[-1] < steps + 1:
            prob = PROBLEMS[label]()
            state.gaps = adam_grid_losses(prob, steps, eta, beta1s, beta2s) - prob.f_min
            state.computed = shape[0] * shape[1]
            state.runs += state.computed
            state.key = (label, eta)
        gap = viz.log_floor(state.gaps[..., steps])
        state.values = gap
        limits = _decades(gap) or (1e-2, 1.0)
        state.image.set_data(np.ma.masked_invalid(gap))
        state.image.set_clim(*limits)  # the colour bar follows
        norm = state.image.norm
        for (j, i), value in np.ndenumerate(gap):
            text = state.labels[j][i]
            text.set_text(f"{value:.1e}" if np.isfinite(value) else "diverged")
            text.set_color("black" if np.isfinite(value) and norm(value) > 0.6 else "white")
        finite = np.isfinite(gap)
        state.best.set_visible(bool(finite.any()))
        if finite.any():
            j, i = np.unravel_index(np.nanargmin(gap), shape)
            state.best.set_xy((i - 0.5, j - 0.5))
            best = rf"best $\beta_1$ = {beta1s[i]:g}, $\beta_2$ = {beta2s[j]:g}"
        else:
            best = "every run diverged"
        state.title.set_text(rf"Adam on {label}, $\eta$ = {eta:.2g}, $T$ = {steps}: {best}")
        return False

    return explorer(controls, update, state, columns=3, main="lr")
