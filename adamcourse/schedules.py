r"""Learning-rate schedules as multipliers: linear warm-up, then cosine or linear decay.

Each function maps ``step``, the number of optimizer steps already taken (0 for the first update), to the
factor :math:`s` that multiplies the base learning rate :math:`\eta` of that update, so that it plugs into
:class:`torch.optim.lr_scheduler.LambdaLR` unchanged::

    scheduler = LambdaLR(optimizer, lambda step: warmup_cosine(step, warmup_steps=100, total_steps=1000))
    for ...: optimizer.step(); scheduler.step()

With :math:`W` = ``warmup_steps``, :math:`T` = ``total_steps`` and :math:`s_\mathrm{min}` = ``final``:

.. math::

    s(k) &= \begin{cases} (k + 1)/W & k < W \\
        s_\mathrm{min} + (1 - s_\mathrm{min})\, d\big(\min(1, (k - W)/(T - W))\big) & k \ge W \end{cases} \\
        &\qquad\text{(linear warm-up, reaching 1 at } k = W-1)

with :math:`d(x) = (1 + \cos \pi x)/2` (:func:`warmup_cosine`) or :math:`d(x) = 1 - x` (:func:`warmup_linear`).
The warm-up is PyTorch's ``LinearLR(start_factor=1/W, total_iters=W-1)``, the decays are ``CosineAnnealingLR``
(``T_max = T - W``, ``eta_min`` = :math:`s_\mathrm{min}\eta`) and ``LinearLR(1, s_min, T - W)``, chained by
``SequentialLR(milestones=[W])``; the tests compare them. :func:`linear_warmup` is the warm-up alone, and
:func:`untuned_warmup_steps` Ma & Yarats' rule of thumb :math:`W = 2/(1-\beta_2)`.

Every function takes an integer ``step`` or an array of them and returns a float or an array.

>>> [round(warmup_cosine(k, warmup_steps=2, total_steps=6), 3) for k in range(7)]
[0.5, 1.0, 1.0, 0.854, 0.5, 0.146, 0.0]
"""

from __future__ import annotations

import numpy as np

__all__ = ["linear_warmup", "warmup_cosine", "warmup_linear", "untuned_warmup_steps"]


def _steps(step) -> np.ndarray:
    k = np.asarray(step)
    if k.dtype == bool or not np.issubdtype(k.dtype, np.integer) or np.any(k < 0):
        raise ValueError(f"Invalid step: {step!r} (step must be an integer >= 0, the number of steps taken)")
    return k


def _count(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"Invalid {name}: {value!r} ({name} must be an integer >= {low})")
    return int(value)


def _out(x):
    return float(x) if np.ndim(x) == 0 else x


def linear_warmup(step, *, warmup_steps: int):
    r""":math:`\min(1, (k+1)/W)`: the learning rate climbs linearly to its full value over ``warmup_steps``
    updates (``warmup_steps=0`` or 1: no warm-up)."""
    k, w = _steps(step), _count("warmup_steps", warmup_steps, 0)
    return _out(np.minimum(1.0, (k + 1) / max(w, 1)))


def _decay(step, warmup_steps, total_steps, final, shape):
    k = _steps(step)
    w = _count("warmup_steps", warmup_steps, 0)
    total = _count("total_steps", total_steps, w + 1)
    if not isinstance(final, (int, float, np.floating, np.integer)) or not 0.0 <= final <= 1.0:
        raise ValueError(f"Invalid final: {final!r} (final must lie in [0, 1], a fraction of the base lr)")
    x = np.clip((k - w) / (total - w), 0.0, 1.0)
    decayed = final + (1 - final) * shape(x)
    return _out(np.where(k < w, (k + 1) / max(w, 1), decayed))


def warmup_cosine(step, *, warmup_steps: int, total_steps: int, final: float = 0.0):
    r"""Linear warm-up over ``warmup_steps`` updates, then a cosine decay from 1 to ``final`` at
    ``total_steps`` (and ``final`` after it)."""
    return _decay(step, warmup_steps, total_steps, final, lambda x: (1 + np.cos(np.pi * x)) / 2)


def warmup_linear(step, *, warmup_steps: int, total_steps: int, final: float = 0.0):
    r"""Linear warm-up over ``warmup_steps`` updates, then a linear decay from 1 to ``final`` at
    ``total_steps`` (and ``final`` after it)."""
    return _decay(step, warmup_steps, total_steps, final, lambda x: 1 - x)


def untuned_warmup_steps(beta2: float) -> int:
    r"""Ma & Yarats' untuned warm-up length :math:`W = \lceil 2/(1-\beta_2) \rceil` (2000 for
    :math:`\beta_2 = 0.999`): the time scale of :math:`\hat v_t`'s memory, doubled."""
    if not isinstance(beta2, (int, float, np.floating)) or not 0.0 <= beta2 < 1.0:
        raise ValueError(f"Invalid beta2: {beta2!r} (beta2 must lie in [0, 1))")
    return int(np.ceil(2 / (1 - beta2) - 1e-9))
