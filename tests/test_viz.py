"""Plots (adamcourse.viz): rendered headlessly, then their content checked artist by artist."""

from __future__ import annotations

import io

import matplotlib
import matplotlib.image
import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure

import adamcourse.optim.adam as adam
from adamcourse import functions as F
from adamcourse import viz


def _render(fig: Figure) -> np.ndarray:
    """PNG bytes -> RGB pixels, (height, width, 3)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=60)
    buffer.seek(0)
    return matplotlib.image.imread(buffer, format="png")[..., :3]


def _has_pixels_of(pixels: np.ndarray, color: str, count: int = 20) -> bool:
    return int((np.abs(pixels - to_rgb(color)).max(axis=-1) < 0.05).sum()) >= count


def _lines(ax, label):
    return [line for line in ax.get_lines() if line.get_label() == label]


def _legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


@pytest.fixture(scope="module")
def rosenbrock_runs():
    p = F.rosenbrock()
    return p, {"Adam": F.run(adam, p, steps=200, lr=0.05),
               "RMSprop": np.array([[-1.2, 1.0], [-0.5, 0.5], [0.5, 0.2], [1.0, 1.0]])}


def test_plot_trajectories_content(rosenbrock_runs):
    p, runs = rosenbrock_runs
    fig = viz.plot_trajectories(p, runs, title="banana")
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    pixels = _render(fig)
    ax = fig.axes[0]
    # one line per trajectory, with its data, label and fixed colour
    for name, traj in runs.items():
        (line,) = _lines(ax, name)
        path = traj.path if isinstance(traj, F.Trajectory) else traj
        np.testing.assert_array_equal(np.c_[line.get_xdata(), line.get_ydata()], path)
        assert line.get_marker() == "o"
        assert line.get_color() == viz.OPTIMIZER_COLORS[name]
        assert _has_pixels_of(pixels, viz.OPTIMIZER_COLORS[name])
    # the start (shared: one point) and the minimum
    (start,) = _lines(ax, "start")
    np.testing.assert_array_equal(np.c_[start.get_xdata(), start.get_ydata()], [p.x0])
    (minimum,) = _lines(ax, "minimum")
    assert minimum.get_marker() == "*" and minimum.get_markersize() >= 10 and start.get_markersize() >= 6
    assert _has_pixels_of(pixels, "gold") and _has_pixels_of(pixels, "white")
    np.testing.assert_array_equal(np.c_[minimum.get_xdata(), minimum.get_ydata()], [[1.0, 1.0]])
    assert _legend_texts(ax) == ["Adam", "RMSprop", "start", "minimum"]
    assert "theta_1" in ax.get_xlabel() and "theta_2" in ax.get_ylabel()
    assert ax.get_title() == "banana"
    assert ax.get_xlim() == p.bounds[0] and ax.get_ylim() == p.bounds[1]
    # contours of f - f_min on log-spaced levels
    filled = [c for c in ax.collections if isinstance(c, ContourSet) and c.filled]
    assert len(filled) == 1
    ratios = filled[0].levels[1:] / filled[0].levels[:-1]
    assert len(filled[0].levels) == 30 and np.allclose(ratios, ratios[0]) and ratios[0] > 1.5


def test_plot_trajectories_linear_levels_several_minima_and_starts():
    p = F.saddle()
    runs = {"SGD": np.array([[1.5, 0.01], [0.0, 1.0]]), "Adam": np.array([[-1.5, -0.01], [0.0, -1.0]])}
    fig = viz.plot_trajectories(p, runs, levels=12, log_levels=False)
    _render(fig)
    ax = fig.axes[0]
    assert ax.get_title() == "saddle"
    (start,) = _lines(ax, "start")
    assert len(start.get_xdata()) == 2
    (minimum,) = _lines(ax, "minimum")
    np.testing.assert_array_equal(np.c_[minimum.get_xdata(), minimum.get_ydata()], p.minima)
    filled = [c for c in ax.collections if isinstance(c, ContourSet) and c.filled]
    assert np.allclose(np.diff(filled[0].levels), np.diff(filled[0].levels)[0])  # evenly spaced
    assert _legend_texts(ax).count("start") == 1


def test_plot_trajectories_rejects_what_it_cannot_draw(rosenbrock_runs):
    p, _ = rosenbrock_runs
    with pytest.raises(ValueError, match="needs a 2-D problem"):
        viz.plot_trajectories(F.sparse_regression(n_samples=20, n_features=3), {})
    with pytest.raises(ValueError, match=r"trajectory 'x' must be .* got shape \(4, 3\)"):
        viz.plot_trajectories(p, {"x": np.zeros((4, 3))})


def test_plot_losses_content():
    losses = {"SGD": np.array([4.0, 2.0, 1.0, 0.5]), "Adam": np.array([4.0, 1.0, 0.0, 0.0]),
              "diverged": np.array([4.0, 1e3, np.inf, np.nan])}
    fig = viz.plot_losses({k: v - 1.0 for k, v in losses.items()}, f_min=-1.0, title="losses")
    pixels = _render(fig)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_xscale() == "linear"
    assert _legend_texts(ax) == ["SGD", "Adam", "diverged"]
    assert ax.get_xlabel() == "step $t$" and "f^\\star" in ax.get_ylabel() and ax.get_title() == "losses"
    (sgd_line,) = _lines(ax, "SGD")
    np.testing.assert_array_equal(sgd_line.get_xdata(), [0, 1, 2, 3])
    np.testing.assert_allclose(sgd_line.get_ydata(), losses["SGD"])  # f_min subtracted back
    (adam_line,) = _lines(ax, "Adam")
    np.testing.assert_allclose(adam_line.get_ydata(), [4.0, 1.0, viz.FLOOR, viz.FLOOR])  # zeros stay visible
    assert ax.get_ylim()[0] <= viz.FLOOR
    assert np.isnan(_lines(ax, "diverged")[0].get_ydata()[2:]).all()
    for name in ("SGD", "Adam"):
        assert _has_pixels_of(pixels, viz.color_for(name))


def test_plot_effective_lr_content():
    t = np.arange(1, 51)
    rates = {"Adagrad": np.c_[0.5 / np.sqrt(t), 2.0 / np.sqrt(t)], "SGD": np.full(50, 0.1)}
    fig = viz.plot_effective_lr(rates)
    _render(fig)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "step $t$"
    assert "learning rate" in ax.get_ylabel()
    assert _legend_texts(ax) == ["Adagrad, $\\theta_{1}$", "Adagrad, $\\theta_{2}$", "SGD"]
    lines = ax.get_lines()
    assert len(lines) == 3
    assert lines[0].get_color() == lines[1].get_color() == viz.OPTIMIZER_COLORS["Adagrad"]
    assert lines[0].get_linestyle() != lines[1].get_linestyle()
    np.testing.assert_array_equal(lines[2].get_xdata(), t)  # rates start at step 1
    with pytest.raises(ValueError, match=r"'bad' must have shape \(steps,\) or \(steps, k\)"):
        viz.plot_effective_lr({"bad": np.zeros((2, 2, 2))})


def test_colours_are_consistent_across_plots_and_distinct(rosenbrock_runs):
    p, runs = rosenbrock_runs
    assert viz.color_for("rmsprop") == viz.color_for("RMSprop") == viz.color_for("RMS-prop")
    assert len(set(viz.OPTIMIZER_COLORS.values())) == len(viz.OPTIMIZER_COLORS)
    extra = [viz.color_for(f"variant {i}") for i in range(5)]
    assert len(set(extra)) == 5 and not set(extra) & set(viz.OPTIMIZER_COLORS.values())
    assert viz.color_for("variant 3") == extra[3]
    runs = {"Adam": runs["Adam"], "my method": runs["RMSprop"]}
    figs = [viz.plot_trajectories(p, runs), viz.plot_losses({k: np.ones(3) for k in runs}),
            viz.plot_effective_lr({k: np.ones(3) for k in runs})]
    for name in runs:
        assert len({_lines(fig.axes[0], name)[0].get_color() for fig in figs}) == 1


def test_draws_into_a_given_axes(rosenbrock_runs):
    p, runs = rosenbrock_runs
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert viz.plot_trajectories(p, runs, ax=left) is fig
    assert viz.plot_losses({"Adam": runs["Adam"].losses}, ax=right) is fig
    assert len(fig.axes) == 2 and _legend_texts(right) == ["Adam"]
    _render(fig)


def test_rcparams_and_pyplot_untouched(rosenbrock_runs):
    import matplotlib.pyplot as plt

    p, runs = rosenbrock_runs
    before, figures = dict(matplotlib.rcParams), plt.get_fignums()
    _render(viz.plot_trajectories(p, runs))
    _render(viz.plot_losses({"Adam": runs["Adam"].losses}))
    _render(viz.plot_effective_lr({"Adam": np.ones(5)}))
    assert dict(matplotlib.rcParams) == before
    assert plt.get_fignums() == figures


# ---------------------------------------------------------------- plot_history (the labs' learning curves)

def _history(name, steps_per_epoch=4, epochs=3, seconds_per_step=0.5, metric="accuracy", worse=1.0):
    from adamcourse.train import History

    h = History(name, "cpu", metric)
    n = steps_per_epoch * epochs
    h.step = list(range(1, n + 1))
    h.step_loss = list(np.geomspace(2.0, 0.1, n))
    h.step_time = [seconds_per_step * s for s in h.step]
    h.grad_norm = list(np.linspace(5.0, 1.0, n))
    h.epoch = list(range(1, epochs + 1))
    h.epoch_step = [steps_per_epoch * e for e in h.epoch]
    h.train_loss = list(worse * np.geomspace(1.5, 0.2, epochs))
    h.val_loss = list(worse * np.geomspace(1.6, 0.3, epochs))
    h.val_metric = list(np.linspace(0.5, 0.9, epochs) / worse)
    h.epoch_time = [seconds_per_step * s for s in h.epoch_step]
    h.examples_per_s = [100.0] * epochs
    return h


def test_plot_history_panels_axes_and_data():
    adam, sgd = _history("Adam"), _history("SGD", seconds_per_step=0.25, worse=1.5)
    fig = viz.plot_history([adam, sgd])
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    loss_ax, metric_ax = fig.axes
    assert loss_ax.get_yscale() == "log" and metric_ax.get_yscale() == "linear"
    assert metric_ax.get_ylabel() == "validation accuracy" and loss_ax.get_xlabel() == "step"
    (line,) = _lines(metric_ax, "SGD")
    np.testing.assert_array_equal(line.get_xdata(), sgd.epoch_step)
    np.testing.assert_array_equal(line.get_ydata(), sgd.val_metric)
    assert line.get_color() == viz.OPTIMIZER_COLORS["SGD"]
    (legend,) = fig.legends  # one legend for both panels, below them
    assert [t.get_text() for t in legend.get_texts()] == ["Adam", "SGD"] and metric_ax.get_legend() is None
    pixels = _render(fig)
    assert _has_pixels_of(pixels, viz.OPTIMIZER_COLORS["Adam"])
    assert _has_pixels_of(pixels, viz.OPTIMIZER_COLORS["SGD"])


def test_plot_history_against_time_and_per_step_keys():
    sgd = _history("SGD", seconds_per_step=0.25)
    fig = viz.plot_history({"plain SGD": sgd}, x="time", keys=("step_loss", "grad_norm", "val_loss"))
    assert len(fig.axes) == 3 and all(ax.get_xlabel() == "training time (s)" for ax in fig.axes)
    (steps,) = _lines(fig.axes[0], "plain SGD")
    np.testing.assert_array_equal(steps.get_xdata(), sgd.step_time)
    np.testing.assert_array_equal(steps.get_ydata(), sgd.step_loss)
    (epochs,) = _lines(fig.axes[2], "plain SGD")
    np.testing.assert_array_equal(epochs.get_xdata(), sgd.epoch_time)


def test_plot_history_same_optimizer_twice_is_dashed_and_bpc_label():
    a, b = _history("Adam", metric="bpc"), _history("Adam (torch)", metric="bpc")
    fig = viz.plot_history({"Adam": a, "adam": b}, keys=("val_metric",))
    first, second = fig.axes[0].get_lines()
    assert first.get_color() == second.get_color() and first.get_linestyle() == "-"
    assert second.get_linestyle() == "--"
    assert fig.axes[0].get_ylabel() == "validation bits per character"
    fig = viz.plot_history({"Adam (adamcourse)": a, "Adam (torch.optim)": b}, keys=("val_metric",))
    first, second = fig.axes[0].get_lines()
    assert first.get_color() == second.get_color() == viz.OPTIMIZER_COLORS["Adam"]
    assert (first.get_linestyle(), second.get_linestyle()) == ("-", "--")


@pytest.mark.parametrize("kwargs, match", [({"x": "epoch"}, "x must be"), ({"keys": ("accuracy",)}, "unknown key")])
def test_plot_history_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        viz.plot_history([_history("Adam")], **kwargs)
    with pytest.raises(ValueError, match="at least one"):
        viz.plot_history([])


def test_plot_sweep_lines_log_x_and_diverged_runs():
    results = {"Adam": {1e-3: 0.9, 1e-2: 0.95, 1e-1: 0.5}, "SGD": {1e-2: 0.6, 1e-1: 0.9, 1.0: float("nan")}}
    fig = viz.plot_sweep(results, title="sweep")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    (adam_line,) = _lines(ax, "Adam")
    np.testing.assert_array_equal(adam_line.get_xdata(), [1e-3, 1e-2, 1e-1])
    np.testing.assert_array_equal(adam_line.get_ydata(), [0.9, 0.95, 0.5])
    (sgd_line,) = _lines(ax, "SGD")
    np.testing.assert_array_equal(sgd_line.get_xdata(), [1e-2, 1e-1])  # the diverged run is not on the line
    crosses = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert len(crosses) == 1 and crosses[0].get_xdata()[0] == 1.0
    assert _legend_texts(ax) == ["Adam", "SGD"]


# ---------------------------------------------------------------- column-width figures, palette, ticks, tables


def _png_width(fig: Figure) -> int:
    """Width in pixels of the PNG that Jupyter's inline backend shows (fig.dpi, bbox_inches="tight")."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight")
    buffer.seek(0)
    return matplotlib.image.imread(buffer, format="png").shape[1]


