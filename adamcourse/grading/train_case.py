"""A case for the labs' training code: :class:`TrainCase` runs the student's ``train_step`` on a tiny MLP.

The student writes ``train_step(model, x, y, optimizer) -> float`` (zero_grad, forward, cross-entropy,
backward, step, return ``loss.item()``). :meth:`TrainCase.inputs` gives plain arrays only (a seeded
3-class problem in 8 dimensions and the initial weights of Linear(8, 16)-ReLU-Linear(16, 3)), so the parent
can save them with ``np.savez``. :meth:`TrainCase.run` builds the model in **float64** (torch on CPU is then
deterministic to far below the tolerance), calls the student's function ``steps`` times on minibatches in a
fixed order and returns the losses, float64 of shape ``(steps,)``. torch is imported by :meth:`run` and
:meth:`expected` only; the grading child imports it before the call, outside the exercise's time limit
(:attr:`TrainCase.modules`).

:meth:`TrainCase.judge` gives partial credit in three equal parts: every loss finite (and >= 0), the final
loss (mean of the last 5) below ``final_fraction`` of the initial one (the first loss the student returned),
and the curve equal to the reference's within ``rtol``/``atol``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .case import Case, CaseError, CaseResult
from .drivers import N_HIDDEN, N_IN, N_OUT, TENSOR_HINT

SIGNATURE = "train_step(model, x, y, optimizer) -> float (the loss)"
OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True, kw_only=True)
class TrainCase(Case):
    """``steps`` calls of ``train_step`` on minibatches of ``batch`` points (of ``n``), in order, wrapping
    around; ``optimizer`` is ``"sgd"`` (``torch.optim.SGD(lr=lr)``) or ``"adam"`` (``torch.optim.Adam(lr=lr)``)."""

    modules: ClassVar[tuple[str, ...]] = ("torch",)  # imported by the grading child before the call

    points: float = 3.0
    steps: int = 30
    seed: int = 0
    lr: float = 0.1
    optimizer: str = "sgd"
    n: int = 96
    batch: int = 16
    final_fraction: float = 0.5
    rtol: float = 1e-6
    atol: float = 1e-9

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"TrainCase {self.name!r}: optimizer must be one of {OPTIMIZERS}, "
                             f"got {self.optimizer!r}")
        if self.steps < 5 or self.batch < 1 or self.n < self.batch:
            raise ValueError(f"TrainCase {self.name!r}: needs steps >= 5 and 1 <= batch <= n")

    def inputs(self) -> dict[str, Any]:
        """x (n, 8), y (n,) int64 labels of 3 Gaussian blobs, and W1, b1, W2, b2 (PyTorch's default init
        ranges, drawn with NumPy)."""
        rng = np.random.default_rng(self.seed)
        centers = rng.standard_normal((N_OUT, N_IN)) * 1.5
        y = rng.integers(0, N_OUT, self.n)
        x = centers[y] + rng.standard_normal((self.n, N_IN))
        b1, b2 = 1 / np.sqrt(N_IN), 1 / np.sqrt(N_HIDDEN)
        return {"x": x, "y": y.astype(np.int64),
                "W1": rng.uniform(-b1, b1, (N_HIDDEN, N_IN)), "b1": rng.uniform(-b1, b1, N_HIDDEN),
                "W2": rng.uniform(-b2, b2, (N_OUT, N_HIDDEN)), "b2": rng.uniform(-b2, b2, N_OUT)}

    def _credit(self, parts, header: str, hint: str | None) -> CaseResult:
        """A third of the points for each ``(label, passed, detail)`` of ``parts``."""
        earned = sum(ok for _, ok, _ in parts)
        lines = [f"{earned}/3 parts passed over {self.steps} steps ({header})"]
        lines += [f"[{'PASS' if ok else 'FAIL'}] {label}" + (f": {detail}" if detail else "")
                  for label, ok, detail in parts]
        return CaseResult(self.exercise, self.name, self.hidden, self.points * earned / 3, self.points,
                          earned == 3, "\n".join(lines), hint)

    driver: ClassVar[str] = "train"   # the grader runs drivers.train in the student's process

    def params(self) -> dict[str, Any]:
        """The plain settings the student's process needs to build the model and call the function."""
        return {"optimizer": self.optimizer, "lr": self.lr, "steps": self.steps, "batch": self.batch,
                "amp": getattr(self, "amp", False)}

    def run(self, fn, inputs) -> np.ndarray:
        from . import drivers

        try:
            return getattr(drivers, self.driver)(fn, self.exercise, self.params(), inputs)
        except drivers.DriverError as e:
            raise CaseError(str(e)) from None

    def expected(self) -> np.ndarray:
        from .references import REFERENCES
        return self.run(REFERENCES[self.exercise], self.inputs())

    def error_result(self, message: str, error_tail: str | None = None) -> CaseResult:
        result = super().error_result(message, error_tail)
        if TENSOR_HINT in message:
            result.hint = TENSOR_HINT
        return result

    def _close(self, a, b) -> bool:
        return a.shape == b.shape and bool(np.isclose(a, b, rtol=self.rtol, atol=self.atol, equal_nan=True).all())

    def judge(self, got) -> CaseResult:
        expected = self.expected()
        got, failed = self._as_expected(got, expected, "the losses are", " (one loss per step)")
        if failed:
            return failed
        finite = bool(np.isfinite(got).all() and (got >= 0).all())
        final, start = float(got[-5:].mean()), float(got[0])
        fell = finite and final < self.final_fraction * start
        same = self._close(got, expected)
        parts = [
            ("every loss finite and >= 0", finite,
             "" if finite else f"{int((~np.isfinite(got) | (got < 0)).sum())} of {got.size} are not"),
            (f"final loss below {self.final_fraction:g} x the first", fell,
             f"mean of the last 5 = {final:.4g}, first = {start:.4g}"),
            (f"curve matches the reference (rtol={self.rtol:g})", same, "" if same else self._first_difference(
                expected, got)),
        ]
        hint = None if same or not np.isfinite(got).all() else self._hint(expected, got)
        return self._credit(parts, f"{self.optimizer}, lr={self.lr:g}", hint)

    def _first_difference(self, expected, got) -> str:
        bad = ~np.isclose(got, expected, rtol=self.rtol, atol=self.atol, equal_nan=True)
        i = int(np.argmax(bad))
        return f"first difference at step {i + 1}: expected {expected[i]:.10g}, got {got[i]:.10g}"

    def _same(self, a, b) -> bool:
        return self._close(a, b)


