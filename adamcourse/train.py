"""The labs' training loop: :func:`fit` trains a model for some epochs and returns a :class:`History`.

One loop for every device and every optimizer (``adamcourse.optim.*`` and ``torch.optim.*`` alike). It moves
the model and each batch to ``device`` once (a batch already there is not copied: keep the data on the device,
see ``data.ArrayLoader.to``), keeps the per-step losses on the device and reads them once per epoch, so a GPU
is never stalled by a host synchronisation inside an epoch. With ``amp=True`` on CUDA the forward pass runs
under bf16 autocast.

>>> import torch
>>> from adamcourse.optim import Adam
>>> from adamcourse.train import fit
>>> x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
>>> model = torch.nn.Linear(4, 3)
>>> history = fit(model, [(x, y)], [(x, y)], Adam(model.parameters()),
...               epochs=2)
>>> len(history.step), len(history.epoch)
(2, 2)
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from .runtime import best_device, show_progress

METRICS = ("accuracy", "bpc")


@dataclass
class History:
    """What :func:`fit` returns: plain Python floats, so ``asdict(history)`` is JSON-able.

    Per optimizer step: ``step`` (1, 2, ...), ``step_loss``, ``step_time`` (seconds of training since the
    start; on CUDA the time the host issued the step, as the GPU runs behind it) and ``grad_norm`` (the total
    norm before clipping, when ``record_grad_norm`` or ``clip_grad_norm`` was given, else empty). Per epoch:
    ``epoch`` (1, 2, ...), ``epoch_step`` (the last step of the epoch), ``train_loss`` (the mean of the
    epoch's step losses), ``val_loss`` and ``val_metric`` (empty without validation data, ``nan`` metric
    with ``metric=None``), ``epoch_time`` (seconds of training at the end of the epoch, evaluation
    excluded) and ``examples_per_s``.

    ``History(name, device, metric)`` starts with every list empty; :func:`fit` appends to them as it trains.
    """

    name: str
    device: str
    metric: str | None
    step: list[int] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    step_time: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    epoch: list[int] = field(default_factory=list)
    epoch_step: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    examples_per_s: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Every field as a plain ``dict`` (lists of floats and ints), ready for ``json.dump``."""
        return asdict(self)


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the last dim of the logits: ``(B, K)`` logits with ``(B,)`` targets, or
    ``(B, T, V)`` with ``(B, T)``."""
    logits = logits.reshape(-1, logits.shape[-1])  # (B * T, V)
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()  # the softmax in float32 under autocast
    return F.cross_entropy(logits, y.reshape(-1))


def _metric_fn(metric) -> tuple[str | None, Callable | None]:
    """``(name, fn)`` with ``fn(logits, y, loss) -> tensor`` the batch's mean metric."""
    if metric is None:
        return None, None
    if metric == "accuracy":
        return metric, lambda logits, y, loss: (logits.argmax(-1) == y).float().mean()
    if metric == "bpc":
        return metric, lambda logits, y, loss: loss / math.log(2)  # bits per character
    if callable(metric):
        return getattr(metric, "__name__", "metric"), lambda logits, y, loss: metric(logits, y)
    raise ValueError(f"metric must be one of {METRICS}, a callable metric(logits, y) or None, got {metric!r}")


