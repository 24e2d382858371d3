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
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .case import Case, CaseError, CaseResult

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

    driver: ClassVar[str] = "recipe"   # the student's process only writes the recipe down (drivers)

    def params(self) -> dict[str, Any]:
        """What the student's process needs to call the recipe: the seed and the loader's steps per epoch."""
        from .. import data

        digits = data.load_digits(seed=self.seed)
        steps = len(data.ArrayLoader(*digits.train, batch_size=self.batch_size, seed=self.seed))
        return {"seed": self.seed, "steps_per_epoch": steps, "max_epochs": self.max_epochs}

    def run(self, fn, inputs=None) -> np.ndarray:
        """In-process (``check()``): capture the recipe, then train it as the grader does."""
        from . import drivers

        try:
            recipe = drivers.capture_recipe(fn, self.exercise, self.params())
            return self.train(recipe)
        except drivers.DriverError as e:
            raise CaseError(str(e)) from None

    def train(self, recipe: dict) -> np.ndarray:
        """``[test accuracy, epochs, seconds]`` of ``recipe`` (:func:`adamcourse.grading.harness.train_recipe`)."""
        from . import harness

        try:
            return np.array(harness.train_recipe(recipe, self.seed, self.batch_size), dtype=np.float64)
        except (harness.RecipeError, KeyError, TypeError, ValueError, IndexError) as e:
            raise CaseError(f"the recipe cannot be trained: {e}") from None

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
    from .case import _describe as describe
    return describe(x)
