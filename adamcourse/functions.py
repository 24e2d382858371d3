r"""Test problems for the optimizers, and :func:`run` to trace an optimizer on one of them.

Notation of Kingma & Ba (2015): objective :math:`f(\theta)`, iterates :math:`\theta_t`, gradient
:math:`g_t = \nabla f(\theta_{t-1})`, learning rate (step size) :math:`\alpha`.

Example::

    >>> from adamcourse import functions
    >>> import adamcourse.optim.adam as adam
    >>> path, losses = functions.run(adam, functions.rosenbrock(), steps=500, lr=0.05)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import NamedTuple

import numpy as np

Bounds = tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class Problem:
    """A differentiable objective :math:`f : \\mathbb{R}^d \\to \\mathbb{R}` with a known minimum.

    ``f`` is vectorized: ``f(x)`` with ``x`` of shape ``(..., d)`` has shape ``(...)`` (contour grids);
    ``grad`` is the analytic gradient, same shape as ``x``. ``bounds`` is the plot window
    ``((x_lo, x_hi), (y_lo, y_hi))`` of a 2-D problem (``None`` otherwise); ``minima`` lists every global
    minimizer, shape ``(k, d)`` (default: ``minimum`` alone). The arrays are read-only float64 copies.
    """

    name: str
    f: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]
    minimum: np.ndarray
    f_min: float
    bounds: Bounds | None
    x0: np.ndarray
    minima: np.ndarray | None = None

    def __post_init__(self):
        for name in ("minimum", "x0", "minima"):
            value = self.minimum[None] if name == "minima" and self.minima is None else getattr(self, name)
            value = np.array(value, dtype=np.float64)
            value.flags.writeable = False
            object.__setattr__(self, name, value)

    @property
    def dim(self) -> int:
        return self.minimum.shape[0]


@dataclass(frozen=True, kw_only=True)
class Quadratic(Problem):
    """:math:`f(\\theta) = \\tfrac12 \\theta^\\top A \\theta` with constant Hessian ``A``.

    ``L`` and ``mu`` are the largest and smallest eigenvalues of ``A``; gradient descent is stable iff
    :math:`\\alpha < 2/L` (``lr_max``).
    """

    A: np.ndarray

    L = property(lambda self: float(np.linalg.eigvalsh(self.A)[-1]), doc="Largest eigenvalue of A.")
    mu = property(lambda self: float(np.linalg.eigvalsh(self.A)[0]), doc="Smallest eigenvalue of A.")
    lr_max = property(lambda self: 2.0 / self.L, doc="2 / L, the stability limit of gradient descent.")


def _rotation(angle: float) -> np.ndarray:
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    return np.array([[c, -s], [s, c]])


def quadratic(condition: float = 10.0, angle: float = 0.0) -> Quadratic:
    r"""Ill-conditioned quadratic bowl :math:`f(\theta) = \tfrac12 \theta^\top A \theta`, minimum 0 at 0.

    :math:`A = R_\phi \,\mathrm{diag}(1/\kappa,\, 1)\, R_\phi^\top`, with :math:`\kappa` = ``condition``
    and :math:`R_\phi` the rotation by :math:`\phi` = ``angle`` *degrees*. The scaling puts the largest
    eigenvalue at :math:`L = 1` for every :math:`\kappa` (so gradient descent is stable iff :math:`\alpha<2`
    and learning rates compare across condition numbers); the flat direction has curvature
    :math:`\mu = 1/\kappa`. At ``angle=0`` the axes are the eigenvectors, the best case for a diagonal
    preconditioner (Adagrad, RMSprop, Adam); at 45 degrees they are not. The start ``x0`` is rotated with
    :math:`A`, so the problems for two angles differ only by a rotation.
    """
    if not condition >= 1:
        raise ValueError(f"condition must be >= 1 (it is L/mu, the ratio of the Hessian's eigenvalues), "
                         f"got {condition!r}")
    R = _rotation(angle)
    A = R @ np.diag([1.0 / condition, 1.0]) @ R.T
    return Quadratic(name=f"quadratic(condition={condition:g}, angle={angle:g})",
                     f=lambda x: 0.5 * np.einsum("...i,ij,...j->...", x, A, x), grad=lambda x: x @ A,
                     minimum=np.zeros(2), f_min=0.0, bounds=((-5.0, 5.0), (-3.5, 3.5)),
                     x0=R @ np.array([-4.0, 2.0]), A=A)


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Problem:
    r"""Rosenbrock's banana :math:`f(x, y) = (a - x)^2 + b\,(y - x^2)^2`, minimum 0 at :math:`(a, a^2)`.

    The minimum lies at the bottom of a narrow curved valley: easy to reach, slow to follow.
    Default start :math:`(-1.2, 1)`, the classic one.
    """
    if not b > 0:
        raise ValueError(f"b must be > 0 (the valley's steepness), got {b!r}")

    def f(x):
        return (a - x[..., 0]) ** 2 + b * (x[..., 1] - x[..., 0] ** 2) ** 2

    def grad(x):
        u, w = x[..., 0], x[..., 1]
        return np.stack([-2 * (a - u) - 4 * b * u * (w - u**2), 2 * b * (w - u**2)], axis=-1)

    return Problem(f"rosenbrock(a={a:g}, b={b:g})", f, grad, minimum=[a, a**2], f_min=0.0,
                   bounds=((min(-2.0, a - 1), max(2.0, a + 1)), (-1.0, max(3.0, a**2 + 1))),
                   x0=[-1.2, 1.0])


_BEALE_C = (1.5, 2.25, 2.625)


def beale() -> Problem:
    r"""Beale's function :math:`f(x, y) = \sum_{k=1}^{3} (c_k - x + x y^k)^2`, :math:`c = (1.5, 2.25, 2.625)`.

    Minimum 0 at :math:`(3, \tfrac12)`, in a flat, bent valley next to steep walls. Default start
    :math:`(1, 1.5)`.
    """

    def f(x):
        u, w = x[..., 0], x[..., 1]
        return sum((c - u + u * w ** (k + 1)) ** 2 for k, c in enumerate(_BEALE_C))

    def grad(x):
        u, w = x[..., 0], x[..., 1]
        r = [c - u + u * w ** (k + 1) for k, c in enumerate(_BEALE_C)]
        gx = sum(2 * r[k] * (w ** (k + 1) - 1) for k in range(3))
        gy = sum(2 * r[k] * u * (k + 1) * w**k for k in range(3))
        return np.stack([gx, gy], axis=-1)

    return Problem("beale", f, grad, minimum=[3.0, 0.5], f_min=0.0, bounds=((-4.5, 4.5), (-4.5, 4.5)),
                   x0=[1.0, 1.5])


def saddle() -> Problem:
    r"""A saddle between two wells: :math:`f(x, y) = x^2 + \tfrac14 y^4 - \tfrac12 y^2`.

    The origin is a saddle point (Hessian :math:`\mathrm{diag}(2, -1)`, gradient 0); the minima are
    :math:`(0, \pm 1)` with :math:`f^\star = -\tfrac14`. ``minimum`` is :math:`(0, 1)`, ``minima`` holds
    both. The default start :math:`(1.5, 10^{-2})` sits just off the ridge :math:`y = 0`: near it
    :math:`\partial f/\partial y \approx -y`, so gradient descent escapes only geometrically, while a
    normalized step escapes at once. From :math:`y = 0` exactly, every method here stays on the ridge.
    """

    def f(x):
        return x[..., 0] ** 2 + 0.25 * x[..., 1] ** 4 - 0.5 * x[..., 1] ** 2

    def grad(x):
        return np.stack([2 * x[..., 0], x[..., 1] ** 3 - x[..., 1]], axis=-1)

    return Problem("saddle", f, grad, minimum=[0.0, 1.0], f_min=-0.25, bounds=((-2.0, 2.0), (-2.0, 2.0)),
                   x0=[1.5, 1e-2], minima=[[0.0, 1.0], [0.0, -1.0]])


@dataclass(frozen=True, kw_only=True)
class SparseRegression(Problem):
    """Least squares on sparse features; see :func:`sparse_regression`."""

    X: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    w_star: np.ndarray = field(repr=False)
    frequency: np.ndarray = field(repr=False)

    def minibatch_grad(self, w: np.ndarray, rng: np.random.Generator, batch_size: int) -> np.ndarray:
        r"""Unbiased gradient estimate :math:`\frac1B X_B^\top (X_B w - y_B)` on ``batch_size`` rows drawn
        without replacement with ``rng``."""
        n = self.X.shape[0]
        if not 1 <= batch_size <= n:
            raise ValueError(f"batch_size must lie in [1, {n}] (the number of samples), got {batch_size!r}")
        idx = rng.choice(n, size=batch_size, replace=False)
        return self.X[idx].T @ (self.X[idx] @ w - self.y[idx]) / batch_size


def sparse_regression(n_samples: int = 2000, n_features: int = 50, seed: int = 0, *, exponent: float = 1.5,
                      noise: float = 0.1) -> SparseRegression:
    r"""Linear regression whose features are rarer and rarer, the setting where Adagrad beats SGD.

    Feature :math:`j = 1..d` is non-zero in each sample independently with probability
    :math:`p_j = j^{-s}` (Zipf-like, :math:`s` = ``exponent``; ``frequency`` holds :math:`p`), its value
    then drawn from :math:`\mathcal N(0, 1)`; every feature occurs at least once. All true weights have
    size 1, so rare features carry as much signal as common ones: :math:`y = X w^\circ + \sigma\varepsilon`
    with :math:`w^\circ_j = \pm 1`, :math:`\sigma` = ``noise``. The objective is *half* the mean squared
    error,

    .. math:: f(w) = \frac{1}{2n} \lVert X w - y \rVert^2, \qquad \nabla f(w) = \frac1n X^\top (X w - y),

    over the full batch; ``w_star`` (= ``minimum``) is its least-squares solution from
    :func:`numpy.linalg.lstsq` and ``f_min = f(w_star)``. Start: ``x0 = 0``. A rare feature's gradient is
    small on average, so one global :math:`\alpha` learns it slowly; Adagrad's per-coordinate step does not.
    """
    if n_samples < 1 or n_features < 1:
        raise ValueError(f"n_samples and n_features must be >= 1, got {n_samples!r} and {n_features!r}")
    rng = np.random.default_rng(seed)
    frequency = np.arange(1, n_features + 1, dtype=np.float64) ** -exponent
    mask = rng.random((n_samples, n_features)) < frequency
    mask[rng.integers(n_samples, size=n_features), np.arange(n_features)] = True
    X = np.where(mask, rng.standard_normal((n_samples, n_features)), 0.0)
    y = X @ rng.choice([-1.0, 1.0], size=n_features) + noise * rng.standard_normal(n_samples)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]

    def f(w):
        return 0.5 * np.mean((w @ X.T - y) ** 2, axis=-1)

    def grad(w):
        return (w @ X.T - y) @ X / n_samples

    return SparseRegression(name=f"sparse_regression(n_samples={n_samples}, n_features={n_features})",
                            f=f, grad=grad, minimum=w_star, f_min=float(f(w_star)), bounds=None,
                            x0=np.zeros(n_features), X=X, y=y, w_star=w_star, frequency=frequency)


class Trajectory(NamedTuple):
    """``path[t]`` is :math:`\\theta_t` (shape ``(steps + 1, d)``), ``losses[t]`` is :math:`f(\\theta_t)`."""

    path: np.ndarray
    losses: np.ndarray


Trajectory.path.__doc__ = r"The iterates :math:`\theta_0, \dots, \theta_T`, shape ``(steps + 1, d)``."
Trajectory.losses.__doc__ = r"The objective along the path, :math:`f(\theta_0), \dots, f(\theta_T)`."


def run(optimizer: ModuleType, problem: Problem, x0: np.ndarray | None = None, steps: int = 100, *,
        grad_noise: float = 0.0, seed: int = 0, **hyper) -> Trajectory:
    r"""Run ``steps`` steps of ``optimizer`` (a module with ``init``/``step``) on ``problem`` from ``x0``.

    Each step gets :math:`g_t = \nabla f(\theta_{t-1}) + \xi_t` with :math:`\xi_t \sim \mathcal
    N(0, \sigma^2 I)`, :math:`\sigma` = ``grad_noise``, drawn from ``numpy.random.default_rng(seed)``
    (same seed, same path). ``losses`` are the noise-free :math:`f(\theta_t)`. ``hyper`` goes unchanged to
    ``optimizer.step``, which rejects unknown names.

    The run never stops early: ``path`` and ``losses`` always have ``steps + 1`` rows. A diverging run
    shows as ``inf``/``nan`` from the step it blows up on (NumPy's floating-point warnings are silenced here).
    """
    x0 = problem.x0 if x0 is None else x0
    theta = np.array(x0, dtype=np.float64)
    if theta.shape != problem.minimum.shape:
        raise ValueError(f"x0 has shape {theta.shape} but {problem.name} is {problem.dim}-dimensional: "
                         f"x0 must have shape {problem.minimum.shape}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    if not (grad_noise >= 0 and math.isfinite(grad_noise)):
        raise ValueError(f"grad_noise must be a finite number >= 0 (a standard deviation), "
                         f"got {grad_noise!r}")
    rng = np.random.default_rng(seed)
    path = np.empty((steps + 1, theta.shape[0]))
    losses = np.empty(steps + 1)
    state = optimizer.init(theta)
    with np.errstate(all="ignore"):
        path[0], losses[0] = theta, problem.f(theta)
        for t in range(1, steps + 1):
            g = problem.grad(theta)
            if grad_noise:
                g = g + grad_noise * rng.standard_normal(theta.shape)
            theta, state = optimizer.step(theta, g, state, **hyper)
            path[t], losses[t] = theta, problem.f(theta)
    return Trajectory(path, losses)


def steps_to_tolerance(traj: Trajectory | np.ndarray, f_min: float, tol: float) -> int | None:
    r"""The first step :math:`t` with :math:`f(\theta_t) - f^\star \le` ``tol``, or ``None`` if none.

    ``traj`` is a :class:`Trajectory` or its ``losses`` array. ``nan`` never counts as converged.
    """
    losses = np.asarray(traj.losses if isinstance(traj, Trajectory) else traj)
    hits = np.flatnonzero(losses - f_min <= tol)
    return int(hits[0]) if hits.size else None
