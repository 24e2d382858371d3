r"""Adafactor (Shazeer & Stern, 2018): Adam's second moment, factored into row and column statistics.

For a matrix :math:`\theta \in \mathbb{R}^{r \times c}` Adam keeps :math:`v_t` with :math:`rc` entries. Adafactor
keeps the row means :math:`R_t \in \mathbb{R}^{r}` and the column means :math:`C_t \in \mathbb{R}^{c}` of
:math:`g_t^2` and rebuilds the rank-one estimate :math:`\hat V_t = R_t C_t / \mathrm{mean}(R_t)`: :math:`r + c`
numbers instead of :math:`rc`. A tensor of more dimensions is factored over its last two (one :math:`R`, :math:`C`
pair per leading index); a vector or scalar keeps the full :math:`v_t`. No first moment. As
:class:`torch.optim.Adafactor`, with :math:`\eta` = ``lr``, :math:`\tau` = ``beta2_decay``, ``eps`` =
:math:`(\epsilon_1, \epsilon_2)`, :math:`d` the clipping threshold:

.. math::

    \hat\beta_{2,t} &\leftarrow 1 - t^{\tau}, \qquad
    \rho_t \leftarrow \min(\eta, 1/\sqrt t) \\
    \alpha_t &\leftarrow \max(\epsilon_2, \mathrm{RMS}(\theta_{t-1}))\,\rho_t \\
    \theta &\leftarrow \theta_{t-1}(1 - \eta\lambda_{\mathrm{wd}})
        \quad\text{(only if weight\_decay} = \lambda_{\mathrm{wd}} > 0\text{)} \\
    R_t &\leftarrow \hat\beta_{2,t} R_{t-1} + (1 - \hat\beta_{2,t})\,\mathrm{mean}_{\text{cols}}(g_t^2) \\
    C_t &\leftarrow \hat\beta_{2,t} C_{t-1} + (1 - \hat\beta_{2,t})\,\mathrm{mean}_{\text{rows}}(g_t^2) \\
    \hat V_t &\leftarrow R_t C_t^\top / \max(\mathrm{mean}(R_t), \epsilon_1) \\
        &\qquad\text{(a vector: } \hat V_t \leftarrow \hat\beta_{2,t}\hat V_{t-1} + (1-\hat\beta_{2,t}) g_t^2\text{)} \\
    U_t &\leftarrow g_t / \sqrt{\max(\hat V_t, \epsilon_1^2)} \\
    \theta_t &\leftarrow \theta - \alpha_t\, U_t / \max(1, \mathrm{RMS}(U_t)/d)

Defaults are PyTorch's: ``lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0``;
:math:`\epsilon_1` = None means the machine epsilon of the parameter's dtype (of each parameter's own dtype here;
torch takes the first parameter's for the whole group, which differs only in a group of mixed dtypes).

Where this sits among the frameworks (PyTorch's choices, kept so the two agree to round-off):

* **lr caps the relative step** :math:`\rho_t = \min(\eta, 1/\sqrt t)`; the paper uses the constant 0.01 (the
  default ``lr``) and has no learning rate. ``weight_decay`` is decoupled and scaled by ``lr``, as in AdamW.
* **eps1 enters at the end** (in the denominators of :math:`\hat V_t` and :math:`U_t`); the paper and
  optax/T5 add :math:`\epsilon_1` to :math:`g_t^2` before the row and column means. Means, not sums (the paper's
  sums give the same :math:`\hat V_t`).
* No first moment (the paper's :math:`\beta_1 = 0` default) and no relative-step switch: ``lr`` is always used.
* ``RMS`` of the parameter and of the update are taken over the whole tensor, so a step is not element-wise.
* An empty parameter is a no-op here; ``torch.optim.Adafactor`` divides by its zero size and raises
  ``ZeroDivisionError``. Complex parameters raise ``RuntimeError`` in both; a sparse gradient raises
  ``TypeError`` here, as in every class of this library (``RuntimeError`` in torch).

Example::

    >>> import numpy as np
    >>> from adamcourse.optim import adafactor
    >>> theta = np.ones((3, 4)); state = adafactor.init(theta)
    >>> state.row_var.shape, state.col_var.shape      # r + c numbers for an r x c matrix
    ((3, 1), (1, 4))
    >>> theta, state = adafactor.step(theta, theta, state)
    >>> float(theta[0, 0])                            # 1 - RMS(theta) * min(lr, 1) * g / |g|
    0.99
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from ._common import Array, add_scaled, check_range, document_fields, hyperparameters, is_torch, sqrt
from ._torch import FunctionalOptimizer, WholeTensorOptimizer


class AdafactorState(NamedTuple):
    t: int                        # steps taken so far
    row_var: Array | None = None  # R_t, shape (..., r, 1): matrices and higher
    col_var: Array | None = None  # C_t, shape (..., 1, c)
    variance: Array | None = None  # v_t, same shape as theta: vectors and scalars


document_fields(
    AdafactorState, t=r":math:`t`, the number of steps taken (``step`` in torch).",
    row_var=r":math:`R_t`, the moving average of the row means of :math:`g_t^2`, shape ``(..., r, 1)``; None "
            r"for a vector (``row_var`` in torch).",
    col_var=r":math:`C_t`, the moving average of the column means of :math:`g_t^2`, shape ``(..., 1, c)``; None "
            r"for a vector (``col_var`` in torch).",
    variance=r":math:`\hat V_t`, the full second moment of a vector or scalar parameter; None for a matrix "
             r"(``variance`` in torch).")


def _zeros(theta: Array, shape: tuple[int, ...]) -> Array:
    return theta.new_zeros(shape) if is_torch(theta) else np.zeros(shape, dtype=theta.dtype)


def _mean_square(g: Array, dim: int) -> Array:
    """mean(g^2) along ``dim``, kept as a size-1 dimension (torch: the square of a norm, as torch.optim does)."""
    if is_torch(g):
        return torch.linalg.vector_norm(g, dim=dim, keepdim=True).square() / g.shape[dim]
    return np.sum(g * g, axis=dim, keepdims=True) / g.shape[dim]


def _mean(x: Array, dim: int) -> Array:
    return x.mean(dim=dim, keepdim=True) if is_torch(x) else x.mean(axis=dim, keepdims=True)


def _clamp_min(x: Array, low: float) -> Array:
    return x.clamp(min=low) if is_torch(x) else np.maximum(x, low)


def _rms(x: Array) -> float:
    """RMS(x) = |x|_2 / sqrt(size), a Python float (0 for an empty tensor)."""
    norm = torch.linalg.vector_norm(x).item() if is_torch(x) else float(np.linalg.norm(x))
    return norm / math.prod(x.shape) ** 0.5 if math.prod(x.shape) else 0.0


def init(theta: Array) -> AdafactorState:
    """R_0 = C_0 = 0 for a matrix (or more dimensions), v_0 = 0 for a vector or scalar; t = 0."""
    if theta.ndim > 1:
        *lead, n, m = theta.shape
        return AdafactorState(t=0, row_var=_zeros(theta, (*lead, n, 1)), col_var=_zeros(theta, (*lead, 1, m)))
    return AdafactorState(t=0, variance=_zeros(theta, tuple(theta.shape)))


@hyperparameters
def step(theta: Array, grad: Array, state: AdafactorState, *, lr: float = 1e-2, beta2_decay: float = -0.8,
         eps: tuple[float | None, float] = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0,
         maximize: bool = False) -> tuple[Array, AdafactorState]:
    """One Adafactor step; returns the new ``(theta, state)`` and leaves its inputs untouched."""
    eps1, eps2 = _check(lr, beta2_decay, eps, d, weight_decay)
    if eps1 is None:
        eps1 = float(torch.finfo(theta.dtype).eps if is_torch(theta) else np.finfo(theta.dtype).eps)
    t = state.t + 1
    g = -grad if maximize else grad
    w = t**beta2_decay                                   # 1 - beta2_t
    rho = min(lr, 1 / t**0.5)                            # relative step size rho_t
    alpha = max(eps2, _rms(theta)) * rho                 # alpha_t, scaled by RMS(theta_{t-1})
    if weight_decay:
        theta = theta * (1 - lr * weight_decay)          # decoupled: theta (1 - eta lambda_wd)
    row_var = col_var = variance = None
    if g.ndim > 1:
        row_var = (1 - w) * state.row_var + w * _mean_square(g, -1)   # R_t
        col_var = (1 - w) * state.col_var + w * _mean_square(g, -2)   # C_t
        v_hat = row_var * col_var / _clamp_min(_mean(row_var, -2), eps1)   # R_t C_t / max(mean R_t, eps1)
    else:
        variance = (1 - w) * state.variance + w * g * g  # v_t, unfactored
        v_hat = variance
    u = g / sqrt(_clamp_min(v_hat, eps1 * eps1))         # U_t
    denom = max(1.0, _rms(u) / d)                        # update clipping: RMS(U_t / denom) <= d
    theta = add_scaled(theta, u, -alpha / denom)         # theta_t
    return theta, AdafactorState(t=t, row_var=row_var, col_var=col_var, variance=variance)


def _check(lr, beta2_decay, eps, d, weight_decay) -> tuple[float | None, float]:
    """torch.optim.Adafactor's checks, in its words, then the valid range."""
    for name, value in [("lr", lr), ("beta2_decay", beta2_decay), ("d", d), ("weight_decay", weight_decay)]:
        check_range(name, value, -math.inf)                  # a real number, not NaN
    if not (isinstance(eps, (tuple, list)) and len(eps) == 2):
        raise ValueError(f"eps must be a pair (eps1, eps2), got {eps!r}")
    eps1, eps2 = (e.item() if isinstance(e, (torch.Tensor, np.generic)) else e for e in eps)
    for name, value, ok, valid, interval in [
            ("lr", lr, lr >= 0, "Learning rate should be >= 0", "[0, inf)"),
            ("beta2_decay", beta2_decay, beta2_decay <= 0, "beta2_decay should be <= 0", "(-inf, 0]"),
            ("eps[0]", eps1, eps1 is None or eps1 >= 0, "epsilon1 should be >= 0", "None or [0, inf)"),
            ("eps[1]", eps2, eps2 >= 0, "epsilon2 should be >= 0", "[0, inf)"),
            ("d", d, d >= 1, "Clipping threshold d should be >= 1", "[1, inf)"),
            ("weight_decay", weight_decay, weight_decay >= 0, "weight_decay should be >= 0", "[0, inf)")]:
        if not ok:  # torch.optim.Adafactor's words, then ours
            raise ValueError(f"{valid} but is: {value} ({name} must lie in {interval})")
    return eps1, eps2


class Adafactor(WholeTensorOptimizer, FunctionalOptimizer):
    """Drop-in for :class:`torch.optim.Adafactor` (same signature, defaults, state keys and results), running
    :func:`step` on each parameter. Only the single-tensor path: ``foreach`` must stay off."""

    compile_refusal = "its step reads RMS(theta) and RMS(U) as Python numbers, per parameter"

    state_keys = {"row_var": "row_var", "col_var": "col_var", "variance": "variance"}

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                        maximize=maximize)
        super().__init__(params, defaults, foreach=foreach)
