"""The thin ``torch.optim.Optimizer`` that every class in :mod:`adamcourse.optim` is.

A subclass defined in an optimizer's file runs that file's pure ``init``/``step`` on each parameter and keeps
the state under ``torch.optim``'s own keys (``step``, ``exp_avg``, ...), so ``state_dict()`` has the same layout
as torch's and LR schedulers, param groups and ``zero_grad`` work unchanged.

On the CPU a large parameter is updated in blocks of :data:`CPU_BLOCK_BYTES`: the pure ``step`` allocates a
temporary per operation, and blocks that small stay in cache instead of streaming every temporary through
memory. The update is element-wise, so the result is the same as one call on the whole tensor.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any, NamedTuple

import torch

CPU_BLOCK_BYTES = 256 * 1024


def _keyword_names(fn) -> list[str]:
    return [p.name for p in inspect.signature(fn).parameters.values() if p.kind is p.KEYWORD_ONLY]


def _scalar_dtype() -> torch.dtype:
    """The dtype torch.optim stores ``step`` in: float64 when that is the default dtype, else float32."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


class FunctionalOptimizer(torch.optim.Optimizer):
    """Applies the ``init``/``step`` of the module the subclass is defined in to every parameter."""

    # core state field -> torch.optim state key; ``t`` is "step" unless mapped to None (not stored, as SGD)
    state_keys: dict[str, str | None] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.core = sys.modules[cls.__module__]

    def __init__(self, params, defaults: dict[str, Any], **unsupported: Any):
        for flag, value in unsupported.items():
            if value:
                name = type(self).__name__
                raise ValueError(f"adamcourse.optim.{name} has only the readable single-tensor path: "
                                 f"{flag}={value!r} is not supported (use torch.optim.{name} for it)")
        super().__init__(params, {**defaults, **unsupported})  # kept so state_dict() matches torch's

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        x = torch.zeros(())  # a dry run on a scalar: the core's own checks reject bad hyperparameters now
        self.core.step(x, x, self.core.init(x, **self._init_options(group)), **self._hyper(group))

    def _hyper(self, group: dict[str, Any]) -> dict[str, Any]:
        names = _keyword_names(self.core.step)
        hyper = {k: v for k, v in group.items() if k in names}
        if "betas" in group:
            hyper["beta1"], hyper["beta2"] = group["betas"]
        return hyper

    def _init_options(self, group: dict[str, Any]) -> dict[str, Any]:
        return {k: group[k] for k in _keyword_names(self.core.init) if k in group}

    def _load_state(self, p: torch.Tensor, group: dict[str, Any]) -> NamedTuple:
        stored = self.state.get(p)
        if not stored:
            return self.core.init(p, **self._init_options(group))
        template = self.core.init(torch.zeros(()), **self._init_options(group))  # field types, cheaply
        fields = {}
        for field, default in template._asdict().items():
            value = stored.get(self._key(field))
            if isinstance(default, (int, float)):  # scalars (t, mu_product) are 0-d tensors in torch
                value = default if value is None else type(default)(value.item())
            fields[field] = value
        return type(template)(**fields)

    def _key(self, field: str) -> str | None:
        return self.state_keys.get(field, "step") if field == "t" else self.state_keys[field]

    def _store_state(self, p: torch.Tensor, state: NamedTuple) -> None:
        for field, value in state._asdict().items():
            key = self._key(field)
            if isinstance(value, (int, float)):
                value = torch.tensor(float(value), dtype=_scalar_dtype())
            if key is not None and value is not None:
                self.state[p][key] = value  # no entry at all when nothing is stored, as in torch

    def _update(self, p: torch.Tensor, grad: torch.Tensor, state: NamedTuple, hyper: dict) -> NamedTuple:
        """Run the core on ``p`` (in CPU blocks when large); write theta into ``p``, return the new state."""
        block = max(1, CPU_BLOCK_BYTES // p.element_size())
        tensors = [p, grad] + [v for v in state if isinstance(v, torch.Tensor)]
        if p.device.type != "cpu" or p.numel() <= block or not all(x.is_contiguous() for x in tensors):
            theta, state = self.core.step(p, grad, state, **hyper)
            p.copy_(theta)
            return state
        out: dict[str, torch.Tensor] = {}  # full-size state tensors the blocks are written into
        for lo in range(0, p.numel(), block):
            part = slice(lo, lo + block)
            piece = state._replace(**{f: v.view(-1)[part] for f, v in state._asdict().items()
                                      if isinstance(v, torch.Tensor)})
            theta, new = self.core.step(p.view(-1)[part], grad.view(-1)[part], piece, **hyper)
            p.view(-1)[part].copy_(theta)
            for field, value in new._asdict().items():
                if isinstance(value, torch.Tensor):
                    if field not in out:
                        old = getattr(state, field)
                        out[field] = old if isinstance(old, torch.Tensor) else torch.empty_like(p)
                    out[field].view(-1)[part].copy_(value)
        return new._replace(**out)

    @torch.no_grad()
    def step(self, closure=None):
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            hyper = self._hyper(group)
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._load_state(p, group)
                self._store_state(p, self._update(p, p.grad, state, hyper))
        return loss
