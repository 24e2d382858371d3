"""The thin ``torch.optim.Optimizer`` that every class in :mod:`adamcourse.optim` is.

A subclass defined in an optimizer's file runs that file's pure ``init``/``step`` on each parameter and keeps
the state under ``torch.optim``'s own keys (``step``, ``exp_avg``, ...), so ``state_dict()`` has the same layout
as torch's and LR schedulers, param groups and ``zero_grad`` work unchanged.

On the CPU a large parameter is updated in blocks of :data:`CPU_BLOCK_BYTES`: the pure ``step`` allocates a
temporary per operation, and blocks that small stay in cache instead of streaming every temporary through
memory. The update is element-wise, so the result is the same as one call on the whole tensor.

``optimizer.compile()`` switches to the compiled path (:mod:`adamcourse.optim._compiled`): the same pure ``step``
through ``torch.compile``, over all parameters of a group at once; the readable path stays the default.

As in torch.optim: hyperparameters are checked before ``params`` is looked at, a complex parameter is updated
through its real view ``torch.view_as_real(p)`` (its state stays complex), and ``load_state_dict`` back-fills
options that older state dicts lack and turns a Python-number ``step`` into a tensor (``__setstate__``).
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
        cls.core = sys.modules[cls.__module__]  # its init and step are defined above the class
        cls._step_names = _keyword_names(cls.core.step)
        cls._init_names = _keyword_names(cls.core.init)

    def __init__(self, params, defaults: dict[str, Any], **unsupported: Any):
        self._check({**defaults, **unsupported})  # before params is touched, as torch.optim does
        for flag, value in unsupported.items():
            if value:
                name = type(self).__name__
                raise ValueError(f"adamcourse.optim.{name} has only the readable single-tensor path: "
                                 f"{flag}={value!r} is not supported (use torch.optim.{name} for it)")
        if "betas" in defaults:  # as torch.optim: 1-element tensor betas are stored as 0-d tensors
            defaults["betas"] = tuple(b.squeeze() if torch.is_tensor(b) and b.dim() else b for b in defaults["betas"])
        super().__init__(params, {**defaults, **unsupported})  # kept so state_dict() matches torch's

    def compile(self) -> FunctionalOptimizer:
        """Run every later ``step()`` through ``torch.compile``: per param group, one compiled call of this
        optimizer's pure ``step`` over all its parameters, updating them and their state in place (one fused
        loop per parameter, e.g. 28 bytes per fp32 parameter for Adam). Equal to the readable path to round-off.

        Returns the optimizer: ``opt = Adam(model.parameters()).compile()``. Raises ``RuntimeError`` saying what
        is missing when torch.compile cannot run here (e.g. no C++ compiler for the CPU). Compiling costs seconds
        at the first steps (again when a group's parameters, dtypes or the set with a gradient change). Sparse
        gradients need the readable path; so does an optimizer whose ``step`` branches on a tensor value in Python
        (RAdam's rectification test), which fails at its first compiled step with a ``RuntimeError`` saying so.
        The switch is not part of ``state_dict()``."""
        from . import _compiled  # imports torch._inductor: only when asked for

        _compiled.check_available({p.device.type for g in self.param_groups for p in g["params"]})
        self._compiled = _compiled.compiled_update(self.core.step)
        self._checked: dict[int, tuple] = {}  # id(group) -> the hyperparameters last checked for it
        return self

    @property
    def compiled(self) -> bool:
        """True after :meth:`compile`: ``step()`` runs the compiled path."""
        return getattr(self, "_compiled", None) is not None

    def _check(self, group: dict[str, Any]) -> None:
        """torch.optim's checks of tensor hyperparameters, then a dry run of the core on a scalar: its own
        checks reject a bad value in torch's words and with the valid interval."""
        betas = group.get("betas", ())
        for name, value in [("lr", group["lr"]), *zip(["betas[0]", "betas[1]"], betas, strict=False)]:
            if isinstance(value, torch.Tensor):
                if group.get("foreach") and not group.get("capturable"):
                    raise ValueError(f"{name} as a Tensor is not supported for capturable=False and foreach=True")
                if value.numel() != 1:
                    raise ValueError(f"Tensor {name} must be 1-element")
        if betas and isinstance(betas[0], torch.Tensor) != isinstance(betas[1], torch.Tensor):
            raise ValueError("betas must be either both floats or both Tensors")
        x = torch.zeros(())
        self.core.step(x, x, self.core.init(x, **self._init_options(group)), **self._hyper(group))

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        self._check(self.param_groups[-1])  # a group's own values, e.g. {"params": ..., "lr": -1}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """As torch.optim's: back-fill options an older state dict lacks with the constructor's defaults, and
        turn scalar state kept as a Python number (``step``, ``mu_product``) into a tensor."""
        super().__setstate__(state)
        signature = inspect.signature(type(self).__init__).parameters
        template = self.core.init(torch.zeros(()), **self._init_options(self.defaults))
        scalars = [self._key(f) for f, v in template._asdict().items() if isinstance(v, (int, float))]
        for group in self.param_groups:
            for key in self.defaults:
                if key in signature and signature[key].default is not inspect.Parameter.empty:
                    group.setdefault(key, signature[key].default)
            for p in group["params"]:
                for key in scalars:
                    value = self.state.get(p, {}).get(key)
                    if value is not None and not torch.is_tensor(value):
                        self.state[p][key] = torch.tensor(float(value), dtype=_scalar_dtype())

    def _hyper(self, group: dict[str, Any]) -> dict[str, Any]:
        hyper = {k: v for k, v in group.items() if k in self._step_names}
        if "betas" in group:
            hyper["beta1"], hyper["beta2"] = group["betas"]
        return hyper

    def _init_options(self, group: dict[str, Any]) -> dict[str, Any]:
        return {k: group[k] for k in self._init_names if k in group}

    def _load_state(self, p: torch.Tensor, group: dict[str, Any]) -> NamedTuple:
        """The core's state for ``p`` (for a complex ``p``, for its real view): the stored tensors, ``t`` as
        an int, other scalars (NAdam's ``mu_product``) as 0-d tensors in torch's dtype, rounding as torch's."""
        stored = self.state.get(p, {})
        x = torch.zeros(()) if stored else _real(p)  # the template is cheap once the state exists
        state = self.core.init(x, **self._init_options(group))
        fields = {}
        for field, value in state._asdict().items():
            key = self._key(field)
            if field == "t":
                value = int(stored[key].item()) if key in stored else value
            elif key in stored:
                value = _real(stored[key])
            elif isinstance(value, float):
                value = torch.tensor(value, dtype=_scalar_dtype())
            fields[field] = value
        return state._replace(**fields)

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
        full = {f for f, v in state._asdict().items() if isinstance(v, torch.Tensor) and v.shape == p.shape}
        tensors = [p, grad] + [getattr(state, f) for f in full]
        if (grad.is_sparse or p.device.type != "cpu" or p.numel() <= block
                or not all(x.is_contiguous() for x in tensors)):
            theta, state = self.core.step(p, grad, state, **hyper)
            p.copy_(theta)
            return state
        out: dict[str, torch.Tensor] = {}  # full-size state tensors the blocks are written into
        for lo in range(0, p.numel(), block):
            part = slice(lo, lo + block)
            piece = state._replace(**{f: getattr(state, f).view(-1)[part] for f in full})
            theta, new = self.core.step(p.view(-1)[part], grad.view(-1)[part], piece, **hyper)
            p.view(-1)[part].copy_(theta)
            for field, value in new._asdict().items():
                if isinstance(value, torch.Tensor) and value.dim() > 0:  # not a 0-d scalar (mu_product)
                    if field not in out:
                        out[field] = getattr(state, field) if field in full else torch.empty_like(p)
                    out[field].view(-1)[part].copy_(value)
        return new._replace(**out)

    def _check_step(self) -> None:
        """Checks made before a step touches any parameter: none here; subclasses add theirs."""

    @torch.no_grad()
    def step(self, closure=None):
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self._check_step()
        for group in self.param_groups:
            if self.compiled:
                self._compiled_group_step(group)
                continue
            hyper = self._hyper(group)
            for p in group["params"]:
                if p.grad is not None:
                    self._readable_step(p, group, hyper)
        return loss

    def _readable_step(self, p: torch.Tensor, group: dict[str, Any], hyper: dict[str, Any]) -> None:
        state = self._update(_real(p), _real(p.grad), self._load_state(p, group), hyper)
        if p.is_complex():  # the state of a complex parameter is kept complex, as in torch
            state = state._replace(**{f: torch.view_as_complex(v.contiguous())
                                      for f, v in state._asdict().items()
                                      if isinstance(v, torch.Tensor) and v.shape == _real(p).shape})
        self._store_state(p, state)

    def _compiled_group_step(self, group: dict[str, Any]) -> None:
        """One compiled call for the parameters of ``group`` whose state exists; a parameter's first step runs
        the readable path, which creates its state (SGD, which stores none without momentum, compiles at once)."""
        hyper = self._hyper(group)  # tensor values (lr, betas) as numbers, as the readable path takes them
        hyper = {k: v.item() if torch.is_tensor(v) else v for k, v in hyper.items()}
        key = tuple(sorted(hyper.items()))
        if self._checked.get(id(group)) != key:  # checked eagerly: the traced step skips its checks
            self._check(group)
            self._checked[id(group)] = key
        params, grads, states = [], [], []
        template = self.core.init(torch.zeros(()), **self._init_options(group))
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise TypeError(f"the compiled path of {type(self).__name__} does not take sparse gradients: "
                                "use the readable path (an optimizer without .compile())")
            stored = self.state.get(p, {})
            if any(v is not None and self._key(f) not in (None, *stored) for f, v in template._asdict().items()):
                self._readable_step(p, group, hyper)  # its first step: the readable path creates the state
                continue
            params.append(p)
            grads.append(_real(p.grad))
            states.append(self._stored_state(p, template))
        if not params:
            return
        created = self._compiled([_real(p) for p in params], grads, states, hyper)
        for p, fresh in zip(params, created, strict=True):
            for field, value in fresh.items():
                self.state[p][self._key(field)] = torch.view_as_complex(value.contiguous()) if p.is_complex() \
                    else value

    def _stored_state(self, p: torch.Tensor, template: NamedTuple) -> NamedTuple:
        """The core's state for ``p`` made of the tensors stored for it (real views for a complex ``p``), ``t``
        the stored ``step`` tensor, so that the compiled step updates them in place."""
        stored = self.state.get(p, {})  # no entry is made for a parameter without state (SGD), as in torch
        fields, seen = {}, set()
        for field, value in template._asdict().items():
            key = self._key(field)
            if key is not None and key in stored:
                # the readable path may store one tensor under two keys (AMSGrad's first v_max is v): the
                # in-place updates need two
                if stored[key].numel() and stored[key].data_ptr() in seen:
                    stored[key] = stored[key].clone()
                if stored[key].device != p.device:  # the CPU step of a GPU parameter: one device per graph,
                    stored[key] = stored[key].to(p.device)  # as torch's fused and capturable paths keep it
                seen.add(stored[key].data_ptr())
                value = _real(stored[key])
            fields[field] = value
        return template._replace(**fields)


class WholeTensorOptimizer:
    """Mixin (before ``FunctionalOptimizer`` in the bases) for an optimizer whose step needs each tensor whole:
    an RMS over all of it (Adafactor) or per-block scales of its flat codes (Adam8bit). Real parameters only, in
    torch's words, and the readable path only: ``compile()`` raises, giving ``compile_refusal`` as the reason."""

    compile_refusal = ""

    def _check_step(self) -> None:
        """Before any parameter is touched: a complex parameter is refused, as torch does."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None and p.is_complex():  # torch's error, before the real view is taken
                    raise RuntimeError(f"{type(self).__name__} does not support complex parameters")

    def compile(self):
        """Not offered: raises ``RuntimeError`` (the readable path is the only one)."""
        raise RuntimeError(f"adamcourse.optim.{type(self).__name__} has no compiled path: {self.compile_refusal}; "
                           "use it without .compile()")

    def _update(self, p, grad, state, hyper):
        """The whole tensor at once, with no CPU blocks."""
        theta, state = self.core.step(p, grad, state, **hyper)
        p.copy_(theta)
        return state


def _real(x: torch.Tensor) -> torch.Tensor:
    """A complex tensor as torch.optim updates it: its real view, (..., 2) floats sharing its memory."""
    return torch.view_as_real(x) if x.is_complex() else x
