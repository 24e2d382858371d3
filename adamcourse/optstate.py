"""How much memory an optimizer's state takes: the bytes of every tensor it keeps in ``optimizer.state``.

Measured, not predicted: after at least one ``step()`` (the state is created lazily), :func:`state_size` sums
``numel * element_size`` over the tensors of ``optimizer.state``, per key (``exp_avg``, ``momentum_buffer``,
...), and divides by the number of parameters the optimizer updates.

>>> import torch
>>> from adamcourse.optim import Adam
>>> from adamcourse.optstate import state_size
>>> layer = torch.nn.Linear(100, 10)                      # 1010 parameters in float32
>>> opt = Adam(layer.parameters())
>>> layer(torch.ones(1, 100)).sum().backward(); opt.step()
>>> size = state_size(opt)
>>> size.parameters, size.by_key["exp_avg"], size.by_key["exp_avg_sq"], round(size.buffers_per_parameter, 3)
(1010, 4040, 4040, 8.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["StateSize", "state_size"]


@dataclass(frozen=True)
class StateSize:
    """``parameters``: how many numbers the optimizer updates; ``by_key``: bytes of the state per key, summed
    over the parameters; ``scalar_bytes``: the bytes of the one-number tensors among them (the step count);
    ``total``: all bytes."""

    parameters: int
    by_key: dict[str, int]
    scalar_bytes: int

    @property
    def total(self) -> int:
        """Every byte of tensor state."""
        return sum(self.by_key.values())

    @property
    def per_parameter(self) -> float:
        """All state bytes divided by the number of parameters."""
        return self.total / self.parameters

    @property
    def buffers_per_parameter(self) -> float:
        """The bytes per parameter of the buffers alone (the step counters left out)."""
        return (self.total - self.scalar_bytes) / self.parameters


def state_size(optimizer: torch.optim.Optimizer) -> StateSize:
    """The measured size of ``optimizer``'s state (a :class:`StateSize`). Measure after a ``step()``: before
    it, torch optimizers have created no state yet (and plain SGD never creates any)."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if not params:
        raise ValueError("the optimizer has no parameters")
    by_key: dict[str, int] = {}
    scalars = 0
    for p in params:
        for key, value in optimizer.state.get(p, {}).items():
            if isinstance(value, torch.Tensor):
                size = value.numel() * value.element_size()
                by_key[key] = by_key.get(key, 0) + size
                if value.numel() == 1 and p.numel() > 1:
                    scalars += size
    return StateSize(sum(p.numel() for p in params), by_key, scalars)
