r"""NAdam: Adam with Nesterov momentum (Dozat, 2016), with its momentum schedule, as PyTorch implements it.

For :math:`t = 1, 2, \dots`, element-wise, with :math:`\eta` = ``lr`` and :math:`\psi` = ``momentum_decay``,
from :math:`m_0 = v_0 = 0`:

.. math::

    g_t &\leftarrow \nabla f(\theta_{t-1}) + \lambda_{\mathrm{wd}}\,\theta_{t-1}
        \quad\text{(L2 term only if weight\_decay} = \lambda_{\mathrm{wd}} > 0\text{)} \\
    \beta_{1,t} &\leftarrow \beta_1 \left(1 - \tfrac12\, 0.96^{t\psi}\right), \qquad
        \beta_{1,t+1} \leftarrow \beta_1 \left(1 - \tfrac12\, 0.96^{(t+1)\psi}\right) \\
    m_t &\leftarrow \beta_1 m_{t-1} + (1 - \beta_1)\, g_t \\
    v_t &\leftarrow \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2 \\
    \hat m_t &\leftarrow \frac{(1 - \beta_{1,t})\, g_t}{1 - \prod_{i=1}^{t} \beta_{1,i}}
        + \frac{\beta_{1,t+1}\, m_t}{1 - \prod_{i=1}^{t+1} \beta_{1,i}}, \qquad
        \hat v_t \leftarrow v_t / (1 - \beta_2^t) \\
    \theta_t &\leftarrow \theta_{t-1} - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)

The Nesterov look-ahead is the :math:`\beta_{1,t+1} m_t` term: the momentum step of :math:`t+1` is taken
now. The schedule :math:`\beta_{1,t}` (Dozat's and torch's :math:`\mu_t`) warms the momentum up from
:math:`\beta_1/2` towards :math:`\beta_1`; the state keeps the running product
:math:`\prod_{i \le t} \beta_{1,i}` as ``mu_product``: a Python float here, and, as in torch, a 0-d float32 tensor
(float64 if that is the default dtype) in :class:`NAdam`, rounded at every step.

Defaults are PyTorch's: ``lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, momentum_decay=4e-3`` (Dozat's
:math:`0.96^{t/250}`).

Where this sits among the frameworks:

* **eps outside the square root, after bias correction**, as in Adam (:mod:`adamcourse.optim.adam`).
* **Momentum schedule**: PyTorch's, with :math:`\psi = 0.004`. Keras 3's ``Nadam`` uses :math:`0.96^t`
  (:math:`\psi = 1`, so :math:`\beta_{1,t}` reaches :math:`\beta_1` within about a hundred steps) with ``lr=1e-3``
  and ``epsilon=1e-7``; optax's ``nadam`` has no schedule (:math:`\beta_{1,t} = \beta_1`), which no value of
  :math:`\psi` reproduces.
* ``weight_decay`` is **L2** by default; with ``decoupled_weight_decay=True`` it is AdamW's
  :math:`\theta \leftarrow \theta(1 - \eta\lambda_{\mathrm{wd}})` instead ("NAdamW"), applied before the step.
* Non-finite gradients are not caught: a NaN or inf propagates into ``m``, ``v`` and ``theta`` as in torch.

Example::

    >>> import numpy as np
    >>> from adamcourse.optim import nadam
    >>> theta = np.array([1.0, -2.0]); state = nadam.init(theta)
    >>> theta, state = nadam.step(theta, 2 * theta, state, lr=0.1)   # f = |theta|^2
    >>> theta                   # -lr * sign(g) from the g_1 term, plus the look-ahead term in mu_2 m_1
    array([ 0.89435482, -1.89435482])
    >>> round(state.mu_product, 6)              # mu_1 = 0.9 (1 - 0.96^0.004 / 2)
    0.450073
"""

from __future__ import annotations

from typing import NamedTuple

from ._common import Array, add_scaled, check_betas, check_range, document_fields, hyperparameters, sqrt, zeros_like
from ._torch import FunctionalOptimizer


class NAdamState(NamedTuple):
    t: int             # steps taken so far
    mu_product: float | Array  # prod_{i <= t} mu_i, 1.0 at t = 0 (torch: mu_product, a 0-d tensor)
    m: Array           # first moment estimate m_t (torch: exp_avg)
    v: Array           # second raw moment estimate v_t (torch: exp_avg_sq)


document_fields(
    NAdamState, t=r":math:`t`, the number of steps taken (``step`` in torch).",
    mu_product=r":math:`\prod_{i \le t} \mu_i`, 1 at :math:`t = 0`; a float or a 0-d tensor (``mu_product`` in torch).",
    m=r":math:`m_t`, the first moment, a moving average of :math:`g_t` (``exp_avg`` in torch).",
    v=r":math:`v_t`, the second moment, a moving average of :math:`g_t^2` (``exp_avg_sq`` in torch).")


def init(theta: Array) -> NAdamState:
    """m_0 = v_0 = 0, empty product mu_product = 1, t = 0."""
    return NAdamState(t=0, mu_product=1.0, m=zeros_like(theta), v=zeros_like(theta))


@hyperparameters
def step(theta: Array, grad: Array, state: NAdamState, *, lr: float = 2e-3, beta1: float = 0.9,
         beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3,
         decoupled_weight_decay: bool = False, maximize: bool = False) -> tuple[Array, NAdamState]:
    """One NAdam step; returns the new ``(theta, state)`` and leaves its inputs untouched."""
    check_range("lr", lr, 0.0)
    check_range("eps", eps, 0.0)
    check_range("weight_decay", weight_decay, 0.0)
    check_range("momentum_decay", momentum_decay, 0.0)
    check_betas(beta1, beta2)
    t = state.t + 1
    g = -grad if maximize else grad
    if weight_decay and decoupled_weight_decay:
        theta = theta * (1 - lr * weight_decay)          # NAdamW: theta <- theta (1 - eta lambda_wd)
    elif weight_decay:
        g = add_scaled(g, theta, weight_decay)           # L2: g_t <- g_t + lambda_wd theta_{t-1}
    mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))             # beta_{1,t} (torch: mu)
    mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))  # mu_{t+1}
    mu_product = state.mu_product * mu                   # prod_{i <= t} mu_i (a tensor rounds as torch's)
    prod, prod_next = float(mu_product), float(mu_product) * mu_next   # prod_{i <= t}, prod_{i <= t+1}
    m = beta1 * state.m + (1 - beta1) * g                # m_t
    v = beta2 * state.v + (1 - beta2) * g * g            # v_t
    denom = sqrt(v / (1 - beta2**t)) + eps               # sqrt(v_hat_t) + eps
    theta = (theta - lr * (1 - mu) / (1 - prod) * g / denom                       # gradient part of m_hat_t
             - lr * mu_next / (1 - prod_next) * m / denom)                        # look-ahead part
    return theta, NAdamState(t=t, mu_product=mu_product, m=m, v=v)


class NAdam(FunctionalOptimizer):
    """Drop-in for :class:`torch.optim.NAdam` (same signature, defaults, state keys and results), running
    :func:`step` on each parameter, also for complex parameters. Only the single-tensor path:
    ``foreach``/``capturable``/``differentiable`` must stay off."""

    state_keys = {"mu_product": "mu_product", "m": "exp_avg", "v": "exp_avg_sq"}

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        super().__init__(params, defaults, foreach=foreach, capturable=capturable,
                         differentiable=differentiable)