def _describe(x) -> str:
    from .case import _describe as describe
    return describe(x)


# ---------------------------------------------------------------- the device-aware step of the labs

DEVICE_SIGNATURE = "device_train_step(model, x, y, optimizer, device, amp) -> torch.Tensor (the loss, detached)"
SYNC_HINT = "returned loss.item(), a Python float: that waits for the GPU at every step; return loss.detach()"
GRAPH_HINT = "returned the loss still attached to the graph (it keeps every activation alive); return loss.detach()"


@dataclass(frozen=True, kw_only=True)
class DeviceTrainCase(TrainCase):
    """The labs' GPU step, graded on the CPU: ``device_train_step(model, x, y, optimizer, device, amp)`` moves
    the batch to ``device``, runs the forward pass and the loss under ``torch.autocast(device.type,
    dtype=torch.bfloat16, enabled=amp)``, then zero_grad, backward, step, and returns ``loss.detach()`` (a
    0-d tensor: no host synchronisation per step).

    The model is float32 (autocast acts on float32 only) and ``device`` is the CPU, whose bf16 autocast runs
    the linear layers in bf16 as CUDA's does. Moving to a device is a no-op on the CPU, so only the numerics,
    the order of the calls and the return type can be checked here. :meth:`run` returns shape
    ``(2, steps)``: the losses, and per step 1.0 for a detached tensor, 0.5 for one still in the autograd
    graph, 0.0 for a float. Three parts of credit: every step returned a detached tensor, the loss fell, the
    curve equals the reference's (bf16 curves to ``rtol``, which also tells an autocast-free run from an
    autocast one)."""

    amp: bool = False
    rtol: float = 1e-5
    atol: float = 1e-7

    driver: ClassVar[str] = "device_train"

    def judge(self, got) -> CaseResult:
        expected = self.expected()
        got, failed = self._as_expected(got, expected, "the losses are")
        if failed:
            return failed
        losses, detached = got
        finite = bool(np.isfinite(losses).all() and (losses >= 0).all())
        fell = finite and float(losses[-5:].mean()) < self.final_fraction * float(losses[0])
        same = self._close(losses, expected[0])
        no_sync = bool((detached == 1).all())
        parts = [
            ("returned loss.detach() (a 0-d tensor) at every step", no_sync,
             "" if no_sync else f"not at {int((detached != 1).sum())} of {detached.size} steps"),
            (f"final loss below {self.final_fraction:g} x the first", fell,
             f"mean of the last 5 = {losses[-5:].mean():.4g}, first = {losses[0]:.4g}"),
            (f"curve matches the reference (rtol={self.rtol:g})", same,
             "" if same else self._first_difference(expected[0], losses)),
        ]
        hint = None
        if not same and np.isfinite(losses).all():
            hint = self._hint(expected, np.array([losses, expected[1]]))
        if hint is None and not no_sync:
            hint = SYNC_HINT if (detached == 0).any() else GRAPH_HINT
        return self._credit(parts, f"{self.optimizer}, lr={self.lr:g}, amp={self.amp}", hint)

    def _same(self, a, b) -> bool:
        return a.shape == b.shape and self._close(a[0], b[0])
