"""Test problems (adamcourse.functions): gradients against torch autograd, minima, run(), convergence."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import adamcourse.optim.adagrad as adagrad
import adamcourse.optim.adam as adam
import adamcourse.optim.adamax as adamax
import adamcourse.optim.adamw as adamw
import adamcourse.optim.nadam as nadam
import adamcourse.optim.rmsprop as rmsprop
import adamcourse.optim.sgd as sgd
from adamcourse import functions as F

# ---------------------------------------------------------------- the formulas again, in torch


def _torch_quadratic(condition, angle):
    phi = torch.tensor(math.radians(angle), dtype=torch.float64)
    R = torch.stack([torch.stack([phi.cos(), -phi.sin()]), torch.stack([phi.sin(), phi.cos()])])
    A = R @ torch.diag(torch.tensor([1 / condition, 1.0], dtype=torch.float64)) @ R.T
    return lambda x: 0.5 * x @ A @ x


def _torch_rosenbrock(a, b):
    return lambda x: (a - x[0]) ** 2 + b * (x[1] - x[0] ** 2) ** 2


def _torch_beale(x):
    return sum((c - x[0] + x[0] * x[1] ** k) ** 2 for k, c in zip((1, 2, 3), (1.5, 2.25, 2.625), strict=True))


def _torch_saddle(x):
    return x[0] ** 2 + x[1] ** 4 / 4 - x[1] ** 2 / 2


def _torch_least_squares(p):
    X, y = torch.from_numpy(p.X), torch.from_numpy(p.y)
    return lambda w: 0.5 * torch.mean((X @ w - y) ** 2)


SPARSE = F.sparse_regression(n_samples=200, n_features=8, seed=3)
PROBLEMS = {
    "quadratic": (F.quadratic(), _torch_quadratic(10.0, 0.0)),
    "quadratic-rotated": (F.quadratic(100.0, 30.0), _torch_quadratic(100.0, 30.0)),
    "rosenbrock": (F.rosenbrock(), _torch_rosenbrock(1.0, 100.0)),
    "rosenbrock-a-b": (F.rosenbrock(a=-1.5, b=5.0), _torch_rosenbrock(-1.5, 5.0)),
    "beale": (F.beale(), _torch_beale),
    "saddle": (F.saddle(), _torch_saddle),
    "sparse_regression": (SPARSE, _torch_least_squares(SPARSE)),
}


def _points(problem, n=20, seed=0):
    rng = np.random.default_rng(seed)
    if problem.bounds is None:
        return rng.normal(0.0, 2.0, size=(n, problem.dim))
    (x_lo, x_hi), (y_lo, y_hi) = problem.bounds
    return rng.uniform([x_lo, y_lo], [x_hi, y_hi], size=(n, 2))


@pytest.mark.parametrize("key", PROBLEMS)
def test_f_and_grad_match_torch_autograd(key):
    problem, torch_f = PROBLEMS[key]
    for x in _points(problem):
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        value = torch_f(xt)
        value.backward()
        np.testing.assert_allclose(problem.f(x), value.item(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(problem.grad(x), xt.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("key", PROBLEMS)
def test_f_is_vectorized_over_leading_axes(key):
    problem, _ = PROBLEMS[key]
    grid = _points(problem, n=12).reshape(3, 4, problem.dim)
    values = problem.f(grid)
    assert values.shape == (3, 4)
    np.testing.assert_allclose(values, [[problem.f(x) for x in row] for row in grid], rtol=1e-12)


@pytest.mark.parametrize("key", PROBLEMS)
def test_minima_have_zero_gradient_and_value_f_min(key):
    problem, _ = PROBLEMS[key]
    assert problem.minima.shape[1] == problem.dim
    assert any(np.array_equal(problem.minimum, m) for m in problem.minima)
    for m in problem.minima:
        np.testing.assert_allclose(problem.f(m), problem.f_min, atol=1e-12)
        np.testing.assert_allclose(problem.grad(m), 0.0, atol=1e-10)
    assert np.all(problem.f(_points(problem)) >= problem.f_min - 1e-12)
    assert problem.x0.shape == (problem.dim,)
    assert not any(a.flags.writeable for a in (problem.x0, problem.minimum, problem.minima))


def test_known_minima():
    np.testing.assert_array_equal(F.rosenbrock(a=2.0).minimum, [2.0, 4.0])
    np.testing.assert_array_equal(F.beale().minimum, [3.0, 0.5])
    saddle = F.saddle()
    assert saddle.f_min == -0.25
    np.testing.assert_array_equal(saddle.minima, [[0.0, 1.0], [0.0, -1.0]])
    np.testing.assert_array_equal(saddle.grad(np.zeros(2)), 0.0)  # the saddle point itself


def test_quadratic_hessian_eigenvalues_and_rotation():
    q = F.quadratic(condition=25.0, angle=30.0)
    np.testing.assert_allclose(np.linalg.eigvalsh(q.A), [1 / 25, 1.0])
    assert q.L == pytest.approx(1.0) and q.mu == pytest.approx(1 / 25) and q.lr_max == pytest.approx(2.0)
    flat = np.array([math.cos(math.radians(30)), math.sin(math.radians(30))])
    np.testing.assert_allclose(q.A @ flat, flat / 25, atol=1e-15)  # the flat direction is rotated by 30 deg
    np.testing.assert_allclose(q.x0, F._rotation(30.0) @ F.quadratic(25.0).x0)  # the start turns with A


def test_quadratic_stability_limit_is_two_over_L():
    q = F.quadratic(condition=5.0, angle=30.0)
    stable = F.run(sgd, q, steps=400, lr=0.98 * q.lr_max).losses
    unstable = F.run(sgd, q, steps=400, lr=1.02 * q.lr_max).losses
    assert stable[-1] < 1e-3 * stable[0]
    assert unstable[-1] > 10 * unstable[0]


def test_rotation_moves_sgd_rigidly_but_not_adam():
    q0, q45 = F.quadratic(10.0, 0.0), F.quadratic(10.0, 45.0)
    R = F._rotation(45.0)
    np.testing.assert_allclose(q45.x0, R @ q0.x0)
    np.testing.assert_allclose(F.run(sgd, q45, steps=50, lr=0.5).path,
                               F.run(sgd, q0, steps=50, lr=0.5).path @ R.T, atol=1e-12)
    gap = F.run(adam, q45, steps=50, lr=0.1).path - F.run(adam, q0, steps=50, lr=0.1).path @ R.T
    assert np.abs(gap).max() > 0.1  # a diagonal preconditioner is not rotation invariant


# ---------------------------------------------------------------- run() and steps_to_tolerance()


def test_run_shapes_start_and_losses():
    p = F.rosenbrock()
    path, losses = F.run(adam, p, steps=7, lr=0.01)
    assert path.shape == (8, 2) and losses.shape == (8,)
    np.testing.assert_array_equal(path[0], p.x0)
    np.testing.assert_array_equal(losses, p.f(path))
    x0 = np.array([0.5, -0.5])
    traj = F.run(adam, p, x0, steps=0)
    assert isinstance(traj, F.Trajectory)
    np.testing.assert_array_equal(traj.path, [x0])
    x0_copy = x0.copy()
    F.run(adam, p, x0, steps=3, lr=0.1)
    np.testing.assert_array_equal(x0, x0_copy)  # the caller's array is untouched


def test_run_passes_hyperparameters_to_step_unchanged():
    with pytest.raises(TypeError, match="beta_1"):
        F.run(adam, F.quadratic(), steps=1, beta_1=0.5)
    a = F.run(adam, F.quadratic(), steps=5, lr=0.1, beta1=0.5)
    b = F.run(adam, F.quadratic(), steps=5, lr=0.1)
    assert not np.allclose(a.path, b.path)


def test_divergence_shows_as_non_finite_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path, losses = F.run(sgd, F.rosenbrock(), steps=60, lr=0.1)
    assert path.shape == (61, 2) and losses.shape == (61,)
    assert np.isfinite(losses[0]) and not np.isfinite(losses[-1])
    assert F.steps_to_tolerance(losses, 0.0, 1e-3) is None


def test_grad_noise_is_reproducible_with_a_seed():
    p = F.quadratic()
    a = F.run(adam, p, steps=30, grad_noise=0.5, seed=1, lr=0.1)
    b = F.run(adam, p, steps=30, grad_noise=0.5, seed=1, lr=0.1)
    c = F.run(adam, p, steps=30, grad_noise=0.5, seed=2, lr=0.1)
    clean = F.run(adam, p, steps=30, lr=0.1)
    np.testing.assert_array_equal(a.path, b.path)
    np.testing.assert_array_equal(a.losses, b.losses)
    assert not np.allclose(a.path, c.path) and not np.allclose(a.path, clean.path)
    np.testing.assert_array_equal(clean.path, F.run(adam, p, steps=30, seed=5, lr=0.1).path)


def test_steps_to_tolerance():
    traj = F.Trajectory(np.zeros((5, 1)), np.array([3.0, np.nan, 1.5, 1.2, 1.0]))
    assert F.steps_to_tolerance(traj, 1.0, 0.5) == 2
    assert F.steps_to_tolerance(traj, 1.0, 0.0) == 4
    assert F.steps_to_tolerance(traj.losses, 1.0, -1.0) is None
    assert F.steps_to_tolerance(np.array([np.nan, np.inf]), 0.0, 1e9) is None


@pytest.mark.parametrize("call, message", [
    (lambda: F.run(adam, F.rosenbrock(), np.zeros(3)),
     r"x0 has shape \(3,\) but rosenbrock\(a=1, b=100\) is 2-dimensional: x0 must have shape \(2,\)"),
    (lambda: F.run(adam, F.beale(), [[1.0, 2.0]]), r"x0 has shape \(1, 2\) but beale is 2-dimensional"),
    (lambda: F.run(adam, F.beale(), steps=-1), r"steps must be an integer >= 0, got -1"),
    (lambda: F.run(adam, F.beale(), steps=2.5), r"steps must be an integer >= 0, got 2.5"),
    (lambda: F.run(adam, F.beale(), grad_noise=-0.1), r"grad_noise must be a finite number >= 0"),
    (lambda: F.quadratic(condition=0.5), r"condition must be >= 1 .* got 0.5"),
    (lambda: F.quadratic(condition=float("nan")), r"condition must be >= 1 .* got nan"),
    (lambda: F.rosenbrock(b=0.0), r"b must be > 0"),
    (lambda: F.sparse_regression(n_features=0), r"n_samples and n_features must be >= 1"),
    (lambda: SPARSE.minibatch_grad(SPARSE.x0, np.random.default_rng(0), 201),
     r"batch_size must lie in \[1, 200\]"),
])
def test_bad_inputs_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------- every optimizer reaches the minimum

# (optimizer, problem, hyperparameters, steps, tol): after `steps` steps from the problem's x0 the distance
# to the nearest minimum is <= tol. Budgets are ~1.3-2x the steps measured, tolerances >= 2x the level
# where the iterate settles (RMSprop with a constant lr cycles at a distance ~ lr instead of converging).
CONVERGENCE = [
    ("sgd", "quadratic", {"lr": 0.1, "momentum": 0.9}, 300, 1e-4),
    ("sgd", "quadratic45", {"lr": 0.1, "momentum": 0.9}, 300, 1e-4),
    ("sgd", "rosenbrock", {"lr": 2e-3, "momentum": 0.9}, 1500, 1e-3),
    ("sgd", "beale", {"lr": 3e-3, "momentum": 0.9}, 1000, 1e-3),
    ("sgd", "saddle", {"lr": 0.05, "momentum": 0.9}, 300, 1e-4),
    ("adagrad", "quadratic", {"lr": 0.5}, 300, 1e-4),
    ("adagrad", "quadratic45", {"lr": 1.0}, 300, 1e-4),
    ("adagrad", "rosenbrock", {"lr": 1.5}, 6000, 1e-2),
    ("adagrad", "beale", {"lr": 1.0}, 1500, 1e-4),
    ("adagrad", "saddle", {"lr": 0.3}, 150, 1e-4),
    ("rmsprop", "quadratic", {"lr": 0.01}, 1000, 2e-2),
    ("rmsprop", "quadratic45", {"lr": 0.01}, 1000, 2e-2),
    ("rmsprop", "rosenbrock", {"lr": 2e-3}, 6500, 1e-2),
    ("rmsprop", "beale", {"lr": 3e-3}, 2500, 1e-2),
    ("rmsprop", "saddle", {"lr": 0.01}, 500, 2e-2),
    ("adam", "quadratic", {"lr": 0.1}, 300, 1e-4),
    ("adam", "quadratic45", {"lr": 0.1}, 400, 1e-4),
    ("adam", "rosenbrock", {"lr": 0.03}, 3500, 1e-3),
    ("adam", "beale", {"lr": 0.3}, 400, 1e-4),
    ("adam", "saddle", {"lr": 0.05}, 250, 1e-4),
    # AdamW's decoupled decay pulls towards 0, the quadratic's minimum; elsewhere it would move the fixed point
    ("adamw", "quadratic", {"lr": 0.3}, 300, 1e-4),
    ("adamw", "quadratic45", {"lr": 0.3}, 300, 1e-4),
    ("adamw", "rosenbrock", {"lr": 0.03, "weight_decay": 0.0}, 3500, 1e-3),
    ("adamw", "beale", {"lr": 0.3, "weight_decay": 0.0}, 500, 1e-3),
    ("adamw", "saddle", {"lr": 0.3, "weight_decay": 0.0}, 300, 1e-4),
    ("adamax", "quadratic", {"lr": 0.3}, 300, 1e-4),
    ("adamax", "quadratic45", {"lr": 0.3}, 500, 1e-4),
    ("adamax", "rosenbrock", {"lr": 0.3}, 3000, 1e-3),
    ("adamax", "beale", {"lr": 0.3}, 3000, 1e-3),
    ("adamax", "saddle", {"lr": 0.3}, 300, 1e-4),
    ("nadam", "quadratic", {"lr": 0.3}, 300, 1e-4),
    ("nadam", "quadratic45", {"lr": 0.3}, 300, 1e-4),
    # with a constant lr NAdam keeps oscillating along Rosenbrock's valley (0.004 away after 6000 steps)
    ("nadam", "rosenbrock", {"lr": 0.01}, 6000, 1e-2),
    ("nadam", "beale", {"lr": 0.3}, 500, 1e-4),
    ("nadam", "saddle", {"lr": 0.1}, 300, 1e-4),
]
OPTIMIZERS = {"sgd": sgd, "adagrad": adagrad, "rmsprop": rmsprop, "adam": adam, "adamw": adamw,
              "adamax": adamax, "nadam": nadam}
CONVERGENCE_PROBLEMS = {"quadratic": F.quadratic(10.0), "quadratic45": F.quadratic(10.0, 45.0),
                        "rosenbrock": F.rosenbrock(), "beale": F.beale(), "saddle": F.saddle()}


@pytest.mark.parametrize("name, problem, hyper, steps, tol", CONVERGENCE,
                         ids=[f"{c[0]}-{c[1]}" for c in CONVERGENCE])
def test_optimizer_reaches_the_minimum(name, problem, hyper, steps, tol):
    optimizer = OPTIMIZERS[name]
    p = CONVERGENCE_PROBLEMS[problem]
    path, losses = F.run(optimizer, p, steps=steps, **hyper)
    distance = np.linalg.norm(p.minima - path[-1], axis=1).min()
    assert distance <= tol, f"{name} on {p.name}: distance {distance:.2e} > {tol:.0e} after {steps} steps"
    assert losses[-1] < losses[0]


# ---------------------------------------------------------------- sparse regression


@pytest.fixture(scope="module")
def sparse():
    return F.sparse_regression()


def test_sparse_regression_optimum_and_frequencies(sparse):
    p = sparse
    np.testing.assert_array_equal(p.minimum, p.w_star)
    assert np.abs(p.grad(p.w_star)).max() < 1e-12 * np.abs(p.grad(p.x0)).max()
    np.testing.assert_allclose(p.frequency, np.arange(1, 51) ** -1.5)
    observed = (p.X != 0).mean(axis=0)
    assert observed[0] == 1.0 and observed[:5].mean() > 10 * observed[-10:].mean() > 0
    rng = np.random.default_rng(0)
    np.testing.assert_allclose(p.minibatch_grad(p.x0, rng, p.X.shape[0]), p.grad(p.x0), atol=1e-14)
    mean = np.mean([p.minibatch_grad(p.x0, rng, 100) for _ in range(300)], axis=0)
    np.testing.assert_allclose(mean, p.grad(p.x0), atol=0.03)  # unbiased
    small = {"n_samples": 100, "n_features": 5}
    np.testing.assert_array_equal(F.sparse_regression(**small).X, F.sparse_regression(**small).X)
    assert not np.array_equal(F.sparse_regression(**small, seed=1).X, F.sparse_regression(**small).X)


def test_adagrad_beats_sgd_on_rare_features(sparse):
    p = sparse
    rare = slice(-25, None)
    sgd_error = min(np.abs(F.run(sgd, p, steps=300, lr=lr).path[-1] - p.w_star)[rare].mean()
                    for lr in (0.3, 1.0, 1.5, 1.9))  # lr < 2 / L, L ~ 1
    adagrad_error = np.abs(F.run(adagrad, p, steps=300, lr=0.3).path[-1] - p.w_star)[rare].mean()
    assert sgd_error > 0.1 and adagrad_error < 1e-6