def _to(batch, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ValueError(f"each batch must be a pair (x, y), got {type(batch).__name__}")
    x, y = batch
    return x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def _autocast(device: torch.device, amp: bool):
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def evaluate(model: nn.Module, data: Iterable, *, device=None, loss_fn=None, metric="accuracy",
             amp: bool = False) -> tuple[float, float | None]:
    """The mean loss and metric of ``model`` over the batches of ``data`` (weighted by the number of targets
    per batch), in eval mode; one host synchronisation at the end. Returns ``(loss, metric)``, ``metric``
    ``None`` when ``metric=None``."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    loss_fn = loss_fn or cross_entropy
    name, metric_fn = _metric_fn(metric)
    was_training = model.training
    model.eval()
    total_loss = total_metric = torch.zeros((), device=device, dtype=torch.float64)
    count = 0
    for batch in data:
        x, y = _to(batch, device)
        with _autocast(device, amp):
            logits = model(x)
        loss = loss_fn(logits, y)
        n = y.numel()
        total_loss = total_loss + loss.double() * n
        if metric_fn is not None:
            total_metric = total_metric + metric_fn(logits, y, loss).double() * n
        count += n
    model.train(was_training)
    if count == 0:
        raise ValueError("evaluate got no batches")
    loss, value = (total_loss / count).item(), (total_metric / count).item()
    if name == "bpc":
        value = loss / math.log(2)  # exactly, not a float32 mean of per-batch ratios
    return loss, (value if metric_fn is not None else None)


def fit(model: nn.Module, train: Iterable, val: Iterable | None, optimizer: torch.optim.Optimizer,
        epochs: int = 1, *, device=None, loss_fn=None, metric="accuracy", clip_grad_norm: float | None = None,
        record_grad_norm: bool = False, scheduler=None, amp: bool = False, max_time_s: float | None = None,
        progress: bool | None = None, name: str | None = None) -> History:
    """Train ``model`` on ``train`` for ``epochs`` epochs; evaluate on ``val`` after each; return a :class:`History`.

    Args:
        model: moved to ``device`` (create the optimizer before or after: ``Module.to`` keeps the parameter
            objects).
        train: any re-iterable of ``(x, y)`` batches: ``data.ArrayLoader``, ``data.CharWindows``, a
            ``DataLoader``, a list.
        val: the same, evaluated after each epoch; ``None`` skips evaluation.
        optimizer: over ``model``'s parameters: an ``adamcourse.optim`` or a ``torch.optim`` optimizer.
        epochs: passes over ``train``.
        device: default :func:`~adamcourse.runtime.best_device`.
        loss_fn: ``loss_fn(logits, y)``; default :func:`cross_entropy`.
        metric: ``"accuracy"``, ``"bpc"`` (bits per character, the loss over ln 2), a callable
            ``metric(logits, y)`` returning the batch mean, or ``None``.
        clip_grad_norm: clip the total gradient norm to this before each step (the norm before clipping is
            recorded).
        record_grad_norm: record the total gradient norm at each step, without clipping.
        scheduler: stepped after every optimizer step (so give it a number of steps, not epochs).
        amp: bf16 autocast on CUDA (ignored elsewhere).
        max_time_s: stop after the step that passes this many seconds of training, then evaluate once more.
        progress: a ``tqdm.auto`` bar (a widget in Jupyter, text elsewhere) when ``True``; nothing when
            ``False``; ``None`` (the default) asks :func:`~adamcourse.runtime.show_progress`: a bar where a
            person watches a notebook, none in the built book, the tests, scripts or inside a sweep.
        name: the history's name; default the optimizer's class name.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an int >= 1, got {epochs!r}")
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        raise ValueError(f"clip_grad_norm must be > 0 or None, got {clip_grad_norm!r}")
    if max_time_s is not None and not max_time_s > 0:
        raise ValueError(f"max_time_s must be > 0 or None, got {max_time_s!r}")
    metric_name, _ = _metric_fn(metric)  # raises on an unknown metric, before any training
    if epochs > 1 and iter(train) is train:
        raise ValueError("train is an iterator, which runs out after one epoch: pass a re-iterable "
                         "(a list of batches, data.ArrayLoader, a DataLoader)")
    device = torch.device(device) if device is not None else best_device()
    loss_fn = loss_fn or cross_entropy
    history = History(name or type(optimizer).__name__, str(device), metric_name)
    model.to(device)
    record_norm = record_grad_norm or clip_grad_norm is not None
    params = [p for p in model.parameters() if p.requires_grad]
    try:
        total = epochs * len(train)
    except TypeError:
        total = None
    bar = None
    if (show_progress() if progress is None else progress):
        from tqdm.auto import tqdm
        bar = tqdm(total=total, desc=history.name, unit="step", leave=False)

    step, elapsed = 0, 0.0  # elapsed: seconds of training, evaluation excluded
    for epoch in range(1, epochs + 1):
        model.train()
        losses, norms, times, examples = [], [], [], 0
        _sync(device)
        start = time.perf_counter()
        for batch in train:
            x, y = _to(batch, device)
            with _autocast(device, amp):
                logits = model(x)
            loss = loss_fn(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip_grad_norm is not None:
                norms.append(nn.utils.clip_grad_norm_(params, clip_grad_norm))
            elif record_norm:
                norms.append(torch.linalg.vector_norm(
                    torch.stack([torch.linalg.vector_norm(p.grad) for p in params if p.grad is not None])))
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            losses.append(loss.detach())  # stays on the device: no synchronisation here
            step += 1
            examples += len(x)
            times.append(elapsed + time.perf_counter() - start)
            if bar is not None:
                bar.update()
            if max_time_s is not None and times[-1] >= max_time_s:
                break
        if not losses:
            if bar is not None:
                bar.close()
            raise ValueError(f"train yielded no batches in epoch {epoch}")
        step_losses = torch.stack(losses).double().tolist()  # the epoch's one read from the device
        norm_values = torch.stack(norms).double().tolist() if norms else []
        _sync(device)
        seconds = time.perf_counter() - start
        elapsed += seconds

        history.step += list(range(step - len(losses) + 1, step + 1))
        history.step_loss += step_losses
        history.step_time += times
        history.grad_norm += norm_values
        history.epoch.append(epoch)
        history.epoch_step.append(step)
        history.train_loss.append(sum(step_losses) / len(step_losses))
        history.epoch_time.append(elapsed)
        history.examples_per_s.append(examples / seconds)
        if val is not None:
            val_loss, val_metric = evaluate(model, val, device=device, loss_fn=loss_fn, metric=metric, amp=amp)
            history.val_loss.append(val_loss)
            history.val_metric.append(math.nan if val_metric is None else val_metric)
        if bar is not None:
            shown = {"loss": f"{history.train_loss[-1]:.4g}"}
            if history.val_metric and metric_name is not None:
                shown[metric_name] = f"{history.val_metric[-1]:.4g}"
            bar.set_postfix(shown)
        if max_time_s is not None and elapsed >= max_time_s:
            break
    if bar is not None:
        bar.close()
    return history
