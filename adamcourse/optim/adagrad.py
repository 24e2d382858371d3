r"""Adagrad (Duchi, Hazan & Singer, 2011), diagonal version, with PyTorch's options.

For :math:`t = 1, 2, \dots`, element-wise, with :math:`\eta` = ``lr``, :math:`d` = ``lr_decay``,
:math:`\epsilon` = ``eps`` (the paper's :math:`\delta`) and :math:`G_0` = ``initial_accumulator_value``:

.. math::

    g_t &\leftarrow \nabla f(\theta_{t-1}) + \lambda_{\mathrm{wd}}\,\theta_{t-1}
        \quad\text{(L2 term only if weight\_decay} = \lambda_{\mathrm{wd}} > 0\text{)} \\
    \eta_t &\leftarrow \eta / (1 + (t - 1)\,d) \\
    G_t &\leftarrow G_{t-1} + g_t^2 \\
    \theta_t &\leftarrow \theta_{t-1} - \eta_t\, g_t / (\sqrt{G_t} + \epsilon)

:math:`G_t` is the diagonal of the paper's :math:`\sum_{s \le t} g_s g_s^\top`, and
:math:`\sqrt{G_t} + \epsilon` is its :math:`\operatorname{diag}(s_t) + \delta I`.

Defaults are PyTorch's: ``lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10``.

Where this sits among the frameworks:

* **eps outside the square root**, as in the paper (its :math:`\delta`) and PyTorch. Keras and optax compute
  :math:`g_t / \sqrt{G_t + \epsilon}` with ``epsilon=1e-7`` and start from :math:`G_0 = 0.1`; optax
  also leaves elements whose :math:`G_t` is 0 unchanged.
* ``lr_decay`` (the :math:`1/(1 + (t-1)d)` schedule) is PyTorch's own addition; it is not in the paper.
* ``initial_accumulator_value`` is an option of :func:`init`, not of :func:`step`. PyTorch reads it from
  the constructor for every parameter group; :class:`Adagrad` reads it from each group.
* **Sparse gradients** (torch tensors) update only the entries they hold, as in PyTorch: the gradient is
  coalesced (an index listed twice is summed before squaring), :math:`G_t` grows and :math:`\theta_t` moves at
  those entries only. ``weight_decay`` needs dense gradients there, as in PyTorch.
* Non-finite gradients are not caught: a NaN or inf propagates into ``G`` and ``theta`` as in torch.

Example::

    >>> import numpy as np
    >>> from adamcourse.optim import adagrad
    >>> theta = np.array([1.0, -2.0]); state = adagrad.init(theta)
    >>> theta, state = adagrad.step(theta, 2 * theta, state, lr=0.1)   # f = |theta|^2
    >>> theta                                   # first step = -lr * g / |g| = -lr * sign(g)
    array([ 0.9, -1.9])
    >>> state.G                                 # G_1 = g_1^2
    array([ 4., 16.])
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ._common import Array, add_scaled, check_range, document_fields, full_like, hyperparameters, is_torch, sqrt
from ._torch import FunctionalOptimizer


class AdagradState(NamedTuple):
    t: int             # steps taken so far
    G: Array           # sum of squared gradients G_t (torch: sum)


document_fields(
    AdagradState, t=r":math:`t`, the number of steps taken (``step`` in torch).",
    G=r":math:`G_t = G_0 + \sum_{s \le t} g_s^2`, the accumulator of squared gradients (``sum`` in torch).")


def init(theta: Array, *, initial_accumulator_value: float = 0.0) -> AdagradState:
    """G_0 = initial_accumulator_value, t = 0."""
    check_range("initial_accumulator_value", initial_accumulator_value, 0.0)
    return AdagradState(t=0, G=full_like(theta, initial_accumulator_value))


@hyperparameters(sparse=True)
def step(theta: Array, grad: Array, state: AdagradState, *, lr: float = 1e-2, lr_decay: float = 0.0,
         weight_decay: float = 0.0, eps: float = 1e-10,
         maximize: bool = False) -> tuple[Array, AdagradState]:
    """One Adagrad step; returns the new ``(theta, state)`` and leaves its inputs untouched."""
    check_range("lr", lr, 0.0)
    check_range("lr_decay", lr_decay, 0.0)
    check_range("weight_decay", weight_decay, 0.0)
    check_range("eps", eps, 0.0)
    t = state.t + 1
    g = -grad if maximize else grad
    eta_t = lr / (1 + (t - 1) * lr_decay)                # eta_t
    if is_torch(g) and g.is_sparse:
        if weight_decay:
            raise RuntimeError("weight_decay option is not compatible with sparse gradients")
        theta, G = _sparse_update(theta, g.coalesce(), state.G, eta_t, eps)
        return theta, AdagradState(t=t, G=G)
    if weight_decay:
        g = add_scaled(g, theta, weight_decay)           # L2: g_t <- g_t + lambda_wd theta_{t-1}
    G = state.G + g * g                                  # G_t
    theta = theta - eta_t * g / (sqrt(G) + eps)          # theta_t
    return theta, AdagradState(t=t, G=G)


def _sparse_update(theta, g, G, eta_t, eps):
    """The same two lines at the entries a coalesced sparse ``g`` holds (torch's sparse Adagrad)."""
    G = G + g * g                                        # G_t (dense + sparse: the held entries grow)
    root = G.sparse_mask(g).values().sqrt() + eps        # sqrt(G_t) + eps at those entries
    theta = theta - eta_t * torch.sparse_coo_tensor(g.indices(), g.values() / root, g.shape)  # theta_t
    return theta, G


class Adagrad(FunctionalOptimizer):
    """Drop-in for :class:`torch.optim.Adagrad` (same signature, defaults, state keys and results), running
    :func:`step` on each parameter, also for sparse gradients and complex parameters. Only the single-tensor
    path: ``foreach``/``fused``/``differentiable`` must stay off. The state is created on a parameter's first
    step (torch creates it in the constructor)."""

    state_keys = {"G": "sum"}

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults, foreach=foreach, fused=fused, differentiable=differentiable)
