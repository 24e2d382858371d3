"""Explorers (adamcourse.widgets): set a control as a reader would, then check the figure's data against the math.

Each expected value is computed independently of the explorer: closed-form first steps from the problem's
analytic gradient, the library's optimizer states after the same gradient stream, sums in closed form.
"""

from __future__ import annotations

import doctest
import io
import json
import math
import os
import subprocess
import sys

import ipywidgets
import numpy as np
import pytest
from PIL import Image

from adamcourse import functions, widgets
from adamcourse.optim import adam, rmsprop

from book_build import ROOT


def _png(explorer) -> np.ndarray:
    data = explorer.image.value
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def _plain_render(fig) -> np.ndarray:
    """The figure drawn in one plain pass (no blitting, the same layout), as RGB pixels."""
    engine = fig.get_layout_engine()
    fig.set_layout_engine("none")
    try:
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(np.int16)
    finally:
        fig.set_layout_engine(engine)


def _assert_looks_like_a_plain_draw(explorer):
    """The blitted frame (background + live axes + moving artists) equals one plain draw of the figure:
    same z-order (legends, spines and markers above the lines), nothing stale left behind."""
    assert not any(a.get_animated() for a in explorer.figure.findobj())  # savefig / display(fig) draw it all
    frame, plain = _png(explorer), _plain_render(explorer.figure)
    assert frame.shape == plain.shape
    assert (np.abs(frame - plain).max(axis=-1) > 40).sum() <= 10


@pytest.fixture(scope="module")
def rosen():
    return functions.rosenbrock()


@pytest.fixture
def pg():
    return widgets.playground("Rosenbrock", steps=40, lr=1e-3)


# ---------------------------------------------------------------- playground


@pytest.mark.parametrize("eta, eps", [(1e-3, 1e-8), (0.05, 1e-8), (0.02, 1.0)])
def test_first_adam_step_follows_the_lr_and_eps_sliders(pg, rosen, eta, eps):
    pg.controls["eps"].value = eps
    pg.controls["lr"].value = eta
    eta, eps = pg.controls["lr"].value, pg.controls["eps"].value  # the slider's own rounding
    g = rosen.grad(rosen.x0)
    expected = rosen.x0 - eta * g / (np.abs(g) + eps)  # m_1 hat = g, v_1 hat = g^2
    path = pg.state.paths["Adam"].get_xydata()
    np.testing.assert_allclose(path[0], rosen.x0)
    np.testing.assert_allclose(path[1], expected, rtol=1e-12)
    loss = pg.state.losses["Adam"].get_ydata()
    np.testing.assert_allclose(loss[1], rosen.f(expected) - rosen.f_min, rtol=1e-12)


def test_first_steps_of_every_optimizer(pg, rosen):
    c = pg.controls
    c["lr"].value, c["beta2"].value, c["momentum"].value, c["eps"].value = 1e-3, 0.99, 0.5, 1e-8
    eta, alpha, beta, eps = c["lr"].value, c["beta2"].value, c["momentum"].value, c["eps"].value
    x0 = rosen.x0
    g1 = rosen.grad(x0)
    first = {"SGD": x0 - eta * g1, "Momentum": x0 - eta * g1,  # b_1 = g_1
             "Adagrad": x0 - eta * g1 / (np.abs(g1) + eps),  # G_1 = g_1^2
             "RMSprop": x0 - eta * g1 / (np.sqrt(1 - alpha) * np.abs(g1) + eps)}  # v_1 = (1 - alpha) g_1^2
    for name, expected in first.items():
        np.testing.assert_allclose(pg.state.paths[name].get_xydata()[1], expected, rtol=1e-12, err_msg=name)
    # Momentum's second step: b_2 = beta b_1 + g_2
    theta1 = first["Momentum"]
    theta2 = theta1 - eta * (beta * g1 + rosen.grad(theta1))
    np.testing.assert_allclose(pg.state.paths["Momentum"].get_xydata()[2], theta2, rtol=1e-12)


