"""The student's side of the exercises whose arguments are torch objects (a model, an optimizer).

Such a function cannot be called over the grading pipe with plain values, so the student's process builds the
objects itself from one call's plain inputs and parameters and returns plain values: the losses of
``train_step`` / ``device_train_step``, or the recipe that ``training_recipe`` chose, written down as data
(:func:`capture_recipe`; the grader trains it in a fresh process, :mod:`adamcourse.grading.harness`). The
same functions run in-process in ``check()``. Nothing here knows a case, an expected value or a judge: a
student who replaces these functions only changes what they send back, which the grader judges on its own.
"""

from __future__ import annotations

import warnings

import numpy as np

N_IN, N_HIDDEN, N_OUT = 8, 16, 3
TENSOR_HINT = "loss returned as a tensor, not a float (return loss.item())"
#: Where a recipe's optimizer may come from: the grader rebuilds it by name.
OPTIMIZER_MODULES = ("torch.optim", "adamcourse.optim")


class DriverError(Exception):
    """What the student's function returned cannot be graded; the message is for the student."""


def _describe(x) -> str:
    text = repr(x)
    return f"{type(x).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _setup(params: dict, inputs: dict, dtype):
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(N_IN, N_HIDDEN), torch.nn.ReLU(),
                                torch.nn.Linear(N_HIDDEN, N_OUT)).to(dtype)
    with torch.no_grad():
        for p, key in zip(model.parameters(), ("W1", "b1", "W2", "b2"), strict=True):
            p.copy_(torch.as_tensor(np.asarray(inputs[key], dtype=np.float64)))
    cls = torch.optim.SGD if params["optimizer"] == "sgd" else torch.optim.Adam
    x = torch.as_tensor(np.asarray(inputs["x"], dtype=np.float64)).to(dtype)
    y = torch.as_tensor(np.asarray(inputs["y"], dtype=np.int64))
    return model, cls(model.parameters(), lr=float(params["lr"])), x, y


def _batches(params: dict, x, y):
    """``steps`` minibatches ``(i, x_i, y_i)`` in order, wrapping around; copies, so nothing leaks back."""
    batch = int(params["batch"])
    n_batches = len(x) // batch
    for i in range(int(params["steps"])):
        lo = (i % n_batches) * batch
        yield i, x[lo:lo + batch].clone(), y[lo:lo + batch].clone()


def train(fn, name: str, params: dict, inputs: dict) -> np.ndarray:
    """``train_step(model, x, y, optimizer)`` on a float64 MLP for ``steps`` minibatches: the losses."""
    import torch

    model, optimizer, x, y = _setup(params, inputs, torch.float64)
    losses = []
    for i, xb, yb in _batches(params, x, y):
        with torch.enable_grad():
            out = fn(model, xb, yb, optimizer)
        if isinstance(out, torch.Tensor):
            raise DriverError(f"{name} returned a torch Tensor at step {i + 1}: {TENSOR_HINT}")
        if isinstance(out, bool) or not isinstance(out, (float, np.floating)):
            raise DriverError(f"{name} returned {_describe(out)} at step {i + 1}; expected a float, the loss "
                              "(loss.item())")
        losses.append(float(out))
    return np.array(losses, dtype=np.float64)


