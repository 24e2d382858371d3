r"""RAdam: Adam with a rectified adaptive learning rate (Liu et al., 2020, Algorithm 2), as PyTorch implements it.

For :math:`t = 1, 2, \dots`, element-wise, with :math:`\eta` = ``lr`` (Liu et al. write :math:`\alpha_t`),
from :math:`m_0 = v_0 = 0`:

.. math::

    g_t &\leftarrow \nabla f(\theta_{t-1}) + \lambda_{\mathrm{wd}}\,\theta_{t-1} \\
        &\qquad\text{(L2 term only if weight\_decay} = \lambda_{\mathrm{wd}} > 0\text{)} \\
    m_t &\leftarrow \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad
        v_t \leftarrow \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2 \\
    \hat m_t &\leftarrow m_t / (1 - \beta_1^t) \\
    \rho_\infty &= \frac{2}{1 - \beta_2} - 1, \qquad
        \rho_t = \rho_\infty - \frac{2 t \beta_2^t}{1 - \beta_2^t} \\
    l_t &= \dfrac{\sqrt{1 - \beta_2^t}}{\sqrt{v_t} + \epsilon} \\
    r_t &= \sqrt{\dfrac{(\rho_t - 4)(\rho_t - 2)\,\rho_\infty}{(\rho_\infty - 4)(\rho_\infty - 2)\,\rho_t}} \\
    \theta_t &\leftarrow \begin{cases}
        \theta_{t-1} - \eta\, \hat m_t\, r_t\, l_t & \text{if } \rho_t > 5 \\
        \theta_{t-1} - \eta\, \hat m_t & \text{otherwise} \\
        & \text{(un-adapted: SGD with momentum)}
    \end{cases}

:math:`\rho_t` (:func:`rho`) is the length of the simple moving average that the exponential average
:math:`v_t` approximates; :math:`r_t` (:func:`rectification`) is the factor that makes the variance of the
adaptive step :math:`\sqrt{1/\hat v_t}` equal to its limit as :math:`t \to \infty`, where
:math:`\rho_t \to \rho_\infty` and :math:`r_t \to 1`. For :math:`\beta_2 = 0.999` the first adaptive step is
:math:`t = 6` (:math:`\rho_5 \approx 4.996`, :math:`\rho_6 \approx 5.994`).

Defaults are PyTorch's: ``lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8``.

Where this sits among the paper and the frameworks:

* **Threshold** :math:`\rho_t > 5`, as PyTorch. The paper's Algorithm 2 adapts once :math:`\rho_t > 4` (for
  :math:`\beta_2 = 0.999` from :math:`t = 5` on, with :math:`r_5 \approx 0.017`); the authors' code uses
  ``N_sma >= 5`` "since it's an approximated value".
* **eps** is added to :math:`\sqrt{v_t}` *before* the bias correction :math:`\sqrt{1-\beta_2^t}` (as Keras's
  :math:`\hat\epsilon`), unlike this library's and PyTorch's Adam, which add it to :math:`\sqrt{\hat v_t}`. The
  paper has no :math:`\epsilon`: :math:`l_t = \sqrt{(1 - \beta_2^t)/v_t}`.
* ``weight_decay`` is **L2** by default; with ``decoupled_weight_decay=True`` it is AdamW's
  :math:`\theta \leftarrow \theta(1 - \eta\lambda_{\mathrm{wd}})` before the step ("RAdamW", closer to the
  authors' code).
* Non-finite gradients are not caught: a NaN or inf propagates into ``m``, ``v`` and ``theta`` as in torch.

Example::

    >>> import numpy as np
    >>> from adamcourse.optim import radam
    >>> theta = np.array([1.0, -2.0]); state = radam.init(theta)
    >>> theta, state = radam.step(theta, 2 * theta, state, lr=0.1)   # f = |theta|^2
    >>> theta                                   # rho_1 = 1 <= 5: un-adapted, -lr * m_hat_1 = -lr * g_1
    array([ 0.8, -1.6])
    >>> round(rho(6, 0.999), 4), round(rectification(6, 0.999), 4), rectification(5, 0.999)
    (5.9942, 0.0258, nan)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._common import Array, add_scaled, check_betas, check_range, document_fields, hyperparameters, sqrt, zeros_like
from ._torch import FunctionalOptimizer


class RAdamState(NamedTuple):
    t: int             # steps taken so far
    m: Array           # first moment estimate m_t (torch: exp_avg)
    v: Array           # second raw moment estimate v_t (torch: exp_avg_sq)


document_fields(
    RAdamState, t=r":math:`t`, the number of steps taken (``step`` in torch).",
    m=r":math:`m_t`, the first moment, a moving average of :math:`g_t` (``exp_avg`` in torch).",
    v=r":math:`v_t`, the second moment, a moving average of :math:`g_t^2` (``exp_avg_sq`` in torch).")


def rho_inf(beta2: float) -> float:
    r""":math:`\rho_\infty = 2/(1-\beta_2) - 1`, the length of the simple moving average that an exponential
    average with decay :math:`\beta_2` approximates (1999 for :math:`\beta_2 = 0.999`)."""
    check_range("beta2", beta2, 0.0, 1.0)
    return 2 / (1 - beta2) - 1


def _t_array(t) -> np.ndarray:
    a = np.asarray(t)
    if a.dtype == bool or not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a) or not np.all(
            (a >= 1) & (a == np.floor(a))):
        raise ValueError(f"Invalid t: {t!r} (t must be an integer >= 1, the 1-based index of the step)")
    return a


def rho(t, beta2: float):
    r""":math:`\rho_t = \rho_\infty - 2 t \beta_2^t / (1 - \beta_2^t)`, computed as torch does; ``t`` an integer
    :math:`\ge 1` or an array of them (then an array comes back). :math:`\rho_1 = 1`, and :math:`\rho_t` rises
    to :math:`\rho_\infty` as :math:`t \to \infty`."""
    a = _t_array(t)
    r = rho_inf(beta2) - 2 * a * beta2**a / (1 - beta2**a)
    return float(r) if np.ndim(r) == 0 else r


def rectification(t, beta2: float, *, threshold: float = 5.0):
    r""":math:`r_t = \sqrt{(\rho_t - 4)(\rho_t - 2)\rho_\infty / ((\rho_\infty - 4)(\rho_\infty - 2)\rho_t)}`
    where :math:`\rho_t >` ``threshold`` (PyTorch's 5; the paper's 4, the least value for which the formula is
    real), and ``nan`` elsewhere, where :func:`step` takes the un-adapted step. :math:`r_t < 1` and
    :math:`r_t \to 1` as :math:`t \to \infty`. ``t`` an integer :math:`\ge 1` or an array of them."""
    check_range("threshold", threshold, 4.0)
    p, p_inf = np.asarray(rho(t, beta2)), rho_inf(beta2)
    with np.errstate(all="ignore"):
        r = np.where(p > threshold, ((p - 4) * (p - 2) * p_inf / ((p_inf - 4) * (p_inf - 2) * p)) ** 0.5, np.nan)
    return float(r) if np.ndim(r) == 0 else r


def init(theta: Array) -> RAdamState:
    """m_0 = v_0 = 0, t = 0."""
    return RAdamState(t=0, m=zeros_like(theta), v=zeros_like(theta))


@hyperparameters
def step(theta: Array, grad: Array, state: RAdamState, *, lr: float = 1e-3, beta1: float = 0.9,
         beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0, decoupled_weight_decay: bool = False,
         maximize: bool = False) -> tuple[Array, RAdamState]:
    """One RAdam step; returns the new ``(theta, state)`` and leaves its inputs untouched."""
    check_range("lr", lr, 0.0)
    check_range("eps", eps, 0.0)
    check_range("weight_decay", weight_decay, 0.0)
    check_betas(beta1, beta2)
    t = state.t + 1
    g = -grad if maximize else grad
    if weight_decay and decoupled_weight_decay:
        theta = theta * (1 - lr * weight_decay)          # RAdamW: theta <- theta (1 - eta lambda_wd)
    elif weight_decay:
        g = add_scaled(g, theta, weight_decay)           # L2: g_t <- g_t + lambda_wd theta_{t-1}
    m = beta1 * state.m + (1 - beta1) * g                # m_t
    v = beta2 * state.v + (1 - beta2) * g * g            # v_t
    m_hat = m / (1 - beta1**t)                           # bias-corrected m_t
    bc2 = 1 - beta2**t
    p_inf = 2 / (1 - beta2) - 1                          # rho_inf
    p = p_inf - 2 * t * beta2**t / bc2                   # rho_t (torch's arithmetic, as rho())
    if p > 5:
        r_t = ((p - 4) * (p - 2) * p_inf / ((p_inf - 4) * (p_inf - 2) * p)) ** 0.5
        l_t = bc2**0.5 / (sqrt(v) + eps)                 # l_t = sqrt(1 - beta2^t) / (sqrt(v_t) + eps)
        theta = theta - m_hat * lr * l_t * r_t           # theta_t, adaptive and rectified
    else:
        theta = theta - m_hat * lr                       # theta_t, un-adapted
    return theta, RAdamState(t=t, m=m, v=v)


class RAdam(FunctionalOptimizer):
    """Drop-in for :class:`torch.optim.RAdam` (same signature, defaults, state keys and results), running
    :func:`step` on each parameter, also for complex parameters. Only the single-tensor path:
    ``foreach``/``capturable``/``differentiable`` must stay off."""

    state_keys = {"m": "exp_avg", "v": "exp_avg_sq"}

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults, foreach=foreach, capturable=capturable,
                         differentiable=differentiable)