def test_only_the_changed_optimizers_run_again(pg):
    c = pg.controls
    runs = pg.state.runs
    c["beta1"].value = 0.8
    assert pg.state.computed == ["Adam"]
    c["beta2"].value = 0.99
    assert pg.state.computed == ["RMSprop", "Adam"]
    c["momentum"].value = 0.5
    assert pg.state.computed == ["Momentum"]
    c["eps"].value = 1e-6
    assert pg.state.computed == ["Adagrad", "RMSprop", "Adam"]
    c["lr"].value = 2e-3
    assert pg.state.computed == list(widgets.OPTIMIZERS)
    assert pg.state.runs == runs + 2 + 1 + 3 + 5 + 1
    before = pg.state.paths["Adam"].get_xydata().copy()
    c["steps"].value = 20  # fewer steps: the kept runs are cut, nothing runs
    assert pg.state.computed == []
    after = pg.state.paths["Adam"].get_xydata()
    assert len(after) == 21
    np.testing.assert_array_equal(after, before[:21])
    np.testing.assert_array_equal(pg.state.losses["SGD"].get_xdata(), np.arange(21))
    assert pg.state.losses["SGD"].axes.get_xlim() == (0, 20)
    c["steps"].value = 60  # more steps than kept: all run again
    assert pg.state.computed == list(widgets.OPTIMIZERS) and len(pg.state.paths["SGD"].get_xydata()) == 61


def test_slider_changes_redraw_only_what_moved_and_match_a_plain_draw(pg):
    draws = pg.full_draws
    pixels = _png(pg)
    pg.controls["lr"].value = 5e-3
    pg.controls["steps"].value = 70  # moves the loss panel's x limit: that panel is redrawn, not the figure
    moved = _png(pg)
    assert pg.full_draws == draws
    assert np.abs(moved - pixels).max() > 100  # the picture changed
    _assert_looks_like_a_plain_draw(pg)


def test_problem_menu_and_checkboxes_rebuild_the_figure(pg):
    old = pg.figure
    pg.controls["problem"].value = "saddle"
    saddle = functions.saddle()
    assert pg.figure is not old and pg.state.problem.name == "saddle"
    assert pg.figure.axes[0].get_title() == "saddle"
    for line in pg.state.paths.values():
        np.testing.assert_allclose(line.get_xydata()[0], saddle.x0)
    pg.controls["Adagrad"].value = False
    pg.controls["SGD"].value = False
    assert list(pg.state.paths) == ["Momentum", "RMSprop", "Adam"]
    labels = [t.get_text() for t in pg.figure.legends[0].get_texts()]
    assert labels == ["Momentum", "RMSprop", "Adam", "start", "minimum"]
    for name in widgets.OPTIMIZERS:
        pg.controls[name].value = False
    assert pg.state.paths == {} and pg.image.value[:4] == b"\x89PNG"


def test_diverging_runs_are_named(rosen):
    pg = widgets.playground("Rosenbrock", optimizers=("SGD", "Adam"), lr=0.5, steps=30)
    assert pg.state.diverged.get_text() == "diverged: SGD"
    assert not np.isfinite(pg.state.trajectories["SGD"].losses[-1])
    pg.controls["lr"].value = 1e-4
    assert pg.state.diverged.get_text() == ""


def test_playground_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown problem 'quadratic'") as error:
        widgets.playground("quadratic")
    for name in widgets.PROBLEMS:
        assert repr(name) in str(error.value)
    with pytest.raises(ValueError, match=r"unknown optimizer 'AdamW'.*'SGD', 'Momentum'"):
        widgets.playground(optimizers=("Adam", "AdamW"))


@pytest.mark.parametrize("make, match", [
    (lambda: widgets.playground(lr=100.0), r"lr must be a number in \[0.0001, 10\].*got 100.0"),
    (lambda: widgets.playground(steps=5000), r"steps must be a number in \[10, 1000\]"),
    (lambda: widgets.playground(beta2=1.0), r"beta2 must be a number in \[0.5, 0.9999\]"),
    (lambda: widgets.playground(eps="1e-8"), "eps must be a number"),
    (lambda: widgets.bias_correction(t=0), r"t must be a number in \[1, 3000\]"),
    (lambda: widgets.ema_window(alpha=1.0), r"alpha must be a number in \[0, 0.999\]"),
])
def test_first_values_outside_a_slider_are_refused(make, match):
    with pytest.raises(ValueError, match=match):  # a slider would clamp them silently
        make()


