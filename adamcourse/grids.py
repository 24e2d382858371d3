r"""Hyperparameter grids trained as one batch: the update rules with one set of hyperparameters per member, a
stack of small networks trained together, and the summaries of a grid (steps to a target, share near the best).

A grid of ``K`` configurations (learning rates, :math:`\beta_2`, seeds, ...) is run as one array whose first
axis is the member: ``theta`` has shape ``(K, ...)`` and every hyperparameter is a sequence of ``K`` numbers.
The update rules are those of ``adamcourse.optim`` (PyTorch's defaults and semantics, no weight decay),
one line per equation, element-wise, so that one call advances every member; ``tests/test_grids.py`` checks
each member against a run of the library's functional core. Adam also comes **without bias correction**
(``correct=0``), the variant whose instability Kingma & Ba's Figure 4 shows:

.. math::

    \theta_t \leftarrow \theta_{t-1} - \eta\, m_t / (\sqrt{v_t} + \epsilon) .

:func:`train_stack` trains ``K`` copies of one ``torch.nn.Module`` (each with its own initial weights, from
its seed) with :func:`torch.func.vmap`: one forward and one backward pass per step for the whole grid.

>>> import numpy as np
>>> theta = np.ones((3, 2))                       # three members, two parameters each
>>> state = grid_init("adam", theta)
>>> theta, state = grid_step("adam", theta, 2 * theta, state, lr=[0.1, 0.01, 0.1], beta1=[0.9] * 3,
...                          beta2=[0.999] * 3, eps=[1e-8] * 3, correct=[1, 1, 0])
>>> theta.round(4)                                # the third member is uncorrected: a step 3.16 times larger
array([[0.9   , 0.9   ],
       [0.99  , 0.99  ],
       [0.6838, 0.6838]])
>>> steps_to_target(np.array([[3.0, 2.0, 0.5, 0.1], [3.0, 2.5, 2.0, 1.5]]), 1.0)
array([ 2., inf])
>>> share_within(np.array([[1.0, 1.05], [2.0, np.nan]]), 0.1)
0.5
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from .optim._common import document_fields

__all__ = ["HYPER", "GridState", "StackResult", "grid_init", "grid_step", "share_within", "steps_to_target",
           "train_stack"]

#: The hyperparameters of each rule, with their valid ranges (low, high, whether high is included).
HYPER: dict[str, dict[str, tuple[float, float, bool]]] = {
    "sgd": {"lr": (0.0, math.inf, False), "momentum": (0.0, 1.0, False)},
    "adagrad": {"lr": (0.0, math.inf, False), "eps": (0.0, math.inf, False)},
    "rmsprop": {"lr": (0.0, math.inf, False), "alpha": (0.0, 1.0, False), "eps": (0.0, math.inf, False)},
    "adam": {"lr": (0.0, math.inf, False), "beta1": (0.0, 1.0, False), "beta2": (0.0, 1.0, False),
             "eps": (0.0, math.inf, False), "correct": (0.0, 1.0, True)},
}


class GridState(NamedTuple):
    """The state of every member: ``t`` (steps taken) and the buffers, shaped like ``theta``: ``a`` is SGD's
    momentum buffer :math:`b_t`, Adagrad's sum :math:`G_t`, RMSprop's :math:`v_t` or Adam's :math:`m_t`;
    ``b`` is Adam's :math:`v_t` (zeros for the others)."""

    t: int
    a: np.ndarray | torch.Tensor
    b: np.ndarray | torch.Tensor


document_fields(
    GridState, t=r":math:`t`, the number of steps taken (the same for every member).",
    a=r"SGD's momentum buffer :math:`b_t`, Adagrad's sum :math:`G_t`, RMSprop's :math:`v_t` or Adam's "
      r":math:`m_t`, shaped like ``theta``.",
    b=r"Adam's :math:`v_t`, shaped like ``theta`` (zeros for the other rules).")


