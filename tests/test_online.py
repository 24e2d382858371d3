"""adamcourse.online: each update form against an independent oracle (torch.optim, the library's adam.step, a
transcription of optax's and of Reddi et al.'s algorithm, numbers recorded from optax itself), the grid runs
cell by cell, Reddi's counterexample, the steady-state drift against long runs, regret, and the errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from adamcourse import online
from adamcourse.optim import adam

# gradients that shrink, then grow: v decreases at times, so the AMSGrad max matters
RNG = np.random.default_rng(0)
GRADS = RNG.standard_normal((12, 2, 3)) * np.repeat([1.0, 0.1, 3.0], 4)[:, None, None]


def _run(form, grads, theta, **hyper):
    state, out = online.init(theta), []
    for g in grads:
        theta, state = online.step(theta, g, state, form=form, **hyper)
        out.append(theta)
    return np.array(out)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_torch_forms_match_torch_optim_adam(amsgrad):
    theta0 = RNG.standard_normal((2, 3))
    p = torch.tensor(theta0, requires_grad=True)
    opt = torch.optim.Adam([p], lr=0.01, betas=(0.8, 0.99), eps=1e-8, amsgrad=amsgrad)
    ours = _run("amsgrad" if amsgrad else "adam", GRADS, theta0, lr=0.01, beta1=0.8, beta2=0.99, eps=1e-8)
    for g, mine in zip(GRADS, ours, strict=True):
        p.grad = torch.tensor(g)
        opt.step()
        np.testing.assert_allclose(mine, p.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_torch_form_matches_the_library_adam_step():
    theta, state = np.full(3, 0.5), adam.init(np.full(3, 0.5))
    ours = _run("amsgrad", GRADS[:, 0], theta, lr=0.1, beta1=0.0, beta2=0.5)
    for g, mine in zip(GRADS[:, 0], ours, strict=True):
        theta, state = adam.step(theta, g, state, lr=0.1, beta1=0.0, beta2=0.5, amsgrad=True)
        np.testing.assert_allclose(mine, theta, rtol=1e-13)


def _optax_amsgrad(grads, theta, lr, b1, b2, eps, eps_root=0.0):
    """optax.amsgrad (scale_by_amsgrad with bias_correction_mu = bias_correction_nu = True, then -lr),
    transcribed operation by operation from optax/_src/transform.py."""
    mu = nu = nu_max = np.zeros_like(theta)
    out = []
    for count, g in enumerate(grads, start=1):
        mu = (1 - b1) * g + b1 * mu                   # update_moment(updates, mu, b1, 1)
        nu = (1 - b2) * g**2 + b2 * nu                # update_moment_per_elem_norm(updates, nu, b2, 2)
        mu_hat = mu / (1 - b1**count)                 # bias_correction(mu, b1, count_inc)
        nu_eff = nu / (1 - b2**count)
        nu_max = np.maximum(nu_max, nu_eff)           # jnp.maximum(state.nu_max, nu_eff)
        theta = theta + -lr * (mu_hat / (np.sqrt(nu_max + eps_root) + eps))
        out.append(theta)
    return np.array(out)


def test_optax_form_matches_a_transcription_of_optax():
    theta0 = RNG.standard_normal((2, 3))
    np.testing.assert_allclose(_run("amsgrad-optax", GRADS, theta0, lr=0.01, beta1=0.8, beta2=0.99),
                               _optax_amsgrad(GRADS, theta0, 0.01, 0.8, 0.99, 1e-8), rtol=1e-12)


def test_optax_form_matches_numbers_recorded_from_optax():
    # optax 0.2.8, jax 0.10.2 with jax_enable_x64: optax.amsgrad(0.1, b1=0.8, b2=0.9, eps=1e-8) from 0.3
    recorded = [0.20000000033333332, 0.17407407449382714, 0.17243473023699654, 0.16570482962708988,
                0.18080874834558372, 0.1909151466696602, 0.19762030745347303, 0.17067158478327846]
    grads = [3.0, -1.0, -1.0, 0.5, -2.0, 0.1, 0.1, 4.0]
    np.testing.assert_allclose(_run("amsgrad-optax", grads, 0.3, lr=0.1, beta1=0.8, beta2=0.9), recorded,
                               rtol=1e-14)


def test_paper_forms_match_reddi_algorithms():
    """Reddi et al.'s Algorithm 2 with a constant beta_1 and step size, eps = 0; Adam without the max."""
    theta0 = RNG.standard_normal((2, 3))
    for amsgrad in (False, True):
        theta, m, v, v_hat, expected = theta0.copy(), 0.0, 0.0, 0.0, []
        for g in GRADS:
            m = 0.8 * m + 0.2 * g
            v = 0.99 * v + 0.01 * g * g
            v_hat = np.maximum(v_hat, v) if amsgrad else v
            theta = theta - 0.01 * m / np.sqrt(v_hat)
            expected.append(theta)
        form = "amsgrad-paper" if amsgrad else "adam-paper"
        np.testing.assert_allclose(_run(form, GRADS, theta0, lr=0.01, beta1=0.8, beta2=0.99, eps=0.0), expected,
                                   rtol=1e-12)