def test_every_problem_draws():
    for name in widgets.PROBLEMS:
        pg = widgets.playground(name, optimizers=("Adam",), steps=10)
        assert pg.state.problem.dim == 2 and _png(pg).shape[1] == 660, name


# ---------------------------------------------------------------- bias correction


@pytest.mark.parametrize("beta1, beta2, t", [(0.8, 0.95, 7), (0.9, 0.999, 1), (0.0, 0.5, 30)])
def test_bias_correction_equals_the_library_adam_state(beta1, beta2, t):
    ex = widgets.bias_correction(horizon=50)
    ex.controls["beta1"].value, ex.controls["beta2"].value, ex.controls["t"].value = beta1, beta2, t
    s = ex.state
    theta, state = np.zeros(1), adam.init(np.zeros(1))
    for g in s.grads[:t]:
        previous = theta
        theta, state = adam.step(theta, np.array([g]), state, lr=1.0, beta1=beta1, beta2=beta2, eps=s.eps)
    expected = {"m": state.m[0], "m_hat": state.m[0] / (1 - beta1**t), "v": state.v[0],
                "v_hat": state.v[0] / (1 - beta2**t), "step_hat": abs(theta[0] - previous[0])}  # lr = 1
    for name, value in expected.items():
        assert s.lines[name].get_ydata()[t - 1] == pytest.approx(value, rel=1e-10), name
        np.testing.assert_allclose(s.markers[name].get_xydata(), [[t, value]], rtol=1e-10, err_msg=name)
    assert all(cursor.get_xdata()[0] == t for cursor in s.cursors)
    assert f"{expected['m_hat']:.3f}" in s.readouts[0].get_text()


def test_bias_correction_first_uncorrected_step():
    ex = widgets.bias_correction(0.9, 0.999, horizon=20)
    g1, eps = ex.state.grads[0], ex.state.eps
    step = ex.state.lines["step"].get_ydata()[0]
    assert step == pytest.approx(0.1 * abs(g1) / (math.sqrt(0.001) * abs(g1) + eps), rel=1e-12)
    assert step == pytest.approx(0.1 / math.sqrt(0.001), rel=1e-6)  # 3.16: the first steps are 3x too long
    assert "3.16" in ex.state.readouts[2].get_text()
    ex.controls["beta2"].value = 0.9999
    assert ex.state.lines["step"].get_ydata()[0] == pytest.approx(10.0, rel=1e-6)
    assert ex.state.lines["step_hat"].get_ydata()[0] == pytest.approx(1.0, rel=1e-6)  # corrected: eta


def test_bias_correction_t_moves_only_the_markers():
    ex = widgets.bias_correction(horizon=40)
    lines = {name: line.get_ydata().copy() for name, line in ex.state.lines.items()}
    draws = ex.full_draws
    ex.controls["t"].value = 25
    for name, line in ex.state.lines.items():
        np.testing.assert_array_equal(line.get_ydata(), lines[name])
    assert ex.state.markers["v_hat"].get_xydata()[0, 0] == 25 and ex.full_draws == draws


def test_bias_and_ema_frames_look_like_plain_draws():
    bias = widgets.bias_correction(horizon=200)
    bias.controls["beta2"].value = 0.9  # the step panel's limits move
    bias.controls["t"].value = 150
    _assert_looks_like_a_plain_draw(bias)
    ema = widgets.ema_window()
    ema.controls["alpha"].value = 0.5
    ema.controls["t"].value = 12
    _assert_looks_like_a_plain_draw(ema)
    assert ema.full_draws == bias.full_draws == 1


def test_bias_correction_rejects_a_short_horizon():
    with pytest.raises(ValueError, match="horizon must be an int >= 2"):
        widgets.bias_correction(horizon=1)


# ---------------------------------------------------------------- EMA window