@pytest.mark.parametrize("panels, shape", [(1, (1, 1)), (2, (1, 2)), (3, (2, 2)), (4, (2, 2))])
def test_figure_fits_the_text_column(panels, shape):
    fig, axes = viz.figure(panels)
    assert len(axes) == panels == len(fig.axes)  # an odd count leaves no empty axes behind
    rows = {round(ax.get_position().y0, 3) for ax in axes}
    assert len(rows) == shape[0]
    for ax in axes:
        ax.plot([1, 2], [3, 4], label="a")
        ax.set(xlabel="step $t$", ylabel="loss")
    assert _png_width(fig) <= 690  # the book's text column at 1280 px: shown at natural size, not shrunk


def test_library_figures_fit_the_text_column(rosenbrock_runs):
    p, runs = rosenbrock_runs
    figures = [viz.plot_trajectories(p, runs), viz.plot_losses({"Adam": runs["Adam"].losses}),
               viz.plot_history([_history("Adam"), _history("SGD")], keys=("train_loss", "val_metric")),
               viz.plot_sweep({"Adam": {1e-3: [0.9, 0.8], 1e-2: [0.95, 0.9]}})]
    for fig in figures:
        assert _png_width(fig) <= 690


def test_figure_stacked_panels_take_the_full_width():
    fig, axes = viz.figure(2, stacked=True)
    fig.draw_without_rendering()  # runs the constrained layout
    (top, bottom) = (ax.get_position() for ax in axes)
    assert top.y0 > bottom.y1 and abs(top.width - bottom.width) < 1e-9 and top.width > 0.8


