r"""Adam (Kingma & Ba, 2015, Algorithm 1), with PyTorch's options.

For :math:`t = 1, 2, \dots`, element-wise, with :math:`\eta` = ``lr`` (Kingma & Ba write :math:`\alpha`):

.. math::

    g_t &\leftarrow \nabla f(\theta_{t-1}) + \lambda_{\mathrm{wd}}\,\theta_{t-1}
        \quad\text{(L2 term only if weight\_decay} = \lambda_{\mathrm{wd}} > 0\text{)} \\
    m_t &\leftarrow \beta_1 m_{t-1} + (1 - \beta_1)\, g_t \\
    v_t &\leftarrow \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2 \\
    \hat m_t &\leftarrow m_t / (1 - \beta_1^t), \qquad \hat v_t \leftarrow v_t / (1 - \beta_2^t) \\
    \theta_t &\leftarrow \theta_{t-1} - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)

Defaults are the paper's and PyTorch's: ``lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8``.

Where this sits among the frameworks:

* **eps outside the square root, after bias correction** -- Algorithm 1 exactly, as in PyTorch and optax.
  Keras and TF1 use the paper's "efficient" form
  :math:`\theta_t \leftarrow \theta_{t-1} - \eta\sqrt{1-\beta_2^t}/(1-\beta_1^t)\; m_t / (\sqrt{v_t} + \hat\epsilon)`
  with a constant :math:`\hat\epsilon` (default 1e-7), which equals Algorithm 1 only when
  :math:`\hat\epsilon = \epsilon\sqrt{1-\beta_2^t}`.
* **AMSGrad as PyTorch and Keras do it**: :math:`v^{\max}_t = \max(v^{\max}_{t-1}, v_t)` over the *raw*
  :math:`v`, then divided by the *current* :math:`1-\beta_2^t`; :math:`m` stays bias-corrected. Reddi et al.'s
  Algorithm 2 has no bias correction and no eps; optax takes the max of :math:`\hat v`.
* ``weight_decay`` is **L2** (added to the gradient before the moments), as in ``torch.optim.Adam``. With
  ``decoupled_weight_decay=True`` it is AdamW's :math:`\theta \leftarrow \theta(1 - \eta\lambda_{\mathrm{wd}})` instead
  (see :mod:`adamcourse.optim.adamw`).
* Non-finite gradients are not caught: a NaN or inf propagates into ``m``, ``v`` and ``theta`` as in torch.

Example::

    >>> import numpy as np
    >>> from adamcourse.optim import adam
    >>> theta = np.array([1.0, -2.0]); state = adam.init(theta)
    >>> theta, state = adam.step(theta, 2 * theta, state, lr=0.1)   # f = |theta|^2
    >>> theta                                   # first step = -lr * g / (|g| + eps) ~ -lr * sign(g)
    array([ 0.9, -1.9])
"""

from __future__ import annotations

from typing import NamedTuple

from ._common import (
    Array,
    add_scaled,
    check_betas,
    check_range,
    document_fields,
    hyperparameters,
    maximum,
    sqrt,
    zeros_like,
)
from ._torch import FunctionalOptimizer


class AdamState(NamedTuple):
    t: int             # steps taken so far
    m: Array           # first moment estimate m_t (torch: exp_avg)
    v: Array           # second raw moment estimate v_t (torch: exp_avg_sq)
    v_max: Array | None = None  # max over s <= t of v_s, AMSGrad only (torch: max_exp_avg_sq)


document_fields(
    AdamState, t=r":math:`t`, the number of steps taken (``step`` in torch).",
    m=r":math:`m_t`, the first moment, a moving average of :math:`g_t` (``exp_avg`` in torch).",
    v=r":math:`v_t`, the second moment, a moving average of :math:`g_t^2` (``exp_avg_sq`` in torch).",
    v_max=r":math:`v^{\max}_t = \max_{s \le t} v_s`; None unless amsgrad (``max_exp_avg_sq`` in torch).")


def init(theta: Array) -> AdamState:
    """m_0 = v_0 = 0, t = 0."""
    return AdamState(t=0, m=zeros_like(theta), v=zeros_like(theta))


@hyperparameters
def step(theta: Array, grad: Array, state: AdamState, *, lr: float = 1e-3, beta1: float = 0.9,
         beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False,
         maximize: bool = False, decoupled_weight_decay: bool = False) -> tuple[Array, AdamState]:
    """One Adam step; returns the new ``(theta, state)`` and leaves its inputs untouched."""
    check_range("lr", lr, 0.0)
    check_range("eps", eps, 0.0)
    check_range("weight_decay", weight_decay, 0.0)
    check_betas(beta1, beta2)
    t = state.t + 1
    g = -grad if maximize else grad
    if weight_decay and decoupled_weight_decay:
        theta = theta * (1 - lr * weight_decay)          # AdamW: theta <- theta (1 - eta lambda_wd)
    elif weight_decay:
        g = add_scaled(g, theta, weight_decay)           # L2: g_t <- g_t + lambda_wd theta_{t-1}
    m = beta1 * state.m + (1 - beta1) * g                # m_t
    v = beta2 * state.v + (1 - beta2) * g * g            # v_t
    v_max = None
    if amsgrad:                                          # v_max_t = max(v_max_{t-1}, v_t), raw v
        v_max = v if state.v_max is None else maximum(state.v_max, v)
    m_hat = m / (1 - beta1**t)                           # bias corrections
    v_hat = (v_max if amsgrad else v) / (1 - beta2**t)
    theta = theta - lr * m_hat / (sqrt(v_hat) + eps)     # theta_t
    return theta, AdamState(t=t, m=m, v=v, v_max=v_max)


class Adam(FunctionalOptimizer):
    """Drop-in for :class:`torch.optim.Adam` (same signature, defaults, state keys and results), running
    :func:`step` on each parameter, also for complex parameters. Only the single-tensor path:
    ``foreach``/``fused``/``capturable``/``differentiable`` must stay off."""

    state_keys = {"m": "exp_avg", "v": "exp_avg_sq", "v_max": "max_exp_avg_sq"}

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults, foreach=foreach, fused=fused, capturable=capturable,
                         differentiable=differentiable)