@pytest.mark.parametrize("alpha, t", [(0.8, 30), (0.99, 100), (0.0, 5), (0.5, 1)])
def test_ema_weights_sum_and_window(alpha, t):
    ex = widgets.ema_window()
    ex.controls["t"].value, ex.controls["alpha"].value = t, alpha
    alpha = ex.controls["alpha"].value
    s = ex.state
    ages, weights = s.weights.get_xdata(), s.weights.get_ydata()
    np.testing.assert_array_equal(ages, np.arange(t))
    assert weights.sum() == pytest.approx(1 - alpha**t, rel=1e-12)
    # the same sum from the library: RMSprop's v_t after t gradients equal to 1 is 1 - alpha^t
    theta, state = np.zeros(1), rmsprop.init(np.zeros(1))
    for _ in range(t):
        theta, state = rmsprop.step(theta, np.ones(1), state, lr=0.0, alpha=alpha)
    assert weights.sum() == pytest.approx(state.v[0], rel=1e-12)
    for marker in s.windows:
        np.testing.assert_allclose(marker.get_xdata(), [1 / (1 - alpha)] * 2)
    np.testing.assert_allclose(s.cumulative.get_ydata(), 1 - alpha ** np.arange(t + 1))
    assert f"{1 - alpha**t:.3f}" in s.readout.get_text()


# ---------------------------------------------------------------- the pattern itself


def _tiny(update_error_at=None):
    from adamcourse import viz

    fig, (ax,) = viz.figure(1, height=2)
    line = ax.plot([0, 1], [0, 0])[0]
    ax.set(xlim=(0, 1), ylim=(-1, 1))

    class State:
        figure, animated = fig, [line]

    def update(values):
        if values["a"] == update_error_at:
            raise RuntimeError("boom")
        line.set_ydata([0, values["a"] / 10])
        return False

    return widgets.explorer({"a": ipywidgets.IntSlider(value=1, min=0, max=10)}, update, State())


def test_explorer_pattern_updates_in_place_and_shows_errors():
    ex = _tiny(update_error_at=7)
    assert isinstance(ex, ipywidgets.VBox) and ex.renders == 1
    ex.controls["a"].value = 5
    assert ex.state.animated[0].get_ydata()[1] == 0.5 and ex.renders == 2 and ex.full_draws == 1
    assert ex.values == {"a": 5} and ex.last_ms > 0
    with pytest.raises(RuntimeError, match="boom"):
        ex.controls["a"].value = 7
    assert "RuntimeError: boom" in ex.status.value
    ex.controls["a"].value = 3
    assert ex.status.value == ""


def test_explorer_rejects_bad_controls_and_state():
    with pytest.raises(TypeError, match="control 'a' must be a widget with a value"):
        widgets.explorer({"a": object()}, lambda v: False, None)
    with pytest.raises(TypeError, match="state must have .figure"):
        widgets.explorer({}, lambda v: False, object())


def test_docstring_example():
    result = doctest.testmod(widgets, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 3 and result.failed == 0


def test_benchmark_prints_its_json():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "widgets.py"), "--changes", "2", "--steps", "30"],
                         capture_output=True, text=True, check=True, timeout=300)
    report = json.loads(out.stdout)
    assert set(report["per_slider"]) == {"lr", "beta1", "steps"}
    for row in report["per_slider"].values():
        assert row["changes"] == 2 and 0 < row["median_ms"] <= row["p90_ms"]
    assert report["all"]["median_ms"] > 0 and report["machine"]["cpu_count"] >= 1
    assert report["machine"]["ipywidgets"] == ipywidgets.__version__


def test_runs_under_the_ipywidgets_version_the_makefile_asks_for():
    """``make test`` runs this file twice: with the main environment's ipywidgets 8 (requirements.txt), and
    with ipywidgets 7 first on the path (Colab's major version)."""
    expected = os.environ.get("ADAMCOURSE_EXPECT_IPYWIDGETS", "8")
    assert ipywidgets.__version__.split(".")[0] == expected, ipywidgets.__version__


@pytest.mark.parametrize("make, main", [(lambda: widgets.playground("Rosenbrock", optimizers=("Adam", "SGD"),
                                                                   steps=60), "lr"),
                                        (lambda: widgets.bias_correction(horizon=200), "beta2"),
                                        (lambda: widgets.ema_window(), "alpha"),
                                        (lambda: widgets.reddi(C=7.0, steps=300), "C"),
                                        (lambda: widgets.beta_map(lr=0.03, steps=30), "lr")])