def test_figure_bad_arguments():
    with pytest.raises(ValueError, match="panels must be a positive int"):
        viz.figure(0)
    with pytest.raises(ValueError, match="height must be > 0"):
        viz.figure(1, height=-1.0)
    with pytest.raises(ValueError, match="where must be"):
        viz.legend(viz.figure()[1][0], where="right")


def test_styles_are_colour_blind_safe_and_distinct_in_grey():
    names = list(viz.OPTIMIZER_STYLES)
    styles = [viz.style_for(n) for n in names]
    assert {s["color"] for s in styles} <= set(viz.PALETTE.values()) | {"#882255"}
    assert len({s["color"] for s in styles}) == len(names)
    assert len({str(s["linestyle"]) for s in styles}) == len(names)  # told apart without colour
    assert viz.style_for("adam") == viz.style_for("Adam") and viz.color_for("Adam") == viz.PALETTE["vermillion"]


def test_plain_log_ticks_label_numbers_not_powers():
    fig, (ax,) = viz.figure()
    ax.plot([1e-3, 1e2], [1e-3, 1e2])
    ax.set(xscale="log", yscale="log")
    viz.plain_log_ticks(ax, "both")
    fig.canvas.draw()
    labels = {t.get_text() for t in ax.get_yticklabels() if t.get_text()}
    assert {"0.001", "0.01", "0.1", "1", "10", "100"} <= labels
    fig, (ax,) = viz.figure()
    ax.plot([1, 2], [3.0, 8.0])
    ax.set_yscale("log")
    viz.plain_log_ticks(ax)
    fig.canvas.draw()
    lo, hi = ax.get_ylim()
    minor = [t.get_text() for t in ax.yaxis.get_minorticklabels() if t.get_text() and lo <= t.get_position()[1] <= hi]
    assert minor == ["5"], minor  # less than a decade: the 5 is labelled, nothing reads 6x10^0
    with pytest.raises(ValueError, match="axis must be"):
        viz.plain_log_ticks(ax, "z")


