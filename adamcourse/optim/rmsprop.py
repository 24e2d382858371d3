r"""RMSprop (Tieleman & Hinton, 2012, Lecture 6e), centered variant of Graves (2013), with PyTorch's options.

For :math:`t = 1, 2, \dots`, element-wise, with :math:`\eta` = ``lr``, :math:`\alpha` = ``alpha`` and
:math:`\beta` = ``momentum``, from :math:`v_0 = \bar g_0 = b_0 = 0`:

.. math::

    g_t &\leftarrow \nabla f(\theta_{t-1}) + \lambda_{\mathrm{wd}}\,\theta_{t-1}
        \quad\text{(L2 term only if weight\_decay} = \lambda_{\mathrm{wd}} > 0\text{)} \\
    v_t &\leftarrow \alpha\, v_{t-1} + (1 - \alpha)\, g_t^2 \\
    \bar g_t &\leftarrow \alpha\, \bar g_{t-1} + (1 - \alpha)\, g_t
        \quad\text{(centered only)} \\
    \Delta_t &\leftarrow g_t / (\sqrt{v_t - \bar g_t^2} + \epsilon)
        \quad\text{(centered; otherwise } g_t / (\sqrt{v_t} + \epsilon)\text{)} \\
    b_t &\leftarrow \beta\, b_{t-1} + \Delta_t, \qquad \theta_t \leftarrow \theta_{t-1} - \eta\, b_t
        \quad\text{(if } \beta > 0\text{)} \\
    \theta_t &\leftarrow \theta_{t-1} - \eta\, \Delta_t \quad\text{(if } \beta = 0\text{)}

Defaults are PyTorch's: ``lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False``.
:math:`v_t` is not bias-corrected, so early steps are larger: the first one is
:math:`\eta / \sqrt{1 - \alpha} \approx 10\eta` per element.

Where this sits among the frameworks:

* **eps outside the square root**, as in PyTorch. TensorFlow, Keras and optax (by default,
  ``eps_in_sqrt=True``) divide by :math:`\sqrt{v_t + \epsilon}` (centered: :math:`\sqrt{v_t - \bar g_t^2 +
  \epsilon}`), as Graves does.
* :math:`v_0 = 0`, as in PyTorch, Keras and optax; TF1's ``RMSPropOptimizer`` starts from :math:`v_0 = 1`.
* **lr outside the momentum buffer**, as in PyTorch; TF and Keras accumulate
  :math:`b_t = \beta b_{t-1} + \eta \Delta_t`, which differs once :math:`\eta` changes. timm's
  ``RMSpropTF`` reproduces the TF conventions on top of PyTorch.
* ``alpha`` must lie in :math:`[0, 1)` here; PyTorch accepts any :math:`\alpha \ge 0`, but
  :math:`\alpha \ge 1` is not a moving average (and :math:`v_t` goes negative for :math:`\alpha > 1`).
* The momentum buffer and :math:`\bar g` exist only when ``momentum > 0`` and ``centered=True``: they are
  ``None`` in :func:`init` and created by the first :func:`step` that needs them.
* Non-finite gradients are not caught: a NaN or inf propagates into the state and ``theta`` as in torch.

Example::

    >>> import numpy as np
    >>> from adamcourse.optim import rmsprop
    >>> theta = np.array([1.0, -2.0]); state = rmsprop.init(theta)
    >>> theta, state = rmsprop.step(theta, 2 * theta, state, lr=0.01)   # f = |theta|^2
    >>> theta                                   # first step = -lr * g / sqrt(0.01 g^2) = -10 lr * sign(g)
    array([ 0.9, -1.9])
"""

from __future__ import annotations

from typing import NamedTuple

from ._common import Array, add_scaled, check_range, document_fields, hyperparameters, sqrt, zeros_like
from ._torch import FunctionalOptimizer


class RMSpropState(NamedTuple):
    t: int                          # steps taken so far
    v: Array                        # moving average of g^2, v_t (torch: square_avg)
    b: Array | None = None          # momentum buffer b_t, momentum > 0 only (torch: momentum_buffer)
    g_avg: Array | None = None      # moving average of g, \bar g_t, centered only (torch: grad_avg)


document_fields(
    RMSpropState, t=r":math:`t`, the number of steps taken (``step`` in torch).",
    v=r":math:`v_t`, the second moment, a moving average of :math:`g_t^2` (``square_avg`` in torch).",
    b=r":math:`b_t`, the momentum buffer; None until a step with momentum > 0 (``momentum_buffer`` in torch).",
    g_avg=r":math:`\bar g_t`, the moving average of :math:`g_t`; None unless centered (``grad_avg`` in torch).")


def init(theta: Array) -> RMSpropState:
    """v_0 = 0, t = 0; b and g_avg are created by the first :func:`step` that needs them."""
    return RMSpropState(t=0, v=zeros_like(theta))


@hyperparameters
def step(theta: Array, grad: Array, state: RMSpropState, *, lr: float = 1e-2, alpha: float = 0.99,
         eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
         maximize: bool = False) -> tuple[Array, RMSpropState]:
    """One RMSprop step; returns the new ``(theta, state)`` and leaves its inputs untouched."""
    check_range("lr", lr, 0.0)
    check_range("alpha", alpha, 0.0, 1.0)
    check_range("eps", eps, 0.0)
    check_range("weight_decay", weight_decay, 0.0)
    check_range("momentum", momentum, 0.0)
    g = -grad if maximize else grad
    if weight_decay:
        g = add_scaled(g, theta, weight_decay)           # L2: g_t <- g_t + lambda_wd theta_{t-1}
    v = alpha * state.v + (1 - alpha) * g * g            # v_t
    g_avg, b = state.g_avg, state.b                      # kept as they are while their option is off
    if centered:
        g_avg = zeros_like(theta) if g_avg is None else g_avg
        g_avg = alpha * g_avg + (1 - alpha) * g          # \bar g_t
        delta = g / (sqrt(v - g_avg * g_avg) + eps)      # Delta_t, centered
    else:
        delta = g / (sqrt(v) + eps)                      # Delta_t
    if momentum > 0:
        b = zeros_like(theta) if b is None else b
        b = momentum * b + delta                         # b_t
        theta = theta - lr * b                           # theta_t
    else:
        theta = theta - lr * delta                       # theta_t
    return theta, RMSpropState(t=state.t + 1, v=v, b=b, g_avg=g_avg)


class RMSprop(FunctionalOptimizer):
    r"""Drop-in for :class:`torch.optim.RMSprop` (same signature, defaults, state keys and results), running
    :func:`step` on each parameter, also for complex parameters. Only the single-tensor path:
    ``foreach``/``capturable``/``differentiable`` must stay off.

    Stricter than torch on purpose: ``alpha`` must lie in :math:`[0, 1)` (torch accepts any
    :math:`\alpha \ge 0`; :math:`\alpha \ge 1` is no moving average), so ``RMSprop(params, alpha=1.0)``
    raises a ``ValueError`` here."""

    state_keys = {"v": "square_avg", "b": "momentum_buffer", "g_avg": "grad_avg"}

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults, foreach=foreach, capturable=capturable,
                         differentiable=differentiable)
