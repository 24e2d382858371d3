"""What every optimizer file shares: array helpers that run on NumPy and torch, and argument checks.

The update rules themselves use only ``+ - * / **`` and the few helpers below, so one formula serves
NumPy arrays (the chapters) and torch tensors (the ``torch.optim`` classes).
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
from typing import Any

import numpy as np
import torch

Array = np.ndarray | torch.Tensor


# ---------------------------------------------------------------- array helpers (NumPy or torch)


def is_torch(x: Any) -> bool:
    return isinstance(x, torch.Tensor)


def sqrt(x: Array) -> Array:
    return torch.sqrt(x) if is_torch(x) else np.sqrt(x)


def maximum(a: Array, b: Array) -> Array:
    return torch.maximum(a, b) if is_torch(a) else np.maximum(a, b)


def zeros_like(x: Array) -> Array:
    return torch.zeros_like(x) if is_torch(x) else np.zeros_like(x)


def full_like(x: Array, value: float) -> Array:
    return torch.full_like(x, value) if is_torch(x) else np.full_like(x, value)


def add_scaled(a: Array, b: Array, alpha: float) -> Array:
    """``a + alpha * b``; on tensors ``torch.add(a, b, alpha=alpha)``, rounded once as in torch.optim."""
    return torch.add(a, b, alpha=alpha) if is_torch(a) else a + alpha * b


def as_array(x: Any) -> Array:
    """A tensor stays a tensor; anything else becomes a NumPy array (float stays float32/64)."""
    if is_torch(x) or isinstance(x, np.ndarray):
        return x
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)


def document_fields(state_type: type, **docs: str) -> None:
    """Give every field of a state ``NamedTuple`` its one-line docstring (instead of "Alias for field number
    N" on the API page and in ``help``)."""
    assert set(docs) == set(state_type._fields), f"document every field of {state_type.__name__}"
    for field, doc in docs.items():
        getattr(state_type, field).__doc__ = doc


# ---------------------------------------------------------------- argument checks


#: torch.optim's words for a hyperparameter in its errors ("Invalid learning rate: -1"); others: "<name> value".
TORCH_WORDING = {"lr": "learning rate", "eps": "epsilon value", "beta1": "beta parameter at index 0",
                 "beta2": "beta parameter at index 1"}


def check_range(name: str, value: float, low: float, high: float = math.inf, *,
                low_open: bool = False, high_open: bool = True) -> None:
    """Raise ``ValueError`` in torch.optim's words, then naming the argument and the allowed interval."""
    if torch.compiler.is_compiling():  # the compiled path (_compiled.py) checks before it calls the graph
        return
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"Tensor {name} must be 1-element, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if too_low or too_high or math.isnan(value):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        wording = TORCH_WORDING.get(name, f"{name} value")
        raise ValueError(f"Invalid {wording}: {value} ({name} must lie in {interval})")


def check_betas(beta1: float, beta2: float) -> None:
    check_range("beta1", beta1, 0.0, 1.0)
    check_range("beta2", beta2, 0.0, 1.0)


def check_grad(theta: Array, grad: Array, *, sparse: bool = False) -> None:
    """Reject gradients that would give a silently wrong answer: sparse (unless the rule handles them),
    complex, wrong shape or kind."""
    if is_torch(theta) != is_torch(grad):
        raise TypeError(f"theta and grad must both be torch tensors or both NumPy arrays, "
                        f"got {type(theta).__name__} and {type(grad).__name__}")
    if is_torch(grad) and grad.is_sparse and not sparse:
        raise TypeError("sparse gradients are not supported: call grad.to_dense() first")
    if (grad.is_complex() if is_torch(grad) else np.iscomplexobj(grad)) or (
            theta.is_complex() if is_torch(theta) else np.iscomplexobj(theta)):
        raise TypeError("complex parameters or gradients are not supported by the functional step: pass "
                        "torch.view_as_real(z) (the torch.optim classes do this for complex parameters)")
    if tuple(theta.shape) != tuple(grad.shape):
        raise ValueError(f"grad has shape {tuple(grad.shape)} but theta has shape {tuple(theta.shape)}: "
                         "they must be equal")


def hyperparameters(step=None, *, sparse: bool = False):
    """Decorate a ``step(theta, grad, state, *, ...)``; ``@hyperparameters(sparse=True)`` if it handles
    sparse gradients.

    An unknown keyword raises a ``TypeError`` naming it, its value, the closest valid name and every valid
    name (a typo such as ``beta_1=`` is never ignored). Lists become arrays, NumPy or tensor scalars become
    Python numbers, and ``theta``/``grad`` pass :func:`check_grad`.
    """
    if step is None:
        return functools.partial(hyperparameters, sparse=sparse)
    valid = [p.name for p in inspect.signature(step).parameters.values() if p.kind is p.KEYWORD_ONLY]
    module = step.__module__.rsplit(".", 1)[-1]

    @functools.wraps(step)
    def checked(theta, grad, state, **hyper):
        if torch.compiler.is_compiling():  # traced by the compiled path, which checked the arguments eagerly
            return step(theta, grad, state, **hyper)
        for name, value in hyper.items():
            if name not in valid:
                close = difflib.get_close_matches(name, valid, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise TypeError(f"{module}.step() got an unknown hyperparameter {name}={value!r}"
                                f"{hint}; valid: {', '.join(valid)}")
            if isinstance(value, (np.generic, torch.Tensor)) and not isinstance(value, np.bool_):
                hyper[name] = value.item()  # a NumPy float64 scalar would upcast float32 arrays
        theta, grad = as_array(theta), as_array(grad)
        check_grad(theta, grad, sparse=sparse)
        return step(theta, grad, state, **hyper)

    return checked