def test_table_from_records_tuples_and_columns():
    records = viz.table([{"optimizer": "Adam", "steps": 93, "lr": 1.8}, {"optimizer": "SGD", "steps": 461, "lr": 0.1}],
                        formats={"lr": ".2g"}, caption="race")
    html = records._repr_html_()
    assert html.count("<tr>") == 3 and ">race</p>" in html and ">1.8</td>" in html and html.count("nowrap") == 6
    assert str(records).splitlines()[0] == "race"
    same = viz.table([("Adam", 93, 1.8), ("SGD", 461, 0.1)], ["optimizer", "steps", "lr"], formats={"lr": ".2g"},
                     caption="race")
    columns = viz.table({"optimizer": ["Adam", "SGD"], "steps": [93, 461], "lr": [1.8, 0.1]},
                        formats={"lr": ".2g"}, caption="race")
    assert records.rows == same.rows == columns.rows == [["Adam", "93", "1.8"], ["SGD", "461", "0.1"]]
    assert "&lt;b&gt;" in viz.table([{"x": "<b>"}])._repr_html_()  # text, not markup


@pytest.mark.parametrize("args, kwargs, match", [
    (([(1, 2)],), {}, "need `columns`"),
    (([(1, 2)], ["a"]), {}, "row 0 has 2 cells for 1 columns"),
    (({"a": [1, 2], "b": [1]},), {}, "one length"),
    (([{"a": 1}],), {"formats": {"b": ".2f"}}, "unknown columns"),
    (([{"a": 1}, {"b": 2}],), {}, r"row 1 has no value for \['a'\]"),
])
def test_table_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        viz.table(*args, **kwargs)