def device_train(fn, name: str, params: dict, inputs: dict) -> np.ndarray:
    """``device_train_step(model, x, y, optimizer, device, amp)`` on a float32 MLP on the CPU: shape
    ``(2, steps)``, the losses and per step 1.0 (a detached tensor), 0.5 (a tensor in the graph), 0.0 (a float)."""
    import torch

    model, optimizer, x, y = _setup(params, inputs, torch.float32)
    device, amp = torch.device("cpu"), bool(params["amp"])
    losses, detached = [], []
    for i, xb, yb in _batches(params, x, y):
        with torch.enable_grad():
            out = fn(model, xb, yb, optimizer, device, amp)
        if isinstance(out, torch.Tensor):
            if out.numel() != 1:
                raise DriverError(f"{name} returned a tensor of shape {tuple(out.shape)} at step {i + 1}; "
                                  "expected the loss, a 0-d tensor")
            detached.append(0.5 if out.requires_grad else 1.0)
            out = out.detach().double().item()
        elif isinstance(out, bool) or not isinstance(out, (float, np.floating)):
            raise DriverError(f"{name} returned {_describe(out)} at step {i + 1}; expected the loss as a tensor "
                              "(loss.detach())")
        else:
            detached.append(0.0)
        losses.append(float(out))
    return np.array([losses, detached], dtype=np.float64)


def _plain(value):
    """A hyperparameter as plain data (a tensor lr becomes a float); anything else is refused."""
    import torch

    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.item())
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (tuple, list)) and all(isinstance(v, (int, float, np.floating, torch.Tensor)) for v in value):
        return [_plain(v) for v in value]
    raise DriverError(f"the optimizer's setting {_describe(value)} cannot be graded (numbers only)")


SCHEDULED = ("lr", "momentum", "betas")   # what a scheduler may change, replayed step by step


def capture_recipe(fn, name: str, params: dict, inputs: dict | None = None) -> dict:
    """Call ``training_recipe(model, steps_per_epoch)`` on a fresh ``SmallCNN`` and write down, as plain data,
    what it chose: the optimizer's class (by module path), its parameter groups (parameter indices and
    settings), the number of epochs, and the settings the scheduler gives every group at every step (found by
    stepping it ``epochs * steps_per_epoch`` times without training). The grader trains that recipe in a fresh
    process (:func:`adamcourse.grading.harness.train_recipe`)."""
    import torch

    from .. import models
    from ..runtime import seed_everything

    seed_everything(int(params["seed"]))
    model = models.SmallCNN()
    steps = int(params["steps_per_epoch"])
    out = fn(model, steps)
    if not isinstance(out, tuple) or len(out) != 3:
        raise DriverError(f"{name} must return a tuple (optimizer, scheduler or None, epochs), got {_describe(out)}")
    optimizer, scheduler, epochs = out
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise DriverError(f"the optimizer must be a torch.optim.Optimizer, got {_describe(optimizer)}")
    cls = type(optimizer)
    if not cls.__module__.startswith(OPTIMIZER_MODULES):
        raise DriverError(f"the optimizer must be a class of torch.optim or adamcourse.optim, got "
                          f"{cls.__module__}.{cls.__qualname__}")
    index = {id(p): k for k, p in enumerate(model.parameters())}
    theirs = [id(p) for group in optimizer.param_groups for p in group["params"]]
    if sorted(theirs) != sorted(index) or len(set(theirs)) != len(theirs):
        raise DriverError("the optimizer must be built over model.parameters() (all of them, and only them)")
    if scheduler is not None and not callable(getattr(scheduler, "step", None)):
        raise DriverError(f"the scheduler must be None or have a step() method, got {_describe(scheduler)}")
    max_epochs = int(params["max_epochs"])
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or not 1 <= epochs <= max_epochs:
        raise DriverError(f"epochs must be an integer from 1 to {max_epochs}, got {_describe(epochs)}")
    groups = [{"params": [index[id(p)] for p in g["params"]],
               **{k: _plain(v) for k, v in g.items() if k != "params"}} for g in optimizer.param_groups]
    schedule = []
    if scheduler is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # "lr_scheduler.step() before optimizer.step()": on purpose here
            for _ in range(int(epochs) * steps):
                schedule.append([{k: _plain(g[k]) for k in SCHEDULED if k in g} for g in optimizer.param_groups])
                scheduler.step()
    return {"optimizer": f"{cls.__module__}.{cls.__qualname__}", "groups": groups, "epochs": int(epochs),
            "schedule": schedule}