def _check_rule(rule: str) -> None:
    if rule not in HYPER:
        raise ValueError(f"rule must be one of {sorted(HYPER)}, got {rule!r}")


def grid_init(rule: str, theta) -> GridState:
    """Zero buffers and ``t = 0`` for a grid whose members are the rows of ``theta`` (NumPy or torch)."""
    _check_rule(rule)
    zeros = torch.zeros_like if isinstance(theta, torch.Tensor) else np.zeros_like
    return GridState(0, zeros(theta), zeros(theta))


def _columns(rule: str, theta, hyper: Mapping[str, Sequence[float]]) -> dict:
    """Each hyperparameter as a ``(K, 1, ..., 1)`` array of ``theta``'s kind, after checking names and ranges."""
    expected = HYPER[rule]
    missing, unknown = sorted(set(expected) - set(hyper)), sorted(set(hyper) - set(expected))
    if missing or unknown:
        raise ValueError(f"rule {rule!r} takes the hyperparameters {sorted(expected)}; missing {missing}, "
                         f"unknown {unknown}")
    k = theta.shape[0]
    columns = {}
    for name, values in hyper.items():
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if values.shape != (k,):
            raise ValueError(f"{name} needs one value per member ({k}), got {values.size}")
        low, high, closed = expected[name]
        bad = ~((values >= low) & ((values <= high) if closed else (values < high)))
        if name == "lr":
            bad |= values <= 0
        if bad.any():
            what = "(0, inf)" if name == "lr" else f"[{low:g}, {high:g}{']' if closed else ')'}"
            raise ValueError(f"{name} must lie in {what}, got {float(values[bad][0])!r}")
        shape = (k,) + (1,) * (theta.ndim - 1)
        if isinstance(theta, torch.Tensor):
            columns[name] = torch.as_tensor(values, dtype=theta.dtype, device=theta.device).reshape(shape)
        else:
            columns[name] = values.reshape(shape)
    return columns


def grid_step(rule: str, theta, grad, state: GridState, **hyper: Sequence[float]):
    r"""One step of ``rule`` for every member (row) of ``theta``; returns ``(theta, state)``, inputs unchanged.

    ``rule`` and its hyperparameters (one value per member, all required, see :data:`HYPER`):

    * ``"sgd"``: ``lr``, ``momentum`` (:math:`b_t = \beta b_{t-1} + g_t`, :math:`b_1 = g_1`, as PyTorch);
    * ``"adagrad"``: ``lr``, ``eps`` (:math:`G_t = G_{t-1} + g_t^2`, PyTorch's ``lr_decay=0``);
    * ``"rmsprop"``: ``lr``, ``alpha``, ``eps``;
    * ``"adam"``: ``lr``, ``beta1``, ``beta2``, ``eps`` and ``correct``: 1 for Algorithm 1 (as
      :func:`adamcourse.optim.adam.step`), 0 for the same averages without bias correction.
    """
    _check_rule(rule)
    if grad.shape != theta.shape:
        raise ValueError(f"grad has shape {tuple(grad.shape)}, theta {tuple(theta.shape)}: they must match")
    h = _columns(rule, theta, hyper)
    t = state.t + 1
    if rule == "sgd":
        b = h["momentum"] * state.a + grad                                  # b_t (b_1 = g_1 since b_0 = 0)
        return theta - h["lr"] * b, GridState(t, b, state.b)
    if rule == "adagrad":
        G = state.a + grad * grad                                           # G_t
        return theta - h["lr"] * grad / (G**0.5 + h["eps"]), GridState(t, G, state.b)
    if rule == "rmsprop":
        v = h["alpha"] * state.a + (1 - h["alpha"]) * grad * grad           # v_t
        return theta - h["lr"] * grad / (v**0.5 + h["eps"]), GridState(t, v, state.b)
    m = h["beta1"] * state.a + (1 - h["beta1"]) * grad                      # m_t
    v = h["beta2"] * state.b + (1 - h["beta2"]) * grad * grad               # v_t
    c = h["correct"]
    m_hat = m / (c * (1 - h["beta1"] ** t) + (1 - c))                       # m_t / (1 - beta1^t), or m_t
    v_hat = v / (c * (1 - h["beta2"] ** t) + (1 - c))                       # v_t / (1 - beta2^t), or v_t
    return theta - h["lr"] * m_hat / (v_hat**0.5 + h["eps"]), GridState(t, m, v)