def test_the_three_amsgrads_differ_and_agree_where_they_should():
    runs = {f: _run(f, GRADS, np.zeros((2, 3)), lr=0.01, beta1=0.8, beta2=0.99) for f in online.FORMS}
    for a, b in [("amsgrad", "amsgrad-paper"), ("amsgrad", "amsgrad-optax"), ("amsgrad-paper", "amsgrad-optax")]:
        assert np.abs(runs[a][-1] - runs[b][-1]).max() > 1e-4, (a, b)
    # the first step: v_max = v_1 in every form, so torch's and optax's are Adam's first step
    np.testing.assert_allclose(runs["amsgrad"][0], runs["adam"][0], rtol=1e-14)
    np.testing.assert_allclose(runs["amsgrad-optax"][0], runs["adam"][0], rtol=1e-14)


def test_array_betas_run_every_cell_at_once():
    b1, b2 = np.array([[0.0], [0.5], [0.9]]), np.array([[0.3, 0.9, 0.999]])
    g = online.reddi_gradients(3.0, 60)
    for form in online.FORMS:
        grid = online.unit_steps(g, form=form, beta1=b1, beta2=b2)
        assert grid.shape == (60, 3, 3)
        for i in range(3):
            for j in range(3):
                cell = online.unit_steps(g, form=form, beta1=b1[i, 0], beta2=b2[0, j])
                np.testing.assert_allclose(grid[:, i, j], cell, rtol=1e-14)
    # phase_grid = run() cell by cell, mean of the last period
    ends = online.phase_grid(g, b1.ravel(), b2.ravel(), lr=0.5, form="adam")
    for i in range(3):
        for j in range(3):
            x = online.run(g, form="adam", lr=0.5, beta1=b1[i, 0], beta2=b2[0, j])
            assert math.isclose(ends[i, j], x[-3:].mean(), rel_tol=1e-12, abs_tol=1e-14)


def test_unit_steps_are_library_steps_with_lr_one_over_sqrt_t():
    g = online.reddi_gradients(4.0, 30)
    u = online.unit_steps(g, form="amsgrad", beta1=0.0, beta2=1 / 17)
    state = adam.init(np.zeros(1))
    for t, gt in enumerate(g, start=1):
        theta, state = adam.step(np.zeros(1), np.array([gt]), state, lr=1 / math.sqrt(t), beta1=0.0, beta2=1 / 17,
                                 amsgrad=True)
        assert math.isclose(u[t - 1], -theta[0], rel_tol=1e-13)


def test_reddi_counterexample():
    C = 3.0
    g = online.reddi_gradients(C, 3000)
    assert g[:6].tolist() == [3.0, -1.0, -1.0, 3.0, -1.0, -1.0]
    for form in ("adam", "adam-paper"):
        x = online.run(g, form=form, lr=0.5, beta1=0.0, beta2=1 / (1 + C * C))
        assert x[-1] == 1.0 and x[-300:].min() > 0.9                     # the worst point
        assert online.average_regret(g, x)[-1] > 0.5                       # does not go to 0
    for form in ("amsgrad", "amsgrad-paper", "amsgrad-optax"):
        x = online.run(g, form=form, lr=0.5, beta1=0.0, beta2=1 / (1 + C * C))
        assert x[-300:].max() < -0.95                                       # the optimum
        r = online.average_regret(g, x)
        assert r[-1] < 0.05 and r[-1] < r[300]


