r"""Adamax (Kingma & Ba, 2015, Section 7.1, Algorithm 2), with PyTorch's options.

Adam with the :math:`L^2` norm of past gradients replaced by the :math:`L^\infty` norm. For
:math:`t = 1, 2, \dots`, element-wise, with :math:`\eta` = ``lr`` (Kingma & Ba write :math:`\alpha`), from
:math:`m_0 = u_0 = 0`:

.. math::

    g_t &\leftarrow \nabla f(\theta_{t-1}) + \lambda_{\mathrm{wd}}\,\theta_{t-1}
        \quad\text{(L2 term only if weight\_decay} = \lambda_{\mathrm{wd}} > 0\text{)} \\
    m_t &\leftarrow \beta_1 m_{t-1} + (1 - \beta_1)\, g_t \\
    u_t &\leftarrow \max(\beta_2 u_{t-1},\ |g_t| + \epsilon) \\
    \theta_t &\leftarrow \theta_{t-1} - \frac{\eta}{1 - \beta_1^t}\, m_t / u_t

:math:`u_t` needs no bias correction: started from 0, the max is not biased towards 0 the way an average is.

Defaults are the paper's and PyTorch's: ``lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8``.

Where this sits among the frameworks:

* **eps inside the max**, as in PyTorch and optax. The paper has no :math:`\epsilon` at all
  (:math:`u_t = \max(\beta_2 u_{t-1}, |g_t|)`, which is 0, and the step 0/0, for an element whose gradients
  have all been 0); Keras keeps the paper's :math:`u_t` and divides by :math:`u_t + \epsilon` instead, with
  ``epsilon=1e-7``.
* ``weight_decay`` is **L2** (added to the gradient before the moments), as in ``torch.optim.Adamax``.
* Non-finite gradients are not caught: a NaN or inf propagates into ``m``, ``u`` and ``theta`` as in torch.

Example::

    >>> import numpy as np
    >>> from adamcourse.optim import adamax
    >>> theta = np.array([1.0, -2.0]); state = adamax.init(theta)
    >>> theta, state = adamax.step(theta, 2 * theta, state, lr=0.1)   # f = |theta|^2
    >>> theta                                   # first step = -lr * g / (|g| + eps) ~ -lr * sign(g)
    array([ 0.9, -1.9])
    >>> state.u                                 # u_1 = |g_1| + eps: the eps sits inside the max
    array([2.00000001, 4.00000001])
"""

from __future__ import annotations

from typing import NamedTuple

from ._common import Array, add_scaled, check_betas, check_range, document_fields, hyperparameters, maximum, zeros_like
from ._torch import FunctionalOptimizer


class AdamaxState(NamedTuple):
    t: int             # steps taken so far
    m: Array           # first moment estimate m_t (torch: exp_avg)
    u: Array           # exponentially weighted infinity norm u_t (torch: exp_inf)


document_fields(
    AdamaxState, t=r":math:`t`, the number of steps taken (``step`` in torch).",
    m=r":math:`m_t`, the first moment, a moving average of :math:`g_t` (``exp_avg`` in torch).",
    u=r":math:`u_t`, the exponentially weighted infinity norm of past gradients (``exp_inf`` in torch).")


def init(theta: Array) -> AdamaxState:
    """m_0 = u_0 = 0, t = 0."""
    return AdamaxState(t=0, m=zeros_like(theta), u=zeros_like(theta))


@hyperparameters
def step(theta: Array, grad: Array, state: AdamaxState, *, lr: float = 2e-3, beta1: float = 0.9,
         beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0,
         maximize: bool = False) -> tuple[Array, AdamaxState]:
    """One Adamax step; returns the new ``(theta, state)`` and leaves its inputs untouched."""
    check_range("lr", lr, 0.0)
    check_range("eps", eps, 0.0)
    check_range("weight_decay", weight_decay, 0.0)
    check_betas(beta1, beta2)
    t = state.t + 1
    g = -grad if maximize else grad
    if weight_decay:
        g = add_scaled(g, theta, weight_decay)           # L2: g_t <- g_t + lambda_wd theta_{t-1}
    m = beta1 * state.m + (1 - beta1) * g                # m_t
    u = maximum(beta2 * state.u, abs(g) + eps)           # u_t
    theta = theta - (lr / (1 - beta1**t)) * m / u        # theta_t
    return theta, AdamaxState(t=t, m=m, u=u)


class Adamax(FunctionalOptimizer):
    """Drop-in for :class:`torch.optim.Adamax` (same signature, defaults, state keys and results), running
    :func:`step` on each parameter, also for complex parameters. Only the single-tensor path:
    ``foreach``/``capturable``/``differentiable`` must stay off."""

    state_keys = {"m": "exp_avg", "u": "exp_inf"}

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults, foreach=foreach, capturable=capturable,
                         differentiable=differentiable)
