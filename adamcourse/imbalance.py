r"""Heavy-tailed class imbalance (Kunstner et al., 2024) in miniature: why Adam beats gradient descent there.

- :func:`zipf_probs`, :func:`zipf_counts`: class frequencies :math:`\pi_k \propto k^{-s}` and whole counts.
- :func:`make_zipf_data`: inputs ``x = e_y + noise * z`` (the one-hot of the class plus Gaussian noise), labels
  with Zipf counts, one data set per seed stacked on a leading axis.
- :func:`softmax_loss_grad`: per-class losses and the exact gradient of a linear softmax model, batched.
- :func:`sign_descent_step`: :math:`\theta \leftarrow \theta - \eta\,\operatorname{sign}(g)`.
- :func:`train_linear`: full-batch GD, sign descent or Adam on the linear model for a whole grid of learning
  rates and seeds at once; returns every step's per-class losses (:class:`LinearRun`).
- :func:`gradient_flow_loss`: the exact per-class loss of gradient flow on the noiseless model.
- :func:`time_to_level`, :func:`loglog_slope`: when each class's loss first reaches a level, and the slope of a
  straight line through ``(log x, log y)``.
- :func:`frequency_bins`, :func:`loss_by_bin`, :func:`train_char_by_bin`: the same question for a character
  model, by bins of character frequency.

Example::

    >>> import numpy as np
    >>> from adamcourse import imbalance
    >>> pi = imbalance.zipf_probs(4)
    >>> np.round(pi * 25, 6)        # 1 : 1/2 : 1/3 : 1/4, normalised (sum 25/12)
    array([12.,  6.,  4.,  3.])
    >>> imbalance.sign_descent_step(np.array([1.0, 1.0]), np.array([-3.0, 0.2]), lr=0.1)
    array([1.1, 0.9])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

import numpy as np
import torch
from scipy.optimize import brentq

from .optim import adam as _adam
from .optim._common import document_fields
from .sweep import Sweep, neighbour_lr

__all__ = ["LinearRun", "ZipfData", "frequency_bins", "gradient_flow_loss", "loglog_slope", "loss_by_bin",
           "make_zipf_data", "sign_descent_step", "softmax_loss_grad", "time_to_level", "train_char_by_bin",
           "train_linear", "tune", "bigram_counts", "BigramRun", "train_bigram", "zipf_counts", "zipf_probs"]

METHODS = ("gd", "sign", "adam")


def _check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def zipf_probs(num_classes: int, exponent: float = 1.0) -> np.ndarray:
    r"""Class frequencies :math:`\pi_k = k^{-s} / \sum_j j^{-s}` for :math:`k = 1..K` (``exponent`` is s)."""
    _check_int("num_classes", num_classes, 1)
    if not exponent >= 0:
        raise ValueError(f"exponent must be >= 0, got {exponent!r}")
    w = np.arange(1, num_classes + 1, dtype=np.float64) ** -float(exponent)
    return w / w.sum()


def zipf_counts(n: int, num_classes: int, exponent: float = 1.0) -> np.ndarray:
    """Whole numbers of examples per class, about ``n * pi_k`` and at least 1 (largest remainders get the rest)."""
    _check_int("n", n, num_classes)
    pi = zipf_probs(num_classes, exponent)
    exact = n * pi
    counts = np.maximum(np.floor(exact).astype(int), 1)
    short = n - counts.sum()
    if short > 0:
        counts[np.argsort(-(exact - np.floor(exact)), kind="stable")[:short]] += 1
    while counts.sum() > n:  # too many 1s for the rarest classes: take from the most frequent
        counts[np.argmax(counts)] -= 1
    return counts


class ZipfData(NamedTuple):
    """Data sets of :func:`make_zipf_data`, one per seed."""

    x: torch.Tensor   # (S, n, d) inputs, float64
    y: torch.Tensor   # (n,) labels 0..K-1, the same for every seed (sorted by class)
    pi: np.ndarray    # (K,) empirical class frequencies n_k / n
    counts: np.ndarray  # (K,) examples per class


document_fields(
    ZipfData, x=r"the inputs :math:`x_i`, one set per seed: shape ``(S, n, d)``, float64.",
    y=r"the labels :math:`y_i` in ``0..K-1``, the same for every seed (sorted by class): shape ``(n,)``.",
    pi=r"the empirical class frequencies :math:`\pi_k = n_k / n`: shape ``(K,)``.",
    counts=r"the number of examples :math:`n_k` of each class: shape ``(K,)``.")


def make_zipf_data(num_classes: int, n: int, *, dim: int | None = None, noise: float = 0.0,
                   exponent: float = 1.0, seeds: Sequence[int] = (0,)) -> ZipfData:
    r"""``n`` examples in ``num_classes`` classes with Zipf counts (:func:`zipf_counts`); example :math:`i` is
    :math:`x_i = e_{y_i} + \sigma z_i`, the one-hot vector of its class in ``dim`` (default ``num_classes``)
    dimensions plus ``noise`` :math:`\sigma` times a standard normal :math:`z_i`, drawn from each seed.
    ``noise=0`` is the exactly solvable model of :func:`gradient_flow_loss`."""
    _check_int("num_classes", num_classes, 2)
    dim = num_classes if dim is None else dim
    _check_int("dim", dim, num_classes)
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    counts = zipf_counts(n, num_classes, exponent)
    y = torch.from_numpy(np.repeat(np.arange(num_classes), counts))
    onehot = torch.nn.functional.one_hot(y, dim).to(torch.float64)  # (n, d)
    xs = []
    for seed in seeds:
        g = torch.Generator().manual_seed(int(seed))
        xs.append(onehot + noise * torch.randn(n, dim, generator=g, dtype=torch.float64))
    return ZipfData(torch.stack(xs), y, counts / counts.sum(), counts)


def softmax_loss_grad(W: torch.Tensor, x: torch.Tensor, y: torch.Tensor, num_classes: int | None = None):
    r"""Per-class mean cross-entropy losses and the gradient of the total loss of a linear softmax model.

    ``W``: ``(..., K, d)``, ``x``: ``(..., n, d)`` (broadcast against ``W``'s leading axes), ``y``: ``(n,)``.
    The total loss is :math:`L = \frac1n\sum_i -\log \operatorname{softmax}(W x_i)_{y_i}
    = \sum_k \pi_k \ell_k` with :math:`\ell_k` the mean loss over class :math:`k`; its gradient is
    :math:`\frac1n (P - Y)^\top X`. Returns ``(per_class (..., K), total (...), grad (..., K, d))``."""
    K = W.shape[-2] if num_classes is None else num_classes
    if x.shape[-1] != W.shape[-1]:
        raise ValueError(f"x has {x.shape[-1]} features but W has {W.shape[-1]} columns")
    if y.shape != (x.shape[-2],):
        raise ValueError(f"y must have shape ({x.shape[-2]},), got {tuple(y.shape)}")
    logits = x @ W.transpose(-1, -2)                        # (..., n, K)
    logp = torch.log_softmax(logits, dim=-1)
    onehot = torch.nn.functional.one_hot(y, K).to(W.dtype)  # (n, K)
    losses = -torch.gather(logp, -1, y.expand(logp.shape[:-1])[..., None])[..., 0]  # (..., n)
    per_class = (losses @ onehot) / onehot.sum(0).clamp(min=1)  # (..., K)
    grad = (logp.exp() - onehot).transpose(-1, -2) @ x / y.shape[0]   # (..., K, d)
    return per_class, losses.mean(-1), grad


def sign_descent_step(theta, grad, *, lr: float):
    r""":math:`\theta - \eta\,\operatorname{sign}(g)` (sign 0 for a zero gradient); NumPy or torch."""
    if not lr >= 0:
        raise ValueError(f"lr must be >= 0, got {lr!r}")
    sign = torch.sign(grad) if isinstance(grad, torch.Tensor) else np.sign(grad)
    return theta - lr * sign


class LinearRun(NamedTuple):
    """What :func:`train_linear` records: ``per_class[l, s, t, k]`` is class k's loss after t steps (t = 0 is
    the start) at learning rate ``lrs[l]`` on data set s; ``total[l, s, t]`` the total loss."""

    lrs: tuple[float, ...]
    per_class: np.ndarray  # (L, S, T + 1, K)
    total: np.ndarray      # (L, S, T + 1)


document_fields(
    LinearRun, lrs=r"the learning rates, in the order of the first axis of ``per_class`` and ``total``.",
    per_class=r"``per_class[l, s, t, k]``: class :math:`k`'s mean loss after :math:`t` steps (:math:`t = 0` is the "
              r"start) at learning rate ``lrs[l]`` on data set :math:`s`: shape ``(L, S, T + 1, K)``.",
    total=r"``total[l, s, t]`` is the total (mean) loss, of shape ``(L, S, T + 1)``.")


def train_linear(data: ZipfData, method: str, lrs: Iterable[float], steps: int, *, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8) -> LinearRun:
    r"""Train the linear softmax model from :math:`W_0 = 0` with full-batch ``method`` for ``steps`` steps, at
    every learning rate of ``lrs`` and on every data set of ``data`` at once.

    ``method``: ``"gd"`` (:math:`W - \eta g`), ``"sign"`` (:func:`sign_descent_step`) or ``"adam"``
    (:func:`adamcourse.optim.adam.step` with ``beta1, beta2, eps``). Adam's direction is computed by the library
    at ``lr=1`` and then scaled by each learning rate, which is exact because its moments do not depend on the
    learning rate. A run that overflows gives ``nan`` losses from then on."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    lrs = tuple(float(lr) for lr in lrs)
    if not lrs or not all(lr > 0 for lr in lrs):
        raise ValueError(f"lrs must be a non-empty sequence of positive numbers, got {lrs!r}")
    _check_int("steps", steps, 1)
    x, y = data.x, data.y
    K, S = len(data.counts), x.shape[0]
    eta = torch.tensor(lrs, dtype=torch.float64)[:, None, None, None]     # (L, 1, 1, 1)
    W = torch.zeros(len(lrs), S, K, x.shape[-1], dtype=torch.float64)     # (L, S, K, d)
    state = _adam.init(W) if method == "adam" else None
    per_class = np.empty((len(lrs), S, steps + 1, K))
    total = np.empty((len(lrs), S, steps + 1))
    for t in range(steps + 1):
        pc, tot, g = softmax_loss_grad(W, x, y, K)
        per_class[:, :, t], total[:, :, t] = pc.numpy(), tot.numpy()
        if t == steps:
            break
        if method == "gd":
            W = W - eta * g
        elif method == "sign":
            W = W - eta * torch.sign(g)   # = sign_descent_step at each lr
        else:
            unit, state = _adam.step(W, g, state, lr=1.0, beta1=beta1, beta2=beta2, eps=eps)
            W = W - eta * (W - unit)
    with np.errstate(invalid="ignore"):
        per_class[~np.isfinite(per_class)] = np.nan
        total[~np.isfinite(total)] = np.nan
    return LinearRun(lrs, per_class, total)


