"""The grader's side of ``training_recipe``: train a recipe that the student's process wrote down as data.

The student's process only chooses the recipe (:func:`adamcourse.grading.drivers.capture_recipe`); the
training and the test accuracy come from here, in a fresh process that no student code has run in
(``python -m adamcourse.grading.harness``: a recipe as JSON on stdin, ``[accuracy, epochs, seconds]`` as JSON
on stdout), so replacing ``train.fit`` or ``train.evaluate`` in the notebook changes nothing.
"""

from __future__ import annotations

import importlib
import json
import sys
import time

import numpy as np

from .drivers import OPTIMIZER_MODULES, SCHEDULED


class RecipeError(ValueError):
    """A recipe that cannot be trained as written (an unknown optimizer, a bad parameter group)."""


class Replay:
    """A scheduler that sets each parameter group's ``lr``, ``momentum`` and ``betas`` to what the student's
    scheduler gave them at the same step."""

    def __init__(self, optimizer, schedule: list):
        self.optimizer, self.schedule, self.k = optimizer, schedule, 0
        self._apply()

    def _apply(self) -> None:
        if self.k < len(self.schedule):
            for group, values in zip(self.optimizer.param_groups, self.schedule[self.k], strict=True):
                for key in SCHEDULED:
                    if key in values:
                        group[key] = tuple(values[key]) if key == "betas" else values[key]

    def step(self) -> None:
        self.k += 1
        self._apply()


def build_optimizer(recipe: dict, parameters: list):
    """The recipe's optimizer over ``parameters`` (in ``model.parameters()`` order)."""
    path = str(recipe.get("optimizer", ""))
    module_name, _, class_name = path.rpartition(".")
    if not module_name.startswith(OPTIMIZER_MODULES):
        raise RecipeError(f"the optimizer {path!r} is not a class of torch.optim or adamcourse.optim")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError):
        raise RecipeError(f"no optimizer {path!r}") from None
    import torch

    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        raise RecipeError(f"{path!r} is not an optimizer class")
    groups, seen = [], []
    for group in recipe.get("groups", []):
        indices = [int(i) for i in group["params"]]
        seen += indices
        settings = {k: tuple(v) if isinstance(v, list) else v for k, v in group.items() if k != "params"}
        groups.append({"params": [parameters[i] for i in indices], **settings})
    if sorted(seen) != list(range(len(parameters))):
        raise RecipeError("the parameter groups must hold every parameter of the model exactly once")
    try:
        return cls(groups)
    except (TypeError, ValueError) as e:
        raise RecipeError(f"{path} does not accept these settings: {e}") from None


def train_recipe(recipe: dict, seed: int, batch_size: int) -> list[float]:
    """Train ``SmallCNN`` on the digits with ``recipe``; return ``[test accuracy, epochs, seconds]``."""
    from .. import data, models, train
    from ..runtime import seed_everything

    seed_everything(seed)
    digits = data.load_digits(seed=seed)
    model = models.SmallCNN()
    loader = data.ArrayLoader(*digits.train, batch_size=batch_size, seed=seed)
    optimizer = build_optimizer(recipe, list(model.parameters()))
    schedule = recipe.get("schedule") or []
    scheduler = Replay(optimizer, schedule) if schedule else None
    epochs = int(recipe["epochs"])
    start = time.perf_counter()
    train.fit(model, loader, None, optimizer, epochs, device="cpu", scheduler=scheduler, progress=False)
    seconds = time.perf_counter() - start
    test = data.ArrayLoader(*digits.test, batch_size=512, shuffle=False)
    _, accuracy = train.evaluate(model, test, device="cpu")
    return [float(accuracy) if np.isfinite(accuracy) else float("nan"), float(epochs), seconds]


def main() -> int:
    job = json.load(sys.stdin)
    try:
        result = {"ok": True, "value": train_recipe(job["recipe"], int(job["seed"]), int(job["batch_size"]))}
    except RecipeError as e:
        result = {"ok": False, "error": str(e)}
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