def test_plot_sweep_several_seeds_mean_and_band():
    results = {"Adam": {1e-3: [0.8, 0.9, 1.0], 1e-2: [0.5, 0.7, 0.9], 1e-1: [0.9, float("nan"), 0.9]}}
    fig = viz.plot_sweep(results)
    ax = fig.axes[0]
    (line,) = _lines(ax, "Adam")
    np.testing.assert_array_equal(line.get_xdata(), [1e-3, 1e-2])  # a seed diverged at 0.1: off the line
    np.testing.assert_allclose(line.get_ydata(), [0.9, 0.7])
    (band,) = ax.collections
    ys = band.get_paths()[0].vertices[:, 1]
    assert np.isclose(ys.min(), 0.5) and np.isclose(ys.max(), 1.0)
    assert [line.get_xdata()[0] for line in ax.get_lines() if line.get_marker() == "x"] == [1e-1]


def test_a_long_title_is_wrapped_not_widening_the_figure(rosenbrock_runs):
    p, runs = rosenbrock_runs
    title = "Rosenbrock's banana valley with every optimizer at its best learning rate from the grid, 3000 steps"
    fig = viz.plot_trajectories(p, runs, title=title)
    assert "\n" in fig.axes[0].get_title() and _png_width(fig) <= 690


def _heat_panels():
    a = np.array([[1.0, 2.0, 4.0], [0.5, 0.52, np.nan]])        # best 0.5 at row 1, column 0
    b = np.array([[8.0, 3.0], [np.inf, 2.0], [2.1, 9.0]])       # best 2.0 at row 1, column 1
    return {"A": dict(values=a, x=[1e-3, 1e-2, 1e-1], y=[0.9, 0.99], xlabel="lr", ylabel="beta2"),
            "B": dict(values=b, x=[0.1, 1.0], y=[0.0, 0.5, 0.9], xlabel="lr", ylabel="momentum")}