def test_static_page_frames_follow_the_main_slider(make, main):
    """The book shows each explorer as frames of its main slider: one frame per value, each the figure the live
    widget shows at that value, and the control set back afterwards."""
    ex = make()
    assert ex.main == main
    before, shown = ex.controls[main].value, ex.image.value
    values, pngs = ex.frames(count=4)
    assert before in values and values == sorted(values)  # the page opens on the value the text describes
    assert 3 <= len(values) == len(pngs) <= 4 and len(set(pngs)) == len(pngs)  # every frame differs
    assert ex.controls[main].value == before and ex.image.value == shown
    ex.controls[main].value = values[2]
    assert ex.image.value == pngs[2]
    page = ex.static_html(count=4)
    assert page.count("data:image/png;base64,") == len(values) + 1  # the frames, and the one shown in the <img>
    assert f'value="{values.index(before)}"' in page
    assert 'type="range"' in page and "Colab or Jupyter" in page and "<script>" in page


def test_display_offers_the_widget_and_the_static_page():
    from unittest import mock


    ex = widgets.ema_window()
    with mock.patch("IPython.display.display") as display:
        ex._ipython_display_()
    (bundle,), kwargs = display.call_args
    assert kwargs == {"raw": True}
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.model_id
    assert "adamcourse-explorer-static" in bundle["text/html"]


def test_static_page_needs_a_slider():
    ex = widgets.playground("Rosenbrock", optimizers=("Adam",), steps=20)
    with pytest.raises(TypeError, match="sliders only"):
        ex.frames("problem")
    with pytest.raises(ValueError, match="main must name a control"):
        widgets.explorer(ex.controls, lambda values: False, ex.state, main="nope")


# ---------------------------------------------------------------- Reddi et al.'s counterexample


def _reddi_numpy(C, T, lr, amsgrad, x1=0.0, eps=1e-8):
    """Adam (beta1 = 0, beta2 = 1/(1 + C^2), PyTorch's bias correction and AMSGrad), step lr/sqrt(t),
    projected on [-1, 1], written out in plain NumPy: x_1..x_{T+1} and the gradients g_1..g_T."""
    beta2 = 1 / (1 + C**2)
    x, v, v_max, xs, gs = x1, 0.0, 0.0, [x1], []
    for t in range(1, T + 1):
        g = C if t % 3 == 1 else -1.0
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)
        v_hat = (v_max if amsgrad else v) / (1 - beta2**t)
        x = float(np.clip(x - lr / np.sqrt(t) * g / (np.sqrt(v_hat) + eps), -1.0, 1.0))
        xs.append(x)
        gs.append(g)
    return np.array(xs), np.array(gs)


def test_reddi_adam_goes_to_the_worst_point_and_amsgrad_to_the_optimum():
    ex = widgets.reddi(C=3.0, steps=3000, lr=0.5)
    for name, amsgrad in (("Adam", False), ("AMSGrad", True)):
        x, g = _reddi_numpy(3.0, 3000, 0.5, amsgrad)
        shown = ex.state.paths[name].get_ydata()
        np.testing.assert_allclose(shown, x, rtol=0, atol=1e-9, err_msg=name)
        regret = np.cumsum(g * (x[:-1] + 1)) / np.arange(1, 3001)  # f_t(x) - f_t(-1) = g_t (x + 1)
        np.testing.assert_allclose(ex.state.regrets[name].get_ydata(), regret, rtol=1e-9, atol=1e-12, err_msg=name)
    adam_x, ams_x = ex.state.paths["Adam"].get_ydata()[-1], ex.state.paths["AMSGrad"].get_ydata()[-1]
    assert abs(adam_x - 1) <= 1e-9 and abs(ams_x + 1) <= 0.1
    # at x = +1 each cycle of three steps costs C (1 + 1) - 2 (1 + 1) = 2C - 4: the average tends to (2C - 4) / 3
    assert ex.state.regrets["Adam"].get_ydata()[-1] == pytest.approx((2 * 3.0 - 4) / 3, abs=0.02)
    assert abs(ex.state.regrets["AMSGrad"].get_ydata()[-1]) < 0.05
    assert f"Adam $x$ = {adam_x:+.3f}" in ex.state.readout.get_text()


