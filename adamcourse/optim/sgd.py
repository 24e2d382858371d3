r"""Stochastic gradient descent with momentum (Polyak, 1964) and Nesterov momentum (Sutskever et al., 2013).

Written as PyTorch does it, with :math:`\eta` = ``lr``, :math:`\beta` = ``momentum``, :math:`\tau` =
``dampening`` and :math:`\lambda_{\mathrm{wd}}` = ``weight_decay``. For :math:`t = 1, 2, \dots`, element-wise:

.. math::

    g_t &\leftarrow \nabla f(\theta_{t-1}) + \lambda_{\mathrm{wd}}\,\theta_{t-1}
        \quad\text{(L2 term only if } \lambda_{\mathrm{wd}} > 0\text{)} \\
    b_t &\leftarrow \begin{cases} g_t & t = 1 \\ \beta\, b_{t-1} + (1 - \tau)\, g_t & t > 1 \end{cases}
        \quad\text{(only if } \beta > 0\text{)} \\
    d_t &\leftarrow \begin{cases} g_t + \beta\, b_t & \text{nesterov} \\ b_t & \text{otherwise} \end{cases}
        \qquad (d_t = g_t \text{ if } \beta = 0) \\
    \theta_t &\leftarrow \theta_{t-1} - \eta\, d_t

Defaults are PyTorch 2.13's: ``lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False``.

Where this sits among the frameworks:

* **lr outside the momentum buffer**, as in PyTorch and optax (``trace``, then scaling by ``-lr``).
  Sutskever et al. and Keras keep the learning rate inside the buffer, :math:`b_t = \beta b_{t-1} - \eta g_t`
  (their velocity); the two agree while :math:`\eta` is constant and differ as soon as a schedule changes it.
* **The first step sets** :math:`b_1 = g_1` (no dampening), as PyTorch does; Keras and optax have no dampening
  and start from :math:`b_0 = 0`, which gives the same :math:`b_1`.
* **Nesterov** is Sutskever et al.'s look-ahead rewritten at the current point,
  :math:`d_t = g_t + \beta b_t`, as in PyTorch, Keras and optax. It needs :math:`\beta > 0` and :math:`\tau = 0`.
* ``dampening`` is not range-checked (PyTorch does not check it either).
* **Sparse gradients** work as in PyTorch: every formula above runs unchanged on a sparse :math:`g_t`
  (:math:`b_t` is then sparse too), except the L2 term, which PyTorch cannot add to a sparse gradient either.
* Non-finite gradients are not caught: a NaN or inf propagates into ``b`` and ``theta`` as in torch.

Example::

    >>> import numpy as np
    >>> from adamcourse.optim import sgd
    >>> theta = np.array([1.0, -2.0]); state = sgd.init(theta)
    >>> for _ in range(2):                                 # f = |theta|^2, so the gradient is 2 theta
    ...     theta, state = sgd.step(theta, 2 * theta, state, lr=0.1, momentum=0.5)
    >>> theta                 # b_1 = g_1, theta_1 = 0.8 theta_0; b_2 = 0.5 b_1 + g_2 = 2.6 theta_0
    array([ 0.54, -1.08])
"""

from __future__ import annotations

import math
from typing import NamedTuple

from ._common import Array, add_scaled, check_range, document_fields, hyperparameters
from ._torch import FunctionalOptimizer


class SGDState(NamedTuple):
    t: int                      # steps taken so far
    b: Array | None = None      # momentum buffer b_t, None until momentum is on (torch: momentum_buffer)


document_fields(
    SGDState, t=r":math:`t`, the number of steps taken (not stored, as torch.optim.SGD keeps none).",
    b=r":math:`b_t`, the momentum buffer; None until a step with momentum > 0 (``momentum_buffer`` in torch).")


def init(theta: Array) -> SGDState:
    """t = 0; the momentum buffer is created by the first :func:`step` that needs it."""
    return SGDState(t=0)


@hyperparameters(sparse=True)
def step(theta: Array, grad: Array, state: SGDState, *, lr: float = 1e-3, momentum: float = 0.0,
         dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
         maximize: bool = False) -> tuple[Array, SGDState]:
    """One SGD step; returns the new ``(theta, state)`` and leaves its inputs untouched."""
    check_range("lr", lr, 0.0)
    check_range("momentum", momentum, 0.0)
    check_range("dampening", dampening, -math.inf)
    check_range("weight_decay", weight_decay, 0.0)
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(f"Nesterov momentum requires a momentum and zero dampening: nesterov=True needs "
                         f"momentum > 0 and dampening == 0, got momentum={momentum!r}, dampening={dampening!r}")
    g = -grad if maximize else grad
    if weight_decay:
        g = add_scaled(g, theta, weight_decay)           # L2: g_t <- g_t + lambda_wd theta_{t-1}
    b = state.b                                          # kept as it is while momentum == 0, as in torch
    if momentum:
        if b is None:
            b = g * 1.0                                  # b_1 = g_1 (a copy: the state never aliases grad)
        else:
            b = momentum * b + (1 - dampening) * g       # b_t
        g = g + momentum * b if nesterov else b          # d_t
    theta = theta - lr * g                               # theta_t
    return theta, SGDState(t=state.t + 1, b=b)


class SGD(FunctionalOptimizer):
    """Drop-in for :class:`torch.optim.SGD` (same signature, defaults, state keys and results), running
    :func:`step` on each parameter, also for sparse gradients and complex parameters. Only the single-tensor
    path: ``foreach``/``fused``/``differentiable`` must stay off."""

    state_keys = {"b": "momentum_buffer", "t": None}  # torch.optim.SGD keeps no step count

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults, foreach=foreach, fused=fused, differentiable=differentiable)

    def __setstate__(self, state):
        """As torch's SGD: a state dict without ``fused`` gets ``fused=False`` (not the constructor's None)."""
        for group in state.get("param_groups", []):
            group.setdefault("fused", False)
        super().__setstate__(state)
