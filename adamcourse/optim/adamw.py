r"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019, Algorithm 2), as PyTorch scales it.

The paper, with schedule multiplier :math:`s_t` (the paper's :math:`\eta_t`), step size :math:`\alpha` and decay
:math:`\lambda_{\mathrm{wd}}`
(for :math:`t = 1, 2, \dots`, element-wise, :math:`\hat m_t, \hat v_t` as in :mod:`adamcourse.optim.adam`,
and no L2 term in :math:`g_t`):

.. math::

    \theta_t \leftarrow \theta_{t-1} - s_t \left( \alpha\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)
        + \lambda_{\mathrm{wd}}\, \theta_{t-1} \right)

PyTorch (and this module), with :math:`\eta` = ``lr`` the scheduled learning rate and :math:`\lambda_{\mathrm{wd}}` =
``weight_decay``, decays first and then takes the Adam step:

.. math::

    \theta_t \leftarrow \theta_{t-1} (1 - \eta\lambda_{\mathrm{wd}}) - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)

With :math:`\eta = s_t\alpha` the two agree if
:math:`\lambda_\mathrm{wd}^\text{torch} = \lambda_\mathrm{wd}^\text{paper} / \alpha`: PyTorch scales the decay by
the whole learning rate, the paper by the schedule :math:`s_t` only.

Defaults are PyTorch's: ``lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2``.

Where this sits among the frameworks:

* **Decay scaled by lr**: Keras's ``AdamW`` applies ``var -= var * weight_decay * lr`` before the update, and
  optax's ``adamw`` is ``add_decayed_weights`` followed by scaling by ``-lr``; both are PyTorch's
  :math:`\theta(1 - \eta\lambda_{\mathrm{wd}})`. Their default ``weight_decay`` differs (0.004 in Keras, 1e-4 in optax).
* Everything else (eps outside the square root, AMSGrad) is :mod:`adamcourse.optim.adam`'s: this module is
  ``adam.step(..., decoupled_weight_decay=True)`` with AdamW's default ``weight_decay``, and
  ``torch.optim.AdamW`` is likewise ``torch.optim.Adam(..., decoupled_weight_decay=True)``.
* Non-finite gradients are not caught: a NaN or inf propagates into ``m``, ``v`` and ``theta`` as in torch.

Example::

    >>> import numpy as np
    >>> from adamcourse.optim import adamw
    >>> theta = np.array([1.0, -2.0]); state = adamw.init(theta)
    >>> theta, state = adamw.step(theta, np.zeros(2), state, lr=0.1, weight_decay=0.5)
    >>> theta                                   # zero gradient: only the decay acts, theta (1 - lr * weight_decay)
    array([ 0.95, -1.9 ])
"""

from __future__ import annotations

from . import adam
from ._common import Array, hyperparameters
from ._torch import FunctionalOptimizer

AdamWState = adam.AdamState
init = adam.init


@hyperparameters
def step(theta: Array, grad: Array, state: AdamWState, *, lr: float = 1e-3, beta1: float = 0.9,
         beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False,
         maximize: bool = False) -> tuple[Array, AdamWState]:
    """One AdamW step; returns the new ``(theta, state)`` and leaves its inputs untouched."""
    return adam.step(theta, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                     amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)


class AdamW(FunctionalOptimizer):
    """Drop-in for :class:`torch.optim.AdamW` (same signature, defaults, state keys and results), running
    :func:`step` on each parameter, also for complex parameters. Only the single-tensor path:
    ``foreach``/``fused``/``capturable``/``differentiable`` must stay off."""

    state_keys = adam.Adam.state_keys

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=True)  # as torch's AdamW group
        super().__init__(params, defaults, foreach=foreach, fused=fused, capturable=capturable,
                         differentiable=differentiable)

    def __setstate__(self, state):
        """As torch's AdamW: the decay stays decoupled, also after loading an Adam state dict."""
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