def steps_to_target(losses: np.ndarray, target: float, steps: Sequence[int] | None = None) -> np.ndarray:
    """The first step at which each curve (the last axis of ``losses``) is at or below ``target``; ``inf``
    where it never is (``nan`` never counts). ``steps``: the step of each column (default ``0, 1, 2, ...``)."""
    losses = np.asarray(losses, dtype=np.float64)
    steps = np.arange(losses.shape[-1]) if steps is None else np.asarray(steps, dtype=np.float64)
    if steps.shape != losses.shape[-1:]:
        raise ValueError(f"steps needs one entry per column of losses ({losses.shape[-1]}), got {steps.size}")
    with np.errstate(invalid="ignore"):
        hit = losses <= target
    first = np.argmax(hit, axis=-1)
    return np.where(hit.any(axis=-1), steps[first], np.inf)


def share_within(values: np.ndarray, within: float = 0.1) -> float:
    """The share of the cells of ``values`` (a final loss, lower is better) at or below ``(1 + within)``
    times the smallest finite cell; a non-finite cell (a diverged run) counts as outside."""
    values = np.asarray(values, dtype=np.float64)
    if not within >= 0:
        raise ValueError(f"within must be >= 0, got {within!r}")
    finite = np.isfinite(values)
    if not finite.any():
        return 0.0
    best = values[finite].min()
    if best < 0:
        raise ValueError(f"share_within needs values >= 0 (a loss), got {best!r}")
    return float(np.mean(finite & (values <= (1 + within) * best)))


@dataclass
class StackResult:
    """What :func:`train_stack` records for each of the ``K`` members: ``steps`` (the steps at which the
    training loss was evaluated, 0 first), ``train_loss`` ``(K, len(steps))`` on the whole training set,
    ``seconds`` (the wall time of the training loop, evaluations excluded), and for each extra evaluation
    set its loss and accuracy after the last step (``final``: ``{name: {"loss": (K,), "accuracy": (K,)}}``)."""

    steps: np.ndarray
    train_loss: np.ndarray
    seconds: float
    final: dict[str, dict[str, np.ndarray]]