def test_average_regret_is_the_definition():
    g = online.stochastic_gradients(5.0, 0.5, 40, rng=1)
    x = RNG.uniform(-1, 1, 41)
    f = lambda t, z: g[t] * z  # noqa: E731
    expected = [sum(f(t, x[t]) - f(t, -1.0) for t in range(T)) / T for T in range(1, 41)]
    np.testing.assert_allclose(online.average_regret(g, x), expected, rtol=1e-12)


def test_stochastic_gradients_have_mean_delta():
    g = online.stochastic_gradients(101.0, 0.02, 200_000, runs=5, scale=10.0, rng=3)
    assert g.shape == (200_000, 5) and set(np.unique(g)) == {-10.0, 1010.0}
    p = (g > 0).mean()
    assert abs(p - 0.01) < 5 * math.sqrt(0.01 * 0.99 / g.size)              # p = (1 + delta)/(C + 1) = 0.01


def test_period_drift_is_the_long_run_step_of_a_period():
    """sqrt(t) times the sum of the unit steps over a late period tends to D, for Adam with and without
    bias correction (the correction tends to 1)."""
    for C, b1, b2, period in [(3.0, 0.0, 0.1, 3), (3.0, 0.5, 0.6, 3), (6.0, 0.2, 0.9, 4)]:
        g = online.reddi_gradients(C, 30 * period * 40, period=period)
        D = float(online.period_drift(C, b1, b2, period=period))
        for form in ("adam", "adam-paper"):
            u = online.unit_steps(g, form=form, beta1=b1, beta2=b2, eps=0.0)
            k = len(g) // period - 1
            last = u[k * period:(k + 1) * period]
            sqrt_t = np.sqrt(np.arange(k * period + 1, (k + 1) * period + 1))
            assert math.isclose((last * sqrt_t).sum(), D, rel_tol=1e-6), (C, b1, b2, form)
    assert online.period_drift(3.0, 0.0, 0.1) < 0 < online.period_drift(3.0, 0.0, 0.9)


def test_critical_beta2_is_where_the_drift_changes_sign():
    b = online.critical_beta2(3.0)
    assert 0.1 < b < 0.9
    assert online.period_drift(3.0, 0.0, b - 1e-6) < 0 < online.period_drift(3.0, 0.0, b + 1e-6)
    assert math.isnan(online.critical_beta2(3.0, 0.9))                     # converges for every beta2


@pytest.mark.parametrize("call, match", [
    (lambda: online.step(0.0, 1.0, online.init(0.0), form="adamw", lr=0.1), "form must be one of"),
    (lambda: online.step(0.0, 1.0, online.init(0.0), form="adam", lr=-1.0), "lr must be >= 0"),
    (lambda: online.step(0.0, 1.0, online.init(0.0), form="adam", lr=0.1, beta2=1.0), r"beta2 must lie in \[0, 1\)"),
    (lambda: online.unit_steps([1.0], form="adam", beta1=[0.5, 1.5]), r"beta1 must lie in \[0, 1\)"),
    (lambda: online.reddi_gradients(2.0, 10), "C must be > 2"),
    (lambda: online.reddi_gradients(3.0, 0), "steps must be an int >= 1"),
    (lambda: online.stochastic_gradients(5.0, 0.0, 10), "delta must be > 0"),
    (lambda: online.project(np.zeros(3), 0.1, x1=2.0), r"x1 must lie in \[-1, 1\]"),
    (lambda: online.average_regret(np.ones(5), np.zeros(3)), "at least len"),
    (lambda: online.phase_grid(np.ones(5), [0.0], [0.5], lr=0.1, x1=3.0), r"x1 must lie in \[-1, 1\]"),
])
def test_bad_input_raises_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
