"""A case for the CNN lab's last exercise: reach a target test accuracy with a recipe of your choice.

The student writes ``training_recipe(model, steps_per_epoch) -> (optimizer, scheduler, epochs)``: any
``torch.optim`` optimizer over ``model.parameters()``, a scheduler stepped after every optimizer step (or
``None``), and a number of epochs. :meth:`RecipeCase.run` (in the grading child, or in-process in ``check``)
seeds everything, builds ``models.SmallCNN`` on the digits (``data.load_digits(seed=seed)``), calls the recipe,
trains with ``train.fit`` on the training split on the CPU and returns ``[test accuracy, epochs, seconds]``.
The test split is never shown to the student's code. :meth:`RecipeCase.judge` gives a third of the points
for each threshold passed: ``thresholds`` (default 0.90, 0.95 and the target 0.97).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .spec import Case, CaseError, CaseResult  # spec imports this module after defining these

SIGNATURE = "training_recipe(model, steps_per_epoch) -> (optimizer, scheduler or None, epochs)"


@dataclass(frozen=True, kw_only=True)
class RecipeCase(Case):
    """Train ``SmallCNN`` on the digits with the student's recipe (seed ``seed``, minibatches of ``batch_size``,
    at most ``max_epochs``) and grade the test accuracy against ``thresholds``."""

    modules: ClassVar[tuple[str, ...]] = ("torch", "sklearn.datasets", "adamcourse.data", "adamcourse.models",
                                          "adamcourse.train")  # imported by the grading child before the call
    time_limit: ClassVar[float] = 60.0  # check() gives a case at least this many seconds

    points: float = 3.0
    seed: int = 0
    batch_size: int = 64
    max_epochs: int = 30
    thresholds: tuple[float, ...] = (0.90, 0.95, 0.97)

    def inputs(self) -> dict[str, Any]:
        return {}

    def run(self, fn, inputs=None) -> np.ndarray:
        import torch

        from .. import data, models, train
        from ..runtime import seed_everything

        seed_everything(self.seed)
        digits = data.load_digits(seed=self.seed)
        model = models.SmallCNN()
        loader = data.ArrayLoader(*digits.train, batch_size=self.batch_size, seed=self.seed)
        out = fn(model, len(loader))
        if not isinstance(out, tuple) or len(out) != 3:
            raise CaseError(f"{self.exercise} must return a tuple (optimizer, scheduler or None, epochs), "
                            f"got {_describe(out)}")
        optimizer, scheduler, epochs = out
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise CaseError(f"the optimizer must be a torch.optim.Optimizer, got {_describe(optimizer)}")
        ours = {id(p) for p in model.parameters()}
        theirs = {id(p) for group in optimizer.param_groups for p in group["params"]}
        if theirs != ours:
            raise CaseError("the optimizer must be built over model.parameters() (all of them, and only them)")
        if scheduler is not None and not callable(getattr(scheduler, "step", None)):
            raise CaseError(f"the scheduler must be None or have a step() method, got {_describe(scheduler)}")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or not 1 <= epochs <= self.max_epochs:
            raise CaseError(f"epochs must be an integer from 1 to {self.max_epochs}, got {_describe(epochs)}")
        start = time.perf_counter()
        train.fit(model, loader, None, optimizer, int(epochs), device="cpu", scheduler=scheduler, progress=False)
        seconds = time.perf_counter() - start
        test = data.ArrayLoader(*digits.test, batch_size=512, shuffle=False)
        _, accuracy = train.evaluate(model, test, device="cpu")
        return np.array([accuracy, epochs, seconds], dtype=np.float64)

    def expected(self) -> np.ndarray:
        return np.array([self.thresholds[-1], np.nan, np.nan])

    def judge(self, got) -> CaseResult:
        try:
            got = np.asarray(got, dtype=np.float64).reshape(3)
        except Exception as e:
            return self.result(False, f"expected [accuracy, epochs, seconds], got {got!r} ({type(e).__name__})")
        accuracy, epochs, seconds = (float(v) for v in got)
        if not math.isfinite(accuracy):
            return self.result(False, "the test accuracy is not a number: the training diverged (NaN loss?)")
        passed = [accuracy >= t for t in self.thresholds]
        earned = sum(passed)
        lines = [f"test accuracy {accuracy:.2%} after {epochs:g} epochs ({seconds:.1f} s on the CPU); "
                 f"target {self.thresholds[-1]:.0%}"]
        lines += [f"[{'PASS' if ok else 'FAIL'}] test accuracy >= {t:.0%}" for t, ok in zip(self.thresholds, passed,
                                                                                         strict=True)]
        return CaseResult(self.exercise, self.name, self.hidden, self.points * earned / len(self.thresholds),
                          self.points, earned == len(self.thresholds), "\n".join(lines))


def _describe(x) -> str:
    from .spec import _describe as describe
    return describe(x)