def test_heatmaps_share_one_scale_star_the_best_and_hatch_diverged_cells():
    from matplotlib.collections import LineCollection
    from matplotlib.image import AxesImage
    from matplotlib.patches import Rectangle

    fig = viz.heatmaps(_heat_panels(), colorbar="final loss", within=0.1)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["A", "B"]
    images = [next(a for a in ax.get_children() if isinstance(a, AxesImage)) for ax in panels]
    assert {(im.norm.vmin, im.norm.vmax) for im in images} == {(0.5, 9.0)}     # one colour scale for both
    stars = [[line.get_xydata()[0].tolist() for line in ax.lines if line.get_marker() == "*"] for ax in panels]
    assert stars == [[[0.0, 1.0]], [[1.0, 1.0]]]                               # (column, row) of each best
    hatched = [[(p.get_x(), p.get_y()) for p in ax.patches if isinstance(p, Rectangle) and p.get_hatch()]
               for ax in panels]
    assert hatched == [[(1.5, 0.5)], [(-0.5, 0.5)]]                             # the nan and the inf cell
    # within 10%: panel A's best two cells (0.5, 0.52) form one 2-cell region, 6 unit edges on its border
    outline = [c for c in panels[0].collections if isinstance(c, LineCollection)]
    assert len(outline) == 2 and len(outline[-1].get_segments()) == 6
    assert "hatched: diverged" in fig.axes[-1].get_xlabel()
    assert [t.get_text() for t in panels[0].get_xticklabels()] == ["0.001", "0.01", "0.1"]
    assert fig.get_figwidth() == viz.COLUMN_WIDTH


@pytest.mark.parametrize(("change", "match"), [
    (lambda p: p["A"].update(values=np.ones((3, 3))), r"shape \(len\(y\), len\(x\)\) = \(2, 3\)"),
    (lambda p: p["A"].pop("xlabel"), "needs the keys"),
    (lambda p: p["B"].update(values=-np.ones((3, 2))), "positive values"),
])
def test_heatmaps_bad_input(change, match):
    panels = _heat_panels()
    change(panels)
    with pytest.raises(ValueError, match=match):
        viz.heatmaps(panels, colorbar="loss")
    with pytest.raises(ValueError, match="at least one panel"):
        viz.heatmaps({}, colorbar="loss")


def test_heatmaps_without_stars_say_so_in_the_colour_bar():
    fig = viz.heatmaps(_heat_panels(), colorbar="final loss", best=False, within=0.1)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert not any(line.get_marker() == "*" for ax in panels for line in ax.lines)
    assert "★" not in fig.axes[-1].get_xlabel() and "within 10% of the best" in fig.axes[-1].get_xlabel()