def test_reddi_redraws_for_a_new_C_and_reuses_the_runs_for_a_new_lr():
    ex = widgets.reddi(steps=300)
    before = {name: line.get_ydata().copy() for name, line in ex.state.paths.items()}
    ex.controls["C"].value = 6.0
    assert ex.state.computed
    x, _ = _reddi_numpy(6.0, 300, ex.controls["lr"].value, amsgrad=True)
    np.testing.assert_allclose(ex.state.paths["AMSGrad"].get_ydata(), x, atol=1e-9)
    assert not np.allclose(ex.state.paths["AMSGrad"].get_ydata(), before["AMSGrad"])
    ex.controls["lr"].value = 0.1
    assert not ex.state.computed
    x, _ = _reddi_numpy(6.0, 300, ex.controls["lr"].value, amsgrad=False)
    np.testing.assert_allclose(ex.state.paths["Adam"].get_ydata(), x, atol=1e-9)
    _assert_looks_like_a_plain_draw(ex)
    assert ex.full_draws == 1


@pytest.mark.parametrize("make, match", [(lambda: widgets.reddi(C=20.0), r"C must be a number in \[2.5, 10\]"),
                                         (lambda: widgets.reddi(steps=2), "steps must be an int >= 3"),
                                         (lambda: widgets.reddi(x1=2.0), r"x1 must be a number in \[-1, 1\]")])
def test_reddi_rejects_bad_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ---------------------------------------------------------------- beta1 x beta2 map


def _adam_gap(problem, steps, **hyper):
    theta, state = np.array(problem.x0), adam.init(np.array(problem.x0))
    for _ in range(steps):
        theta, state = adam.step(theta, problem.grad(theta), state, **hyper)
    return float(problem.f(theta)) - problem.f_min


def test_beta_map_cells_are_direct_adam_runs(rosen):
    ex = widgets.beta_map("Rosenbrock", lr=0.01, steps=50)
    lr = ex.controls["lr"].value
    gaps = np.array([[_adam_gap(rosen, 50, lr=lr, beta1=b1, beta2=b2) for b1 in widgets.BETA1S]
                     for b2 in widgets.BETA2S])
    np.testing.assert_allclose(ex.state.values, gaps, rtol=1e-12)
    np.testing.assert_allclose(ex.state.image.get_array(), gaps, rtol=1e-12)
    j, i = np.unravel_index(np.argmin(gaps), gaps.shape)
    np.testing.assert_allclose(ex.state.best.get_xy(), (i - 0.5, j - 0.5))  # the outline sits on the argmin
    assert ex.state.labels[j][i].get_text() == f"{gaps[j, i]:.1e}"
    assert f"$\\beta_1$ = {widgets.BETA1S[i]:g}" in ex.state.title.get_text()


def test_beta_map_follows_lr_steps_and_problem():
    ex = widgets.beta_map(steps=40)
    image = ex.state.image.get_array().copy()
    ex.controls["lr"].value = 0.1
    assert ex.state.computed == 24 and not np.allclose(ex.state.image.get_array(), image)
    longer = ex.state.values
    ex.controls["steps"].value = 20  # fewer steps: the kept runs are cut, nothing runs
    assert ex.state.computed == 0 and not np.allclose(ex.state.values, longer)
    saddle = functions.saddle()
    ex.controls["problem"].value = "saddle"
    lr = ex.controls["lr"].value
    assert ex.state.values[1, 3] == pytest.approx(_adam_gap(saddle, 20, lr=lr, beta1=0.9, beta2=0.99), rel=1e-12)
    _assert_looks_like_a_plain_draw(ex)
    assert ex.full_draws == 1


def test_beta_map_takes_other_grids_and_rejects_bad_ones(rosen):
    ex = widgets.beta_map("Rosenbrock", lr=0.1, steps=10, beta1s=(0.3,), beta2s=(0.5,))
    assert ex.state.values.shape == (1, 1)
    assert ex.state.values[0, 0] == pytest.approx(_adam_gap(rosen, 10, lr=0.1, beta1=0.3, beta2=0.5), rel=1e-12)
    with pytest.raises(ValueError, match=r"beta2s must be a non-empty sequence of numbers in \[0, 1\)"):
        widgets.beta_map(beta2s=(0.9, 1.0))
    with pytest.raises(ValueError, match="unknown problem"):
        widgets.beta_map("quadratic")