def gradient_flow_loss(s, num_classes: int) -> np.ndarray:
    r"""The loss :math:`\ell(s)` of one class of the noiseless model under gradient flow, at rescaled time
    :math:`s = \eta\,\pi_k t`: :math:`\ell = \log(1 + (K-1)e^{-z})` where the margin :math:`z` solves
    :math:`e^z + (K-1)z = 1 + Ks` (from :math:`W_0 = 0`)."""
    _check_int("num_classes", num_classes, 2)
    s = np.asarray(s, dtype=np.float64)
    if np.any(s < 0):
        raise ValueError("s must be >= 0")
    K = num_classes

    def margin(si):
        rhs = 1 + K * si
        return brentq(lambda z: math.exp(z) + (K - 1) * z - rhs, 0.0, math.log(rhs) + 1.0, xtol=1e-14)

    z = np.vectorize(margin, otypes=[float])(s)
    return np.log1p((K - 1) * np.exp(-z))


def time_to_level(curves: np.ndarray, level) -> np.ndarray:
    """When each curve (along the last axis, one value per step) first reaches ``level`` (broadcast against
    ``curves`` without its last axis): the step, interpolated linearly between the two steps around the
    crossing (so 2.5 is half-way from step 2 to step 3); 0 if it starts there; ``inf`` where it never does."""
    curves = np.asarray(curves, dtype=np.float64)
    level = np.broadcast_to(np.asarray(level, dtype=np.float64), curves.shape[:-1])
    below = curves <= level[..., None]
    first = np.argmax(below, axis=-1)
    before = np.take_along_axis(curves, np.maximum(first - 1, 0)[..., None], -1)[..., 0]
    after = np.take_along_axis(curves, first[..., None], -1)[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(first > 0, (before - level) / (before - after), 0.0)
    out = np.where(first > 0, first - 1 + frac, 0.0)
    return np.where(below.any(axis=-1), out, np.inf)


def loglog_slope(x, y) -> float:
    """The least-squares slope of ``log y`` against ``log x``, over the pairs where both are finite and > 0."""
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if keep.sum() < 2 or np.ptp(np.log(x[keep])) == 0:
        raise ValueError("loglog_slope needs at least two points with distinct positive x")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


def frequency_bins(ids: torch.Tensor, vocab_size: int, num_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Characters sorted by frequency in ``ids`` and cut into ``num_bins`` bins of (nearly) equal numbers of
    distinct characters: returns ``(bin_of (V,), freq (V,))``, bin 0 the most frequent characters. Characters
    that never occur get the last bin."""
    _check_int("num_bins", num_bins, 1)
    _check_int("vocab_size", vocab_size, num_bins)
    freq = np.bincount(ids.cpu().numpy(), minlength=vocab_size)[:vocab_size] / ids.numel()
    order = np.argsort(-freq, kind="stable")
    bin_of = np.empty(vocab_size, dtype=np.int64)
    for b, chunk in enumerate(np.array_split(order, num_bins)):
        bin_of[chunk] = b
    return bin_of, freq


def loss_by_bin(logits: torch.Tensor, targets: torch.Tensor, bin_of, num_bins: int) -> np.ndarray:
    """The mean cross-entropy of the positions whose target falls in each bin, ``(num_bins,)`` (``nan`` for a
    bin without any)."""
    losses = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                               reduction="none")
    bins = torch.as_tensor(bin_of, device=targets.device)[targets.reshape(-1)]
    total = torch.zeros(num_bins, dtype=torch.float64, device=losses.device).index_add_(0, bins, losses.double())
    count = torch.bincount(bins, minlength=num_bins).double()
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total / count).cpu().numpy()


def train_char_by_bin(model: torch.nn.Module, optimizer: torch.optim.Optimizer, windows: Iterable,
                      val: tuple[torch.Tensor, torch.Tensor], bin_of, num_bins: int,
                      eval_at: Sequence[int]) -> np.ndarray:
    """Train a next-character model on ``windows`` (``(x, y)`` id batches), and after each step count in
    ``eval_at`` (0 = before training) return the validation loss of each frequency bin: ``(len(eval_at),
    num_bins)``. The model's logits are ``(B, T, V)``."""
    eval_at = sorted(set(int(e) for e in eval_at))
    if not eval_at or eval_at[0] < 0:
        raise ValueError(f"eval_at must hold step counts >= 0, got {eval_at!r}")
    out = []

    def evaluate():
        model.eval()
        with torch.no_grad():
            out.append(loss_by_bin(model(val[0]), val[1], bin_of, num_bins))
        model.train()

    step = 0
    if eval_at[0] == 0:
        evaluate()
    for x, y in windows:
        if step >= eval_at[-1]:
            break
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        if step in eval_at:
            evaluate()
    if len(out) != len(eval_at):
        raise ValueError(f"windows gave {step} steps, fewer than the last of eval_at ({eval_at[-1]})")
    return np.stack(out)



def tune(train: Callable[[tuple[float, ...]], object], name: str, grid: Sequence[float], *,
         max_extra: int = 3) -> tuple[Sweep, dict[float, object]]:
    """Tune a learning rate with a vectorised runner: ``train(lrs)`` runs every learning rate of ``lrs`` on
    every seed at once and returns a run with ``lrs`` and ``total`` (``(L, S, ...)``, the last entry of the
    last axis being the score, lower is better), as :func:`train_linear` and :func:`train_bigram` do. While the
    best learning rate is at an end of the grid, the next one beyond it (:func:`adamcourse.sweep.neighbour_lr`)
    is run too, at most ``max_extra`` times. Returns the :class:`~adamcourse.sweep.Sweep` (check
    ``sweep.best(name).interior``) and each learning rate's run (its arrays cut to that learning rate)."""
    if not grid:
        raise ValueError("grid must hold at least one learning rate")
    sweep, runs = None, {}

    def add(lrs):
        nonlocal sweep
        run = train(tuple(lrs))
        if sweep is None:
            sweep = Sweep(range(run.total.shape[1]), higher_is_better=False)
        for i, lr in enumerate(run.lrs):
            runs[lr] = type(run)(*[(lr,) if f == "lrs" else getattr(run, f)[i:i + 1] for f in run._fields])
            for s in sweep.seeds:
                sweep.add(name, lr, s, run.total[i, s, -1])

    add(grid)
    for _ in range(max_extra):
        best = sweep.best(name)
        if best.interior:
            break
        add([neighbour_lr(best.lr, best.edge)])
    return sweep, runs


def bigram_counts(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """``C[a, b]``: how often character ``b`` follows character ``a`` in ``ids``, float64 ``(V, V)``."""
    ids = ids.to(torch.int64).cpu()
    if ids.numel() < 2:
        raise ValueError("ids must hold at least two characters")
    flat = ids[:-1] * vocab_size + ids[1:]
    return torch.bincount(flat, minlength=vocab_size * vocab_size).reshape(vocab_size, vocab_size).double()


class BigramRun(NamedTuple):
    """What :func:`train_bigram` records: ``per_char[l, s, e, j]`` is the validation loss of the positions whose
    next character is ``j`` after ``eval_at[e]`` steps at learning rate ``lrs[l]`` with seed s; ``total[l, s, e]``
    the mean validation loss."""

    lrs: tuple[float, ...]
    eval_at: tuple[int, ...]
    per_char: np.ndarray  # (L, S, E, V)
    total: np.ndarray     # (L, S, E)


document_fields(
    BigramRun, lrs=r"the learning rates, in the order of the first axis of ``per_char`` and ``total``.",
    eval_at=r"the step counts at which the validation loss was measured, in increasing order.",
    per_char=r"``per_char[l, s, e, j]``: the validation loss of the positions whose next character is ``j`` "
             r"after ``eval_at[e]`` steps at learning rate ``lrs[l]`` with seed :math:`s`: shape ``(L, S, E, V)``.",
    total=r"``total[l, s, e]`` is the mean validation loss, of shape ``(L, S, E)``.")


def train_bigram(train_ids: torch.Tensor, val_ids: torch.Tensor, vocab_size: int, method: str,
                 lrs: Iterable[float], *, seeds: Sequence[int], steps: int, batch_size: int,
                 eval_at: Sequence[int], beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> BigramRun:
    r"""A bigram model, :math:`p(b \mid a) = \operatorname{softmax}(W_{a,:})_b` (a linear softmax on the one-hot
    of the previous character), trained from :math:`W = 0` on minibatches of ``batch_size`` random pairs of
    ``train_ids`` (drawn from each seed) with ``method`` (``"gd"``: SGD, ``"sign"``, ``"adam"`` as in
    :func:`train_linear`), every learning rate and seed at once. The minibatch gradient is exact:
    :math:`\frac1B (c_a p_a - C_{a,:})` for row :math:`a`, with :math:`C` the minibatch's bigram counts."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    lrs = tuple(float(lr) for lr in lrs)
    if not lrs or not all(lr > 0 for lr in lrs):
        raise ValueError(f"lrs must be a non-empty sequence of positive numbers, got {lrs!r}")
    _check_int("steps", steps, 1)
    _check_int("batch_size", batch_size, 1)
    eval_at = tuple(sorted(set(int(e) for e in eval_at)))
    if not eval_at or eval_at[0] < 0 or eval_at[-1] > steps:
        raise ValueError(f"eval_at must hold step counts in [0, steps={steps}], got {eval_at!r}")
    V, L, S = vocab_size, len(lrs), len(seeds)
    val = bigram_counts(val_ids, V)                          # (V, V)
    per_target = val.sum(0).clamp(min=1)                     # (V,)
    pairs = train_ids.to(torch.int64).cpu()
    flat = pairs[:-1] * V + pairs[1:]                        # one id per (previous, next) pair
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    eta = torch.tensor(lrs, dtype=torch.float64)[:, None, None, None]
    W = torch.zeros(L, S, V, V, dtype=torch.float64)
    state = _adam.init(W) if method == "adam" else None
    offsets = (torch.arange(L * S) * V * V).reshape(L, S, 1)
    per_char, total = [], []
    for t in range(steps + 1):
        if t in eval_at:
            logp = torch.log_softmax(W, dim=-1)              # (L, S, V, V)
            nll = -(logp * val).sum(-2)                      # (L, S, V): summed over the previous character
            per_char.append((nll / per_target).numpy())
            total.append((nll.sum(-1) / val.sum()).numpy())
        if t == steps:
            break
        picks = torch.stack([torch.randint(flat.numel(), (L, batch_size), generator=g) for g in gens], 1)
        ids = flat[picks] + offsets                          # (L, S, B) into one long bincount
        C = torch.bincount(ids.reshape(-1), minlength=L * S * V * V).reshape(L, S, V, V).double()
        g = (C.sum(-1, keepdim=True) * torch.softmax(W, dim=-1) - C) / batch_size
        if method == "gd":
            W = W - eta * g
        elif method == "sign":
            W = W - eta * torch.sign(g)
        else:
            unit, state = _adam.step(W, g, state, lr=1.0, beta1=beta1, beta2=beta2, eps=eps)
            W = W - eta * (W - unit)
    per_char, total = np.stack(per_char, 2), np.stack(total, 2)
    per_char[~np.isfinite(per_char)] = np.nan
    total[~np.isfinite(total)] = np.nan
    return BigramRun(lrs, eval_at, per_char, total)
