r"""Online convex problems on which Adam fails, and what fixes it: Reddi, Kale & Kumar (2018)'s counterexamples,
projected runs and their regret, AMSGrad in three forms, and the :math:`(\beta_1, \beta_2)` phase diagram of
Zhang et al. (2022).

**The problems.** Linear losses :math:`f_t(x) = g_t\,x` on :math:`\mathcal F = [-1, 1]`, so that the gradient
:math:`g_t` does not depend on :math:`x`:

* :func:`reddi_gradients`: :math:`g_t = C` when :math:`t \bmod P = 1`, else :math:`-1` (Theorem 1 of Reddi et
  al. has :math:`P = 3`; their Section 5 has :math:`P = 101`, :math:`C = 101`, both scaled by 10). The best fixed
  point is :math:`x^\star = -1` when :math:`C > P - 1`.
* :func:`stochastic_gradients`: :math:`g_t = C` with probability :math:`p = (1 + \delta)/(C + 1)`, else
  :math:`-1` (their Theorem 3), so :math:`\mathbb E[g_t] = \delta > 0` and :math:`x^\star = -1`.

**The forms** (:data:`FORMS`), each one line of :func:`step`, all without weight decay; with step size
:math:`\eta` (Reddi et al.'s :math:`\alpha_t`), :math:`m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t`,
:math:`v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2`:

* ``"adam"``: Kingma & Ba's Algorithm 1 as PyTorch computes it,
  :math:`\theta_t = \theta_{t-1} - \eta\,\hat m_t/(\sqrt{\hat v_t} + \epsilon)`
  (= :func:`adamcourse.optim.adam.step`);
* ``"amsgrad"``: PyTorch's AMSGrad (``torch.optim.Adam(amsgrad=True)``): :math:`v^{\max}_t = \max(v^{\max}_{t-1},
  v_t)` over the **raw** :math:`v`, then :math:`\theta_t = \theta_{t-1} - \eta\,\hat m_t /
  (\sqrt{v^{\max}_t/(1-\beta_2^t)} + \epsilon)`, divided by the **current** :math:`1 - \beta_2^t`;
* ``"adam-paper"``: Reddi et al.'s Adam, no bias correction: :math:`\theta_t = \theta_{t-1} - \eta\,m_t/
  (\sqrt{v_t} + \epsilon)`;
* ``"amsgrad-paper"``: their Algorithm 2, no bias correction: :math:`\hat v_t = \max(\hat v_{t-1}, v_t)`,
  :math:`\theta_t = \theta_{t-1} - \eta\,m_t / (\sqrt{\hat v_t} + \epsilon)` (the paper has
  :math:`\epsilon = 0`);
* ``"amsgrad-optax"``: optax's ``scale_by_amsgrad`` with its defaults: the max over the **bias-corrected**
  :math:`\hat v`, :math:`\nu^{\max}_t = \max(\nu^{\max}_{t-1}, v_t/(1-\beta_2^t))`,
  :math:`\theta_t = \theta_{t-1} - \eta\,\hat m_t/(\sqrt{\nu^{\max}_t} + \epsilon)` (``eps_root = 0``).

Every function takes :math:`\beta_1, \beta_2` as numbers or as arrays that broadcast against the parameters,
so that one run covers a whole grid of :math:`(\beta_1, \beta_2)` (:func:`phase_grid`).

>>> g = reddi_gradients(C=3.0, steps=3000)
>>> x = run(g, form="adam-paper", lr=0.5, beta1=0.0, beta2=1 / (1 + 3.0**2))
>>> float(x[-1]), round(float(run(g, form="amsgrad-paper", lr=0.5, beta1=0.0, beta2=0.1)[-1]), 2)
(1.0, -0.99)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .optim._common import document_fields

__all__ = ["FORMS", "MomentState", "average_regret", "critical_beta2", "init", "period_drift", "phase_grid",
           "project", "reddi_gradients", "run", "step", "stochastic_gradients", "unit_steps"]

#: The update rules :func:`step` knows, with where each comes from.
FORMS = {
    "adam": "Adam, Kingma & Ba's Algorithm 1 as torch.optim.Adam computes it (bias-corrected)",
    "amsgrad": "torch.optim.Adam(amsgrad=True): max of the raw v, divided by the current 1 - beta2^t",
    "adam-paper": "Reddi et al.'s Adam: no bias correction",
    "amsgrad-paper": "Reddi et al.'s Algorithm 2 (AMSGrad): max of v, no bias correction",
    "amsgrad-optax": "optax.scale_by_amsgrad (defaults): max of the bias-corrected v-hat",
}


class MomentState(NamedTuple):
    """The state of every form: ``t`` (steps taken), ``m``, ``v`` (the raw averages :math:`m_t, v_t`) and
    ``v_max`` (the running max the AMSGrad forms keep: of :math:`v` for ``"amsgrad"`` and ``"amsgrad-paper"``,
    of :math:`v/(1-\\beta_2^t)` for ``"amsgrad-optax"``; unused by the Adam forms)."""

    t: int
    m: np.ndarray
    v: np.ndarray
    v_max: np.ndarray


document_fields(
    MomentState, t=r":math:`t`, the number of steps taken.",
    m=r":math:`m_t`, the raw first moment, a moving average of :math:`g_t`.",
    v=r":math:`v_t`, the raw second moment, a moving average of :math:`g_t^2`.",
    v_max=r'the running max of the AMSGrad forms, of :math:`v` for ``"amsgrad"`` and ``"amsgrad-paper"``, of '
          r':math:`v/(1-\beta_2^t)` for ``"amsgrad-optax"``; unused by the Adam forms.')


def init(theta) -> MomentState:
    """t = 0 and zero averages, shaped like ``theta`` (a number or an array)."""
    zero = np.zeros_like(np.asarray(theta, dtype=np.float64))
    return MomentState(t=0, m=zero, v=zero, v_max=zero)


def _check_beta(name: str, beta) -> np.ndarray:
    b = np.asarray(beta, dtype=np.float64)
    if b.size == 0 or not np.all((b >= 0) & (b < 1)):
        raise ValueError(f"{name} must lie in [0, 1) (every entry, if an array), got {beta!r}")
    return b


def _check_number(name: str, value, low: float, *, open_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or (value <= low if open_low else value < low):
        raise ValueError(f"{name} must be {'>' if open_low else '>='} {low:g}, got {value!r}")
    return value


def _check_form(form: str) -> None:
    if form not in FORMS:
        raise ValueError(f"form must be one of {', '.join(map(repr, FORMS))}, got {form!r}")


def step(theta, grad, state: MomentState, *, form: str, lr: float, beta1=0.9, beta2=0.999,
         eps: float = 1e-8) -> tuple[np.ndarray, MomentState]:
    """One step of ``form`` (see :data:`FORMS`); returns the new ``(theta, state)``, inputs untouched.
    ``beta1`` and ``beta2`` may be arrays that broadcast against ``theta`` (one run per grid cell)."""
    _check_form(form)
    return _step(np.asarray(theta, dtype=np.float64), np.asarray(grad, dtype=np.float64), state, form,
                 _check_number("lr", lr, 0.0), _check_beta("beta1", beta1), _check_beta("beta2", beta2),
                 _check_number("eps", eps, 0.0))


def _step(theta, g, state, form, lr, b1, b2, eps):
    """:func:`step` without the checks (the loops below check once)."""
    t = state.t + 1
    m = b1 * state.m + (1 - b1) * g                          # m_t
    v = b2 * state.v + (1 - b2) * g * g                      # v_t
    c1, c2 = 1 - b1**t, 1 - b2**t                            # bias corrections
    v_max = state.v_max
    if form == "adam":
        update = (m / c1) / (np.sqrt(v / c2) + eps)
    elif form == "amsgrad":                                  # max of raw v, then / current c2
        v_max = np.maximum(state.v_max, v)
        update = (m / c1) / (np.sqrt(v_max) / np.sqrt(c2) + eps)
    elif form == "adam-paper":
        update = m / (np.sqrt(v) + eps)
    elif form == "amsgrad-paper":                            # v-hat_t = max(v-hat_{t-1}, v_t)
        v_max = np.maximum(state.v_max, v)
        update = m / (np.sqrt(v_max) + eps)
    else:                                                    # amsgrad-optax: max of v / c2
        v_max = np.maximum(state.v_max, v / c2)
        update = (m / c1) / (np.sqrt(v_max) + eps)
    theta = theta - lr * update
    return theta, MomentState(t=t, m=m, v=v, v_max=v_max)


# ---------------------------------------------------------------- the problems


def reddi_gradients(C: float, steps: int, *, period: int = 3, scale: float = 1.0) -> np.ndarray:
    r""":math:`g_t` = ``scale`` :math:`\cdot C` when :math:`t \bmod P = 1`, else :math:`-`\ ``scale``, for
    :math:`t = 1..T` (``period`` :math:`P`, ``steps`` :math:`T`): the gradients of Reddi et al.'s
    :math:`f_t(x) = g_t x`. Needs :math:`C > P - 1`, so that :math:`x^\star = -1`."""
    period = _check_int("period", period, 2)
    C = _check_number("C", C, period - 1, open_low=True)
    scale = _check_number("scale", scale, 0.0, open_low=True)
    t = np.arange(1, _check_int("steps", steps, 1) + 1)
    return scale * np.where(t % period == 1, C, -1.0)


def stochastic_gradients(C: float, delta: float, steps: int, *, runs: int | None = None, scale: float = 1.0,
                         rng: np.random.Generator | int = 0) -> np.ndarray:
    r"""Reddi et al.'s stochastic problem: :math:`g_t` = ``scale`` :math:`\cdot C` with probability
    :math:`p = (1 + \delta)/(C + 1)`, else :math:`-`\ ``scale``, independently; shape ``(steps,)`` or
    ``(steps, runs)``. :math:`\mathbb E[g_t]` = ``scale`` :math:`\cdot\delta`, so :math:`x^\star = -1`."""
    C = _check_number("C", C, 1.0, open_low=True)
    delta = _check_number("delta", delta, 0.0, open_low=True)
    if delta >= C:
        raise ValueError(f"delta must be < C = {C:g} (so that p = (1 + delta)/(C + 1) < 1), got {delta!r}")
    scale = _check_number("scale", scale, 0.0, open_low=True)
    shape = (_check_int("steps", steps, 1),) if runs is None else (steps, _check_int("runs", runs, 1))
    rng = np.random.default_rng(rng)
    p = (1 + delta) / (C + 1)
    return scale * np.where(rng.random(shape) < p, C, -1.0)


def _check_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


# ---------------------------------------------------------------- projected runs and regret


def unit_steps(grads, *, form: str, beta1=0.9, beta2=0.999, eps: float = 1e-8) -> np.ndarray:
    r""":math:`u_t` with :math:`x_{t+1} = \Pi_{[-1,1]}(x_t - \eta\,u_t)` under the schedule
    :math:`\eta_t = \eta/\sqrt t` (Reddi et al.'s :math:`\alpha_t = \alpha/\sqrt t`): the steps of :func:`step`
    taken from 0 with ``lr`` :math:`1/\sqrt t`. On linear losses they do not depend on :math:`x`, so one call
    serves every :math:`\eta` and start. ``grads`` has shape ``(T, *batch)``; the betas broadcast against
    ``batch``; the result has shape ``(T, *broadcast batch)``."""
    grads = np.asarray(grads, dtype=np.float64)
    if grads.ndim == 0 or len(grads) == 0:
        raise ValueError(f"grads must have shape (T, ...) with T >= 1, got shape {grads.shape}")
    _check_form(form)
    b1, b2, eps = _check_beta("beta1", beta1), _check_beta("beta2", beta2), _check_number("eps", eps, 0.0)
    shape = np.broadcast_shapes(grads.shape[1:], b1.shape, b2.shape)
    zero = np.zeros(shape)
    state, out = init(zero), np.empty((len(grads), *shape))
    for t in range(1, len(grads) + 1):
        theta, state = _step(zero, grads[t - 1], state, form, 1 / math.sqrt(t), b1, b2, eps)
        out[t - 1] = -theta
    return out


def project(units, lr: float, x1=0.0, *, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    r"""The projected iterates :math:`x_1` = ``x1``, :math:`x_{t+1} = \min(\max(x_t - \eta u_t, -1), 1)`,
    :math:`t = 1..T`: shape ``(T + 1, *batch)``. ``lr`` is :math:`\eta` (a number or an array that broadcasts
    against the batch)."""
    units = np.asarray(units, dtype=np.float64)
    lr = np.asarray(lr, dtype=np.float64)
    if not np.all(lr >= 0):
        raise ValueError(f"lr must be >= 0, got {lr!r}")
    if not low < high or not np.all((np.asarray(x1) >= low) & (np.asarray(x1) <= high)):
        raise ValueError(f"x1 must lie in [{low:g}, {high:g}], got {x1!r}")
    shape = np.broadcast_shapes(units.shape[1:], lr.shape, np.shape(x1))
    x = np.empty((len(units) + 1, *shape))
    x[0] = x1
    for t in range(len(units)):
        x[t + 1] = np.clip(x[t] - lr * units[t], low, high)
    return x


def run(grads, *, form: str, lr: float, x1=0.0, beta1=0.9, beta2=0.999, eps: float = 1e-8) -> np.ndarray:
    r"""``form`` on the linear losses :math:`f_t(x) = g_t x` over :math:`[-1, 1]` with step size
    :math:`\eta/\sqrt t` (``lr`` :math:`= \eta`) from ``x1``: the iterates :math:`x_1..x_{T+1}`
    (:func:`unit_steps`, then :func:`project`)."""
    return project(unit_steps(grads, form=form, beta1=beta1, beta2=beta2, eps=eps), lr, x1)


def average_regret(grads, x, x_star: float = -1.0) -> np.ndarray:
    r"""The average regret :math:`R_T/T = \frac1T\sum_{t\le T} \big(f_t(x_t) - f_t(x^\star)\big)
    = \frac1T\sum_{t \le T} g_t (x_t - x^\star)` for :math:`T = 1..` ``len(grads)``, from the iterates ``x``
    (:math:`x_1, \dots`, at least as many as gradients)."""
    grads, x = np.asarray(grads, dtype=np.float64), np.asarray(x, dtype=np.float64)
    if len(x) < len(grads):
        raise ValueError(f"x must hold at least len(grads) = {len(grads)} iterates, got {len(x)}")
    T = np.arange(1, len(grads) + 1).reshape((-1,) + (1,) * (grads.ndim - 1))
    return np.cumsum(grads * (x[: len(grads)] - x_star), axis=0) / T


# ---------------------------------------------------------------- the steady state and the phase diagram


def period_drift(C: float, beta1=0.0, beta2=0.0, *, period: int = 3) -> np.ndarray:
    r"""The drift :math:`D = \sum_{k=1}^{P} m_k/\sqrt{v_k}` of Adam over one period of :func:`reddi_gradients`
    in the periodic steady state (:math:`t \to \infty`, where the bias corrections are 1 and :math:`\epsilon`
    is negligible): :math:`m_k = \frac{1-\beta_1}{1-\beta_1^P}\sum_{j=0}^{P-1}\beta_1^j g_{k-j}` and
    :math:`v_k` alike with :math:`\beta_2, g^2`. With :math:`\eta_t = \eta/\sqrt t` a period moves :math:`x` by
    about :math:`-\eta_t D`: :math:`D > 0` drives Adam to :math:`x^\star = -1`, :math:`D < 0` to :math:`+1`.
    Vectorised over the betas."""
    period = _check_int("period", period, 2)
    C = _check_number("C", C, period - 1, open_low=True)
    b1, b2 = _check_beta("beta1", beta1), _check_beta("beta2", beta2)
    g = np.array([C] + [-1.0] * (period - 1))               # g_1..g_P of one period
    j = np.arange(period)
    lagged = g[(j[:, None] - j[None, :]) % period]           # [k, j] = g_{k-j}
    b1, b2 = np.broadcast_arrays(b1, b2)
    m = (b1[..., None] ** j) @ lagged.T * ((1 - b1) / (1 - b1**period))[..., None]        # m_k, k = 1..P
    v = (b2[..., None] ** j) @ (lagged**2).T * ((1 - b2) / (1 - b2**period))[..., None]   # v_k
    return np.sum(m / np.sqrt(v), axis=-1)


def critical_beta2(C: float, beta1: float = 0.0, *, period: int = 3) -> float:
    r"""The :math:`\beta_2^\star` where :func:`period_drift` changes sign (bisection on :math:`[0, 1)`): below
    it Adam drifts to :math:`+1`, above it to :math:`-1`. ``nan`` when the drift has one sign on the whole
    interval."""
    f = lambda b2: float(period_drift(C, beta1, b2, period=period))  # noqa: E731
    lo, hi = 0.0, 1 - 1e-12
    f_lo = f(lo)
    if f_lo * f(hi) > 0:
        return float("nan")
    while hi - lo > 1e-14:
        mid = 0.5 * (lo + hi)
        f_mid = f(mid)
        if f_lo * f_mid <= 0:
            hi = mid
        else:
            lo, f_lo = mid, f_mid
    return 0.5 * (lo + hi)


def phase_grid(grads, beta1s, beta2s, *, lr: float, x1: float = 0.0, form: str = "adam", eps: float = 1e-8,
               last: int = 3) -> np.ndarray:
    r"""Where ``form`` ends on the losses ``grads`` for every :math:`(\beta_1, \beta_2)` of the grid, all cells
    in one run: the mean of :math:`x_t` over the last ``last`` iterates (one period), shape
    ``(len(beta1s), len(beta2s))``. Near :math:`-1`: converged; near :math:`+1`: drifted to the worst point."""
    b1 = _check_beta("beta1s", beta1s).reshape(-1, 1)
    b2 = _check_beta("beta2s", beta2s).reshape(1, -1)
    grads = np.asarray(grads, dtype=np.float64)
    last = _check_int("last", last, 1)
    if grads.ndim != 1 or len(grads) < last:
        raise ValueError(f"grads must be 1-D with at least last = {last} entries, got shape {grads.shape}")
    lr, eps = _check_number("lr", lr, 0.0), _check_number("eps", eps, 0.0)
    _check_form(form)
    if not -1.0 <= x1 <= 1.0:
        raise ValueError(f"x1 must lie in [-1, 1], got {x1!r}")
    zero = np.zeros((b1.size, b2.size))
    state, x, tail = init(zero), zero + x1, np.zeros_like(zero)
    for t in range(1, len(grads) + 1):
        theta, state = _step(zero, grads[t - 1], state, form, lr / math.sqrt(t), b1, b2, eps)
        x = np.clip(x + theta, -1.0, 1.0)
        if t > len(grads) - last:
            tail += x
    return tail / last
