r"""Forms of Adam's variants that PyTorch does not implement, for the chapter "The variants".

Each update rule is a pure ``init``/``step`` pair in the contract of ``adamcourse.optim`` (state a
``NamedTuple`` holding ``t``; NumPy arrays or torch tensors; inputs never mutated):

* :func:`lp_init` / :func:`lp_step`: Kingma & Ba's :math:`L^p` generalisation of Adam (§7.1), whose
  :math:`p \to \infty` limit is Adamax (:mod:`adamcourse.optim.adamax`). With :math:`p = 2` and bias correction
  it is Adam with :math:`\beta_2^2` in place of :math:`\beta_2` (the paper parametrises the decay as
  :math:`\beta_2^p`).
* :func:`dozat_init` / :func:`dozat_step`: Dozat's Nesterov-accelerated Adam with a **constant** momentum
  :math:`\mu = \beta_1`, the form Dozat derives (and optax's ``nadam`` computes), where PyTorch's ``NAdam``
  (:mod:`adamcourse.optim.nadam`) uses the warming-up schedule :math:`\mu_t = \beta_1(1 - \tfrac12 0.96^{t\psi})`.
* :func:`adamw_paper_step`: AdamW as Loshchilov & Hutter write it (Algorithm 2): step size :math:`\alpha`,
  schedule multiplier :math:`s_t` and a decay :math:`\lambda` that is multiplied by :math:`s_t` but not by
  :math:`\alpha`. PyTorch's ``weight_decay`` is :math:`\lambda/\alpha` (:mod:`adamcourse.optim.adamw`).

And the statistics of RAdam's derivation (Liu et al., 2020), in closed form and by simulation:

* :func:`psi_variance`: the variance of :math:`\psi = \sqrt{1/\hat v}` when :math:`\hat v` is the mean of
  :math:`\rho` squared standard normals (:math:`\psi^2` scaled-inverse-:math:`\chi^2`), exact, and
  :func:`psi_variance_approx`, the paper's first-order form :math:`\rho / (2(\rho-2)(\rho-4))`;
* :func:`simulate_psi_variance`: the same variance, measured over independent runs of Adam's
  :math:`\hat v_t` fed :math:`\mathcal N(0, 1)` gradients;
* :func:`ema_mean_age`: the mean age of the weights of an exponential average after :math:`t` steps, which
  RAdam's :math:`\rho_t` matches with a simple moving average.

Example::

    >>> import numpy as np
    >>> from adamcourse import variants
    >>> theta = np.array([1.0, -2.0]); state = variants.lp_init(theta)
    >>> theta, state = variants.lp_step(theta, 2 * theta, state, p=8, lr=0.1)   # f = |theta|^2
    >>> theta                                  # the first step is -lr * sign(g), as Adam's and Adamax's
    array([ 0.9, -1.9])
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import gammaln

from .optim._common import (
    Array,
    check_betas,
    check_range,
    document_fields,
    hyperparameters,
    maximum,
    sqrt,
    zeros_like,
)

__all__ = ["LpState", "DozatState", "lp_init", "lp_step", "dozat_init", "dozat_step", "adamw_paper_step",
           "psi_variance", "psi_variance_approx", "simulate_psi_variance", "ema_mean_age"]


# ---------------------------------------------------------------- the L^p generalisation (Kingma & Ba, §7.1)


class LpState(NamedTuple):
    t: int       # steps taken so far
    m: Array     # first moment m_t
    u: Array     # u_t = v_t^(1/p), the p-th root of the L^p average of |g| (kept as the root: no overflow)


document_fields(
    LpState, t=r":math:`t`, the number of steps taken.",
    m=r":math:`m_t`, the first moment, a moving average of :math:`g_t`.",
    u=r":math:`u_t = v_t^{1/p}`, the :math:`p`-th root of the moving average :math:`v_t` of :math:`|g_t|^p` "
      r"(kept as the root: no overflow).")


def lp_init(theta: Array) -> LpState:
    """m_0 = u_0 = 0, t = 0."""
    return LpState(t=0, m=zeros_like(theta), u=zeros_like(theta))


@hyperparameters
def lp_step(theta: Array, grad: Array, state: LpState, *, p: float = 2.0, lr: float = 1e-3, beta1: float = 0.9,
            beta2: float = 0.999, eps: float = 0.0, bias_correction: bool = True) -> tuple[Array, LpState]:
    r"""One step of Adam with the :math:`L^p` norm (Kingma & Ba, §7.1):

    .. math::

        m_t &\leftarrow \beta_1 m_{t-1} + (1 - \beta_1)\, g_t \\
        v_t &\leftarrow \beta_2^p\, v_{t-1} + (1 - \beta_2^p)\, |g_t|^p, \qquad u_t = v_t^{1/p} \\
        \theta_t &\leftarrow \theta_{t-1} - \frac{\eta}{1 - \beta_1^t}\,
            \frac{m_t}{u_t / c_t + \epsilon} \\
        c_t &= (1 - \beta_2^{pt})^{1/p} \text{ (1 without bias correction)}

    :math:`v_t` is never formed: :math:`u_t` is updated as
    :math:`u_t = M\,\big((\beta_2 u_{t-1}/M)^p + (1-\beta_2^p)(|g_t|/M)^p\big)^{1/p}` with
    :math:`M = \max(\beta_2 u_{t-1}, |g_t|)`, which neither overflows nor underflows for large :math:`p`.
    As :math:`p \to \infty`, :math:`u_t \to \max(\beta_2 u_{t-1}, |g_t|)`, Adamax's :math:`u_t`, and
    :math:`c_t \to 1`. ``eps`` (default 0, as in the paper) is added to the corrected :math:`u_t`.
    """
    check_range("p", p, 1.0)
    check_range("lr", lr, 0.0)
    check_range("eps", eps, 0.0)
    check_betas(beta1, beta2)
    t = state.t + 1
    m = beta1 * state.m + (1 - beta1) * grad                       # m_t
    old, new = beta2 * state.u, abs(grad)
    top = maximum(old, new)                                        # M
    safe = top + (top == 0)                                        # M, or 1 where M = 0 (then u_t = 0)
    u = top * ((old / safe) ** p + (1 - beta2**p) * (new / safe) ** p) ** (1 / p)   # u_t = v_t^(1/p)
    c = (1 - beta2 ** (p * t)) ** (1 / p) if bias_correction else 1.0
    theta = theta - (lr / (1 - beta1**t)) * m / (u / c + eps)      # theta_t
    return theta, LpState(t=t, m=m, u=u)


# ---------------------------------------------------------------- Nesterov-accelerated Adam, constant momentum


class DozatState(NamedTuple):
    t: int       # steps taken so far
    m: Array     # first moment m_t
    v: Array     # second moment v_t


document_fields(
    DozatState, t=r":math:`t`, the number of steps taken.",
    m=r":math:`m_t`, the first moment, a moving average of :math:`g_t`.",
    v=r":math:`v_t`, the second moment, a moving average of :math:`g_t^2`.")


def dozat_init(theta: Array) -> DozatState:
    """m_0 = v_0 = 0, t = 0."""
    return DozatState(t=0, m=zeros_like(theta), v=zeros_like(theta))


@hyperparameters
def dozat_step(theta: Array, grad: Array, state: DozatState, *, lr: float = 2e-3, beta1: float = 0.9,
               beta2: float = 0.999, eps: float = 1e-8) -> tuple[Array, DozatState]:
    r"""One step of NAdam with a constant momentum :math:`\mu = \beta_1` (Dozat, 2016):

    .. math::

        m_t &\leftarrow \beta_1 m_{t-1} + (1 - \beta_1)\, g_t \\
        v_t &\leftarrow \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2, \qquad \hat v_t = v_t / (1 - \beta_2^t) \\
        \bar m_t &= \frac{\beta_1\, m_t}{1 - \beta_1^{t+1}} + \frac{(1 - \beta_1)\, g_t}{1 - \beta_1^t} \\
        \theta_t &\leftarrow \theta_{t-1} - \eta\, \bar m_t / (\sqrt{\hat v_t} + \epsilon)

    Adam's step uses :math:`\hat m_t = m_t / (1-\beta_1^t)`; here the momentum part looks one step ahead, to the
    :math:`\beta_1 m_t` that step :math:`t+1` will carry. PyTorch's ``NAdam`` is this with :math:`\beta_1`
    replaced by the schedule :math:`\mu_t` in the two coefficients; no ``momentum_decay`` reproduces a
    constant :math:`\mu` (its :math:`\mu_t` starts at :math:`\beta_1/2`).
    """
    check_range("lr", lr, 0.0)
    check_range("eps", eps, 0.0)
    check_betas(beta1, beta2)
    t = state.t + 1
    m = beta1 * state.m + (1 - beta1) * grad                       # m_t
    v = beta2 * state.v + (1 - beta2) * grad * grad                # v_t
    m_bar = beta1 * m / (1 - beta1 ** (t + 1)) + (1 - beta1) * grad / (1 - beta1**t)   # look-ahead m
    theta = theta - lr * m_bar / (sqrt(v / (1 - beta2**t)) + eps)  # theta_t
    return theta, DozatState(t=t, m=m, v=v)


# ---------------------------------------------------------------- AdamW as the paper writes it


@hyperparameters
def adamw_paper_step(theta: Array, grad: Array, state, *, alpha: float = 1e-3, schedule: float = 1.0,
                     beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                     weight_decay: float = 0.0) -> tuple[Array, object]:
    r"""One step of Loshchilov & Hutter's Algorithm 2 (AdamW), with state :class:`adamcourse.optim.adam.AdamState`:

    .. math::

        \theta_t \leftarrow \theta_{t-1} - s_t \left( \alpha\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)
            + \lambda\, \theta_{t-1} \right)

    ``alpha`` is :math:`\alpha`, ``schedule`` the multiplier :math:`s_t` (the paper's :math:`\eta_t`), and
    ``weight_decay`` the paper's :math:`\lambda`. It equals ``adamw.step`` with ``lr`` :math:`= s_t\alpha` and
    ``weight_decay`` :math:`= \lambda/\alpha`.
    """
    from .optim.adam import AdamState

    check_range("alpha", alpha, 0.0)
    check_range("schedule", schedule, 0.0)
    check_range("eps", eps, 0.0)
    check_range("weight_decay", weight_decay, 0.0)
    check_betas(beta1, beta2)
    t = state.t + 1
    m = beta1 * state.m + (1 - beta1) * grad                       # m_t
    v = beta2 * state.v + (1 - beta2) * grad * grad                # v_t
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    theta = theta - schedule * (alpha * m_hat / (sqrt(v_hat) + eps) + weight_decay * theta)
    return theta, AdamState(t=t, m=m, v=v)


# ---------------------------------------------------------------- RAdam's statistics


def _check_rho(rho, low: float) -> np.ndarray:
    r = np.asarray(rho, dtype=float)
    if not np.all(r > low):
        raise ValueError(f"Invalid rho: {rho!r} (rho must be > {low:g}: the variance is infinite otherwise)")
    return r


def psi_variance(rho):
    r"""Exact :math:`\operatorname{Var}[\psi]` for :math:`\psi = \sqrt{\rho / X}`, :math:`X \sim \chi^2_\rho`
    (:math:`\psi^2` is the inverse of the mean of :math:`\rho` squared standard normals):

    .. math::

        \operatorname{Var}[\psi] = \frac{\rho}{\rho - 2}
            - \frac{\rho}{2}\left(\frac{\Gamma((\rho-1)/2)}{\Gamma(\rho/2)}\right)^2, \qquad \rho > 2 .

    ``rho`` a number or an array (any real :math:`\rho > 2`)."""
    r = _check_rho(rho, 2.0)
    out = r / (r - 2) - r / 2 * np.exp(2 * (gammaln((r - 1) / 2) - gammaln(r / 2)))
    return float(out) if np.ndim(out) == 0 else out


def psi_variance_approx(rho):
    r"""Liu et al.'s first-order approximation :math:`\operatorname{Var}[\psi] \approx \rho / (2(\rho-2)(\rho-4))`,
    :math:`\rho > 4`; it tends to the exact :func:`psi_variance` as :math:`\rho \to \infty` (both
    :math:`\approx 1/(2\rho)`)."""
    r = _check_rho(rho, 4.0)
    out = r / (2 * (r - 2) * (r - 4))
    return float(out) if np.ndim(out) == 0 else out


def simulate_psi_variance(steps: int, runs: int, beta2: float, *, seed: int = 0, dtype=np.float64) -> np.ndarray:
    r"""Monte Carlo :math:`\operatorname{Var}[\sqrt{1/\hat v_t}]` for :math:`t = 1, \dots,` ``steps``: ``runs``
    independent copies of Adam's :math:`v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2`, :math:`g_t \sim \mathcal N(0, 1)`,
    :math:`\hat v_t = v_t/(1-\beta_2^t)`; returns an array of ``steps`` sample variances (over the runs)."""
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"Invalid steps: {steps!r} (steps must be an integer >= 1)")
    if not isinstance(runs, (int, np.integer)) or runs < 2:
        raise ValueError(f"Invalid runs: {runs!r} (runs must be an integer >= 2)")
    check_range("beta2", beta2, 0.0, 1.0)
    rng = np.random.default_rng(seed)
    v = np.zeros(runs, dtype=dtype)
    out = np.empty(steps)
    for t in range(1, steps + 1):
        g = rng.standard_normal(runs).astype(dtype, copy=False)
        v = beta2 * v + (1 - beta2) * g * g
        out[t - 1] = np.var(1 / np.sqrt(v / (1 - beta2**t)), ddof=1)
    return out


def ema_mean_age(t, beta2: float):
    r"""The mean age :math:`\sum_{k=0}^{t-1} k\, w_k` of the normalised weights
    :math:`w_k = (1-\beta_2)\beta_2^k / (1-\beta_2^t)` of :math:`\hat v_t` (age :math:`k = 0` is the current
    gradient), by direct summation. A simple moving average of the last :math:`f` values has mean age
    :math:`(f-1)/2`; RAdam's :math:`\rho_t` is the :math:`f` with the same mean age."""
    check_range("beta2", beta2, 0.0, 1.0)
    ts = np.atleast_1d(np.asarray(t))
    if ts.dtype == bool or not np.issubdtype(ts.dtype, np.integer) or np.any(ts < 1):
        raise ValueError(f"Invalid t: {t!r} (t must be an integer >= 1, or an array of them)")
    out = []
    for n in ts:
        k = np.arange(int(n))
        w = (1 - beta2) * beta2**k
        out.append(float(k @ w / w.sum()))
    return out[0] if np.ndim(t) == 0 else np.array(out)