def _loss(kind: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-member mean loss: ``out`` ``(K, N, C)``; ``y`` ``(K, N)`` or ``(N,)`` class labels, or a target like out."""
    if kind == "cross_entropy":
        y = y.expand(out.shape[:2]) if y.dim() == 1 else y
        return nn.functional.cross_entropy(out.transpose(1, 2), y, reduction="none").mean(dim=1)
    y = y.expand(out.shape) if y.dim() == out.dim() - 1 else y
    return ((out - y) ** 2).flatten(1).mean(dim=1)


def train_stack(build: Callable[[], nn.Module], seeds: Sequence[int], rule: str, hyper: Mapping[str, Sequence],
                x: torch.Tensor, y: torch.Tensor, *, steps: int, batch_size: int, loss: str = "cross_entropy",
                eval_every: int = 10, evaluate: Mapping[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
                curve_on: tuple[torch.Tensor, torch.Tensor] | None = None) -> StackResult:
    r"""Train ``K = len(seeds)`` copies of ``build()`` together, member ``k`` with its hyperparameters
    ``hyper[name][k]`` under :func:`grid_step`'s ``rule``; return a :class:`StackResult`.

    Member ``k`` starts from the weights ``build()`` makes after ``torch.manual_seed(seeds[k])`` and sees the
    minibatches (``batch_size`` rows of ``x``, ``y``, drawn without replacement within each pass) of a
    ``torch.Generator`` seeded with ``seeds[k]``: members with the same seed differ only in their
    hyperparameters. ``loss``: ``"cross_entropy"`` (``y`` class labels) or ``"mse"`` (``y`` a target like
    the output, e.g. ``x`` for an autoencoder). Batch-norm layers use the statistics of the batch, in training
    and evaluation alike (:func:`torch.func.replace_all_batch_norm_modules_`). The training loss on all of
    ``x`` (or on ``curve_on = (x, y)``, e.g. a fixed subset) is recorded every ``eval_every`` steps;
    ``evaluate`` maps a name to ``(x, y)`` evaluated at the end.
    A member that diverges gets ``nan`` losses and does not disturb the others.
    """
    from torch.func import functional_call, replace_all_batch_norm_modules_, stack_module_state, vmap

    if loss not in ("cross_entropy", "mse"):
        raise ValueError(f"loss must be 'cross_entropy' or 'mse', got {loss!r}")
    for name, value in (("steps", steps), ("batch_size", batch_size), ("eval_every", eval_every)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if batch_size > len(x):
        raise ValueError(f"batch_size must be at most the number of examples ({len(x)}), got {batch_size}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one member")
    members = []
    for seed in seeds:
        torch.manual_seed(seed)
        members.append(replace_all_batch_norm_modules_(build()))
    params, buffers = stack_module_state(members)
    names = list(params)
    base = copy.deepcopy(members[0]).to("meta")

    def forward(p, b, inputs):
        return functional_call(base, (p, b), (inputs,))

    batched = vmap(forward, in_dims=(0, 0, 0))
    shared = vmap(forward, in_dims=(0, 0, None))
    flat = [params[n].detach().clone() for n in names]
    states = [grid_init(rule, p) for p in flat]
    order = {}
    for seed in sorted(set(seeds)):  # each seed's minibatches: passes over a random permutation
        gen, per_pass = torch.Generator().manual_seed(seed), len(x) // batch_size
        rows = []
        while len(rows) < steps:
            perm = torch.randperm(len(x), generator=gen)
            rows.extend(perm[i * batch_size:(i + 1) * batch_size] for i in range(per_pass))
        order[seed] = torch.stack(rows[:steps])            # (steps, B)
    index = torch.stack([order[s] for s in seeds], dim=1)  # (steps, K, B)

    def losses_on(inputs, targets):
        with torch.no_grad():
            out = shared(dict(zip(names, flat, strict=True)), buffers, inputs)
            return _loss(loss, out, targets), out

    cx, cy = (x, y) if curve_on is None else curve_on
    record, curve, seconds = [0], [losses_on(cx, cy)[0]], 0.0
    for step in range(1, steps + 1):
        start = time.perf_counter()
        xb, yb = x[index[step - 1]], y[index[step - 1]]   # (K, B, ...)
        current = [p.requires_grad_(True) for p in flat]
        with np.errstate(all="ignore"):
            total = _loss(loss, batched(dict(zip(names, current, strict=True)), buffers, xb), yb).sum()
            grads = torch.autograd.grad(total, current)
            new = []
            for i, (p, g) in enumerate(zip(current, grads, strict=True)):
                p, states[i] = grid_step(rule, p.detach(), g, states[i], **hyper)
                new.append(p)
        flat = new
        seconds += time.perf_counter() - start
        if step % eval_every == 0 or step == steps:
            record.append(step)
            curve.append(losses_on(cx, cy)[0])
    final = {}
    for name, (xe, ye) in (evaluate or {}).items():
        value, out = losses_on(xe, ye)
        entry = {"loss": value.numpy().astype(np.float64)}
        if loss == "cross_entropy":
            entry["accuracy"] = (out.argmax(-1) == ye).double().mean(dim=1).numpy()
        final[name] = entry
    return StackResult(np.array(record), torch.stack(curve, dim=1).numpy().astype(np.float64), seconds, final)
